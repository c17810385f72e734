"""DeepSearch-v0: tools, reward wiring, the oracle and conformance, on the real Factbook corpus."""

from __future__ import annotations

import json

import gymnasium as gym
import pytest

import agentgym  # noqa: F401  (registers agentgym/DeepSearch-v0)
from agentgym.envs.deepsearch.env import DeepSearchEnv
from agentgym.envs.deepsearch.reward import DeepSearchReward
from agentgym.testing import EnvConformance, check_oracle
from agentgym.tools import ToolCall, format_call


def call(name: str, **arguments) -> str:
    return format_call(ToolCall(name, arguments), "hermes")


@pytest.fixture(scope="module")
def env():
    env = DeepSearchEnv(max_turns=12)
    yield env
    env.close()


def two_hop_task(env):
    """A 2-hop test task (two rubrics, two evidence pages)."""
    return next(task for task in env.all_tasks.split("test") if len(task.gold["rubrics"]) == 2)


def answer_with(env, task, report: str, answer: str | None = None):
    env.reset(options={"task_id": task.id})
    return env.step(call("answer", answer=answer or task.gold["answer"], report=report))


class TestDeepSearchConforms(EnvConformance):
    def make_env(self):
        return gym.make("agentgym/DeepSearch-v0")


def test_the_oracle_solves_every_test_task():
    tasks = DeepSearchEnv(split="test").tasks
    assert len(tasks) >= 100
    check_oracle(lambda: DeepSearchEnv(split="test", max_turns=12), task_ids=tasks.ids, min_return=1.1)


def test_opening_observation_and_tools(env):
    obs, info = env.reset(seed=3)
    assert obs == env.task.prompt and obs.endswith("?")
    assert [t["function"]["name"] for t in info["tools"]] == ["search", "open", "find", "answer"]
    assert "[n](url)" in info["messages"][0]["content"]


# ---- tools -----------------------------------------------------------------------------------


def test_search_finds_the_page_that_answers(env):
    env.reset(seed=0)
    obs, *_, info = env.step(call("search", query="Argentina capital", k=3))
    assert not info["invalid_action"]
    assert "URL: factbook://argentina/government" in obs and obs.startswith("[1] ")
    assert obs.count("URL: ") == 3


@pytest.mark.parametrize(
    "action, expected",
    [
        (call("search", query="   "), "the query is empty"),
        (call("search", query="x", k=0), "k must be between 1 and 10"),
        (call("search", query="x", k=11), "k must be between 1 and 10"),
        (call("search", k=3), "missing required argument 'query'"),
        (call("open", url="factbook://argentina/goverment"), "Did you mean 'factbook://argentina/government'"),
        (call("open", url="https://example.com"), "Use a URL from the search results"),
        (call("open", url="factbook://argentina/government", page=99), "part 99 does not exist"),
        (call("open", url="factbook://argentina/government", page=-1), "part -1 does not exist"),
        (call("find", url="factbook://argentina/government", pattern=" "), "the pattern is empty"),
        (call("find", url="factbook://nowhere", pattern="capital"), "no page with url"),
    ],
)
def test_bad_tool_inputs_get_clear_errors(env, action, expected):
    env.reset(seed=0)
    obs, reward, terminated, truncated, info = env.step(action)
    assert expected in obs and info["invalid_action"] and not terminated


def test_open_paginates_at_line_breaks_and_find_matches_lines(env):
    env.reset(seed=0)
    url = "factbook://united-states/economy"
    first, *_ = env.step(call("open", url=url))
    assert "(part 0 of 0-" in first and "Next: open(url, page=1)" in first
    page_text = env.corpus.get(url).text
    parts = [env.step(call("open", url=url, page=i))[0].split("\n\n", 1)[1] for i in range(3)]
    assert all(part in page_text for part in parts)
    obs, *_ = env.step(call("find", url="factbook://argentina/government", pattern="CAPITAL - NAME"))
    assert "Capital - name: Buenos Aires" in obs
    obs, *_ = env.step(call("find", url="factbook://argentina/government", pattern="zzzz-not-there"))
    assert obs.startswith("No line of factbook://argentina/government contains")


def test_plain_answer_tags_are_accepted(env):
    task = two_hop_task(env)
    env.reset(options={"task_id": task.id})
    obs, reward, terminated, truncated, info = env.step(f"I think so. <answer>{task.gold['answer']}</answer>")
    assert terminated and info["tool_calls"][0]["name"] == "answer"
    assert info["reward_components"]["outcome"] == pytest.approx(0.7)


# ---- reward wiring ---------------------------------------------------------------------------


def oracle_report(env, task):
    env.reset(options={"task_id": task.id})
    return env._oracle_report()


def play_oracle_until_answer(env, task):
    """Open the evidence pages the way the oracle does, but stop before answering."""
    env.reset(options={"task_id": task.id})
    while True:
        action = env.oracle_action()
        if '"answer"' in action and '"report"' in action:
            return
        env.step(action)


def test_citations_to_opened_evidence_beat_a_bare_correct_answer(env):
    task = two_hop_task(env)
    *_, bare = answer_with(env, task, report="")
    play_oracle_until_answer(env, task)
    *_, cited = env.step(call("answer", answer=task.gold["answer"], report=env._oracle_report()))
    assert bare["reward_components"] == {"evidence": 0.0, "outcome": pytest.approx(0.7), "citation": 0.0, "format": 0.0}
    assert cited["reward_components"]["outcome"] + cited["reward_components"]["citation"] == pytest.approx(1.0)


def test_a_citation_to_a_page_never_opened_earns_nothing(env):
    task = two_hop_task(env)
    report = oracle_report(env, task)  # cites the evidence pages, which this episode never opened
    *_, info = answer_with(env, task, report=report)
    assert info["reward_components"]["citation"] == 0.0
    assert info["reward_components"]["outcome"] == pytest.approx(0.7)


def test_a_wrong_but_well_formed_answer_gets_format_credit_only(env):
    task = two_hop_task(env)
    play_oracle_until_answer(env, task)
    *_, info = env.step(call("answer", answer="Atlantis", report=env._oracle_report()))
    assert info["reward_components"] == {"evidence": 0.0, "outcome": 0.0, "citation": 0.0, "format": pytest.approx(0.1)}


def test_finding_gold_evidence_earns_process_reward_once(env):
    task = two_hop_task(env)
    env.reset(options={"task_id": task.id})
    rubric = task.gold["rubrics"][0]
    _, first, *_ = env.step(call("find", url=rubric["evidence_url"], pattern=rubric["evidence"]))
    _, again, *_ = env.step(call("find", url=rubric["evidence_url"], pattern=rubric["evidence"]))
    assert first == pytest.approx(0.1 / len(task.gold["rubrics"])) and again == 0.0


def test_no_answer_before_max_turns_scores_nothing_at_the_end():
    env = DeepSearchEnv(max_turns=2)
    env.reset(seed=1)
    env.step(call("search", query="zzzz qqqq"))
    *_, truncated, info = env.step("thinking")
    assert truncated and {k: v for k, v in info["reward_components"].items() if k != "evidence"} == {
        "outcome": 0.0,
        "citation": 0.0,
        "format": 0.0,
    }


def test_the_recorded_reward_equals_the_offline_score(env):
    reward = DeepSearchReward()
    for task in list(env.all_tasks.split("dev"))[:10]:
        env.reset(options={"task_id": task.id})
        done = False
        while not done:
            *_, terminated, truncated, _ = env.step(env.oracle_action())
            done = terminated or truncated
        recorded = env.trajectory
        from agentgym.trajectory import Trajectory

        reread = Trajectory.from_json(recorded.to_json())
        result = reward(reread, task)
        assert result.value == recorded.rewards.total
        assert result.per_step == recorded.rewards.per_step


# ---- other corpora ---------------------------------------------------------------------------


def test_fictional_world_env_is_solved_by_the_oracle():
    make = lambda: DeepSearchEnv(corpus="fictional", n_entities=60, split="all", max_turns=12)  # noqa: E731
    check_oracle(make, max_tasks=15, min_return=1.0)


def test_hotpotqa_file_env(tmp_path):
    example = {
        "_id": "q1",
        "question": "Which city is the capital of the country where the Zorb River rises?",
        "answer": "Quellton",
        "context": [
            ["Zorb River", ["The Zorb River rises in Freedonia.", "It is long."]],
            ["Freedonia", ["Freedonia is a country.", "Its capital is Quellton."]],
        ],
        "supporting_facts": [["Zorb River", 0], ["Freedonia", 1]],
    }
    path = tmp_path / "hotpot.json"
    path.write_text(json.dumps([example]))
    env = DeepSearchEnv(corpus="hotpotqa", data_path=str(path), split="all")
    obs, info = env.reset(seed=0)
    assert obs == example["question"]
    *_, info = env.step(call("answer", answer="Quellton"))
    assert info["reward_components"]["outcome"] == 1.0  # no rubrics: the outcome is the whole reward
    with pytest.raises(ValueError, match="needs data_path"):
        DeepSearchEnv(corpus="hotpotqa")
    with pytest.raises(ValueError, match="unknown corpus 'wiki'"):
        DeepSearchEnv(corpus="wiki")


def test_a_random_policy_scores_the_floor(env):
    from agentgym.policies.random import RandomPolicy

    policy = RandomPolicy(seed=0)
    returns = []
    for seed in range(20):
        obs, info = env.reset(seed=seed)
        messages, tools, done = list(info["messages"]), info["tools"], False
        while not done:
            (completion,) = policy([messages], [tools])
            obs, _, terminated, truncated, info = env.step(completion.action)
            messages += [{"role": "assistant", "content": completion.text}, *info["messages"]]
            done = terminated or truncated
        returns.append(env.trajectory.rewards.total)
    assert sum(returns) / len(returns) < 0.15  # the oracle's return is 1.1
