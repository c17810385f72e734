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
from typing import Any, Protocol, runtime_checkable

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


@runtime_checkable
class Policy(Protocol):
    """The policy contract: a batch of conversations in, one completion each out.

    A policy class subclasses :class:`Policy` to declare what the runner asks of it and to get the
    defaults: :attr:`needs_env` (``False``) and :meth:`describe` (the class name). A plain function
    ``policy(conversations, tools)`` is a policy too: :func:`as_policy` gives it the defaults.

    Attributes:
        needs_env: Whether the policy also takes ``envs=``, the runner's env handles (one per
            conversation), as the oracle does.

    Examples:
        >>> class Silent(Policy):
        ...     def __call__(self, conversations, tools):
        ...         return [Completion("") for _ in conversations]
        >>> Silent().describe(), Silent.needs_env
        ({'name': 'Silent'}, False)
    """

    needs_env: bool = False

    def __call__(self, conversations: Sequence[Conversation], tools: Sequence[ToolSchemas]) -> list[Completion]:
        """Complete each conversation."""
        ...

    def describe(self) -> dict[str, Any]:
        """Who acted, recorded as each trajectory's ``policy``: ``{"name", "model", "sampling"}``."""
        return {"name": type(self).__name__}


class _CallablePolicy(Policy):
    """A plain callable as a :class:`Policy` with the defaults."""

    def __init__(self, function: Any):
        self.function = function

    def __call__(self, conversations: Sequence[Conversation], tools: Sequence[ToolSchemas]) -> list[Completion]:
        return self.function(conversations, tools)

    def describe(self) -> dict[str, Any]:
        return {"name": type(self.function).__name__}


def as_policy(policy: Any) -> Policy:
    """``policy`` itself when it declares the :class:`Policy` contract, else a plain callable with its defaults.

    Args:
        policy: A :class:`Policy`, or any callable ``policy(conversations, tools) -> list[Completion]``.

    Raises:
        TypeError: If ``policy`` is not callable.

    Examples:
        >>> def silent(conversations, tools):
        ...     return [Completion("") for _ in conversations]
        >>> wrapped = as_policy(silent)
        >>> wrapped.describe(), wrapped.needs_env, wrapped([[]], [[]])
        ({'name': 'function'}, False, [Completion(text='', tool_calls=None, prompt_ids=None, completion_ids=None, \
logprobs=None, error=None)])
    """
    if isinstance(policy, Policy):
        return policy
    if not callable(policy):
        raise TypeError(f"a policy is callable (conversations, tools) -> list[Completion], got {type(policy).__name__}")
    return _CallablePolicy(policy)


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


__all__ = [
    "POLICIES",
    "TOKEN_FIELDS",
    "Completion",
    "Conversation",
    "Policy",
    "ToolSchemas",
    "as_policy",
    "make_policy",
]
