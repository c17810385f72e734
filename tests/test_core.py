"""The env protocol (agentgym.core) on the test env in toy_envs."""

from __future__ import annotations

import json

import gymnasium as gym
import numpy as np
import pytest
from toy_envs import CAPITALS, CapitalsEnv, capital_tasks

from agentgym.core import AgentEnv, Task, TaskSet, TextSpace, render_messages, split_of
from agentgym.tools import ToolCall, format_call


def call(name: str, **arguments) -> str:
    return format_call(ToolCall(name, arguments), "hermes")


# ---- tasks -----------------------------------------------------------------------------------


def test_task_set_lookup_splits_and_sampling():
    tasks = capital_tasks()
    assert len(tasks) == len(CAPITALS)
    assert tasks.get("capital-peru").gold["answer"] == "Lima"
    assert "capital-peru" in tasks and "capital-atlantis" not in tasks
    sizes = {split: len(tasks.split(split)) for split in ("train", "dev", "test")}
    assert sum(sizes.values()) == len(tasks) and all(sizes.values())
    assert tasks.split("all") is tasks
    draws = [tasks.sample(np.random.default_rng(7)).id for _ in range(3)]
    assert len(set(draws)) == 1  # the same seed draws the same task


def test_task_set_errors_are_clear():
    tasks = capital_tasks()
    with pytest.raises(KeyError, match="Did you mean 'capital-peru'"):
        tasks.get("capital-pero")
    with pytest.raises(ValueError, match="unknown split 'validation'"):
        tasks.split("validation")
    with pytest.raises(ValueError, match="duplicate task id 'a'"):
        TaskSet([Task("a", "x"), Task("a", "y")])
    with pytest.raises(ValueError, match="empty task set"):
        TaskSet([]).sample(np.random.default_rng(0))


def test_split_of_is_stable_and_proportional():
    assert split_of("capital-peru") == split_of("capital-peru")
    counts = {s: 0 for s in ("train", "dev", "test")}
    for i in range(20_000):
        counts[split_of(f"id-{i}", dev=0.2, test=0.3)] += 1
    assert abs(counts["test"] / 20_000 - 0.3) < 0.02 and abs(counts["dev"] / 20_000 - 0.2) < 0.02


def test_rebuilt_env_finds_the_same_task_by_id():
    first, second = CapitalsEnv(), CapitalsEnv()
    for task_id in first.all_tasks.ids:
        assert first.all_tasks.get(task_id) == second.all_tasks.get(task_id)


# ---- spaces ----------------------------------------------------------------------------------


def test_text_space_accepts_any_unicode_up_to_the_limit():
    space = TextSpace(max_length=5)
    assert space.contains("日本語🙂!") is True
    assert space.contains("") is True
    assert space.contains("toolong") is False
    assert space.contains(b"bytes") is False
    space.seed(3)
    samples = [space.sample() for _ in range(50)]
    assert all(space.contains(s) for s in samples)


# ---- reset / step ----------------------------------------------------------------------------


def test_reset_gives_opening_messages_tools_and_task_id():
    env = CapitalsEnv()
    obs, info = env.reset(options={"task_id": "capital-peru"})
    assert obs == "What is the capital of Peru?"
    assert [m["role"] for m in info["messages"]] == ["system", "user"]
    assert info["messages"][1]["content"] == obs
    assert "lookup" in info["messages"][0]["content"]  # the system prompt documents the tools
    assert [t["function"]["name"] for t in info["tools"]] == ["lookup", "answer"]
    assert info["tools"][0]["function"]["parameters"]["required"] == ["country"]
    assert info["task_id"] == "capital-peru"
    assert env.trajectory.task_id == "capital-peru" and len(env.trajectory.messages) == 2


def test_a_solved_episode_records_everything():
    env = CapitalsEnv()
    env.reset(seed=1, options={"task_id": "capital-peru"})
    obs, reward, terminated, truncated, info = env.step("I will look it up. " + call("lookup", country="Peru"))
    assert obs == "The capital of Peru is Lima."
    assert (reward, terminated, truncated) == (pytest.approx(0.1), False, False)
    assert info["invalid_action"] is False
    assert info["reward_components"] == {"process": pytest.approx(0.1)}
    assert info["messages"] == [
        {"role": "tool", "tool_call_id": info["tool_calls"][0]["id"], "name": "lookup", "content": obs}
    ]
    obs, reward, terminated, truncated, info = env.step(call("answer", text="Lima"))
    assert (reward, terminated, truncated) == (1.0, True, False)
    trajectory = env.trajectory
    assert [m["role"] for m in trajectory.messages] == ["system", "user", "assistant", "tool", "assistant", "tool"]
    assert trajectory.terminated and not trajectory.truncated
    assert trajectory.rewards.per_step == [pytest.approx(0.1), 1.0]
    assert trajectory.rewards.total == pytest.approx(1.1)
    assert trajectory.rewards.components == {"process": pytest.approx(0.1), "outcome": 1.0}
    assert trajectory.steps[1].info["final"] == {"name": "answer", "arguments": {"text": "Lima"}}
    assert trajectory.seed == 1
    json.loads(trajectory.to_json())  # serialisable
    with pytest.raises(gym.error.ResetNeeded):
        env.step(call("answer", text="Lima"))


def test_openai_message_actions_are_accepted():
    env = CapitalsEnv()
    env.reset(options={"task_id": "capital-japan"})
    message = {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {"id": "call_abc", "type": "function", "function": {"name": "lookup", "arguments": '{"country": "Japan"}'}}
        ],
    }
    obs, _, _, _, info = env.step(message)
    assert obs == "The capital of Japan is Tokyo."
    assert info["messages"][0]["tool_call_id"] == "call_abc"
    assert env.trajectory.messages[2]["tool_calls"][0]["id"] == "call_abc"


@pytest.mark.parametrize(
    "action, expected",
    [
        ("", "No tool call found"),
        ("The capital is Lima.", "No tool call found"),
        ('<tool_call>{"name": "lookup", "arguments": {"country": </tool_call>', "JSON"),
        ('<tool_call>{"name": "serch", "arguments": {}}</tool_call>', "Unknown tool 'serch'"),
        (call("lookup", country="Atlantis"), "no country named 'Atlantis'"),
        (call("lookup"), "missing required argument 'country'"),
        (call("lookup", country=3), "country"),
        (12345, "action must be a string"),
        (None, "action must be a string"),
        ("x" * (AgentEnv.max_action_chars + 1), "the limit is"),
    ],
)
def test_malformed_actions_are_invalid_steps_not_exceptions(action, expected):
    env = CapitalsEnv(max_turns=3)
    env.reset(seed=0)
    obs, reward, terminated, truncated, info = env.step(action)
    assert expected in obs
    assert info["invalid_action"] is True
    assert terminated is False and truncated is False
    assert env.observation_space.contains(obs)


def test_max_turns_truncates():
    env = CapitalsEnv(max_turns=2)
    env.reset(seed=0)
    assert env.step("nothing")[3] is False
    _, reward, terminated, truncated, _ = env.step("still nothing")
    assert (terminated, truncated) == (False, True)
    assert env.trajectory.truncated and reward == 0.0  # no answer: outcome 0


def test_calls_after_a_final_answer_are_not_run():
    env = CapitalsEnv()
    env.reset(options={"task_id": "capital-peru"})
    action = call("answer", text="Lima") + call("lookup", country="Peru")
    obs, _, terminated, _, info = env.step(action)
    assert terminated and [c["name"] for c in info["tool_calls"]] == ["answer"]
    assert not env.looked_up


def test_long_observations_are_cut_with_a_note():
    env = CapitalsEnv(max_observation_chars=40)
    env.reset(seed=0)
    obs, *_ = env.step("x" * 500)  # the error message quotes nothing long, so make one that is
    assert len(obs) <= env.observation_space.max_length
    env.reset(options={"task_id": "capital-peru"})
    obs, *_ = env.step(call("lookup", country="Peru") * 5)
    assert "more characters cut" in obs and env.observation_space.contains(obs)


def test_max_calls_per_turn():
    env = CapitalsEnv(max_calls_per_turn=1)
    env.reset(options={"task_id": "capital-peru"})
    obs, _, _, _, info = env.step(call("lookup", country="Peru") + call("lookup", country="Chile"))
    assert info["invalid_action"] and "at most 1" in obs


def test_every_env_caps_tool_calls_per_turn_by_default():
    # Issue 12 item 4: one completion cannot hold the env for thousands of calls.
    env = CapitalsEnv()
    env.reset(options={"task_id": "capital-peru"})
    assert env.max_calls_per_turn == 8
    obs, _, _, _, info = env.step(call("lookup", country="Peru") * 8)
    assert not info["invalid_action"] and len(info["tool_calls"]) == 8
    obs, _, _, _, info = env.step(call("lookup", country="Peru") * 5000)
    assert info["invalid_action"] and info["tool_calls"] == [] and "Call at most 8 tools per turn" in obs
    assert len(env.trajectory.steps) == 2 and env.trajectory.steps[-1].tool_calls == []


def test_a_huge_integer_in_a_structured_call_is_an_error_observation():
    # Issue 12 item 5: page=10**5000 raised ValueError (int-to-str limit) out of step.
    env = CapitalsEnv()
    env.reset(options={"task_id": "capital-peru"})
    function = {"name": "lookup", "arguments": {"country": 10**5000}}
    action = {"role": "assistant", "content": None, "tool_calls": [{"id": "c1", "function": function}]}
    obs, _, _, _, info = env.step(action)
    assert info["invalid_action"] and "lookup" in obs
    digits = '{"country": "Peru", "extra": ' + "9" * 5000 + "}"
    obs, _, _, _, info = env.step(call("lookup", country="Peru").replace('{"country": "Peru"}', digits))
    assert info["invalid_action"] and "a number is too long" in obs
    json.loads(env.trajectory.to_json())  # the record stays writable


class AnswerTagEnv(CapitalsEnv):
    answer_tool = "answer"


def test_answer_tool_makes_a_plain_answer_tag_a_final_call():
    env = AnswerTagEnv()
    env.reset(options={"task_id": "capital-peru"})
    _, _, terminated, _, info = env.step("I know this. <answer> Lima </answer>")
    assert terminated and info["tool_calls"][0]["arguments"] == {"text": "Lima"}
    assert env.trajectory.steps[-1].info["final"] == {"name": "answer", "arguments": {"text": "Lima"}}
    plain = CapitalsEnv()
    plain.reset(options={"task_id": "capital-peru"})
    assert plain.step("<answer>Lima</answer>")[4]["invalid_action"]  # no answer_tool: no fallback


def test_an_unknown_tool_format_is_refused_when_the_env_is_built():
    with pytest.raises(ValueError, match="unknown tool_format 'qwen-xml'.*Did you mean 'qwen_xml'"):
        CapitalsEnv(tool_format="qwen-xml")


def test_answer_tool_must_name_a_tool():
    class Wrong(CapitalsEnv):
        answer_tool = "submit"

    with pytest.raises(ValueError, match="answer_tool 'submit' is not one of the tools"):
        Wrong()


@pytest.mark.parametrize("tool_format", ["hermes", "json", "llama3", "qwen_xml", "python", "react"])
def test_every_text_tool_format_plays_an_episode(tool_format):
    env = CapitalsEnv(tool_format=tool_format)
    env.reset(options={"task_id": "capital-chile"})
    terminated = False
    while not terminated:
        _, _, terminated, truncated, info = env.step(env.oracle_action())
        assert not info["invalid_action"] and not truncated
    assert env.trajectory.rewards.components["outcome"] == 1.0


def test_render_ansi_shows_the_conversation():
    env = CapitalsEnv(render_mode="ansi")
    env.reset(options={"task_id": "capital-peru"})
    env.step(call("lookup", country="Peru"))
    text = env.render()
    assert "[user]\nWhat is the capital of Peru?" in text and "[tool lookup]\nThe capital of Peru is Lima." in text
    assert CapitalsEnv().render() is None
    with pytest.raises(ValueError, match="render_mode"):
        CapitalsEnv(render_mode="human")


def test_render_messages_shows_openai_tool_calls():
    text = render_messages(
        [{"role": "assistant", "content": None, "tool_calls": [{"function": {"name": "f", "arguments": "{}"}}]}]
    )
    assert text == "[assistant]\n\n-> f({})"


def test_made_env_records_its_id_and_kwargs():
    import toy_envs  # noqa: F401  (registers toy/Capitals-v0)

    env = gym.make("toy/Capitals-v0", max_turns=4)
    env.reset(seed=0)
    assert env.unwrapped.trajectory.env_id == "toy/Capitals-v0"
    assert env.unwrapped.trajectory.env_kwargs == {"max_turns": 4}
    env.close()


def test_a_time_limit_wrapper_the_env_does_not_know_is_flagged():
    import toy_envs  # noqa: F401  (registers toy/Capitals-v0)

    from agentgym.testing import ConformanceError, check_termination

    with pytest.raises(ConformanceError, match="set the env's max_turns instead"):
        check_termination(lambda: gym.make("toy/Capitals-v0", max_episode_steps=2))


def test_the_default_step_reward_reads_the_env_reward():
    from agentgym.rewards.base import RewardResult
    from agentgym.rewards.outcome import ExactMatch

    class OutcomeOnly(CapitalsEnv):
        reward = ExactMatch()
        step_reward = AgentEnv.step_reward  # undo the test env's own

    class PerStep(OutcomeOnly):
        def reward(self, trajectory, task):
            return RewardResult(0.0, per_step=[0.5 * i for i in range(len(trajectory.steps))])

    env = OutcomeOnly()
    env.reset(options={"task_id": "capital-peru"})
    assert env.step(call("lookup", country="Peru"))[1] == 0.0
    _, reward, *_, info = env.step(call("answer", text="Lima"))
    assert reward == 1.0 and info["reward_components"] == {"reward": 1.0}
    assert env.trajectory.rewards.total == ExactMatch()(env.trajectory, env.task).value

    env = PerStep()
    env.reset(seed=0)
    assert [env.step("x")[1] for _ in range(3)] == [0.0, 0.5, 1.0]
