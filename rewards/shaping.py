"""Potential-based reward shaping (Ng, Harada & Russell, 1999) over a trajectory's steps.

Shaping adds ``F_t = γ Φ(s_{t+1}) − Φ(s_t)`` to the reward of step ``t``, where ``Φ`` is any
function of the state. It is the only additive shaping that leaves optimal policies unchanged in
every MDP (``Q'*(s, a) = Q*(s, a) − Φ(s)``), because the shaped terms telescope:

    Σ_{t=0}^{T−1} γ^t F_t = γ^T Φ(s_T) − Φ(s_0)

so the shaped return differs from the original by an amount that depends only on the start and
end states. Here state ``s_t`` is the episode after its first ``t`` steps (``s_0``: nothing
done yet; ``s_T``: the final state). A potential is a function ``potential(trajectory, t, task)``
that must read only ``trajectory.steps[:t]`` (the prefix), e.g. "fraction of gold evidence
retrieved so far".

Terminal convention: in episodic tasks the potential of a terminal (absorbing) state is set to 0,
so the shaped return is ``original − Φ(s_0)`` and no potential can be "cashed in" by ending
the episode. A truncated episode did not reach a terminal state, so its ``Φ(s_T)`` is kept.

Source: Ng, Harada & Russell, 1999, "Policy Invariance under Reward Transformations: Theory and
Application to Reward Shaping" (ICML 1999; no arXiv version).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Literal

import numpy as np

from agentgym.core import Task
from agentgym.rewards.base import Reward, RewardResult
from agentgym.trajectory import Trajectory

__all__ = ["Potential", "PotentialShaping", "discounted_sum", "potential_shaping"]

#: ``potential(trajectory, t, task) -> Φ(s_t)``, the potential of the state after the first ``t``
#: steps (``0 <= t <= len(trajectory.steps)``); it must look only at ``trajectory.steps[:t]``.
Potential = Callable[[Trajectory, int, Task], float]


def potential_shaping(
    potentials: Sequence[float] | np.ndarray, gamma: float = 1.0, *, terminal: bool = False
) -> np.ndarray:
    """Shaping terms ``F_t = γ Φ(s_{t+1}) − Φ(s_t)`` from the potentials of a state sequence.

    Classical (Ng, Harada & Russell, 1999). Guarantee:
    ``Σ_t γ^t F_t = γ^T Φ(s_T) − Φ(s_0)``; with ``terminal=True`` the last state's potential is
    taken as 0 and the sum is ``−Φ(s_0)``.

    Args:
        potentials: ``Φ(s_0), ..., Φ(s_T)``: one more value than there are steps.
        gamma: The discount.
        terminal: ``s_T`` is a terminal state, whose potential counts as 0.

    Returns:
        ``F_0, ..., F_{T−1}``, float64 (empty for fewer than two potentials).

    Examples:
        >>> potential_shaping([0.2, 0.5], gamma=0.9).round(4).tolist()
        [0.25]
        >>> potential_shaping([0.0, 0.5, 0.8, 1.0]).round(4).tolist()
        [0.5, 0.3, 0.2]
        >>> potential_shaping([0.0, 0.5, 0.8, 1.0], terminal=True).round(4).tolist()
        [0.5, 0.3, -0.8]
    """
    phi = np.array(potentials, dtype=np.float64)
    if phi.ndim != 1:
        raise ValueError(f"potentials must be one-dimensional, got shape {phi.shape}")
    if len(phi) < 2:
        return np.zeros(0)
    if terminal:
        phi[-1] = 0.0
    return gamma * phi[1:] - phi[:-1]


def discounted_sum(values: Sequence[float] | np.ndarray, gamma: float = 1.0) -> float:
    """``Σ_t γ^t v_t``, the discounted return of a reward sequence.

    Examples:
        >>> discounted_sum([1.0, 1.0, 1.0], gamma=0.5)
        1.75
    """
    array = np.asarray(values, dtype=np.float64)
    return float(np.sum(array * gamma ** np.arange(len(array))))


class PotentialShaping:
    """Add potential-based shaping to a reward's per-step rewards.

    ``per_step_t = r_t + γ Φ(s_{t+1}) − Φ(s_t)``, where ``r_t`` is the wrapped reward's per-step
    reward, or, for an outcome-only reward, its value placed on the last step (0 elsewhere).
    ``value`` is the wrapped reward's value, unchanged: shaping changes how credit is spread over
    steps, not what the episode scored. ``details`` adds ``shaping_return`` (``Σ γ^t F_t``,
    equal to ``γ^T Φ(s_T) − Φ(s_0)``), ``potential_initial`` and ``potential_final`` (the
    ``Φ(s_T)`` used, 0 for a terminal state). Range of ``per_step``: the wrapped reward's plus
    ``[γ·min Φ − max Φ, γ·max Φ − min Φ]``.

    Args:
        reward: The reward to shape.
        potential: ``potential(trajectory, t, task) -> Φ(s_t)``; reads ``trajectory.steps[:t]``.
        gamma: The discount; use the trainer's.
        terminal: ``"auto"`` counts ``Φ(s_T)`` as 0 when ``trajectory.terminated`` (and not
            truncated); ``"zero"`` always does; ``"keep"`` never does.

    Examples:
        >>> from agentgym.trajectory import Step, Trajectory
        >>> from agentgym.core import Task
        >>> outcome = lambda t, task: RewardResult(1.0)
        >>> hits = lambda t, n, task: sum(s.info.get("hit", 0) for s in t.steps[:n]) / 2
        >>> steps = [Step("search", info={"hit": 1}), Step("search"), Step("ok", info={"hit": 1})]
        >>> shaped = PotentialShaping(outcome, hits, terminal="keep")
        >>> result = shaped(Trajectory("x", "t", steps=steps), Task("t", "q"))
        >>> result.value, result.per_step, result.details["shaping_return"]
        (1.0, [0.5, 0.0, 1.5], 1.0)
    """

    def __init__(
        self,
        reward: Reward,
        potential: Potential,
        *,
        gamma: float = 1.0,
        terminal: Literal["auto", "zero", "keep"] = "auto",
    ):
        if terminal not in ("auto", "zero", "keep"):
            raise ValueError(f"terminal must be 'auto', 'zero' or 'keep', got {terminal!r}")
        self.reward = reward
        self.potential = potential
        self.gamma = gamma
        self.terminal = terminal

    def __call__(self, trajectory: Trajectory, task: Task) -> RewardResult:
        """Score one trajectory."""
        result = self.reward(trajectory, task)
        n = len(trajectory.steps)
        if result.per_step is not None:
            if len(result.per_step) != n:
                raise ValueError(
                    f"reward gave {len(result.per_step)} per-step rewards for {n} steps"
                )
            base = np.asarray(result.per_step, dtype=np.float64)
        else:
            base = np.zeros(n)
            if n:
                base[-1] = result.value
        phi = [float(self.potential(trajectory, t, task)) for t in range(n + 1)]
        is_terminal = n > 0 and (
            self.terminal == "zero"
            or (self.terminal == "auto" and trajectory.terminated and not trajectory.truncated)
        )
        shaping = potential_shaping(phi, self.gamma, terminal=is_terminal)
        details = dict(result.details)
        details.update(
            {
                "shaping_return": discounted_sum(shaping, self.gamma),
                "potential_initial": phi[0],
                "potential_final": 0.0 if is_terminal else phi[-1],
            }
        )
        return RewardResult(result.value, per_step=(base + shaping).tolist(), details=details)
