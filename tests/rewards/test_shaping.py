from __future__ import annotations

import numpy as np
import pytest

from agentgym.core import Task
from agentgym.rewards.base import RewardResult
from agentgym.rewards.shaping import PotentialShaping, discounted_sum, potential_shaping
from agentgym.trajectory import Step, Trajectory

TASK = Task(id="t", prompt="q")
GAMMAS = [0.0, 0.5, 0.9, 0.99, 1.0]


def trajectory_with(potentials, terminated=False, truncated=False) -> Trajectory:
    """A trajectory whose step i records Φ(s_{i+1}) in its info; Φ(s_0) is in the first step."""
    n = len(potentials) - 1
    steps = [Step(action=f"a{i}", info={"phi": potentials[i + 1]}) for i in range(n)]
    t = Trajectory(env_id="x", task_id="t", steps=steps, terminated=terminated, truncated=truncated)
    t.env_kwargs = {"phi0": potentials[0]}
    return t


def table_potential(trajectory, t, task):
    # Reads only the prefix: Φ(s_t) is recorded on step t-1.
    return trajectory.env_kwargs["phi0"] if t == 0 else trajectory.steps[t - 1].info["phi"]


def outcome(value=1.0, per_step=None):
    return lambda trajectory, task: RewardResult(value, per_step=per_step, details={"em": value})


# ---- the pure function -------------------------------------------------------------------------


def test_worked_example():
    # the worked example of potential-based shaping (Ng et al., 1999): Φ(s) = 0.2, Φ(s') = 0.5, γ = 0.9 -> F = 0.25
    assert potential_shaping([0.2, 0.5], gamma=0.9).tolist() == pytest.approx([0.25])


@pytest.mark.parametrize("seed", range(20))
@pytest.mark.parametrize("gamma", GAMMAS)
def test_telescoping_sum(seed, gamma):
    rng = np.random.default_rng(seed)
    n_steps = int(rng.integers(1, 25))
    phi = rng.normal(scale=3.0, size=n_steps + 1)
    shaping = potential_shaping(phi, gamma)
    assert len(shaping) == n_steps
    # Σ_t γ^t F_t = γ^T Φ(s_T) − Φ(s_0)
    assert discounted_sum(shaping, gamma) == pytest.approx(gamma**n_steps * phi[-1] - phi[0])
    # Terminal convention: Φ(s_T) = 0, so the shaped return is −Φ(s_0).
    terminal = potential_shaping(phi, gamma, terminal=True)
    assert discounted_sum(terminal, gamma) == pytest.approx(-phi[0])
    np.testing.assert_allclose(terminal[:-1], shaping[:-1])


@pytest.mark.parametrize("seed", range(10))
def test_undiscounted_sum_is_potential_difference(seed):
    rng = np.random.default_rng(seed)
    phi = rng.uniform(-1, 1, size=int(rng.integers(2, 30)))
    assert potential_shaping(phi).sum() == pytest.approx(phi[-1] - phi[0])


@pytest.mark.parametrize("seed", range(10))
@pytest.mark.parametrize("gamma", [0.5, 0.9, 1.0])
def test_shaping_preserves_the_ranking_of_episodes_from_the_same_start(seed, gamma):
    # Two terminated episodes from the same start: the shaped returns differ by exactly the
    # unshaped difference, so shaping cannot change which one is better.
    rng = np.random.default_rng(seed)
    start = rng.normal()
    returns = []
    for _ in range(2):
        n = int(rng.integers(1, 10))
        rewards = rng.normal(size=n)
        phi = np.concatenate([[start], rng.normal(size=n)])
        shaped = rewards + potential_shaping(phi, gamma, terminal=True)
        returns.append((discounted_sum(rewards, gamma), discounted_sum(shaped, gamma)))
    (r_a, s_a), (r_b, s_b) = returns
    assert s_a - s_b == pytest.approx(r_a - r_b)


def test_potential_shaping_edge_cases():
    assert potential_shaping([0.3]).tolist() == []
    assert potential_shaping([]).tolist() == []
    with pytest.raises(ValueError):
        potential_shaping([[0.0, 1.0]])
    assert discounted_sum([1.0, 1.0, 1.0], 0.5) == 1.75
    assert discounted_sum([], 0.5) == 0.0


# ---- the reward wrapper ------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(10))
@pytest.mark.parametrize("gamma", GAMMAS)
def test_wrapper_adds_shaping_and_telescopes(seed, gamma):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 15))
    phi = rng.normal(size=n + 1).tolist()
    t = trajectory_with(phi)  # neither terminated nor truncated: Φ(s_T) kept under "auto"
    result = PotentialShaping(outcome(1.0), table_potential, gamma=gamma)(t, TASK)
    base = np.zeros(n)
    base[-1] = 1.0  # an outcome-only reward sits on the last step
    np.testing.assert_allclose(result.per_step, base + potential_shaping(phi, gamma))
    assert result.value == 1.0  # the episode's score is unchanged
    assert result.details["em"] == 1.0
    assert result.details["shaping_return"] == pytest.approx(gamma**n * phi[-1] - phi[0])
    assert result.details["potential_initial"] == phi[0]
    assert result.details["potential_final"] == phi[-1]


@pytest.mark.parametrize("gamma", GAMMAS)
def test_wrapper_terminal_conventions(gamma):
    phi = [0.1, 0.4, 0.9]
    terminated = trajectory_with(phi, terminated=True)
    truncated = trajectory_with(phi, truncated=True)
    auto = PotentialShaping(outcome(0.0), table_potential, gamma=gamma)
    assert auto(terminated, TASK).details["shaping_return"] == pytest.approx(-0.1)
    assert auto(terminated, TASK).details["potential_final"] == 0.0
    assert auto(truncated, TASK).details["shaping_return"] == pytest.approx(gamma**2 * 0.9 - 0.1)
    zero = PotentialShaping(outcome(0.0), table_potential, gamma=gamma, terminal="zero")
    assert zero(truncated, TASK).details["shaping_return"] == pytest.approx(-0.1)
    keep = PotentialShaping(outcome(0.0), table_potential, gamma=gamma, terminal="keep")
    assert keep(terminated, TASK).details["shaping_return"] == pytest.approx(gamma**2 * 0.9 - 0.1)


def test_wrapper_uses_the_rewards_own_per_step():
    phi = [0.0, 0.5, 1.0]
    result = PotentialShaping(outcome(1.0, per_step=[0.3, 0.7]), table_potential)(
        trajectory_with(phi), TASK
    )
    np.testing.assert_allclose(result.per_step, [0.3 + 0.5, 0.7 + 0.5])


def test_wrapper_potential_sees_step_indices_zero_to_t():
    seen = []

    def potential(trajectory, t, task):
        seen.append(t)
        return 0.0

    PotentialShaping(outcome(), potential)(trajectory_with([0.0, 0.0, 0.0, 0.0]), TASK)
    assert seen == [0, 1, 2, 3]


def test_wrapper_empty_trajectory_and_errors():
    empty = Trajectory(env_id="x", task_id="t", terminated=True)
    result = PotentialShaping(outcome(1.0), lambda t, i, task: 0.7)(empty, TASK)
    assert result.per_step == [] and result.value == 1.0
    assert result.details["shaping_return"] == 0.0
    with pytest.raises(ValueError, match="per-step"):
        PotentialShaping(outcome(1.0, per_step=[1.0]), table_potential)(
            trajectory_with([0.0, 0.1, 0.2]), TASK
        )
    with pytest.raises(ValueError, match="terminal"):
        PotentialShaping(outcome(), table_potential, terminal="absorbing")
