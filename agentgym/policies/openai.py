"""A policy on any OpenAI-compatible ``/v1/chat/completions`` server (vLLM, SGLang, ``transformers serve``, OpenAI).

Each conversation of a batch is one HTTP request; requests run concurrently on a thread pool (at
most ``concurrency`` in flight) and the completions come back in input order. The client is the
standard library's ``urllib`` (so the core install needs nothing new); the usual ``HTTPS_PROXY``/
``NO_PROXY`` variables apply, except to a loopback ``base_url``, which is always reached directly.

Reliability: a request that times out, cannot connect, or gets HTTP 408, 429 or 5xx is retried up
to ``max_retries`` times with exponential backoff and jitter (a ``Retry-After`` header sets the
wait instead). Any other 4xx is not retried: the server rejected the request itself. A request
that still fails yields ``Completion(text="", error=...)`` for that conversation alone; a batch
call never raises because of the server.

What servers give back (``logprobs=True``):

- OpenAI, vLLM and SGLang return per-token log-probabilities (``choices[0].logprobs.content``),
  which fill :attr:`Completion.logprobs`.
- Token ids come only from vLLM, and only when asked: ``extra_body={"return_token_ids": True}``
  (vLLM >= 0.10.2: ``prompt_token_ids`` and ``token_ids`` in the response, which fill
  ``prompt_ids`` and ``completion_ids``) or ``extra_body={"return_tokens_as_token_ids": True}``
  (logprob tokens read ``"token_id:123"``, which fill ``completion_ids``).
- ``transformers serve`` ignores ``logprobs`` (it logs a warning): the fields stay ``None``.

Extra request fields (``extra_body``) are sent as they are; a server that rejects unknown fields
(``transformers serve`` answers 422) fails the request without retries, with its message.
"""

from __future__ import annotations

import concurrent.futures
import email.utils
import http.client
import json
import os
import random
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence
from typing import Any

from agentgym.policies import TOKEN_FIELDS, Completion, Conversation, Policy, ToolSchemas

#: HTTP statuses worth another try: request timeout, rate limit, and server-side failures.
RETRY_STATUSES = frozenset({408, 429}) | frozenset(range(500, 600))
#: The longest wait between tries, whatever ``Retry-After`` asks (a batch must not hang on one header).
MAX_BACKOFF_S = 60.0
_TOKEN_ID_PREFIX = "token_id:"


class _RequestFailed(Exception):
    """One try failed; ``retry`` says whether another may succeed, ``wait_s`` what the server asked."""

    def __init__(self, message: str, *, retry: bool, wait_s: float | None = None):
        super().__init__(message)
        self.retry = retry
        self.wait_s = wait_s


class OpenAIPolicy(Policy):
    """Completes conversations on an OpenAI-compatible chat completions server.

    Args:
        model: The model name the server knows (``vllm serve``'s model, an OpenAI model id, ...).
        base_url: The API root, up to and including ``/v1``.
        api_key: Sent as a bearer token; default ``$OPENAI_API_KEY``, else no ``Authorization`` header.
        max_tokens: Most tokens to generate per completion.
        temperature: Sampling temperature (0 is greedy on most servers).
        top_p: Nucleus sampling mass, in (0, 1].
        seed: Base sampling seed. Request ``n`` sent by this policy (counted from 0, in input order,
            across calls) uses ``seed + n``: a group of identical conversations still gets distinct
            samples, and replaying the same calls on a deterministic server gives the same ones.
        concurrency: Most requests in flight at once.
        timeout_s: Seconds a try may wait to connect and for each read. The answer is not streamed,
            so this bounds the whole generation.
        max_retries: Further tries after a retryable failure (0: a single try).
        backoff_s: The first wait between tries; it doubles each time, with jitter (x0.5 to x1).
        logprobs: Ask for per-token log-probabilities (see the module docstring for what servers give).
        native_tools: Send ``tools`` with each request and return the server's parsed ``tool_calls``.
            By default the tool schemas are not sent: the env's system prompt describes its own
            text call syntax, and the completion text is the action.
        extra_body: More request fields, merged last (e.g. ``{"top_k": 20}``, vLLM's
            ``{"return_token_ids": True}``).

    Raises:
        ValueError: For a malformed ``base_url`` or an out-of-range number.
        TypeError: For an argument of the wrong type.

    Examples:
        >>> policy = OpenAIPolicy("Qwen/Qwen3-0.6B", base_url="http://127.0.0.1:8000/v1", api_key="", seed=7)
        >>> policy.describe()["sampling"]
        {'max_tokens': 256, 'temperature': 1.0, 'top_p': 1.0, 'seed': 7}
        >>> OpenAIPolicy("m", base_url="localhost:8000")
        Traceback (most recent call last):
        ...
        ValueError: base_url must be an http(s) URL such as 'http://127.0.0.1:8000/v1', got 'localhost:8000'
    """

    name = "openai"

    def __init__(
        self,
        model: str,
        *,
        base_url: str = "http://127.0.0.1:8000/v1",
        api_key: str | None = None,
        max_tokens: int = 256,
        temperature: float = 1.0,
        top_p: float = 1.0,
        seed: int | None = None,
        concurrency: int = 32,
        timeout_s: float = 60.0,
        max_retries: int = 3,
        backoff_s: float = 0.5,
        logprobs: bool = False,
        native_tools: bool = False,
        extra_body: Mapping[str, Any] | None = None,
    ):
        if not isinstance(model, str) or not model:
            raise TypeError(f"model must be a non-empty string, got {model!r}")
        if not isinstance(base_url, str):
            raise TypeError(f"base_url must be a string, got {type(base_url).__name__}")
        parts = urllib.parse.urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
            raise ValueError(f"base_url must be an http(s) URL such as 'http://127.0.0.1:8000/v1', got {base_url!r}")
        if api_key is not None and not isinstance(api_key, str):
            raise TypeError(f"api_key must be a string or None, got {type(api_key).__name__}")
        _check_int("max_tokens", max_tokens, minimum=1)
        _check_int("concurrency", concurrency, minimum=1)
        _check_int("max_retries", max_retries, minimum=0)
        if seed is not None:
            _check_int("seed", seed, minimum=0)
        _check_number("temperature", temperature, low=0.0)
        _check_number("top_p", top_p, low=0.0, low_open=True, high=1.0)
        _check_number("timeout_s", timeout_s, low=0.0, low_open=True)
        _check_number("backoff_s", backoff_s, low=0.0)
        for flag, value in (("logprobs", logprobs), ("native_tools", native_tools)):
            if not isinstance(value, bool):
                raise TypeError(f"{flag} must be True or False, got {value!r}")
        if extra_body is not None and not isinstance(extra_body, Mapping):
            raise TypeError(f"extra_body must be a mapping of request fields, got {type(extra_body).__name__}")

        self.model = model
        self.base_url = base_url.rstrip("/")
        self.url = f"{self.base_url}/chat/completions"
        # A local server is never reached through a proxy, whatever HTTP_PROXY says; other hosts follow the env.
        local = parts.hostname in ("localhost", "127.0.0.1", "::1")
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({} if local else None))
        self.api_key = os.environ.get("OPENAI_API_KEY") if api_key is None else api_key
        self.max_tokens = max_tokens
        self.temperature = float(temperature)
        self.top_p = float(top_p)
        self.seed = seed
        self.concurrency = concurrency
        self.timeout_s = float(timeout_s)
        self.max_retries = max_retries
        self.backoff_s = float(backoff_s)
        self.logprobs = logprobs
        self.native_tools = native_tools
        self.extra_body = dict(extra_body or {})
        self._sent = 0  # requests built so far: the seed offset of the next one
        self._lock = threading.Lock()
        self._jitter = random.Random()

    def describe(self) -> dict[str, Any]:
        """What the trajectory records about this policy (never the API key).

        Returns:
            ``{"name": "openai", "model", "sampling": {max_tokens, temperature, top_p, seed}, "base_url"}``.
        """
        sampling = {"max_tokens": self.max_tokens, "temperature": self.temperature, "top_p": self.top_p}
        return {
            "name": self.name,
            "model": self.model,
            "sampling": {**sampling, "seed": self.seed},
            "base_url": self.base_url,
        }

    def __call__(self, conversations: Sequence[Conversation], tools: Sequence[ToolSchemas]) -> list[Completion]:
        """Complete each conversation with one request, concurrently.

        Args:
            conversations: OpenAI chat message lists (token fields such as ``prompt_ids`` are dropped).
            tools: The tool schemas of each conversation (sent only with ``native_tools=True``).

        Returns:
            One completion per conversation, in input order; a request that failed after its retries
            gives ``Completion(text="", error=...)``.

        Raises:
            TypeError: If the inputs are not sequences of messages and schemas, or not JSON-serializable.
            ValueError: If ``conversations`` and ``tools`` differ in length.
        """
        if isinstance(conversations, (str, Mapping)) or not isinstance(conversations, Sequence):
            raise TypeError("conversations must be a sequence of message lists (wrap one conversation in a list)")
        if isinstance(tools, (str, Mapping)) or not isinstance(tools, Sequence):
            raise TypeError("tools must be a sequence of tool-schema lists, one per conversation")
        if len(conversations) != len(tools):
            raise ValueError(
                f"{len(conversations)} conversations but {len(tools)} tool lists: give one per conversation"
            )
        # Bodies are built here, before any request, so bad input raises instead of failing one request.
        bodies = [
            self._body(i, conversation, schemas)
            for i, (conversation, schemas) in enumerate(zip(conversations, tools, strict=True))
        ]
        if not bodies:
            return []
        workers = min(self.concurrency, len(bodies))
        with concurrent.futures.ThreadPoolExecutor(workers, thread_name_prefix="openai-policy") as pool:
            return list(pool.map(self._complete, bodies))

    def _body(self, index: int, conversation: Conversation, schemas: ToolSchemas) -> bytes:
        if isinstance(conversation, (str, Mapping)) or not isinstance(conversation, Sequence):
            raise TypeError(
                f"conversation {index} must be a list of message dicts, got {type(conversation).__name__} "
                "(pass a list of conversations, even for one)"
            )
        messages = []
        for message in conversation:
            if not isinstance(message, Mapping):
                raise TypeError(f"conversation {index} has a message that is not a dict: {message!r}")
            messages.append({key: value for key, value in message.items() if key not in TOKEN_FIELDS})
        body: dict[str, Any] = {
            "model": self.model,
            "messages": messages,
            "max_tokens": self.max_tokens,
            "temperature": self.temperature,
            "top_p": self.top_p,
        }
        if self.seed is not None:
            with self._lock:
                body["seed"] = self.seed + self._sent
                self._sent += 1
        if self.logprobs:
            body["logprobs"] = True
        if self.native_tools and schemas:  # OpenAI rejects an empty tools list
            if isinstance(schemas, (str, Mapping)) or not isinstance(schemas, Sequence):
                raise TypeError(f"tools {index} must be a list of tool schemas, got {type(schemas).__name__}")
            body["tools"] = list(schemas)
        body.update(self.extra_body)
        try:
            text = json.dumps(body, ensure_ascii=False)
            try:
                return text.encode()
            except UnicodeEncodeError:  # a lone surrogate (a model can write one through a JSON escape)
                return json.dumps(body).encode()  # escaped as \ud800: valid JSON for the server
        except (TypeError, ValueError) as error:
            raise TypeError(f"conversation {index} cannot be sent as JSON: {error}") from error

    def _complete(self, body: bytes) -> Completion:
        """Send one request with retries; any failure becomes an error completion."""
        attempts = self.max_retries + 1
        for attempt in range(attempts):
            try:
                return _parse(self._post(body))
            except _RequestFailed as failure:
                if not failure.retry or attempt == attempts - 1:
                    tries = "1 try" if attempt == 0 else f"{attempt + 1} tries"
                    return Completion("", error=f"POST {self.url} failed after {tries}: {failure}")
                time.sleep(self._wait(attempt, failure.wait_s))
            except Exception as error:  # never let one request take the batch down
                return Completion("", error=f"POST {self.url} failed: {type(error).__name__}: {error}")
        raise AssertionError("unreachable")  # pragma: no cover

    def _wait(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, MAX_BACKOFF_S)
        delay = min(self.backoff_s * 2**attempt, MAX_BACKOFF_S)
        return delay * (0.5 + 0.5 * self._jitter.random())  # jitter spreads retries of a failed batch

    def _post(self, body: bytes) -> dict[str, Any]:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        request = urllib.request.Request(self.url, data=body, headers=headers, method="POST")
        try:
            with self._opener.open(request, timeout=self.timeout_s) as response:
                raw = response.read()
        except urllib.error.HTTPError as error:
            detail = _error_detail(error)
            wait_s = _retry_after(error.headers.get("Retry-After")) if error.headers else None
            raise _RequestFailed(
                f"HTTP {error.code}: {detail}", retry=error.code in RETRY_STATUSES, wait_s=wait_s
            ) from None
        except urllib.error.URLError as error:
            reason = error.reason
            if isinstance(reason, TimeoutError):
                raise _RequestFailed(f"timed out after {self.timeout_s:g} s", retry=True) from None
            raise _RequestFailed(f"cannot connect: {reason}", retry=True) from None
        except TimeoutError:  # a read that timed out after the connection was made
            raise _RequestFailed(f"timed out after {self.timeout_s:g} s", retry=True) from None
        except (ConnectionError, http.client.HTTPException, OSError) as error:
            raise _RequestFailed(f"connection failed: {type(error).__name__}: {error}", retry=True) from None
        try:
            payload = json.loads(raw)
        except ValueError:
            raise _RequestFailed(f"the response is not JSON: {raw[:200]!r}", retry=False) from None
        if not isinstance(payload, dict):
            raise _RequestFailed(f"the response is not a JSON object: {raw[:200]!r}", retry=False)
        return payload


def _parse(payload: Mapping[str, Any]) -> Completion:
    """Turn a chat completion response into a :class:`Completion` (the first choice)."""
    choices = payload.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], Mapping):
        raise _RequestFailed(f"the response has no choices: {json.dumps(payload)[:200]}", retry=False)
    choice = choices[0]
    message = choice.get("message") or {}
    text = message.get("content") or ""
    if not isinstance(text, str):
        raise _RequestFailed(f"the message content is not text: {text!r}"[:200], retry=False)
    completion = Completion(text, tool_calls=message.get("tool_calls") or None)
    entries = (choice.get("logprobs") or {}).get("content") or []
    if entries:
        completion.logprobs = [float(entry["logprob"]) for entry in entries]
        tokens = [entry.get("token", "") for entry in entries]
        if all(token.startswith(_TOKEN_ID_PREFIX) for token in tokens):  # vLLM's return_tokens_as_token_ids
            completion.completion_ids = [int(token[len(_TOKEN_ID_PREFIX) :]) for token in tokens]
    if isinstance(choice.get("token_ids"), list):  # vLLM's return_token_ids
        completion.completion_ids = [int(i) for i in choice["token_ids"]]
    if isinstance(payload.get("prompt_token_ids"), list):
        completion.prompt_ids = [int(i) for i in payload["prompt_token_ids"]]
    return completion


def _error_detail(error: urllib.error.HTTPError) -> str:
    """The server's own error message (OpenAI ``{"error": {"message"}}``, FastAPI ``{"detail"}``), else the body."""
    try:
        raw = error.read()
    except OSError:
        return error.reason or "no body"
    try:
        payload = json.loads(raw)
    except ValueError:
        return raw.decode(errors="replace").strip()[:500] or str(error.reason)
    if isinstance(payload, dict):
        inner = payload.get("error")
        if isinstance(inner, Mapping) and inner.get("message"):
            return str(inner["message"])[:500]
        for key in ("detail", "message", "error"):
            if payload.get(key):
                return str(payload[key])[:500]
    return json.dumps(payload)[:500]


def _retry_after(value: str | None) -> float | None:
    """Seconds a ``Retry-After`` header asks for (delta-seconds or an HTTP date), or ``None``.

    Examples:
        >>> _retry_after("2"), _retry_after(None), _retry_after("soon")
        (2.0, None, None)
    """
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(when.timestamp() - time.time(), 0.0)


def _check_int(name: str, value: Any, *, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")


def _check_number(name: str, value: Any, *, low: float, low_open: bool = False, high: float | None = None) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number, got {value!r}")
    if value != value or (value <= low if low_open else value < low) or (high is not None and value > high):
        bound = f"> {low:g}" if low_open else f">= {low:g}"
        if high is not None:
            bound += f" and <= {high:g}"
        raise ValueError(f"{name} must be {bound}, got {value}")
