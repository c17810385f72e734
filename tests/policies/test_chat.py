"""encode_conversation / strip_token_fields with the real SmolLM2 tokenizer and chat template."""

from __future__ import annotations

import copy
import warnings

import pytest

from agentgym.policies.chat import encode_conversation, strip_token_fields

IM_END = 2  # SmolLM2's <|im_end|>

OPENING = [
    {"role": "system", "content": "You answer questions with tools."},
    {"role": "user", "content": "How many invoices are dated August 2008?"},
]


def render(tokenizer, conversation, tools=None) -> str:
    return tokenizer.apply_chat_template(
        strip_token_fields(conversation), tools=tools, tokenize=False, add_generation_prompt=True
    )


def decode(tokenizer, ids) -> str:
    return tokenizer.decode(ids, skip_special_tokens=False, clean_up_tokenization_spaces=False)


def ids_of(tokenizer, text: str) -> list[int]:
    return tokenizer(text, add_special_tokens=False)["input_ids"]


def sampled_turn(tokenizer, conversation, text: str, *, stopped: bool = True) -> dict:
    """The assistant message a tokenizing policy would append: content plus the ids it sampled."""
    prompt = encode_conversation(tokenizer, conversation)
    completion = ids_of(tokenizer, text) + ([IM_END] if stopped else [])
    return {"role": "assistant", "content": text, "prompt_ids": prompt, "completion_ids": completion}


# --------------------------------------------------------------------------------------------------
# strip_token_fields


def test_strip_token_fields_copies_without_the_ids():
    turn = {"role": "assistant", "content": "ok", "prompt_ids": [1], "completion_ids": [2, 3], "name": "x"}
    conversation = [OPENING[1], turn]
    stripped = strip_token_fields(conversation)
    assert stripped == [OPENING[1], {"role": "assistant", "content": "ok", "name": "x"}]
    assert "prompt_ids" in turn and stripped[0] is not conversation[0]  # copies; the input is untouched
    assert strip_token_fields([]) == []


@pytest.mark.parametrize("bad", ["hello", {"role": "user"}, None, [["role", "user"]]])
def test_strip_token_fields_rejects_non_conversations(bad):
    with pytest.raises(TypeError, match="conversation must be a list|message 0 must be a dict"):
        strip_token_fields(bad)


# --------------------------------------------------------------------------------------------------
# Without stored ids: the full render, tokenized once


def test_without_stored_ids_the_render_is_tokenized(smollm2_tokenizer):
    ids = encode_conversation(smollm2_tokenizer, OPENING)
    text = render(smollm2_tokenizer, OPENING)
    assert ids == ids_of(smollm2_tokenizer, text)
    assert decode(smollm2_tokenizer, ids) == text
    assert text.endswith("<|im_start|>assistant\n")  # the generation prompt
    assert ids.count(smollm2_tokenizer.bos_token_id) == 3  # the template's own <|im_start|>s, none added


def test_assistant_turn_without_ids_is_rendered_from_text(smollm2_tokenizer):
    conversation = [*OPENING, {"role": "assistant", "content": "Let me look."}, {"role": "user", "content": "Go on."}]
    assert decode(smollm2_tokenizer, encode_conversation(smollm2_tokenizer, conversation)) == render(
        smollm2_tokenizer, conversation
    )


# --------------------------------------------------------------------------------------------------
# With stored ids: prompt_ids + completion_ids + the delta


def test_three_turns_with_tool_messages_decode_to_the_render(smollm2_tokenizer):
    tok = smollm2_tokenizer
    conversation = list(OPENING)
    actions = [
        '<tool_call>{"name": "list_tables", "arguments": {}}</tool_call>',
        '<tool_call>{"name": "execute", "arguments": {"sql": "SELECT count(*) FROM invoice"}}</tool_call>',
        "It is 412 — déjà vu? 🙂",
    ]
    for turn, action in enumerate(actions):
        message = sampled_turn(tok, conversation, action, stopped=turn != 1)  # turn 1: cut by max tokens
        conversation.append(message)
        conversation.append({"role": "tool", "tool_call_id": f"call_{turn}", "content": f"result {turn}\n| a | b |"})
        ids = encode_conversation(tok, conversation)
        stored = message["prompt_ids"] + message["completion_ids"]
        assert ids[: len(stored)] == stored  # earlier turns kept verbatim
        assert decode(tok, ids) == render(tok, conversation)  # and the whole decodes to the template's render
    # the delta after a stopped completion starts with the newline the template writes after <|im_end|>
    assert decode(tok, ids[len(stored) :]).startswith("\n<|im_start|>tool\n")


def test_a_completion_cut_before_its_end_token_gets_it_from_the_template(smollm2_tokenizer):
    tok = smollm2_tokenizer
    message = sampled_turn(tok, OPENING, "I will list the", stopped=False)
    conversation = [*OPENING, message, {"role": "user", "content": "Continue."}]
    ids = encode_conversation(tok, conversation)
    delta = ids[len(message["prompt_ids"]) + len(message["completion_ids"]) :]
    assert decode(tok, delta).startswith("<|im_end|>\n<|im_start|>user\nContinue.")
    assert decode(tok, ids) == render(tok, conversation)


def test_earlier_turns_are_never_retokenized(smollm2_tokenizer):
    tok = smollm2_tokenizer
    prompt = encode_conversation(tok, OPENING)
    # A sampled completion need not be the canonical tokenization of its text: spell "hello world"
    # one character per token. Re-tokenizing the text would merge them into two tokens.
    spelled = [ids_of(tok, ch)[0] for ch in "hello"] + ids_of(tok, " world") + [IM_END]
    assert decode(tok, spelled) == "hello world<|im_end|>"
    message = {"role": "assistant", "content": "hello world", "prompt_ids": prompt, "completion_ids": spelled}
    conversation = [*OPENING, message, {"role": "tool", "content": "ok"}]
    ids = encode_conversation(tok, conversation)
    assert ids[: len(prompt) + len(spelled)] == prompt + spelled
    retokenized = ids_of(tok, render(tok, conversation))
    assert ids != retokenized and len(ids) > len(retokenized)
    assert decode(tok, ids) == render(tok, conversation)


def test_only_the_last_assistant_turn_counts(smollm2_tokenizer):
    tok = smollm2_tokenizer
    first = sampled_turn(tok, OPENING, "one")
    conversation = [*OPENING, first, {"role": "tool", "content": "r1"}]
    second = sampled_turn(tok, conversation, "two")
    conversation += [second, {"role": "tool", "content": "r2"}]
    ids = encode_conversation(tok, conversation)
    assert ids[: len(second["prompt_ids"])] == second["prompt_ids"]
    assert second["prompt_ids"][: len(first["prompt_ids"]) + 2] == first["prompt_ids"] + first["completion_ids"]
    assert decode(tok, ids) == render(tok, conversation)
    # a later assistant turn without ids: nothing stored to extend, so the render is tokenized
    plain = [*conversation, {"role": "assistant", "content": "three"}]
    assert encode_conversation(tok, plain) == ids_of(tok, render(tok, plain))


def test_ids_that_do_not_match_the_text_fall_back_to_the_render(smollm2_tokenizer):
    tok = smollm2_tokenizer
    message = sampled_turn(tok, OPENING, "original answer")
    message["content"] = "an edited answer"  # the stored ids no longer say what the turn says
    conversation = [*OPENING, message, {"role": "user", "content": "Next?"}]
    with pytest.warns(RuntimeWarning, match="do not decode to the rendered turn"):
        ids = encode_conversation(tok, conversation)
    assert ids == ids_of(tok, render(tok, conversation))


def test_a_template_that_rewrites_earlier_turns_falls_back(smollm2_tokenizer):
    tok = copy.deepcopy(smollm2_tokenizer)
    # Marks the last message: the render of a turn changes once another message follows it.
    tok.chat_template = (
        "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}{% if loop.last %} (latest){% endif %}"
        "<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
    )
    message = sampled_turn(tok, OPENING, "hi")
    conversation = [*OPENING, message, {"role": "user", "content": "Next?"}]
    with pytest.warns(RuntimeWarning, match="renders earlier turns differently"):
        ids = encode_conversation(tok, conversation)
    assert decode(tok, ids) == render(tok, conversation)


def test_tools_reach_the_template_only_when_given(smollm2_tokenizer):
    tok = copy.deepcopy(smollm2_tokenizer)
    tok.chat_template = (
        "{% if tools %}TOOLS {{ tools | map(attribute='function.name') | join(',') }}\n{% endif %}"
        + smollm2_tokenizer.chat_template
    )
    schema = [{"type": "function", "function": {"name": "submit", "parameters": {"type": "object"}}}]
    with_tools = decode(tok, encode_conversation(tok, OPENING, tools=schema))
    assert with_tools.startswith("TOOLS submit\n<|im_start|>system")
    for no_tools in (None, []):
        assert decode(tok, encode_conversation(tok, OPENING, tools=no_tools)).startswith("<|im_start|>system")
    # the same tools on every turn keep the delta path (no fallback warning)
    message = sampled_turn(tok, OPENING, "x")
    message["prompt_ids"] = encode_conversation(tok, OPENING, tools=schema)
    conversation = [*OPENING, message, {"role": "user", "content": "y"}]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ids = encode_conversation(tok, conversation, tools=schema)
    assert ids[: len(message["prompt_ids"])] == message["prompt_ids"]


def test_structured_tool_calls_are_written_not_dropped(smollm2_tokenizer):
    call = {"id": "c1", "type": "function", "function": {"name": "describe", "arguments": '{"table": "invoice"}'}}
    conversation = [*OPENING, {"role": "assistant", "content": None, "tool_calls": [call]}]
    text = decode(smollm2_tokenizer, encode_conversation(smollm2_tokenizer, conversation))
    assert '<tool_call>\n{"name": "describe", "arguments": {"table": "invoice"}}\n</tool_call>' in text


# --------------------------------------------------------------------------------------------------
# Bad inputs


def test_bad_conversations_raise_clear_errors(smollm2_tokenizer):
    tok = smollm2_tokenizer
    with pytest.raises(ValueError, match="conversation is empty"):
        encode_conversation(tok, [])
    with pytest.raises(TypeError, match="must be a list of message dicts"):
        encode_conversation(tok, "hello")
    with pytest.raises(TypeError, match="message 1 must be a dict"):
        encode_conversation(tok, [OPENING[0], "hi"])
    with pytest.raises(ValueError, match="has no 'role'"):
        encode_conversation(tok, [{"content": "hi"}])
    half = {"role": "assistant", "content": "x", "prompt_ids": [1, 2]}
    with pytest.raises(ValueError, match="store both or neither"):
        encode_conversation(tok, [*OPENING, half])
    wrong = {"role": "assistant", "content": "x", "prompt_ids": [1, 2], "completion_ids": "abc"}
    with pytest.raises(TypeError, match="completion_ids must be a list of token ids"):
        encode_conversation(tok, [*OPENING, wrong])
    floats = {"role": "assistant", "content": "x", "prompt_ids": [1.0], "completion_ids": [2]}
    with pytest.raises(TypeError, match="prompt_ids must hold ints"):
        encode_conversation(tok, [*OPENING, floats])


def test_a_tokenizer_without_a_chat_template_is_refused(smollm2_tokenizer):
    tok = copy.deepcopy(smollm2_tokenizer)
    tok.chat_template = None
    with pytest.raises(ValueError, match="no chat template"):
        encode_conversation(tok, OPENING)
