from __future__ import annotations

import math

import numpy as np
import pytest

from agentgym.core import Task
from agentgym.rewards.base import RewardResult, score_batch
from agentgym.rewards.compose import (
    Gate,
    LogSigmoidConjunction,
    PreferenceAsReward,
    SpecError,
    WeightedSum,
    gated,
    log_sigmoid,
    lsc,
    lsc_reference,
    par,
    parse_spec,
    sigmoid,
    weighted_sum,
)
from agentgym.trajectory import Step, Trajectory

TASK = Task(id="t", prompt="q", gold={"answer": "a"})


def trajectory(n_steps: int = 2) -> Trajectory:
    return Trajectory(env_id="x", task_id="t", steps=[Step(action=f"a{i}") for i in range(n_steps)])


def constant(value: float, per_step=None, details=None):
    def reward(trajectory, task):
        return RewardResult(value, per_step=per_step, details=details or {})

    return reward


class Counting:
    """A reward that counts its calls and has a batched form."""

    def __init__(self, value: float):
        self.value = value
        self.calls = 0
        self.batch_calls = 0

    def __call__(self, trajectory, task):
        self.calls += 1
        return RewardResult(self.value)

    def batch(self, trajectories, tasks):
        self.batch_calls += 1
        return [RewardResult(self.value) for _ in trajectories]


# ---- sigmoid helpers ---------------------------------------------------------------------------


@pytest.mark.parametrize("x", [-800.0, -30.0, -1.0, 0.0, 0.5, 30.0, 800.0])
def test_sigmoid_and_log_sigmoid_are_stable(x):
    assert 0.0 <= sigmoid(x) <= 1.0
    assert math.isfinite(log_sigmoid(x)) and log_sigmoid(x) <= 0.0
    if abs(x) < 30:
        assert sigmoid(x) == pytest.approx(1 / (1 + math.exp(-x)))
        assert log_sigmoid(x) == pytest.approx(math.log(sigmoid(x)))


# ---- weighted sum ------------------------------------------------------------------------------


def test_weighted_sum_skips_zero_weights():
    assert weighted_sum([1.0, 0.5], [1.0, 0.3]) == pytest.approx(1.15)
    assert weighted_sum([1.0, float("nan"), float("inf")], [2.0, 0.0, 0.0]) == 2.0
    with pytest.raises(ValueError):
        weighted_sum([1.0], [1.0, 2.0])


def test_weighted_sum_reward_value_details_and_metrics():
    reward = WeightedSum(
        [
            ("outcome", constant(1.0, details={"em": 1.0}), 1.0),
            ("rubric", constant(0.5), 0.3),
            ("length", constant(float("nan")), 0.0),
        ]
    )
    result = reward(trajectory(), TASK)
    assert result.value == pytest.approx(1.15)
    assert result.details["outcome"] == 1.0
    assert result.details["outcome/em"] == 1.0
    assert result.details["rubric"] == 0.5
    assert math.isnan(result.details["length"])  # computed and reported, not added
    assert result.per_step is None
    assert reward.names == ["outcome", "rubric", "length"]
    assert reward.weights == [1.0, 0.3, 0.0]


def test_weighted_sum_combines_per_step_where_given():
    reward = WeightedSum(
        [
            ("process", constant(0.5, per_step=[0.2, 0.3]), 2.0),
            ("outcome", constant(1.0), 1.0),  # outcome-only: adds to value, not per_step
            ("logged", constant(9.0, per_step=[9.0, 9.0]), 0.0),  # weight 0: not added
            ("other", constant(0.0, per_step=[1.0, -1.0]), 0.5),
        ]
    )
    result = reward(trajectory(2), TASK)
    assert result.value == pytest.approx(2.0)
    np.testing.assert_allclose(result.per_step, [0.4 + 0.5, 0.6 - 0.5])


def test_weighted_sum_rejects_bad_components():
    with pytest.raises(ValueError, match="at least one"):
        WeightedSum([])
    with pytest.raises(ValueError, match="duplicate"):
        WeightedSum([("a", constant(1.0), 1.0), ("a", constant(1.0), 2.0)])
    with pytest.raises(ValueError, match="non-finite"):
        WeightedSum([("a", constant(1.0), float("inf"))])
    bad = WeightedSum([("a", constant(1.0, per_step=[1.0]), 1.0)])
    with pytest.raises(ValueError, match="per-step"):
        bad(trajectory(2), TASK)


def test_weighted_sum_batch_uses_component_batches():
    counting = Counting(0.25)
    reward = WeightedSum([("c", counting, 4.0), ("k", constant(1.0), 1.0)])
    trajectories, tasks = [trajectory(), trajectory()], [TASK, TASK]
    results = score_batch(reward, trajectories, tasks)
    assert counting.batch_calls == 1 and counting.calls == 0
    assert [r.value for r in results] == [2.0, 2.0]
    assert [r.details for r in results] == [reward(t, TASK).details for t in trajectories]


# ---- gate --------------------------------------------------------------------------------------


def test_gated_function():
    assert gated(0.7, 1.0) == 0.7
    assert gated(0.7, 0.99) == 0.0
    assert gated(0.7, 0.5, threshold=0.5) == 0.7
    assert gated(0.7, 0.2, threshold=0.5, otherwise=-1.0) == -1.0


def test_gate_reward_skips_the_gated_reward_when_closed():
    inner = Counting(0.6)
    passing = Gate(inner, gate=constant(1.0))
    result = passing(trajectory(), TASK)
    assert result.value == 0.6
    assert result.details == {"gate": 1.0, "passed": 1.0, "reward": 0.6}
    closed = Gate(inner, gate=constant(0.0), otherwise=-0.5)
    result = closed(trajectory(), TASK)
    assert result.value == -0.5 and result.per_step is None
    assert result.details == {"gate": 0.0, "passed": 0.0}
    assert inner.calls == 1


def test_gate_keeps_per_step_and_details_of_the_reward():
    reward = Gate(
        constant(1.0, per_step=[0.0, 1.0], details={"x": 2}), gate=constant(0.8), threshold=0.5
    )
    result = reward(trajectory(2), TASK)
    assert result.per_step == [0.0, 1.0]
    assert result.details["reward/x"] == 2


def test_gate_batch_scores_only_open_trajectories():
    inner = Counting(0.6)

    def gate(trajectory, task):
        return RewardResult(float(len(trajectory.steps) > 1))

    reward = Gate(inner, gate=gate)
    results = score_batch(reward, [trajectory(2), trajectory(1), trajectory(3)], [TASK] * 3)
    assert [r.value for r in results] == [0.6, 0.0, 0.6]
    assert inner.batch_calls == 1 and inner.calls == 0


# ---- LSC (the worked example of LSC) -------------------------------------------------------------


def test_lsc_worked_examples():
    assert lsc(1.0, 0.0) == pytest.approx(-0.31326, abs=1e-5)
    assert log_sigmoid(1.0) == pytest.approx(-0.31326, abs=1e-5)
    # helpful (r = 2, ref = 1) + harmless (r = 0.5, ref = 1)
    assert lsc(0.5, 1.0) == pytest.approx(-0.97408, abs=1e-5)
    assert lsc([2.0, 0.5], [1.0, 1.0]) == pytest.approx(-1.28734, abs=1e-5)


def test_lsc_reference_worked_example():
    # PAR-style r_ref with mean 1.0 and std 0.5 -> 1.51823; u(2.0) = -0.48100
    r_ref = lsc_reference([0.5, 1.0, 1.5])
    assert r_ref == pytest.approx(1.51823, abs=2e-5)
    assert lsc(2.0, r_ref) == pytest.approx(-0.48100, abs=1e-5)
    with pytest.raises(ValueError):
        lsc_reference([1.0])


@pytest.mark.parametrize("seed", range(5))
def test_lsc_preserves_order_and_is_negative_and_concave(seed):
    rng = np.random.default_rng(seed)
    values = np.sort(rng.normal(scale=3.0, size=50))
    ref = float(rng.normal())
    transformed = [lsc(float(v), ref) for v in values]
    assert all(t < 0 for t in transformed)
    assert all(a <= b for a, b in zip(transformed, transformed[1:], strict=False))
    # Concave: gains shrink as the reward grows past the reference.
    assert lsc(ref - 1, ref) - lsc(ref - 2, ref) > lsc(ref + 2, ref) - lsc(ref + 1, ref)


def test_lsc_validates_lengths():
    with pytest.raises(ValueError):
        lsc([1.0, 2.0], [0.0])


def test_log_sigmoid_conjunction_reward():
    reward = LogSigmoidConjunction(
        [
            ("helpful", constant(2.0), 1.0),
            ("harmless", constant(0.5), lambda task: task.metadata["harmless_ref"]),
        ]
    )
    task = Task(id="t", prompt="q", metadata={"harmless_ref": 1.0})
    result = reward(trajectory(), task)
    assert result.value == pytest.approx(-1.28734, abs=1e-5)
    assert result.details["helpful"] == 2.0
    assert result.details["harmless/reference"] == 1.0
    assert result.details["helpful/lsc"] == pytest.approx(-0.31326, abs=1e-5)
    with pytest.raises(ValueError):
        LogSigmoidConjunction([])


# ---- PAR (the worked example of PAR) -------------------------------------------------------------


def test_par_worked_examples():
    assert par(2.0, [1.0, 2.5]) == pytest.approx(0.55430, abs=1e-5)
    assert par(2.0, [1.0]) == pytest.approx(0.73106, abs=1e-5)
    with pytest.raises(ValueError):
        par(1.0, [])


@pytest.mark.parametrize("seed", range(5))
def test_par_range_and_order(seed):
    rng = np.random.default_rng(seed)
    refs = rng.normal(size=int(rng.integers(1, 10))).tolist()
    values = np.sort(rng.normal(scale=5.0, size=40))
    shaped = [par(float(v), refs) for v in values]
    assert all(0.0 < s < 1.0 for s in shaped)
    assert all(a <= b for a, b in zip(shaped, shaped[1:], strict=False))
    # k sharpens: same sign of (r - ref), further from 0.5.
    assert par(1.0, [0.0], k=5.0) > par(1.0, [0.0], k=1.0) > 0.5


def test_preference_as_reward_reads_task_metadata_or_callable():
    reward = PreferenceAsReward(constant(2.0, details={"em": 1.0}))
    task = Task(id="t", prompt="q", metadata={"reference_rewards": [1.0, 2.5]})
    result = reward(trajectory(), task)
    assert result.value == pytest.approx(0.55430, abs=1e-5)
    assert result.details == {"raw": 2.0, "n_references": 2, "raw/em": 1.0}
    custom = PreferenceAsReward(constant(2.0), references=lambda task: [1.0])
    assert custom(trajectory(), TASK).value == pytest.approx(0.73106, abs=1e-5)
    with pytest.raises(ValueError, match="reference_rewards"):
        reward(trajectory(), TASK)


def test_preference_as_reward_batch():
    inner = Counting(2.0)
    reward = PreferenceAsReward(inner, references=lambda task: [1.0, 2.5])
    results = score_batch(reward, [trajectory(), trajectory()], [TASK, TASK])
    assert [round(r.value, 5) for r in results] == [0.5543, 0.5543]
    assert inner.batch_calls == 1


# ---- spec parser -------------------------------------------------------------------------------

AVAILABLE = {
    "outcome": constant(1.0),
    "citation_rubric": constant(0.5),
    "format": constant(0.25),
    "f1": constant(0.8),
}


def test_parse_spec_builds_the_weighted_sum():
    reward = parse_spec("outcome=1,citation_rubric=0.3,format=0.1", AVAILABLE)
    assert isinstance(reward, WeightedSum)
    assert reward.names == ["outcome", "citation_rubric", "format"]
    assert reward.weights == [1.0, 0.3, 0.1]
    assert reward(trajectory(), TASK).value == pytest.approx(1.0 + 0.15 + 0.025)


def test_parse_spec_syntax():
    assert parse_spec(" outcome = 2 , format=0 ", AVAILABLE).weights == [2.0, 0.0]
    assert parse_spec("outcome", AVAILABLE).weights == [1.0]
    assert parse_spec("outcome=-1,f1=1e-2", AVAILABLE).weights == [-1.0, 0.01]
    result = parse_spec("outcome=1,format=0", AVAILABLE)(trajectory(), TASK)
    assert result.value == 1.0 and result.details["format"] == 0.25


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("", "empty reward spec"),
        ("   ", "empty reward spec"),
        ("outcome=1,,format=1", "empty term"),
        ("outcome=1,", "empty term"),
        ("=1", "missing reward name"),
        ("outcome=", "missing weight"),
        ("outcome=high", "is not a number"),
        ("outcome=nan", "must be finite"),
        ("outcome=inf", "must be finite"),
        ("outcome=1,outcome=2", "appears twice"),
        ("outcom=1", "Did you mean 'outcome'"),
        ("citation=0.3", "Did you mean 'citation_rubric'"),
        ("zzz=1", "unknown reward 'zzz'"),
    ],
)
def test_parse_spec_errors(spec, message):
    with pytest.raises(SpecError, match=message):
        parse_spec(spec, AVAILABLE)


def test_parse_spec_error_lists_available_and_is_a_value_error():
    with pytest.raises(ValueError) as info:
        parse_spec("zzz=1", AVAILABLE)
    assert "Available: citation_rubric, f1, format, outcome" in str(info.value)
    assert "Did you mean" not in str(info.value)
