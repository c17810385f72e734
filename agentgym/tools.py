"""Typed tools and the parsers that turn an agent's completion into tool calls.

A :class:`Tool` wraps a plain typed Python function; its JSON schema comes from the type hints
and the Google-style docstring. :func:`parse_action` reads tool calls out of the agent's action in
one of five formats and checks them against the tools' schemas. It never raises on bad agent
output: a malformed action comes back as a :class:`ParsedAction` whose ``error`` says what was
wrong and shows the correct syntax, ready to be sent back to the agent as an observation.
:func:`format_call` writes a call the way an agent would (for oracles and tests), and
:func:`format_instructions` tells the agent how, for a system prompt.

Formats (``ToolFormat``):

- ``"hermes"`` (default, Hermes/Qwen): ``<tool_call>{"name": ..., "arguments": {...}}</tool_call>``
- ``"json"``: a bare JSON object ``{"name": ..., "arguments": {...}}`` or a JSON list of them
- ``"openai"``: an assistant message dict with ``tool_calls``
- ``"python"``: ``search(query="x", k=3)``, parsed with :mod:`ast` (never evaluated)
- ``"react"``: ``Action: search[red running shoes]`` (WebShop style)

Examples:
    >>> def search(query: str, k: int = 5) -> list[str]:
    ...     '''Search the corpus.
    ...
    ...     Args:
    ...         query: What to look for.
    ...         k: How many results to return.
    ...     '''
    ...     return [query] * k
    >>> tool = Tool.from_function(search)
    >>> text = 'Let me look. <tool_call>{"name": "search", "arguments": {"query": "owls"}}'
    >>> parsed = parse_action(text + "</tool_call>", [tool])
    >>> parsed.content
    'Let me look.'
    >>> parsed.calls
    (ToolCall(name='search', arguments={'query': 'owls', 'k': 5}, id=None),)
    >>> tool(**parsed.calls[0].arguments)
    ['owls', 'owls', 'owls', 'owls', 'owls']
    >>> print(parse_action("search(qurey='owls')", [tool], format="python").error)
    Tool 'search' got an unexpected argument 'qurey'. Did you mean 'query'? search takes: query \
(string, required), k (integer, default 5).
    Correct format: search(query="...")
"""

from __future__ import annotations

import ast
import copy
import difflib
import hashlib
import inspect
import json
import logging
import math
import re
import types
import typing
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple, Union, get_args, get_origin

__all__ = [
    "ParsedAction",
    "Tool",
    "ToolCall",
    "ToolError",
    "ToolFormat",
    "format_call",
    "format_instructions",
    "parse_action",
]

logger = logging.getLogger(__name__)

ToolFormat = Literal["hermes", "json", "openai", "python", "react"]
_FORMATS: tuple[str, ...] = get_args(ToolFormat)

# OpenAI's rule for function names; a leading letter or underscore keeps the name usable in the
# python and react formats too.
_TOOL_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,63}$")

# Values shown back to the agent are cut to this many characters.
_SHORT = 60


class ToolError(Exception):
    """A mistake the agent made when calling a tool (bad page number, URL not found, ...).

    Tool functions raise it; the environment turns its message into an error observation. Any
    other exception raised by a tool is a bug in the environment and propagates.

    Examples:
        >>> def open_page(url: str) -> str:
        ...     '''Open a page.'''
        ...     raise ToolError(f"No page at {url!r}.")
        >>> try:
        ...     Tool.from_function(open_page)(url="x")
        ... except ToolError as exc:
        ...     print(exc)
        No page at 'x'.
    """


@dataclass(frozen=True)
class ToolCall:
    """One call of a tool, with arguments already validated against its schema.

    Attributes:
        name: The tool's name.
        arguments: Argument names to values, defaults filled in. JSON-compatible.
        id: The call id the agent's message gave (OpenAI ``tool_calls``), else ``None``: the
            environment assigns ids.

    Examples:
        >>> call = ToolCall("search", {"query": "owls"}, id="call_1")
        >>> call.to_dict()
        {'name': 'search', 'arguments': {'query': 'owls'}, 'id': 'call_1'}
        >>> ToolCall(**call.to_dict()) == call
        True
    """

    name: str
    arguments: dict[str, Any]
    id: str | None = None

    def to_openai(self) -> dict:
        """Return the call as an entry of an OpenAI assistant message's ``tool_calls`` list.

        Without an id, a deterministic one is derived from the name and arguments, so two
        identical calls in one turn get the same id: give calls ids first where that matters.

        Returns:
            ``{"id", "type": "function", "function": {"name", "arguments": <JSON string>}}``.

        Examples:
            >>> ToolCall("search", {"query": "owls"}, id="call_1").to_openai()
            {'id': 'call_1', 'type': 'function', 'function': {'name': 'search', \
'arguments': '{"query": "owls"}'}}
            >>> ToolCall("search", {}).to_openai()["id"].startswith("call_")
            True
        """
        arguments = json.dumps(self.arguments, ensure_ascii=False)
        call_id = self.id
        if call_id is None:
            digest = hashlib.sha256(f"{self.name}\n{arguments}".encode()).hexdigest()
            call_id = f"call_{digest[:24]}"
        return {
            "id": call_id,
            "type": "function",
            "function": {"name": self.name, "arguments": arguments},
        }

    def to_dict(self) -> dict:
        """Return the call as a JSON-ready dict, as stored in trajectories.

        Returns:
            ``{"name", "arguments", "id"}``; ``ToolCall(**d)`` rebuilds the call.

        Examples:
            >>> ToolCall("answer", {"text": "42"}).to_dict()
            {'name': 'answer', 'arguments': {'text': '42'}, 'id': None}
        """
        return {"name": self.name, "arguments": self.arguments, "id": self.id}


@dataclass(frozen=True)
class Tool:
    """A function the agent may call, with its JSON schema.

    Build one with :meth:`from_function`; construct it directly only to hand-write a schema.

    Attributes:
        name: The name the agent calls it by (letters, digits, ``_`` and ``-``; at most 64).
        description: What the tool does, shown to the agent.
        parameters: A JSON Schema object: ``{"type": "object", "properties": {...},
            "required": [...], "additionalProperties": False}``. Arguments that are not in
            ``properties`` are refused unless ``additionalProperties`` is true or a schema.
        function: The Python callable, called with the validated arguments as keywords.
        final: Whether a call to this tool ends the episode (answer, submit).

    Examples:
        >>> def answer(text: str) -> str:
        ...     '''Give the final answer.
        ...
        ...     Args:
        ...         text: The answer.
        ...     '''
        ...     return text
        >>> tool = Tool.from_function(answer, final=True)
        >>> tool.schema["function"]["parameters"]["required"]
        ['text']
        >>> tool.validate({"text": 42})[1]
        "Tool 'answer' argument 'text' must be a string, got integer 42. answer takes: text \
(string, required)."
    """

    name: str
    description: str
    parameters: dict[str, Any]
    function: Callable[..., Any]
    final: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _TOOL_NAME_RE.match(self.name):
            raise ValueError(
                f"Invalid tool name {self.name!r}: use 1-64 letters, digits, '_' or '-', "
                "starting with a letter or '_'."
            )
        if not isinstance(self.parameters, dict) or self.parameters.get("type") != "object":
            raise ValueError(
                f"Tool {self.name!r}: parameters must be a JSON Schema dict with "
                f'"type": "object", got {_short(self.parameters)}.'
            )
        if not callable(self.function):
            raise TypeError(f"Tool {self.name!r}: function must be callable.")

    @classmethod
    def from_function(
        cls, fn: Callable[..., Any], *, name: str | None = None, final: bool = False
    ) -> Tool:
        """Build a tool from a typed function and its Google-style docstring.

        The description is the docstring's first paragraph; each parameter's description comes
        from its ``Args:`` entry. Supported hints: ``str``, ``int``, ``float``, ``bool``,
        ``list[T]``, ``tuple[T, ...]`` and ``tuple[A, B]`` (arrays; they arrive as lists),
        ``dict`` and ``dict[str, T]``, ``Literal[...]``, ``X | None``, unions and ``Any``.
        Parameters without a default are required; defaults go into the schema.

        Args:
            fn: A function, a bound method (``self`` is already bound), or a callable object.
            name: The tool's name; defaults to the function's ``__name__``.
            final: Whether calling the tool ends the episode.

        Returns:
            The tool.

        Raises:
            TypeError: A parameter has no type hint or an unsupported one, is ``*args`` or
                ``**kwargs`` or positional-only, or has a default that is not JSON data.

        Examples:
            >>> class Browser:
            ...     def open_page(self, url: str, page: int = 0) -> str:
            ...         '''Open a web page.
            ...
            ...         Args:
            ...             url: The address.
            ...             page: Which page of a long document.
            ...         '''
            ...         return f"{url}#{page}"
            >>> tool = Tool.from_function(Browser().open_page)
            >>> tool.parameters["properties"]["page"]
            {'type': 'integer', 'description': 'Which page of a long document.', 'default': 0}
            >>> def bad(x):
            ...     '''No hints.'''
            >>> Tool.from_function(bad)
            Traceback (most recent call last):
            ...
            TypeError: Tool 'bad': parameter 'x' has no type hint; annotate it (e.g. `x: str`) \
so its JSON schema can be derived.
        """
        tool_name = name or getattr(fn, "__name__", None) or type(fn).__name__
        # A callable object keeps its hints on its class's __call__.
        hinted = fn if inspect.isroutine(fn) else type(fn).__call__
        try:
            hints = typing.get_type_hints(hinted)
        except Exception as exc:  # NameError for an unresolvable forward reference, and others
            raise TypeError(
                f"Tool {tool_name!r}: cannot resolve the type hints of {fn!r}: {exc}"
            ) from exc
        summary, arg_docs = _parse_docstring(inspect.getdoc(fn) or "")

        properties: dict[str, Any] = {}
        required: list[str] = []
        for param in inspect.signature(fn).parameters.values():
            where = f"Tool {tool_name!r}: parameter {param.name!r}"
            if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
                raise TypeError(f"{where}: *args and **kwargs cannot be tool parameters.")
            if param.kind is param.POSITIONAL_ONLY:
                raise TypeError(f"{where} is positional-only; tools are called with keywords.")
            if param.name not in hints:
                if param.name in ("self", "cls"):
                    raise TypeError(
                        f"{where}: pass a bound method (instance.method), not the plain function."
                    )
                raise TypeError(
                    f"{where} has no type hint; annotate it (e.g. `{param.name}: str`) so its "
                    "JSON schema can be derived."
                )
            schema = _hint_schema(hints[param.name], where)
            if param.name in arg_docs:
                schema["description"] = arg_docs[param.name]
            if param.default is param.empty:
                required.append(param.name)
            else:
                schema["default"] = _json_default(param.default, where)
            properties[param.name] = schema

        parameters = {
            "type": "object",
            "properties": properties,
            "required": required,
            "additionalProperties": False,
        }
        return cls(tool_name, summary, parameters, fn, final)

    @property
    def schema(self) -> dict:
        """The OpenAI tool schema: ``{"type": "function", "function": {...}}``.

        Examples:
            >>> def ping() -> str:
            ...     '''Check the server is up.'''
            ...     return "pong"
            >>> Tool.from_function(ping).schema
            {'type': 'function', 'function': {'name': 'ping', 'description': 'Check the server \
is up.', 'parameters': {'type': 'object', 'properties': {}, 'required': [], \
'additionalProperties': False}}}
        """
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                # A copy, so a caller editing the schema cannot change how the tool validates.
                "parameters": copy.deepcopy(self.parameters),
            },
        }

    def validate(self, arguments: Any) -> tuple[dict[str, Any], str | None]:
        """Check arguments against the schema, converting where it is safe.

        An ``int`` is accepted for a ``number`` and converted to ``float``; an integral ``float``
        (``5.0``) is accepted for an ``integer`` and converted to ``int``. A ``bool`` is never an
        integer or a number, and a number is never a string. Tuples are converted to lists.

        Args:
            arguments: A dict, or a string holding a JSON object.

        Returns:
            ``(arguments with defaults filled in, None)`` when valid, else ``({}, message)``:
            a message for the agent naming the tool, the argument, the expected type, what was
            given, and the tool's parameters.

        Examples:
            >>> def search(query: str, k: int = 5) -> list[str]:
            ...     '''Search.'''
            ...     return []
            >>> tool = Tool.from_function(search)
            >>> tool.validate('{"query": "owls"}')
            ({'query': 'owls', 'k': 5}, None)
            >>> tool.validate({"query": "owls", "k": True})[1]
            "Tool 'search' argument 'k' must be an integer, got boolean True. search takes: \
query (string, required), k (integer, default 5)."
        """
        try:
            return self._validate(arguments), None
        except _Invalid as exc:
            return {}, f"Tool '{self.name}' {exc} {self._signature_sentence()}"
        except RecursionError:
            return {}, f"Tool '{self.name}' arguments are nested too deeply."

    def __call__(self, **arguments: Any) -> Any:
        """Call the function with keyword arguments (validate them first).

        Examples:
            >>> def add(a: int, b: int = 1) -> int:
            ...     '''Add.'''
            ...     return a + b
            >>> Tool.from_function(add)(a=2)
            3
        """
        return self.function(**arguments)

    def _validate(self, arguments: Any) -> dict[str, Any]:
        if isinstance(arguments, str):
            try:
                arguments = json.loads(arguments)
            except ValueError as exc:
                raise _Invalid(
                    f"arguments must be a JSON object, but {_short(arguments)} is not valid "
                    f"JSON ({exc})."
                ) from None
        if not isinstance(arguments, Mapping):
            raise _Invalid(
                "arguments must be a JSON object mapping argument names to values, got "
                f"{_kind(arguments)} {_short(arguments)}."
            )
        properties: dict[str, Any] = self.parameters.get("properties", {})
        extra_schema = self.parameters.get("additionalProperties", False)

        # Unknown names first: a misspelt argument usually also shows up as a missing one, and
        # "did you mean" is the more useful message.
        for key in arguments:
            if not isinstance(key, str):
                raise _Invalid(f"argument names must be strings, got {_short(key)}.")
            if key not in properties and extra_schema is False:
                raise _Invalid(f"got an unexpected argument {_short(key)}.{did_you_mean(key, properties, n=1)}")

        missing = [key for key in self.parameters.get("required", []) if key not in arguments]
        if missing:
            names = ", ".join(f"'{key}'" for key in missing)
            plural = "s" if len(missing) > 1 else ""
            raise _Invalid(f"is missing required argument{plural} {names}.")

        result: dict[str, Any] = {}
        for key, schema in properties.items():
            if key in arguments:
                result[key] = _coerce_argument(arguments[key], schema, key)
            elif "default" in schema:
                result[key] = copy.deepcopy(schema["default"])
        for key, value in arguments.items():
            if key not in properties:  # allowed by additionalProperties
                schema = extra_schema if isinstance(extra_schema, dict) else {}
                result[key] = _coerce_argument(value, schema, key)
        return result

    def _signature_sentence(self) -> str:
        properties = self.parameters.get("properties", {})
        if not properties:
            return f"{self.name} takes no arguments."
        required = set(self.parameters.get("required", []))
        parts = []
        for key, schema in properties.items():
            if key in required:
                detail = "required"
            elif "default" in schema:
                detail = f"default {_short(schema['default'])}"
            else:
                detail = "optional"
            parts.append(f"{key} ({_describe(schema)}, {detail})")
        return f"{self.name} takes: {', '.join(parts)}."


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
    if format not in _FORMATS:
        raise ValueError(f"Unknown tool format {format!r}; use one of {', '.join(_FORMATS)}.")
    if max_calls is not None and max_calls < 1:
        raise ValueError(f"max_calls must be at least 1 or None, got {max_calls}.")
    try:
        content, raw_calls = _extract(action, format, registry)
        return _resolve(content, raw_calls, registry, max_calls, require_call)
    except _ActionError as exc:
        example = _example(registry, format, exc.tool)
        return ParsedAction(exc.content, (), f"{exc.message}\nCorrect format: {example}")
    except Exception as exc:
        # Last line of defence for the "never raises" promise: a parser bug must not crash a
        # training run. Tests assert this branch is never reached.
        logger.exception("parse_action failed on an action; treating it as malformed")
        return ParsedAction(
            "",
            (),
            f"The action could not be parsed (internal parser error: {type(exc).__name__}). "
            f"Correct format: {_example(registry, format, None)}",
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
    if format not in _FORMATS:
        raise ValueError(f"Unknown tool format {format!r}; use one of {', '.join(_FORMATS)}.")
    intro = {
        "hermes": 'To call a tool, write a JSON object with its "name" and "arguments" inside '
        "<tool_call></tool_call> tags, for example:",
        "json": 'To call a tool, reply with a JSON object with its "name" and "arguments" (or a '
        "JSON list of such objects), for example:",
        "openai": "The tools are passed to you natively: call them through the tool_calls field "
        "of your reply.",
        "python": "To call a tool, write a Python call with literal arguments on its own line, "
        "for example:",
        "react": "To act, write one line `Action: tool[argument]`; the argument is the tool's "
        "first parameter. For example:",
    }[format]
    lines = [intro]
    if format != "openai":
        lines.append(_example(registry, format, None))
    lines += ["", "Available tools:"]
    for tool in registry.values():
        final = " Calling it ends the episode." if tool.final else ""
        description = f": {tool.description}" if tool.description else ""
        lines.append(f"- {_signature(tool, format)}{description}{final}")
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
    if format == "hermes":
        return f"{_OPEN}{_dumps({'name': call.name, 'arguments': call.arguments})}{_CLOSE}"
    if format == "json":
        return _dumps({"name": call.name, "arguments": call.arguments})
    if format == "openai":
        return {"role": "assistant", "content": None, "tool_calls": [call.to_openai()]}
    if format == "python":
        for key in call.arguments:
            if not key.isidentifier():
                raise ValueError(f"Argument {key!r} cannot be written as a Python keyword.")
        arguments = ", ".join(f"{k}={_python_repr(v)}" for k, v in call.arguments.items())
        return f"{call.name}({arguments})"
    if format == "react":
        value = next(iter(call.arguments.values()), "")
        return f"Action: {call.name}[{value if isinstance(value, str) else _dumps(value)}]"
    raise ValueError(f"Unknown tool format {format!r}; use one of {', '.join(_FORMATS)}.")


# --------------------------------------------------------------------------------------------
# Schema derivation


def _hint_schema(hint: Any, where: str) -> dict[str, Any]:
    """Return the JSON schema of one type hint."""
    if hint is Any:
        return {}
    if hint is None or hint is type(None):
        return {"type": "null"}
    # bool before int: bool is a subclass of int, but the schemas differ.
    simple = {bool: "boolean", str: "string", int: "integer", float: "number"}
    for python_type, json_type in simple.items():
        if hint is python_type:
            return {"type": json_type}

    origin, args = get_origin(hint), get_args(hint)
    if origin is Literal:
        return _literal_schema(args, where)
    if origin is Union or origin is types.UnionType:
        members = [arg for arg in args if arg is not type(None)]
        nullable = len(members) < len(args)
        if len(members) == 1:
            schema = _hint_schema(members[0], where)
        else:
            schema = {"anyOf": [_hint_schema(member, where) for member in members]}
        return _nullable(schema) if nullable else schema
    if hint is list or origin is list:
        if not args or args[0] is Any:
            return {"type": "array"}
        return {"type": "array", "items": _hint_schema(args[0], where)}
    if hint is tuple or origin is tuple:
        if not args or (len(args) == 2 and args[1] is Ellipsis and args[0] is Any):
            return {"type": "array"}
        if len(args) == 2 and args[1] is Ellipsis:
            return {"type": "array", "items": _hint_schema(args[0], where)}
        return {
            "type": "array",
            "prefixItems": [_hint_schema(arg, where) for arg in args],
            "minItems": len(args),
            "maxItems": len(args),
        }
    if hint is dict or origin is dict:
        if not args:
            return {"type": "object"}
        if args[0] is not str:
            raise TypeError(f"{where}: dict keys must be str (JSON object keys), got {hint!r}.")
        if args[1] is Any:
            return {"type": "object"}
        return {"type": "object", "additionalProperties": _hint_schema(args[1], where)}
    raise TypeError(
        f"{where}: unsupported type hint {hint!r}; use str, int, float, bool, list[...], "
        "tuple[...], dict[str, ...], Literal[...], X | None or Any."
    )


def _literal_schema(values: tuple[Any, ...], where: str) -> dict[str, Any]:
    json_types: list[str] = []
    for value in values:
        if isinstance(value, bool):
            json_type = "boolean"
        elif isinstance(value, int):
            json_type = "integer"
        elif isinstance(value, str):
            json_type = "string"
        elif value is None:
            json_type = "null"
        else:
            raise TypeError(
                f"{where}: Literal values must be str, int, bool or None; got {value!r}."
            )
        if json_type not in json_types:
            json_types.append(json_type)
    return {"type": json_types[0] if len(json_types) == 1 else json_types, "enum": list(values)}


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    """Return ``schema`` widened to accept ``null`` as well."""
    if not schema or schema.get("type") == "null":  # Any, or None itself
        return schema
    schema = dict(schema)
    if "anyOf" in schema:
        schema["anyOf"] = [*schema["anyOf"], {"type": "null"}]
        return schema
    current = schema["type"]
    current = [current] if isinstance(current, str) else list(current)
    schema["type"] = [*current, "null"] if "null" not in current else current
    if "enum" in schema and None not in schema["enum"]:
        schema["enum"] = [*schema["enum"], None]
    return schema


def _json_default(default: Any, where: str) -> Any:
    """Return a parameter's default as JSON data (tuples become lists)."""
    try:
        return json.loads(json.dumps(default))
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{where}: default {default!r} is not JSON data ({exc}).") from exc


_SECTION_RE = re.compile(r"^([A-Z][A-Za-z ]*):\s*$")
_ARG_RE = re.compile(r"^\*{0,2}(\w+)\s*(?:\([^)]*\))?\s*:\s*(.*)$")


def _parse_docstring(doc: str) -> tuple[str, dict[str, str]]:
    """Return a Google-style docstring's summary paragraph and its ``Args:`` descriptions."""
    lines = doc.splitlines()
    summary: list[str] = []
    for line in lines:
        if not line.strip() or _SECTION_RE.match(line.strip()):
            break
        summary.append(line.strip())

    arg_docs: dict[str, str] = {}
    in_args = False
    entry_indent: int | None = None
    current: str | None = None
    for line in lines:
        stripped = line.strip()
        indent = len(line) - len(line.lstrip())
        if indent == 0 and stripped:
            # A new top-level line (section header or text) ends the Args section.
            in_args = stripped in ("Args:", "Arguments:", "Parameters:")
            entry_indent = current = None
            continue
        if not in_args or not stripped:
            continue
        if entry_indent is None:
            entry_indent = indent
        match = _ARG_RE.match(stripped)
        if indent <= entry_indent and match:
            current = match.group(1)
            arg_docs[current] = match.group(2).strip()
        elif current is not None:  # a continuation line of the current entry
            arg_docs[current] = f"{arg_docs[current]} {stripped}".strip()
    return " ".join(summary), arg_docs


# --------------------------------------------------------------------------------------------
# Validation


class _Invalid(Exception):
    """An argument problem; the message continues "Tool 'name' ..."."""


class _Mismatch(Exception):
    """A value that does not fit its schema."""

    def __init__(self, path: str, schema: dict[str, Any], value: Any, detail: str = "") -> None:
        super().__init__(path)
        self.path, self.schema, self.value, self.detail = path, schema, value, detail


def _coerce_argument(value: Any, schema: dict[str, Any], name: str) -> Any:
    try:
        return _coerce(value, schema, name)
    except _Mismatch as exc:
        message = (
            f"argument '{exc.path}' must be {_with_article(_describe(exc.schema))}, got "
            f"{_kind(exc.value)} {_short(exc.value)}."
        )
        if exc.detail:
            message += f" {exc.detail}"
        raise _Invalid(message) from None


def _coerce(value: Any, schema: dict[str, Any], path: str) -> Any:
    """Return ``value`` converted to fit ``schema``, or raise :class:`_Mismatch`."""
    if "anyOf" in schema:
        for option in schema["anyOf"]:
            try:
                return _coerce(value, option, path)
            except _Mismatch:
                continue
        raise _Mismatch(path, schema, value)

    json_type = schema.get("type")
    if json_type is not None:
        for candidate in [json_type] if isinstance(json_type, str) else json_type:
            fits, converted = _as_type(value, candidate)
            if fits:
                value = converted
                break
        else:
            raise _Mismatch(path, schema, value)
    if "enum" in schema and not any(_same_value(value, option) for option in schema["enum"]):
        raise _Mismatch(path, schema, value)

    if isinstance(value, (list, tuple)) and ("items" in schema or "prefixItems" in schema):
        value = list(value)
        if not schema.get("minItems", 0) <= len(value) <= schema.get("maxItems", math.inf):
            raise _Mismatch(path, schema, value, f"It has {len(value)} items.")
        prefix = schema.get("prefixItems", [])
        return [
            _coerce(item, prefix[i] if i < len(prefix) else schema.get("items", {}), f"{path}[{i}]")
            for i, item in enumerate(value)
        ]
    if isinstance(value, Mapping) and ("properties" in schema or "additionalProperties" in schema):
        return _coerce_object(value, schema, path)
    return value


def _coerce_object(value: Mapping, schema: dict[str, Any], path: str) -> dict[str, Any]:
    properties = schema.get("properties", {})
    extra = schema.get("additionalProperties", True)
    for key in schema.get("required", []):
        if key not in value:
            raise _Mismatch(path, schema, value, f"It is missing the key {key!r}.")
    result = {}
    for key, item in value.items():
        if key in properties:
            result[key] = _coerce(item, properties[key], f"{path}[{key!r}]")
        elif extra is False:
            raise _Mismatch(path, schema, value, f"It has the unexpected key {_short(key)}.")
        else:
            result[key] = _coerce(
                item, extra if isinstance(extra, dict) else {}, f"{path}[{key!r}]"
            )
    return result


def _as_type(value: Any, json_type: str) -> tuple[bool, Any]:
    """Return whether ``value`` is of ``json_type``, and the value converted to it."""
    if json_type == "string":
        return isinstance(value, str), value
    if json_type == "boolean":
        return isinstance(value, bool), value
    if json_type == "null":
        return value is None, value
    if isinstance(value, bool):  # a bool is never a number, though Python says it is an int
        return False, value
    if json_type == "integer":
        if isinstance(value, int):
            return True, value
        if isinstance(value, float) and math.isfinite(value) and value.is_integer():
            return True, int(value)  # JSON Schema counts 5.0 as an integer
        return False, value
    if json_type == "number":
        if isinstance(value, int):
            try:
                return True, float(value)
            except OverflowError:
                return False, value
        return isinstance(value, float) and math.isfinite(value), value
    if json_type == "array":
        return isinstance(value, (list, tuple)), value
    if json_type == "object":
        if isinstance(value, Mapping) and all(isinstance(key, str) for key in value):
            return True, dict(value)
        return False, value
    return False, value


def _same_value(value: Any, option: Any) -> bool:
    # True == 1 in Python, but an enum of 1 must not accept true.
    return isinstance(value, bool) == isinstance(option, bool) and value == option


_PLURALS = {
    "string": "strings",
    "integer": "integers",
    "number": "numbers",
    "boolean": "booleans",
    "object": "objects",
    "array": "arrays",
}


def _describe(schema: dict[str, Any]) -> str:
    """Describe a schema for the agent: "string", "array of integers", "one of 'a', 'b'"."""
    if "enum" in schema:
        return "one of " + ", ".join(_short(option) for option in schema["enum"])
    if "anyOf" in schema:
        return " or ".join(_describe(option) for option in schema["anyOf"])
    json_type = schema.get("type")
    if json_type is None:
        return "any value"
    if not isinstance(json_type, str):
        return " or ".join(_describe({**schema, "type": single}) for single in json_type)
    if json_type == "array" and "prefixItems" in schema:
        items = ", ".join(_describe(item) for item in schema["prefixItems"])
        return f"array of {len(schema['prefixItems'])} items ({items})"
    if json_type == "array" and schema.get("items"):
        return f"array of {_plural(schema['items'])}"
    if json_type == "object" and isinstance(schema.get("additionalProperties"), dict):
        return f"object with {_describe(schema['additionalProperties'])} values"
    return json_type


def _plural(schema: dict[str, Any]) -> str:
    """Describe several values of ``schema``: "strings", "arrays of integers"."""
    if schema.get("type") == "array" and schema.get("items") and "prefixItems" not in schema:
        return f"arrays of {_plural(schema['items'])}"
    single = _describe(schema)
    return _PLURALS.get(single, f"({single})")


def _with_article(phrase: str) -> str:
    if phrase.startswith(("one of", "any ", "null")):
        return phrase
    return f"an {phrase}" if phrase[0] in "aeiou" else f"a {phrase}"


def _kind(value: Any) -> str:
    """Name a value's JSON type, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number" if math.isfinite(value) else "non-finite number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, (list, tuple)):
        return "array"
    if isinstance(value, Mapping):
        return "object"
    return type(value).__name__


def _short(value: Any) -> str:
    """Return ``repr(value)`` cut to about 60 characters."""
    if isinstance(value, str) and len(value) > 4 * _SHORT:
        value = value[: 4 * _SHORT]  # repr of a 1 MB string only to throw most of it away
    try:
        text = repr(value)
    except RecursionError:
        return f"<deeply nested {type(value).__name__}>"
    return text if len(text) <= _SHORT else f"{text[: _SHORT - 3]}..."


# --------------------------------------------------------------------------------------------
# Parsing


class _RawCall(NamedTuple):
    """A call as written, before the tool is looked up and its arguments validated."""

    name: str
    arguments: Any
    id: str | None = None
    positional: tuple[Any, ...] = ()  # python positional arguments, or the react bracket text
    bracket: bool = False  # react: ``positional`` holds the text between the brackets


class _ActionError(Exception):
    """A malformed action: ``message`` is for the agent; ``tool`` picks the example call."""

    def __init__(self, message: str, content: str = "", tool: str | None = None) -> None:
        super().__init__(message)
        self.message, self.content, self.tool = message, content, tool


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


def _extract(action: Any, format: str, names: Mapping[str, Any]) -> tuple[str, list[_RawCall]]:
    """Return the content and the calls as written, or raise :class:`_ActionError`."""
    if isinstance(action, str):
        return _parse_text(action, format, names)
    if isinstance(action, Mapping):
        return _extract_message(action, format, names)
    raise _ActionError(
        f"The action must be a string or an assistant message dict, got {type(action).__name__}."
    )


def _extract_message(
    message: Mapping, format: str, names: Mapping[str, Any]
) -> tuple[str, list[_RawCall]]:
    content = message.get("content")
    if isinstance(content, list):  # OpenAI content parts: keep the text ones
        content = "\n".join(
            part["text"]
            for part in content
            if isinstance(part, Mapping) and isinstance(part.get("text"), str)
        )
    if content is not None and not isinstance(content, str):
        raise _ActionError(
            f'The message\'s "content" must be a string or null, got {_kind(content)}.'
        )
    text = content or ""

    tool_calls = message.get("tool_calls")
    if tool_calls is None or (isinstance(tool_calls, (list, tuple)) and not tool_calls):
        return _parse_text(text, format, names)
    if not isinstance(tool_calls, (list, tuple)):
        raise _ActionError(
            f'The message\'s "tool_calls" must be a list, got {_kind(tool_calls)} '
            f"{_short(tool_calls)}.",
            text.strip(),
        )
    calls = [
        _openai_call(entry, f"tool_calls[{i}]", text.strip()) for i, entry in enumerate(tool_calls)
    ]
    return text.strip(), calls


def _openai_call(entry: Any, where: str, content: str) -> _RawCall:
    if not isinstance(entry, Mapping):
        raise _ActionError(
            f"{where} must be an object, got {_kind(entry)} {_short(entry)}.", content
        )
    if entry.get("type", "function") != "function":
        raise _ActionError(
            f'{where} has type {_short(entry.get("type"))}; only "function" calls are supported.',
            content,
        )
    function = entry.get("function")
    if not isinstance(function, Mapping):
        raise _ActionError(
            f'{where} must have a "function" object with "name" and "arguments", got '
            f"{_kind(function)} {_short(function)}.",
            content,
        )
    name = function.get("name")
    if not isinstance(name, str) or not name.strip():
        raise _ActionError(
            f'{where}.function needs a "name" string, got {_kind(name)} {_short(name)}.', content
        )
    arguments = function.get("arguments")
    if arguments is None or (isinstance(arguments, str) and not arguments.strip()):
        arguments = {}
    elif isinstance(arguments, str):
        try:
            arguments = json.loads(arguments)
        except (ValueError, RecursionError) as exc:
            raise _ActionError(
                f"{where}.function.arguments is not valid JSON ({_json_error(exc)}): "
                f"{_short(arguments)}.",
                content,
                name.strip(),
            ) from None
    elif not isinstance(arguments, Mapping):
        raise _ActionError(
            f"{where}.function.arguments must be a JSON object or a string holding one, got "
            f"{_kind(arguments)} {_short(arguments)}.",
            content,
            name.strip(),
        )
    call_id = entry.get("id")
    return _RawCall(
        name.strip(), arguments, call_id if isinstance(call_id, str) and call_id else None
    )


def _call_from_object(obj: Any, where: str, content: str) -> _RawCall:
    """Read ``{"name": ..., "arguments": ...}`` (hermes and json formats)."""
    if not isinstance(obj, dict):
        raise _ActionError(
            f'{where}A tool call must be a JSON object like {{"name": ..., "arguments": {{...}}}}, '
            f"got {_kind(obj)} {_short(obj)}.",
            content,
        )
    if "name" not in obj:
        raise _ActionError(f'{where}The tool call is missing "name": {_short(obj)}.', content)
    name = obj["name"]
    if not isinstance(name, str) or not name.strip():
        raise _ActionError(
            f'{where}The tool call\'s "name" must be a non-empty string, got {_kind(name)} '
            f"{_short(name)}.",
            content,
        )
    # Llama-style models write "parameters"; missing, null or "" arguments mean no arguments.
    arguments = obj.get("arguments", obj.get("parameters"))
    if arguments is None or (isinstance(arguments, str) and not arguments.strip()):
        arguments = {}
    return _RawCall(name.strip(), arguments)


def _json_error(exc: BaseException) -> str:
    if isinstance(exc, RecursionError):
        return "nested too deeply"
    return str(exc)


# A ``` or ```json fence; the language tag is optional.
_FENCE_RE = re.compile(r"```[ \t]*([A-Za-z0-9_+-]*)[ \t]*\n?(.*?)```", re.DOTALL)


def _unfence(text: str) -> str | None:
    """Return the inside of ``text`` when all of it is one fenced block, else ``None``."""
    if not (text.startswith("```") and text.endswith("```") and len(text) >= 6):
        return None
    match = _FENCE_RE.fullmatch(text)
    return match.group(2).strip() if match else None


def _where(i: int, n: int) -> str:
    """The prefix that says which call a message is about, when there are several."""
    return f"Call {i + 1} of {n}: " if n > 1 else ""


# hermes -------------------------------------------------------------------------------------

_OPEN, _CLOSE = "<tool_call>", "</tool_call>"


def _parse_hermes(text: str) -> tuple[str, list[_RawCall]]:
    outside: list[str] = []
    blocks: list[str] = []
    pos = 0
    while (start := text.find(_OPEN, pos)) != -1:
        end = text.find(_CLOSE, start + len(_OPEN))
        inner = text[start + len(_OPEN) : end] if end != -1 else ""
        if end == -1 or _OPEN in inner:
            outside.append(text[pos:start])
            raise _ActionError(
                f"A {_OPEN} is not closed: end each call with {_CLOSE}.",
                "".join(outside).strip(),
            )
        outside.append(text[pos:start])
        blocks.append(inner)
        pos = end + len(_CLOSE)
    outside.append(text[pos:])
    content = "".join(outside).strip()
    if _CLOSE in content:
        raise _ActionError(f"Found {_CLOSE} without a matching {_OPEN} before it.", content)

    calls = []
    for i, block in enumerate(blocks):
        where = _where(i, len(blocks))
        source = block.strip()
        source = _unfence(source) or source  # some models fence the JSON inside the tags
        if not source:
            raise _ActionError(f"{where}The {_OPEN} block is empty.", content)
        try:
            obj = json.loads(source)
        except (ValueError, RecursionError) as exc:
            raise _ActionError(
                f"{where}Invalid JSON in the {_OPEN} block ({_json_error(exc)}).", content
            ) from None
        calls.append(_call_from_object(obj, where, content))
    return content, calls


# json ---------------------------------------------------------------------------------------

# Bounds on the scan for JSON inside prose, so that pathological text ("[" * 10**6) stays fast.
_MAX_JSON_STARTS = 200
_MAX_JSON_SCAN = 4_000_000


def _parse_json(text: str) -> tuple[str, list[_RawCall]]:
    stripped = text.strip()
    if not stripped:
        return "", []

    # 1. The whole text (or the one fenced block it consists of) is JSON.
    whole = _unfence(stripped)
    whole = stripped if whole is None else whole
    try:
        value = json.loads(whole)
    except (ValueError, RecursionError):
        pass
    else:
        if isinstance(value, (dict, list)):
            return "", _json_calls(value, "")
        return stripped, []  # a bare JSON string or number is just text

    # 2. A fenced block holding JSON, with prose around it.
    attempted: str | None = None  # the first fenced JSON that did not decode, for the message
    for match in _FENCE_RE.finditer(text):
        block = match.group(2).strip()
        try:
            value = json.loads(block)
        except (ValueError, RecursionError):
            if attempted is None and block[:1] in ("{", "["):
                attempted = block
            continue
        if isinstance(value, (dict, list)):
            content = (text[: match.start()] + text[match.end() :]).strip()
            return content, _json_calls(value, content)

    # 3. JSON values that look like calls, anywhere in the prose.
    found, spans = _scan_json_calls(text)
    if found:
        content = _remove_spans(text, spans).strip()
        calls: list[_RawCall] = []
        for value in found:
            calls += _json_calls(value, content, count_hint=len(found))
        return content, calls

    # 4. Nothing usable: if the agent clearly tried to write JSON, say why it does not parse.
    if attempted is None and whole[:1] in ("{", "["):
        attempted = whole
    if attempted is not None:
        try:
            json.loads(attempted)
        except (ValueError, RecursionError) as exc:
            raise _ActionError(f"Invalid JSON ({_json_error(exc)}).", stripped) from None
    return stripped, []


def _json_calls(value: Any, content: str, count_hint: int = 1) -> list[_RawCall]:
    items = value if isinstance(value, list) else [value]
    n = len(items) if isinstance(value, list) else count_hint
    return [_call_from_object(item, _where(i, n), content) for i, item in enumerate(items)]


def _looks_like_call(value: Any) -> bool:
    if isinstance(value, dict):
        return "name" in value
    if isinstance(value, list):
        return bool(value) and all(isinstance(item, dict) and "name" in item for item in value)
    return False


def _scan_json_calls(text: str) -> tuple[list[Any], list[tuple[int, int]]]:
    decoder = json.JSONDecoder()
    found: list[Any] = []
    spans: list[tuple[int, int]] = []
    tries = scanned = 0
    pos = 0
    for match in re.finditer(r"[{\[]", text):
        start = match.start()
        if start < pos:  # inside a value already decoded
            continue
        tries += 1
        if tries > _MAX_JSON_STARTS or scanned > _MAX_JSON_SCAN:
            break
        try:
            value, end = decoder.raw_decode(text, start)
        except ValueError as exc:
            scanned += max(getattr(exc, "pos", start) - start, 1)
            continue
        except RecursionError:
            scanned += 1000
            continue
        scanned += end - start
        pos = end  # skip over any decoded value, a call or not
        if _looks_like_call(value):
            found.append(value)
            spans.append((start, end))
    return found, spans


def _remove_spans(text: str, spans: list[tuple[int, int]]) -> str:
    pieces, pos = [], 0
    for start, end in spans:
        pieces.append(text[pos:start])
        pos = end
    pieces.append(text[pos:])
    return "".join(pieces)


# python -------------------------------------------------------------------------------------

# A line that may be a call: a (dotted) name right before "(" and a ")" at the end.
_PY_LINE_RE = re.compile(r"^[A-Za-z_][\w.]*\(.*\)\s*;?$")
_LITERALS_ONLY = (
    "arguments must be literal values (strings, numbers, True/False/None, lists, dicts)"
)


def _parse_python(text: str) -> tuple[str, list[_RawCall]]:
    stripped = text.strip()
    # 1. The whole text (or the one fenced block it consists of) is a list of calls.
    whole = _unfence(stripped)
    nodes = _python_calls(stripped if whole is None else whole)
    if nodes:
        return "", [_python_call(node, _where(i, len(nodes)), "") for i, node in enumerate(nodes)]

    # 2. A fenced block of calls, with prose around it.
    for match in _FENCE_RE.finditer(text):
        nodes = _python_calls(match.group(2).strip())
        if nodes:
            content = (text[: match.start()] + text[match.end() :]).strip()
            n = len(nodes)
            return content, [
                _python_call(node, _where(i, n), content) for i, node in enumerate(nodes)
            ]

    # 3. Lines that are calls, with prose lines around them.
    call_lines: list[list[ast.Call]] = []
    other_calls: list[ast.Call] = []  # calls of os.system(...) and the like
    content_lines: list[str] = []
    for line in text.splitlines():
        candidate = line.strip().strip("`").strip()
        nodes = _python_calls(candidate) if _PY_LINE_RE.match(candidate) else None
        if nodes and all(isinstance(node.func, ast.Name) for node in nodes):
            call_lines.append(nodes)
            continue
        if nodes:
            other_calls += nodes
        content_lines.append(line)
    content = "\n".join(content_lines).strip()
    nodes = [node for line_nodes in call_lines for node in line_nodes]
    if not nodes and other_calls:
        # Only a call of something that is not a tool name: tell the agent rather than ignore it.
        nodes = other_calls[:1]
        content = text.strip()
    return content, [
        _python_call(node, _where(i, len(nodes)), content) for i, node in enumerate(nodes)
    ]


def _python_calls(source: str) -> list[ast.Call] | None:
    """Return the calls when ``source`` is only call statements (or lists of calls), else None."""
    if not source or "(" not in source:
        return None
    try:
        # Agent text can hold invalid escapes ("\\d") that make the parser warn; they are noise.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            module = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError, OverflowError):
        return None
    calls: list[ast.Call] = []
    for statement in module.body:
        if not isinstance(statement, ast.Expr):
            return None
        value = statement.value
        if isinstance(value, ast.Call):
            calls.append(value)
        elif (
            isinstance(value, (ast.List, ast.Tuple))
            and value.elts
            and all(isinstance(item, ast.Call) for item in value.elts)
        ):
            calls += value.elts  # BFCL style: [search(query="a"), open_page(url="b")]
        else:
            return None
    return calls or None


def _python_call(node: ast.Call, where: str, content: str) -> _RawCall:
    if not isinstance(node.func, ast.Name):
        raise _ActionError(
            f"{where}Only a tool can be called, by its plain name like search(...); got "
            f"`{_unparse(node.func)}(...)`.",
            content,
        )
    name = node.func.id
    positional = []
    for i, arg in enumerate(node.args):
        if isinstance(arg, ast.Starred):
            raise _ActionError(
                f"{where}{name}(...): *args is not allowed; {_LITERALS_ONLY}.", content, name
            )
        positional.append(
            _python_literal(arg, f"positional argument {i + 1}", where, name, content)
        )
    keywords = {}
    for keyword in node.keywords:
        if keyword.arg is None:
            raise _ActionError(
                f"{where}{name}(...): **kwargs is not allowed; {_LITERALS_ONLY}.", content, name
            )
        keywords[keyword.arg] = _python_literal(
            keyword.value, f"argument '{keyword.arg}'", where, name, content
        )
    return _RawCall(name, keywords, None, tuple(positional))


def _python_literal(node: ast.expr, label: str, where: str, name: str, content: str) -> Any:
    try:
        return _jsonable(ast.literal_eval(node))
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        raise _ActionError(
            f"{where}{name}(...): {_LITERALS_ONLY}; {label} is `{_unparse(node)}`.", content, name
        ) from None


def _jsonable(value: Any) -> Any:
    """Return a Python literal as JSON data, or raise ValueError (sets, bytes, complex...)."""
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("not a finite number")
        return value
    if isinstance(value, (list, tuple)):
        return [_jsonable(item) for item in value]
    if isinstance(value, dict) and all(isinstance(key, str) for key in value):
        return {key: _jsonable(item) for key, item in value.items()}
    raise ValueError(f"{type(value).__name__} is not JSON data")


def _unparse(node: ast.AST) -> str:
    try:
        text = ast.unparse(node)
    except Exception:  # unparse has no documented failure modes; never let it break parsing
        return "..."
    return text if len(text) <= _SHORT else f"{text[: _SHORT - 3]}..."


# react --------------------------------------------------------------------------------------

# "Action: click[Buy Now]", also "Action 2:" (ReAct numbering) and markdown "**Action:**".
_ACTION_LINE_RE = re.compile(
    r"^[ \t>*_]*action[ \t]*\d*[ \t]*[*_]*:[*_]*(.*)$", re.IGNORECASE | re.MULTILINE
)
_REACT_CALL_RE = re.compile(r"^([A-Za-z_][\w-]*)[ \t]*\[(.*)\]$", re.DOTALL)
# The lookbehind keeps a scan from starting inside a longer word (and keeps it linear).
_REACT_NAME_RE = re.compile(r"(?<![\w-])([A-Za-z_][\w-]*)\[")


def _parse_react(text: str, names: Mapping[str, Any]) -> tuple[str, list[_RawCall]]:
    action_lines = list(_ACTION_LINE_RE.finditer(text))
    if action_lines:
        content = _remove_spans(text, [m.span() for m in action_lines]).strip()
        calls = []
        for i, match in enumerate(action_lines):
            where = _where(i, len(action_lines))
            # Models sometimes quote the action (Action: `search[shoes]`) or end it with a period.
            value = match.group(1).strip().strip("`'\"").strip()
            if value.endswith("]."):
                value = value[:-1]
            call = _REACT_CALL_RE.match(value)
            if not call:
                what = f"`{_short(value)[1:-1]}`" if value else "empty"
                raise _ActionError(f"{where}The action is {what}; write name[argument].", content)
            calls.append(_react_call(call.group(1), call.group(2)))
        return content, calls

    # No "Action:" line: look for name[...] anywhere in the text.
    found: list[tuple[str, str, int, int]] = []  # name, argument, span in text
    for line_start, line in _lines_with_offsets(text):
        if "[" not in line:
            continue
        closing = _matching_brackets(line)
        last_close = line.rfind("]")
        taken = 0  # end of the previous call on this line: search[list[str]] is one call
        for match in _REACT_NAME_RE.finditer(line):
            open_at = match.end() - 1
            # An unbalanced "[" (click[< Prev [2]) runs to the line's last "]".
            close_at = closing.get(open_at, last_close)
            if match.start() < taken or close_at <= open_at:
                continue
            taken = close_at + 1
            argument = line[open_at + 1 : close_at]
            found.append((match.group(1), argument, line_start + match.start(), line_start + taken))
    # Prose has brackets too (list[str]); when some of the matches name a tool, only those count.
    # When none does, all are kept so the agent hears "Unknown tool ... Did you mean ...".
    if any(name in names for name, _, _, _ in found):
        found = [item for item in found if item[0] in names]
    content = _remove_spans(text, [(start, end) for _, _, start, end in found]).strip()
    return content, [_react_call(name, argument) for name, argument, _, _ in found]


def _react_call(name: str, argument: str) -> _RawCall:
    argument = argument.strip()
    # Empty brackets mean no arguments; otherwise the text is the tool's first parameter.
    return _RawCall(name, {}, None, (argument,) if argument else (), bracket=True)


def _lines_with_offsets(text: str) -> list[tuple[int, str]]:
    result, pos = [], 0
    for line in text.split("\n"):
        result.append((pos, line))
        pos += len(line) + 1
    return result


def _matching_brackets(line: str) -> dict[int, int]:
    """Map the index of each balanced "[" in ``line`` to the index of its "]"."""
    stack: list[int] = []
    pairs: dict[int, int] = {}
    for i, char in enumerate(line):
        if char == "[":
            stack.append(i)
        elif char == "]" and stack:
            pairs[stack.pop()] = i
    return pairs


def _parse_text(text: str, format: str, names: Mapping[str, Any]) -> tuple[str, list[_RawCall]]:
    if format == "hermes":
        return _parse_hermes(text)
    if format == "json":
        return _parse_json(text)
    if format == "python":
        return _parse_python(text)
    if format == "react":
        return _parse_react(text, names)
    # openai: calls only come through "tool_calls"; text is all content.
    return text.strip(), []


# --------------------------------------------------------------------------------------------
# Resolving raw calls against the tools


def _resolve(
    content: str,
    raw_calls: list[_RawCall],
    registry: dict[str, Tool],
    max_calls: int | None,
    require_call: bool,
) -> ParsedAction:
    if not raw_calls:
        if require_call:
            raise _ActionError("No tool call found.", content)
        return ParsedAction(content, ())
    n = len(raw_calls)
    if max_calls is not None and n > max_calls:
        names = ", ".join(_short_name(call.name) for call in raw_calls[:10])
        names += ", ..." if n > 10 else ""
        noun = "tool" if max_calls == 1 else "tools"
        raise _ActionError(
            f"Call at most {max_calls} {noun} per turn; this turn called {n} ({names}).", content
        )

    calls = []
    for i, raw in enumerate(raw_calls):
        prefix = f"Call {i + 1} of {n}: " if n > 1 else ""
        tool = registry.get(raw.name)
        if tool is None:
            raise _ActionError(prefix + _unknown_tool(raw.name, registry), content)
        arguments = raw.arguments
        if raw.positional:
            arguments = _bind_positional(tool, raw, prefix, content)
        validated, error = tool.validate(arguments)
        if error is not None:
            raise _ActionError(prefix + error, content, tool.name)
        calls.append(ToolCall(tool.name, validated, raw.id))
    return ParsedAction(content, tuple(calls))


def _bind_positional(tool: Tool, raw: _RawCall, prefix: str, content: str) -> dict[str, Any]:
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
        raise _ActionError(prefix + message, content, tool.name)
    arguments = dict(zip(names, raw.positional, strict=False))
    for key, value in raw.arguments.items():
        if key in arguments:
            raise _ActionError(
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


def message_text(message: Mapping[str, Any]) -> str:
    """A message's content as text, with structured tool calls written out Hermes-style.

    Args:
        message: An OpenAI-format message.

    Returns:
        The content (text parts joined), then one ``<tool_call>{"name", "arguments"}</tool_call>``
        block per structured tool call.

    Examples:
        >>> call = {"type": "function", "function": {"name": "f", "arguments": '{"x": 1}'}}
        >>> print(message_text({"role": "assistant", "content": "ok", "tool_calls": [call]}))
        ok
        <tool_call>
        {"name": "f", "arguments": {"x": 1}}
        </tool_call>
    """
    content = message.get("content")
    if isinstance(content, list):  # OpenAI content parts
        content = "".join(part.get("text", "") for part in content if isinstance(part, Mapping))
    text = content if isinstance(content, str) else ""
    for call in message.get("tool_calls") or ():
        function = call.get("function", call) if isinstance(call, Mapping) else {}
        arguments = function.get("arguments", {})
        if isinstance(arguments, str):
            try:
                arguments = json.loads(arguments)
            except ValueError:
                pass
        payload = json.dumps(
            {"name": function.get("name"), "arguments": arguments}, ensure_ascii=False
        )
        text += f"\n<tool_call>\n{payload}\n</tool_call>"
    return text


def did_you_mean(word: str, choices: Iterable[str], *, n: int = 3, key: Callable[[str], str] = str.lower) -> str:
    """A hint naming the choices closest to a misspelled name, for an error message.

    Names are compared through ``key`` (by default ignoring case) and shown as spelled. A name over
    100 characters gets no hint (difflib is quadratic in its length).

    Args:
        word: What the user wrote.
        choices: The valid names.
        n: At most this many suggestions.
        key: What of a name is compared.

    Returns:
        ``" Did you mean 'a' or 'b'?"`` (with a leading space, to append to a sentence), or ``""``.

    Examples:
        >>> did_you_mean("fromat", ["format", "outcome"])
        " Did you mean 'format'?"
        >>> did_you_mean("Chinok", ["chinook", "nycflights13"])
        " Did you mean 'chinook'?"
        >>> did_you_mean("xyz", ["format"])
        ''
    """
    word = str(word)
    if len(word) > 100:
        return ""
    spelled = {key(str(choice)): str(choice) for choice in choices}
    close = [spelled[match] for match in difflib.get_close_matches(key(word), spelled, n=n, cutoff=0.6)]
    return f" Did you mean {' or '.join(map(repr, close))}?" if close else ""


# --------------------------------------------------------------------------------------------
# Examples and signatures shown to the agent


def _placeholder(schema: dict[str, Any]) -> Any:
    if schema.get("enum"):
        return schema["enum"][0]
    if "anyOf" in schema:
        return _placeholder(schema["anyOf"][0])
    json_type = schema.get("type", "string")
    if not isinstance(json_type, str):
        json_type = next((t for t in json_type if t != "null"), "null")
    return {
        "string": "...",
        "integer": 1,
        "number": 0.5,
        "boolean": True,
        "array": [],
        "object": {},
        "null": None,
    }.get(json_type, "...")


def _example(registry: dict[str, Tool], format: str, tool_name: str | None) -> str:
    """One correct call in ``format``, of ``tool_name`` or else the first tool."""
    tool = registry.get(tool_name or "") or next(iter(registry.values()), None)
    name = tool.name if tool else "tool_name"
    properties = tool.parameters.get("properties", {}) if tool else {}
    required = tool.parameters.get("required", []) if tool else []
    arguments = {key: _placeholder(properties[key]) for key in required if key in properties}

    if format == "hermes":
        return f"{_OPEN}{_dumps({'name': name, 'arguments': arguments})}{_CLOSE}"
    if format == "json":
        return _dumps({"name": name, "arguments": arguments})
    if format == "openai":
        entry = {"type": "function", "function": {"name": name, "arguments": _dumps(arguments)}}
        return f'a "tool_calls" list in your message, like [{_dumps(entry)}]'
    if format == "python":
        return f"{name}({', '.join(f'{k}={_python_repr(v)}' for k, v in arguments.items())})"
    first = next(iter(properties), None)
    argument = _placeholder(properties[first]) if first is not None else ""
    return f"Action: {name}[{argument}]"


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _python_repr(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False) if isinstance(value, str) else repr(value)


def _signature(tool: Tool, format: str) -> str:
    properties: dict[str, Any] = tool.parameters.get("properties", {})
    if format == "react":
        return f"{tool.name}[{next(iter(properties), '')}]"
    parts = []
    for key, schema in properties.items():
        part = f"{key}: {_describe(schema)}"
        if "default" in schema:
            default = schema["default"]
            part += f" = {repr(default) if format == 'python' else _dumps(default)}"
        parts.append(part)
    return f"{tool.name}({', '.join(parts)})"
