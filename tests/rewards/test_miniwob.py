"""MiniWoB++ success: an explicit threshold on the raw reward, never ``reward > 0``."""

from __future__ import annotations

import random

import pytest

from agentgym.core import Task
from agentgym.rewards.miniwob import MiniWoBSuccess, miniwob_success, time_proportional_reward
from agentgym.trajectory import Step, Trajectory

TASK = Task(id="click-button", prompt="Click the OK button")


def episode(*steps: Step) -> Trajectory:
    return Trajectory(env_id="agentgym/GUI-v0", task_id="click-button", steps=list(steps))


@pytest.mark.parametrize(
    ("raw", "threshold", "success"),
    [
        (1.0, 1.0, 1.0),  # full success
        (0.1, 1.0, 0.0),  # find-greatest's +0.1 for a wrong card is NOT a success (BrowserGym #392)
        (0.99, 1.0, 0.0),  # partial credit below the threshold
        (-1.0, 1.0, 0.0),  # wrong answer / timeout
        (0.0, 1.0, 0.0),  # nothing happened
        (None, 1.0, 0.0),  # the episode never ended
        (0.5, 0.5, 1.0),  # a looser, explicit threshold: inclusive
        (0.1, 0.0, 1.0),  # threshold 0 reproduces "reward >= 0"-style counting, on purpose only
    ],
)
def test_miniwob_success(raw, threshold, success):
    assert miniwob_success(raw, threshold) == success


def test_time_proportional_reward():
    # the WebShop/MiniWoB notes: r * max(0, 1 - dt / EPISODE_MAX_TIME), 10 s by default
    assert time_proportional_reward(1.0, 0) == 1.0
    assert time_proportional_reward(1.0, 2_500) == 0.75
    # past the limit -> 0
    assert time_proportional_reward(1.0, 12_000) == 0.0
    # book-flight's 30 s limit
    assert time_proportional_reward(1.0, 15_000, max_time_ms=30_000) == 0.5
    # a negative raw reward decays too
    assert time_proportional_reward(-1.0, 5_000) == -0.5


def test_trajectory_success():
    # the raw reward the env recorded decides, not the decayed step reward (0.93 here)
    decayed = episode(Step(action="click", reward=0.93, info={"raw_reward": 1.0}))
    result = MiniWoBSuccess()(decayed, TASK)
    assert (result.value, result.details["raw_reward"], result.details["source"]) == (
        1.0,
        1.0,
        "info.raw_reward",
    )
    # find-greatest's wrong card: raw 0.1 -> failure
    assert (
        MiniWoBSuccess()(
            episode(Step(action="click", reward=0.1, info={"raw_reward": 0.1})), TASK
        ).value
        == 0.0
    )
    # the last step that recorded a raw reward counts
    steps = [
        Step(action="a", info={"raw_reward": -1.0}),
        Step(action="b", info={"raw_reward": 1.0}),
        Step(action="c"),
    ]
    assert MiniWoBSuccess()(episode(*steps), TASK).value == 1.0
    # no raw reward anywhere: falls back to the last step reward, and says so
    fallback = MiniWoBSuccess()(episode(Step(action="click", reward=1.0)), TASK)
    assert (fallback.value, fallback.details["source"]) == (1.0, "step.reward")
    # no steps -> 0
    assert MiniWoBSuccess()(episode(), TASK).details == {
        "success": 0.0,
        "raw_reward": None,
        "threshold": 1.0,
        "source": "none",
    }
    # a custom threshold
    half = episode(Step(action="x", info={"raw_reward": 0.6}))
    assert MiniWoBSuccess(threshold=0.5)(half, TASK).value == 1.0


def test_range_property():
    # seeded random raw rewards in [-1, 1]: success is 0/1 and monotone in the raw reward
    rng = random.Random(3)
    for _ in range(1000):
        raw, threshold = rng.uniform(-1, 1), rng.uniform(-1, 1)
        value = miniwob_success(raw, threshold)
        assert value in (0.0, 1.0)
        assert value == float(raw >= threshold)
        assert miniwob_success(min(1.0, raw + 0.1), threshold) >= value
