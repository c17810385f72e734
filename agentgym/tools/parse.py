"""Reading an agent's action: :func:`parse_action`, and writing calls and instructions for the agent."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from agentgym.messages import content_text, decode_arguments
from agentgym.suggest import did_you_mean
from agentgym.tools.formats import FORMATS, ActionError, CallFormat, RawCall, ToolFormat
from agentgym.tools.tool import Tool, ToolCall, _kind, _short

__all__ = ["ParsedAction", "format_call", "format_instructions", "parse_action"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ParsedAction:
    """The result of :func:`parse_action`.

    Attributes:
        content: The assistant's text outside the tool calls (reasoning etc.), stripped.
        calls: The validated calls, arguments converted and defaults filled in; empty on error.
        error: ``None`` when the action is well-formed, else the message the agent should see.

    Examples:
        >>> ParsedAction("thinking", ())
        ParsedAction(content='thinking', calls=(), error=None)
    """

    content: str
    calls: tuple[ToolCall, ...]
    error: str | None = None


def parse_action(
    action: str | Mapping[str, Any],
    tools: Mapping[str, Tool] | Sequence[Tool],
    *,
    format: ToolFormat = "hermes",
    max_calls: int | None = None,
    require_call: bool = True,
) -> ParsedAction:
    r"""Read the tool calls out of an agent's action and validate them.

    Never raises for any ``action``: whatever is wrong comes back as
    ``ParsedAction(content, (), error)``, with a message that says what to fix and shows one
    correct call in ``format``. When one call is invalid the whole action is an error.

    A dict action is an OpenAI assistant message: its ``tool_calls`` are read when present and
    non-empty, in any format; otherwise its ``content`` is parsed with ``format``.

    Args:
        action: The completion text, or an assistant message dict (``content``, ``tool_calls``).
        tools: The tools the agent may call, as a list or a dict keyed by tool name.
        format: How the agent writes calls in text; see the module docstring.
        max_calls: The most calls one action may make; ``None`` for no limit.
        require_call: Whether an action without any call is an error.

    Returns:
        The content, the calls and the error message (``None`` when well-formed).

    Raises:
        ValueError: ``format`` or ``max_calls`` is invalid, or ``tools`` has two tools of one
            name (programmer errors, not agent errors).
        TypeError: ``tools`` holds something that is not a :class:`Tool`.

    Examples:
        >>> def click(target: str) -> str:
        ...     '''Click a button.'''
        ...     return target
        >>> tools = [Tool.from_function(click)]
        >>> parsed = parse_action("Thought: buy it.\nAction: click[Buy Now]", tools, format="react")
        >>> parsed.content, parsed.calls
        ('Thought: buy it.', (ToolCall(name='click', arguments={'target': 'Buy Now'}, id=None),))
        >>> print(parse_action("I am done.", tools, format="react").error)
        No tool call found.
        Correct format: Action: click[...]
        >>> parse_action("I am done.", tools, format="react", require_call=False).error is None
        True
        >>> parse_action(None, tools).error.splitlines()[0]
        'The action must be a string or an assistant message dict, got NoneType.'
    """
    registry = _registry(tools)
    fmt = _format(format)
    if max_calls is not None and max_calls < 1:
        raise ValueError(f"max_calls must be at least 1 or None, got {max_calls}.")
    try:
        content, raw_calls = _extract(action, fmt, registry)
        return _resolve(content, raw_calls, registry, max_calls, require_call)
    except ActionError as exc:
        example = fmt.example(registry.get(exc.tool or "") or _first(registry))
        return ParsedAction(exc.content, (), f"{exc.message}\nCorrect format: {example}")
    except Exception as exc:
        # Last line of defence for the "never raises" promise: a parser bug must not crash a
        # training run. Tests assert this branch is never reached.
        logger.exception("parse_action failed on an action; treating it as malformed")
        return ParsedAction(
            "",
            (),
            f"The action could not be parsed (internal parser error: {type(exc).__name__}). "
            f"Correct format: {fmt.example(_first(registry))}",
        )


def format_instructions(
    tools: Mapping[str, Tool] | Sequence[Tool], format: ToolFormat = "hermes"
) -> str:
    """Describe how to call the tools, for a system prompt.

    Args:
        tools: The tools, as a list or a dict keyed by tool name.
        format: The format the agent must write calls in.

    Returns:
        How to call a tool in ``format`` with an example using the first tool, then each tool's
        signature and description.

    Examples:
        >>> def search(query: str, k: int = 5) -> list[str]:
        ...     '''Search the corpus.
        ...
        ...     Args:
        ...         query: What to look for.
        ...     '''
        ...     return []
        >>> print(format_instructions([Tool.from_function(search)]))
        To call a tool, write a JSON object with its "name" and "arguments" inside \
<tool_call></tool_call> tags, for example:
        <tool_call>{"name": "search", "arguments": {"query": "..."}}</tool_call>
        <BLANKLINE>
        Available tools:
        - search(query: string, k: integer = 5): Search the corpus.
            query: What to look for.
    """
    registry = _registry(tools)
    fmt = _format(format)
    lines = [fmt.instructions]
    if format != "openai":
        lines.append(fmt.example(_first(registry)))
    lines += ["", "Available tools:"]
    for tool in registry.values():
        final = " Calling it ends the episode." if tool.final else ""
        description = f": {tool.description}" if tool.description else ""
        lines.append(f"- {fmt.signature(tool)}{description}{final}")
        properties = list(tool.parameters.get("properties", {}).items())
        # In react only the first parameter can be given, so only it is described.
        for key, schema in properties[:1] if format == "react" else properties:
            if schema.get("description"):
                lines.append(f"    {key}: {schema['description']}")
    if not registry:
        lines.append("(none)")
    return "\n".join(lines)


def format_call(call: ToolCall, format: ToolFormat = "hermes") -> str | dict[str, Any]:
    """Write a call as an agent would in ``format``: the inverse of :func:`parse_action`.

    Oracles and scripted tests use it to produce actions. The ``"openai"`` format gives an
    assistant message dict; the others give text. A react call carries one argument only: the
    call's first argument goes in the brackets and the others are left out (the env fills in
    their defaults).

    Args:
        call: The call to write. Its arguments must be JSON data.
        format: The format to write it in.

    Returns:
        The action: a string, or for ``"openai"`` an assistant message dict.

    Raises:
        ValueError: ``format`` is unknown, or (python) an argument name is not an identifier.

    Examples:
        >>> call = ToolCall("search", {"query": "owls", "k": 2})
        >>> format_call(call)
        '<tool_call>{"name": "search", "arguments": {"query": "owls", "k": 2}}</tool_call>'
        >>> format_call(call, "python")
        'search(query="owls", k=2)'
        >>> format_call(call, "react")
        'Action: search[owls]'
        >>> format_call(ToolCall("reset", {}, id="c1"), "openai")["tool_calls"]
        [{'id': 'c1', 'type': 'function', 'function': {'name': 'reset', 'arguments': '{}'}}]
    """
    return _format(format).write(call)

def _registry(tools: Mapping[str, Tool] | Sequence[Tool]) -> dict[str, Tool]:
    if isinstance(tools, Mapping):
        items = list(tools.items())
    else:
        items = [(getattr(tool, "name", None), tool) for tool in tools]
    registry: dict[str, Tool] = {}
    for key, tool in items:
        if not isinstance(tool, Tool):
            raise TypeError(f"tools must hold Tool objects (see Tool.from_function), got {tool!r}.")
        if key != tool.name:
            raise ValueError(f"tools[{key!r}] holds the tool named {tool.name!r}.")
        if key in registry:
            raise ValueError(f"Two tools are named {key!r}.")
        registry[key] = tool
    return registry


def _extract(action: Any, fmt: CallFormat, names: Mapping[str, Any]) -> tuple[str, list[RawCall]]:
    """Return the content and the calls as written, or raise :class:`ActionError`."""
    if isinstance(action, str):
        return fmt.parse(action, names)
    if isinstance(action, Mapping):
        return _extract_message(action, fmt, names)
    raise ActionError(
        f"The action must be a string or an assistant message dict, got {type(action).__name__}."
    )


def _extract_message(
    message: Mapping, fmt: CallFormat, names: Mapping[str, Any]
) -> tuple[str, list[RawCall]]:
    content = message.get("content")
    if isinstance(content, list):  # OpenAI content parts: keep the text ones
        content = content_text(content)
    if content is not None and not isinstance(content, str):
        raise ActionError(
            f'The message\'s "content" must be a string or null, got {_kind(content)}.'
        )
    text = content or ""

    tool_calls = message.get("tool_calls")
    if tool_calls is None or (isinstance(tool_calls, (list, tuple)) and not tool_calls):
        return fmt.parse(text, names)
    if not isinstance(tool_calls, (list, tuple)):
        raise ActionError(
            f'The message\'s "tool_calls" must be a list, got {_kind(tool_calls)} '
            f"{_short(tool_calls)}.",
            text.strip(),
        )
    calls = [
        _openai_call(entry, f"tool_calls[{i}]", text.strip()) for i, entry in enumerate(tool_calls)
    ]
    return text.strip(), calls


def _openai_call(entry: Any, where: str, content: str) -> RawCall:
    if not isinstance(entry, Mapping):
        raise ActionError(
            f"{where} must be an object, got {_kind(entry)} {_short(entry)}.", content
        )
    if entry.get("type", "function") != "function":
        raise ActionError(
            f'{where} has type {_short(entry.get("type"))}; only "function" calls are supported.',
            content,
        )
    function = entry.get("function")
    if not isinstance(function, Mapping):
        raise ActionError(
            f'{where} must have a "function" object with "name" and "arguments", got '
            f"{_kind(function)} {_short(function)}.",
            content,
        )
    name = function.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ActionError(
            f'{where}.function needs a "name" string, got {_kind(name)} {_short(name)}.', content
        )
    written = function.get("arguments")
    arguments, error = decode_arguments(written)
    if error is not None:
        raise ActionError(
            f"{where}.function.arguments is not valid JSON ({error}): {_short(arguments)}.", content, name.strip()
        )
    if not isinstance(written, (str, Mapping)) and written is not None:
        raise ActionError(
            f"{where}.function.arguments must be a JSON object or a string holding one, got "
            f"{_kind(arguments)} {_short(arguments)}.",
            content,
            name.strip(),
        )
    call_id = entry.get("id")
    return RawCall(
        name.strip(), arguments, call_id if isinstance(call_id, str) and call_id else None
    )


# --------------------------------------------------------------------------------------------
# Resolving raw calls against the tools


def _resolve(
    content: str,
    raw_calls: list[RawCall],
    registry: dict[str, Tool],
    max_calls: int | None,
    require_call: bool,
) -> ParsedAction:
    if not raw_calls:
        if require_call:
            raise ActionError("No tool call found.", content)
        return ParsedAction(content, ())
    n = len(raw_calls)
    if max_calls is not None and n > max_calls:
        names = ", ".join(_short_name(call.name) for call in raw_calls[:10])
        names += ", ..." if n > 10 else ""
        noun = "tool" if max_calls == 1 else "tools"
        raise ActionError(
            f"Call at most {max_calls} {noun} per turn; this turn called {n} ({names}).", content
        )

    calls = []
    for i, raw in enumerate(raw_calls):
        prefix = f"Call {i + 1} of {n}: " if n > 1 else ""
        tool = registry.get(raw.name)
        if tool is None:
            raise ActionError(prefix + _unknown_tool(raw.name, registry), content)
        arguments = raw.arguments
        if raw.texts:
            arguments = _read_texts(tool, arguments)
        if raw.positional:
            arguments = _bind_positional(tool, raw, prefix, content)
        validated, error = tool.validate(arguments)
        if error is not None:
            raise ActionError(prefix + error, content, tool.name)
        calls.append(ToolCall(tool.name, validated, raw.id))
    return ParsedAction(content, tuple(calls))


def _bind_positional(tool: Tool, raw: RawCall, prefix: str, content: str) -> dict[str, Any]:
    """Map positional arguments (python) or the bracket text (react) to parameter names."""
    names = list(tool.parameters.get("properties", {}))
    if len(raw.positional) > len(names):
        if raw.bracket:
            message = f"{tool.name} takes no argument; write {tool.name}[]."
        else:
            plural = "" if len(names) == 1 else "s"
            message = (
                f"{tool.name} takes at most {len(names)} positional argument{plural}, got "
                f"{len(raw.positional)}. {tool._signature_sentence()}"
            )
        raise ActionError(prefix + message, content, tool.name)
    arguments = dict(zip(names, raw.positional, strict=False))
    for key, value in raw.arguments.items():
        if key in arguments:
            raise ActionError(
                f"{prefix}{tool.name} got two values for argument '{key}'.", content, tool.name
            )
        arguments[key] = value
    return arguments


def _unknown_tool(name: str, registry: dict[str, Tool]) -> str:
    message = f"Unknown tool {_short_name(name)!r}.{did_you_mean(name, registry, n=1)}"
    if registry:
        return f"{message} Available tools: {', '.join(registry)}."
    return f"{message} No tools are available."


def _short_name(name: str) -> str:
    return name if len(name) <= 40 else f"{name[:37]}..."


def _format(name: str) -> CallFormat:
    fmt = FORMATS.get(name) if isinstance(name, str) else None
    if fmt is None:
        raise ValueError(f"Unknown tool format {name!r}; use one of {', '.join(FORMATS)}.")
    return fmt


def _first(registry: dict[str, Tool]) -> Tool | None:
    return next(iter(registry.values()), None)


def _read_texts(tool: Tool, arguments: dict[str, str]) -> dict[str, Any]:
    """Arguments written as text (qwen_xml): a parameter that is not a string is read as JSON when it decodes."""
    properties = tool.parameters.get("properties", {})
    result: dict[str, Any] = {}
    for key, text in arguments.items():
        schema = properties.get(key, {})
        types = schema.get("type")
        enum = schema.get("enum")
        wants_text = types == "string" or (isinstance(types, list) and "string" in types)
        wants_text = wants_text or (bool(enum) and all(isinstance(option, str) for option in enum))
        value, error = (text, "text") if wants_text else decode_arguments(text)
        result[key] = text if error is not None or not text.strip() else value
    return result
