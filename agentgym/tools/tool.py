"""A :class:`Tool`: a typed Python function, its JSON schema and the checking of a call's arguments.

The schema comes from the type hints and the Google-style docstring; :meth:`Tool.validate` checks
and converts a call's arguments against it and says, in a sentence for the agent, what is wrong.
See :mod:`agentgym.tools` for why this is in-house code rather than pydantic or transformers.
"""

from __future__ import annotations

import copy
import hashlib
import inspect
import json
import math
import re
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, Union, get_args, get_origin

from agentgym.messages import decode_arguments
from agentgym.suggest import did_you_mean

__all__ = ["Tool", "ToolCall", "ToolError"]

# OpenAI's rule for function names; a leading letter or underscore keeps the name usable in the
# python and react formats too.
_TOOL_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,63}$")

# Messages quote values cut to about this many characters.
_SHORT = 60

# Integers longer than this are refused: Python cannot write one of over 4,300 digits as text (so
# neither a tool's message nor the trajectory file could hold it); 10**1000 still fits.
_MAX_INT_BITS = 4_000


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
            decoded, error = decode_arguments(arguments)
            if error is not None:
                raise _Invalid(
                    f"arguments must be a JSON object, but {_short(arguments)} is not valid "
                    f"JSON ({error})."
                )
            arguments = decoded
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
        for key, value in result.items():
            if _huge_integer(value):
                raise _Invalid(f"argument '{key}' holds an integer too large to accept (over about 1,200 digits).")
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
    if isinstance(value, int) and value.bit_length() > _MAX_INT_BITS:
        return f"<an integer of {value.bit_length():,} bits>"  # repr would raise past 4,300 digits
    try:
        text = repr(value)
    except RecursionError:
        return f"<deeply nested {type(value).__name__}>"
    except ValueError:  # an integer too long for str, somewhere inside
        return f"<{type(value).__name__} holding an integer too large to show>"
    return text if len(text) <= _SHORT else f"{text[: _SHORT - 3]}..."


def _huge_integer(value: Any) -> bool:
    """Whether JSON data holds an integer past :data:`_MAX_INT_BITS` (which cannot be written as text)."""
    pending = [value]  # a stack, not recursion: the data may be nested thousands deep
    while pending:
        item = pending.pop()
        if isinstance(item, int):
            if item.bit_length() > _MAX_INT_BITS:
                return True
        elif isinstance(item, (list, tuple)):
            pending.extend(item)
        elif isinstance(item, Mapping):
            pending.extend(item.values())
    return False


# --------------------------------------------------------------------------------------------
# Parsing
