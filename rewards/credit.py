"""Credit assignment on groups of rollouts: arrays of rewards in, arrays of advantages out.

Every function here is pure numpy and works on the rewards of a whole batch at once, with
``group_ids`` naming the group (usually: the prompt) each sample belongs to. ``group_ids=None``
means the whole array is one group. Group ids may be any hashable values (ints, strings, tuples).

The normalizations differ in small ways that matter, so each one states which code it follows:

* :func:`grpo_advantages`: ``(r - mean_g) / (std_g + eps)``. The standard deviation's ``ddof`` is
  an explicit argument because implementations disagree: ``torch.std`` (TRL, verl, InfoPO, GiGPO,
  grpo-composer) is unbiased (``ddof=1``); IGPO's updated fork uses the population std
  (``ddof=0``). ``eps`` is ``1e-6`` in verl, ``1e-4`` in TRL.
* :func:`dr_grpo_advantages`: Dr.GRPO, mean-centering only (``r - mean_g``).
* :func:`rloo_advantages`: the leave-one-out baseline, ``r_i - mean_{j != i} r_j``.
* :func:`stratified_advantages`: Stratified GRPO's SAN, blended with the global normalization.
* :func:`gigpo_advantages`: GiGPO's episode groups plus anchor-state step groups.
* :func:`turn_group_normalize`: normalization within (group, turn index) cells (A²TGPO, CM2).
* :func:`discounted_cumsum` / :func:`igpo_advantages`: IGPO's turn-level ``A_t = z_t + γ A_{t+1}``.
* :func:`zero_variance_groups`: which groups give no learning signal at all.

Sources: IGPO (Wang et al., 2025, arXiv 2510.14967; code ``GuoqingWang1/IGPO`` and the updated
advantage in ``debajoycs98/IGPO``, ``verl/trainer/ppo/core_algos.py``); A²TGPO (arXiv 2605.06200); CM2
(Zhang et al., 2026, arXiv 2602.12268; code ``namezhenzhang/CM2-RLCR-Tool-Agent``,
``verl/trainer/ppo/core_algos.py::compute_checklist_step_advantage``); OPRL / iStar (Liu et al., 2025,
arXiv 2509.19199; code ``Tongyi-ConvAI/Qwen-Character``, ``CharacterRL-iStar/istar/core_istar.py``);
Stratified GRPO (arXiv 2510.06214; third-party code ``Wodlfvllf/grpo-composer``,
``grpo_composer/core/advantages/stratified.py``); GiGPO (Feng et al., 2025, arXiv 2505.10978; code
``langfengQ/verl-agent``, ``gigpo/core_gigpo.py``).
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher
from typing import Any, Literal

import numpy as np

__all__ = [
    "ZeroVarianceReport",
    "discounted_cumsum",
    "dr_grpo_advantages",
    "gigpo_advantages",
    "grpo_advantages",
    "igpo_advantages",
    "rescaled_discounted_cumsum",
    "rloo_advantages",
    "stratified_advantages",
    "turn_group_normalize",
    "zero_variance_groups",
]


def _as_rewards(rewards: Sequence[float] | np.ndarray) -> np.ndarray:
    array = np.asarray(rewards, dtype=np.float64)
    if array.ndim != 1:
        raise ValueError(f"rewards must be one-dimensional, got shape {array.shape}")
    return array


def _groups(group_ids: Sequence[Hashable] | np.ndarray | None, n: int) -> list[np.ndarray]:
    """The index arrays of each group, in order of first appearance."""
    if group_ids is None:
        return [np.arange(n)] if n else []
    ids = list(group_ids.tolist() if isinstance(group_ids, np.ndarray) else group_ids)
    if len(ids) != n:
        raise ValueError(f"{n} rewards but {len(ids)} group ids")
    members: dict[Hashable, list[int]] = {}
    for i, group in enumerate(ids):
        members.setdefault(group, []).append(i)
    return [np.asarray(indices) for indices in members.values()]


def _std(values: np.ndarray, ddof: int) -> float:
    """Standard deviation with ``ddof``; 0.0 when there are not more than ``ddof`` values."""
    if len(values) <= ddof:
        return 0.0
    return float(np.std(values, ddof=ddof))


def grpo_advantages(
    rewards: Sequence[float] | np.ndarray,
    group_ids: Sequence[Hashable] | np.ndarray | None = None,
    *,
    ddof: int = 1,
    eps: float = 1e-6,
    scale: bool = True,
) -> np.ndarray:
    """GRPO's group-normalized advantage, ``(r_i - mean_g) / (std_g + eps)``.

    Paper: DeepSeekMath (Shao et al., 2024), the outcome-supervision advantage. Code-faithful to
    verl's ``compute_grpo_outcome_advantage`` with ``ddof=1, eps=1e-6`` and to TRL's
    ``GRPOTrainer`` with ``ddof=1, eps=1e-4``; ``scale=False`` is Dr.GRPO
    (:func:`dr_grpo_advantages`, TRL's ``scale_rewards=False``, verl's
    ``norm_adv_by_std_in_grpo=False``).

    A group of one sample gets advantage 0 (it has nothing to be compared with). verl instead
    uses mean 0 and std 1 there, which passes the raw reward through; pass such samples through
    yourself if you want that.

    Args:
        rewards: One scalar reward per sample.
        group_ids: The group of each sample (e.g. the prompt index); ``None``: one group.
        ddof: Delta degrees of freedom of the std: 1 for ``torch.std`` (unbiased), 0 for the
            population std.
        eps: Added to the std before dividing, so zero-variance groups give 0, not NaN.
        scale: Divide by the std; ``False`` gives mean-centering only.

    Returns:
        The advantages, float64, same length as ``rewards``. Each group with a non-zero std has
        mean 0; with ``ddof=0`` its population std is ``std / (std + eps)`` (about 1).

    Examples:
        >>> grpo_advantages([1.0, 0.0, 0.0, 1.0]).round(4).tolist()
        [0.866, -0.866, -0.866, 0.866]
        >>> grpo_advantages([1.0, 0.0, 1.0, 1.0], group_ids=[0, 0, 1, 1]).round(4).tolist()
        [0.7071, -0.7071, 0.0, 0.0]
        >>> grpo_advantages([1.0, 0.0], ddof=0).round(4).tolist()
        [1.0, -1.0]
    """
    values = _as_rewards(rewards)
    advantages = np.zeros_like(values)
    for members in _groups(group_ids, len(values)):
        if len(members) < 2:
            continue
        group = values[members]
        centred = group - group.mean()
        advantages[members] = centred / (_std(group, ddof) + eps) if scale else centred
    return advantages


def dr_grpo_advantages(
    rewards: Sequence[float] | np.ndarray,
    group_ids: Sequence[Hashable] | np.ndarray | None = None,
) -> np.ndarray:
    """Dr.GRPO's advantage: mean-centering within each group, no division by the std.

    Paper: "Understanding R1-Zero-Like Training: A Critical Perspective" (Liu et al., 2025).
    Also the advantage of CM2's shipped recipe (``norm_adv_by_std_in_grpo=False``). Range: the
    reward's range minus the group mean; singleton groups get 0.

    Args:
        rewards: One scalar reward per sample.
        group_ids: The group of each sample; ``None``: one group.

    Returns:
        ``r_i - mean_g``, float64.

    Examples:
        >>> dr_grpo_advantages([1.0, 0.0, 0.0, 1.0]).tolist()
        [0.5, -0.5, -0.5, 0.5]
    """
    return grpo_advantages(rewards, group_ids, scale=False)


def rloo_advantages(
    rewards: Sequence[float] | np.ndarray,
    group_ids: Sequence[Hashable] | np.ndarray | None = None,
) -> np.ndarray:
    """REINFORCE leave-one-out: ``A_i = r_i - mean_{j != i} r_j``.

    Paper: Ahmadian et al., 2024 ("Back to Basics"); code-faithful to iStar/OPRL's
    ``RLOO(x_i) = x_i·n/(n−1) − mean·n/(n−1)`` (the two forms are equal). A singleton group gets 0
    (there is no one left to compare with).

    Args:
        rewards: One scalar reward per sample.
        group_ids: The group of each sample; ``None``: one group.

    Returns:
        The advantages, float64. Within a group they sum to 0 and equal the Dr.GRPO advantage
        times ``n / (n - 1)``.

    Examples:
        >>> rloo_advantages([1.0, 0.0, 0.0, 1.0]).round(3).tolist()
        [0.667, -0.667, -0.667, 0.667]
    """
    values = _as_rewards(rewards)
    advantages = np.zeros_like(values)
    for members in _groups(group_ids, len(values)):
        n = len(members)
        if n < 2:
            continue
        group = values[members]
        advantages[members] = group - (group.sum() - group) / (n - 1)
    return advantages


def stratified_advantages(
    rewards: Sequence[float] | np.ndarray,
    strata: Sequence[Hashable] | np.ndarray,
    group_ids: Sequence[Hashable] | np.ndarray | None = None,
    *,
    alpha: float = 1.0,
    ddof: int = 1,
    eps: float = 1e-6,
) -> np.ndarray:
    """Stratified GRPO: Stratified Advantage Normalization (SAN), blended with the global one.

    Paper: "Stratified GRPO" (arXiv 2510.06214). ``A = α·A_SAN + (1−α)·A_GN`` with
    ``A_SAN = (R_i − μ_k) / (σ_k + ε)`` inside stratum ``k`` (e.g. trajectories with the same
    number of search calls) and ``A_GN`` the plain GRPO z-score over the whole group. Strata
    are taken inside each group. Follows the third-party grpo-composer implementation
    (``alpha=1.0``, unbiased std) except that a singleton stratum gives 0 instead of NaN. The
    paper's α is not pinned.

    Args:
        rewards: One scalar reward per sample.
        strata: The stratum of each sample (any hashable).
        group_ids: The group of each sample; ``None``: one group.
        alpha: Weight of SAN; ``1.0`` is pure SAN, ``0.0`` plain GRPO.
        ddof: Delta degrees of freedom of both stds.
        eps: Added to each std.

    Returns:
        The blended advantages, float64.

    Examples:
        >>> rewards, strata = [1, 0, 1, 1, 0, 0], [0, 0, 1, 1, 2, 2]
        >>> stratified_advantages(rewards, strata, alpha=0.5).round(4).tolist()
        [0.81, -0.81, 0.4564, 0.4564, -0.4564, -0.4564]
        >>> stratified_advantages([1.0, 0.0, 1.0], strata=["a", "a", "b"]).round(4).tolist()
        [0.7071, -0.7071, 0.0]
    """
    values = _as_rewards(rewards)
    strata = list(strata.tolist() if isinstance(strata, np.ndarray) else strata)
    if len(strata) != len(values):
        raise ValueError(f"{len(values)} rewards but {len(strata)} strata")
    if group_ids is None:
        cells: list[Hashable] = strata
    else:
        groups = list(group_ids.tolist() if isinstance(group_ids, np.ndarray) else group_ids)
        cells = list(zip(groups, strata, strict=True))
    san = grpo_advantages(values, cells, ddof=ddof, eps=eps)
    if alpha == 1.0:
        return san
    return alpha * san + (1.0 - alpha) * grpo_advantages(values, group_ids, ddof=ddof, eps=eps)


def discounted_cumsum(values: Sequence[float] | np.ndarray, gamma: float = 1.0) -> np.ndarray:
    """Discounted reverse accumulation ``out_t = values_t + γ · out_{t+1}``.

    This is the discounted return ``R_t = r_t + γ R_{t+1}`` (GiGPO Eq. 5) and IGPO's turn-level
    advantage accumulation ``A_t = z_t + γ A_{t+1}``.

    Args:
        values: One value per turn (or step), in order.
        gamma: The discount.

    Returns:
        The accumulated values, float64.

    Examples:
        >>> discounted_cumsum([0.0, 1.0], gamma=0.95).tolist()
        [0.95, 1.0]
        >>> discounted_cumsum([1.0, 1.0, 1.0]).tolist()
        [3.0, 2.0, 1.0]
    """
    array = _as_rewards(values)
    out = np.zeros_like(array)
    running = 0.0
    for t in range(len(array) - 1, -1, -1):
        running = array[t] + gamma * running
        out[t] = running
    return out


def rescaled_discounted_cumsum(
    values: Sequence[float] | np.ndarray,
    gamma: float = 1.0,
    *,
    denominator: Literal["count", "discount"] = "count",
) -> np.ndarray:
    """A²TGPO's variance-rescaled accumulation (a RECONSTRUCTION, not verified against code).

    Paper: A²TGPO (arXiv 2605.06200), which "divides cumulative normalized IG by square root of
    accumulated terms". Reconstructed as
    ``A_t = (Σ_{k=t}^{T} γ^{k−t} x_k) / sqrt(T − t + 1)`` (``denominator="count"``) or with
    ``sqrt(Σ_{k=t}^{T} γ^{2(k−t)})`` (``denominator="discount"``), which keeps the variance of a
    sum of independent unit-variance terms at 1. Which one the paper uses, and how the outcome
    term enters, are not stated in the A²TGPO paper (arXiv 2605.06200), and its code is not public.

    Args:
        values: Turn-normalized values of one trajectory, in order.
        gamma: The discount.
        denominator: ``"count"`` or ``"discount"``, as above.

    Returns:
        The rescaled accumulation, float64.

    Examples:
        >>> rescaled_discounted_cumsum([1.0, 1.0, 1.0, 1.0]).round(4).tolist()
        [2.0, 1.7321, 1.4142, 1.0]
        >>> rescaled_discounted_cumsum([1.0, 1.0], gamma=0.0, denominator="discount").tolist()
        [1.0, 1.0]
    """
    array = _as_rewards(values)
    sums = discounted_cumsum(array, gamma)
    remaining = np.arange(len(array), 0, -1, dtype=np.float64)  # T - t + 1
    if denominator == "count":
        return sums / np.sqrt(remaining)
    if denominator == "discount":
        return sums / np.sqrt(discounted_cumsum(np.ones_like(array), gamma * gamma))
    raise ValueError(f"denominator must be 'count' or 'discount', got {denominator!r}")


def turn_group_normalize(
    turn_values: Sequence[Sequence[float]],
    group_ids: Sequence[Hashable] | None = None,
    *,
    ddof: int = 0,
    eps: float = 1e-6,
    min_size: int = 2,
) -> list[np.ndarray]:
    """Normalize per-turn values within each (group, turn index) cell.

    ``Ĩ_{i,t} = (x_{i,t} − mean_{j∈G(q,t)} x_{j,t}) / (std_{j∈G(q,t)} x_{j,t} + ε)``, where
    ``G(q,t)`` are the rollouts of group ``q`` that reach turn ``t``. This is A²TGPO's
    turn-group normalization of information gain (paper arXiv 2605.06200; its std convention is
    not pinned, ``ddof=0`` follows its predecessor IGPO) and CM2's ``adv_estimator=checklist``
    turn variant (code: cells with ``<= threthod_num = 4`` members get 0, i.e. ``min_size=5``).
    The information-gain values themselves come from ``rewards/info_gain.py``.

    Args:
        turn_values: One sequence of per-turn values per rollout (ragged).
        group_ids: The group of each rollout; ``None``: one group.
        ddof: Delta degrees of freedom of the std.
        eps: Added to the std.
        min_size: Cells with fewer members than this get 0.

    Returns:
        One float64 array per rollout, shaped like its input.

    Examples:
        Three rollouts of one prompt; only the first two reach turn 1:

        >>> out = turn_group_normalize([[0.3, 0.4], [0.0, 0.1], [0.3]], group_ids=[0, 0, 0])
        >>> [a.round(4).tolist() for a in out]
        [[0.7071, 1.0], [-1.4142, -1.0], [0.7071]]
    """
    arrays = [_as_rewards(values) for values in turn_values]
    out = [np.zeros_like(array) for array in arrays]
    cell_of: list[Hashable] = []
    flat: list[float] = []
    where: list[tuple[int, int]] = []
    groups = [0] * len(arrays) if group_ids is None else list(group_ids)
    if len(groups) != len(arrays):
        raise ValueError(f"{len(arrays)} rollouts but {len(groups)} group ids")
    for i, array in enumerate(arrays):
        for t, value in enumerate(array):
            cell_of.append((groups[i], t))
            flat.append(float(value))
            where.append((i, t))
    values = np.asarray(flat, dtype=np.float64)
    for members in _groups(cell_of, len(values)):
        if len(members) < max(min_size, 1):
            continue
        cell = values[members]
        normalized = (cell - cell.mean()) / (_std(cell, ddof) + eps)
        for index, value in zip(members, normalized, strict=True):
            i, t = where[index]
            out[i][t] = value
    return out


def igpo_advantages(
    turn_rewards: Sequence[Sequence[float]],
    group_ids: Sequence[Hashable] | None = None,
    *,
    gamma: float = 1.0,
    separate: bool = False,
    eps: float = 1e-6,
    var_eps: float = 1e-8,
) -> list[np.ndarray]:
    """IGPO's turn-level advantage: joint group z-scores, then discounted accumulation.

    Paper: IGPO ("Information Gain-based Policy Optimization"); code-faithful to the updated fork
    ``debajoycs98/IGPO: compute_grpo_outcome_advantage``. Each rollout's turn rewards are its
    information gains ``IG_t`` on the non-final turns followed by the outcome (F1) on the final
    turn. All turn rewards of a group are pooled and z-scored with the population std
    ``sqrt(mean((x−μ)²) + var_eps)`` and ``/(std + eps)``; then ``A_t = z_t + γ A_{t+1}``
    within each rollout. ``separate=True`` pools the IG rewards and the outcome rewards of a
    group separately (the fork's ``separate`` variant).

    Args:
        turn_rewards: One sequence per rollout: ``[IG_1, ..., IG_{T-1}, outcome]``.
        group_ids: The group (prompt) of each rollout; ``None``: one group.
        gamma: Turn discount (the code's default is 1.0).
        separate: Normalize IG and outcome rewards separately.
        eps: Added to the std before dividing.
        var_eps: Added to the variance inside the square root.

    Returns:
        One float64 array of turn advantages per rollout.

    Examples:
        >>> out = igpo_advantages([[0.2, -0.05, 1.0], [0.1, 0.0]])
        >>> [a.round(4).tolist() for a in out]
        [[1.0397, 1.1697, 1.9495], [-1.0397, -0.6498]]
    """
    arrays = [_as_rewards(values) for values in turn_rewards]
    groups = [0] * len(arrays) if group_ids is None else list(group_ids)
    if len(groups) != len(arrays):
        raise ValueError(f"{len(arrays)} rollouts but {len(groups)} group ids")
    pools: list[Hashable] = []
    flat: list[float] = []
    where: list[tuple[int, int]] = []
    for i, array in enumerate(arrays):
        for t, value in enumerate(array):
            is_outcome = t == len(array) - 1
            pools.append((groups[i], is_outcome) if separate else groups[i])
            flat.append(float(value))
            where.append((i, t))
    values = np.asarray(flat, dtype=np.float64)
    z = [np.zeros_like(array) for array in arrays]
    for members in _groups(pools, len(values)):
        pool = values[members]
        std = np.sqrt(np.mean((pool - pool.mean()) ** 2) + var_eps)
        for index, value in zip(members, (pool - pool.mean()) / (std + eps), strict=True):
            i, t = where[index]
            z[i][t] = value
    return [discounted_cumsum(values, gamma) for values in z]


def _cluster_anchors(anchors: list[Any], similarity_threshold: float | None) -> list[int]:
    """Cluster ids for anchor observations: identical ones, or SequenceMatcher-similar strings."""
    cluster_ids: list[int] = []
    if similarity_threshold is None:
        seen: dict[Hashable, int] = {}
        for anchor in anchors:
            cluster_ids.append(seen.setdefault(_hashable(anchor), len(seen)))
        return cluster_ids
    representatives: list[str] = []
    for anchor in anchors:
        if not isinstance(anchor, str):
            raise TypeError("similarity-based anchor grouping needs string observations")
        for k, representative in enumerate(representatives):
            if SequenceMatcher(None, anchor, representative).ratio() >= similarity_threshold:
                cluster_ids.append(k)
                break
        else:
            representatives.append(anchor)
            cluster_ids.append(len(representatives) - 1)
    return cluster_ids


def _hashable(value: Any) -> Hashable:
    """GiGPO's ``to_hashable``: lists/arrays to tuples, dicts to sorted item tuples."""
    if isinstance(value, np.ndarray):
        return tuple(value.flatten().tolist())
    if isinstance(value, (list, tuple)):
        return tuple(_hashable(item) for item in value)
    if isinstance(value, dict):
        return tuple(sorted((key, _hashable(item)) for key, item in value.items()))
    if isinstance(value, np.generic):
        return value.item()
    return value


def gigpo_advantages(
    step_rewards: Sequence[Sequence[float]],
    anchors: Sequence[Sequence[Any]],
    group_ids: Sequence[Hashable] | None = None,
    *,
    episode_rewards: Sequence[float] | None = None,
    gamma: float = 0.95,
    omega: float = 1.0,
    mode: Literal["mean_norm", "mean_std_norm"] = "mean_norm",
    ddof: int = 1,
    eps: float = 1e-6,
    similarity_threshold: float | None = None,
    episode_stats_over_steps: bool = False,
) -> list[np.ndarray]:
    """GiGPO's two-level advantage: episode groups plus anchor-state step groups.

    Paper: "Group-in-Group Policy Optimization for LLM Agent Training" (arXiv 2505.10978).
    Code-faithful to verl-agent's ``gigpo/core_gigpo.py`` (each trajectory counted once in the
    episode mean; torch's unbiased std, ``ddof=1``):

    1. Step returns ``R_t = r_t + γ R_{t+1}`` within each trajectory (Eq. 5).
    2. Episode advantage ``A^E_i = (R(τ_i) − mean_g) / F`` (Eq. 3), ``F = std + eps`` for
       ``mode="mean_std_norm"``, ``F = 1`` for ``"mean_norm"``. A group of one trajectory uses
       mean 0 and std 1 (so its advantage is its reward), as the code does.
    3. Anchor-state groups (Eq. 6): within a group, steps whose anchor observations are identical
       (or, with ``similarity_threshold``, whose strings have ``SequenceMatcher.ratio() >=``
       the threshold against the cluster's first member).
    4. Step advantage ``A^S = (R_t − mean_anchor) / F`` (Eq. 7); a singleton anchor group gives 0.
    5. ``A = A^E + ω·A^S`` (Eq. 8).

    Args:
        step_rewards: One sequence of step rewards per trajectory.
        anchors: One sequence of anchor observations per trajectory, aligned with its steps:
            the state each step acted in (strings, or anything lists/dicts/arrays of which can be
            made hashable).
        group_ids: The group (prompt / shared initial state) of each trajectory; ``None``: one.
        episode_rewards: Each trajectory's episode reward ``R(τ)``; default: the undiscounted
            sum of its step rewards.
        gamma: Step discount (0.95 in the paper's scripts).
        omega: Weight of the step advantage (``step_advantage_w``).
        mode: ``"mean_norm"`` or ``"mean_std_norm"``.
        ddof: Delta degrees of freedom of the std (``mean_std_norm`` only).
        eps: Added to the std (``mean_std_norm`` only).
        similarity_threshold: Enable similarity grouping of string anchors with this threshold.
        episode_stats_over_steps: Compute the episode mean/std over step rows (each trajectory
            weighted by its number of steps), as newer upstream's
            ``compute_mean_std_cross_steps=True`` does; default: each trajectory counted once.

    Returns:
        One float64 array of per-step advantages per trajectory.

    Examples:
        Trajectory A goes s0 → s1 and succeeds at its last step; B goes s0 → s1' and fails:

        >>> out = gigpo_advantages([[0.0, 1.0], [0.0, 0.0]], [["s0", "s1"], ["s0", "s1'"]])
        >>> [a.round(4).tolist() for a in out]
        [[0.975, 0.5], [-0.975, -0.5]]
    """
    if mode not in ("mean_norm", "mean_std_norm"):
        raise ValueError(f"mode must be 'mean_norm' or 'mean_std_norm', got {mode!r}")
    rewards = [_as_rewards(values) for values in step_rewards]
    n = len(rewards)
    if len(anchors) != n:
        raise ValueError(f"{n} trajectories but {len(anchors)} anchor sequences")
    for i, (values, states) in enumerate(zip(rewards, anchors, strict=True)):
        if len(states) != len(values):
            raise ValueError(
                f"trajectory {i}: {len(values)} step rewards but {len(states)} anchors"
            )
    groups = [0] * n if group_ids is None else list(group_ids)
    if len(groups) != n:
        raise ValueError(f"{n} trajectories but {len(groups)} group ids")
    if episode_rewards is None:
        episodes = np.asarray([values.sum() for values in rewards], dtype=np.float64)
    else:
        episodes = _as_rewards(episode_rewards)
        if len(episodes) != n:
            raise ValueError(f"{n} trajectories but {len(episodes)} episode rewards")
    use_std = mode == "mean_std_norm"

    episode_advantage = np.zeros(n)
    for members in _groups(groups, n):
        scores = episodes[members]
        counts = [len(rewards[i]) for i in members] if episode_stats_over_steps else 1
        pooled = np.repeat(scores, counts)
        mean, std = (pooled.mean(), _std(pooled, ddof)) if len(pooled) > 1 else (0.0, 1.0)
        centred = scores - mean
        episode_advantage[members] = centred / (std + eps) if use_std else centred

    returns = [discounted_cumsum(values, gamma) for values in rewards]
    out = [np.full(len(values), episode_advantage[i]) for i, values in enumerate(rewards)]
    for members in _groups(groups, n):
        rows = [(i, t) for i in members.tolist() for t in range(len(rewards[i]))]
        clusters = _cluster_anchors([anchors[i][t] for i, t in rows], similarity_threshold)
        for cluster in _groups(clusters, len(rows)):
            if len(cluster) < 2:
                continue
            values = np.asarray([returns[rows[k][0]][rows[k][1]] for k in cluster])
            centred = values - values.mean()
            step_advantage = centred / (_std(values, ddof) + eps) if use_std else centred
            for k, value in zip(cluster, step_advantage, strict=True):
                i, t = rows[k]
                out[i][t] += omega * value
    return out


@dataclass(frozen=True)
class ZeroVarianceReport:
    """Which groups give GRPO-style estimators no signal.

    Attributes:
        groups: Ids of the groups whose rewards are all equal (singletons included), in order of
            first appearance.
        n_groups: Number of groups.
        n_samples: Number of samples.
        fraction_groups: ``len(groups) / n_groups``.
        fraction_samples: Fraction of samples that belong to a zero-variance group.
        fraction_zero_advantage: Fraction of samples whose reward equals their group mean (within
            ``atol``), i.e. whose mean-centred advantage is zero; includes every sample of the
            zero-variance groups.
    """

    groups: list[Hashable]
    n_groups: int
    n_samples: int
    fraction_groups: float
    fraction_samples: float
    fraction_zero_advantage: float

    def as_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data."""
        return {
            "zero_variance_groups": list(self.groups),
            "n_groups": self.n_groups,
            "n_samples": self.n_samples,
            "fraction_groups": self.fraction_groups,
            "fraction_samples": self.fraction_samples,
            "fraction_zero_advantage": self.fraction_zero_advantage,
        }


def zero_variance_groups(
    rewards: Sequence[float] | np.ndarray,
    group_ids: Sequence[Hashable] | np.ndarray | None = None,
    *,
    atol: float = 0.0,
) -> ZeroVarianceReport:
    """Diagnose groups whose rewards are all equal: they contribute zero advantage under GRPO.

    A batch where most groups are all-correct or all-wrong wastes its rollouts (DAPO's dynamic
    sampling filters them). This reports which groups those are and how much of the batch gets
    a zero advantage.

    Args:
        rewards: One scalar reward per sample.
        group_ids: The group of each sample; ``None``: one group.
        atol: Rewards within this distance of each other (of the group mean) count as equal.

    Returns:
        A :class:`ZeroVarianceReport`.

    Examples:
        >>> rewards = [1, 1, 0, 1, 0, 0, 0.5]
        >>> report = zero_variance_groups(rewards, group_ids=["a", "a", "b", "b", "c", "c", "d"])
        >>> report.groups, report.fraction_groups, round(report.fraction_samples, 4)
        (['a', 'c', 'd'], 0.75, 0.7143)
    """
    values = _as_rewards(rewards)
    ids = (
        [0] * len(values)
        if group_ids is None
        else list(group_ids.tolist() if isinstance(group_ids, np.ndarray) else group_ids)
    )
    members_of = _groups(ids, len(values))
    zero: list[Hashable] = []
    in_zero = 0
    at_mean = 0
    for members in members_of:
        group = values[members]
        if float(group.max() - group.min()) <= atol:
            zero.append(ids[int(members[0])])
            in_zero += len(members)
            at_mean += len(members)
        else:
            at_mean += int(np.sum(np.abs(group - group.mean()) <= atol))
    n = len(values)
    return ZeroVarianceReport(
        groups=zero,
        n_groups=len(members_of),
        n_samples=n,
        fraction_groups=len(zero) / len(members_of) if members_of else 0.0,
        fraction_samples=in_zero / n if n else 0.0,
        fraction_zero_advantage=at_mean / n if n else 0.0,
    )
