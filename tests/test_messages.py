"""Tests for agentgym.messages: one reading of a conversation for the env, the importers, the trainer adapters and
the runner (issue 11, defect 1: the same conversation scored 1.0 offline and 0.0 through the TRL adapter)."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from agentgym.core import Task
from agentgym.envs.deepsearch.env import DeepSearchReward
from agentgym.importers import from_openai
from agentgym.messages import (
    answer_tag,
    assistant_message,
    content_text,
    decode_arguments,
    message_calls,
    message_text,
    steps_from_messages,
    template_messages,
)
from agentgym.rewards.adapters import trajectory_from_completion, trl_reward_func
from agentgym.rewards.outcome import ExactMatch
from agentgym.tools import ToolCall, format_call

PROMPT = [{"role": "user", "content": "Capital of Peru?"}]
GOLD = {
    "answer": "Lima",
    "entities": {"E0": ["Lima"]},
    "rubrics": [
        {"text": "<E0> is the capital of Peru.", "evidence_url": "factbook://peru/government",
         "evidence": "Capital - name: Lima"}
    ],
}


def structured(name: str, arguments: dict[str, Any], call_id: str = "c1") -> dict[str, Any]:
    call = {"id": call_id, "type": "function", "function": {"name": name, "arguments": json.dumps(arguments)}}
    return {"role": "assistant", "content": None, "tool_calls": [call]}


def hermes(name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    return {"role": "assistant", "content": "Done. " + format_call(ToolCall(name, arguments))}


ANSWERS = {"structured": structured, "hermes-text": hermes}


def offline(reward, completion: list[dict[str, Any]]) -> float:
    trajectory = from_openai({"messages": PROMPT + completion, "task_id": "peru"})
    return reward(trajectory, Task("peru", "Capital of Peru?", gold=GOLD)).value


def through_trl(reward, completion: list[dict[str, Any]]) -> float:
    reward_func = trl_reward_func(reward, gold_columns=("answer", "entities", "rubrics"))
    columns = {"answer": [GOLD["answer"]], "entities": [GOLD["entities"]], "rubrics": [GOLD["rubrics"]]}
    return reward_func(prompts=[PROMPT], completions=[completion], **columns)[0]


# --------------------------------------------------------------------------------------------
# Defect 1: offline and TRL scores agree (they were 1.0 vs 0.0, and 1.1 vs 0.1)


@pytest.mark.parametrize("style", list(ANSWERS))
def test_exact_match_of_an_answer_call_is_the_same_offline_and_through_trl(style):
    completion = [ANSWERS[style]("answer", {"answer": "Lima"})]
    assert offline(ExactMatch(), completion) == 1.0
    assert through_trl(ExactMatch(), completion) == 1.0


@pytest.mark.parametrize("style", list(ANSWERS))
def test_deepsearch_reward_is_the_same_offline_and_through_trl(style):
    report = "Lima is the capital of Peru [1](factbook://peru/government)."
    completion = [
        structured("open", {"url": "factbook://peru/government"}, "c0"),
        {"role": "tool", "tool_call_id": "c0", "content": "Peru government. Capital - name: Lima"},
        ANSWERS[style]("answer", {"answer": "Lima", "report": report}),
    ]
    assert offline(DeepSearchReward(), completion) == pytest.approx(1.1)
    assert through_trl(DeepSearchReward(), completion) == pytest.approx(1.1)


def test_adapter_and_importer_build_the_same_steps():
    completion = [
        structured("search", {"query": "Peru"}, "c0"),
        {"role": "tool", "tool_call_id": "c0", "content": "Error: no results"},
        hermes("answer", {"answer": "Lima"}),
    ]
    imported = from_openai({"messages": PROMPT + completion, "task_id": "peru"}).steps
    adapted = trajectory_from_completion(PROMPT, completion).steps
    assert imported == adapted
    assert adapted[0].invalid_action and adapted[1].info["final"]["arguments"] == {"answer": "Lima"}


def test_calls_after_the_final_answer_are_dropped_as_the_env_drops_them():
    message = structured("answer", {"answer": "Lima"})
    message["tool_calls"].append({"id": "c2", "type": "function", "function": {"name": "search", "arguments": "{}"}})
    (step,) = steps_from_messages([message])
    assert [call["name"] for call in step.tool_calls] == ["answer"]


def test_env_parser_decides_when_given():
    def parse(action):
        from agentgym.tools import ParsedAction

        return ParsedAction("", (ToolCall("submit", {"sql": "SELECT 1"}),))

    (step,) = steps_from_messages([{"role": "assistant", "content": "<answer>SELECT 1</answer>"}], parse=parse)
    assert step.info["final"] == {"name": "submit", "arguments": {"sql": "SELECT 1"}}


# --------------------------------------------------------------------------------------------
# The pieces


def test_content_text_joins_text_parts_only():
    parts = [{"type": "text", "text": "a"}, {"type": "image_url", "image_url": {}}, "b", {"type": "text", "text": 3}]
    assert content_text(parts) == "ab"
    assert content_text(None) == "" and content_text(5) == "5"


def test_decode_arguments_never_raises():
    assert decode_arguments("") == ({}, None)
    assert decode_arguments("[" * 100_000)[1] == "nested too deeply"
    value, error = decode_arguments('{"n": ' + "1" * 5000 + "}")
    assert value.startswith('{"n"') and "too long" in error


def test_message_calls_reads_openai_and_flat_entries_and_skips_junk():
    message = {"tool_calls": [
        {"id": "a", "function": {"name": "f", "arguments": '{"x": 1}'}},
        {"name": "g", "arguments": {"y": 2}},
        {"id": "b", "function": {"name": "h", "arguments": "{bad"}},
        None,
    ]}
    assert message_calls(message) == [
        {"name": "f", "arguments": {"x": 1}, "id": "a"},
        {"name": "g", "arguments": {"y": 2}, "id": None},
        {"name": "h", "arguments": "{bad", "id": "b"},
    ]
    assert message_calls({"tool_calls": "not a list"}) == []


def test_message_text_writes_calls_hermes_style():
    text = message_text(structured("answer", {"answer": "Lima"}))
    written = json.loads(text.split("<tool_call>")[1].split("</tool_call>")[0])
    assert written == {"name": "answer", "arguments": {"answer": "Lima"}}


def test_assistant_message_with_and_without_token_ids():
    assert assistant_message("hi") == {"role": "assistant", "content": "hi"}
    message = assistant_message(structured("f", {}), {"prompt_ids": [1], "completion_ids": None})
    assert message["prompt_ids"] == [1] and "completion_ids" not in message and message["tool_calls"]


def test_assistant_message_keeps_a_record_writable():
    huge = structured("f", {})
    huge["tool_calls"][0]["function"]["arguments"] = {"page": 10**5000}
    message = assistant_message(huge)
    json.dumps(message)
    assert "too long" in message["content"]


def test_template_messages_keep_or_write_the_calls():
    message = structured("answer", {"answer": "Lima"})
    assert template_messages([message], True)[0]["tool_calls"] == message["tool_calls"]
    written = template_messages([message], False)[0]
    assert "tool_calls" not in written and "<tool_call>" in written["content"]


@pytest.mark.parametrize(
    ("text", "answer"),
    [
        ("<answer>Lima</answer>", "Lima"),
        ("<answer>a</answer> <answer> b </answer>", "b"),
        ("<answer>unclosed", None),
        ("</answer><answer>", None),
        ("no tags", None),
    ],
)
def test_answer_tag(text, answer):
    assert answer_tag(text) == answer


def test_answer_tag_is_linear():
    for text in ("<answer>" * 100_000, "<answer>" + " " * 1_000_000, "</answer>" * 100_000 + "<answer>"):
        started = time.perf_counter()
        answer_tag(text)
        assert time.perf_counter() - started < 0.5
