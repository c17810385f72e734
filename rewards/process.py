"""Process rewards: a reward for every step of the trajectory, not only for the outcome.

Every reward here returns ``RewardResult(value, per_step=[one float per trajectory step], ...)``.

* :class:`StepChecks`: rule-based checks an environment defines, a callable
  ``(step, trajectory, task) -> {name: value}`` per check (:func:`valid_tool_call` and
  :func:`evidence_hit` are ready-made ones).
* :class:`RelevanceScaledSteps`: R3-RAG's relevance step rewards rescaled by the final outcome
  (Li et al., 2025, arXiv 2505.23794; code ``Yuan-Li-FNLP/R3-RAG``,
  ``train/R3RAG_OpenRLHF/openrlhf/trainer/ppo_utils/experience_maker.py``).
* :class:`ImplicitPRM`: the implicit process reward ``β·Σ log π/π_ref`` per step, from the
  log-probabilities stored in the trajectory, with PRIME's batch normalization ("Free Process
  Rewards without Process Labels", arXiv 2412.01981, code ``PRIME-RL/ImplicitPRM``; PRIME,
  arXiv 2502.01456, code ``PRIME-RL/PRIME``, ``training/verl/workers/actor/dp_prime.py``).
* :class:`JudgeStepScores`: an LLM judge scores each step (a :data:`~agentgym.rewards.base.Judge`).
* :class:`ChecklistReward`: CM2 checklist rewards, each item credited once, at the first step
  that passes it, aggregated per turn as the shipped recipe does (arXiv 2602.12268; code
  ``namezhenzhang/CM2-RLCR-Tool-Agent``, ``verl/workers/reward_manager/checklist.py``).

The pure functions :func:`relevance_scaled_rewards`, :func:`implicit_step_rewards`,
:func:`prime_batch_norm`, :func:`checklist_step_scores` and :func:`checklist_turn_score` hold the
formulas; the classes read trajectories and tasks and call them.

What the classes read from a trajectory: ``step.observation``, ``step.tool_calls``,
``step.invalid_action``, ``step.info["final"]`` (the step that gave the final answer, see
:func:`~agentgym.rewards.base.final_answer`), ``step.logprobs`` with
``step.info["ref_logprobs"]`` (:class:`ImplicitPRM`), and ``step.info["turn"]`` (the 0-based user
turn of a step, :class:`ChecklistReward`; 0 when absent).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

from agentgym.core import Task
from agentgym.messages import content_text
from agentgym.rewards.base import Judge, RewardResult, final_answer
from agentgym.rewards.citation import normalize_text, parse_json_reply
from agentgym.trajectory import Step, Trajectory

__all__ = [
    "CHECKLIST_PROMPT",
    "RELEVANCE_PROMPT",
    "STEP_JUDGE_PROMPT",
    "ChecklistReward",
    "ImplicitPRM",
    "ItemCheck",
    "JudgeStepScores",
    "RelevanceScaledSteps",
    "StepCheck",
    "StepChecks",
    "StepScorer",
    "checklist_step_scores",
    "checklist_turn_score",
    "evidence_hit",
    "implicit_step_rewards",
    "parse_score",
    "prime_batch_norm",
    "relevance_scaled_rewards",
    "valid_tool_call",
]

#: A rule-based step check: named values for one step, e.g. ``{"sql_ran": 1.0}``.
StepCheck = Callable[[Step, Trajectory, Task], Mapping[str, float]]
#: A scorer of one step, e.g. a relevance in [0, 1].
StepScorer = Callable[[Step, Trajectory, Task], float]
#: A rule-based checklist-item check: ``(item, step, trajectory, task) -> passed``.
ItemCheck = Callable[[Mapping[str, Any], Step, Trajectory, Task], bool]


def _step_text(step: Step) -> str:
    """The assistant's text and tool calls of a step, for judge prompts."""
    if isinstance(step.action, Mapping):
        text = content_text(step.action.get("content"))
    else:
        text = step.action
    calls = [f"{c.get('name')}({json.dumps(c.get('arguments'))})" for c in step.tool_calls]
    return text + ("\nTool calls: " + "; ".join(calls) if calls else "")


def _reduce(values: Sequence[float], how: str) -> float:
    if not values:
        return 0.0
    if how == "sum":
        return float(sum(values))
    if how == "mean":
        return float(sum(values) / len(values))
    if how == "min":
        return float(min(values))
    if how == "last":
        return float(values[-1])
    raise ValueError(f"unknown aggregation {how!r}")


# --------------------------------------------------------------------------------------------------
# Rule-based step checks


def valid_tool_call(step: Step, trajectory: Trajectory, task: Task) -> dict[str, float]:
    """Step check: 1 when the step's action was well formed and its tool calls ran.

    Args:
        step: The step.
        trajectory: The episode (unused).
        task: The task (unused).

    Returns:
        ``{"valid_tool_call": 0.0 or 1.0}``.

    Examples:
        >>> valid_tool_call(Step("bad", invalid_action=True), Trajectory("e", "t"), Task("t", "q"))
        {'valid_tool_call': 0.0}
    """
    return {"valid_tool_call": 0.0 if step.invalid_action else 1.0}


def _gold_evidence(task: Task) -> list[str]:
    evidence = task.gold.get("evidence")
    if evidence is None:
        evidence = [
            r.get("evidence") for r in task.gold.get("rubrics") or () if isinstance(r, dict)
        ]
    elif isinstance(evidence, str):
        evidence = [evidence]
    return [f" {normalize_text(e)} " for e in evidence if e]


def evidence_hit(step: Step, trajectory: Trajectory, task: Task) -> dict[str, float]:
    """Step check: 1 when the step's observation contains a gold evidence sentence.

    Gold evidence is ``task.gold["evidence"]`` (a string or a list), or else the ``evidence`` of
    the task's CaRR rubrics (``task.gold["rubrics"]``, see :mod:`agentgym.rewards.citation`).
    Matching is on normalized text (lowercase, no punctuation or articles).

    Args:
        step: The step.
        trajectory: The episode (unused).
        task: The task, with its gold evidence.

    Returns:
        ``{"evidence_hit": 0.0 or 1.0}``.

    Examples:
        >>> task = Task("t", "q", gold={"evidence": ["Lima is the capital of Peru."]})
        >>> evidence_hit(Step("...", observation="... LIMA is the capital of Peru ..."),
        ...              Trajectory("e", "t"), task)
        {'evidence_hit': 1.0}
    """
    observation = f" {normalize_text(step.observation)} "
    hit = any(e in observation for e in _gold_evidence(task))
    return {"evidence_hit": 1.0 if hit else 0.0}


class StepChecks:
    """Rule-based per-step rewards from checks an environment supplies.

    Each check maps a step to named values; a step's reward is ``Σ_name weight[name]·value``
    (weight 1 for names not in ``weights``, so a weight of 0 keeps a metric as a logged
    component only). The trajectory value is the sum (or mean) of the step rewards. Range: that of
    the checks times the weights.

    Args:
        *checks: The step checks, ``(step, trajectory, task) -> {name: value}``.
        weights: Weight per component name.
        reduce: ``"sum"`` or ``"mean"`` of the step rewards for ``value``.

    Examples:
        >>> reward = StepChecks(valid_tool_call, evidence_hit, weights={"evidence_hit": 2.0})
        >>> task = Task("t", "q", gold={"evidence": "Lima is the capital of Peru."})
        >>> t = Trajectory("e", "t", steps=[
        ...     Step("...", observation="Lima is the capital of Peru."),
        ...     Step("oops", observation="error: unknown tool", invalid_action=True)])
        >>> result = reward(t, task)
        >>> result.per_step, result.value, result.details["components"]
        ([3.0, 0.0], 3.0, {'valid_tool_call': 1.0, 'evidence_hit': 1.0})
    """

    def __init__(
        self,
        *checks: StepCheck,
        weights: Mapping[str, float] | None = None,
        reduce: Literal["sum", "mean"] = "sum",
    ) -> None:
        if not checks:
            raise ValueError("give at least one step check")
        self.checks = checks
        self.weights = dict(weights or {})
        self.reduce = reduce

    def __call__(self, trajectory: Trajectory, task: Task) -> RewardResult:
        """Score each step with every check (see the class docstring)."""
        per_step: list[float] = []
        per_step_components: list[dict[str, float]] = []
        totals: dict[str, float] = {}
        for step in trajectory.steps:
            components: dict[str, float] = {}
            for check in self.checks:
                components.update(check(step, trajectory, task))
            per_step.append(
                float(sum(self.weights.get(name, 1.0) * v for name, v in components.items()))
            )
            per_step_components.append(components)
            for name, v in components.items():
                totals[name] = totals.get(name, 0.0) + float(v)
        details = {"components": totals, "per_step_components": per_step_components}
        return RewardResult(_reduce(per_step, self.reduce), per_step=per_step, details=details)


# --------------------------------------------------------------------------------------------------
# R3-RAG: relevance-scaled steps

Status = Literal["correct", "incorrect", "fail", "format_error"]


def relevance_scaled_rewards(
    relevance: Sequence[float],
    status: Status,
    *,
    answer_reward: float = 2.0,
    correct_bonus: float = 0.6,
    incorrect_penalty: float = 0.2,
    fail_penalty: float = 0.1,
    format_penalty: float = -1.0,
) -> list[float]:
    """R3-RAG's step rewards: retrieval relevance rescaled by how the episode ended (R3-RAG).

    * ``correct``: every retrieval step ``× (1 + 0.6)``, then the answer step ``2.0``.
    * ``incorrect``: every retrieval step ``× (1 - 0.2)``, then the answer step ``0.0``.
    * ``fail`` (no answer): every retrieval step ``× (1 - 0.1)``.
    * ``format_error``: the retrieval steps keep their raw relevance, then the bad step gets
      ``format_penalty · (1 - fail_penalty) = -0.9``.

    Code-faithful to ``experience_maker.py`` of Yuan-Li-FNLP/R3-RAG (constants at lines 51-60).

    Args:
        relevance: The relevance of each retrieval step, in [0, 1].
        status: How the episode ended.
        answer_reward: The answer step's reward when correct.
        correct_bonus: Scale-up of the steps of a correct episode.
        incorrect_penalty: Scale-down of the steps of an incorrect episode.
        fail_penalty: Scale-down of the steps of an episode with no answer.
        format_penalty: Reward of a format error, before the ``fail_penalty`` scaling.

    Returns:
        The step rewards: one per retrieval step, plus one for the answer or the bad step.

    Examples:
        Two retrieval steps, under each way the episode can end:

        >>> [round(r, 4) for r in relevance_scaled_rewards([0.8, 0.6], "correct")]
        [1.28, 0.96, 2.0]
        >>> [round(r, 4) for r in relevance_scaled_rewards([0.8, 0.6], "incorrect")]
        [0.64, 0.48, 0.0]
        >>> [round(r, 4) for r in relevance_scaled_rewards([0.8, 0.6], "fail")]
        [0.72, 0.54]
        >>> relevance_scaled_rewards([0.8, 0.6], "format_error")
        [0.8, 0.6, -0.9]
    """
    steps = [float(r) for r in relevance]
    if status == "correct":
        return [r * (1 + correct_bonus) for r in steps] + [answer_reward]
    if status == "incorrect":
        return [r * (1 - incorrect_penalty) for r in steps] + [0.0]
    if status == "fail":
        return [r * (1 - fail_penalty) for r in steps]
    if status == "format_error":
        return steps + [format_penalty * (1 - fail_penalty)]
    raise ValueError(f"unknown status {status!r}")


def _answer_index(trajectory: Trajectory) -> int | None:
    """The step that gave the final answer, or ``None`` if the agent never answered."""
    for index in range(len(trajectory.steps) - 1, -1, -1):
        if trajectory.steps[index].info.get("final"):
            return index
    if trajectory.steps and final_answer(trajectory) is not None:
        return len(trajectory.steps) - 1
    return None


RELEVANCE_PROMPT = """\
You are checking one retrieval step of an agent answering a question.

[Question]
{question}

[Agent's analysis and query]
{action}

[Retrieved documents (first 512 characters)]
{documents}

How relevant and useful are the retrieved documents and the query for answering the question? \
A step that is clearly useful deserves at least 0.6. A step whose reasoning is illogical or \
contradicts the documents gets 0.0. End your reply with a line "Relevance: x.xx", a number \
from 0 to 1.
"""


def _outcome_value(outcome: Any) -> float:
    value = outcome.value if isinstance(outcome, RewardResult) else outcome
    return float(value)


class RelevanceScaledSteps:
    """R3-RAG process reward: step relevance rescaled by the episode's outcome (R3-RAG, arXiv 2505.23794).

    The steps before the answer are retrieval steps, scored by ``relevance`` (a step scorer in
    [0, 1]; by default the R3-RAG judge prompt when a judge is given, else the gold-evidence
    rule :func:`evidence_hit`). The answer step is the one with ``info["final"]`` (else the last
    step, when :func:`~agentgym.rewards.base.final_answer` finds an answer). The first invalid
    step before the answer is a format error, which ends the R3-RAG episode: it gets -0.9, the
    steps after it 0. Steps after the answer get 0. Then :func:`relevance_scaled_rewards`.

    ``value`` is the sum of the step rewards, in ``[-0.9, 1.6·(n-1) + 2]`` for n steps.
    Code-faithful constants; R3-RAG's "no answer within 5 searches" is read as "no answer".

    Args:
        outcome: Decides correctness: ``(trajectory, task) ->`` a ``RewardResult``, number or
            bool (e.g. an exact-match reward); correct when its value is ``>= threshold``.
        relevance: The step scorer for retrieval steps.
        judge: A judge for the default relevance scorer (R3-RAG's prompt, parsed
            ``Relevance: x``, clipped to [0, 1], rounded to 3 decimals).
        threshold: The outcome value that counts as correct.

    Examples:
        >>> task = Task("t", "q", gold={"answer": "Lima", "evidence": "Lima is the capital."})
        >>> steps = [Step("...", observation="Lima is the capital."),
        ...          Step("...", observation="nothing"),
        ...          Step("...", info={"final": {"name": "answer", "arguments": {"text": "Lima"}}})]
        >>> exact = lambda trajectory, task: final_answer(trajectory) == task.gold["answer"]
        >>> result = RelevanceScaledSteps(exact)(Trajectory("e", "t", steps=steps), task)
        >>> [round(r, 4) for r in result.per_step], result.details["status"]
        ([1.6, 0.0, 2.0], 'correct')
    """

    def __init__(
        self,
        outcome: Callable[[Trajectory, Task], Any],
        relevance: StepScorer | None = None,
        *,
        judge: Judge | None = None,
        threshold: float = 1.0,
    ) -> None:
        if relevance is None:
            if judge is not None:
                relevance = JudgeStepScores(
                    judge, template=RELEVANCE_PROMPT, label="Relevance", decimals=3
                ).score_step
            else:
                relevance = _evidence_relevance
        self.outcome = outcome
        self.relevance = relevance
        self.threshold = threshold

    def __call__(self, trajectory: Trajectory, task: Task) -> RewardResult:
        """Score each step (see the class docstring)."""
        steps = trajectory.steps
        answer = _answer_index(trajectory)
        checked = steps if answer is None else steps[: answer + 1]
        bad = next((i for i, step in enumerate(checked) if step.invalid_action), None)
        correct = None
        if bad is not None:
            status: Status = "format_error"
            scored = bad
        elif answer is None:
            status, scored = "fail", len(steps)
        else:
            correct = _outcome_value(self.outcome(trajectory, task)) >= self.threshold
            status, scored = ("correct" if correct else "incorrect"), answer
        relevance = [float(self.relevance(steps[i], trajectory, task)) for i in range(scored)]
        per_step = relevance_scaled_rewards(relevance, status)
        per_step += [0.0] * (len(steps) - len(per_step))
        details = {"status": status, "relevance": relevance, "correct": correct}
        return RewardResult(float(sum(per_step)), per_step=per_step, details=details)


def _evidence_relevance(step: Step, trajectory: Trajectory, task: Task) -> float:
    return evidence_hit(step, trajectory, task)["evidence_hit"]


# --------------------------------------------------------------------------------------------------
# Implicit PRM / PRIME


def _token_log_ratios(step: Step, ref_key: str, where: int) -> list[float] | None:
    policy, ref = step.logprobs, step.info.get(ref_key)
    if policy is None and ref is None:
        return None
    if policy is None or ref is None or len(policy) != len(ref):
        raise ValueError(
            f"steps[{where}]: need step.logprobs and step.info[{ref_key!r}] of the same length, "
            f"got {None if policy is None else len(policy)} and {None if ref is None else len(ref)}"
        )
    return [p - r for p, r in zip(policy, ref, strict=True)]


def implicit_step_rewards(
    logprobs: Sequence[Sequence[float]],
    ref_logprobs: Sequence[Sequence[float]],
    beta: float = 0.05,
) -> list[float]:
    """Implicit-PRM step rewards: ``β · Σ_{tokens of the step} (log π − log π_ref)`` (Implicit PRM).

    Args:
        logprobs: The policy's log-probabilities of each step's tokens.
        ref_logprobs: The reference model's, aligned.
        beta: β.

    Returns:
        One reward per step.

    Examples:
        Two steps of two tokens:

        >>> r = implicit_step_rewards([[-1.0, -0.5], [-2.0, -0.3]], [[-1.2, -0.9], [-1.5, -0.4]])
        >>> [round(x, 6) for x in r]
        [0.03, -0.02]
    """
    return [
        beta * sum(p - q for p, q in zip(policy, ref, strict=True))
        for policy, ref in zip(logprobs, ref_logprobs, strict=True)
    ]


def prime_batch_norm(token_rewards: Sequence[Sequence[float]]) -> list[list[float]]:
    """PRIME's ``batch_norm``: divide by the batch max of ``|reverse cumsum|`` (PRIME).

    For each sequence the reverse cumulative sum (the return-to-go) is taken; the largest
    absolute value over the whole batch divides every token reward. A batch of zeros is returned
    unchanged.

    Args:
        token_rewards: Token rewards per sequence (PRIME: the raw log-ratios, without β).

    Returns:
        The normalized token rewards.

    Examples:
        >>> prime_batch_norm([[0.2, 0.4, -0.5, 0.1]])
        [[0.5, 1.0, -1.25, 0.25]]
    """
    scale = _batch_norm_scale(token_rewards)
    return [[r / scale for r in rewards] for rewards in token_rewards]


def _batch_norm_scale(token_rewards: Sequence[Sequence[float]]) -> float:
    """The batch max of ``|reverse cumsum|``, or 1 when it is 0."""
    scale = 0.0
    for rewards in token_rewards:
        to_go = 0.0
        for r in reversed(rewards):
            to_go += r
            scale = max(scale, abs(to_go))
    return scale or 1.0


class ImplicitPRM:
    """Implicit process reward from stored log-probabilities (Implicit PRM / PRIME, arXiv 2412.01981 / 2502.01456).

    Token reward ``r_k = β·(log π(y_k) − log π_ref(y_k))``; a step's reward is the sum over its
    tokens, ``q_t`` the running sum over steps, and ``q_T = r(y) = β log π(y)/π_ref(y)`` the
    implicit outcome reward. The policy's log-probabilities are ``step.logprobs`` (one per
    completion token, as the runner stores them); the reference model's are
    ``step.info["ref_logprobs"]`` (same length; a trainer writes them after a reference forward
    pass, or the old policy's when there is no reference model, as OPRL/iStar does). Steps with
    neither count 0; one without the other raises ``ValueError``.

    ``value`` aggregates the step rewards (``accumulative=False``, the eval code's "single") or
    the ``q_t`` (``accumulative=True``) with ``aggregate``: ``"min"`` (the BoN eval default),
    ``"sum"``, ``"mean"`` or ``"last"``. Range: unbounded (log-ratios); with ``batch_norm``,
    every trajectory's return-to-go lies in [-1, 1].

    Code-faithful: token rewards, ``q_t`` and the min/sum aggregations of ImplicitPRM's
    ``eval/prm_eval_utils.py::get_reward`` (which splits steps on ``Step N:``; here a step is a
    trajectory step), and PRIME's ``batch_norm``. PRIME's RLOO per reward source and whitened
    return are credit assignment (:mod:`agentgym.rewards.credit`), not part of this reward.

    PRIME's policy reward uses the raw log-ratio (``beta=1.0``) with ``norm="batch_norm"``
    (:func:`prime_batch_norm` over all completion tokens of each trajectory, the batch being the
    trajectories passed to :meth:`batch`) and ``rm_coef = 5`` when summed with the outcome
    (a composition weight). Defaults: ``β = 0.05`` (PRIME ``beta_train``, OPRL); the ImplicitPRM
    BoN eval used ``β = 0.001``.

    Args:
        beta: β.
        aggregate: How ``value`` aggregates.
        accumulative: Aggregate the prefix sums ``q_t`` instead of the step rewards.
        norm: ``"none"`` or ``"batch_norm"`` (PRIME).
        ref_key: The ``step.info`` key holding the reference log-probabilities.

    Examples:
        Two steps of two tokens, with the reference log-probabilities stored on each step:

        >>> steps = [Step("a", logprobs=[-1.0, -0.5], info={"ref_logprobs": [-1.2, -0.9]}),
        ...          Step("b", logprobs=[-2.0, -0.3], info={"ref_logprobs": [-1.5, -0.4]})]
        >>> t, task = Trajectory("e", "t", steps=steps), Task("t", "q")
        >>> result = ImplicitPRM()(t, task)
        >>> [round(x, 6) for x in result.per_step], round(result.value, 6)
        ([0.03, -0.02], -0.02)
        >>> round(ImplicitPRM(accumulative=True)(t, task).value, 6)
        0.01
        >>> round(result.details["outcome"], 6)
        0.01
    """

    def __init__(
        self,
        beta: float = 0.05,
        *,
        aggregate: Literal["min", "sum", "mean", "last"] = "min",
        accumulative: bool = False,
        norm: Literal["none", "batch_norm"] = "none",
        ref_key: str = "ref_logprobs",
    ) -> None:
        if aggregate not in ("min", "sum", "mean", "last") or norm not in ("none", "batch_norm"):
            raise ValueError(f"unknown aggregate {aggregate!r} or norm {norm!r}")
        self.beta = beta
        self.aggregate = aggregate
        self.accumulative = accumulative
        self.norm = norm
        self.ref_key = ref_key

    def __call__(self, trajectory: Trajectory, task: Task) -> RewardResult:
        """Score one trajectory (``batch_norm`` then normalizes over this trajectory alone)."""
        return self.batch([trajectory], [task])[0]

    def batch(
        self, trajectories: Sequence[Trajectory], tasks: Sequence[Task]
    ) -> list[RewardResult]:
        """Score many trajectories; ``batch_norm`` normalizes over all of them.

        Args:
            trajectories: The trajectories.
            tasks: Their tasks (unused, for the reward contract).

        Returns:
            One result per trajectory.

        Raises:
            ValueError: If the sequences differ in length or a step's log-probabilities do not
                line up.
        """
        if len(trajectories) != len(tasks):
            raise ValueError(f"{len(trajectories)} trajectories but {len(tasks)} tasks")
        ratios = [
            [_token_log_ratios(step, self.ref_key, i) for i, step in enumerate(t.steps)]
            for t in trajectories
        ]
        scale = 1.0
        if self.norm == "batch_norm":
            scale = _batch_norm_scale(
                [[self.beta * x for step in steps for x in step or ()] for steps in ratios]
            )
        results = []
        for steps in ratios:
            per_step = [self.beta * sum(step) / scale if step else 0.0 for step in steps]
            q = [sum(per_step[: i + 1]) for i in range(len(per_step))]
            value = _reduce(q if self.accumulative else per_step, self.aggregate)
            details = {
                "q": q,
                "outcome": q[-1] if q else 0.0,
                "steps_without_logprobs": sum(step is None for step in steps),
                "scale": scale,
            }
            results.append(RewardResult(value, per_step=per_step, details=details))
        return results


# --------------------------------------------------------------------------------------------------
# LLM-judge step scores

STEP_JUDGE_PROMPT = """\
You are grading one step of an AI agent working on a task.

[Task]
{question}

[Earlier steps]
{history}

[The step to grade]
{action}

[What the step returned]
{observation}

How much does this step move the agent toward solving the task? Give a short justification, \
then end with a line "Score: x", where x is a number from {low} to {high}.
"""


def parse_score(reply: str, label: str = "Score") -> float | None:
    r"""The number a judge reply gives after ``label:`` (the last one), or in a JSON object.

    Args:
        reply: The judge's reply.
        label: The label before the number, matched case-insensitively, markdown bold allowed.

    Returns:
        The number, or ``None`` if there is none.

    Examples:
        >>> parse_score("The query is apt.\n**Relevance:** 0.85", "Relevance")
        0.85
        >>> parse_score('{"score": -1}')
        -1.0
        >>> parse_score("I cannot tell.") is None
        True
    """
    number = r"([-+]?(?:\d+(?:\.\d*)?|\.\d+))"
    # (?:\*+\s*)?, not \**\s*: with no star between them, two \s* runs backtrack quadratically.
    pattern = rf"{re.escape(label)}\**\s*[:=]\s*(?:\*+\s*)?{number}"
    found = re.findall(pattern, reply, flags=re.IGNORECASE)
    if found:
        return float(found[-1])
    data = parse_json_reply(reply)
    if data:
        for key, value in data.items():
            if str(key).lower() == label.lower() and isinstance(value, (int, float)):
                if not isinstance(value, bool):
                    return float(value)
    return None


class JudgeStepScores:
    r"""LLM-judge step rewards: the judge grades each step on a numeric scale.

    For each step the judge gets the task prompt, the earlier steps, the step's text and tool
    calls, and what it returned (``template``, a ``str.format`` template with ``{question}``,
    ``{history}``, ``{action}``, ``{observation}``, ``{documents}`` (the first 512 characters of
    the observation), ``{low}`` and ``{high}``). The score after ``label:`` is clipped to
    ``[low, high]``; a reply without one scores ``fallback`` and is counted in
    ``details["parse_failures"]``. ``value`` is the ``aggregate`` of the step scores. Range:
    ``[low, high]`` (``low=-1, high=1`` gives SLATE's ternary scale). Not tied to one paper's
    code; R3-RAG's relevance judge is this with :data:`RELEVANCE_PROMPT`.

    Args:
        judge: The judge.
        template: The prompt template.
        label: The label the score follows in the reply.
        low: The lowest score.
        high: The highest score.
        fallback: The score of an unparsable reply.
        decimals: Round scores to this many decimals (R3-RAG: 3).
        aggregate: ``"mean"``, ``"sum"`` or ``"min"`` of the step scores for ``value``.

    Examples:
        A deterministic judge that likes the step "look" and cannot make sense of others:

        >>> judge = lambda prompt: "Score: 0.9" if "[The step to grade]\nlook" in prompt else "?"
        >>> steps = [Step("look"), Step("guess")]
        >>> result = JudgeStepScores(judge)(Trajectory("e", "t", steps=steps), Task("t", "q"))
        >>> result.per_step, result.value, result.details["parse_failures"]
        ([0.9, 0.0], 0.45, 1)
    """

    def __init__(
        self,
        judge: Judge,
        *,
        template: str = STEP_JUDGE_PROMPT,
        label: str = "Score",
        low: float = 0.0,
        high: float = 1.0,
        fallback: float = 0.0,
        decimals: int | None = None,
        aggregate: Literal["mean", "sum", "min"] = "mean",
    ) -> None:
        self.judge = judge
        self.template = template
        self.label = label
        self.low = low
        self.high = high
        self.fallback = fallback
        self.decimals = decimals
        self.aggregate = aggregate

    def _prompt(self, index: int, trajectory: Trajectory, task: Task) -> str:
        step = trajectory.steps[index]
        history = "\n\n".join(
            f"Step {i + 1}: {_step_text(s)[:500]}\nResult: {s.observation[:500]}"
            for i, s in enumerate(trajectory.steps[:index])
        )
        return self.template.format(
            question=task.prompt,
            history=history or "(none)",
            action=_step_text(step),
            observation=step.observation,
            documents=step.observation[:512],
            low=self.low,
            high=self.high,
        )

    def _score(self, index: int, trajectory: Trajectory, task: Task) -> float | None:
        score = parse_score(self.judge(self._prompt(index, trajectory, task)), self.label)
        if score is None or math.isnan(score):
            return None
        score = min(max(score, self.low), self.high)
        return round(score, self.decimals) if self.decimals is not None else score

    def score_step(self, step: Step, trajectory: Trajectory, task: Task) -> float:
        """Score one step of ``trajectory`` (a :data:`StepScorer`).

        Args:
            step: The step; must be one of ``trajectory.steps`` (found by identity).
            trajectory: The episode.
            task: The task.

        Returns:
            The clipped score, or ``fallback``.

        Raises:
            ValueError: If ``step`` is not one of ``trajectory.steps``.
        """
        index = next((i for i, s in enumerate(trajectory.steps) if s is step), None)
        if index is None:
            raise ValueError("score_step needs a step of the given trajectory")
        score = self._score(index, trajectory, task)
        return self.fallback if score is None else score

    def __call__(self, trajectory: Trajectory, task: Task) -> RewardResult:
        """Score every step (see the class docstring)."""
        scores = [self._score(i, trajectory, task) for i in range(len(trajectory.steps))]
        per_step = [self.fallback if s is None else s for s in scores]
        details = {"parse_failures": sum(s is None for s in scores)}
        return RewardResult(_reduce(per_step, self.aggregate), per_step=per_step, details=details)


# --------------------------------------------------------------------------------------------------
# CM2 checklists


def checklist_step_scores(
    weights: Sequence[float], passes: Sequence[Sequence[bool]]
) -> list[float]:
    """CM2 step scores within one turn: each item credited once, at the first step passing it.

    ``score_step = Σ_k w_k · pass_k · mask_k``, where ``mask_k`` drops to 0 once item k has passed
    (``checklist_interaction.py``; rounded to 8 decimals as there).

    Args:
        weights: The weight of each checklist item of the turn.
        passes: For each step of the turn, whether each item passed at that step.

    Returns:
        One score per step.

    Examples:
        One turn of three weighted items, passed over two steps:

        >>> checklist_step_scores([0.5, 0.3, 0.2], [[True, False, False], [True, True, False]])
        [0.5, 0.3]
    """
    mask = [True] * len(weights)
    scores = []
    for step in passes:
        scores.append(
            round(sum(w for w, ok, m in zip(weights, step, mask, strict=True) if ok and m), 8)
        )
        mask = [m and not ok for m, ok in zip(mask, step, strict=True)]
    return scores


def checklist_turn_score(weights: Sequence[float], passes: Sequence[Sequence[bool]]) -> float:
    """CM2 turn score: ``Σ_k w_k · 1[item k passed in any step of the turn]`` (0 with no step).

    Args:
        weights: The weight of each checklist item of the turn.
        passes: For each step of the turn, whether each item passed at that step.

    Returns:
        The turn score.

    Examples:
        >>> checklist_turn_score([0.5, 0.3, 0.2], [[True, False, False], [True, True, False]])
        0.8
    """
    if not passes:
        return 0.0
    return sum(w for k, w in enumerate(weights) if any(step[k] for step in passes))


CHECKLIST_PROMPT = """\
You are a strict checklist evaluator. Decide whether the conversation between the user, the \
assistant and its tools satisfies the criterion below.

[Criterion]
Question: {question}
Focus on: {focus_on}
Pass condition: {pass_condition}
Failure examples: {failure_examples}
Reference snippets: {evidence}

[Earlier turns]
{before}

[Current turn, to evaluate]
{current}

The answer is true only if the focus-on part is present, the pass condition is fully met and no \
failure example is triggered. A tool call whose result is an error is not valid.
Reply with only a JSON object: {{"answer": true}} or {{"answer": false}}.
"""

_TOOL_FOCUS = ("assistant.tool_calls", "tool.content")
_VERDICT = re.compile(r"\b(true|false|yes|no)\b", re.IGNORECASE)


def _parse_verdict(reply: str) -> bool | None:
    data = parse_json_reply(reply)
    if data is not None:
        value = data.get("answer", data.get("result"))
        if isinstance(value, bool):
            return value
    found = _VERDICT.findall(reply)
    return found[-1].lower() in ("true", "yes") if found else None


class ChecklistReward:
    """CM2 checklist reward (arXiv 2602.12268, ``namezhenzhang/CM2-RLCR-Tool-Agent``), in [0, 1].

    Gold: ``task.gold["checklists"]`` (several annotations) or ``task.gold["checklist"]`` (one).
    A checklist is a list of turns, a turn a list of items, each item a dict with ``question``,
    ``weight`` (default: equal), and optionally ``focus_on``, ``pass_condition``,
    ``failure_examples``, ``evidence`` (``[{"snippet": ...}]``), ``required_for_next_turn``. A
    flat list of items is read as a one-turn checklist. A step's turn is ``step.info["turn"]``
    (0 when absent); steps of turns the checklist lacks are ignored.

    Each (item, step) of a turn gets a binary verdict from ``check`` (rule-based) or the judge; an
    item focused on ``assistant.tool_calls``/``tool.content`` fails at an invalid step without
    asking. Code-faithful to the shipped recipe (``reward_level=turn``): a turn scores
    ``Σ_k w_k · 1[item k passed in any step of the turn]`` (weights normalized to sum to 1 per
    turn), placed on the turn's last step; placement stops at the first turn without steps; every
    score is divided by (#checklists × #turns of the first checklist); ``value`` is the sum.
    ``level="step"`` places each item's weight on the first step that passes it instead
    (the interaction's step scores, same normalization). Items already passed in a turn are not
    checked again (their credit cannot change). CM2 gives zero advantage to samples with a failed
    tool call or judge call: ``details["dropped"]`` flags them.

    Args:
        check: Rule-based item check ``(item, step, trajectory, task) -> bool``.
        judge: A judge, used when no ``check`` is given; replies are parsed for
            ``{"answer": bool}`` (or a final true/false, yes/no).
        level: ``"turn"`` (the shipped recipe) or ``"step"``.

    Examples:
        One turn of three weighted items passed over two steps, with a rule check that reads the
        verdicts from the steps:

        >>> items = [{"question": "a", "weight": 0.5}, {"question": "b", "weight": 0.3},
        ...          {"question": "c", "weight": 0.2}]
        >>> task = Task("t", "q", gold={"checklist": [items]})
        >>> steps = [Step("s0", info={"ok": ["a"]}), Step("s1", info={"ok": ["a", "b"]})]
        >>> check = lambda item, step, trajectory, task: item["question"] in step.info["ok"]
        >>> t = Trajectory("e", "t", steps=steps)
        >>> ChecklistReward(check)(t, task).per_step
        [0.0, 0.8]
        >>> ChecklistReward(check, level="step")(t, task).per_step
        [0.5, 0.3]
    """

    def __init__(
        self,
        check: ItemCheck | None = None,
        judge: Judge | None = None,
        *,
        level: Literal["turn", "step"] = "turn",
    ) -> None:
        if check is None and judge is None:
            raise ValueError("give a rule-based check or a judge")
        if level not in ("turn", "step"):
            raise ValueError(f"level must be 'turn' or 'step', got {level!r}")
        self.check = check
        self.judge = judge
        self.level = level

    def __call__(self, trajectory: Trajectory, task: Task) -> RewardResult:
        """Score the trajectory against the task's checklists (see the class docstring)."""
        checklists = task.gold.get("checklists")
        if checklists is None and task.gold.get("checklist") is not None:
            checklists = [task.gold["checklist"]]
        checklists = [[c] if c and isinstance(c[0], Mapping) else list(c) for c in checklists or ()]
        steps = trajectory.steps
        if not checklists or not checklists[0]:
            return RewardResult(0.0, per_step=[0.0] * len(steps), details={"error": "no checklist"})
        n_turns = len(checklists[0])
        turns = [int(step.info.get("turn", 0)) for step in steps]
        per_step = [0.0] * len(steps)
        failures = 0
        turn_scores = []
        for checklist in checklists:
            scores, judge_failures = self._score_checklist(
                checklist, trajectory, task, turns, per_step
            )
            turn_scores.append(scores)
            failures += judge_failures
        norm = len(checklists) * n_turns
        per_step = [score / norm for score in per_step]
        tool_errors = sum(step.invalid_action for step in steps)
        details = {
            "turn_scores": turn_scores,
            "judge_failures": failures,
            "tool_errors": tool_errors,
            "dropped": bool(failures or tool_errors),
        }
        return RewardResult(float(sum(per_step)), per_step=per_step, details=details)

    def _score_checklist(
        self,
        checklist: Sequence[Sequence[Mapping[str, Any]]],
        trajectory: Trajectory,
        task: Task,
        turns: list[int],
        per_step: list[float],
    ) -> tuple[list[float], int]:
        """Add this checklist's credit to ``per_step``; return turn scores, judge failures."""
        weights = [_turn_weights(items) for items in checklist]
        passed = [[False] * len(items) for items in checklist]
        counts = [0] * len(checklist)
        last_step = [0] * len(checklist)
        failures = 0
        for index, turn in enumerate(turns):
            if not 0 <= turn < len(checklist):
                continue
            counts[turn] += 1
            last_step[turn] = index
            for k, item in enumerate(checklist[turn]):
                if passed[turn][k]:
                    continue
                ok = self._passes(item, index, trajectory, task, turns)
                failures += ok is None
                if ok:
                    passed[turn][k] = True
                    if self.level == "step":
                        per_step[index] += weights[turn][k]
        scores = [
            sum(w for w, ok in zip(weights[t], passed[t], strict=True) if ok) if counts[t] else 0.0
            for t in range(len(checklist))
        ]
        if self.level == "turn":
            for turn, score in enumerate(scores):
                if counts[turn] == 0:
                    break  # CM2 stops placing turn rewards at the first turn without steps
                per_step[last_step[turn]] += score
        return scores, failures

    def _passes(
        self,
        item: Mapping[str, Any],
        index: int,
        trajectory: Trajectory,
        task: Task,
        turns: list[int],
    ) -> bool | None:
        """Whether the step passes the item; ``None`` when the judge's reply is unreadable."""
        step = trajectory.steps[index]
        if item.get("focus_on") in _TOOL_FOCUS and step.invalid_action:
            return False
        if self.check is not None:
            return bool(self.check(item, step, trajectory, task))
        return _parse_verdict(self.judge(_checklist_prompt(item, index, trajectory, task, turns)))


def _turn_weights(items: Sequence[Mapping[str, Any]]) -> list[float]:
    raw = [float(item.get("weight", 1.0)) for item in items]
    total = sum(raw)
    return [w / total for w in raw] if total > 0 else raw


def _checklist_prompt(
    item: Mapping[str, Any], index: int, trajectory: Trajectory, task: Task, turns: list[int]
) -> str:
    def render(i: int) -> str:
        step = trajectory.steps[i]
        return f"Assistant (step {i}): {_step_text(step)}\nTool: {step.observation}"

    turn = turns[index]
    before = [render(i) for i in range(index) if turns[i] < turn]
    current = [render(i) for i in range(index + 1) if turns[i] == turn]
    evidence = [
        e.get("snippet", e) if isinstance(e, Mapping) else e for e in item.get("evidence", ())
    ]
    return CHECKLIST_PROMPT.format(
        question=item.get("question", ""),
        focus_on=item.get("focus_on", ""),
        pass_condition=item.get("pass_condition", ""),
        failure_examples=json.dumps(item.get("failure_examples", []), ensure_ascii=False),
        evidence=json.dumps(evidence, ensure_ascii=False),
        before="User: " + task.prompt + ("\n\n" + "\n\n".join(before) if before else ""),
        current="\n\n".join(current),
    )
