"""Tests for agentgym.tools (Tool, parse_action, the first five formats): schemas, validation, parsers, fuzz."""

from __future__ import annotations

import json
import random
from typing import Any, Literal, Optional

import pytest

from agentgym.tools import (
    ParsedAction,
    Tool,
    ToolCall,
    ToolError,
    format_call,
    format_instructions,
    parse_action,
)

# --------------------------------------------------------------------------------------------
# Tools used throughout


def search(query: str, k: int = 5) -> list[str]:
    """Search the corpus.

    Args:
        query: What to look for.
        k: How many results to return.
    """
    return [f"{query}-{i}" for i in range(k)]


def open_page(url: str, page: int = 0) -> str:
    """Open a web page.

    Args:
        url: The page's address.
        page: Which page of a long document.
    """
    if not url.startswith("http"):
        raise ToolError(f"No page at {url!r}.")
    return f"{url}#{page}"


def answer(text: str) -> str:
    """Give the final answer.

    Args:
        text: The answer.
    """
    return text


def configure(
    mode: Literal["fast", "slow"],
    tags: list[str],
    temperature: float,
    verbose: bool,
    note: str | None = None,
) -> dict:
    """Configure the run.

    The second paragraph is not part of the description.

    Args:
        mode: How hard to try.
        tags: Labels for the run,
            written on two lines.
        temperature: Sampling temperature.
        verbose: Whether to log.
        note: A free-text note.

    Returns:
        The settings.
    """
    return {"mode": mode, "tags": tags, "temperature": temperature, "verbose": verbose}


def click(target: str) -> str:
    """Click a button or a link."""
    return target


def reset() -> str:
    """Start over."""
    return "ok"


TOOLS = [
    Tool.from_function(search),
    Tool.from_function(open_page),
    Tool.from_function(answer, final=True),
    Tool.from_function(configure),
    Tool.from_function(click),
    Tool.from_function(reset),
]
BY_NAME = {tool.name: tool for tool in TOOLS}
SEARCH = BY_NAME["search"]
CONFIGURE = BY_NAME["configure"]
FORMATS = ["hermes", "json", "openai", "python", "react"]


def hermes(name: str, arguments: Any = None) -> str:
    body = {"name": name} if arguments is None else {"name": name, "arguments": arguments}
    return f"<tool_call>{json.dumps(body)}</tool_call>"


def assert_error(parsed: ParsedAction, phrase: str) -> None:
    assert parsed.calls == ()
    assert parsed.error is not None
    assert phrase in parsed.error, parsed.error
    assert "Correct format: " in parsed.error  # every error shows the syntax


# --------------------------------------------------------------------------------------------
# Schema derivation


def test_search_schema_is_exact():
    assert SEARCH.schema == {
        "type": "function",
        "function": {
            "name": "search",
            "description": "Search the corpus.",
            "parameters": {
                "type": "object",
                "properties": {
                    "query": {"type": "string", "description": "What to look for."},
                    "k": {
                        "type": "integer",
                        "description": "How many results to return.",
                        "default": 5,
                    },
                },
                "required": ["query"],
                "additionalProperties": False,
            },
        },
    }


def test_schema_enum_list_number_bool_nullable_and_docstring():
    assert CONFIGURE.description == "Configure the run."
    assert CONFIGURE.parameters["required"] == ["mode", "tags", "temperature", "verbose"]
    properties = CONFIGURE.parameters["properties"]
    assert properties["mode"] == {
        "type": "string",
        "enum": ["fast", "slow"],
        "description": "How hard to try.",
    }
    assert properties["tags"] == {
        "type": "array",
        "items": {"type": "string"},
        "description": "Labels for the run, written on two lines.",
    }
    assert properties["temperature"]["type"] == "number"
    assert properties["verbose"]["type"] == "boolean"
    assert properties["note"] == {
        "type": ["string", "null"],
        "description": "A free-text note.",
        "default": None,
    }


def test_literal_types_and_other_hints():
    def f(
        a: Literal[1, 2],
        b: Literal[True],
        c: Literal["x", 1],
        d: Optional[int],  # noqa: UP045 - Optional must keep working
        e: Any,
        g: dict[str, int],
        h: dict,
        i: tuple[int, ...],
        j: tuple[int, str] = (1, "a"),
        m: Literal["p", "q"] | None = None,
        n: int | str = 0,
    ) -> None:
        """F."""

    props = Tool.from_function(f).parameters["properties"]
    assert props["a"] == {"type": "integer", "enum": [1, 2]}
    assert props["b"] == {"type": "boolean", "enum": [True]}
    assert props["c"] == {"type": ["string", "integer"], "enum": ["x", 1]}
    assert props["d"] == {"type": ["integer", "null"]}
    assert props["e"] == {}
    assert props["g"] == {"type": "object", "additionalProperties": {"type": "integer"}}
    assert props["h"] == {"type": "object"}
    assert props["i"] == {"type": "array", "items": {"type": "integer"}}
    assert props["j"] == {
        "type": "array",
        "prefixItems": [{"type": "integer"}, {"type": "string"}],
        "minItems": 2,
        "maxItems": 2,
        "default": [1, "a"],
    }
    assert props["m"] == {"type": ["string", "null"], "enum": ["p", "q", None], "default": None}
    assert props["n"] == {"anyOf": [{"type": "integer"}, {"type": "string"}], "default": 0}
    # Optional without a default is still required: required = parameters without a default.
    assert Tool.from_function(f).parameters["required"] == ["a", "b", "c", "d", "e", "g", "h", "i"]


def test_generated_schemas_are_valid_json_schema():
    jsonschema = pytest.importorskip("jsonschema")
    for tool in TOOLS:
        jsonschema.Draft202012Validator.check_schema(tool.parameters)


def test_validate_agrees_with_jsonschema():
    jsonschema = pytest.importorskip("jsonschema")
    validator = jsonschema.Draft202012Validator(CONFIGURE.parameters)
    good = {"mode": "fast", "tags": ["a"], "temperature": 0.5, "verbose": False}
    candidates = [
        good,
        {**good, "mode": "medium"},
        {**good, "tags": ["a", 1]},
        {**good, "verbose": 1},
        {**good, "temperature": "hot"},
        {**good, "extra": 1},
        {**good, "note": None},
        {k: v for k, v in good.items() if k != "tags"},
    ]
    for arguments in candidates:
        ours = CONFIGURE.validate(arguments)[1] is None
        assert ours == validator.is_valid(arguments), arguments


def test_bound_method_skips_self():
    class Browser:
        def __init__(self) -> None:
            self.opened: list[str] = []

        def visit(self, url: str, wait: float = 1.0) -> str:
            """Visit a page.

            Args:
                url: Where to go.
                wait: Seconds to wait.
            """
            self.opened.append(url)
            return url

    browser = Browser()
    tool = Tool.from_function(browser.visit, name="browse", final=True)
    assert tool.name == "browse" and tool.final
    assert list(tool.parameters["properties"]) == ["url", "wait"]
    assert tool.parameters["properties"]["wait"] == {
        "type": "number",
        "description": "Seconds to wait.",
        "default": 1.0,
    }
    parsed = parse_action(hermes("browse", {"url": "http://a"}), [tool])
    assert tool(**parsed.calls[0].arguments) == "http://a"
    assert browser.opened == ["http://a"]


def test_callable_object_becomes_a_tool():
    class Counter:
        """Count things."""

        def __call__(self, n: int) -> int:
            return n + 1

    tool = Tool.from_function(Counter(), name="count")
    assert tool.parameters["properties"] == {"n": {"type": "integer"}}
    assert tool(n=1) == 2


def test_missing_hint_is_a_type_error():
    def lookup(term, limit: int = 3) -> str:
        """Look up a term."""
        return term

    with pytest.raises(TypeError, match="parameter 'term' has no type hint"):
        Tool.from_function(lookup)


def test_unbound_method_is_a_type_error():
    class Shop:
        def buy(self, item: str) -> None:
            """Buy."""

    with pytest.raises(TypeError, match="pass a bound method"):
        Tool.from_function(Shop.buy)


@pytest.mark.parametrize(
    "hint",
    [set[int], dict[int, str], bytes, object, list[complex], Literal[1.5]],
    ids=["set", "dict-int-keys", "bytes", "object", "list-complex", "literal-float"],
)
def test_unsupported_hints_are_type_errors(hint):
    def f(x):
        """F."""

    f.__annotations__ = {"x": hint}
    with pytest.raises(TypeError, match="Tool 'f': parameter 'x'"):
        Tool.from_function(f)


def test_varargs_and_bad_defaults_are_type_errors():
    def varargs(*items: str) -> None:
        """V."""

    def kwargs(**options: str) -> None:
        """K."""

    def bad_default(when: Any = object()) -> None:  # noqa: B008 - the point of the test
        """B."""

    with pytest.raises(TypeError, match=r"\*args and \*\*kwargs"):
        Tool.from_function(varargs)
    with pytest.raises(TypeError, match=r"\*args and \*\*kwargs"):
        Tool.from_function(kwargs)
    with pytest.raises(TypeError, match="is not JSON data"):
        Tool.from_function(bad_default)


def test_invalid_tool_construction():
    with pytest.raises(ValueError, match="Invalid tool name"):
        Tool.from_function(search, name="web search")
    with pytest.raises(ValueError, match='"type": "object"'):
        Tool("x", "d", {"type": "array"}, search)


def test_schema_is_a_copy():
    SEARCH.schema["function"]["parameters"]["properties"].clear()
    assert "query" in SEARCH.parameters["properties"]


def test_tool_without_docstring_or_parameters():
    tool = Tool.from_function(lambda: 1, name="one")
    assert tool.description == ""
    assert tool.validate({}) == ({}, None)
    assert tool.validate({"x": 1})[1] == (
        "Tool 'one' got an unexpected argument 'x'. one takes no arguments."
    )


def test_tool_error_propagates_from_call():
    tool = BY_NAME["open_page"]
    with pytest.raises(ToolError, match="No page at 'ftp'"):
        tool(url="ftp")
    assert tool(url="http://a", page=2) == "http://a#2"


# --------------------------------------------------------------------------------------------
# Validation


def test_unexpected_argument_message_is_exact():
    assert SEARCH.validate({"qurey": "owls"}) == (
        {},
        "Tool 'search' got an unexpected argument 'qurey'. Did you mean 'query'? "
        "search takes: query (string, required), k (integer, default 5).",
    )


@pytest.mark.parametrize(
    ("arguments", "phrase"),
    [
        ({}, "Tool 'search' is missing required argument 'query'."),
        ({"k": 2}, "is missing required argument 'query'"),
        ({"query": "x", "n": 2}, "got an unexpected argument 'n'."),
        ({"query": 3}, "argument 'query' must be a string, got integer 3."),
        ({"query": None}, "argument 'query' must be a string, got null None."),
        ({"query": ["x"]}, "argument 'query' must be a string, got array ['x']."),
        ({"query": "x", "k": True}, "argument 'k' must be an integer, got boolean True."),
        ({"query": "x", "k": "5"}, "argument 'k' must be an integer, got string '5'."),
        ({"query": "x", "k": 2.5}, "argument 'k' must be an integer, got number 2.5."),
        ({"query": "x", "k": float("nan")}, "must be an integer, got non-finite number nan"),
        ('{"query": ', "arguments must be a JSON object, but '{\"query\": ' is not valid JSON"),
        ("[1, 2]", "arguments must be a JSON object mapping argument names to values, got array"),
        (5, "arguments must be a JSON object mapping argument names to values, got integer 5."),
        (None, "got null None"),
        ({1: "x"}, "argument names must be strings, got 1."),
    ],
    ids=[
        "missing",
        "missing-with-other",
        "extra",
        "int-for-str",
        "null-for-str",
        "list-for-str",
        "bool-for-int",
        "str-for-int",
        "fraction-for-int",
        "nan-for-int",
        "bad-json-string",
        "json-string-not-object",
        "int-arguments",
        "none-arguments",
        "non-str-key",
    ],
)
def test_validation_errors(arguments, phrase):
    validated, error = SEARCH.validate(arguments)
    assert validated == {}
    assert error is not None and phrase in error, error
    assert error.endswith("search takes: query (string, required), k (integer, default 5).")


def test_missing_several_arguments():
    error = CONFIGURE.validate({"mode": "fast"})[1]
    assert "is missing required arguments 'tags', 'temperature', 'verbose'." in error


@pytest.mark.parametrize(
    ("override", "phrase"),
    [
        ({"mode": "medium"}, "argument 'mode' must be one of 'fast', 'slow', got string 'medium'."),
        ({"tags": ["a", 2]}, "argument 'tags[1]' must be a string, got integer 2."),
        ({"tags": "a"}, "argument 'tags' must be an array of strings, got string 'a'."),
        ({"temperature": True}, "argument 'temperature' must be a number, got boolean True."),
        ({"temperature": "0.5"}, "argument 'temperature' must be a number, got string '0.5'."),
        ({"verbose": 1}, "argument 'verbose' must be a boolean, got integer 1."),
        ({"verbose": "true"}, "argument 'verbose' must be a boolean, got string 'true'."),
        ({"note": 7}, "argument 'note' must be a string or null, got integer 7."),
    ],
    ids=[
        "enum",
        "list-item",
        "str-for-list",
        "bool-for-float",
        "str-for-float",
        "int-for-bool",
        "str-for-bool",
        "int-for-nullable-str",
    ],
)
def test_validation_errors_on_rich_types(override, phrase):
    arguments = {"mode": "fast", "tags": ["a"], "temperature": 0.5, "verbose": False, **override}
    error = CONFIGURE.validate(arguments)[1]
    assert error is not None and phrase in error, error


def test_validation_converts_and_fills_defaults():
    validated, error = CONFIGURE.validate(
        {"mode": "slow", "tags": ("a", "b"), "temperature": 1, "verbose": True}
    )
    assert error is None
    assert validated == {
        "mode": "slow",
        "tags": ["a", "b"],
        "temperature": 1.0,
        "verbose": True,
        "note": None,
    }
    assert isinstance(validated["temperature"], float)  # int accepted for float, converted
    validated, _ = SEARCH.validate({"query": "x", "k": 3.0})
    assert validated == {"query": "x", "k": 3} and isinstance(validated["k"], int)


def test_validation_accepts_json_string_and_keeps_defaults_separate():
    def tag(names: list[str] = ["a"]) -> None:  # noqa: B006 - the default must not be shared
        """Tag."""

    tool = Tool.from_function(tag)
    first, _ = tool.validate("{}")
    first["names"].append("mutated")
    assert tool.validate({})[0] == {"names": ["a"]}
    assert SEARCH.validate('{"query": "owls", "k": 2}') == ({"query": "owls", "k": 2}, None)


def test_long_values_are_truncated_in_messages():
    error = SEARCH.validate({"query": ["x" * 10_000]})[1]
    assert "got array ['xxxx" in error and "..." in error
    assert len(error) < 250


def test_hand_written_schema_with_extra_arguments_allowed():
    tool = Tool(
        name="log",
        description="Log fields.",
        parameters={"type": "object", "properties": {}, "additionalProperties": True},
        function=lambda **fields: fields,
    )
    assert tool.validate({"a": 1, "b": [2]}) == ({"a": 1, "b": [2]}, None)


def test_nested_dict_and_tuple_validation():
    def put(values: dict[str, int], pair: tuple[int, str]) -> None:
        """Put."""

    tool = Tool.from_function(put)
    assert tool.validate({"values": {"a": 1}, "pair": [1, "x"]})[1] is None
    assert (
        "argument 'values['b']' must be an integer, got string 'x'"
        in tool.validate({"values": {"a": 1, "b": "x"}, "pair": [1, "x"]})[1]
    )
    assert "It has 3 items." in tool.validate({"values": {}, "pair": [1, "x", 2]})[1]
    assert "argument 'pair[1]' must be a string" in tool.validate({"values": {}, "pair": [1, 2]})[1]


def test_deeply_nested_arguments_do_not_raise():
    def store(value: list[Any], grid: list[list[list[int]]] | None = None) -> None:
        """Store."""

    tool = Tool.from_function(store)
    deep: Any = []
    for _ in range(5000):
        deep = [deep]
    assert tool.validate({"value": deep})[1] is None  # Any items: accepted as they are
    error = tool.validate({"value": [], "grid": deep})[1]
    assert "argument 'grid[0][0][0]' must be an integer, got array <deeply nested list>." in error
    assert "grid (array of arrays of arrays of integers or null, default None)" in error


# --------------------------------------------------------------------------------------------
# hermes


def test_hermes_single_and_multiple_calls_and_content():
    text = (
        "<think>I need data.</think>\n"
        + hermes("search", {"query": "owls", "k": 2})
        + "\nand then\n"
        + '<tool_call>\n{"name": "reset"}\n</tool_call>'
        + hermes("answer", '{"text": "42"}')
    )
    parsed = parse_action(text, TOOLS)
    assert parsed.error is None
    assert parsed.content == "<think>I need data.</think>\n\nand then"
    assert parsed.calls == (
        ToolCall("search", {"query": "owls", "k": 2}),
        ToolCall("reset", {}),
        ToolCall("answer", {"text": "42"}),
    )
    single = parse_action(hermes("open_page", {"url": "http://x"}), TOOLS, format="hermes")
    assert single == ParsedAction("", (ToolCall("open_page", {"url": "http://x", "page": 0}),))


def test_hermes_tolerates_fenced_json_null_arguments_and_parameters_key():
    text = '<tool_call>```json\n{"name": "search", "parameters": {"query": "x"}}\n```</tool_call>'
    assert parse_action(text, TOOLS).calls == (ToolCall("search", {"query": "x", "k": 5}),)
    for empty in ("null", '""'):
        text = f'<tool_call>{{"name": "reset", "arguments": {empty}}}</tool_call>'
        assert parse_action(text, TOOLS).calls == (ToolCall("reset", {}),)


HERMES_MALFORMED = [
    ("unclosed", 'Let me search <tool_call>{"name": "search"', "<tool_call> is not closed"),
    (
        "open-before-close",
        '<tool_call>{"name": "search"}<tool_call>{"name": "reset"}</tool_call>',
        "<tool_call> is not closed",
    ),
    ("stray-close", '{"name": "reset"}</tool_call>', "</tool_call> without a matching <tool_call>"),
    (
        "invalid-json",
        '<tool_call>{"name": "search", "arguments": {"query": "x"}</tool_call>',
        "Invalid JSON in the <tool_call> block (Expecting ',' delimiter: line 1 column",
    ),
    (
        "single-quotes",
        "<tool_call>{'name': 'search'}</tool_call>",
        "Expecting property name enclosed in double quotes",
    ),
    ("not-object", '<tool_call>["search"]</tool_call>', "must be a JSON object like"),
    ("missing-name", '<tool_call>{"arguments": {}}</tool_call>', 'missing "name"'),
    (
        "name-not-string",
        '<tool_call>{"name": 5}</tool_call>',
        '"name" must be a non-empty string, got integer 5',
    ),
    ("empty-block", "<tool_call>  </tool_call>", "The <tool_call> block is empty."),
    (
        "unknown-tool",
        hermes("serch", {"query": "x"}),
        "Unknown tool 'serch'. Did you mean 'search'? Available tools: search, open_page, answer,",
    ),
    ("arguments-list", hermes("search", [1]), "arguments must be a JSON object"),
    ("arguments-bad-json-string", hermes("search", "{query"), "is not valid JSON"),
    (
        "second-call-invalid",
        hermes("search", {"query": "x"}) + hermes("search", {"query": 1}),
        "Call 2 of 2: Tool 'search' argument 'query' must be a string, got integer 1",
    ),
    ("no-call", "The answer is 4.", "No tool call found."),
    ("empty", "", "No tool call found."),
    ("bare-json-without-tags", '{"name": "reset"}', "No tool call found."),
]


@pytest.mark.parametrize(
    ("text", "phrase"),
    [case[1:] for case in HERMES_MALFORMED],
    ids=[case[0] for case in HERMES_MALFORMED],
)
def test_hermes_malformed(text, phrase):
    assert_error(parse_action(text, TOOLS, format="hermes"), phrase)


def test_hermes_error_keeps_content_and_shows_the_example():
    parsed = parse_action("Thinking. " + hermes("serch"), TOOLS)
    assert parsed.content == "Thinking."
    assert parsed.error.endswith(
        'Correct format: <tool_call>{"name": "search", "arguments": {"query": "..."}}</tool_call>'
    )


# --------------------------------------------------------------------------------------------
# json


@pytest.mark.parametrize(
    ("text", "content"),
    [
        ('{"name": "search", "arguments": {"query": "owls"}}', ""),
        ('```json\n{"name": "search", "arguments": {"query": "owls"}}\n```', ""),
        (
            'Sure.\n```\n{"name": "search", "arguments": {"query": "owls"}}\n```\nDone.',
            "Sure.\n\nDone.",
        ),
        (
            'I will search: {"name": "search", "arguments": {"query": "owls"}} now.',
            "I will search:  now.",
        ),
        (
            'See [1] and {x}. {"name": "search", "arguments": "{\\"query\\": \\"owls\\"}"}',
            "See [1] and {x}.",
        ),
    ],
    ids=["bare", "fenced", "fenced-with-prose", "inline-in-prose", "after-other-brackets"],
)
def test_json_single_call(text, content):
    parsed = parse_action(text, TOOLS, format="json")
    assert parsed == ParsedAction(content, (ToolCall("search", {"query": "owls", "k": 5}),))


def test_json_multiple_calls():
    listed = '[{"name": "search", "arguments": {"query": "a"}}, {"name": "reset"}]'
    expected = (ToolCall("search", {"query": "a", "k": 5}), ToolCall("reset", {}))
    assert parse_action(listed, TOOLS, format="json").calls == expected
    lines = 'First:\n{"name": "search", "arguments": {"query": "a"}}\n{"name": "reset"}'
    parsed = parse_action(lines, TOOLS, format="json")
    assert parsed.calls == expected and parsed.content == "First:"


JSON_MALFORMED = [
    (
        "unbalanced",
        '{"name": "search", "arguments": {"query": "x"}',
        "Invalid JSON (Expecting ',' delimiter: line 1 column 47 (char 46)).",
    ),
    ("trailing-comma-fenced", '```json\n{"name": "search",}\n```', "Invalid JSON (Expecting"),
    ("single-quotes", "{'name': 'search'}", "Expecting property name enclosed in double quotes"),
    ("missing-name", '{"arguments": {"query": "x"}}', 'missing "name"'),
    (
        "list-item-not-object",
        '[{"name": "search", "arguments": {"query": "x"}}, 5]',
        "Call 2 of 2: A tool call must be a JSON object",
    ),
    ("name-not-string", '{"name": ["search"]}', '"name" must be a non-empty string, got array'),
    ("unknown-tool", '{"name": "serch", "arguments": {}}', "Unknown tool 'serch'. Did you mean"),
    ("arguments-not-json", '{"name": "search", "arguments": "owls"}', "is not valid JSON"),
    (
        "extra-argument",
        '{"name": "search", "arguments": {"query": "x", "n": 2}}',
        "got an unexpected argument 'n'",
    ),
    ("missing-argument", '{"name": "search", "arguments": {"k": 2}}', "missing required argument"),
    ("prose-only", "The answer is 42.", "No tool call found."),
    ("empty", "   ", "No tool call found."),
    ("json-scalar", '"search"', "No tool call found."),
    ("empty-list", "[]", "No tool call found."),
]


@pytest.mark.parametrize(
    ("text", "phrase"),
    [case[1:] for case in JSON_MALFORMED],
    ids=[case[0] for case in JSON_MALFORMED],
)
def test_json_malformed(text, phrase):
    assert_error(parse_action(text, TOOLS, format="json"), phrase)


# --------------------------------------------------------------------------------------------
# openai


def openai_message(*calls: dict, content: str | None = None) -> dict:
    return {"role": "assistant", "content": content, "tool_calls": list(calls)}


def openai_call(name: str, arguments: Any, call_id: str | None = "call_1") -> dict:
    entry: dict[str, Any] = {"type": "function", "function": {"name": name, "arguments": arguments}}
    if call_id is not None:
        entry["id"] = call_id
    return entry


def test_openai_single_and_multiple_calls_keep_ids():
    parsed = parse_action(
        openai_message(openai_call("search", '{"query": "owls"}'), content="  Looking.  "),
        TOOLS,
        format="openai",
    )
    assert parsed == ParsedAction(
        "Looking.", (ToolCall("search", {"query": "owls", "k": 5}, "call_1"),)
    )
    parsed = parse_action(
        openai_message(
            openai_call("search", {"query": "a"}, "c1"),  # a dict is accepted too
            openai_call("reset", "", "c2"),  # some servers send "" for no arguments
            openai_call("answer", '{"text": "x"}', None),
        ),
        TOOLS,
        format="openai",
    )
    assert parsed.calls == (
        ToolCall("search", {"query": "a", "k": 5}, "c1"),
        ToolCall("reset", {}, "c2"),
        ToolCall("answer", {"text": "x"}, None),
    )


def test_openai_text_only_message():
    message = {"role": "assistant", "content": "The answer is 4."}
    assert parse_action(message, TOOLS, format="openai", require_call=False) == ParsedAction(
        "The answer is 4.", ()
    )
    content_parts = {"role": "assistant", "content": [{"type": "text", "text": "Hi"}]}
    assert parse_action(content_parts, TOOLS, format="openai", require_call=False).content == "Hi"


OPENAI_MALFORMED = [
    (
        "tool-calls-dict",
        {"tool_calls": {"function": {}}},
        '"tool_calls" must be a list, got object',
    ),
    ("tool-calls-string", {"tool_calls": "search"}, '"tool_calls" must be a list, got string'),
    ("entry-not-object", openai_message("search"), "tool_calls[0] must be an object, got string"),
    ("function-missing", openai_message({"type": "function"}), 'must have a "function" object'),
    (
        "name-missing",
        openai_message({"function": {"arguments": "{}"}}),
        'tool_calls[0].function needs a "name" string',
    ),
    (
        "arguments-bad-json",
        openai_message(openai_call("search", '{"query": ')),
        "tool_calls[0].function.arguments is not valid JSON (Expecting value",
    ),
    (
        "arguments-list",
        openai_message(openai_call("search", [1])),
        "function.arguments must be a JSON object or a string holding one, got array",
    ),
    (
        "arguments-json-list",
        openai_message(openai_call("search", "[1]")),
        "arguments must be a JSON object mapping argument names to values, got array [1]",
    ),
    (
        "not-a-function",
        openai_message({"type": "retrieval", "function": {"name": "search"}}),
        'only "function" calls are supported',
    ),
    ("unknown-tool", openai_message(openai_call("serch", "{}")), "Unknown tool 'serch'"),
    (
        "content-not-string",
        {"role": "assistant", "content": 5},
        '"content" must be a string or null',
    ),
    ("plain-text", "I will search for owls.", "No tool call found."),
    ("no-calls", {"role": "assistant", "content": "Hmm.", "tool_calls": []}, "No tool call found."),
    ("none", None, "action must be a string or an assistant message dict, got NoneType"),
    ("int", 42, "action must be a string or an assistant message dict, got int"),
    (
        "second-call-invalid",
        openai_message(openai_call("reset", "{}"), openai_call("search", '{"k": 1}')),
        "Call 2 of 2: Tool 'search' is missing required argument 'query'",
    ),
]


@pytest.mark.parametrize(
    ("action", "phrase"),
    [case[1:] for case in OPENAI_MALFORMED],
    ids=[case[0] for case in OPENAI_MALFORMED],
)
def test_openai_malformed(action, phrase):
    assert_error(parse_action(action, TOOLS, format="openai"), phrase)


@pytest.mark.parametrize("format", FORMATS)
def test_message_dict_rule_applies_to_every_format(format):
    message = openai_message(openai_call("search", '{"query": "owls"}', "c9"), content="ok")
    parsed = parse_action(message, TOOLS, format=format)
    assert parsed == ParsedAction("ok", (ToolCall("search", {"query": "owls", "k": 5}, "c9"),))


@pytest.mark.parametrize(
    ("format", "content"),
    [
        ("hermes", hermes("search", {"query": "owls"})),
        ("json", '{"name": "search", "arguments": {"query": "owls"}}'),
        ("python", 'search("owls")'),
        ("react", "Action: search[owls]"),
    ],
)
def test_message_without_tool_calls_parses_content_with_the_format(format, content):
    for tool_calls in (None, []):
        message = {"role": "assistant", "content": content, "tool_calls": tool_calls}
        parsed = parse_action(message, TOOLS, format=format)
        assert parsed.calls == (ToolCall("search", {"query": "owls", "k": 5}),), parsed.error


# --------------------------------------------------------------------------------------------
# python


def test_python_single_and_multiple_calls():
    parsed = parse_action('search("owls", k=2)', TOOLS, format="python")
    assert parsed == ParsedAction("", (ToolCall("search", {"query": "owls", "k": 2}),))
    parsed = parse_action(
        "search(query='a')\nconfigure('fast', ['x'], 1, verbose=True); reset()",
        TOOLS,
        format="python",
    )
    assert parsed.calls == (
        ToolCall("search", {"query": "a", "k": 5}),
        ToolCall(
            "configure",
            {"mode": "fast", "tags": ["x"], "temperature": 1.0, "verbose": True, "note": None},
        ),
        ToolCall("reset", {}),
    )
    listed = parse_action('[search(query="a"), reset()]', TOOLS, format="python")
    assert [call.name for call in listed.calls] == ["search", "reset"]


@pytest.mark.parametrize(
    ("text", "content"),
    [
        ("```python\nsearch(query='owls')\n```", ""),
        (
            "I will look it up.\n```python\nsearch(query='owls')\n```\nThen answer.",
            "I will look it up.\n\nThen answer.",
        ),
        (
            "Thought: not sure (yet).\nsearch(query='owls')\nThat should help.",
            "Thought: not sure (yet).\nThat should help.",
        ),
        ("Let me search.\n`search(query='owls')`", "Let me search."),
        (
            "Prose mentions math.floor(2.5).\nsearch(query='owls')",
            "Prose mentions math.floor(2.5).",
        ),
    ],
    ids=[
        "fenced",
        "fenced-with-prose",
        "line-scan",
        "inline-code",
        "ignores-dotted-when-a-tool-is-called",
    ],
)
def test_python_content_extraction(text, content):
    parsed = parse_action(text, TOOLS, format="python")
    assert parsed == ParsedAction(content, (ToolCall("search", {"query": "owls", "k": 5}),))


PYTHON_MALFORMED = [
    ("name-argument", "search(query=x)", "arguments must be literal values"),
    ("import", "search(__import__('os').system('ls'))", "arguments must be literal values"),
    ("attribute-call", 'os.system("ls")', "Only a tool can be called, by its plain name"),
    ("f-string", 'search(f"{x}")', "arguments must be literal values"),
    ("double-star", 'search(**{"query": "x"})', "**kwargs is not allowed"),
    ("star", 'search(*["x"])', "*args is not allowed"),
    ("nested-call", 'search(query=open_page(url="x"))', "arguments must be literal values"),
    ("set-literal", "search(query={1, 2})", "arguments must be literal values"),
    ("bytes-literal", 'search(query=b"x")', "arguments must be literal values"),
    ("lambda", "search(lambda: 1)", "arguments must be literal values"),
    ("infinite", "search(query=1e999)", "arguments must be literal values"),
    ("unknown-tool", 'serch("x")', "Unknown tool 'serch'. Did you mean 'search'?"),
    (
        "too-many-positional",
        'search("x", 3, 4)',
        "search takes at most 2 positional arguments, got 3",
    ),
    ("positional-and-keyword", 'search("x", query="y")', "got two values for argument 'query'"),
    (
        "misspelt-keyword",
        'search(qurey="x")',
        "got an unexpected argument 'qurey'. Did you mean 'query'?",
    ),
    ("wrong-type", "search(query=3)", "argument 'query' must be a string, got integer 3"),
    ("prose-only", "I will search for owls.", "No tool call found."),
    ("unbalanced", 'search("x"', "No tool call found."),
]


@pytest.mark.parametrize(
    ("text", "phrase"),
    [case[1:] for case in PYTHON_MALFORMED],
    ids=[case[0] for case in PYTHON_MALFORMED],
)
def test_python_malformed(text, phrase):
    assert_error(parse_action(text, TOOLS, format="python"), phrase)


# --------------------------------------------------------------------------------------------
# react


@pytest.mark.parametrize(
    ("text", "content", "call"),
    [
        ("Action: click[Buy Now]", "", ToolCall("click", {"target": "Buy Now"})),
        (
            "Thought: page 2.\nAction: click[< Prev]",
            "Thought: page 2.",
            ToolCall("click", {"target": "< Prev"}),
        ),
        (
            "Thought: x\nAction 3: search[red running shoes]",
            "Thought: x",
            ToolCall("search", {"query": "red running shoes", "k": 5}),
        ),
        ("**Action:** `click[Buy Now]`", "", ToolCall("click", {"target": "Buy Now"})),
        ("action: reset[]", "", ToolCall("reset", {})),
        (
            "I will search[red shoes] now",
            "I will  now",
            ToolCall("search", {"query": "red shoes", "k": 5}),
        ),
        (
            "Use list[str] types; click[[1] Item]",
            "Use list[str] types;",
            ToolCall("click", {"target": "[1] Item"}),
        ),
        ("click[Size [M]", "", ToolCall("click", {"target": "Size [M"})),
    ],
    ids=[
        "plain",
        "prev",
        "numbered",
        "markdown",
        "no-params",
        "scan",
        "scan-skips-prose",
        "unbalanced",
    ],
)
def test_react_single_call(text, content, call):
    parsed = parse_action(text, TOOLS, format="react")
    assert parsed == ParsedAction(content, (call,))


def test_react_multiple_calls():
    parsed = parse_action("Action: search[shoes]\nAction: click[Buy Now]", TOOLS, format="react")
    assert [call.name for call in parsed.calls] == ["search", "click"]


REACT_MALFORMED = [
    ("no-brackets", "Action: search", "The action is `search`; write name[argument]."),
    ("empty-action", "Thought: hmm\nAction:", "The action is empty; write name[argument]."),
    ("unknown-tool", "Action: serch[shoes]", "Unknown tool 'serch'. Did you mean 'search'?"),
    ("argument-for-no-param-tool", "Action: reset[now]", "reset takes no argument; write reset[]."),
    ("empty-brackets", "Action: search[]", "is missing required argument 'query'"),
    ("space-not-brackets", "Action: search red shoes", "The action is `search red shoes`"),
    ("unclosed", "Action: search[red shoes", "write name[argument]"),
    ("bad-name", "Action: 123[x]", "write name[argument]"),
    ("missing-rest", "Action: configure[fast]", "missing required arguments 'tags', 'temperature'"),
    ("scan-unknown", "I will serch[shoes]", "Unknown tool 'serch'"),
    ("prose-only", "I should buy the shoes.", "No tool call found."),
    ("unclosed-scan", "click[Buy Now", "No tool call found."),
    (
        "second-invalid",
        "Action: click[Buy Now]\nAction: clik[x]",
        "Call 2 of 2: Unknown tool 'clik'. Did you mean 'click'?",
    ),
]


@pytest.mark.parametrize(
    ("text", "phrase"),
    [case[1:] for case in REACT_MALFORMED],
    ids=[case[0] for case in REACT_MALFORMED],
)
def test_react_malformed(text, phrase):
    assert_error(parse_action(text, TOOLS, format="react"), phrase)


# --------------------------------------------------------------------------------------------
# Common rules


THREE_CALLS = {
    "hermes": hermes("search", {"query": "a"})
    + hermes("search", {"query": "b"})
    + hermes("open_page", {"url": "u"}),
    "json": json.dumps(
        [
            {"name": "search", "arguments": {"query": "a"}},
            {"name": "search", "arguments": {"query": "b"}},
            {"name": "open_page", "arguments": {"url": "u"}},
        ]
    ),
    "openai": openai_message(
        openai_call("search", '{"query": "a"}'),
        openai_call("search", '{"query": "b"}'),
        openai_call("open_page", '{"url": "u"}'),
    ),
    "python": 'search("a")\nsearch("b")\nopen_page("u")',
    "react": "Action: search[a]\nAction: search[b]\nAction: open_page[u]",
}


@pytest.mark.parametrize("format", FORMATS)
def test_max_calls(format):
    action = THREE_CALLS[format]
    assert_error(
        parse_action(action, TOOLS, format=format, max_calls=1),
        "Call at most 1 tool per turn; this turn called 3 (search, search, open_page).",
    )
    assert_error(
        parse_action(action, TOOLS, format=format, max_calls=2),
        "Call at most 2 tools per turn; this turn called 3",
    )
    assert len(parse_action(action, TOOLS, format=format, max_calls=3).calls) == 3
    assert len(parse_action(action, TOOLS, format=format).calls) == 3


@pytest.mark.parametrize("format", FORMATS)
def test_require_call(format):
    text = "  I think the answer is four.  "
    assert parse_action(text, TOOLS, format=format, require_call=False) == ParsedAction(
        "I think the answer is four.", ()
    )
    assert_error(parse_action(text, TOOLS, format=format), "No tool call found.")


@pytest.mark.parametrize("format", FORMATS)
def test_errors_show_a_correct_example_that_parses(format):
    error = parse_action("nothing here", TOOLS, format=format).error
    example = error.split("Correct format: ", 1)[1]
    if format == "openai":
        assert example.startswith('a "tool_calls" list in your message, like [')
        entries = json.loads(example.split(", like ", 1)[1])
        parsed = parse_action({"role": "assistant", "tool_calls": entries}, TOOLS, format=format)
    else:
        parsed = parse_action(example, TOOLS, format=format)
    assert parsed.error is None and parsed.calls[0].name == "search"


def test_example_uses_the_tool_that_failed():
    error = parse_action(hermes("configure", {"mode": "x"}), TOOLS).error
    assert error.endswith(
        'Correct format: <tool_call>{"name": "configure", "arguments": {"mode": "fast", '
        '"tags": [], "temperature": 0.5, "verbose": true}}</tool_call>'
    )


def test_tools_as_mapping_and_programmer_errors():
    mapping = {tool.name: tool for tool in TOOLS}
    assert parse_action(hermes("reset"), mapping).calls == (ToolCall("reset", {}),)
    with pytest.raises(ValueError, match="Unknown tool format"):
        parse_action("x", TOOLS, format="xml")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_calls"):
        parse_action("x", TOOLS, max_calls=0)
    with pytest.raises(TypeError, match="Tool objects"):
        parse_action("x", [search])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="Two tools are named 'search'"):
        parse_action("x", [SEARCH, SEARCH])
    with pytest.raises(ValueError, match="holds the tool named 'search'"):
        parse_action("x", {"find": SEARCH})


def test_unknown_tool_with_no_tools():
    assert_error(
        parse_action(hermes("search"), []), "Unknown tool 'search'. No tools are available."
    )


# --------------------------------------------------------------------------------------------
# ToolCall


def test_tool_call_round_trips():
    calls = (
        ToolCall("search", {"query": 'héllo "owls"', "k": 2}, "call_a"),
        ToolCall(
            "configure",
            {"mode": "fast", "tags": [], "temperature": 0.5, "verbose": False, "note": None},
            "call_b",
        ),
    )
    for call in calls:
        assert ToolCall(**json.loads(json.dumps(call.to_dict()))) == call
        assert call.to_openai() == {
            "id": call.id,
            "type": "function",
            "function": {
                "name": call.name,
                "arguments": json.dumps(call.arguments, ensure_ascii=False),
            },
        }
    message = {"role": "assistant", "content": None, "tool_calls": [c.to_openai() for c in calls]}
    assert parse_action(message, TOOLS).calls == calls


def test_tool_call_generated_openai_id_is_deterministic():
    call = ToolCall("search", {"query": "x"})
    first = call.to_openai()["id"]
    assert first == ToolCall("search", {"query": "x"}).to_openai()["id"]
    assert first.startswith("call_") and len(first) == len("call_") + 24
    assert first != ToolCall("search", {"query": "y"}).to_openai()["id"]
    assert call.to_dict()["id"] is None


ROUND_TRIP_CALLS = [
    ToolCall("search", {"query": 'owls "and" [bats] é', "k": 2}),
    ToolCall("reset", {}),
    ToolCall("open_page", {"url": "http://x/?a=1", "page": 0}),
    ToolCall(
        "configure",
        {"mode": "slow", "tags": ["a", "b"], "temperature": 0.25, "verbose": True, "note": None},
    ),
]


@pytest.mark.parametrize("format", FORMATS)
@pytest.mark.parametrize("call", ROUND_TRIP_CALLS, ids=lambda call: call.name)
def test_format_call_round_trips_through_parse_action(format, call):
    if format == "react" and call.name in ("search", "configure"):
        # react carries the first argument only; the others come back as defaults or go missing
        assert (
            format_call(call, format)
            == f"Action: {call.name}[{call.arguments[next(iter(call.arguments))]}]"
        )
        return
    parsed = parse_action(format_call(call, format), TOOLS, format=format)
    assert parsed.error is None, parsed.error
    (got,) = parsed.calls
    assert (got.name, got.arguments) == (call.name, call.arguments)
    assert got.id == (call.to_openai()["id"] if format == "openai" else None)


def test_format_call_react_drops_defaulted_arguments():
    parsed = parse_action(
        format_call(ToolCall("search", {"query": "shoes", "k": 5}), "react"), TOOLS, format="react"
    )
    assert parsed.calls == (ToolCall("search", {"query": "shoes", "k": 5}),)


def test_format_call_rejects_what_it_cannot_write():
    with pytest.raises(ValueError, match="Unknown tool format"):
        format_call(ToolCall("reset", {}), "xml")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="cannot be written as a Python keyword"):
        format_call(ToolCall("log", {"my-field": 1}), "python")


# --------------------------------------------------------------------------------------------
# format_instructions


@pytest.mark.parametrize("format", FORMATS)
def test_format_instructions(format):
    text = format_instructions(TOOLS, format)
    assert "Available tools:" in text
    for tool in TOOLS:
        assert tool.description in text
    assert "Give the final answer. Calling it ends the episode." in text
    if format == "react":
        assert "- search[query]: Search the corpus." in text
        assert "Action: search[...]" in text
    else:
        assert "- search(query: string, k: integer = 5): Search the corpus." in text
        assert "    query: What to look for." in text
    if format == "openai":
        assert "tool_calls" in text and "passed to you natively" in text
    else:
        # The example line in the instructions is itself a correct call.
        example = text.splitlines()[1]
        assert parse_action(example, TOOLS, format=format).error is None


# --------------------------------------------------------------------------------------------
# Fuzz: parse_action never raises, whatever it is given

FRAGMENTS = [
    "<tool_call>",
    "</tool_call>",
    "<tool_call>{",
    "{",
    "}",
    "[",
    "]",
    "(",
    ")",
    '"',
    "'",
    "`",
    "```",
    "```json\n",
    "```python\n",
    "\n",
    " ",
    ":",
    ",",
    "=",
    "\\",
    "\\u00",
    "null",
    "true",
    "1",
    "-1e999",
    "NaN",
    '"name"',
    '"arguments"',
    '"search"',
    "search",
    "search(",
    "search[",
    "click[",
    "reset()",
    "Action:",
    "Action: ",
    "Thought:",
    "query=",
    "*",
    "**",
    "f'",
    "lambda",
    "__import__('os')",
    "os.system(",
    '{"name": "search", "arguments": {"query": "x"}}',
    '{"name": 1}',
    "\x00",
    "\u2028",
    "é",
    "😀",
    "<",
    ">",
    "#",
    ";",
    "\t",
]
VALID = [
    hermes("search", {"query": "owls"}),
    '{"name": "search", "arguments": {"query": "owls"}}',
    'search(query="owls", k=2)',
    "Thought: ok\nAction: click[Buy Now]",
]


def random_text(rng: random.Random) -> str:
    kind = rng.randrange(4)
    if kind == 0:  # random code points, surrogates excluded
        return "".join(
            chr(
                rng.choice(
                    [
                        rng.randrange(0x20, 0x7F),
                        rng.randrange(0, 0xD800),
                        rng.randrange(0xE000, 0x110000),
                    ]
                )
            )
            for _ in range(rng.randrange(0, 80))
        )
    if kind == 1:
        return "".join(rng.choice(FRAGMENTS) for _ in range(rng.randrange(1, 30)))
    text = list(rng.choice(VALID))  # a valid call, mutated
    for _ in range(rng.randrange(1, 6)):
        i = rng.randrange(len(text) + 1)
        op = rng.randrange(3)
        if op == 0 and i < len(text):
            del text[i]
        elif op == 1:
            text.insert(i, rng.choice(FRAGMENTS))
        elif i < len(text):
            text[i] = rng.choice(FRAGMENTS)
    return "".join(text)


def random_json_like(rng: random.Random, depth: int = 0) -> Any:
    choice = rng.randrange(9 if depth < 3 else 6)
    if choice == 0:
        return None
    if choice == 1:
        return rng.choice([0, 1, -5, 2**70, 1.5, float("nan"), True, False])
    if choice == 2:
        return random_text(rng)
    if choice == 3:
        return rng.choice(["search", "reset", "serch", "", "function"])
    if choice == 4:
        return object()
    if choice == 5:
        return b"bytes"
    if choice == 6:
        return [random_json_like(rng, depth + 1) for _ in range(rng.randrange(3))]
    keys = ["role", "content", "tool_calls", "function", "name", "arguments", "type", "id", "query"]
    return {rng.choice(keys): random_json_like(rng, depth + 1) for _ in range(rng.randrange(4))}


def special_inputs() -> list[Any]:
    rng = random.Random(1)
    alphabet = "".join(FRAGMENTS) + "abcxyz ()[]{}"
    return [
        "",
        " ",
        "\x00",
        "[" * 10_000,
        "{" * 10_000,
        "(" * 10_000,
        "[" * 10_000 + "]" * 10_000,
        '{"a":' * 10_000,
        "<tool_call>" * 2_000,
        "<tool_call>" + "[" * 5_000 + "</tool_call>",
        "search(" + "[" * 5_000 + ")",
        "Action: search[" + "[" * 5_000 + "]",
        "".join(rng.choices(alphabet, k=1_000_000)),  # 1 MB of tool-call fragments
        "x" * 1_000_000,
        None,
        42,
        3.5,
        b"<tool_call>",
        ["search"],
        ("search",),
        object(),
        {"content": 5},
        {"tool_calls": "x"},
        {"tool_calls": [None]},
        {"tool_calls": [{"function": {"name": "search", "arguments": "[" * 5_000}}]},
        {"tool_calls": [{"function": {"name": "search", "arguments": {"query": [[[]]]}}}]},
        {"content": ["not", {"type": "text"}]},
        {1: 2},
    ]


def test_fuzz_parse_action_never_raises():
    rng = random.Random(0)
    actions: list[Any] = special_inputs()
    actions += [random_text(rng) for _ in range(2_000)]
    actions += [random_json_like(rng) for _ in range(300)]
    for i, action in enumerate(actions):
        for format in FORMATS:
            parsed = parse_action(
                action,
                TOOLS,
                format=format,
                max_calls=rng.choice([None, 1, 3]),
                require_call=rng.random() < 0.5,
            )
            assert isinstance(parsed, ParsedAction)
            assert isinstance(parsed.content, str)
            assert parsed.error is None or (isinstance(parsed.error, str) and parsed.error)
            assert "internal parser error" not in (parsed.error or ""), (i, format, parsed.error)
            if parsed.error is not None:
                assert parsed.calls == ()
            for call in parsed.calls:
                assert call.name in BY_NAME
                json.dumps(call.to_dict())  # calls are always JSON-ready
