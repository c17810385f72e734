"""The local runner on real envs: oracle scores, batching and refill, groups, tokens, failures, resume."""

from __future__ import annotations

import json
import threading

import pytest
import toy_envs  # noqa: F401  (registers toy/Capitals-v0, toy/Slow-v0, toy/ProcessCapitals-v0)

import agentgym  # noqa: F401  (registers the agentgym envs)
from agentgym.policies import TOKEN_FIELDS, Completion, Policy
from agentgym.policies.oracle import OraclePolicy
from agentgym.policies.random import RandomPolicy
from agentgym.runner import Runner, draw_tasks, plan_episodes
from agentgym.tools import ToolCall, format_call
from agentgym.trajectory import read_trajectories


class Recording(Policy):
    """Wraps a policy and records the batch size of every call."""

    def __init__(self, policy):
        self.policy, self.batches = policy, []
        self.needs_env = policy.needs_env

    def __call__(self, conversations, tools, **kwargs):
        self.batches.append(len(conversations))
        return self.policy(conversations, tools, **kwargs)


class Counting:
    """A model-free policy that looks a country up, then answers, and reports made-up token ids.

    It stands in for a tokenizing backend only in what the runner must do with the ids (store them,
    hand them back on the conversation); tests/policies check real ids from a real model.
    """

    def __init__(self):
        self.seen_token_fields = []

    def __call__(self, conversations, tools):
        completions = []
        for conversation in conversations:
            assistants = [m for m in conversation if m["role"] == "assistant"]
            self.seen_token_fields.append([all(k in m for k in TOKEN_FIELDS) for m in assistants])
            country = conversation[1]["content"].removeprefix("What is the capital of ").rstrip("?")
            call = ToolCall("lookup", {"country": country}) if not assistants else ToolCall("answer", {"text": "?"})
            turn = len(assistants)
            text = format_call(call, "hermes")
            completions.append(Completion(text, prompt_ids=[turn] * 3, completion_ids=[7, turn], logprobs=[-0.5, -1.0]))
        return completions


def test_the_oracle_scores_full_marks_on_deepsearch_and_texttosql_through_the_runner():
    for env_id, expected in [("agentgym/DeepSearch-v0", 1.1), ("agentgym/TextToSQL-v0", None)]:
        with Runner(env_id, OraclePolicy(), num_envs=4, env_kwargs={"split": "test"}) as runner:
            episodes = list(runner.episodes(runner.plan(n=12)))
        assert len(episodes) == 12
        for trajectory in episodes:
            assert trajectory.error is None and trajectory.terminated and not trajectory.truncated
            assert trajectory.policy == {"name": "oracle"}
            outcome = trajectory.rewards.components.get("outcome", trajectory.rewards.components.get("execution"))
            assert trajectory.rewards.total >= 1.0 and outcome is not None
            if expected is not None:
                assert trajectory.rewards.total == pytest.approx(expected)


def test_every_turn_is_one_batched_call_and_freed_slots_are_refilled():
    policy = Recording(OraclePolicy())
    with Runner("agentgym/DeepSearch-v0", policy, num_envs=4, env_threads=0) as runner:
        plan = runner.plan(n=20)
        episodes = list(runner.episodes(plan))
    assert sum(policy.batches) == sum(len(t.steps) for t in episodes)
    # Full batches until the last tasks have started: 20 episodes of 2 to 5 steps, 4 in flight.
    last_start = next(i for i, size in enumerate(policy.batches) if size < 4)
    assert all(size == 4 for size in policy.batches[:last_start])
    assert policy.batches[last_start:] == sorted(policy.batches[last_start:], reverse=True)
    assert len(policy.batches) < sum(policy.batches) / 3  # batching, not one episode at a time


def test_groups_share_a_task_and_resets_are_seeded_by_plan_position():
    plan = plan_episodes(["a", "b"], group_size=3)
    assert [(e.task_id, e.group) for e in plan] == [("a", 0), ("a", 1), ("a", 2), ("b", 0), ("b", 1), ("b", 2)]
    with Runner("toy/Capitals-v0", OraclePolicy(), num_envs=3, group_size=3, seed=100) as runner:
        plan = runner.plan(n=9)
        assert [e.task_id for e in plan[:3]] == [plan[0].task_id] * 3 and plan[3].task_id != plan[0].task_id
        episodes = list(runner.episodes(plan))
    assert sorted(t.seed for t in episodes) == list(range(100, 109))
    assert sorted(t.task_id for t in episodes) == sorted(e.task_id for e in plan)
    assert draw_tasks(["a", "b", "c"], 3, seed=5) == draw_tasks(["a", "b", "c"], 3, seed=5)
    with pytest.raises(ValueError, match="multiple of group_size"):
        Runner("toy/Capitals-v0", OraclePolicy(), group_size=4).plan(n=6)


@pytest.mark.parametrize("tool_format", ["openai", "qwen_xml"])
def test_the_oracle_plays_structured_and_xml_calls_and_the_runner_records_them_as_the_env_does(tool_format):
    # The oracle refused a structured (dict) action before; the runner's conversation equals the env's record.
    with Runner("toy/Capitals-v0", OraclePolicy(), num_envs=2, env_kwargs={"tool_format": tool_format}) as runner:
        episodes = list(runner.episodes(runner.plan(task_ids=["capital-peru", "capital-chile"])))
    for trajectory in episodes:
        assert trajectory.error is None and trajectory.terminated and trajectory.rewards.total > 0
        assert trajectory.steps[-1].info["final"]["name"] == "answer"


def test_token_ids_and_logprobs_are_stored_on_steps_and_handed_back_on_the_conversation():
    policy = Counting()
    with Runner("toy/Capitals-v0", policy, num_envs=2) as runner:
        [trajectory] = list(runner.episodes(runner.plan(task_ids=["capital-peru"])))
    assert [s.prompt_ids for s in trajectory.steps] == [[0, 0, 0], [1, 1, 1]]
    assert [s.completion_ids for s in trajectory.steps] == [[7, 0], [7, 1]]
    assert trajectory.steps[0].logprobs == [-0.5, -1.0] and "policy" in trajectory.steps[0].timings
    assert policy.seen_token_fields == [[], [True]]  # turn 2 saw turn 1's ids on its assistant message
    assert not any(key in message for message in trajectory.messages for key in TOKEN_FIELDS)
    json.loads(trajectory.to_json())


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        (lambda conversations, tools: 1 / 0, "policy: the policy raised ZeroDivisionError"),
        (lambda conversations, tools: [Completion("x")], "policy: 1 completions for 3 conversations"),
        (lambda conversations, tools: ["text"] * len(conversations), "policy: expected a Completion, got str"),
        (lambda conversations, tools: [Completion(None)] * len(conversations), "text is NoneType"),
        (lambda conversations, tools: [Completion("", error="timed out")] * len(conversations), "policy: timed out"),
    ],
)
def test_a_failing_policy_ends_its_episodes_with_the_error_and_the_run_goes_on(policy, expected):
    with Runner("toy/Capitals-v0", policy, num_envs=3) as runner:  # 6 episodes: always 3 in a batch
        episodes = list(runner.episodes(runner.plan(n=6)))
    assert len(episodes) == 6
    for trajectory in episodes:
        assert expected in trajectory.error and trajectory.truncated and not trajectory.terminated


def test_garbage_text_is_the_envs_business_not_a_failure():
    garbage = lambda conversations, tools: [Completion("\x00 }{ <tool_call>")] * len(conversations)  # noqa: E731
    with Runner("toy/Capitals-v0", garbage, num_envs=2, max_turns=2) as runner:
        episodes = list(runner.episodes(runner.plan(n=2)))
    assert all(t.error is None and t.truncated and all(s.invalid_action for s in t.steps) for t in episodes)


def test_an_env_that_raises_ends_that_episode_and_gets_replaced():
    def policy(conversations, tools):  # Atlantis makes RaisingEnv's lookup raise KeyError
        return [Completion(format_call(ToolCall("lookup", {"country": "Atlantis"}), "hermes"))] * len(conversations)

    import gymnasium

    gymnasium.register(id="toy/RaisingRunner-v0", entry_point=toy_envs.RaisingEnv)
    with Runner("toy/RaisingRunner-v0", policy, num_envs=2) as runner:
        episodes = list(runner.episodes(runner.plan(n=5)))
    assert len(episodes) == 5
    assert all("env step failed: KeyError: 'Atlantis'" in t.error and not t.steps for t in episodes)


def test_the_episode_time_limit_ends_a_hung_step_and_the_slot_goes_on():
    def policy(conversations, tools):
        country = "sleep:3" if len(conversations) > 1 else "Peru"
        return [Completion(format_call(ToolCall("lookup", {"country": country}), "hermes"))] * len(conversations)

    with Runner("toy/Slow-v0", policy, num_envs=2, episode_time_limit_s=0.5, max_turns=1) as runner:
        episodes = list(runner.episodes(runner.plan(n=3)))
    # The first two shared a batch and hung; the third ran alone on a fresh thread, not behind them.
    timed_out = "episode time limit of 0.5 s exceeded (during a step)"
    assert sorted(map(str, (t.error for t in episodes))) == ["None", timed_out, timed_out]


def test_the_time_limit_ends_only_the_episode_that_used_the_time():
    # Issue 12, item 6: with envs stepped one after another, the seven episodes queued behind one
    # slow step were killed too (a zero timeout), although none of them had used any time.
    calls = []

    def policy(conversations, tools):
        calls.append(len(conversations))
        slow = ["sleep:1.5"] if len(calls) == 1 else []
        countries = slow + ["Peru"] * (len(conversations) - len(slow))
        return [Completion(format_call(ToolCall("lookup", {"country": c}), "hermes")) for c in countries]

    with Runner("toy/Slow-v0", policy, num_envs=8, env_threads=1, episode_time_limit_s=1.0, max_turns=2) as runner:
        episodes = list(runner.episodes(runner.plan(n=8)))
    errors = [t.error for t in episodes if t.error is not None]
    assert errors == ["episode time limit of 1 s exceeded (during a step)"]
    assert sum(len(t.steps) == 2 for t in episodes) == 7  # the others played both turns


def test_a_step_is_timed_from_its_own_start_not_from_the_batch():
    # Each step takes 0.4 s of its own; stepped one after another, the last of five starts 1.6 s
    # after the batch, past the 1 s limit, yet each episode used only 0.4 s.
    def policy(conversations, tools):
        return [Completion(format_call(ToolCall("lookup", {"country": "sleep:0.4"}), "hermes"))] * len(conversations)

    with Runner("toy/Slow-v0", policy, num_envs=5, env_threads=1, episode_time_limit_s=1.0, max_turns=1) as runner:
        episodes = list(runner.episodes(runner.plan(n=5)))
    assert [t.error for t in episodes] == [None] * 5


def test_an_env_that_asks_for_a_process_runs_in_one_and_a_hung_one_is_killed():
    with Runner("toy/ProcessCapitals-v0", OraclePolicy(), num_envs=2, imports=["toy_envs"]) as runner:
        episodes = list(runner.episodes(runner.plan(n=4)))
        workers = [handle._process for handle in runner._handles]
    assert all(t.error is None and t.rewards.total == pytest.approx(1.1) for t in episodes)
    assert all(process.pid != threading.get_native_id() for process in workers)

    def sleepy(conversations, tools):
        return [Completion(format_call(ToolCall("lookup", {"country": "sleep:30"}), "hermes"))] * len(conversations)

    with Runner("toy/ProcessCapitals-v0", sleepy, num_envs=1, episode_time_limit_s=2, imports=["toy_envs"]) as runner:
        [trajectory] = list(runner.episodes(runner.plan(n=1)))
        assert runner._handles[0] is None  # the stuck worker was killed, not waited for
    assert "time limit" in trajectory.error
    assert not any(process.is_alive() for process in workers)


def test_run_streams_to_jsonl_refuses_to_append_by_mistake_and_resumes(tmp_path):
    output = tmp_path / "runs" / "out.jsonl"
    with Runner("toy/Capitals-v0", RandomPolicy(seed=0), num_envs=4, max_turns=2) as runner:
        stats = runner.run(n=6, output=output)
        assert stats.episodes == 6 and stats.steps > 0 and not stats.errors
        with pytest.raises(FileExistsError, match="resume"):
            runner.run(n=10, output=output)
        with open(output, "ab") as file:
            file.write(b'{"schema": "agentgym.trajectory/1", "env_id": "to')  # a crash mid-write
        stats = runner.run(n=10, output=output, resume=True)
    assert stats.skipped == 6 and stats.episodes == 4
    episodes = list(read_trajectories(output, skip_invalid=True))
    assert len(episodes) == 10
    assert sorted(t.task_id for t in episodes) == sorted(e.task_id for e in runner.plan(n=10))


def test_bad_runner_arguments_get_clear_errors():
    with pytest.raises(ValueError, match="num_envs"):
        Runner("toy/Capitals-v0", OraclePolicy(), num_envs=0)
    with pytest.raises(ValueError, match="give n"):
        Runner("toy/Capitals-v0", OraclePolicy()).plan()
    with Runner("toy/Capitals-v0", OraclePolicy()) as runner:
        [trajectory] = list(runner.episodes(runner.plan(task_ids=["capital-peruu"])))
    assert "reset failed" in trajectory.error and "Did you mean 'capital-peru'" in trajectory.error


def test_a_server_that_times_out_is_recorded_on_each_episode_and_the_run_goes_on():
    import socket

    from agentgym.policies.openai import OpenAIPolicy

    with socket.socket() as listener:  # accepts connections, never answers
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        port = listener.getsockname()[1]
        policy = OpenAIPolicy("m", base_url=f"http://127.0.0.1:{port}/v1", timeout_s=0.3, max_retries=0)
        with Runner("toy/Capitals-v0", policy, num_envs=2) as runner:
            episodes = list(runner.episodes(runner.plan(n=4)))
    assert len(episodes) == 4
    assert all("policy: " in t.error and "timed out" in t.error and not t.steps for t in episodes)
    assert all(t.policy["name"] == "openai" for t in episodes)


def test_a_policy_declares_describe_and_needs_env_and_a_plain_function_gets_the_defaults():
    def silent(conversations, tools):
        return [Completion("") for _ in conversations]

    with Runner("toy/Capitals-v0", silent, num_envs=1, max_turns=1) as runner:
        assert runner.policy.needs_env is False and runner.policy_info == {"name": "function"}
    with Runner("toy/Capitals-v0", OraclePolicy(), num_envs=1) as runner:
        assert runner.policy.needs_env is True and runner.policy_info["name"] == "oracle"
    with pytest.raises(TypeError, match="a policy is callable"):
        Runner("toy/Capitals-v0", "oracle")
