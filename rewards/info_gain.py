"""Information-gain rewards: how much a turn taught the agent.

Three families:

* **IGPO / A²TGPO** — ground-truth-probability gain. After every turn a scorer model is asked how
  likely the gold answer now is; turn ``t`` earns ``IG_t = p_t − p_{t−1}``
  (:func:`igpo_turn_value`, :func:`igpo_gains`, :class:`IGPOReward`). A²TGPO keeps the signal and
  normalizes it within (prompt, turn-index) groups (:func:`a2tgpo_advantages`). IGPO: Wang et al.,
  2025, "Information Gain-based Policy Optimization: A Simple and Effective Approach for Multi-Turn
  LLM Agents" (arXiv 2510.14967), code ``GuoqingWang1/IGPO`` (``scrl/llm_agent/generation.py``,
  ``verl/utils/reward_score/info_gain.py``). A²TGPO: arXiv 2605.06200 (no public code).
* **InfoPO** — counterfactual gain. How much more likely the agent's *next action* is with the
  observation it got than with the observation masked (:func:`infopo_gain`,
  :class:`InfoPOReward`), fused with the outcome advantage through a magnitude bound and a
  variance gate (:func:`infopo_gate`, :func:`infopo_magnitude_ratio`,
  :func:`infopo_advantages`). InfoPO: arXiv 2603.00656, code ``kfq20/InfoPO``
  (``verl/trainer/ppo/intrinsic_reward.py``, ``verl/trainer/ppo/core_algos.py``).
* **Entropy reduction** ("Dialogue as Discovery") — model-free. With the env's discrete hypothesis
  space and uniform beliefs over the hypotheses still consistent, turn ``t`` earns
  ``ΔH_t = H_{t−1} − H_t`` (:func:`uniform_entropy`, :func:`factored_entropy`,
  :func:`entropy_reductions`, :class:`EntropyReductionReward`). Paper: arXiv 2510.27410 (no
  public code).

The model-based rewards take a :class:`~agentgym.rewards.scorer.LogProbScorer`; this module never
imports torch. The pure functions work on plain numbers, so the formulas are tested without a
model. The group-level normalizations shared with other methods live in
:mod:`agentgym.rewards.credit` (:func:`~agentgym.rewards.credit.igpo_advantages`,
:func:`~agentgym.rewards.credit.turn_group_normalize`).

How a trajectory is cut into turns (:func:`split_turns`): ``trajectory.messages`` is the opening
(system + user messages) followed, for each step, by one assistant message and the observation
messages the env appended (``tool`` results, or a ``user`` hint after an invalid action). The
history "up to turn t" is the opening plus turns ``1..t`` *including* turn ``t``'s observation.
When the messages do not line up with the steps (one assistant message per step), the turns are
rebuilt from the steps (``step.action`` and ``step.observation``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from agentgym.core import Task
from agentgym.messages import assistant_message, message_text
from agentgym.rewards.base import RewardResult
from agentgym.rewards.credit import rescaled_discounted_cumsum, turn_group_normalize
from agentgym.rewards.scorer import LogProbScorer
from agentgym.trajectory import Trajectory

__all__ = [
    "IGPO_PSEUDO_PREFIX",
    "IGPO_PSEUDO_SUFFIX",
    "INFOPO_PLACEHOLDER",
    "EntropyReductionReward",
    "IGPOReward",
    "InfoPOAdvantages",
    "InfoPOReward",
    "Turn",
    "a2tgpo_advantages",
    "entropy",
    "entropy_reductions",
    "factored_entropy",
    "igpo_gains",
    "igpo_turn_value",
    "infopo_advantages",
    "infopo_gain",
    "infopo_gate",
    "infopo_magnitude_ratio",
    "infopo_token_rewards",
    "split_turns",
    "uniform_entropy",
]

#: IGPO's pseudo-response, written after the context (and ``<think>``) before the gold answer.
IGPO_PSEUDO_PREFIX = "\nNow there's enough information to answer\n</think>\n<answer>\n"
#: What follows the gold answer in IGPO's pseudo-response (causal scoring never reads it).
IGPO_PSEUDO_SUFFIX = "\n</answer><|im_end|>"
#: InfoPO's counterfactual observation.
INFOPO_PLACEHOLDER = "No information found."


# --------------------------------------------------------------------------------------------------
# Turns


@dataclass(frozen=True)
class Turn:
    """One step as messages: the assistant's message and the observation messages that followed.

    Attributes:
        assistant: The assistant message (``role``, ``content``, maybe ``tool_calls``).
        observation: The messages the env appended after it (possibly none).
    """

    assistant: Mapping[str, Any]
    observation: tuple[Mapping[str, Any], ...] = ()

    @property
    def observed(self) -> bool:
        """Whether the observation has any text."""
        return any(_content(message).strip() for message in self.observation)

    def messages(self) -> list[Mapping[str, Any]]:
        """The assistant message followed by the observation messages."""
        return [self.assistant, *self.observation]


def _content(message: Mapping[str, Any]) -> str:
    return message_text(message)


def split_turns(
    trajectory: Trajectory, task: Task | None = None
) -> tuple[list[Mapping[str, Any]], list[Turn]]:
    """Cut a trajectory into its opening messages and one :class:`Turn` per step.

    Args:
        trajectory: The episode.
        task: Its task; its prompt opens the conversation when the trajectory has no messages.

    Returns:
        ``(opening, turns)`` with ``len(turns) == len(trajectory.steps)``.

    Examples:
        >>> from agentgym.trajectory import Step
        >>> t = Trajectory(env_id="x", task_id="t", messages=[
        ...     {"role": "user", "content": "Q"}, {"role": "assistant", "content": "search"},
        ...     {"role": "tool", "content": "R"}, {"role": "assistant", "content": "answer"}],
        ...     steps=[Step(action="search", observation="R"), Step(action="answer")])
        >>> opening, turns = split_turns(t)
        >>> [m["content"] for m in opening], [len(turn.observation) for turn in turns]
        (['Q'], [1, 0])
    """
    messages = list(trajectory.messages)
    steps = trajectory.steps
    indices = [i for i, message in enumerate(messages) if message.get("role") == "assistant"]
    if not steps:
        return messages, []
    if len(indices) == len(steps):
        bounds = [*indices, len(messages)]
        turns = [
            Turn(messages[bounds[k]], tuple(messages[bounds[k] + 1 : bounds[k + 1]]))
            for k in range(len(steps))
        ]
        return messages[: indices[0]], turns
    opening = messages[: indices[0]] if indices else messages
    if not opening and task is not None:
        opening = [{"role": "user", "content": task.prompt}]
    turns = []
    for step in steps:
        assistant = assistant_message(step.action)
        observation = ({"role": "tool", "content": step.observation},) if step.observation else ()
        turns.append(Turn(assistant, observation))
    return opening, turns


def _history(opening: Sequence[Mapping[str, Any]], turns: Sequence[Turn], t: int) -> list[Any]:
    """The opening plus turns ``1..t`` (observations included)."""
    out = list(opening)
    for turn in turns[:t]:
        out.extend(turn.messages())
    return out


def _gold_text(task: Task, key: str) -> str:
    gold = task.gold.get(key)
    if isinstance(gold, (list, tuple)):
        gold = gold[0] if gold else None
    if gold is None:
        raise KeyError(f"task {task.id!r} has no gold[{key!r}]")
    return str(gold).strip()


# --------------------------------------------------------------------------------------------------
# IGPO and A²TGPO


def igpo_turn_value(
    token_logprobs: Sequence[float], mode: Literal["prob", "logprob"] = "prob"
) -> float:
    """IGPO's per-turn value of the gold answer: ``exp(mean log p)`` or ``mean log p``.

    Paper: IGPO (code ``GuoqingWang1/IGPO``, ``info_gain_type``). Code-faithful: the mean is over
    the gold-answer tokens only (length-normalized), so ``"prob"`` (the default,
    ``prob_diff``) is the geometric-mean token probability, in (0, 1]; ``"logprob"``
    (``log_prob_diff``) is the mean log-probability, in (−∞, 0].

    Args:
        token_logprobs: Natural-log probabilities of the gold-answer tokens.
        mode: ``"prob"`` or ``"logprob"``.

    Returns:
        The turn value.

    Examples:
        >>> round(igpo_turn_value([math.log(0.5), math.log(0.2)]), 4)
        0.3162
        >>> round(igpo_turn_value([-1.0, -3.0], mode="logprob"), 4)
        -2.0
    """
    if not token_logprobs:
        raise ValueError("the gold answer has no tokens")
    mean = math.fsum(token_logprobs) / len(token_logprobs)
    if mode == "prob":
        return math.exp(mean)
    if mode == "logprob":
        return mean
    raise ValueError(f"mode must be 'prob' or 'logprob', got {mode!r}")


def igpo_gains(values: Sequence[float]) -> list[float]:
    """``IG_t = v_t − v_{t−1}`` for ``t = 1..T``, from the values ``v_0..v_T``.

    ``v_0`` is the value before the first tool call. Gains telescope:
    ``Σ IG_t = v_T − v_0``. With ``"prob"`` values each gain is in (−1, 1).

    Args:
        values: Turn values (see :func:`igpo_turn_value`), ``v_0`` first.

    Returns:
        One gain per turn after the first value.

    Examples:
        Three turns whose gold-answer probability rises, falls, then rises:

        >>> [round(g, 2) for g in igpo_gains([0.10, 0.30, 0.25, 0.60])]
        [0.2, -0.05, 0.35]
    """
    return [values[t] - values[t - 1] for t in range(1, len(values))]


def a2tgpo_advantages(
    gains: Sequence[Sequence[float]],
    group_ids: Sequence[Hashable] | None = None,
    *,
    gamma: float = 1.0,
    denominator: Literal["count", "discount"] = "count",
    ddof: int = 0,
    eps: float = 1e-6,
) -> list[list[float]]:
    """A²TGPO's information-gain advantages: turn-group normalization, then rescaled accumulation.

    Paper: A²TGPO (arXiv 2605.06200; no code available). Pinned by the paper: IG is normalized
    within each (prompt, turn-index) group ``G(q, t)`` of rollouts that reach turn ``t``,
    ``Ĩ_{i,t} = (IG_{i,t} − mean) / (std + ε)``. **Reconstructed** (unverified): the accumulation
    ``A_{i,t} = Σ_{k≥t} γ^{k−t} Ĩ_{i,k} / sqrt(T_i − t + 1)`` (``denominator="count"``) or
    ``/ sqrt(Σ γ^{2(k−t)})`` (``"discount"``); the std convention (``ddof=0`` follows IGPO);
    how the outcome term enters and the adaptive turn-level clipping are unknown and left out.
    Uses :func:`~agentgym.rewards.credit.turn_group_normalize` and
    :func:`~agentgym.rewards.credit.rescaled_discounted_cumsum`.

    Args:
        gains: One sequence of per-turn IG per rollout (ragged).
        group_ids: The prompt of each rollout; ``None``: one group.
        gamma: Turn discount.
        denominator: ``"count"`` or ``"discount"``.
        ddof: Delta degrees of freedom of the turn-group std.
        eps: Added to the std.

    Returns:
        One list of turn advantages per rollout. A turn reached by a single rollout gets 0.

    Examples:
        >>> out = a2tgpo_advantages([[0.3, 0.4], [0.0, 0.1], [0.3]])
        >>> [[round(x, 4) for x in turns] for turns in out]
        [[1.2071, 1.0], [-1.7071, -1.0], [0.7071]]
    """
    normalized = turn_group_normalize(gains, group_ids, ddof=ddof, eps=eps)
    return [
        rescaled_discounted_cumsum(z, gamma, denominator=denominator).tolist() for z in normalized
    ]


class IGPOReward:
    r"""IGPO's ground-truth-probability information gain per turn, as a reward.

    Paper: IGPO (code ``GuoqingWang1/IGPO``, ``scrl/llm_agent/generation.py``). Code-faithful:
    for the history up to turn ``t`` (``t = 0`` is the opening, before any tool call) the scorer
    conditions on ``render(history) + think_prefix + pseudo_prefix`` (the chat template with the
    generation prompt, then ``"<think>"`` and the pseudo-response
    ``"\nNow there's enough information to answer\n</think>\n<answer>\n"``) and scores the
    gold answer ``task.gold[answer_key]`` (a list: its first item). The turn value is
    :func:`igpo_turn_value` (``mode="prob"``: geometric-mean token probability, the code default;
    ``"logprob"``: mean log-probability) and non-final step ``t`` earns
    ``IG_t = v_t − v_{t−1}``. As in the code, the final step gets no gain but the outcome
    (``outcome(trajectory, task).value``, e.g. F1; 0.0 without an outcome reward).

    ``per_step = [IG_1, ..., IG_{T−1}, outcome]``; ``value`` is their sum
    (``= v_{T−1} − v_0 + outcome``, the gains telescope). Range: each gain is in (−1, 1) in
    ``"prob"`` mode, unbounded in ``"logprob"`` mode. Feed ``per_step`` of a group to
    :func:`~agentgym.rewards.credit.igpo_advantages` (IGPO) or the gains to
    :func:`a2tgpo_advantages` (A²TGPO). Scoring differs from the code in one place: the gold
    tokens are tokenized jointly with the context (see :mod:`agentgym.rewards.scorer`), not
    alone inside the pseudo-response.

    Args:
        scorer: The model that judges the gold answer (IGPO uses the policy itself).
        outcome: Optional reward for the final step (IGPO: F1, −2.0 on a format error).
        mode: ``"prob"`` or ``"logprob"``.
        answer_key: Where the gold answer is in ``task.gold``.
        think_prefix: Text after the generation prompt (the IGPO prompt opens ``<think>``).
        pseudo_prefix: The pseudo-response before the gold answer.

    Examples:
        A fake scorer that finds the answer likely once "Paris" appeared in the conversation:

        >>> from agentgym.rewards.scorer import CallableScorer
        >>> from agentgym.trajectory import Step
        >>> def fn(prefix, answer):
        ...     return [math.log(0.9 if "Paris" in prefix.split("<think>")[0] else 0.1)]
        >>> t = Trajectory(env_id="x", task_id="t", messages=[
        ...     {"role": "user", "content": "Capital of France?"},
        ...     {"role": "assistant", "content": "search(France)"},
        ...     {"role": "tool", "content": "France's capital is Paris."},
        ...     {"role": "assistant", "content": "<answer>Paris</answer>"}],
        ...     steps=[Step(action="search(France)", observation="..."), Step(action="...")])
        >>> task = Task(id="t", prompt="Capital of France?", gold={"answer": "Paris"})
        >>> result = IGPOReward(CallableScorer(fn))(t, task)
        >>> [round(x, 4) for x in result.per_step]
        [0.8, 0.0]
    """

    def __init__(
        self,
        scorer: LogProbScorer,
        *,
        outcome: Any | None = None,
        mode: Literal["prob", "logprob"] = "prob",
        answer_key: str = "answer",
        think_prefix: str = "<think>",
        pseudo_prefix: str = IGPO_PSEUDO_PREFIX,
    ):
        if mode not in ("prob", "logprob"):
            raise ValueError(f"mode must be 'prob' or 'logprob', got {mode!r}")
        self.scorer = scorer
        self.outcome = outcome
        self.mode = mode
        self.answer_key = answer_key
        self.think_prefix = think_prefix
        self.pseudo_prefix = pseudo_prefix

    def __call__(self, trajectory: Trajectory, task: Task) -> RewardResult:
        """Score one trajectory (one batched scorer call over its turns)."""
        return self.batch([trajectory], [task])[0]

    def batch(
        self, trajectories: Sequence[Trajectory], tasks: Sequence[Task]
    ) -> list[RewardResult]:
        """Score many trajectories with a single scorer call over all their turns.

        Args:
            trajectories: The episodes.
            tasks: Their tasks, aligned.

        Returns:
            One result per trajectory.
        """
        if len(trajectories) != len(tasks):
            raise ValueError(f"{len(trajectories)} trajectories but {len(tasks)} tasks")
        prefixes: list[str] = []
        answers: list[str] = []
        spans: list[tuple[int, int]] = []
        for trajectory, task in zip(trajectories, tasks, strict=True):
            opening, turns = split_turns(trajectory, task)
            start = len(prefixes)
            if len(turns) > 1:  # values v_0..v_{T-1}; the final turn gets the outcome
                gold = _gold_text(task, self.answer_key)
                for t in range(len(turns)):
                    context = self.scorer.render(_history(opening, turns, t))
                    prefixes.append(context + self.think_prefix + self.pseudo_prefix)
                    answers.append(gold)
            spans.append((start, len(prefixes)))
        scores = self.scorer.token_logprobs(prefixes, answers) if prefixes else []
        results = []
        for (lo, hi), trajectory, task in zip(spans, trajectories, tasks, strict=True):
            values = [igpo_turn_value(scores[i], self.mode) for i in range(lo, hi)]
            gains = igpo_gains(values)
            outcome = (
                float(self.outcome(trajectory, task).value) if self.outcome is not None else 0.0
            )
            per_step = [*gains, outcome] if trajectory.steps else []
            details = {"values": values, "info_gain": gains, "outcome": outcome, "mode": self.mode}
            results.append(RewardResult(float(math.fsum(per_step)), per_step, details))
        return results


# --------------------------------------------------------------------------------------------------
# InfoPO


def infopo_gain(logp_with: Sequence[float], logp_without: Sequence[float]) -> float:
    """InfoPO's information gain of a turn: the mean log-ratio of the next action's tokens.

    Paper: InfoPO (arXiv 2603.00656; code ``kfq20/InfoPO``, ``intrinsic_reward.py``).
    ``I_t = (1/|a_{t+1}|) Σ_k [log π(a_{t+1,k} | h, o_t, ·) − log π(a_{t+1,k} | h, õ_t, ·)]``, a
    teacher-forced single-sample KL estimate; it can be negative. Computed as
    ``mean(with) − mean(without)``, which equals the mean difference when both score the same
    tokens.

    Args:
        logp_with: Next-action token log-probs with the real observation.
        logp_without: The same tokens' log-probs with the observation masked.

    Returns:
        ``I_t``.

    Examples:
        Three tokens of the next action, with and without the observation:

        >>> round(infopo_gain([-0.5, -1.0, -0.2], [-1.5, -1.2, -0.9]), 4)
        0.6333
    """
    if not logp_with or not logp_without:
        raise ValueError("the next action has no tokens")
    return math.fsum(logp_with) / len(logp_with) - math.fsum(logp_without) / len(logp_without)


def infopo_token_rewards(gain: float, n_tokens: int) -> list[float]:
    """Spread a turn's gain over the tokens of the action that earned it: ``I_t / |a_t|`` each.

    Examples:
        >>> [round(x, 4) for x in infopo_token_rewards(0.6333, 4)]
        [0.1583, 0.1583, 0.1583, 0.1583]
    """
    if n_tokens < 1:
        raise ValueError(f"n_tokens must be >= 1, got {n_tokens}")
    return [gain / n_tokens] * n_tokens


def _torch_std(values: Sequence[float] | np.ndarray) -> float:
    """``torch.std`` (unbiased); NaN for fewer than two values, as torch gives."""
    array = np.asarray(values, dtype=np.float64)
    return float(np.std(array, ddof=1)) if len(array) > 1 else math.nan


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x)) if x >= 0 else math.exp(x) / (1.0 + math.exp(x))


def infopo_gate(outcomes: Sequence[float], temperature: float = 0.05) -> float:
    """InfoPO's variance gate for a group: ``g = sigmoid(−σ / T)``.

    Code-faithful (``compute_info_grpo_advantage``): σ is the unbiased std of the group's outcome
    scores; a group of one uses σ = 1.0 (the code's GRPO convention for singletons). Range
    (0, 0.5]: 0.5 for a degenerate group (all outcomes equal), smaller the more the outcome
    already separates the rollouts. (A third-party reimplementation uses ``exp(−σ/T)``; the
    official code uses the sigmoid.)

    Args:
        outcomes: The outcome scores of one group.
        temperature: T (0.05 in the function defaults and the tau2 config, 0.5 in the
            multi-turn user-gym config).

    Returns:
        The gate.

    Examples:
        Groups of five with one, none and two successes:

        >>> round(infopo_gate([1, 0, 0, 0, 0], temperature=0.5), 4)
        0.2902
        >>> f"{infopo_gate([1, 0, 0, 0, 0], temperature=0.05):.2e}"
        '1.30e-04'
        >>> infopo_gate([0, 0, 0, 0, 0])
        0.5
        >>> round(infopo_gate([1, 1, 0, 0, 0], temperature=0.5), 4)
        0.2506
    """
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    sigma = 1.0 if len(outcomes) == 1 else _torch_std(outcomes)
    return _sigmoid(-sigma / temperature)


def infopo_magnitude_ratio(
    outcome_advantages: Sequence[float],
    intrinsic_advantages: Sequence[float],
    *,
    eps: float = 1e-6,
    baseline_std: float = 1.0,
) -> float:
    """InfoPO's magnitude bound: how much to shrink the intrinsic advantage.

    ``ratio = min(1, max(std(A_out) + ε, baseline) / (std(A_int) + ε))`` with unbiased stds over
    all response tokens of the batch. After scaling, ``std(ratio · A_int) + ratio·ε <=
    max(std(A_out) + ε, baseline)``: the intrinsic term is only ever shrunk, never amplified, and
    never spreads wider than the outcome term (or the unit baseline when the outcome is flat).

    Args:
        outcome_advantages: Token-level outcome advantages (response tokens only).
        intrinsic_advantages: Token-level normalized intrinsic advantages, same tokens.
        eps: The code's epsilon.
        baseline_std: The code's ``baseline_std`` (1.0).

    Returns:
        The ratio, in (0, 1].

    Examples:
        >>> infopo_magnitude_ratio([1.0, -1.0, 1.0, -1.0], [0.1, -0.1, 0.0, 0.0])
        1.0
        >>> round(infopo_magnitude_ratio([0.0, 0.0, 0.0], [3.0, -3.0, 0.0]), 4)
        0.3333
    """
    outcome_std = _nan_to_zero(_torch_std(outcome_advantages)) + eps
    intrinsic_std = _nan_to_zero(_torch_std(intrinsic_advantages)) + eps
    return min(1.0, max(outcome_std, baseline_std) / intrinsic_std)


def _nan_to_zero(x: float) -> float:
    return 0.0 if math.isnan(x) else x


@dataclass(frozen=True)
class InfoPOAdvantages:
    """InfoPO's fused advantages for a batch, with the parts that made them.

    Attributes:
        advantages: Per rollout, per turn: the advantage every token of that turn carries,
            ``A_out + β_t · g · ratio · A_int``.
        outcome: Per rollout: the outcome advantage ``(s_i − μ_g)/(σ_g + ε)``.
        intrinsic: Per rollout, per turn: the normalized intrinsic advantage before the bound.
        gates: Per rollout: the variance gate of its group.
        magnitude_ratio: The batch's magnitude bound.
        beta: ``β_t = β_0 · exp(−decay · epoch)``.
    """

    advantages: list[list[float]]
    outcome: list[float]
    intrinsic: list[list[float]]
    gates: list[float]
    magnitude_ratio: float
    beta: float


def infopo_advantages(
    scores: Sequence[float],
    gains: Sequence[Sequence[float]],
    group_ids: Sequence[Hashable] | None = None,
    *,
    token_counts: Sequence[Sequence[int]] | None = None,
    beta0: float = 0.1,
    temperature: float = 0.05,
    decay: float = 0.0,
    epoch: int = 0,
    eps: float = 1e-6,
    intrinsic_only: bool = False,
) -> InfoPOAdvantages:
    """InfoPO's advantage: outcome GRPO plus the bounded, variance-gated intrinsic term.

    Code-faithful to ``compute_info_grpo_advantage`` (multi-turn, ``Equalized`` credits, ``Sum``
    scores), at turn granularity (every token of a turn carries the same value):

    1. Outcome: ``(s_i − μ_g)/(σ_g + ε)`` with the unbiased std; a group of one uses μ = 0, σ = 1.
    2. Intrinsic: each token of turn ``t`` holds ``I_t / |a_t|``; the **non-zero** token values of
       a group are z-scored (unbiased std; a single value: μ = value, σ = 1); zeros stay 0.
    3. Bound: ``ratio`` = :func:`infopo_magnitude_ratio` over all tokens of the batch.
    4. Gate: ``g_i`` = :func:`infopo_gate` of the group's scores.
    5. ``A = A_out + β_t · g_i · ratio · A_int`` (``intrinsic_only``: ``ratio · A_int``).

    Args:
        scores: Outcome score per rollout (InfoPO: the sum of its per-turn env rewards).
        gains: Per rollout, the per-turn gains ``I_t`` (0 where none; see :class:`InfoPOReward`).
        group_ids: The prompt of each rollout; ``None``: one group.
        token_counts: Per rollout, per turn, the action's token count ``|a_t|`` (default 1 each);
            it weights the token statistics as the code's token-level tensors do.
        beta0: β_0 (0.1 in the function defaults and tau2; 0.5 in the user-gym config).
        temperature: The gate's T.
        decay: β decay rate per epoch (default 0).
        epoch: The current epoch.
        eps: The code's epsilon.
        intrinsic_only: The ablation that drops the outcome term.

    Returns:
        :class:`InfoPOAdvantages`.

    Examples:
        >>> out = infopo_advantages([1.0, 0.0], [[0.6, 0.0], [0.2, 0.0]], temperature=0.5)
        >>> [round(x, 4) for x in out.outcome], round(out.gates[0], 4)
        ([0.7071, -0.7071], 0.1956)
        >>> [[round(x, 4) for x in turn] for turn in out.advantages]
        [[0.7209, 0.7071], [-0.7209, -0.7071]]
    """
    n = len(scores)
    if len(gains) != n:
        raise ValueError(f"{n} scores but {len(gains)} gain lists")
    groups = [0] * n if group_ids is None else list(group_ids)
    if len(groups) != n:
        raise ValueError(f"{n} scores but {len(groups)} group ids")
    counts = (
        [[1] * len(g) for g in gains] if token_counts is None else [list(c) for c in token_counts]
    )
    if [len(c) for c in counts] != [len(g) for g in gains]:
        raise ValueError("token_counts must have one count per turn of every rollout")
    members: dict[Hashable, list[int]] = {}
    for i, group in enumerate(groups):
        members.setdefault(group, []).append(i)

    outcome = [0.0] * n
    gates = [0.5] * n
    intrinsic: list[list[float]] = [[0.0] * len(g) for g in gains]
    for indices in members.values():
        group_scores = [float(scores[i]) for i in indices]
        if len(indices) == 1:
            mean, std = 0.0, 1.0
        else:
            mean, std = float(np.mean(group_scores)), _torch_std(group_scores)
        gate = infopo_gate(group_scores, temperature)
        values: list[float] = []  # non-zero token values of the group, one per token
        for i in indices:
            outcome[i] = (float(scores[i]) - mean) / (std + eps)
            gates[i] = gate
            for gain, count in zip(gains[i], counts[i], strict=True):
                if gain != 0:
                    values.extend([gain / count] * count)
        if not values:
            continue
        if len(values) == 1:
            mu, sigma = values[0], 1.0
        else:
            mu, sigma = float(np.mean(values)), _torch_std(values)
        for i in indices:
            for t, (gain, count) in enumerate(zip(gains[i], counts[i], strict=True)):
                if gain != 0:
                    intrinsic[i][t] = (gain / count - mu) / (sigma + eps)

    token_out = [outcome[i] for i in range(n) for count in counts[i] for _ in range(count)]
    token_int = [
        intrinsic[i][t] for i in range(n) for t, c in enumerate(counts[i]) for _ in range(c)
    ]
    ratio = infopo_magnitude_ratio(token_out, token_int, eps=eps)
    beta = beta0 * math.exp(-decay * epoch)
    advantages = []
    for i in range(n):
        if intrinsic_only:
            advantages.append([ratio * x for x in intrinsic[i]])
        else:
            advantages.append([outcome[i] + beta * gates[i] * ratio * x for x in intrinsic[i]])
    return InfoPOAdvantages(advantages, outcome, intrinsic, gates, ratio, beta)


class InfoPOReward:
    """InfoPO's counterfactual information gain per turn, as a reward.

    Paper: InfoPO (arXiv 2603.00656; code ``kfq20/InfoPO``). For each step ``t`` whose
    observation ``o_t`` is non-empty and that has a next step, the scorer (InfoPO: the current
    policy, without gradients) scores the next action ``a_{t+1}`` (its text; structured tool
    calls written Hermes-style) after the history up to ``o_t`` twice: as it was, and with
    turn ``t``'s observation messages replaced by ``placeholder`` (earlier observations kept).
    ``I_t`` = :func:`infopo_gain`. Other steps, and the last, get 0.

    Code-faithful except for the mask: the code overwrites the observation *tokens in place*
    (placeholder repeated on its last token or cut, so positions do not move). By default each
    observation message's text is replaced by the placeholder (positions after it shift);
    ``length_matched=True`` asks the scorer's ``placeholder_like(text, placeholder)`` (e.g.
    :meth:`~agentgym.rewards.scorer.HFScorer.placeholder_like`) for a token-length-matched mask.

    ``per_step[t−1] = I_t``; ``value = Σ_t I_t``. Range: unbounded reals (a log-ratio), usually
    small. The per-turn gains feed :func:`infopo_advantages`.

    Args:
        scorer: The model (InfoPO: the current actor).
        placeholder: The counterfactual observation.
        length_matched: Match the mask's token length to the observation (needs a scorer with
            ``placeholder_like``).

    Examples:
        A fake scorer for which the action becomes likelier once the key fact was seen:

        >>> from agentgym.rewards.scorer import CallableScorer
        >>> from agentgym.trajectory import Step
        >>> fn = lambda prefix, action: [-0.2 if "Paris" in prefix else -1.2] * 2
        >>> t = Trajectory(env_id="x", task_id="t", messages=[
        ...     {"role": "user", "content": "Capital of France?"},
        ...     {"role": "assistant", "content": "search(France)"},
        ...     {"role": "tool", "content": "Paris."},
        ...     {"role": "assistant", "content": "answer(Paris)"}],
        ...     steps=[Step(action="search(France)", observation="Paris."), Step(action="answer")])
        >>> result = InfoPOReward(CallableScorer(fn))(t, None)
        >>> [round(x, 4) for x in result.per_step]
        [1.0, 0.0]
    """

    def __init__(
        self,
        scorer: LogProbScorer,
        *,
        placeholder: str = INFOPO_PLACEHOLDER,
        length_matched: bool = False,
    ):
        if length_matched and not callable(getattr(scorer, "placeholder_like", None)):
            raise TypeError("length_matched=True needs a scorer with placeholder_like()")
        self.scorer = scorer
        self.placeholder = placeholder
        self.length_matched = length_matched

    def _mask(self, text: str) -> str:
        if self.length_matched:
            return self.scorer.placeholder_like(text, self.placeholder)  # type: ignore[attr-defined]
        return self.placeholder

    def __call__(self, trajectory: Trajectory, task: Task | None) -> RewardResult:
        """Score one trajectory (one batched scorer call)."""
        return self.batch([trajectory], [task])[0]

    def batch(
        self, trajectories: Sequence[Trajectory], tasks: Sequence[Task | None]
    ) -> list[RewardResult]:
        """Score many trajectories with a single scorer call.

        Args:
            trajectories: The episodes.
            tasks: Their tasks, aligned (only used to rebuild a missing opening).

        Returns:
            One result per trajectory.
        """
        if len(trajectories) != len(tasks):
            raise ValueError(f"{len(trajectories)} trajectories but {len(tasks)} tasks")
        prefixes: list[Any] = []
        actions: list[str] = []
        plans: list[list[int | None]] = []  # per step: index of its pair in prefixes, or None
        for trajectory, task in zip(trajectories, tasks, strict=True):
            opening, turns = split_turns(trajectory, task)
            plan: list[int | None] = []
            for t, turn in enumerate(turns):
                if t + 1 >= len(turns) or not turn.observed:
                    plan.append(None)
                    continue
                real = _history(opening, turns, t + 1)
                masked_turn = Turn(
                    turn.assistant,
                    tuple(
                        {**message, "content": self._mask(_content(message))}
                        for message in turn.observation
                    ),
                )
                masked = [*_history(opening, turns, t), *masked_turn.messages()]
                action = message_text(turns[t + 1].assistant)
                plan.append(len(prefixes))
                prefixes.extend([real, masked])
                actions.extend([action, action])
            plans.append(plan)
        scores = self.scorer.token_logprobs(prefixes, actions) if prefixes else []
        results = []
        for plan in plans:
            per_step = [
                0.0 if k is None or not scores[k] else infopo_gain(scores[k], scores[k + 1])
                for k in plan
            ]
            tokens = [0 if k is None else len(scores[k]) for k in plan]
            details = {"info_gain": per_step, "next_action_tokens": tokens}
            results.append(RewardResult(float(math.fsum(per_step)), per_step, details))
        return results


# --------------------------------------------------------------------------------------------------
# Entropy reduction


def entropy(probabilities: Iterable[float], base: float = 2.0) -> float:
    """Shannon entropy ``−Σ p log_b p`` (zeros contribute 0).

    Args:
        probabilities: A distribution (not renormalized).
        base: 2 for bits (default), ``math.e`` for nats.

    Returns:
        The entropy.

    Examples:
        >>> entropy([0.25] * 4)
        2.0
        >>> round(entropy([0.5, 0.5], base=math.e), 4)
        0.6931
    """
    return -math.fsum(p * math.log(p, base) for p in probabilities if p > 0) + 0.0


def uniform_entropy(n: int, base: float = 2.0) -> float:
    """Entropy of a uniform belief over ``n`` hypotheses: ``log_b n``.

    Examples:
        >>> uniform_entropy(8), uniform_entropy(1)
        (3.0, 0.0)
    """
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    return math.log(n, base) if n > 1 else 0.0


def factored_entropy(sizes: Iterable[int], base: float = 2.0) -> float:
    """Entropy of independent uniform attributes: ``Σ_k log_b |V_k|``.

    The attribute-independence assumption of "Dialogue as Discovery" (arXiv 2510.27410).

    Examples:
        Three independent attributes with four values each.

        >>> factored_entropy([4, 4, 4])
        6.0
        >>> factored_entropy([4, 4, 4]) - factored_entropy([1, 4, 4])  # one attribute resolved
        2.0
    """
    return math.fsum(uniform_entropy(n, base) for n in sizes)


def entropy_reductions(entropies: Sequence[float]) -> list[float]:
    """Per-step reductions ``ΔH_t = H_{t−1} − H_t`` from ``H_0..H_T``.

    They telescope: ``Σ ΔH_t = H_0 − H_T``.

    Examples:
        >>> entropy_reductions([6.0, 4.0, 4.0, 1.0])
        [2.0, 0.0, 3.0]
    """
    return [entropies[t - 1] - entropies[t] for t in range(1, len(entropies))]


def _key(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=repr)


def _factors(space: Any, what: str) -> dict[str, list[Any]]:
    """A candidate space as named factors: a list is one factor, a mapping names several."""
    if isinstance(space, Mapping):
        factors = {str(name): list(values) for name, values in space.items()}
    elif isinstance(space, (str, bytes)) or not isinstance(space, Iterable):
        raise TypeError(f"{what} must be a list of candidates or a mapping of attribute -> values")
    else:
        factors = {"": list(space)}
    return factors


class EntropyReductionReward:
    """Entropy reduction over the env's discrete hypothesis space, per step (model-free).

    Paper: "Dialogue as Discovery" (arXiv 2510.27410; no code was published — the form below is an
    implementable reading of the paper's entropy-reduction reward). Beliefs are uniform
    over the hypotheses still consistent, and attributes are independent, so
    ``H = Σ_k log_b |R_k|`` over the remaining values ``R_k`` of each attribute ``k``.

    Reading the env (the contract envs follow):

    * ``task.gold[key]`` is the initial hypothesis space: a list of candidates (one factor), or a
      mapping ``attribute -> list of values`` (independent factors). Candidates may be any JSON
      values.
    * ``step.info[key]`` (optional) lists the candidates still consistent **after** that step, in
      the same shape; for a mapping, attributes left out are unchanged. A step without the key
      eliminated nothing.
    * The remaining set only shrinks: it is intersected with each report (values outside the
      initial space are ignored). An empty intersection contradicts the env's own gold data and
      raises :class:`ValueError`.

    ``per_step[t] = ΔH_t = H_{t−1} − H_t >= 0``; ``value = H_0 − H_T``, in ``[0, H_0]``
    (``normalize=True`` divides by ``H_0``, giving ``[0, 1]``; 0 when ``H_0 = 0``). Log base 2
    by default (bits); ``base=math.e`` gives nats.

    Args:
        key: The gold / step-info key of the candidate space.
        base: The logarithm base.
        normalize: Divide by the initial entropy.

    Examples:
        >>> from agentgym.trajectory import Step
        >>> task = Task(id="t", prompt="Guess", gold={"answer": "c3",
        ...             "candidates": ["c0", "c1", "c2", "c3", "c4", "c5", "c6", "c7"]})
        >>> t = Trajectory(env_id="x", task_id="t", steps=[
        ...     Step(action="odd?", info={"candidates": ["c1", "c3", "c5", "c7"]}),
        ...     Step(action="hmm"),
        ...     Step(action="<4?", info={"candidates": ["c1", "c3"]})])
        >>> result = EntropyReductionReward()(t, task)
        >>> result.per_step, result.value
        ([1.0, 0.0, 1.0], 2.0)
        >>> EntropyReductionReward(normalize=True)(t, task).value
        0.6666666666666666
    """

    def __init__(self, *, key: str = "candidates", base: float = 2.0, normalize: bool = False):
        if base <= 0 or base == 1:
            raise ValueError(f"base must be positive and not 1, got {base}")
        self.key = key
        self.base = base
        self.normalize = normalize

    def entropies(self, trajectory: Trajectory, task: Task) -> list[float]:
        """``H_0..H_T``: the entropy before the first step and after each step.

        Args:
            trajectory: The episode.
            task: Its task (``task.gold[key]`` is the initial space).

        Returns:
            ``len(trajectory.steps) + 1`` entropies, non-increasing.
        """
        if self.key not in task.gold:
            raise KeyError(f"task {task.id!r} has no gold[{self.key!r}] candidate space")
        remaining = {
            name: {_key(v): None for v in values}  # insertion-ordered set
            for name, values in _factors(task.gold[self.key], f"gold[{self.key!r}]").items()
        }
        if any(not values for values in remaining.values()):
            raise ValueError(f"task {task.id!r}: gold[{self.key!r}] has an empty attribute")

        def h() -> float:
            return factored_entropy((len(values) for values in remaining.values()), self.base)

        out = [h()]
        for index, step in enumerate(trajectory.steps):
            report = step.info.get(self.key) if isinstance(step.info, Mapping) else None
            if report is not None:
                for name, values in _factors(report, f"step {index} info[{self.key!r}]").items():
                    if name not in remaining:
                        raise ValueError(f"step {index} reports unknown attribute {name!r}")
                    keep = {_key(v) for v in values}
                    remaining[name] = {k: None for k in remaining[name] if k in keep}
                    if not remaining[name]:
                        what = repr(name) if name else "the answer"
                        raise ValueError(f"step {index} leaves no consistent candidate for {what}")
            out.append(h())
        return out

    def __call__(self, trajectory: Trajectory, task: Task) -> RewardResult:
        """Score one trajectory."""
        entropies = self.entropies(trajectory, task)
        per_step = entropy_reductions(entropies)
        value = entropies[0] - entropies[-1]
        if self.normalize:
            scale = entropies[0]
            per_step = [x / scale if scale > 0 else 0.0 for x in per_step]
            value = value / scale if scale > 0 else 0.0
        details = {
            "entropy": entropies,
            "initial": entropies[0],
            "final": entropies[-1],
            "base": self.base,
        }
        return RewardResult(value, per_step, details)
