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

Model loading lives in :mod:`agentgym.models` (:func:`~agentgym.models.load_causal_lm`,
:func:`~agentgym.models.smollm2_path`, ...).

This module imports without torch; torch and transformers are imported inside the functions that
need them.
"""

from __future__ import annotations

import inspect
import math
import os
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from agentgym.messages import message_text, template_messages
from agentgym.models import load_causal_lm

if TYPE_CHECKING:  # pragma: no cover - typing only
    import torch
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

#: A scoring prefix: plain text, or an OpenAI-format chat (rendered with the chat template).
Prefix = str | Sequence[Mapping[str, Any]]


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
            cache_dir: Where converted GGUF models go (default :func:`agentgym.models.models_cache_dir`).
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
