"""The in-process vLLM policy: one batched ``LLM.generate`` per turn, token ids in and out.

:class:`VLLMPolicy` runs a ``vllm.LLM`` engine in this process (a CUDA GPU; ``pip install
'agentgym[vllm]'``). Each call encodes every conversation to prompt token ids with
:func:`agentgym.policies.chat.encode_conversation`, which extends the ids stored on the last
assistant message instead of re-tokenizing the history; prompts therefore only ever grow at the end,
so vLLM's prefix cache (switched on here) reuses the whole earlier conversation turn after turn.

Conversations whose prompt ids are identical (a GRPO group at its first turn) become one request
with ``n`` samples, which vLLM prefills once; the samples are handed back in input order.
Tool schemas are not rendered by the chat template unless ``template_tools=True`` (the envs describe
their tools in the system prompt; every tokenizing backend does the same, so prompts agree).

Sampling arguments are built as a plain dict (vLLM's ``SamplingParams`` keyword names) and turned
into ``vllm.SamplingParams`` by :func:`make_sampling_params` only when vLLM is installed. Without
vLLM the dict itself goes to the engine, which is how an engine object passed as ``llm=`` (a test
double, a wrapper around a remote engine) is driven on a machine without vLLM.

vLLM API used (offline inference, documented): ``LLM(model, enable_prefix_caching=..., **kwargs)``,
``LLM.get_tokenizer()``, ``LLM.generate(prompts, sampling_params, use_tqdm=False)`` with
``{"prompt_token_ids": [...]}`` prompts and one ``SamplingParams`` per prompt; each returned
``RequestOutput`` (in prompt order) has ``outputs``, a list of ``CompletionOutput`` with ``index``,
``text``, ``token_ids`` and ``logprobs`` (per position, a dict from token id to ``Logprob`` with a
``.logprob``); ``LLM.llm_engine.model_config.max_model_len`` bounds prompt plus completion.
"""

from __future__ import annotations

import importlib.util
import math
import random
from collections.abc import Mapping, Sequence
from typing import Any

from agentgym.policies import Completion, Conversation, Policy, ToolSchemas
from agentgym.policies.chat import encode_conversation

#: How to install vLLM with agentgym (named in the ImportError).
INSTALL_HINT = "pip install 'agentgym[vllm]'"


def vllm_available() -> bool:
    """Whether vLLM is installed, found without importing it (importing vLLM loads torch and CUDA).

    Returns:
        True when the ``vllm`` package can be imported.

    Examples:
        >>> isinstance(vllm_available(), bool)
        True
    """
    return importlib.util.find_spec("vllm") is not None


def make_sampling_params(args: Mapping[str, Any]) -> Any:
    """Turn sampling arguments into ``vllm.SamplingParams``, or keep the dict when vLLM is absent.

    Args:
        args: Keyword arguments of ``vllm.SamplingParams`` (``n``, ``temperature``, ``max_tokens``, ...).

    Returns:
        A ``vllm.SamplingParams`` when vLLM is installed; otherwise a copy of ``args`` (only an engine
        passed in as ``llm=`` can run then, and it reads the dict).

    Examples:
        >>> params = make_sampling_params({"n": 4, "max_tokens": 16})
        >>> params["n"] if isinstance(params, dict) else params.n
        4
    """
    if not vllm_available():
        return dict(args)
    from vllm import SamplingParams

    return SamplingParams(**args)


class VLLMPolicy(Policy):
    """Samples completions from an in-process vLLM engine, with their token ids and log-probabilities.

    Args:
        model: The model vLLM loads (a local directory or a name in the local Hugging Face cache);
            also the name recorded in trajectories.
        llm: An engine to use instead of building one: a ``vllm.LLM``, or any object with the same
            ``generate`` and ``get_tokenizer`` methods (it receives plain dicts as sampling
            params when vLLM is not installed, see :func:`make_sampling_params`).
        tokenizer: The tokenizer that renders prompts (default: the engine's ``get_tokenizer()``).
            It must be the model's tokenizer, or the ids are meaningless to the engine.
        max_new_tokens: Most tokens per completion (fewer when the prompt leaves less room).
        temperature: Sampling temperature (0 is greedy).
        top_p: Nucleus sampling mass, in (0, 1].
        seed: Seeds the per-request seeds (same seed and calls, same samples); None leaves
            sampling unseeded.
        logprobs: Whether to return each sampled token's log-probability.
        template_tools: Whether the chat template also renders the tool schemas. Off by default, as
            in every tokenizing backend: agentgym envs already describe their tools in the system
            prompt (see :mod:`agentgym.policies.chat`).
        engine_kwargs: Extra ``vllm.LLM`` arguments (``gpu_memory_utilization``, ``max_model_len``,
            ``dtype``, ...), used only when the policy builds the engine.

    Raises:
        ImportError: If no ``llm`` is given and vLLM is not installed.
        ValueError: If an argument is out of range.
        TypeError: If an argument has the wrong type.

    Examples:
        On a GPU machine with vLLM (not run by the doctests):

        >>> policy = VLLMPolicy("Qwen/Qwen2.5-0.5B-Instruct", max_new_tokens=64)  # doctest: +SKIP
        >>> conversation = [{"role": "user", "content": "Capital of Peru?"}]
        >>> [completion] = policy([conversation], [[]])  # doctest: +SKIP
        >>> len(completion.logprobs) == len(completion.completion_ids)  # doctest: +SKIP
        True
    """

    name = "vllm"

    def __init__(
        self,
        model: str,
        *,
        llm: Any = None,
        tokenizer: Any = None,
        max_new_tokens: int = 256,
        temperature: float = 1.0,
        top_p: float = 1.0,
        seed: int | None = 0,
        logprobs: bool = True,
        template_tools: bool = False,
        engine_kwargs: Mapping[str, Any] | None = None,
    ):
        if not isinstance(model, str) or not model:
            raise TypeError(f"model must be a non-empty string, got {model!r}")
        if isinstance(max_new_tokens, bool) or not isinstance(max_new_tokens, int) or max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be a positive int, got {max_new_tokens!r}")
        if isinstance(temperature, bool) or not isinstance(temperature, int | float):
            raise TypeError(f"temperature must be a number, got {temperature!r}")
        if not math.isfinite(temperature) or temperature < 0:
            raise ValueError(f"temperature must be finite and >= 0, got {temperature!r}")
        if isinstance(top_p, bool) or not isinstance(top_p, int | float) or not 0 < top_p <= 1:
            raise ValueError(f"top_p must be a number in (0, 1], got {top_p!r}")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise TypeError(f"seed must be an int or None, got {seed!r}")
        if not isinstance(logprobs, bool):
            raise TypeError(f"logprobs must be True or False, got {logprobs!r}")
        if not isinstance(template_tools, bool):
            raise TypeError(f"template_tools must be True or False, got {template_tools!r}")
        if engine_kwargs is not None and not isinstance(engine_kwargs, Mapping):
            raise TypeError(f"engine_kwargs must be a mapping, got {type(engine_kwargs).__name__}")
        if llm is not None and engine_kwargs:
            raise ValueError("engine_kwargs only apply when the policy builds the engine; do not pass them with llm=")

        self.model = model
        self.llm = llm if llm is not None else _build_engine(model, engine_kwargs or {})
        self.tokenizer = tokenizer if tokenizer is not None else self.llm.get_tokenizer()
        self.max_new_tokens = max_new_tokens
        self.temperature = float(temperature)
        self.top_p = float(top_p)
        self.seed = seed
        self.logprobs = logprobs
        self.template_tools = template_tools
        self.max_model_len = _max_model_len(self.llm)
        # End generation at the tokenizer's end-of-turn token even when the model's generation
        # config names another one (common for converted checkpoints).
        eos = getattr(self.tokenizer, "eos_token_id", None)
        self.stop_token_ids = [eos] if isinstance(eos, int) else []
        # One fresh seed per request, drawn from the policy's seed, so identical prompts in
        # different calls (or groups) are not sampled with the same random stream.
        self._seeds = random.Random(seed) if seed is not None else None

    def __call__(self, conversations: Sequence[Conversation], tools: Sequence[ToolSchemas]) -> list[Completion]:
        """Complete every conversation with one ``generate`` call.

        Args:
            conversations: OpenAI chat message lists; assistant messages may carry the token ids
                of earlier turns (``prompt_ids``, ``completion_ids``).
            tools: The tool schemas of each conversation (same length as ``conversations``).

        Returns:
            One completion per conversation, in order. A conversation whose prompt does not fit the
            engine's max model length gets a completion with ``error`` set; the others are sampled.

        Raises:
            ValueError: If ``conversations`` and ``tools`` differ in length, or a conversation cannot
                be encoded (TypeError for a conversation of the wrong type).
            RuntimeError: If the engine's outputs do not match the requests (count, samples, logprobs).
        """
        if len(conversations) != len(tools):
            raise ValueError(
                f"got {len(conversations)} conversations but {len(tools)} tool lists; pass one per conversation"
            )
        results: list[Completion | None] = [None] * len(conversations)
        # Unique prompt ids -> indices of the conversations that share them, in input order.
        groups: dict[tuple[int, ...], list[int]] = {}
        for index, (conversation, schemas) in enumerate(zip(conversations, tools, strict=True)):
            encoded = encode_conversation(self.tokenizer, conversation, schemas if self.template_tools else None)
            prompt_ids = [int(token) for token in encoded]
            if self.max_model_len is not None and len(prompt_ids) >= self.max_model_len:
                error = (
                    f"prompt has {len(prompt_ids)} tokens but the engine's max model length is "
                    f"{self.max_model_len}: no room left to generate"
                )
                results[index] = Completion("", prompt_ids=prompt_ids, error=error)
                continue
            groups.setdefault(tuple(prompt_ids), []).append(index)
        if not groups:
            return [result for result in results if result is not None]

        prompts = [{"prompt_token_ids": list(ids)} for ids in groups]
        params = [make_sampling_params(self._sampling_args(len(ids), len(members))) for ids, members in groups.items()]
        outputs = list(self.llm.generate(prompts, params, use_tqdm=False))
        if len(outputs) != len(prompts):
            raise RuntimeError(f"the engine returned {len(outputs)} outputs for {len(prompts)} prompts")
        for (ids, members), output in zip(groups.items(), outputs, strict=True):
            samples = sorted(output.outputs, key=lambda sample: getattr(sample, "index", 0))
            if len(samples) != len(members):
                raise RuntimeError(f"the engine returned {len(samples)} samples for a request with n={len(members)}")
            for index, sample in zip(members, samples, strict=True):
                results[index] = self._completion(list(ids), sample)
        return [result for result in results if result is not None]

    def describe(self) -> dict[str, Any]:
        """Who acted, for the trajectory's ``policy`` field.

        Returns:
            ``{"name": "vllm", "model": ..., "sampling": {...}}``.
        """
        sampling = {
            "max_new_tokens": self.max_new_tokens,
            "temperature": self.temperature,
            "top_p": self.top_p,
            "seed": self.seed,
            "logprobs": self.logprobs,
            "stop_token_ids": list(self.stop_token_ids),
            "template_tools": self.template_tools,
        }
        return {"name": self.name, "model": self.model, "sampling": sampling}

    def _sampling_args(self, prompt_length: int, n: int) -> dict[str, Any]:
        """``SamplingParams`` keywords for one request of ``n`` samples."""
        max_tokens = self.max_new_tokens
        if self.max_model_len is not None:  # never ask for more than the context has room for
            max_tokens = min(max_tokens, self.max_model_len - prompt_length)
        return {
            "n": n,
            "temperature": self.temperature,
            "top_p": self.top_p,
            "max_tokens": max_tokens,
            "seed": self._seeds.randrange(2**31) if self._seeds is not None else None,
            # 0 asks for the sampled token's log-probability only (vLLM always includes it).
            "logprobs": 0 if self.logprobs else None,
            "stop_token_ids": list(self.stop_token_ids),
        }

    def _completion(self, prompt_ids: list[int], sample: Any) -> Completion:
        """A :class:`Completion` from one vLLM ``CompletionOutput``."""
        completion_ids = [int(token) for token in sample.token_ids]
        logprobs = _sampled_logprobs(sample.logprobs, completion_ids) if self.logprobs else None
        return Completion(sample.text, prompt_ids=prompt_ids, completion_ids=completion_ids, logprobs=logprobs)


def _build_engine(model: str, engine_kwargs: Mapping[str, Any]) -> Any:
    """Start a ``vllm.LLM`` with prefix caching on (callers may turn it off in ``engine_kwargs``)."""
    if not vllm_available():
        raise ImportError(f"VLLMPolicy needs vLLM, which is not installed: {INSTALL_HINT} (needs a CUDA GPU)")
    if "model" in engine_kwargs:
        raise ValueError("engine_kwargs must not contain 'model': pass the model as VLLMPolicy's first argument")
    from vllm import LLM

    return LLM(model=model, **{"enable_prefix_caching": True, **engine_kwargs})


def _max_model_len(llm: Any) -> int | None:
    """The engine's context length (prompt plus completion), or None when it does not say."""
    for owner in (getattr(llm, "llm_engine", None), llm):
        config = getattr(owner, "model_config", None)
        value = getattr(config, "max_model_len", None)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None


def _sampled_logprobs(positions: Any, token_ids: list[int]) -> list[float]:
    """The log-probability of each sampled token, from vLLM's per-position ``{token_id: Logprob}``."""
    if positions is None:
        raise RuntimeError("the engine returned no logprobs although they were requested")
    if len(positions) != len(token_ids):
        raise RuntimeError(f"the engine returned logprobs for {len(positions)} positions but {len(token_ids)} tokens")
    values = []
    for step, (table, token) in enumerate(zip(positions, token_ids, strict=True)):
        entry = table.get(token) if table is not None else None
        if entry is None:
            raise RuntimeError(f"the engine's logprobs at position {step} lack the sampled token {token}")
        values.append(float(getattr(entry, "logprob", entry)))
    return values
