from __future__ import annotations

import numpy as np
import pytest

from agentgym.rewards.credit import (
    ZeroVarianceReport,
    discounted_cumsum,
    dr_grpo_advantages,
    gigpo_advantages,
    grpo_advantages,
    igpo_advantages,
    rescaled_discounted_cumsum,
    rloo_advantages,
    stratified_advantages,
    turn_group_normalize,
    zero_variance_groups,
)

RNG_SEEDS = range(10)


def random_batch(seed: int, n_groups: int = 5, size: int = 6):
    rng = np.random.default_rng(seed)
    rewards = rng.normal(size=n_groups * size)
    group_ids = np.repeat(np.arange(n_groups), size)
    rng.shuffle(group_ids)
    return rewards, group_ids


# ---- GRPO ------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", RNG_SEEDS)
@pytest.mark.parametrize("ddof", [0, 1])
def test_grpo_groups_have_mean_zero_and_unit_std(seed, ddof):
    rewards, group_ids = random_batch(seed)
    advantages = grpo_advantages(rewards, group_ids, ddof=ddof)
    for group in np.unique(group_ids):
        a = advantages[group_ids == group]
        assert abs(a.mean()) < 1e-12
        assert np.std(a, ddof=ddof) == pytest.approx(1.0, abs=1e-5)


def test_grpo_matches_verl_formula_with_unbiased_std():
    rewards = np.array([0.0, 1.0, 1.0, 0.5])
    expected = (rewards - rewards.mean()) / (np.std(rewards, ddof=1) + 1e-6)
    np.testing.assert_allclose(grpo_advantages(rewards), expected)


def test_grpo_ddof_is_explicit_and_changes_the_scale():
    rewards = [1.0, 0.0, 0.0, 0.0]
    unbiased = grpo_advantages(rewards, ddof=1, eps=0.0)
    population = grpo_advantages(rewards, ddof=0, eps=0.0)
    # std_0 = std_1 * sqrt((n-1)/n), so the population z-scores are larger by sqrt(n/(n-1)).
    np.testing.assert_allclose(population, unbiased * np.sqrt(4 / 3))


def test_grpo_eps_as_trl_uses_it():
    rewards = np.array([1.0, 0.0])
    std = np.std(rewards, ddof=1)
    np.testing.assert_allclose(grpo_advantages(rewards, eps=1e-4), (rewards - 0.5) / (std + 1e-4))


def test_grpo_zero_variance_and_singleton_groups_give_zero_not_nan():
    advantages = grpo_advantages([1.0, 1.0, 1.0, 0.3], group_ids=["a", "a", "a", "b"])
    assert advantages.tolist() == [0.0, 0.0, 0.0, 0.0]


def test_grpo_without_group_ids_is_one_group():
    rewards = [3.0, 1.0, 2.0]
    np.testing.assert_allclose(grpo_advantages(rewards), grpo_advantages(rewards, [7, 7, 7]))


def test_grpo_accepts_string_and_tuple_group_ids():
    a = grpo_advantages([1.0, 0.0, 1.0, 0.0], group_ids=[("p", 1), ("p", 1), "q", "q"])
    np.testing.assert_allclose(a, [0.7071, -0.7071, 0.7071, -0.7071], atol=1e-4)


def test_grpo_validates_shapes():
    with pytest.raises(ValueError, match="group ids"):
        grpo_advantages([1.0, 2.0], group_ids=[0])
    with pytest.raises(ValueError, match="one-dimensional"):
        grpo_advantages([[1.0, 2.0]])


def test_grpo_empty_batch():
    assert grpo_advantages([]).tolist() == []


@pytest.mark.parametrize("seed", RNG_SEEDS)
def test_grpo_preserves_order_within_a_group(seed):
    rewards, group_ids = random_batch(seed)
    advantages = grpo_advantages(rewards, group_ids)
    for group in np.unique(group_ids):
        mask = group_ids == group
        assert (np.argsort(rewards[mask]) == np.argsort(advantages[mask])).all()


# ---- Dr.GRPO and RLOO --------------------------------------------------------------------------


@pytest.mark.parametrize("seed", RNG_SEEDS)
def test_dr_grpo_is_mean_centering(seed):
    rewards, group_ids = random_batch(seed)
    advantages = dr_grpo_advantages(rewards, group_ids)
    for group in np.unique(group_ids):
        mask = group_ids == group
        np.testing.assert_allclose(advantages[mask], rewards[mask] - rewards[mask].mean())
    np.testing.assert_allclose(advantages, grpo_advantages(rewards, group_ids, scale=False))


def test_rloo_worked_example_istar():
    # the worked example of RLOO: episode rewards [1, 0, 0, 1] -> RLOO [0.667, -0.667, -0.667, 0.667]
    np.testing.assert_allclose(
        rloo_advantages([1, 0, 0, 1]), [0.667, -0.667, -0.667, 0.667], atol=1e-3
    )


@pytest.mark.parametrize("seed", RNG_SEEDS)
def test_rloo_identities(seed):
    rewards, group_ids = random_batch(seed)
    advantages = rloo_advantages(rewards, group_ids)
    for group in np.unique(group_ids):
        mask = group_ids == group
        r, a = rewards[mask], advantages[mask]
        n = len(r)
        # Definition: r_i minus the mean of the others.
        brute = [r[i] - np.delete(r, i).mean() for i in range(n)]
        np.testing.assert_allclose(a, brute)
        # iStar's form: x_i * n/(n-1) - mean * n/(n-1).
        np.testing.assert_allclose(a, r * n / (n - 1) - r.mean() * n / (n - 1))
        # Dr.GRPO scaled by n/(n-1); sums to zero.
        np.testing.assert_allclose(a, (r - r.mean()) * n / (n - 1))
        assert abs(a.sum()) < 1e-9


def test_rloo_singleton_group_is_zero():
    assert rloo_advantages([5.0, 1.0, 0.0], group_ids=[0, 1, 1]).tolist() == [0.0, 1.0, -1.0]


# ---- Stratified GRPO (SAN) --------------------------------------------------------------------


def test_stratified_worked_example():
    # the worked example of Stratified GRPO (SAN) (unbiased std, eps = 1e-6)
    rewards, strata = [1, 0, 1, 1, 0, 0], [0, 0, 1, 1, 2, 2]
    gn = [0.9129, -0.9129, 0.9129, 0.9129, -0.9129, -0.9129]
    san = [0.7071, -0.7071, 0, 0, 0, 0]
    blend = [0.81, -0.81, 0.4564, 0.4564, -0.4564, -0.4564]
    np.testing.assert_allclose(stratified_advantages(rewards, strata, alpha=0.0), gn, atol=1e-4)
    np.testing.assert_allclose(stratified_advantages(rewards, strata), san, atol=1e-4)
    np.testing.assert_allclose(stratified_advantages(rewards, strata, alpha=0.5), blend, atol=1e-4)
    np.testing.assert_allclose(grpo_advantages(rewards), gn, atol=1e-4)


def test_stratified_singleton_stratum_gives_zero_not_nan():
    advantages = stratified_advantages([1.0, 0.0, 0.7, 0.2], strata=[0, 0, 1, 2], alpha=1.0)
    assert np.isfinite(advantages).all()
    assert advantages[2] == 0.0 and advantages[3] == 0.0
    blended = stratified_advantages([1.0, 0.0, 0.7, 0.2], strata=[0, 0, 1, 2], alpha=0.5)
    assert np.isfinite(blended).all()


def test_stratified_strata_are_taken_within_groups():
    rewards = [1.0, 0.0, 1.0, 1.0]
    # Stratum 0 appears in both groups, but the groups are not pooled.
    within = stratified_advantages(rewards, strata=[0, 0, 0, 0], group_ids=["a", "a", "b", "b"])
    np.testing.assert_allclose(within, [0.7071, -0.7071, 0.0, 0.0], atol=1e-4)


@pytest.mark.parametrize("seed", RNG_SEEDS)
def test_stratified_is_a_convex_blend(seed):
    rng = np.random.default_rng(seed)
    rewards = rng.integers(0, 2, size=12).astype(float)
    strata = rng.integers(0, 3, size=12)
    groups = np.repeat([0, 1], 6)
    san = stratified_advantages(rewards, strata, groups, alpha=1.0)
    gn = stratified_advantages(rewards, strata, groups, alpha=0.0)
    np.testing.assert_allclose(gn, grpo_advantages(rewards, groups))
    for alpha in (0.25, 0.5, 0.9):
        np.testing.assert_allclose(
            stratified_advantages(rewards, strata, groups, alpha=alpha),
            alpha * san + (1 - alpha) * gn,
        )


def test_stratified_validates_lengths():
    with pytest.raises(ValueError, match="strata"):
        stratified_advantages([1.0, 0.0], strata=[0])


# ---- discounted accumulation -------------------------------------------------------------------


def test_discounted_cumsum():
    np.testing.assert_allclose(discounted_cumsum([0.0, 1.0], 0.95), [0.95, 1.0])
    np.testing.assert_allclose(discounted_cumsum([1.0, 2.0, 3.0], 0.5), [2.75, 3.5, 3.0])
    assert discounted_cumsum([]).tolist() == []


def test_rescaled_discounted_cumsum_variants():
    x = [0.5, -1.0, 2.0]
    sums = discounted_cumsum(x, 0.9)
    np.testing.assert_allclose(rescaled_discounted_cumsum(x, 0.9), sums / np.sqrt([3, 2, 1]))
    denominators = np.sqrt([1 + 0.81 + 0.81**2, 1 + 0.81, 1])
    np.testing.assert_allclose(
        rescaled_discounted_cumsum(x, 0.9, denominator="discount"), sums / denominators
    )
    with pytest.raises(ValueError):
        rescaled_discounted_cumsum(x, denominator="terms")


# ---- IGPO --------------------------------------------------------------------------------------


def test_igpo_worked_example():
    # the worked example of IGPO: r1 = IG [0.2, -0.05] + F1 1.0; r2 = IG [0.1] + F1 0.0; mu = 0.25,
    # sigma = 0.38471 -> z_r1 = [-0.13, -0.7798, 1.9495], A_r1 = [1.0397, 1.1697, 1.9495];
    # z_r2 = [-0.3899, -0.6498], A_r2 = [-1.0397, -0.6498].
    pool = np.array([0.2, -0.05, 1.0, 0.1, 0.0])
    assert np.sqrt(np.mean((pool - pool.mean()) ** 2) + 1e-8) == pytest.approx(0.38471, abs=1e-5)
    a_r1, a_r2 = igpo_advantages([[0.2, -0.05, 1.0], [0.1, 0.0]], group_ids=[0, 0])
    np.testing.assert_allclose(a_r1, [1.0397, 1.1697, 1.9495], atol=1e-4)
    np.testing.assert_allclose(a_r2, [-1.0397, -0.6498], atol=1e-4)
    z_r1, z_r2 = igpo_advantages([[0.2, -0.05, 1.0], [0.1, 0.0]], gamma=0.0)
    np.testing.assert_allclose(z_r1, [-0.13, -0.7798, 1.9495], atol=1e-4)
    np.testing.assert_allclose(z_r2, [-0.3899, -0.6498], atol=1e-4)


def test_igpo_groups_are_normalized_separately():
    rollouts = [[0.2, -0.05, 1.0], [0.1, 0.0], [0.2, -0.05, 1.0], [0.1, 0.0]]
    out = igpo_advantages(rollouts, group_ids=["p", "p", "q", "q"])
    np.testing.assert_allclose(out[0], out[2])
    np.testing.assert_allclose(out[1], out[3])


def test_igpo_separate_pools_ig_and_outcome():
    out = igpo_advantages([[0.2, 1.0], [0.0, 0.0]], separate=True, gamma=0.0)
    # IG pool [0.2, 0.0] and outcome pool [1.0, 0.0] are each +-1 after population z-scoring.
    np.testing.assert_allclose(out[0], [1.0, 1.0], atol=1e-4)
    np.testing.assert_allclose(out[1], [-1.0, -1.0], atol=1e-4)


def test_igpo_gamma_discounts_turns():
    z = igpo_advantages([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]], gamma=0.0)
    a = igpo_advantages([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]], gamma=0.5)
    for zi, ai in zip(z, a, strict=True):
        np.testing.assert_allclose(ai, discounted_cumsum(zi, 0.5))


# ---- turn-group normalization ------------------------------------------------------------------


def test_turn_group_normalize_uses_only_rollouts_reaching_the_turn():
    out = turn_group_normalize([[1.0, 5.0, 9.0], [0.0, 3.0], [2.0]], ddof=0, eps=0.0)
    turn0 = np.array([1.0, 0.0, 2.0])
    np.testing.assert_allclose([o[0] for o in out], (turn0 - 1.0) / turn0.std())
    np.testing.assert_allclose([out[0][1], out[1][1]], [1.0, -1.0])
    assert out[0][2] == 0.0  # only one rollout reaches turn 2
    assert [len(o) for o in out] == [3, 2, 1]


def test_turn_group_normalize_per_group_and_ddof():
    values = [[1.0], [0.0], [1.0], [0.0], [0.5]]
    out = turn_group_normalize(values, group_ids=[0, 0, 1, 1, 1], ddof=1, eps=0.0)
    np.testing.assert_allclose(np.concatenate(out)[:2], [0.7071, -0.7071], atol=1e-4)
    np.testing.assert_allclose(np.concatenate(out)[2:], [1.0, -1.0, 0.0], atol=1e-4)


def test_turn_group_normalize_cm2_min_size():
    # CM2's checklist turn variant: a (group, turn) cell with <= 4 members gets 0.
    four = [[float(i)] for i in range(4)]
    five = [[float(i)] for i in range(5)]
    assert np.concatenate(turn_group_normalize(four, min_size=5)).tolist() == [0.0] * 4
    assert np.abs(np.concatenate(turn_group_normalize(five, min_size=5))).sum() > 0


# ---- GiGPO -------------------------------------------------------------------------------------


def test_gigpo_worked_example():
    # the worked example of GiGPO: A = (s0 -> s1, success), B = (s0 -> s1', fail), mean_norm, gamma 0.95
    # -> A: [0.975, 0.5], B: [-0.975, -0.5].
    a, b = gigpo_advantages([[0.0, 1.0], [0.0, 0.0]], [["s0", "s1"], ["s0", "s1'"]])
    np.testing.assert_allclose(a, [0.975, 0.5])
    np.testing.assert_allclose(b, [-0.975, -0.5])


def test_gigpo_parts():
    rewards, anchors = [[0.0, 1.0], [0.0, 0.0]], [["s0", "s1"], ["s0", "s1'"]]
    episode_only = gigpo_advantages(rewards, anchors, omega=0.0)
    np.testing.assert_allclose(np.concatenate(episode_only), [0.5, 0.5, -0.5, -0.5])
    step_only = gigpo_advantages(rewards, anchors, episode_rewards=[0.0, 0.0])
    np.testing.assert_allclose(np.concatenate(step_only), [0.475, 0.0, -0.475, 0.0])


def test_gigpo_mean_std_norm_uses_unbiased_std():
    a, b = gigpo_advantages(
        [[0.0, 1.0], [0.0, 0.0]], [["s0", "s1"], ["s0", "s1'"]], mode="mean_std_norm"
    )
    episode = 0.5 / (np.std([1.0, 0.0], ddof=1) + 1e-6)
    step = 0.475 / (np.std([0.95, 0.0], ddof=1) + 1e-6)
    np.testing.assert_allclose(a, [episode + step, episode])
    np.testing.assert_allclose(b, [-episode - step, -episode])


def test_gigpo_singleton_episode_group_passes_the_reward_through():
    # verl-agent: a group of one trajectory uses mean 0, std 1.
    (a,) = gigpo_advantages([[0.0, 0.7]], [["s0", "s1"]], mode="mean_std_norm")
    np.testing.assert_allclose(a, [0.7 / (1 + 1e-6)] * 2)


def test_gigpo_anchor_groups_stay_within_prompt_groups():
    rewards = [[1.0], [0.0], [1.0], [1.0]]
    anchors = [["s0"], ["s0"], ["s0"], ["s0"]]
    out = gigpo_advantages(rewards, anchors, group_ids=["p", "p", "q", "q"], omega=1.0)
    np.testing.assert_allclose(np.concatenate(out), [1.0, -1.0, 0.0, 0.0])


def test_gigpo_hashable_anchors_and_repeated_states():
    # The same state visited twice by one trajectory joins the anchor group twice.
    rewards = [[0.0, 0.0, 1.0], [0.0, 0.0]]
    anchors = [[{"page": [1, 2]}, {"page": [1, 2]}, "x"], [{"page": [1, 2]}, "y"]]
    out = gigpo_advantages(rewards, anchors, gamma=1.0, omega=1.0, episode_rewards=[0.0, 0.0])
    returns = [1.0, 1.0, 0.0]  # the three visits of the shared state
    mean = np.mean(returns)
    np.testing.assert_allclose(out[0], [1.0 - mean, 1.0 - mean, 0.0])
    np.testing.assert_allclose(out[1], [0.0 - mean, 0.0])


def test_gigpo_similarity_grouping():
    rewards = [[1.0], [0.0]]
    anchors = [["You are on the search page."], ["You are on the search page!"]]
    exact = gigpo_advantages(rewards, anchors, episode_rewards=[0.0, 0.0])
    assert np.concatenate(exact).tolist() == [0.0, 0.0]
    similar = gigpo_advantages(
        rewards, anchors, episode_rewards=[0.0, 0.0], similarity_threshold=0.9
    )
    np.testing.assert_allclose(np.concatenate(similar), [0.5, -0.5])


def test_gigpo_validates_inputs():
    with pytest.raises(ValueError, match="anchors"):
        gigpo_advantages([[0.0, 1.0]], [["s0"]])
    with pytest.raises(ValueError, match="mode"):
        gigpo_advantages([[0.0]], [["s0"]], mode="std")
    with pytest.raises(TypeError):
        gigpo_advantages([[0.0]], [[1]], similarity_threshold=0.9)


# ---- zero-variance diagnostics -----------------------------------------------------------------


def test_zero_variance_report():
    report = zero_variance_groups(
        [1, 1, 1, 0, 1, 0.5, 0, 0, 0, 0.7], group_ids=[0, 0, 0, 1, 1, 1, 2, 2, 2, 3]
    )
    assert isinstance(report, ZeroVarianceReport)
    assert report.groups == [0, 2, 3]
    assert report.n_groups == 4 and report.n_samples == 10
    assert report.fraction_groups == 0.75
    assert report.fraction_samples == pytest.approx(0.7)
    # group 1 = [0, 1, 0.5]: the 0.5 sits at the mean, so its advantage is zero too.
    assert report.fraction_zero_advantage == pytest.approx(0.8)
    assert report.as_dict()["zero_variance_groups"] == [0, 2, 3]


def test_zero_variance_report_agrees_with_grpo():
    rewards, group_ids = [1.0, 1.0, 0.0, 1.0], ["a", "a", "b", "b"]
    report = zero_variance_groups(rewards, group_ids)
    advantages = grpo_advantages(rewards, group_ids)
    assert report.fraction_zero_advantage == np.mean(advantages == 0.0)


def test_zero_variance_report_atol_and_empty():
    assert zero_variance_groups([1.0, 1.0 + 1e-9], atol=1e-6).groups == [0]
    assert zero_variance_groups([1.0, 1.0 + 1e-9]).groups == []
    empty = zero_variance_groups([])
    assert empty.n_groups == 0 and empty.fraction_samples == 0.0


def test_gigpo_episode_stats_over_steps():
    rewards = [[0.0, 0.0, 1.0], [0.0]]
    anchors = [["a", "b", "c"], ["d"]]
    per_trajectory = gigpo_advantages(rewards, anchors, omega=0.0)
    np.testing.assert_allclose(np.concatenate(per_trajectory), [0.5, 0.5, 0.5, -0.5])
    # Newer upstream (compute_mean_std_cross_steps=True): mean over step rows = 3/4.
    per_step = gigpo_advantages(rewards, anchors, omega=0.0, episode_stats_over_steps=True)
    np.testing.assert_allclose(np.concatenate(per_step), [0.25, 0.25, 0.25, -0.75])
