"""Reward specs for offline scoring: ``name=weight,...`` specs of named rewards (:data:`REWARDS`) and user rewards.

The named rewards and the spec grammar live in :mod:`agentgym.rewards.registry` and
:func:`agentgym.rewards.compose.parse_terms`; this module adds what scoring files needs: the env's
own reward (``default``), rewards of your own (``module:callable``, ``file.py``), and errors as
:class:`ScoreError`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from agentgym import loading
from agentgym.core import Task
from agentgym.rewards.base import Judge, Reward, RewardResult, score_batch
from agentgym.rewards.compose import SpecError, WeightedSum, parse_terms
from agentgym.rewards.registry import MissingRequirement, reward_from_spec
from agentgym.trajectory import Trajectory

__all__ = ["ScoreError", "load_object", "parse_reward"]


class ScoreError(ValueError):
    """A problem with the scoring setup (unknown reward or env, bad reward file): nothing can be scored."""


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


def parse_reward(spec: str, judge: Judge | None = None, scorer: Any = None) -> WeightedSum:
    """Parse a reward spec into a weighted sum; ``default`` stays a placeholder until the env is known.

    The grammar is :func:`~agentgym.rewards.compose.parse_terms`; the names are those of
    :data:`~agentgym.rewards.registry.REWARDS` (built by
    :func:`~agentgym.rewards.registry.reward_from_spec`), ``default``, and references to rewards
    of your own.

    Args:
        spec: ``"name=weight,..."``; names from :data:`REWARDS`, ``default``, or references to
            rewards of your own (``module:callable``, ``file.py``, ``file.py:callable``).
        judge: The judge for the judge rewards.
        scorer: The log-probability scorer model for the information-gain rewards that need one.

    Returns:
        The weighted sum.

    Raises:
        ScoreError: For a malformed spec, an unknown name (with suggestions), a reward that
            cannot be loaded, or a reward missing its judge or scorer.

    Examples:
        >>> parse_reward("em=1,citation=0.3")
        WeightedSum(em=1, citation=0.3)
        >>> parse_reward("em,fromat=0.1")
        Traceback (most recent call last):
        ...
        agentgym.scoring.specs.ScoreError: unknown reward 'fromat' in 'fromat=0.1'. Did you mean 'format'? ...
    """
    try:
        extra: dict[str, Reward] = {"default": _EnvDefault()}
        for name, _ in parse_terms(spec):
            if _is_reference(name):
                extra[name] = _UserReward(load_object(name), name)
        return reward_from_spec(spec, judge=judge, scorer=scorer, extra=extra)
    except MissingRequirement as error:
        raise ScoreError(f"{error}: {_HOW_TO_GIVE[error.requirement]}") from None
    except SpecError as error:
        raise ScoreError(str(error)) from None


#: How ``agentgym score`` users give each requirement of a named reward.
_HOW_TO_GIVE = {
    "judge": "pass --judge MODULE:CALLABLE",
    "scorer": "agentgym score has no option for it; build it in Python (Scorer(spec, scorer=HFScorer(...))) "
    "or in a file (--reward FILE.py)",
}
