r"""Tool-call formats: how an agent writes a call in text, one class per format, and the ``FORMATS`` table.

Each format reads the calls out of a completion (:meth:`CallFormat.parse`), writes a call the way
an agent would (:meth:`CallFormat.write`), shows one correct call (:meth:`CallFormat.example`) and
tells the agent how to call (:attr:`CallFormat.instructions`). Adding a format is one class here
and one entry in :data:`FORMATS` (and its name in :data:`ToolFormat`).

- ``"hermes"`` (default, Hermes/Qwen2.5): ``<tool_call>{"name": ..., "arguments": {...}}</tool_call>``
- ``"json"``: a bare JSON object ``{"name": ..., "arguments": {...}}`` or a JSON list of them
- ``"llama3"``: Llama 3.x JSON ``{"name": ..., "parameters": {...}}`` (read like ``"json"``)
- ``"qwen_xml"`` (Qwen3-Coder): ``<tool_call><function=name><parameter=x>v</parameter></function></tool_call>``
- ``"openai"``: an assistant message dict with ``tool_calls``
- ``"python"``: ``search(query="x", k=3)``, parsed with :mod:`ast` (never evaluated)
- ``"react"``: ``Action: search[red running shoes]`` (WebShop style)

Every parser here is linear in the length of its input: blocks and fences are found with
``str.find``, the JSON scan of prose is bounded, and no regex has two neighbouring quantifiers that
can take the same character.

Examples:
    >>> call = ToolCall("search", {"query": "owls", "k": 2})
    >>> print(FORMATS["qwen_xml"].write(call))
    <tool_call>
    <function=search>
    <parameter=query>
    owls
    </parameter>
    <parameter=k>
    2
    </parameter>
    </function>
    </tool_call>
    >>> FORMATS["qwen_xml"].parse(FORMATS["qwen_xml"].write(call), {})[1][0].arguments
    {'query': 'owls', 'k': '2'}
    >>> FORMATS["llama3"].write(call)
    '{"name": "search", "parameters": {"query": "owls", "k": 2}}'
"""

from __future__ import annotations

import ast
import json
import math
import re
import warnings
from collections.abc import Iterator, Mapping
from typing import Any, Literal, NamedTuple

from agentgym.messages import TOOL_CALL_CLOSE, TOOL_CALL_OPEN, json_error, tool_call_blocks
from agentgym.tools.tool import _SHORT, Tool, ToolCall, _describe, _kind, _short

__all__ = ["FORMATS", "ActionError", "RawCall", "ToolFormat", "CallFormat"]

#: The names of the formats, for type checkers; :data:`FORMATS` maps each to its class.
ToolFormat = Literal["hermes", "json", "llama3", "qwen_xml", "openai", "python", "react"]


class ActionError(Exception):
    """A malformed action: ``message`` is for the agent; ``tool`` picks the example call."""

    def __init__(self, message: str, content: str = "", tool: str | None = None) -> None:
        super().__init__(message)
        self.message, self.content, self.tool = message, content, tool


class RawCall(NamedTuple):
    """A call as written, before the tool is looked up and its arguments validated.

    Attributes:
        name: The tool name as written.
        arguments: The keyword arguments as written (any value; checked later).
        id: The call id the message gave, if any.
        positional: Python positional arguments, or the react bracket text.
        bracket: react: ``positional`` holds the text between the brackets.
        texts: The argument values are text to be read by each parameter's type (qwen_xml).
    """

    name: str
    arguments: Any
    id: str | None = None
    positional: tuple[Any, ...] = ()
    bracket: bool = False
    texts: bool = False


def _call_from_object(obj: Any, where: str, content: str) -> RawCall:
    """Read ``{"name": ..., "arguments": ...}`` (hermes and json formats)."""
    if not isinstance(obj, dict):
        raise ActionError(
            f'{where}A tool call must be a JSON object like {{"name": ..., "arguments": {{...}}}}, '
            f"got {_kind(obj)} {_short(obj)}.",
            content,
        )
    if "name" not in obj:
        raise ActionError(f'{where}The tool call is missing "name": {_short(obj)}.', content)
    name = obj["name"]
    if not isinstance(name, str) or not name.strip():
        raise ActionError(
            f'{where}The tool call\'s "name" must be a non-empty string, got {_kind(name)} '
            f"{_short(name)}.",
            content,
        )
    # Llama-style models write "parameters"; missing, null or "" arguments mean no arguments.
    arguments = obj.get("arguments", obj.get("parameters"))
    if arguments is None or (isinstance(arguments, str) and not arguments.strip()):
        arguments = {}
    return RawCall(name.strip(), arguments)


def _json_error(exc: BaseException) -> str:
    return json_error(exc)


_FENCE = "```"


class _Fence(NamedTuple):
    """A fenced block of a text: its span (fences included) and what is inside, language tag removed."""

    start: int
    end: int
    inside: str


# At most this many fenced blocks are looked into: a completion of thousands of fences holds no call.
_MAX_FENCES = 64


def _fences(text: str) -> Iterator[_Fence]:
    """The first ``` fenced blocks of ``text`` (the language tag is optional), found with ``str.find``: linear."""
    pos = 0
    for _ in range(_MAX_FENCES):
        start = text.find(_FENCE, pos)
        if start == -1:
            return
        close = text.find(_FENCE, start + 3)
        if close == -1:
            return
        yield _Fence(start, close + 3, _without_tag(text[start + 3 : close]))
        pos = close + 3


def _without_tag(block: str) -> str:
    """A fenced block's inside without its language tag (```json): a first line of one tag word."""
    newline = block.find("\n")
    first = block if newline == -1 else block[:newline]
    tag = first.strip(" \t")
    if tag and len(tag) <= 32 and all(char.isalnum() or char in "_+-" for char in tag):
        return block[newline + 1 :] if newline != -1 else ""
    return block


def _unfence(text: str) -> str | None:
    """Return the inside of ``text`` when all of it is one fenced block, else ``None``."""
    if not (text.startswith(_FENCE) and text.endswith(_FENCE) and len(text) >= 6):
        return None
    inner = text[3:-3]
    return None if _FENCE in inner else _without_tag(inner).strip()


def _where(i: int, n: int) -> str:
    """The prefix that says which call a message is about, when there are several."""
    return f"Call {i + 1} of {n}: " if n > 1 else ""


# hermes -------------------------------------------------------------------------------------

_OPEN, _CLOSE = TOOL_CALL_OPEN, TOOL_CALL_CLOSE


def _tagged_blocks(text: str) -> tuple[str, list[str]]:
    """The text outside the ``<tool_call>`` blocks and their insides (:func:`~agentgym.messages.tool_call_blocks`)."""
    content, blocks, problem = tool_call_blocks(text)
    if problem is not None:
        raise ActionError(problem, content)
    return content, blocks


def _parse_hermes(text: str) -> tuple[str, list[RawCall]]:
    content, blocks = _tagged_blocks(text)
    calls = []
    for i, block in enumerate(blocks):
        where = _where(i, len(blocks))
        source = block.strip()
        source = _unfence(source) or source  # some models fence the JSON inside the tags
        if not source:
            raise ActionError(f"{where}The {_OPEN} block is empty.", content)
        try:
            obj = json.loads(source)
        except (ValueError, RecursionError) as exc:
            raise ActionError(
                f"{where}Invalid JSON in the {_OPEN} block ({_json_error(exc)}).", content
            ) from None
        calls.append(_call_from_object(obj, where, content))
    return content, calls


# json ---------------------------------------------------------------------------------------

# Bounds on the scan for JSON inside prose, so that pathological text ("[" * 10**6) stays fast.
_MAX_JSON_STARTS = 200
_MAX_JSON_SCAN = 4_000_000


def _parse_json(text: str) -> tuple[str, list[RawCall]]:
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
    for match in _fences(text):
        block = match.inside.strip()
        if block[:1] not in ("{", "["):  # only an object or a list can hold calls
            continue
        try:
            value = json.loads(block)
        except (ValueError, RecursionError):
            if attempted is None:
                attempted = block
            continue
        if isinstance(value, (dict, list)):
            content = (text[: match.start] + text[match.end :]).strip()
            return content, _json_calls(value, content)

    # 3. JSON values that look like calls, anywhere in the prose.
    found, spans = _scan_json_calls(text)
    if found:
        content = _remove_spans(text, spans).strip()
        calls: list[RawCall] = []
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
            raise ActionError(f"Invalid JSON ({_json_error(exc)}).", stripped) from None
    return stripped, []


def _json_calls(value: Any, content: str, count_hint: int = 1) -> list[RawCall]:
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


def _parse_python(text: str) -> tuple[str, list[RawCall]]:
    stripped = text.strip()
    # 1. The whole text (or the one fenced block it consists of) is a list of calls.
    whole = _unfence(stripped)
    nodes = _python_calls(stripped if whole is None else whole)
    if nodes:
        return "", [_python_call(node, _where(i, len(nodes)), "") for i, node in enumerate(nodes)]

    # 2. A fenced block of calls, with prose around it.
    for match in _fences(text):
        nodes = _python_calls(match.inside.strip())
        if nodes:
            content = (text[: match.start] + text[match.end :]).strip()
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


def _python_call(node: ast.Call, where: str, content: str) -> RawCall:
    if not isinstance(node.func, ast.Name):
        raise ActionError(
            f"{where}Only a tool can be called, by its plain name like search(...); got "
            f"`{_unparse(node.func)}(...)`.",
            content,
        )
    name = node.func.id
    positional = []
    for i, arg in enumerate(node.args):
        if isinstance(arg, ast.Starred):
            raise ActionError(
                f"{where}{name}(...): *args is not allowed; {_LITERALS_ONLY}.", content, name
            )
        positional.append(
            _python_literal(arg, f"positional argument {i + 1}", where, name, content)
        )
    keywords = {}
    for keyword in node.keywords:
        if keyword.arg is None:
            raise ActionError(
                f"{where}{name}(...): **kwargs is not allowed; {_LITERALS_ONLY}.", content, name
            )
        keywords[keyword.arg] = _python_literal(
            keyword.value, f"argument '{keyword.arg}'", where, name, content
        )
    return RawCall(name, keywords, None, tuple(positional))


def _python_literal(node: ast.expr, label: str, where: str, name: str, content: str) -> Any:
    try:
        return _jsonable(ast.literal_eval(node))
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        raise ActionError(
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
# No two neighbouring quantifiers can take the same character, so a match attempt is linear.
_ACTION_LINE_RE = re.compile(
    r"^[ \t>*_]*action[ \t]*(?:\d+[ \t]*)?[*_]*:[*_]*(.*)$", re.IGNORECASE | re.MULTILINE
)
_REACT_CALL_RE = re.compile(r"^([A-Za-z_][\w-]*)[ \t]*\[(.*)\]$", re.DOTALL)
# The lookbehind keeps a scan from starting inside a longer word (and keeps it linear).
_REACT_NAME_RE = re.compile(r"(?<![\w-])([A-Za-z_][\w-]*)\[")


def _parse_react(text: str, names: Mapping[str, Any]) -> tuple[str, list[RawCall]]:
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
                raise ActionError(f"{where}The action is {what}; write name[argument].", content)
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


def _react_call(name: str, argument: str) -> RawCall:
    argument = argument.strip()
    # Empty brackets mean no arguments; otherwise the text is the tool's first parameter.
    return RawCall(name, {}, None, (argument,) if argument else (), bracket=True)


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


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _python_repr(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False) if isinstance(value, str) else repr(value)




# qwen_xml -----------------------------------------------------------------------------------

_FUNCTION, _FUNCTION_END = "<function=", "</function>"
_PARAMETER, _PARAMETER_END = "<parameter=", "</parameter>"


def _parse_qwen_xml(text: str) -> tuple[str, list[RawCall]]:
    content, blocks = _tagged_blocks(text)
    calls = []
    for i, block in enumerate(blocks):
        where = _where(i, len(blocks))
        name, body = _xml_element(block, _FUNCTION, _FUNCTION_END, f"{where}The {_OPEN} block", content)
        arguments: dict[str, str] = {}
        pos = 0
        while (start := body.find(_PARAMETER, pos)) != -1:
            if body[pos:start].strip():
                raise ActionError(f"{where}Unexpected text {_short(body[pos:start].strip())} in {name}.", content)
            key, value, pos = _xml_parameter(body, start, where, content)
            arguments[key] = value
        if body[pos:].strip():
            raise ActionError(f"{where}Unexpected text {_short(body[pos:].strip())} in {name}.", content)
        calls.append(RawCall(name, arguments, texts=True))
    return content, calls


def _xml_element(block: str, open_tag: str, close_tag: str, what: str, content: str) -> tuple[str, str]:
    """The name and the inside of the one ``<function=name>...</function>`` a block holds."""
    inner = block.strip()
    if not inner.startswith(open_tag) or not inner.endswith(close_tag):
        raise ActionError(f"{what} must hold one {open_tag}name>...{close_tag}.", content)
    head_end = inner.find(">", len(open_tag))
    name = inner[len(open_tag) : head_end].strip() if head_end != -1 else ""
    if not name:
        raise ActionError(f"{what} must name the tool: {open_tag}name>.", content)
    return name, inner[head_end + 1 : len(inner) - len(close_tag)]


def _xml_parameter(body: str, start: int, where: str, content: str) -> tuple[str, str, int]:
    """One ``<parameter=key>value</parameter>`` at ``start``: the key, the value and the end position."""
    head_end = body.find(">", start)
    end = body.find(_PARAMETER_END, start)
    if head_end == -1 or end == -1 or end < head_end:
        raise ActionError(f"{where}A {_PARAMETER}...> is not closed: end it with {_PARAMETER_END}.", content)
    key = body[start + len(_PARAMETER) : head_end].strip()
    value = body[head_end + 1 : end]
    # The writer puts each value on its own line; only those two newlines are markup.
    value = value[1:] if value.startswith("\n") else value
    value = value[:-1] if value.endswith("\n") else value
    return key, value, end + len(_PARAMETER_END)


def _xml_value(value: Any) -> str:
    return value if isinstance(value, str) else _dumps(value)


# --------------------------------------------------------------------------------------------
# The format classes


class CallFormat:
    """A way of writing tool calls in text; subclasses fill in the four parts.

    Attributes:
        name: The format's name, the key of :data:`FORMATS`.
        instructions: The sentence that tells the agent how to call a tool (an example follows it).
    """

    name: str = ""
    instructions: str = ""

    def parse(self, text: str, names: Mapping[str, Any]) -> tuple[str, list[RawCall]]:
        """Read the calls out of a completion's text.

        Args:
            text: The completion.
            names: The tool names (some formats use them to tell calls from prose).

        Returns:
            The text outside the calls, stripped, and the calls as written.

        Raises:
            ActionError: The text is a malformed attempt at a call.
        """
        raise NotImplementedError

    def read_calls(self, text: str) -> list[RawCall]:
        """The calls of a text as well as they can be read, without tools and never raising.

        Args:
            text: A completion.

        Returns:
            The calls written in this format; none when the text is malformed.
        """
        try:
            return self.parse(text, {})[1]
        except ActionError:
            return []

    def write(self, call: ToolCall) -> str | dict[str, Any]:
        """Write a call as an agent would.

        Args:
            call: The call; its arguments must be JSON data.

        Returns:
            The action text (an assistant message dict for ``"openai"``).
        """
        raise NotImplementedError

    def example(self, tool: Tool | None) -> str:
        """One correct call of ``tool`` (its required arguments as placeholders), for messages.

        Args:
            tool: The tool, or ``None`` for a generic example.

        Returns:
            The call as text.
        """
        name, arguments, _ = _example_call(tool)
        written = self.write(ToolCall(name, arguments))
        return written if isinstance(written, str) else _dumps(written)

    def signature(self, tool: Tool) -> str:
        """A tool's signature for the list of tools: ``search(query: string, k: integer = 5)``.

        Args:
            tool: The tool.

        Returns:
            The signature.
        """
        parts = []
        for key, schema in tool.parameters.get("properties", {}).items():
            part = f"{key}: {_describe(schema)}"
            if "default" in schema:
                part += f" = {self._default(schema['default'])}"
            parts.append(part)
        return f"{tool.name}({', '.join(parts)})"

    def _default(self, value: Any) -> str:
        return _dumps(value)


class HermesFormat(CallFormat):
    """``<tool_call>{"name": ..., "arguments": {...}}</tool_call>`` (Hermes, Qwen2.5)."""

    name = "hermes"
    instructions = (
        'To call a tool, write a JSON object with its "name" and "arguments" inside <tool_call></tool_call> tags, '
        "for example:"
    )

    def parse(self, text: str, names: Mapping[str, Any]) -> tuple[str, list[RawCall]]:  # noqa: D102
        return _parse_hermes(text)

    def write(self, call: ToolCall) -> str:  # noqa: D102
        return f"{_OPEN}{_dumps({'name': call.name, 'arguments': call.arguments})}{_CLOSE}"


class JsonFormat(CallFormat):
    """A bare JSON object ``{"name": ..., "arguments": {...}}`` or a list of them (also inside prose)."""

    name = "json"
    instructions = (
        'To call a tool, reply with a JSON object with its "name" and "arguments" (or a JSON list of such '
        "objects), for example:"
    )

    def parse(self, text: str, names: Mapping[str, Any]) -> tuple[str, list[RawCall]]:  # noqa: D102
        return _parse_json(text)

    def write(self, call: ToolCall) -> str:  # noqa: D102
        return _dumps({"name": call.name, "arguments": call.arguments})


class Llama3Format(JsonFormat):
    """Llama 3.x JSON tool calls: ``{"name": ..., "parameters": {...}}`` (read like ``"json"``)."""

    name = "llama3"
    instructions = (
        'To call a tool, reply with a JSON object with its "name" and "parameters" (or a JSON list of such '
        "objects), for example:"
    )

    def write(self, call: ToolCall) -> str:  # noqa: D102
        return _dumps({"name": call.name, "parameters": call.arguments})


class QwenXmlFormat(CallFormat):
    """Qwen3-Coder's XML calls: ``<tool_call><function=name><parameter=x>v</parameter></function></tool_call>``.

    A parameter's value is text; a parameter that is not a string is read as JSON (``2``, ``true``,
    ``["a"]``) when it decodes, as the Qwen3 parsers do.
    """

    name = "qwen_xml"
    instructions = (
        "To call a tool, write <tool_call><function=NAME> with one <parameter=NAME>value</parameter> per "
        "argument, then </function></tool_call>, for example:"
    )

    def parse(self, text: str, names: Mapping[str, Any]) -> tuple[str, list[RawCall]]:  # noqa: D102
        return _parse_qwen_xml(text)

    def write(self, call: ToolCall) -> str:  # noqa: D102
        parameters = "".join(
            f"{_PARAMETER}{key}>\n{_xml_value(value)}\n{_PARAMETER_END}\n" for key, value in call.arguments.items()
        )
        return f"{_OPEN}\n{_FUNCTION}{call.name}>\n{parameters}{_FUNCTION_END}\n{_CLOSE}"


class OpenAIFormat(CallFormat):
    """Structured calls in the assistant message's ``tool_calls``; text holds no calls."""

    name = "openai"
    instructions = "The tools are passed to you natively: call them through the tool_calls field of your reply."

    def parse(self, text: str, names: Mapping[str, Any]) -> tuple[str, list[RawCall]]:  # noqa: D102
        return text.strip(), []

    def write(self, call: ToolCall) -> dict[str, Any]:  # noqa: D102
        return {"role": "assistant", "content": None, "tool_calls": [call.to_openai()]}

    def example(self, tool: Tool | None) -> str:  # noqa: D102
        name, arguments, _ = _example_call(tool)
        entry = {"type": "function", "function": {"name": name, "arguments": _dumps(arguments)}}
        return f'a "tool_calls" list in your message, like [{_dumps(entry)}]'


class PythonFormat(CallFormat):
    """``search(query="x", k=3)`` lines, read with :mod:`ast` (never evaluated)."""

    name = "python"
    instructions = "To call a tool, write a Python call with literal arguments on its own line, for example:"

    def parse(self, text: str, names: Mapping[str, Any]) -> tuple[str, list[RawCall]]:  # noqa: D102
        return _parse_python(text)

    def write(self, call: ToolCall) -> str:  # noqa: D102
        for key in call.arguments:
            if not key.isidentifier():
                raise ValueError(f"Argument {key!r} cannot be written as a Python keyword.")
        arguments = ", ".join(f"{k}={_python_repr(v)}" for k, v in call.arguments.items())
        return f"{call.name}({arguments})"

    def _default(self, value: Any) -> str:
        return repr(value)


class ReactFormat(CallFormat):
    """``Action: search[red running shoes]``: one argument, the tool's first parameter (WebShop)."""

    name = "react"
    instructions = (
        "To act, write one line `Action: tool[argument]`; the argument is the tool's first parameter. For example:"
    )

    def parse(self, text: str, names: Mapping[str, Any]) -> tuple[str, list[RawCall]]:  # noqa: D102
        return _parse_react(text, names)

    def write(self, call: ToolCall) -> str:  # noqa: D102
        value = next(iter(call.arguments.values()), "")
        return f"Action: {call.name}[{value if isinstance(value, str) else _dumps(value)}]"

    def example(self, tool: Tool | None) -> str:  # noqa: D102
        name, _, first = _example_call(tool)
        return f"Action: {name}[{first}]"

    def signature(self, tool: Tool) -> str:  # noqa: D102
        return f"{tool.name}[{next(iter(tool.parameters.get('properties', {})), '')}]"


#: Every format by name.
FORMATS: dict[str, CallFormat] = {
    fmt.name: fmt
    for fmt in (
        HermesFormat(), JsonFormat(), Llama3Format(), QwenXmlFormat(), OpenAIFormat(), PythonFormat(), ReactFormat()
    )
}  # fmt: skip


def _example_call(tool: Tool | None) -> tuple[str, dict[str, Any], Any]:
    """The name, the required arguments as placeholders and the first parameter's placeholder."""
    if tool is None:
        return "tool_name", {}, ""
    properties = tool.parameters.get("properties", {})
    required = tool.parameters.get("required", [])
    arguments = {key: _placeholder(properties[key]) for key in required if key in properties}
    first = next(iter(properties), None)
    return tool.name, arguments, _placeholder(properties[first]) if first is not None else ""
