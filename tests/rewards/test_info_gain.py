"""Information-gain rewards: IGPO's worked examples and their properties.

No model is needed here: the formula tests use plain numbers, and the reward tests use FAKE scorers
(``CallableScorer`` around small deterministic functions returning fixed log-probabilities chosen
to produce the numbers of the worked examples). The real-model tests are in test_scorer.py.
"""

from __future__ import annotations

import math
import random
import subprocess
import sys

import numpy as np
import pytest

from agentgym.core import Task
from agentgym.rewards.base import RewardResult
from agentgym.rewards.credit import igpo_advantages
from agentgym.rewards.info_gain import (
    INFOPO_PLACEHOLDER,
    EntropyReductionReward,
    IGPOReward,
    InfoPOReward,
    a2tgpo_advantages,
    entropy,
    entropy_reductions,
    factored_entropy,
    igpo_gains,
    igpo_turn_value,
    infopo_advantages,
    infopo_gain,
    infopo_gate,
    infopo_magnitude_ratio,
    infopo_token_rewards,
    split_turns,
    uniform_entropy,
)
from agentgym.rewards.scorer import CallableScorer, LogProbScorer
from agentgym.trajectory import Step, Trajectory

# --------------------------------------------------------------------------------------------------
# Helpers


def search_trajectory(
    observations: list[str], answer: str = "<answer>Paris</answer>"
) -> Trajectory:
    """A trajectory with one search step per observation, then a final answer step."""
    messages = [
        {"role": "system", "content": "S"},
        {"role": "user", "content": "Capital of France?"},
    ]
    steps = []
    for k, observation in enumerate(observations):
        action = f"search({k})"
        messages.append({"role": "assistant", "content": action})
        if observation:
            messages.append({"role": "tool", "content": observation})
        steps.append(Step(action=action, observation=observation))
    messages.append({"role": "assistant", "content": answer})
    steps.append(
        Step(action=answer, info={"final": {"name": "answer", "arguments": {"text": "Paris"}}})
    )
    return Trajectory(env_id="x", task_id="t", messages=messages, steps=steps)


TASK = Task(id="t", prompt="Capital of France?", gold={"answer": "Paris"})


def prob_scorer(values: list[float]) -> CallableScorer:
    """FAKE scorer: p_t = values[number of tool messages in the history], as one token."""

    def fn(prefix: str, continuation: str) -> list[float]:
        return [math.log(values[prefix.count("tool: ")])]

    return CallableScorer(fn)


class Constant:
    def __init__(self, value: float):
        self.value = value

    def __call__(self, trajectory: Trajectory, task: Task) -> RewardResult:
        return RewardResult(self.value)


# --------------------------------------------------------------------------------------------------
# §5.1 InfoPO worked examples


def test_infopo_gain_worked_example():
    assert infopo_gain([-0.5, -1.0, -0.2], [-1.5, -1.2, -0.9]) == pytest.approx(0.6333, abs=1e-4)


def test_infopo_token_spread_worked_example():
    tokens = infopo_token_rewards(infopo_gain([-0.5, -1.0, -0.2], [-1.5, -1.2, -0.9]), 4)
    assert tokens == pytest.approx([0.1583] * 4, abs=1e-4)
    assert sum(tokens) == pytest.approx(0.63333, abs=1e-4)


@pytest.mark.parametrize(
    ("outcomes", "temperature", "expected", "tol"),
    [
        ([1, 0, 0, 0, 0], 0.5, 0.2902, 1e-4),
        ([1, 0, 0, 0, 0], 0.05, 1.30e-4, 5e-7),
        ([0, 0, 0, 0, 0], 0.5, 0.5, 0.0),
        ([0, 0, 0, 0, 0], 0.05, 0.5, 0.0),
        ([1, 1, 0, 0, 0], 0.5, 0.2506, 1e-4),
    ],
)
def test_infopo_gate_worked_examples(outcomes, temperature, expected, tol):
    assert infopo_gate(outcomes, temperature) == pytest.approx(expected, abs=tol)


def test_infopo_gate_std_is_unbiased():
    # sigma for [1,0,0,0,0] is the unbiased 0.4472, not the population 0.4
    assert infopo_gate([1, 0, 0, 0, 0], 1.0) == pytest.approx(1 / (1 + math.exp(math.sqrt(0.2))))


def test_infopo_gate_range_and_singleton():
    rng = random.Random(0)
    for _ in range(200):
        outcomes = [rng.random() for _ in range(rng.randint(2, 8))]
        assert 0.0 < infopo_gate(outcomes, 0.5) <= 0.5
    # code quirk: a group of one uses sigma = 1.0
    assert infopo_gate([3.0], 0.5) == pytest.approx(1 / (1 + math.exp(2.0)))


# --------------------------------------------------------------------------------------------------
# §5.1 InfoPO fusion: normalization, bound, gate


def test_infopo_advantages_by_hand():
    out = infopo_advantages([1.0, 0.0], [[0.6, 0.0], [0.2, 0.0]], temperature=0.5)
    z = 0.5 / (math.sqrt(0.5) + 1e-6)
    assert out.outcome == pytest.approx([z, -z])
    # non-zero intrinsic values [0.6, 0.2]: mean 0.4, unbiased std 0.2828 -> +-0.7071; 0 stays 0
    assert out.intrinsic[0] == pytest.approx([0.2 / (math.sqrt(0.08) + 1e-6), 0.0])
    assert out.intrinsic[1][1] == 0.0
    assert out.magnitude_ratio == 1.0
    gate = 1 / (1 + math.exp(math.sqrt(0.5) / 0.5))
    assert out.gates == pytest.approx([gate, gate])
    assert out.advantages[0][0] == pytest.approx(z + 0.1 * gate * out.intrinsic[0][0])
    assert out.advantages[0][1] == pytest.approx(z)


def test_infopo_single_intrinsic_value_centres_to_zero():
    out = infopo_advantages([1.0, 0.0], [[0.5], [0.0]])
    assert out.intrinsic == [[0.0], [0.0]]
    assert out.advantages[0] == pytest.approx([out.outcome[0]])


def test_infopo_token_counts_weight_the_statistics():
    # The same turn gains with different action lengths give different token values I_t/|a_t|.
    even = infopo_advantages([1.0, 0.0], [[0.4], [0.2]], token_counts=[[2], [2]])
    uneven = infopo_advantages([1.0, 0.0], [[0.4], [0.2]], token_counts=[[1], [4]])
    assert even.intrinsic != uneven.intrinsic


def test_infopo_beta_zero_and_zero_gain_reduce_to_grpo():
    rng = random.Random(1)
    scores = [float(rng.random() < 0.5) for _ in range(6)]
    gains = [[rng.gauss(0, 1) for _ in range(3)] for _ in range(6)]
    groups = [0, 0, 0, 1, 1, 1]
    out = infopo_advantages(scores, gains, groups, beta0=0.0)
    for i in range(6):
        assert out.advantages[i] == pytest.approx([out.outcome[i]] * 3)
    flat = infopo_advantages(scores, [[0.0] * 3] * 6, groups, beta0=0.5)
    for i in range(6):
        assert flat.advantages[i] == pytest.approx([flat.outcome[i]] * 3)


def test_infopo_decay_and_intrinsic_only():
    out = infopo_advantages([1.0, 0.0, 0.0], [[1.0], [3.0], [0.5]], beta0=0.5, decay=0.1, epoch=2)
    assert out.beta == pytest.approx(0.5 * math.exp(-0.2))
    only = infopo_advantages([1.0, 0.0, 0.0], [[1.0], [3.0], [0.5]], intrinsic_only=True)
    assert only.advantages == [[only.magnitude_ratio * x for x in turn] for turn in only.intrinsic]


def test_magnitude_ratio_worked_cases():
    assert infopo_magnitude_ratio([1.0, -1.0, 1.0, -1.0], [0.1, -0.1, 0.0, 0.0]) == 1.0
    ratio = infopo_magnitude_ratio([0.0, 0.0, 0.0], [3.0, -3.0, 0.0])
    assert ratio == pytest.approx((0 + 1.0) / (3.0 + 1e-6))


@pytest.mark.parametrize("seed", range(30))
def test_gated_fusion_obeys_the_bound(seed):
    rng = random.Random(seed)
    n_groups, size = rng.randint(1, 3), rng.randint(1, 5)
    n = n_groups * size
    scores = [rng.choice([0.0, 1.0, rng.random()]) for _ in range(n)]
    turns = [rng.randint(1, 4) for _ in range(n)]
    scale = rng.choice([0.01, 1.0, 50.0])
    gains = [[rng.choice([0.0, rng.gauss(0, scale)]) for _ in range(t)] for t in turns]
    counts = [[rng.randint(1, 6) for _ in range(t)] for t in turns]
    groups = [i // size for i in range(n)]
    beta0, temperature = rng.choice([0.1, 0.5]), rng.choice([0.05, 0.5])
    out = infopo_advantages(
        scores, gains, groups, token_counts=counts, beta0=beta0, temperature=temperature
    )
    tokens_out = [out.outcome[i] for i in range(n) for c in counts[i] for _ in range(c)]
    tokens_int = [
        out.intrinsic[i][t] for i in range(n) for t, c in enumerate(counts[i]) for _ in range(c)
    ]
    std = lambda xs: float(np.std(xs, ddof=1)) if len(xs) > 1 else 0.0  # noqa: E731
    assert 0.0 < out.magnitude_ratio <= 1.0
    # after the bound the intrinsic spread never exceeds max(std(A_out) + eps, 1)
    assert out.magnitude_ratio * std(tokens_int) <= max(std(tokens_out) + 1e-6, 1.0) + 1e-9
    for i in range(n):
        assert 0.0 < out.gates[i] <= 0.5
        for t in range(turns[i]):
            bounded = out.magnitude_ratio * out.intrinsic[i][t]
            expected = out.outcome[i] + out.beta * out.gates[i] * bounded
            assert out.advantages[i][t] == pytest.approx(expected)
            # |intrinsic contribution| <= beta * 0.5 * |bounded A_int|
            assert abs(out.advantages[i][t] - out.outcome[i]) <= 0.5 * beta0 * abs(bounded) + 1e-12


# --------------------------------------------------------------------------------------------------
# §5.2 IGPO and A²TGPO


def test_igpo_gains_worked_example():
    assert igpo_gains([0.10, 0.30, 0.25, 0.60]) == pytest.approx([0.20, -0.05, 0.35])


def test_igpo_group_advantage_worked_example():
    # r1 = IG [0.2, -0.05] + F1 1.0; r2 = IG [0.1] + F1 0.0 (the worked example of IGPO, verified)
    out = igpo_advantages([[0.2, -0.05, 1.0], [0.1, 0.0]])
    assert out[0] == pytest.approx([1.0397, 1.1697, 1.9495], abs=1e-4)
    assert out[1] == pytest.approx([-1.0397, -0.6498], abs=1e-4)


def test_igpo_reward_reproduces_the_worked_example_end_to_end():
    # FAKE scorer: p = 0.10, 0.30, 0.25 after 0, 1, 2 tool observations (the §5.2 p sequence)
    r1 = IGPOReward(prob_scorer([0.10, 0.30, 0.25]), outcome=Constant(1.0))(
        search_trajectory(["a", "b"]), TASK
    )
    r2 = IGPOReward(prob_scorer([0.50, 0.60]), outcome=Constant(0.0))(
        search_trajectory(["a"]), TASK
    )
    assert r1.per_step == pytest.approx([0.2, -0.05, 1.0])
    assert r1.details["values"] == pytest.approx([0.10, 0.30, 0.25])
    assert r1.value == pytest.approx(0.25 - 0.10 + 1.0)  # gains telescope
    assert r2.per_step == pytest.approx([0.1, 0.0])
    advantages = igpo_advantages([r1.per_step, r2.per_step])
    assert advantages[0] == pytest.approx([1.0397, 1.1697, 1.9495], abs=1e-4)
    assert advantages[1] == pytest.approx([-1.0397, -0.6498], abs=1e-4)


def test_igpo_turn_value_is_length_normalized():
    assert igpo_turn_value([math.log(0.5), math.log(0.2)]) == pytest.approx(math.sqrt(0.1))
    assert igpo_turn_value([-1.0, -3.0], "logprob") == -2.0
    with pytest.raises(ValueError):
        igpo_turn_value([], "prob")
    with pytest.raises(ValueError):
        igpo_turn_value([-1.0], "nats")  # type: ignore[arg-type]


def test_igpo_reward_scores_the_gold_after_the_pseudo_response():
    seen: list[tuple[str, str]] = []

    def fn(prefix: str, continuation: str) -> list[float]:
        seen.append((prefix, continuation))
        return [-1.0, -1.0]

    task = Task(id="t", prompt="q", gold={"answer": [" Paris ", "City of Light"]})
    IGPOReward(CallableScorer(fn))(search_trajectory(["obs"]), task)
    assert [c for _, c in seen] == ["Paris", "Paris"]  # a list of aliases: the first, stripped
    first, second = (p for p, _ in seen)
    tail = "<think>\nNow there's enough information to answer\n</think>\n<answer>\n"
    assert first.endswith("assistant: " + tail) and second.endswith("assistant: " + tail)
    assert "obs" not in first and "tool: obs" in second  # v_0 is before the first observation


def test_igpo_logprob_mode_and_edge_cases():
    scorer = prob_scorer([0.1, 0.4])
    result = IGPOReward(scorer, mode="logprob")(search_trajectory(["a"]), TASK)
    assert result.per_step == pytest.approx([math.log(0.4) - math.log(0.1), 0.0])
    # a direct answer: no gain, only the outcome; nothing is scored
    single = IGPOReward(CallableScorer(lambda p, c: 1 / 0), outcome=Constant(0.5))(
        search_trajectory([]), TASK
    )
    assert single.per_step == [0.5] and single.value == 0.5
    empty = IGPOReward(scorer)(Trajectory(env_id="x", task_id="t"), TASK)
    assert empty.per_step == [] and empty.value == 0.0
    with pytest.raises(KeyError):
        IGPOReward(scorer)(search_trajectory(["a"]), Task(id="t", prompt="q"))
    with pytest.raises(ValueError):
        IGPOReward(scorer, mode="bits")  # type: ignore[arg-type]


def test_igpo_batch_equals_single_and_does_not_mutate():
    scorer = prob_scorer([0.1, 0.3, 0.2, 0.9])
    trajectories = [
        search_trajectory(["a", "b", "c"]),
        search_trajectory(["x"]),
        search_trajectory([]),
    ]
    before = [t.to_dict() for t in trajectories]
    reward = IGPOReward(scorer, outcome=Constant(1.0))
    batched = reward.batch(trajectories, [TASK] * 3)
    assert [t.to_dict() for t in trajectories] == before
    assert [r.per_step for r in batched] == [reward(t, TASK).per_step for t in trajectories]


def test_a2tgpo_turn_group_normalization():
    out = a2tgpo_advantages([[0.3, 0.4], [0.0, 0.1], [0.3]])
    assert out[0] == pytest.approx([(0.7071 + 1.0) / math.sqrt(2), 1.0], abs=1e-4)
    assert out[1] == pytest.approx([(-1.4142 - 1.0) / math.sqrt(2), -1.0], abs=1e-4)
    assert out[2] == pytest.approx([0.7071], abs=1e-4)
    # groups are (prompt, turn) cells: a rollout alone in its cell gets 0
    assert a2tgpo_advantages([[0.5], [0.9]], group_ids=["a", "b"]) == [[0.0], [0.0]]


# --------------------------------------------------------------------------------------------------
# InfoPOReward with a fake scorer


def test_infopo_reward_masks_only_the_current_observation():
    calls: list[tuple[str, str]] = []

    def fn(prefix: str, action: str) -> list[float]:
        calls.append((prefix, action))
        return [-0.2, -0.2] if "second-fact" in prefix else [-1.0, -1.0]

    trajectory = search_trajectory(["first-fact", "second-fact"])
    result = InfoPOReward(CallableScorer(fn))(trajectory, TASK)
    # step 1 (obs "first-fact", next action "search(1)"): the fake ignores it -> 0
    # step 2 (obs "second-fact", next action the answer): with obs -0.2, masked -1.0 -> 0.8
    assert result.per_step == pytest.approx([0.0, 0.8, 0.0])
    assert result.value == pytest.approx(0.8)
    real, masked = calls[2][0], calls[3][0]
    assert "second-fact" in real and "second-fact" not in masked
    assert "first-fact" in masked and f"tool: {INFOPO_PLACEHOLDER}" in masked
    assert calls[2][1] == "<answer>Paris</answer>"


def test_infopo_reward_skips_empty_observations_and_the_last_step():
    scorer = CallableScorer(lambda prefix, action: [-0.1] if "fact" in prefix else [-0.9])
    result = InfoPOReward(scorer)(search_trajectory(["", "fact"]), TASK)
    assert result.per_step == pytest.approx([0.0, 0.8, 0.0])
    assert result.details["next_action_tokens"] == [0, 1, 0]


def test_infopo_length_matched_needs_and_uses_placeholder_like():
    with pytest.raises(TypeError):
        InfoPOReward(CallableScorer(lambda p, c: [0.0]), length_matched=True)

    class Padded(CallableScorer):
        def placeholder_like(self, text: str, placeholder: str) -> str:
            return placeholder + "." * len(text)

    seen: list[str] = []
    scorer = Padded(lambda p, c: seen.append(p) or [-1.0])
    InfoPOReward(scorer, length_matched=True)(search_trajectory(["abc"]), TASK)
    assert f"tool: {INFOPO_PLACEHOLDER}..." in seen[1]


def test_scorer_protocol_is_runtime_checkable():
    assert isinstance(CallableScorer(lambda p, c: []), LogProbScorer)


# --------------------------------------------------------------------------------------------------
# split_turns


def test_split_turns_rebuilds_from_steps_when_messages_are_missing():
    trajectory = Trajectory(
        env_id="x",
        task_id="t",
        steps=[Step(action="search(x)", observation="R"), Step(action={"content": "done"})],
    )
    opening, turns = split_turns(trajectory, TASK)
    assert opening == [{"role": "user", "content": "Capital of France?"}]
    assert turns[0].assistant == {"role": "assistant", "content": "search(x)"}
    assert turns[0].observation == ({"role": "tool", "content": "R"},)
    assert turns[1].assistant == {"role": "assistant", "content": "done"} and not turns[1].observed


def test_split_turns_keeps_multi_message_observations():
    trajectory = search_trajectory(["a"])
    trajectory.messages.insert(4, {"role": "tool", "content": "second result"})
    _, turns = split_turns(trajectory)
    assert [m["content"] for m in turns[0].observation] == ["a", "second result"]


# --------------------------------------------------------------------------------------------------
# §5.3 entropy reduction


def test_entropy_worked_example_three_attributes():
    assert factored_entropy([4, 4, 4]) == 6.0
    space = {"color": ["r", "g", "b", "y"], "shape": ["o", "x", "+", "-"], "size": [1, 2, 3, 4]}
    task = Task(id="d", prompt="", gold={"answer": "r-o-1", "candidates": space})
    trajectory = Trajectory(
        env_id="x",
        task_id="d",
        steps=[
            Step(action="which color?", info={"candidates": {"color": ["r"]}}),
            Step(action="ok"),
        ],
    )
    result = EntropyReductionReward()(trajectory, task)
    assert result.details["initial"] == 6.0
    assert result.per_step == [2.0, 0.0]  # resolving one attribute gives 2 bits
    assert result.value == 2.0


def test_entropy_helpers():
    assert entropy([0.25] * 4) == 2.0
    assert entropy([1.0]) == 0.0
    assert entropy([0.5, 0.5, 0.0]) == 1.0
    assert uniform_entropy(8) == 3.0
    assert uniform_entropy(8, base=math.e) == pytest.approx(math.log(8))
    assert entropy_reductions([6.0, 4.0, 4.0, 1.0]) == [2.0, 0.0, 3.0]
    with pytest.raises(ValueError):
        uniform_entropy(0)


def _random_case(rng: random.Random) -> tuple[Trajectory, Task]:
    n = rng.randint(1, 40)
    candidates = [{"id": k, "tags": [k % 3]} for k in range(n)]  # unhashable candidates are fine
    remaining = list(candidates)
    steps = []
    for _ in range(rng.randint(0, 6)):
        if rng.random() < 0.3:
            steps.append(Step(action="noop"))
            continue
        keep = rng.sample(remaining, rng.randint(1, len(remaining)))
        report = keep + ([{"id": 999}] if rng.random() < 0.2 else [])  # outside values are ignored
        if rng.random() < 0.3:  # a report may repeat already-eliminated candidates
            report += rng.sample(candidates, 1)
        remaining = [c for c in remaining if c in report]
        steps.append(Step(action="ask", info={"candidates": report}))
    task = Task(id="r", prompt="", gold={"candidates": candidates})
    return Trajectory(env_id="x", task_id="r", steps=steps), task


@pytest.mark.parametrize("seed", range(40))
def test_entropy_reduction_telescopes_and_stays_in_range(seed):
    trajectory, task = _random_case(random.Random(seed))
    reward = EntropyReductionReward()
    result = reward(trajectory, task)
    entropies = result.details["entropy"]
    h0, hf = entropies[0], entropies[-1]
    assert len(result.per_step) == len(trajectory.steps) == len(entropies) - 1
    assert h0 == pytest.approx(math.log2(len(task.gold["candidates"])))
    assert math.fsum(result.per_step) == pytest.approx(h0 - hf)
    assert result.value == pytest.approx(h0 - hf)
    assert all(x >= -1e-12 for x in result.per_step)
    assert -1e-12 <= result.value <= h0 + 1e-12
    normalized = EntropyReductionReward(normalize=True)(trajectory, task)
    assert 0.0 <= normalized.value <= 1.0 + 1e-12
    nats = EntropyReductionReward(base=math.e)(trajectory, task)
    assert nats.value == pytest.approx(result.value * math.log(2))


def test_entropy_reduction_contract_errors():
    task = Task(id="t", prompt="", gold={"candidates": ["a", "b", "c"]})
    contradiction = Trajectory(
        env_id="x", task_id="t", steps=[Step(action="?", info={"candidates": ["z"]})]
    )
    with pytest.raises(ValueError, match="no consistent candidate"):
        EntropyReductionReward()(contradiction, task)
    with pytest.raises(KeyError):
        EntropyReductionReward()(contradiction, Task(id="t", prompt=""))
    unknown = Trajectory(
        env_id="x", task_id="t", steps=[Step(action="?", info={"candidates": {"q": [1]}})]
    )
    with pytest.raises(ValueError, match="unknown attribute"):
        EntropyReductionReward()(
            unknown, Task(id="t", prompt="", gold={"candidates": {"a": [1, 2]}})
        )
    single = EntropyReductionReward(normalize=True)(
        Trajectory(env_id="x", task_id="t", steps=[Step(action="?")]),
        Task(id="t", prompt="", gold={"candidates": ["only"]}),
    )
    assert single.value == 0.0 and single.per_step == [0.0]


# --------------------------------------------------------------------------------------------------
# Optional dependencies


def test_info_gain_imports_without_torch():
    code = (
        "import sys; sys.modules['torch'] = None; sys.modules['transformers'] = None\n"
        "import agentgym.rewards.info_gain, agentgym.rewards.scorer\n"
        "assert 'torch' not in {k for k, v in sys.modules.items() if v is not None}\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
