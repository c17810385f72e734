"""Typed tools and the parsers that turn an agent's completion into tool calls.

A :class:`Tool` (:mod:`agentgym.tools.tool`) wraps a plain typed Python function; its JSON schema
comes from the type hints and the Google-style docstring. :func:`parse_action`
(:mod:`agentgym.tools.parse`) reads tool calls out of the agent's action in one of the formats of
:mod:`agentgym.tools.formats` and checks them against the tools' schemas. It never raises on bad
agent output: a malformed action comes back as a :class:`ParsedAction` whose ``error`` says what
was wrong and shows the correct syntax, ready to be sent back to the agent as an observation.
:func:`format_call` writes a call the way an agent would (for oracles and tests), and
:func:`format_instructions` tells the agent how, for a system prompt.

Formats (``ToolFormat``; one class each in :mod:`agentgym.tools.formats`, table ``FORMATS``):
``"hermes"`` (default), ``"json"``, ``"llama3"``, ``"qwen_xml"``, ``"openai"``, ``"python"``,
``"react"``.

Why the schema and coercion code is in-house. Two well-kept libraries do parts of it: pydantic's
``TypeAdapter`` (JSON schema from a type, validation and coercion) and
``transformers.utils.get_json_schema`` (a function's schema from its hints and Google docstring).
Neither is used: the core install is only ``gymnasium`` and ``numpy``, and an env must run where a
trainer's pinned pydantic or transformers version (or none) is installed; ``get_json_schema`` alone
imports transformers (seconds, hundreds of MB) and gives no validation. pydantic's coercion is also
laxer than the contract here (it turns ``"5"`` into ``5`` and ``True`` into ``1`` in lax mode), and
its error messages are written for developers, while the agent needs one sentence naming the tool,
the argument, the expected type and what it sent. The in-house code covers the hints tools use
(``str``, ``int``, ``float``, ``bool``, lists, tuples, dicts, ``Literal``, unions, ``Any``) in about
300 lines with tests; a tool that needs more can hand-write its ``parameters`` schema.

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

from agentgym.messages import message_text
from agentgym.suggest import did_you_mean
from agentgym.tools.formats import FORMATS, ToolFormat
from agentgym.tools.parse import ParsedAction, format_call, format_instructions, parse_action
from agentgym.tools.tool import Tool, ToolCall, ToolError

__all__ = [
    "FORMATS",
    "ParsedAction",
    "Tool",
    "ToolCall",
    "ToolError",
    "ToolFormat",
    "did_you_mean",
    "format_call",
    "format_instructions",
    "message_text",
    "parse_action",
]
