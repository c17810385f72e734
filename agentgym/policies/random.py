"""A model-free random policy: well-formed calls to random tools with random arguments (the floor)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from agentgym.policies import Completion, Conversation, Policy, ToolSchemas
from agentgym.tools import ToolCall, ToolFormat, format_call

_WORD = re.compile(r"\w+")


class RandomPolicy(Policy):
    """Calls a uniformly chosen tool with arguments drawn from its schema.

    String arguments are a few words picked from the conversation's last message (so searches and
    answers are plausible, not gibberish); numbers are small; enums and booleans are drawn from
    their values. Every call is well-formed, so the policy measures what chance earns, not what
    parse errors cost.

    Args:
        tool_format: The env's tool-call format.
        seed: Seed of the generator (same seed, same completions).

    Examples:
        >>> tools = [{"type": "function", "function": {"name": "answer", "parameters": {
        ...     "type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]}}}]
        >>> policy = RandomPolicy(seed=0)
        >>> conversation = [{"role": "user", "content": "Capital of Peru?"}]
        >>> [c.text.startswith('<tool_call>{"name": "answer"') for c in policy([conversation], [tools])]
        [True]
    """

    name = "random"

    def __init__(self, tool_format: ToolFormat = "hermes", seed: int | None = None):
        self.tool_format: ToolFormat = tool_format
        self.seed = seed
        self.rng = np.random.default_rng(seed)

    def describe(self) -> dict[str, Any]:
        """``{"name": "random", "sampling": {...}}`` for the trajectory's ``policy`` field."""
        return {"name": "random", "sampling": {"seed": self.seed, "tool_format": self.tool_format}}

    def __call__(self, conversations: Sequence[Conversation], tools: Sequence[ToolSchemas]) -> list[Completion]:
        """One random call per conversation (plain text when a conversation offers no tools)."""
        pairs = zip(conversations, tools, strict=True)
        return [self._complete(conversation, schemas) for conversation, schemas in pairs]

    def _complete(self, conversation: Conversation, schemas: ToolSchemas) -> Completion:
        if not schemas:
            return Completion("I do not know.")
        function = schemas[int(self.rng.integers(len(schemas)))]["function"]
        last = str(conversation[-1].get("content") or "") if conversation else ""
        words = _WORD.findall(last) or ["nothing"]
        properties = function.get("parameters", {}).get("properties", {})
        arguments = {name: self._value(schema, words) for name, schema in properties.items()}
        action = format_call(ToolCall(function["name"], arguments), self.tool_format)
        if isinstance(action, dict):
            return Completion(action.get("content") or "", tool_calls=action["tool_calls"])
        return Completion(action)

    def _value(self, schema: Mapping[str, Any], words: list[str]) -> Any:
        if "enum" in schema:
            return schema["enum"][int(self.rng.integers(len(schema["enum"])))]
        kind = schema.get("type")
        if isinstance(kind, list):
            kind = next((k for k in kind if k != "null"), "string")
        if kind == "integer":
            default = schema.get("default")
            if isinstance(default, int) and self.rng.random() < 0.5:
                return int(default)
            return int(self.rng.integers(0, 5))
        if kind == "number":
            return float(self.rng.random())
        if kind == "boolean":
            return bool(self.rng.integers(2))
        if kind == "array":
            return [self._value(schema.get("items", {"type": "string"}), words)]
        if kind == "object":
            return {}
        count = int(self.rng.integers(1, 5))
        return " ".join(words[int(i)] for i in self.rng.integers(len(words), size=count))
