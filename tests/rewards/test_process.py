"""Tests for process rewards (the worked example of Implicit PRM / R3-RAG / CM2)."""

from __future__ import annotations

import copy
import json
import random

import pytest

from agentgym.core import Task
from agentgym.rewards.base import RewardResult, final_answer, score_batch
from agentgym.rewards.process import (
    ChecklistReward,
    ImplicitPRM,
    JudgeStepScores,
    RelevanceScaledSteps,
    StepChecks,
    checklist_step_scores,
    checklist_turn_score,
    evidence_hit,
    implicit_step_rewards,
    parse_score,
    prime_batch_norm,
    relevance_scaled_rewards,
    valid_tool_call,
)
from agentgym.trajectory import Step, Trajectory

TASK = Task("t1", "What is the capital of Peru?", gold={"answer": "Lima"})


def answer_step(text: str) -> Step:
    arguments = {"text": text}
    return Step(
        action=f"<answer>{text}</answer>",
        tool_calls=[{"name": "answer", "arguments": arguments, "id": "final"}],
        info={"final": {"name": "answer", "arguments": arguments}},
    )


def search_step(relevance: float, invalid: bool = False) -> Step:
    return Step(
        action="<think>look it up</think>",
        tool_calls=[{"name": "search", "arguments": {"query": "capital of Peru"}, "id": "s"}],
        observation="Lima is the capital and largest city of Peru.",
        invalid_action=invalid,
        info={"relevance": relevance},
    )


def exact_match(trajectory: Trajectory, task: Task) -> RewardResult:
    return RewardResult(float(final_answer(trajectory) == task.gold["answer"]))


def stored_relevance(step: Step, trajectory: Trajectory, task: Task) -> float:
    return step.info["relevance"]


# ---- §6.1 implicit PRM and PRIME -----------------------------------------------------------------

POLICY = [-1.0, -0.5, -2.0, -0.3]
REF = [-1.2, -0.9, -1.5, -0.4]


def test_implicit_prm_worked_example_token_and_step_rewards():
    tokens = implicit_step_rewards([[x] for x in POLICY], [[x] for x in REF], beta=0.05)
    assert tokens == pytest.approx([0.01, 0.02, -0.025, 0.005])
    steps = implicit_step_rewards([POLICY[:2], POLICY[2:]], [REF[:2], REF[2:]], beta=0.05)
    assert steps == pytest.approx([0.03, -0.02])


def prm_trajectory() -> Trajectory:
    steps = [
        Step("step 1", logprobs=POLICY[:2], info={"ref_logprobs": REF[:2]}),
        Step("step 2", logprobs=POLICY[2:], info={"ref_logprobs": REF[2:]}),
    ]
    return Trajectory("e", "t1", steps=steps)


def test_implicit_prm_worked_example_aggregations():
    t = prm_trajectory()
    single = ImplicitPRM(beta=0.05)(t, TASK)
    assert single.per_step == pytest.approx([0.03, -0.02])
    assert single.value == pytest.approx(-0.02)  # min over "single" step rewards
    assert single.details["q"] == pytest.approx([0.03, 0.01])
    assert single.details["outcome"] == pytest.approx(0.01)  # r(y) = β log π(y)/π_ref(y)
    assert ImplicitPRM(accumulative=True)(t, TASK).value == pytest.approx(0.01)  # min over q_t
    assert ImplicitPRM(aggregate="sum")(t, TASK).value == pytest.approx(0.01)
    assert ImplicitPRM(aggregate="last", accumulative=True)(t, TASK).value == pytest.approx(0.01)


def test_prime_batch_norm_worked_example():
    assert prime_batch_norm([[0.2, 0.4, -0.5, 0.1]])[0] == pytest.approx([0.5, 1.0, -1.25, 0.25])
    assert prime_batch_norm([[0.0, 0.0]]) == [[0.0, 0.0]]


def test_prime_batch_norm_through_the_reward():
    # Raw log-ratios [0.2, 0.4 | -0.5, 0.1] (beta=1, as PRIME's policy reward) over two steps.
    steps = [
        Step("a", logprobs=[-1.0, -1.0], info={"ref_logprobs": [-1.2, -1.4]}),
        Step("b", logprobs=[-1.0, -1.0], info={"ref_logprobs": [-0.5, -1.1]}),
    ]
    t = Trajectory("e", "t1", steps=steps)
    result = ImplicitPRM(beta=1.0, norm="batch_norm", aggregate="sum")(t, TASK)
    assert result.details["scale"] == pytest.approx(0.4)
    assert result.per_step == pytest.approx([1.5, -1.0])
    # In a batch the scale is the max over all trajectories.
    big = Trajectory("e", "t1", steps=[Step("c", logprobs=[0.0], info={"ref_logprobs": [-0.8]})])
    batched = ImplicitPRM(beta=1.0, norm="batch_norm").batch([t, big], [TASK, TASK])
    assert batched[0].details["scale"] == pytest.approx(0.8)
    assert batched[0].per_step == pytest.approx([0.75, -0.5])


def test_implicit_prm_missing_and_misaligned_logprobs():
    t = Trajectory("e", "t1", steps=[Step("no logprobs"), *prm_trajectory().steps])
    result = ImplicitPRM()(t, TASK)
    assert result.per_step == pytest.approx([0.0, 0.03, -0.02])
    assert result.details["steps_without_logprobs"] == 1
    bad = Trajectory("e", "t1", steps=[Step("x", logprobs=[-1.0], info={"ref_logprobs": []})])
    with pytest.raises(ValueError, match=r"steps\[0\]"):
        ImplicitPRM()(bad, TASK)
    assert ImplicitPRM()(Trajectory("e", "t1"), TASK) == RewardResult(
        0.0,
        per_step=[],
        details={"q": [], "outcome": 0.0, "steps_without_logprobs": 0, "scale": 1.0},
    )


# ---- §6.2 R3-RAG ---------------------------------------------------------------------------------


def test_r3rag_worked_example():
    assert relevance_scaled_rewards([0.8, 0.6], "correct") == pytest.approx([1.28, 0.96, 2.0])
    assert relevance_scaled_rewards([0.8, 0.6], "incorrect") == pytest.approx([0.64, 0.48, 0.0])
    assert relevance_scaled_rewards([0.8, 0.6], "fail") == pytest.approx([0.72, 0.54])
    assert relevance_scaled_rewards([0.8, 0.6], "format_error") == pytest.approx([0.8, 0.6, -0.9])
    with pytest.raises(ValueError):
        relevance_scaled_rewards([0.5], "unknown")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("final", "expected", "status"),
    [
        ([answer_step("Lima")], [1.28, 0.96, 2.0], "correct"),
        ([answer_step("Cusco")], [0.64, 0.48, 0.0], "incorrect"),
        ([], [0.72, 0.54], "fail"),
        (
            [search_step(0.9, invalid=True), answer_step("Lima")],
            [0.8, 0.6, -0.9, 0.0],
            "format_error",
        ),
    ],
)
def test_r3rag_worked_example_through_trajectories(final, expected, status):
    t = Trajectory("e", "t1", steps=[search_step(0.8), search_step(0.6), *final])
    result = RelevanceScaledSteps(exact_match, stored_relevance)(t, TASK)
    assert result.per_step == pytest.approx(expected)
    assert result.value == pytest.approx(sum(expected))
    assert result.details["status"] == status
    assert len(result.per_step) == len(t.steps)


def test_r3rag_with_a_deterministic_relevance_judge():
    prompts = []

    def judge(prompt: str) -> str:
        prompts.append(prompt)
        return "The query targets the question well.\nRelevance: 0.8567"

    t = Trajectory("e", "t1", steps=[search_step(0.0), answer_step("Lima")])
    result = RelevanceScaledSteps(exact_match, judge=judge)(t, TASK)
    assert result.details["relevance"] == [0.857]  # clipped to [0, 1], rounded to 3 decimals
    assert result.per_step == pytest.approx([0.857 * 1.6, 2.0])
    assert len(prompts) == 1 and "capital of Peru" in prompts[0]


def test_r3rag_default_relevance_is_the_gold_evidence_rule():
    task = Task(
        "t1", "q", gold={"answer": "Lima", "evidence": "Lima is the capital and largest city"}
    )
    t = Trajectory(
        "e", "t1", steps=[search_step(0.0), Step("x", observation="noise"), answer_step("Lima")]
    )
    assert RelevanceScaledSteps(exact_match)(t, task).per_step == pytest.approx([1.6, 0.0, 2.0])


# ---- §6.5 CM2 checklists -------------------------------------------------------------------------

WEIGHTS = [0.5, 0.3, 0.2]
PASSES = [[True, False, False], [True, True, False]]


def test_cm2_worked_example_scores():
    assert checklist_step_scores(WEIGHTS, PASSES) == pytest.approx([0.5, 0.3])
    assert checklist_turn_score(WEIGHTS, PASSES) == pytest.approx(0.8)
    assert checklist_turn_score(WEIGHTS, []) == 0.0


def rule_check(item, step, trajectory, task) -> bool:
    """Reads the verdicts from the step: ``step.info["passes"]`` lists the passing questions."""
    return item["question"] in step.info.get("passes", ())


def cm2_task() -> Task:
    turn0 = [{"question": q, "weight": w} for q, w in zip("abc", WEIGHTS, strict=True)]
    turn1 = [{"question": "d", "weight": 0.4}, {"question": "e", "weight": 0.6}]
    return Task("t1", "Book me a flight.", gold={"checklist": [turn0, turn1]})


def cm2_trajectory() -> Trajectory:
    steps = [
        Step("s0", info={"turn": 0, "passes": ["a"]}),
        Step("s1", info={"turn": 0, "passes": ["a", "b"]}),
        Step("s2", info={"turn": 1, "passes": ["d"]}),
    ]
    return Trajectory("e", "t1", steps=steps)


def test_cm2_worked_example_trajectory_reward():
    # Turn 0 scores 0.8, turn 1 scores 0.4; 1 checklist, 2 turns -> (0.8 + 0.4) / 2 = 0.6.
    result = ChecklistReward(rule_check)(cm2_trajectory(), cm2_task())
    assert result.details["turn_scores"] == [pytest.approx([0.8, 0.4])]
    assert result.per_step == pytest.approx([0.0, 0.4, 0.2])  # on each turn's last step
    assert result.value == pytest.approx(0.6)
    step_level = ChecklistReward(rule_check, level="step")(cm2_trajectory(), cm2_task())
    assert step_level.per_step == pytest.approx([0.25, 0.15, 0.2])  # [0.5, 0.3] and [0.4], / 2
    assert step_level.value == pytest.approx(0.6)


def test_cm2_each_item_is_credited_once():
    steps = [Step(f"s{i}", info={"passes": ["a", "b", "c"]}) for i in range(3)]
    task = Task("t1", "q", gold={"checklist": [cm2_task().gold["checklist"][0]]})
    result = ChecklistReward(rule_check, level="step")(Trajectory("e", "t1", steps=steps), task)
    assert result.per_step == pytest.approx([1.0, 0.0, 0.0])


def test_cm2_several_checklists_and_unnormalized_weights():
    items = [{"question": "a", "weight": 2}, {"question": "b", "weight": 2}]
    other = [{"question": "a"}, {"question": "z"}]  # equal weights by default
    task = Task("t1", "q", gold={"checklists": [[items], [other]]})
    t = Trajectory("e", "t1", steps=[Step("s", info={"passes": ["a", "b"]})])
    assert ChecklistReward(rule_check)(t, task).value == pytest.approx((1.0 + 0.5) / 2)


def test_cm2_stops_placing_turn_rewards_at_a_turn_without_steps():
    turns = [[{"question": "a"}], [{"question": "b"}], [{"question": "c"}]]
    task = Task("t1", "q", gold={"checklist": turns})
    steps = [
        Step("s0", info={"turn": 0, "passes": ["a"]}),
        Step("s2", info={"turn": 2, "passes": ["c"]}),
    ]
    result = ChecklistReward(rule_check)(Trajectory("e", "t1", steps=steps), task)
    assert result.details["turn_scores"] == [[1.0, 0.0, 1.0]]
    assert result.per_step == pytest.approx([1 / 3, 0.0])  # turn 2 is never placed (CM2 quirk)


def test_cm2_tool_focused_items_fail_on_a_failed_tool_call():
    items = [{"question": "a", "focus_on": "assistant.tool_calls"}, {"question": "b"}]
    task = Task("t1", "q", gold={"checklist": [items]})
    t = Trajectory("e", "t1", steps=[Step("s", invalid_action=True, info={"passes": ["a", "b"]})])
    result = ChecklistReward(rule_check)(t, task)
    assert result.value == pytest.approx(0.5)
    assert result.details["dropped"] is True


def test_cm2_with_a_deterministic_judge():
    # The judge passes an item when the step under evaluation mentions the item's keyword.
    prompts = []

    def judge(prompt: str) -> str:
        prompts.append(prompt)
        question = prompt.split("Question: ", 1)[1].split("\n", 1)[0]
        current = prompt.split("[Current turn, to evaluate]", 1)[1]
        if question == "garbled":
            return "hmm"
        return json.dumps({"analysis": "...", "answer": question in current})

    items = [{"question": "search_flights"}, {"question": "book"}, {"question": "garbled"}]
    task = Task("t1", "Book me a flight.", gold={"checklist": [items]})
    steps = [
        Step("s0", tool_calls=[{"name": "search_flights", "arguments": {}, "id": "1"}]),
        Step("I will book it now."),
    ]
    result = ChecklistReward(judge=judge)(Trajectory("e", "t1", steps=steps), task)
    assert result.value == pytest.approx(2 / 3)
    assert result.details["judge_failures"] == 2
    assert result.details["dropped"] is True
    assert "User: Book me a flight." in prompts[0]


def test_cm2_no_checklist_and_constructor_checks():
    result = ChecklistReward(rule_check)(Trajectory("e", "t1", steps=[Step("s")]), TASK)
    assert result.value == 0.0 and result.per_step == [0.0]
    with pytest.raises(ValueError):
        ChecklistReward()
    with pytest.raises(ValueError):
        ChecklistReward(rule_check, level="episode")  # type: ignore[arg-type]


# ---- rule-based step checks and judge step scores ------------------------------------------------


def test_step_checks_with_an_env_defined_check_and_a_logged_only_metric():
    def sql_ran(step: Step, trajectory: Trajectory, task: Task) -> dict[str, float]:
        return {"sql_ran": 1.0 if step.observation.startswith("rows:") else 0.0, "latency": 0.5}

    t = Trajectory(
        "e",
        "t1",
        steps=[
            Step("SELECT 1", observation="rows: 1"),
            Step("SELEC", observation="syntax error", invalid_action=True),
        ],
    )
    reward = StepChecks(sql_ran, valid_tool_call, weights={"latency": 0.0})
    result = reward(t, TASK)
    assert result.per_step == [2.0, 0.0]
    assert result.value == 2.0
    assert result.details["components"] == {"sql_ran": 1.0, "latency": 1.0, "valid_tool_call": 1.0}
    # Unweighted: [1 + 0.5, 0 + 0.5], mean 1.0.
    assert StepChecks(sql_ran, reduce="mean")(t, TASK).value == pytest.approx(1.0)
    with pytest.raises(ValueError):
        StepChecks()


def test_evidence_hit_reads_rubric_evidence_when_no_evidence_key():
    task = Task(
        "t", "q", gold={"rubrics": [{"text": "<E0>", "evidence": "Lima is the capital of Peru."}]}
    )
    hit = Step("x", observation="LIMA is the capital of Peru!")
    miss = Step("x", observation="Cusco was the Inca capital.")
    t = Trajectory("e", "t")
    assert evidence_hit(hit, t, task) == {"evidence_hit": 1.0}
    assert evidence_hit(miss, t, task) == {"evidence_hit": 0.0}
    assert evidence_hit(hit, t, TASK) == {"evidence_hit": 0.0}


def test_judge_step_scores_with_a_deterministic_judge():
    # Deterministic judge: grades by the action text; one reply overshoots, one is unparsable.
    replies = {"good": "**Score:** 0.8", "great": "Score: 7", "odd": "I refuse."}

    def judge(prompt: str) -> str:
        action = prompt.split("[The step to grade]\n", 1)[1].split("\n", 1)[0]
        return replies[action]

    steps = [Step("good"), Step("great"), Step("odd")]
    t = Trajectory("e", "t1", steps=steps)
    result = JudgeStepScores(judge)(t, TASK)
    assert result.per_step == [0.8, 1.0, 0.0]
    assert result.value == pytest.approx(0.6)
    assert result.details["parse_failures"] == 1
    ternary = JudgeStepScores(judge, low=-1, high=1, fallback=0.0, aggregate="min")(t, TASK)
    assert ternary.per_step == [0.8, 1.0, 0.0] and ternary.value == 0.0
    assert JudgeStepScores(judge).score_step(steps[0], t, TASK) == 0.8


def test_parse_score():
    assert parse_score("Score: 0.5\nactually Score: 0.7") == 0.7
    assert parse_score("relevance = .25", "Relevance") == 0.25
    assert parse_score('```json\n{"Score": 1}\n```') == 1.0
    assert parse_score('{"score": true}') is None
    assert parse_score("Score: high") is None


# ---- purity and ranges over random trajectories (seeded) -----------------------------------------


def random_trajectory(rng: random.Random) -> Trajectory:
    steps = []
    for _ in range(rng.randint(0, 6)):
        n = rng.randint(0, 4)
        logprobs = [rng.uniform(-5, 0) for _ in range(n)]
        info = {
            "turn": rng.randint(0, 2),
            "passes": rng.sample("abcde", rng.randint(0, 5)),
            "relevance": rng.random(),
            "ref_logprobs": [rng.uniform(-5, 0) for _ in range(n)],
        }
        steps.append(
            Step(
                rng.choice(["look", "think", "good"]),
                observation=rng.choice(["Lima is the capital and largest city of Peru.", "noise"]),
                invalid_action=rng.random() < 0.15,
                logprobs=logprobs,
                info=info,
            )
        )
    if rng.random() < 0.6:
        steps.append(answer_step(rng.choice(["Lima", "Cusco"])))
    return Trajectory("e", "t1", steps=steps)


def test_values_stay_in_their_documented_ranges():
    rng = random.Random(7)
    ts = [random_trajectory(rng) for _ in range(300)]
    items = [[{"question": q, "weight": rng.random() + 0.1} for q in "abc"] for _ in range(3)]
    task = Task("t1", "q", gold={"answer": "Lima", "checklists": [items, items[:2]]})
    snapshot = copy.deepcopy(ts)
    checklist = score_batch(ChecklistReward(rule_check), ts, [task] * len(ts))
    relevance = [RelevanceScaledSteps(exact_match, stored_relevance)(t, task) for t in ts]
    judged = [
        JudgeStepScores(lambda p: f"Score: {len(p) % 5 - 2}", low=-1, high=1)(t, task) for t in ts
    ]
    implicit = ImplicitPRM(beta=1.0, norm="batch_norm", aggregate="sum").batch(ts, [task] * len(ts))
    for t, c, r, j, i in zip(ts, checklist, relevance, judged, implicit, strict=True):
        for result in (c, r, j, i):
            assert len(result.per_step) == len(t.steps)
            json.dumps(result.details)
        assert 0.0 <= c.value <= 1.0 + 1e-9
        assert -0.9 <= r.value <= 1.6 * max(len(t.steps) - 1, 0) + 2.0
        assert all(-1.0 <= s <= 1.0 for s in j.per_step)
        # batch_norm bounds every trajectory's return-to-go by 1 in absolute value.
        assert abs(i.value) <= 1.0 + 1e-9
    assert ts == snapshot
