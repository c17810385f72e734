"""ToolRL format + correctness: the worked example of ToolRL worked examples, variants, edge cases, ranges."""

from __future__ import annotations

import json
import random

import pytest

from agentgym.core import Task
from agentgym.rewards.toolrl import (
    ToolRLReward,
    correctness_bounds,
    format_bounds,
    match_score,
    normalize_calls,
    parse_tool_calls,
    toolrl_correctness,
    toolrl_format,
    toolrl_length,
    toolrl_score,
)
from agentgym.trajectory import Step, Trajectory

WEATHER_C = {"name": "get_weather", "parameters": {"city": "Paris", "unit": "C"}}
WEATHER_F = {"name": "get_weather", "parameters": {"city": "Paris", "unit": "F"}}
TIME = {"name": "get_time", "parameters": {"tz": "CET"}}
GT = [WEATHER_C]


def completion(*calls: dict, think: str = "I should call the tool.") -> str:
    """A well-formed ToolRL completion with one JSON call per line."""
    lines = "\n".join(json.dumps(call) for call in calls)
    return f"<think>{think}</think>\n<tool_call>\n{lines}\n</tool_call>"


GT_TEXT = "<tool_call>\n" + json.dumps(WEATHER_C) + "\n</tool_call>"

# --- the worked example of ToolRL worked examples (verified against the original functions) -------


def test_correctness_worked_examples():
    # identical -> 3.0
    assert toolrl_correctness(GT, [WEATHER_C]) == 3.0
    # same name, unit "F": S = 1 + (1 + 1) = 3, S_max = 4 -> 6*3/4 - 3 = 1.5
    assert toolrl_correctness(GT, [WEATHER_F]) == 1.5
    # gt + extra get_time(tz): S = 0.5 + 3 = 3.5 -> 2.25
    assert toolrl_correctness(GT, [WEATHER_C, TIME]) == 2.25
    # {"city": "Paris"} only: name 1 + keys 0.5 + value 1 = 2.5 -> 0.75
    assert (
        toolrl_correctness(GT, [{"name": "get_weather", "parameters": {"city": "Paris"}}]) == 0.75
    )


def test_total_worked_examples():
    # well-formed response with the unit "F" call: format 1.0 + correctness 1.5 = 2.5
    assert toolrl_score(completion(WEATHER_F), GT_TEXT) == {
        "format": 1.0,
        "correctness": 1.5,
        "length": 0.0,
        "total": 2.5,
    }
    # no newlines inside the tags: format 0.0, correctness still 1.5
    cramped = "<think>x</think>\n<tool_call>" + json.dumps(WEATHER_F) + "</tool_call>"
    scores = toolrl_score(cramped, GT_TEXT)
    assert (scores["format"], scores["correctness"]) == (0.0, 1.5)


@pytest.mark.parametrize(
    ("step", "fmt", "correct"),
    [
        (0, (2.0, -2.0), (1.0, -2.0)),  # the worked example of ToolRL SCHEDULEREWARD, step 0
        (75, (1.5, -1.0), (1.25, -2.5)),  # step 75
        (150, (1.0, -1.0), (1.5, -3.0)),  # step 150
    ],
)
def test_schedule_worked_examples(step, fmt, correct):
    good = toolrl_score(completion(WEATHER_F), GT_TEXT, step=step, schedule=True)
    garbage = toolrl_score("garbage", GT_TEXT, step=step, schedule=True)
    assert (good["format"], garbage["format"]) == pytest.approx(fmt)
    assert (good["correctness"], garbage["correctness"]) == pytest.approx(correct)


# --- variants ----------------------------------------------------------------------------------


def test_variants():
    # REFINEDREWARD: match_score is 0/1, so keys [city, unit] vs [city] give 0: S = 1 + 0 + 1 = 2
    assert (
        toolrl_correctness(
            GT, [{"name": "get_weather", "parameters": {"city": "Paris"}}], refined=True
        )
        == 0.0
    )
    # INTERMEDIATEREWARD: only an exact call counts; S_max = 1 + 1 = 2; wrong unit -> S = 1 -> 0.0
    assert toolrl_correctness(GT, [WEATHER_F], intermediate=True) == 0.0
    # INTERMEDIATEREWARD, exact call plus an extra one: S = 0.5 + 1 = 1.5 -> 6*1.5/2 - 3 = 1.5
    assert toolrl_correctness(GT, [WEATHER_C, TIME], intermediate=True) == 1.5
    # COARSEREWARD: anything but an exact list -> min
    assert toolrl_correctness(GT, [WEATHER_F], coarse=True) == -3.0
    assert toolrl_correctness(GT, [WEATHER_C], coarse=True) == 3.0
    # CORRECTMAX1: [-1, 1] -> 2*3/4 - 1 = 0.5
    assert toolrl_score(completion(WEATHER_F), GT_TEXT, correct_max1=True)["correctness"] == 0.5


def test_bounds():
    # defaults
    assert format_bounds() == (0.0, 1.0)
    assert correctness_bounds() == (-3.0, 3.0)
    # MAX1STEP30MAX3: correctness /3 before step 30, format /2 from step 30 on
    assert correctness_bounds(29, max1_step30_max3=True) == (-1.0, 1.0)
    assert correctness_bounds(30, max1_step30_max3=True) == (-3.0, 3.0)
    assert format_bounds(29, max1_step30_max3=True) == (0.0, 1.0)
    assert format_bounds(30, max1_step30_max3=True) == (0.0, 0.5)
    # schedule clamps: format max never below 1, correctness max never above 3
    assert format_bounds(10_000, schedule=True) == (-1.0, 1.0)
    assert correctness_bounds(10_000, schedule=True) == (-3.0, 3.0)


def test_length():
    # 256 words / 512 -> 0.5
    assert toolrl_length("<think>" + "w " * 256 + "</think>") == 0.5
    # capped at 1
    assert toolrl_length("<think>" + "w " * 2000 + "</think>") == 1.0
    # no think tags -> min
    assert toolrl_length("no tags") == 0.0
    # SCHEDULELENGTH at step 105: L = 640 -> 320/640 = 0.5
    assert toolrl_length("<think>" + "w " * 320 + "</think>", step=105, schedule_length=True) == 0.5
    # WITHLENGTH adds it to the total
    scores = toolrl_score(completion(WEATHER_C, think="w " * 128), GT_TEXT, with_length=True)
    assert scores == {"format": 1.0, "correctness": 3.0, "length": 0.25, "total": 4.25}


# --- edge cases --------------------------------------------------------------------------------


def test_match_score_edge_cases():
    # equal lists, even empty ones -> 1
    assert match_score([], []) == 1.0
    # one empty -> 0
    assert match_score(["a"], []) == 0.0
    # order matters only for the equality shortcut: same multiset in another order -> Jaccard 1.0
    assert match_score(["a", "b"], ["b", "a"]) == 1.0
    # strict: different order -> 0
    assert match_score(["a", "b"], ["b", "a"], strict=True) == 0.0
    # duplicates count: [a, a] vs [a] -> 1 / 2
    assert match_score(["a", "a"], ["a"]) == 0.5


def test_correctness_edge_cases():
    # no predicted calls -> min
    assert toolrl_correctness(GT, []) == -3.0
    # wrong tool name only: S = 0 -> min
    assert toolrl_correctness(GT, [TIME]) == -3.0
    # the same call twice: names Jaccard 1/2, first copy matched fully -> S = 0.5 + 3 = 3.5 -> 2.25
    assert toolrl_correctness(GT, [WEATHER_C, WEATHER_C]) == 2.25
    # gold calls are matched greedily in order, each predicted call used once
    two = [WEATHER_C, WEATHER_F]
    assert toolrl_correctness(two, [WEATHER_F, WEATHER_C]) == pytest.approx(3.0)
    # agentgym/OpenAI "arguments" (also as a JSON string) work like ToolRL "parameters"
    openai = {
        "name": "get_weather",
        "arguments": json.dumps(WEATHER_C["parameters"]),
        "id": "call_1",
    }
    assert toolrl_correctness(GT, [openai]) == 3.0
    # a malformed predicted call raises (the text-level functions turn that into min)
    with pytest.raises(ValueError):
        normalize_calls([{"arguments": {}}])
    with pytest.raises(ValueError):
        normalize_calls([{"name": "f", "arguments": [1, 2]}])


def test_text_parsing_edge_cases():
    # no <tool_call> in the completion -> correctness min
    assert toolrl_score("<think>x</think>\n<response>hi</response>", GT_TEXT)["correctness"] == -3.0
    # bad JSON line -> min
    assert (
        toolrl_score("<think>x</think>\n<tool_call>\n{bad json}\n</tool_call>", GT_TEXT)[
            "correctness"
        ]
        == -3.0
    )
    # gold without <tool_call> -> correctness 0
    assert toolrl_score("<think>x</think>\n<response>hi</response>", "<response>hi</response>") == {
        "format": 1.0,
        "correctness": 0.0,
        "length": 0.0,
        "total": 1.0,
    }
    # parse_tool_calls reads only the first block, one call per line
    assert parse_tool_calls(completion(WEATHER_C, TIME)) == [WEATHER_C, TIME]
    with pytest.raises(ValueError):
        parse_tool_calls("no block")


def test_format_patterns():
    # calls only: two call blocks -> 0
    twice = completion(WEATHER_C) + "\n<tool_call>\n{}\n</tool_call>"
    assert toolrl_format(twice, tool_call=True, response_tag=False) == 0.0
    # both expected, both present in order -> 1
    both = completion(WEATHER_C) + "\n<response>Sunny</response>"
    assert toolrl_format(both, tool_call=True, response_tag=True) == 1.0
    # both expected, response missing -> 0
    assert toolrl_format(completion(WEATHER_C), tool_call=True, response_tag=True) == 0.0
    # neither expected: think only
    assert toolrl_format("<think>done</think>", tool_call=False, response_tag=False) == 1.0
    # leading/trailing whitespace is stripped
    assert (
        toolrl_format("\n" + completion(WEATHER_C) + "\n", tool_call=True, response_tag=False)
        == 1.0
    )
    # text before <think> -> 0
    assert toolrl_format("Hi " + completion(WEATHER_C), tool_call=True, response_tag=False) == 0.0


# --- trajectory-level reward --------------------------------------------------------------------


def traj(*steps: Step) -> Trajectory:
    return Trajectory(env_id="agentgym/ToolCall-v0", task_id="w", steps=list(steps))


def env_call(call: dict) -> dict:
    """How the env records a parsed call in Step.tool_calls."""
    return {"name": call["name"], "arguments": call["parameters"], "id": "call_0"}


TASK = Task(
    id="w",
    prompt="Weather in Paris in Celsius?",
    gold={"calls": [{"name": "get_weather", "arguments": WEATHER_C["parameters"]}]},
)


def test_trajectory_reward():
    # worked example through a trajectory: format 1 + correctness 1.5
    result = ToolRLReward()(
        traj(Step(action=completion(WEATHER_F), tool_calls=[env_call(WEATHER_F)])), TASK
    )
    assert (result.value, result.details["format"], result.details["correctness"]) == (
        2.5,
        1.0,
        1.5,
    )
    # empty trajectory: format 0 + correctness -3
    assert ToolRLReward()(traj(), TASK).value == -3.0
    # calls spread over two steps: step 0 scores only its own calls...
    first = Step(action=completion(WEATHER_C), tool_calls=[env_call(WEATHER_C)])
    second = Step(action=completion(TIME), tool_calls=[env_call(TIME)])
    assert ToolRLReward()(traj(first, second), TASK).details["correctness"] == 3.0
    # ...while calls_from="all" sees the extra call: 2.25
    assert ToolRLReward(calls_from="all")(traj(first, second), TASK).details["correctness"] == 2.25
    # an OpenAI message action has no tags in its content: format 0
    message = Step(
        action={"role": "assistant", "content": "", "tool_calls": []},
        tool_calls=[env_call(WEATHER_C)],
    )
    assert ToolRLReward()(traj(message), TASK).details == {
        "format": 0.0,
        "correctness": 3.0,
        "length": 0.0,
        "n_pred_calls": 1,
    }
    # expecting a response as well (gold["response"]): a calls-only completion fails the format
    with_response = Task(id="w", prompt="?", gold={**TASK.gold, "response": "It is sunny."})
    assert ToolRLReward()(traj(first), with_response).details["format"] == 0.0
    # bad calls_from
    with pytest.raises(ValueError):
        ToolRLReward(calls_from="some")


def test_ranges_property():
    # seeded random predicted call lists: correctness stays in [min, max] for every variant
    rng = random.Random(2025)
    names = ["get_weather", "get_time", "search"]
    keys = ["city", "unit", "tz", "q"]
    values = ["Paris", "C", "F", "CET", 1, None]

    def random_call() -> dict:
        params = {k: rng.choice(values) for k in rng.sample(keys, rng.randint(0, 3))}
        return {"name": rng.choice(names), "parameters": params}

    for _ in range(3000):
        gold = [random_call() for _ in range(rng.randint(1, 3))]
        pred = [random_call() for _ in range(rng.randint(0, 4))]
        flags = {k: rng.random() < 0.3 for k in ("refined", "intermediate", "coarse")}
        value = toolrl_correctness(gold, pred, **flags)
        assert -3.0 - 1e-12 <= value <= 3.0 + 1e-12
        # a prediction equal to the gold always gets the max
        assert toolrl_correctness(gold, [dict(c) for c in gold], **flags) == 3.0
        text = completion(*pred) if pred else "<think>nothing</think>"
        total = toolrl_score(
            text, "<tool_call>\n" + "\n".join(json.dumps(c) for c in gold) + "\n</tool_call>"
        )
        assert total["format"] in (0.0, 1.0)
        assert -3.0 - 1e-12 <= total["total"] <= 4.0 + 1e-12
