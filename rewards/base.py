"""The reward contract: ``reward(trajectory, task) -> RewardResult``, and what every reward shares.

A reward is any callable taking a :class:`~agentgym.trajectory.Trajectory` and the
:class:`~agentgym.core.Task` it was played on. It never mutates them, is deterministic for a fixed
judge, and documents its range. Rewards that can score many trajectories faster at once also
define ``batch(trajectories, tasks) -> list[RewardResult]``; :func:`score_batch` uses it when
present.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from agentgym.core import Task
from agentgym.trajectory import Trajectory


@dataclass(frozen=True)
class RewardResult:
    """What a reward returns for one trajectory.

    Attributes:
        value: The trajectory-level reward.
        per_step: Optional per-step rewards (one per ``trajectory.steps`` entry) for process
            rewards and shaping; ``None`` when the reward is outcome-only.
        details: Named intermediate values for logging and diagnostics (JSON-ready).

    Examples:
        >>> RewardResult(1.0, details={"em": 1.0}).value
        1.0
    """

    value: float
    per_step: list[float] | None = None
    details: Mapping[str, Any] = field(default_factory=dict)


@runtime_checkable
class Reward(Protocol):
    """The reward protocol: a callable ``(trajectory, task) -> RewardResult``."""

    def __call__(self, trajectory: Trajectory, task: Task) -> RewardResult:
        """Score one trajectory."""
        ...


def score_batch(reward: Reward, trajectories: Sequence[Trajectory], tasks: Sequence[Task]) -> list[RewardResult]:
    """Score many trajectories, through the reward's ``batch`` form when it has one.

    Args:
        reward: The reward.
        trajectories: The trajectories.
        tasks: Their tasks, aligned with ``trajectories``.

    Returns:
        One result per trajectory, in order.

    Raises:
        ValueError: If the two sequences differ in length.
    """
    if len(trajectories) != len(tasks):
        raise ValueError(f"{len(trajectories)} trajectories but {len(tasks)} tasks")
    batch = getattr(reward, "batch", None)
    if batch is not None:
        return list(batch(trajectories, tasks))
    return [reward(trajectory, task) for trajectory, task in zip(trajectories, tasks, strict=True)]


def between(text: str, opening: str, closing: str) -> list[str]:
    r"""The texts between each ``opening`` and the next ``closing`` after it, in order.

    What ``re.findall(re.escape(opening) + "(.*?)" + re.escape(closing), text, re.DOTALL)``
    returns, in linear time: that regex rescans the rest of the text from every unclosed
    ``opening`` (200 KB of ``<answer>`` took seconds).

    Args:
        text: Any text, e.g. a model's completion.
        opening: The marker a block starts with.
        closing: The marker it ends with.

    Returns:
        The blocks' contents, unstripped.

    Examples:
        >>> between("<answer> a </answer> x <answer>b</answer><answer>c", "<answer>", "</answer>")
        [' a ', 'b']
        >>> between("```sql\nSELECT 1```", "```sql", "```")
        ['\nSELECT 1']
    """
    blocks = []
    start = text.find(opening)
    while start != -1:
        end = text.find(closing, start + len(opening))
        if end == -1:
            break  # no later opening has a closing after it either
        blocks.append(text[start + len(opening) : end])
        start = text.find(opening, end + len(closing))
    return blocks


def final_answer(trajectory: Trajectory) -> str | None:
    """The agent's final answer, wherever the env put it.

    Looks, in order, at the final tool call the env recorded (``step.info["final"]``, its first
    string argument), then at the last ``<answer>...</answer>`` in the last assistant message.

    Args:
        trajectory: The episode.

    Returns:
        The answer text, or ``None`` if the agent never answered.

    Examples:
        >>> from agentgym.trajectory import Step, Trajectory
        >>> final = {"name": "answer", "arguments": {"text": "Paris"}}
        >>> final_answer(Trajectory(env_id="x", task_id="t", steps=[Step(action="...", info={"final": final})]))
        'Paris'
        >>> said = [{"role": "assistant", "content": "<answer>Lima</answer>"}]
        >>> final_answer(Trajectory(env_id="x", task_id="t", messages=said))
        'Lima'
    """
    for step in reversed(trajectory.steps):
        final = step.info.get("final") if isinstance(step.info, Mapping) else None
        if isinstance(final, Mapping):
            for value in (final.get("arguments") or {}).values():
                if isinstance(value, str):
                    return value
    for message in reversed(trajectory.messages):
        if message.get("role") == "assistant":
            content = message.get("content")
            if isinstance(content, str):
                found = between(content, "<answer>", "</answer>")
                if found:
                    return found[-1].strip()
            return None
    return None


#: A judge is any callable from a prompt to the judge model's reply text. Rewards that use one
#: build the prompt, call it, and parse the verdict themselves; tests pass deterministic judges.
Judge = Callable[[str], str]


def final_response(trajectory: Trajectory) -> str | None:
    r"""The agent's whole final response: every text argument of its final call, or its last message.

    Where :func:`final_answer` is the short answer (for exact match), this is what citation
    rewards read: the answer together with the report and its ``[n](url)`` citations.

    Args:
        trajectory: The episode.

    Returns:
        The response text, or ``None`` if the agent never answered.

    Examples:
        >>> from agentgym.trajectory import Step, Trajectory
        >>> final = {"name": "answer", "arguments": {"answer": "Lima", "report": "See [1](factbook://peru/government)."}}
        >>> final_response(Trajectory(env_id="x", task_id="t", steps=[Step(action="...", info={"final": final})]))
        'Lima\n\nSee [1](factbook://peru/government).'
    """
    for step in reversed(trajectory.steps):
        final = step.info.get("final") if isinstance(step.info, Mapping) else None
        if isinstance(final, Mapping):
            texts = [value for value in (final.get("arguments") or {}).values() if isinstance(value, str)]
            return "\n\n".join(texts) if texts else None
    for message in reversed(trajectory.messages):
        if message.get("role") == "assistant":
            content = message.get("content")
            return content if isinstance(content, str) and between(content, "<answer>", "</answer>") else None
    return None
