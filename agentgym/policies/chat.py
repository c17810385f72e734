"""Token ids for the next assistant turn, extending the ids a conversation already carries.

Every tokenizing backend (``hf``, ``vllm``) builds its prompts here, so they agree token for token.

Token-in/token-out: when the last assistant message carries the ids it was sampled from and as
(:data:`~agentgym.policies.TOKEN_FIELDS`: ``prompt_ids``, ``completion_ids``), the next prompt is
``prompt_ids + completion_ids + ids(what follows)``. "What follows" is the text the chat template
writes after those ids: the end-of-turn marker the model did not generate (a completion usually
stops *on* ``<|im_end|>`` but never writes the newline the template puts after it), the later tool
or user messages, and the generation prompt. Only that text is tokenized; earlier turns are never
re-tokenized, so a trainer sees exactly the ids that were sampled. The split is found by rendering
the template with and without the later messages: the shorter render must be a string prefix of the
longer, and the stored ids must decode to a prefix of it. Where that fails (a template that rewrites
earlier turns, e.g. one that drops old reasoning; ids that do not decode to the rendered text), the
whole conversation is tokenized afresh, with a warning. Either way the ids decode to exactly the
template's render of the whole conversation.

Tools: the agentgym envs already describe their tools and call syntax in the system prompt, so
backends do not pass tool schemas to the chat template by default; pass ``tools`` to have the
template render them as well (only when given: ``None`` or ``[]`` renders no tools).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any

from agentgym.messages import template_messages
from agentgym.policies import TOKEN_FIELDS, Conversation, ToolSchemas


def strip_token_fields(conversation: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Copies of the messages without the token fields, for chat templates and servers.

    Args:
        conversation: OpenAI-format messages, possibly carrying ``prompt_ids`` / ``completion_ids``.

    Returns:
        New message dicts (shallow copies); the input is not modified.

    Raises:
        TypeError: If the conversation is not a sequence of dicts.

    Examples:
        >>> turn = {"role": "assistant", "content": "hi", "prompt_ids": [1, 2], "completion_ids": [3]}
        >>> strip_token_fields([{"role": "user", "content": "hello"}, turn])
        [{'role': 'user', 'content': 'hello'}, {'role': 'assistant', 'content': 'hi'}]
        >>> sorted(turn)  # untouched
        ['completion_ids', 'content', 'prompt_ids', 'role']
    """
    _check_conversation(conversation, allow_empty=True)
    return [{key: value for key, value in message.items() if key not in TOKEN_FIELDS} for message in conversation]


def encode_conversation(
    tokenizer: Any, conversation: Sequence[Mapping[str, Any]], tools: ToolSchemas | None = None
) -> list[int]:
    """The prompt token ids for the next assistant turn (the generation prompt included).

    If the last assistant message carries ``prompt_ids`` and ``completion_ids``, those ids are kept
    verbatim and only the text the template adds after them is tokenized (see the module docstring);
    otherwise the template's render of the whole conversation is tokenized, with no extra special
    tokens (the template writes its own).

    Args:
        tokenizer: A Hugging Face tokenizer with a chat template.
        conversation: OpenAI-format messages (system, user, assistant, tool).
        tools: Tool schemas for the chat template; ``None`` (default) renders none.

    Returns:
        The prompt ids.

    Raises:
        TypeError: If the conversation or the stored ids have the wrong types.
        ValueError: If the conversation is empty, a message has no role, only one of the token fields
            is present, or the tokenizer has no chat template.
    """
    _check_conversation(conversation, allow_empty=False)
    if not getattr(tokenizer, "chat_template", None):
        raise ValueError("the tokenizer has no chat template: set tokenizer.chat_template to render conversations")
    full = _render(tokenizer, conversation, tools, generation_prompt=True)
    last = _last_assistant(conversation)
    stored = _stored_ids(conversation[last]) if last is not None else None
    if stored is None:
        return _tokenize(tokenizer, full)

    # The conversation up to and including the assistant turn must render as a prefix of the whole.
    head = _render(tokenizer, conversation[: last + 1], tools, generation_prompt=False)
    if not full.startswith(head):
        return _fallback(tokenizer, full, "the chat template renders earlier turns differently once later ones follow")
    # The stored ids may stop short of the turn's end (the template's newline after <|im_end|>, or a
    # completion cut by max_new_tokens): the decoded ids must be a prefix of the turn's render.
    decoded = tokenizer.decode(stored, skip_special_tokens=False, clean_up_tokenization_spaces=False)
    if not head.startswith(decoded):
        return _fallback(tokenizer, full, "the stored prompt_ids + completion_ids do not decode to the rendered turn")
    return stored + _tokenize(tokenizer, full[len(decoded) :])


def _check_conversation(conversation: Any, *, allow_empty: bool) -> None:
    if isinstance(conversation, (str, bytes, Mapping)) or not isinstance(conversation, Sequence):
        raise TypeError(f"a conversation must be a list of message dicts, got {type(conversation).__name__}")
    if not conversation and not allow_empty:
        raise ValueError("the conversation is empty: it needs at least one message")
    for index, message in enumerate(conversation):
        if not isinstance(message, Mapping):
            raise TypeError(f"message {index} must be a dict, got {type(message).__name__}")


def _last_assistant(conversation: Sequence[Mapping[str, Any]]) -> int | None:
    for index in range(len(conversation) - 1, -1, -1):
        if conversation[index].get("role") == "assistant":
            return index
    return None


def _stored_ids(message: Mapping[str, Any]) -> list[int] | None:
    """``prompt_ids + completion_ids`` of an assistant message, ``None`` when it carries neither."""
    present = [field for field in TOKEN_FIELDS if message.get(field) is not None]
    if not present:
        return None
    if len(present) != len(TOKEN_FIELDS):
        missing = [field for field in TOKEN_FIELDS if field not in present]
        raise ValueError(f"the last assistant message has {present} but not {missing}: store both or neither")
    ids: list[int] = []
    for field in TOKEN_FIELDS:
        values = message[field]
        if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
            raise TypeError(f"{field} must be a list of token ids, got {type(values).__name__}")
        if not all(isinstance(value, int) and not isinstance(value, bool) for value in values):
            raise TypeError(f"{field} must hold ints only")
        ids.extend(values)
    return ids


def _template_messages(tokenizer: Any, conversation: Sequence[Mapping[str, Any]]) -> Conversation:
    """Messages the template can render: token fields dropped, content always a string.

    Structured tool calls stay structured when the template renders ``tool_calls``; otherwise they
    are written into the content Hermes-style (as the scorer renders them), never silently dropped.
    """
    native_tools = "tool_calls" in tokenizer.chat_template
    messages = strip_token_fields(conversation)
    for index, message in enumerate(messages):
        if "role" not in message:
            raise ValueError(f"message {index} has no 'role': {message!r}")
    return template_messages(messages, native_tools)


def _render(
    tokenizer: Any, conversation: Sequence[Mapping[str, Any]], tools: ToolSchemas | None, *, generation_prompt: bool
) -> str:
    return tokenizer.apply_chat_template(
        _template_messages(tokenizer, conversation),
        tools=tools or None,
        tokenize=False,
        add_generation_prompt=generation_prompt,
    )


def _tokenize(tokenizer: Any, text: str) -> list[int]:
    return list(tokenizer(text, add_special_tokens=False)["input_ids"])


def _fallback(tokenizer: Any, full: str, reason: str) -> list[int]:
    warnings.warn(f"re-tokenizing the whole conversation: {reason}", RuntimeWarning, stacklevel=3)
    return _tokenize(tokenizer, full)


__all__ = ["encode_conversation", "strip_token_fields"]
