"""Tests for agentgym.tools.formats: the FORMATS table, the Qwen3-XML and Llama-3 formats, huge integers,
and that every parser stays fast on 200 KB of the characters that trip backtracking regexes."""

from __future__ import annotations

import json
import time
from typing import Any, Literal

import pytest

from agentgym.tools import FORMATS, Tool, ToolCall, format_call, format_instructions, parse_action
from agentgym.tools.formats import CallFormat


def search(query: str, k: int = 5, exact: bool = False) -> list[str]:
    """Search the corpus.

    Args:
        query: What to look for.
        k: How many results to return.
        exact: Whether to match the phrase exactly.
    """
    return [query] * k


def tag(label: Literal["a", "b"], ids: list[int], note: Any = None) -> str:
    """Tag items.

    Args:
        label: The label.
        ids: Item ids.
        note: Anything.
    """
    return label


TOOLS = [Tool.from_function(search), Tool.from_function(tag)]
CALLS = [
    ToolCall("search", {"query": "owls", "k": 2, "exact": True}),
    ToolCall("search", {"query": 'multi\nline "quoted" <b>text</b>', "k": 5, "exact": False}),
    ToolCall("tag", {"label": "a", "ids": [1, 2], "note": {"x": [None, 1.5]}}),
]


def test_formats_table_names_every_format_once():
    assert list(FORMATS) == ["hermes", "json", "llama3", "qwen_xml", "openai", "python", "react"]
    for name, fmt in FORMATS.items():
        assert isinstance(fmt, CallFormat) and fmt.name == name and fmt.instructions


@pytest.mark.parametrize("fmt", [name for name in FORMATS if name != "react"])
@pytest.mark.parametrize("call", CALLS, ids=["plain", "multiline", "nested"])
def test_write_then_parse_gives_the_call_back(fmt, call):
    parsed = parse_action(format_call(call, fmt), TOOLS, format=fmt)
    assert parsed.error is None, parsed.error
    assert [(c.name, c.arguments) for c in parsed.calls] == [(call.name, call.arguments)]


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_instructions_show_a_call_that_parses(fmt):
    text = format_instructions(TOOLS, fmt)
    assert FORMATS[fmt].instructions in text and "search" in text
    if fmt != "openai":
        example = text.split("\n", 1)[1].split("\n\nAvailable tools:")[0]
        assert parse_action(example, TOOLS, format=fmt).error is None


def test_qwen_xml_reads_values_by_parameter_type():
    text = (
        "I will search.\n<tool_call>\n<function=search>\n<parameter=query>\n42\n</parameter>\n"
        "<parameter=k>\n3\n</parameter>\n<parameter=exact>\ntrue\n</parameter>\n</function>\n</tool_call>"
    )
    parsed = parse_action(text, TOOLS, format="qwen_xml")
    assert parsed.content == "I will search."
    assert parsed.calls == (ToolCall("search", {"query": "42", "k": 3, "exact": True}),)


def test_qwen_xml_two_calls_and_compact_writing():
    text = (
        "<tool_call><function=search><parameter=query>a</parameter></function></tool_call>"
        "<tool_call><function=tag><parameter=label>b</parameter><parameter=ids>[7]</parameter></function></tool_call>"
    )
    parsed = parse_action(text, TOOLS, format="qwen_xml")
    assert [call.arguments for call in parsed.calls] == [
        {"query": "a", "k": 5, "exact": False},
        {"label": "b", "ids": [7], "note": None},
    ]


@pytest.mark.parametrize(
    ("text", "phrase"),
    [
        ("<tool_call><function=search><parameter=query>a</parameter></function>", "is not closed"),
        ("<tool_call>search</tool_call>", "must hold one <function=name>"),
        ("<tool_call><function=>x</function></tool_call>", "must name the tool"),
        ("<tool_call><function=search><parameter=query>a</function></tool_call>", "</parameter>"),
        ("<tool_call><function=search>junk<parameter=query>a</parameter></function></tool_call>", "Unexpected text"),
        ("<tool_call><function=search><parameter=query>a</parameter><parameter=k>many</parameter></function></tool_call>",
         "must be an integer"),
        ("<tool_call><function=serch></function></tool_call>", "Did you mean 'search'"),
    ],
)
def test_qwen_xml_malformed_calls_get_a_clear_error(text, phrase):
    parsed = parse_action(text, TOOLS, format="qwen_xml")
    assert parsed.calls == () and phrase in parsed.error, parsed.error
    assert "Correct format: <tool_call>\n<function=" in parsed.error


def test_llama3_writes_parameters_and_reads_either_key():
    call = ToolCall("search", {"query": "owls"})
    assert format_call(call, "llama3") == '{"name": "search", "parameters": {"query": "owls"}}'
    for key in ("parameters", "arguments"):
        text = json.dumps({"name": "search", key: {"query": "owls"}})
        assert parse_action(text, TOOLS, format="llama3").calls[0].arguments["query"] == "owls"


def test_read_calls_never_raises():
    assert FORMATS["hermes"].read_calls("<tool_call>{oops</tool_call>") == []
    assert FORMATS["hermes"].read_calls('<tool_call>{"name": "f", "arguments": {"x": 1}}</tool_call>')[0].name == "f"


# --------------------------------------------------------------------------------------------
# Huge integers (issue 12 item 5)

HUGE = "9" * 5000


def _structured(name: str, arguments: Any) -> dict[str, Any]:
    return {"role": "assistant", "content": None,
            "tool_calls": [{"type": "function", "function": {"name": name, "arguments": arguments}}]}


@pytest.mark.parametrize(
    ("action", "fmt"),
    [
        (_structured("search", {"query": "x", "k": 10**5000}), "hermes"),
        (_structured("tag", {"label": "a", "ids": [], "note": [10**5000]}), "hermes"),
        (_structured("search", '{"query": "x", "k": ' + HUGE + "}"), "hermes"),
        ('<tool_call>{"name": "search", "arguments": {"query": "x", "k": ' + HUGE + "}}</tool_call>", "hermes"),
        ('{"name": "search", "arguments": {"query": "x", "k": ' + HUGE + "}}", "json"),
        ("search(query='x', k=" + HUGE + ")", "python"),
        ("<tool_call><function=search><parameter=k>" + HUGE + "</parameter></function></tool_call>", "qwen_xml"),
    ],
    ids=["structured", "structured-any", "structured-json-text", "hermes", "json", "python", "qwen_xml"],
)
def test_huge_integers_are_an_error_not_an_exception(action, fmt):
    parsed = parse_action(action, TOOLS, format=fmt)
    assert parsed.calls == () and parsed.error, parsed
    assert "sys.set_int_max_str_digits" not in parsed.error and len(parsed.error) < 1000


def test_a_large_but_writable_integer_is_accepted():
    parsed = parse_action(format_call(ToolCall("search", {"query": "x", "k": 10**300})), TOOLS)
    assert parsed.calls[0].arguments["k"] == 10**300


# --------------------------------------------------------------------------------------------
# Regex audit: every parser is linear on the runs that make backtracking regexes explode

N = 200_000
HOSTILE = {
    "spaces": " " * N,
    "newlines": "\n" * N,
    "open-brackets": "[" * N,
    "close-brackets": "]" * N,
    "braces": "{" * N,
    "parens": "(" * N,
    "fences": "```" * (N // 3),
    "fence-then-spaces": "```" + " " * N,
    "fence-then-newlines": "```sql" + "\n" * N,
    "fenced-calls": "```f(```" * (N // 8),
    "fenced-json": "```{```" * (N // 8),
    "action-then-spaces": "Action" + " " * N,
    "action-numbered": "Action " + "1 " * (N // 2),
    "action-lines": "Action: x\n" * (N // 10),
    "tool-call-opens": "<tool_call>" * (N // 11),
    "tool-call-closes": "</tool_call>" * (N // 12),
    "function-name": "<tool_call><function=" + "x" * N,
    "parameter-opens": "<tool_call><function=f>" + "<parameter=" * (N // 11),
    "names-and-brackets": "a[" * (N // 2),
    "python-line": "f(" + ") " * (N // 2) + "x",
    "escaped-quotes": '{"name": "' + '\\"' * (N // 2),
    "long-token": "x" * N,
    "mixed": "[ ( { ` \n" * (N // 10),
}


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_every_parser_is_fast_on_200_kb_of_hostile_text(fmt):
    for name, text in HOSTILE.items():
        seconds = min(_seconds(parse_action, text, TOOLS, format=fmt) for _ in range(2))
        assert seconds < 1.0, f"{fmt} took {seconds:.2f} s on {name}"


def _seconds(function, *args: Any, **kwargs: Any) -> float:
    started = time.perf_counter()
    function(*args, **kwargs)
    return time.perf_counter() - started
