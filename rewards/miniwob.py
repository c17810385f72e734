"""MiniWoB++ task success with an explicit threshold on the raw task reward.

MiniWoB++ (Shi et al., 2017, "World of Bits"; Liu et al., 2018; Farama ``miniwob-plusplus``)
tasks end with ``core.endEpisode(r, time_proportional)`` in ``core.js``: the raw reward ``r`` is
in [-1, 1] (1 on success, -1 on a wrong answer or a timeout, and a few tasks pay partial credit);
the env reward is ``r * max(0, 1 - Δt / EPISODE_MAX_TIME)`` when time-proportional
(code: ``Farama-Foundation/miniwob-plusplus``, ``core.js`` ``endEpisode`` and the reward processors
``get_raw_reward``/``get_binary_reward``; paper: Liu et al., 2018, "Reinforcement Learning on Web
Interfaces Using Workflow-Guided Exploration", arXiv 1802.08802).

Success is ``raw >= threshold`` with ``threshold = 1.0`` by default, the same test as
miniwob-plusplus's ``get_binary_reward`` (``+1`` iff ``raw == 1``). The common shortcut
``reward > 0`` (BrowserGym's ``validate``: ``float(RAW_REWARD_GLOBAL > 0)``) is wrong:
``find-greatest`` pays +0.1 for a wrong card, which that test counts as a success (BrowserGym
#392, miniwob-plusplus #104/#108), and a time-decayed success would fail a ``== 1`` test on the
env reward. Compare the **raw** reward, with a threshold you choose.
"""

from __future__ import annotations

from agentgym.core import Task
from agentgym.rewards.base import RewardResult
from agentgym.trajectory import Trajectory

__all__ = ["MiniWoBSuccess", "miniwob_success", "time_proportional_reward"]


def miniwob_success(raw_reward: float | None, threshold: float = 1.0) -> float:
    """1.0 if the raw MiniWoB reward reaches ``threshold``, else 0.0 (also when there is none).

    Args:
        raw_reward: The task's raw reward in [-1, 1] (``RAW_REWARD_GLOBAL``), ``None`` if the
            episode never ended.
        threshold: The success threshold; 1.0 requires full success.

    Returns:
        1.0 or 0.0.

    Examples:
        >>> miniwob_success(1.0), miniwob_success(0.1), miniwob_success(-1.0), miniwob_success(None)
        (1.0, 0.0, 0.0, 0.0)
        >>> miniwob_success(0.5, threshold=0.5)
        1.0
    """
    if raw_reward is None:
        return 0.0
    return 1.0 if raw_reward >= threshold else 0.0


def time_proportional_reward(
    raw_reward: float, elapsed_ms: float, max_time_ms: float = 10_000.0
) -> float:
    """MiniWoB's time-proportional env reward: ``r * max(0, 1 - elapsed / max_time)``.

    Args:
        raw_reward: The raw reward.
        elapsed_ms: Milliseconds since the episode started.
        max_time_ms: ``EPISODE_MAX_TIME`` (10 s by default; 30 s for book-flight).

    Returns:
        The decayed reward.

    Examples:
        >>> time_proportional_reward(1.0, 2_500)
        0.75
        >>> time_proportional_reward(1.0, 20_000)
        0.0
    """
    return raw_reward * max(0.0, 1.0 - elapsed_ms / max_time_ms)


class MiniWoBSuccess:
    """MiniWoB++ task success: 1 if the raw task reward reaches ``threshold``, else 0.

    Paper: MiniWoB++ (``core.js`` ``endEpisode``); success as miniwob-plusplus's
    ``get_binary_reward`` defines it, not BrowserGym's ``reward > 0`` (see the module docstring).
    Range {0, 1}.

    The raw reward is ``info["raw_reward"]`` of the last step that recorded one; without any, the
    last step's ``reward`` is used (``details["source"]`` says which), which is only right when
    the env reports undecayed rewards. No steps scores 0.

    Args:
        threshold: The success threshold on the raw reward.

    Examples:
        >>> from agentgym.trajectory import Step, Trajectory
        >>> t = Trajectory(env_id="x", task_id="find-greatest", steps=[
        ...     Step(action="click", reward=0.1, info={"raw_reward": 0.1})])
        >>> MiniWoBSuccess()(t, Task(id="find-greatest", prompt="Find the greatest card")).value
        0.0
    """

    def __init__(self, threshold: float = 1.0) -> None:
        self.threshold = threshold

    def __call__(self, trajectory: Trajectory, task: Task) -> RewardResult:
        """Score one trajectory."""
        raw, source = None, "none"
        for step in reversed(trajectory.steps):
            if step.info.get("raw_reward") is not None:
                raw, source = float(step.info["raw_reward"]), "info.raw_reward"
                break
        if raw is None and trajectory.steps:
            raw, source = float(trajectory.steps[-1].reward), "step.reward"
        value = miniwob_success(raw, self.threshold)
        return RewardResult(
            value,
            details={
                "success": value,
                "raw_reward": raw,
                "threshold": self.threshold,
                "source": source,
            },
        )
