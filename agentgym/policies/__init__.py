"""Policies: map a batch of conversations (with their tool schemas) to a batch of completions.

A policy is any callable ``policy(conversations, tools) -> list[Completion]``: ``conversations`` are
OpenAI chat message lists, ``tools`` the matching lists of tool schemas (``info["tools"]``).
Model-free policies live here; model backends build on the same contract.

Token-in/token-out: the runner keeps each completion's ids on the assistant message it appends to
the conversation, under :data:`TOKEN_FIELDS` (``prompt_ids``, ``completion_ids``). A tokenizing
backend extends those ids with the next messages instead of re-tokenizing the whole conversation;
a backend that sends conversations elsewhere (a server) drops the fields first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from agentgym.loading import load_object

Conversation = list[dict[str, Any]]
#: Keys of an assistant message that carry the token ids it was sampled from and as.
TOKEN_FIELDS = ("prompt_ids", "completion_ids")
ToolSchemas = list[dict[str, Any]]


@dataclass
class Completion:
    """One completion: text (or an assistant message with tool calls) and, when known, its tokens.

    Attributes:
        text: The completion text.
        tool_calls: OpenAI ``tool_calls`` when the backend returns structured calls.
        prompt_ids: Token ids of the prompt the completion was sampled from.
        completion_ids: Token ids of the completion.
        logprobs: Log-probability of each completion token.
        error: Why the backend produced no completion (a timeout, a server error); ``text`` is then empty.

    Examples:
        >>> Completion("<answer>Lima</answer>").action
        '<answer>Lima</answer>'
    """

    text: str
    tool_calls: list[dict[str, Any]] | None = None
    prompt_ids: list[int] | None = None
    completion_ids: list[int] | None = None
    logprobs: list[float] | None = None
    error: str | None = None

    @property
    def action(self) -> str | dict[str, Any]:
        """What to pass to ``env.step``: the text, or an assistant message when there are tool calls."""
        if self.tool_calls:
            return {"role": "assistant", "content": self.text, "tool_calls": self.tool_calls}
        return self.text


class Policy(Protocol):
    """The policy contract: a batch of conversations in, one completion each out."""

    def __call__(self, conversations: Sequence[Conversation], tools: Sequence[ToolSchemas]) -> list[Completion]:
        """Complete each conversation."""
        ...


#: The policies by name: where each lives (imported only when made, so heavy backends stay optional).
POLICIES = {
    "hf": "agentgym.policies.hf:HFPolicy",
    "vllm": "agentgym.policies.vllm:VLLMPolicy",
    "openai": "agentgym.policies.openai:OpenAIPolicy",
    "oracle": "agentgym.policies.oracle:OraclePolicy",
    "random": "agentgym.policies.random:RandomPolicy",
}


def make_policy(name: str, **kwargs: Any) -> Policy:
    """Build a policy by name (see :data:`POLICIES`) with its own keyword arguments.

    Args:
        name: ``"hf"``, ``"vllm"``, ``"openai"``, ``"oracle"`` or ``"random"``.
        **kwargs: The policy class's arguments, e.g. ``model=...`` for the model backends.

    Raises:
        ValueError: For an unknown name.

    Examples:
        >>> make_policy("random", seed=3).describe()["name"]
        'random'
        >>> make_policy("gpt")
        Traceback (most recent call last):
        ...
        ValueError: unknown policy 'gpt'; choose one of hf, vllm, openai, oracle, random
    """
    if name not in POLICIES:
        raise ValueError(f"unknown policy {name!r}; choose one of {', '.join(POLICIES)}")
    return load_object(POLICIES[name])(**kwargs)


__all__ = ["POLICIES", "TOKEN_FIELDS", "Completion", "Conversation", "Policy", "ToolSchemas", "make_policy"]
