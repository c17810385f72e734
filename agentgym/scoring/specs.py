"""Reward specs for offline scoring: the named rewards (:data:`REWARDS`), ``name=weight,...`` specs, user rewards."""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from agentgym import loading
from agentgym.core import Task
from agentgym.rewards.base import Judge, Reward, RewardResult, final_answer, score_batch
from agentgym.rewards.compose import SpecError, WeightedSum, parse_spec
from agentgym.trajectory import Trajectory


class ScoreError(ValueError):
    """A problem with the scoring setup (unknown reward or env, bad reward file): nothing can be scored."""


# --------------------------------------------------------------------------------------------------
# Named rewards


class AnswerFormat:
    """Format reward: 1.0 when the agent gave a final answer and every action was well-formed, else 0.0.

    The answer is a final tool call or ``<answer>...</answer>`` text
    (:func:`~agentgym.rewards.base.final_answer`); an action is ill-formed when the env marked it
    ``invalid_action``. Range {0, 1}.

    Examples:
        >>> from agentgym.trajectory import Step
        >>> said = [{"role": "assistant", "content": "<answer>Lima</answer>"}]
        >>> AnswerFormat()(Trajectory("x", "t", messages=said, steps=[Step("...")]), Task("t", "?")).value
        1.0
        >>> AnswerFormat()(Trajectory("x", "t", steps=[Step("...", invalid_action=True)]), Task("t", "?")).details
        {'answered': False, 'invalid_steps': 1}
    """

    def __call__(self, trajectory: Trajectory, task: Task) -> RewardResult:
        """Score one trajectory."""
        answered = final_answer(trajectory) is not None
        invalid = sum(step.invalid_action for step in trajectory.steps)
        return RewardResult(
            1.0 if answered and not invalid else 0.0, details={"answered": answered, "invalid_steps": invalid}
        )


@dataclass(frozen=True)
class _Named:
    """A reward of the table: where its class lives, how to build it, what it is."""

    entry_point: str
    description: str
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    needs_judge: bool = False


#: The rewards a spec may name (besides ``default``, the env's own), as lazy ``module:Class`` entry
#: points, so importing this module imports no reward family.
REWARDS: dict[str, _Named] = {
    "em": _Named("agentgym.rewards.outcome:ExactMatch", "exact match of the final answer (Search-R1 normalization)"),
    "outcome": _Named("agentgym.rewards.outcome:ExactMatch", "the same as em"),
    "sub_em": _Named("agentgym.rewards.outcome:SubExactMatch", "a gold answer appears inside the final answer"),
    "f1": _Named("agentgym.rewards.outcome:F1", "token F1 of the final answer against the best gold answer"),
    "numeric": _Named("agentgym.rewards.outcome:NumericMatch", "the answer's number equals a gold number (rel 1e-6)"),
    "citation": _Named(
        "agentgym.rewards.citation:CitationRubric",
        "CaRR citation rubric, rule-based (gold entities and evidence)",
        {"identify": "rule", "support": "rule"},
    ),
    "citation_rubric": _Named(
        "agentgym.rewards.citation:CitationRubric", "the same as citation", {"identify": "rule", "support": "rule"}
    ),
    "search_r1_format": _Named("agentgym.rewards.outcome:SearchR1Format", "Search-R1's format-aware EM (0.2/0.1)"),
    "format": _Named("agentgym.scoring:AnswerFormat", "1 if the agent answered and no action was invalid"),
    "judge": _Named("agentgym.rewards.judge:JudgeOutcome", "LLM judge of the final answer (needs --judge)",
                    needs_judge=True),
    "citation_judge": _Named("agentgym.rewards.citation:CitationRubric",
                             "CaRR citation rubric, judge where gold data is missing (needs --judge)",
                             needs_judge=True),
}  # fmt: skip

DEFAULT_DESCRIPTION = "the env's own reward (env.unwrapped.reward): what was recorded at rollout"

# Component names the diagnostics understand.
_OUTCOME_NAMES = frozenset({"outcome", "em", "sub_em", "f1", "numeric", "judge"})
_RULE_OUTCOME_NAMES = ("outcome", "em", "sub_em", "numeric", "f1")
_JUDGE_NAMES = ("judge",)


@functools.lru_cache(maxsize=1024)
def _kind(name: str) -> str:
    """What a component is to the diagnostics: ``format``, ``outcome``, ``evidence`` or ``other``."""
    if "format" in name:
        return "format"
    if name in _OUTCOME_NAMES:
        return "outcome"
    if "citation" in name or "evidence" in name:
        return "evidence"
    return "other"


def load_object(ref: str) -> Any:
    """Load ``module:attr``, ``path/to/file.py`` (its ``reward``) or ``path/to/file.py:attr``.

    Args:
        ref: The reference.

    Returns:
        The object.

    Raises:
        ScoreError: If the module or file cannot be imported or has no such attribute.

    Examples:
        >>> load_object("agentgym.rewards.outcome:ExactMatch").__name__
        'ExactMatch'
        >>> load_object("agentgym.rewards.outcome:Exact")
        Traceback (most recent call last):
        ...
        agentgym.scoring.specs.ScoreError: agentgym.rewards.outcome has no attribute 'Exact'. Did you mean \
'ExactMatch' or 'exact_match'?
    """
    try:
        return loading.load_object(ref, file_attr="reward")
    except loading.LoadError as error:
        raise ScoreError(str(error)) from None


class _UserReward:
    """A user's reward: a class is instantiated; a number returned is taken as ``RewardResult(value)``."""

    def __init__(self, obj: Any, name: str):
        if isinstance(obj, type):
            try:
                obj = obj()
            except Exception as error:
                raise ScoreError(f"cannot instantiate {name}: {type(error).__name__}: {error}") from None
        if not callable(obj):
            raise ScoreError(f"{name} is not callable; a reward is a callable (trajectory, task) -> RewardResult")
        self.reward = obj
        self.name = name

    def __call__(self, trajectory: Trajectory, task: Task) -> RewardResult:
        return _as_result(self.reward(trajectory, task), self.name)

    def batch(self, trajectories: Sequence[Trajectory], tasks: Sequence[Task]) -> list[RewardResult]:
        return [_as_result(result, self.name) for result in score_batch(self.reward, trajectories, tasks)]


def _as_result(value: Any, name: str) -> RewardResult:
    if isinstance(value, RewardResult):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return RewardResult(float(value))
    raise TypeError(f"reward {name} returned {type(value).__name__}; expected a RewardResult or a number")


def _is_reference(name: str) -> bool:
    return ":" in name or name.endswith(".py")


class _EnvDefault:
    """Stands for the env's own reward in a parsed spec until the env is known."""

    def __call__(self, trajectory: Trajectory, task: Task) -> RewardResult:  # pragma: no cover - replaced
        raise RuntimeError("the env's default reward was not resolved")


class _NeedsJudge:
    def __init__(self, name: str):
        self.name = name

    def __call__(self, trajectory: Trajectory, task: Task) -> RewardResult:  # pragma: no cover - refused
        raise RuntimeError(f"{self.name} needs a judge")


def _make_named(name: str, judge: Judge | None) -> Reward:
    entry = REWARDS[name]
    if entry.needs_judge and judge is None:
        return _NeedsJudge(name)
    cls = load_object(entry.entry_point)
    kwargs = dict(entry.kwargs)
    if entry.needs_judge:
        return cls(judge, **kwargs)
    return cls(**kwargs)


def parse_reward(spec: str, judge: Judge | None = None) -> WeightedSum:
    """Parse a reward spec into a weighted sum; ``default`` stays a placeholder until the env is known.

    Args:
        spec: ``"name=weight,..."``; names from :data:`REWARDS`, ``default``, or references to
            rewards of your own (``module:callable``, ``file.py``, ``file.py:callable``).
        judge: The judge for the judge rewards.

    Returns:
        The weighted sum.

    Raises:
        ScoreError: For a malformed spec, an unknown name (with suggestions), a reward that
            cannot be loaded, or a judge reward without a judge.

    Examples:
        >>> parse_reward("em=1,citation=0.3")
        WeightedSum(em=1, citation=0.3)
        >>> parse_reward("em,fromat=0.1")
        Traceback (most recent call last):
        ...
        agentgym.scoring.specs.ScoreError: unknown reward 'fromat' in 'fromat=0.1'. Did you mean 'format'? ...
    """
    names = [term.partition("=")[0].strip() for term in spec.split(",")]
    available: dict[str, Reward] = {"default": _EnvDefault()}
    for name in REWARDS:
        if name in names:
            available[name] = _make_named(name, judge)
        else:
            available[name] = _EnvDefault()  # only its name matters: parse_spec suggests it
    for name in names:
        if _is_reference(name):
            available[name] = _UserReward(load_object(name), name)
    try:
        reward = parse_spec(spec, available)
    except SpecError as error:
        raise ScoreError(str(error)) from None
    missing = [name for name, component, _ in reward.components if isinstance(component, _NeedsJudge)]
    if missing:
        raise ScoreError(f"reward {missing[0]!r} needs a judge: pass --judge MODULE:CALLABLE")
    return reward
