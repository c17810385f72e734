"""Input formats of `agentgym score`: OpenAI messages, ShareGPT/AgentGym conversations, verifiers results."""

from __future__ import annotations

import argparse
import json

import gymnasium
import pytest
import toy_envs  # noqa: F401  (registers toy/Capitals-v0)

from agentgym import importers
from agentgym.cli import score as score_command
from agentgym.policies.random import RandomPolicy
from agentgym.scoring import Scorer, score_files
from agentgym.trajectory import Trajectory, TrajectoryError

SHAREGPT_SPEAKERS = {"system": "system", "user": "human", "assistant": "gpt", "tool": "observation"}


def score_cli(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="agentgym")
    score_command.register(parser.add_subparsers(required=True))
    args = parser.parse_args(["score", *argv])
    return args.run(args)


def write_jsonl(path, records) -> str:
    path.write_text("".join(json.dumps(record) + "\n" for record in records))
    return str(path)


@pytest.fixture(scope="module")
def episodes() -> list[Trajectory]:
    """DeepSearch episodes (fictional world) by the oracle, the random policy and garbage text."""
    env = gymnasium.make("agentgym/DeepSearch-v0", corpus="fictional", n_entities=40)
    inner = env.unwrapped
    policy = RandomPolicy(seed=1)
    found = []
    for seed in range(9):
        _, info = env.reset(seed=seed)
        done = False
        while not done:
            if seed % 3 == 0:
                action = inner.oracle_action()
            elif seed % 3 == 1:
                action = policy([inner.trajectory.messages], [info["tools"]])[0].action
            else:
                action = env.action_space.sample()
            _, _, terminated, truncated, _ = env.step(action)
            done = terminated or truncated
        found.append(inner.trajectory)
    env.close()
    assert {episode.rewards.total > 0 for episode in found} == {True, False}
    return found


def as_openai(t: Trajectory) -> dict:
    return {"messages": t.messages, "task_id": t.task_id, "env_id": t.env_id, "env_kwargs": t.env_kwargs}


def as_sharegpt(t: Trajectory) -> dict:
    turns = [{"from": SHAREGPT_SPEAKERS[m["role"]], "value": m["content"]} for m in t.messages]
    return {"conversations": turns, "item_id": t.task_id, "env_id": t.env_id, "env_kwargs": t.env_kwargs}


def as_verifiers(t: Trajectory, index: int) -> dict:
    start = next(i for i, m in enumerate(t.messages) if m["role"] == "assistant")
    return {
        "example_id": index,
        "prompt": t.messages[:start],
        "completion": t.messages[start:],
        "answer": "",
        "info": {"task_id": t.task_id, "env_id": t.env_id, "env_kwargs": t.env_kwargs},
        "reward": t.rewards.total,
        "is_truncated": t.truncated,
        "metrics": {"deepsearch": t.rewards.total},
    }


@pytest.mark.parametrize("convert", [as_openai, as_sharegpt, as_verifiers])
def test_imported_conversations_score_as_the_env_recorded_them(convert, episodes, tmp_path):
    """The steps rebuilt from the conversation with the env's parser give the rollout's reward, exactly."""
    records = [convert(t, i) if convert is as_verifiers else convert(t) for i, t in enumerate(episodes)]
    path = write_jsonl(tmp_path / "runs.jsonl", records)
    with Scorer() as scorer:
        scored = list(score_files(path, scorer))
    assert [s.format for s in scored] == [convert.__name__.removeprefix("as_")] * len(episodes)
    assert [s.score for s in scored] == [t.rewards.total for t in episodes]
    assert [s.components for s in scored] == [t.rewards.components for t in episodes]
    assert [s.invalid_steps for s in scored] == [sum(step.invalid_action for step in t.steps) for t in episodes]


def test_rebuilt_steps_match_the_recorded_ones(episodes):
    env = gymnasium.make("agentgym/DeepSearch-v0", corpus="fictional", n_entities=40)
    parse = env.unwrapped.parse
    for t in episodes:
        rebuilt = importers.from_openai(as_openai(t), parse=parse, final_tools=("answer",))
        assert [s.action for s in rebuilt.steps] == [s.action for s in t.steps]
        assert [s.tool_calls for s in rebuilt.steps] == [
            [{**call, "id": None} for call in s.tool_calls] for s in t.steps
        ]  # ids are the env's own at rollout
        assert [s.observation for s in rebuilt.steps] == [s.observation for s in t.steps]
        assert [s.invalid_action for s in rebuilt.steps] == [s.invalid_action for s in t.steps]
        assert [s.info.get("final") for s in rebuilt.steps] == [s.info.get("final") for s in t.steps]
        assert (rebuilt.terminated, rebuilt.truncated) == (t.terminated, t.truncated)
    env.close()


def test_formats_are_detected_per_line_and_can_be_named(episodes, tmp_path, capsys):
    t = episodes[0]
    path = write_jsonl(tmp_path / "mixed.jsonl", [t.to_dict(), as_openai(t), as_sharegpt(t), as_verifiers(t, 0)])
    with Scorer() as scorer:
        scored = list(score_files(path, scorer))
    assert [s.format for s in scored] == ["agentgym", "openai", "sharegpt", "verifiers"]
    assert {s.score for s in scored} == {t.rewards.total}
    with Scorer(input_format="openai") as scorer:
        items = list(score_files(path, scorer))
    kinds = [type(item).__name__ for item in items]  # an agentgym record is valid OpenAI messages too
    assert kinds == ["Scored", "Scored", "TrajectoryError", "TrajectoryError"]
    assert str(items[2]) == f"{path}:3: messages: expected a list of messages, got NoneType"
    assert score_cli(path, "--input-format", "sharegpt", "--skip-invalid") == score_command.EXIT_SKIPPED
    assert "1 trajectory scored" in capsys.readouterr().out


def test_openai_records_without_an_env_take_it_from_the_env_option(tmp_path, capsys):
    lookup = '<tool_call>{"name": "lookup", "arguments": {"country": "Peru"}}</tool_call>'
    answer = '<tool_call>{"name": "answer", "arguments": {"text": "Lima"}}</tool_call>'
    record = {
        "messages": [
            {"role": "user", "content": "What is the capital of Peru?"},
            {"role": "assistant", "content": lookup},
            {"role": "tool", "content": "The capital of Peru is Lima."},
            {"role": "assistant", "content": answer},
        ],
        "task_id": "capital-peru",
    }
    path = write_jsonl(tmp_path / "chat.jsonl", [record])
    assert score_cli(path, "--reward", "em") == 1
    assert "the record names no env and carries no 'answer' to score against: pass --env" in capsys.readouterr().err
    assert score_cli(path, "--reward", "em,format", "--env", "toy/Capitals-v0", "-o", str(tmp_path / "s.jsonl")) == 0
    row = json.loads((tmp_path / "s.jsonl").read_text())
    assert (row["env_id"], row["components"], row["turns"]) == ("toy/Capitals-v0", {"em": 1.0, "format": 1.0}, 2)
    assert "toy/Capitals-v0  1" in capsys.readouterr().out


def test_openai_tool_calls_and_a_bad_call(tmp_path):
    call = {"id": "c1", "type": "function", "function": {"name": "lookup", "arguments": '{"country": "Atlantis"}'}}
    answer = {"id": "c2", "type": "function", "function": {"name": "answer", "arguments": '{"text": "Lima"}'}}
    record = {
        "messages": [
            {"role": "user", "content": "What is the capital of Peru?"},
            {"role": "assistant", "content": None, "tool_calls": [call]},
            {"role": "tool", "tool_call_id": "c1", "content": "Error: no country named 'Atlantis'"},
            {"role": "assistant", "content": "", "tool_calls": [answer]},
            {"role": "tool", "tool_call_id": "c2", "content": "Answer recorded."},
        ],
        "task_id": "capital-peru",
        "env_id": "toy/Capitals-v0",
    }
    path = write_jsonl(tmp_path / "chat.jsonl", [record])
    with Scorer("em,format") as scorer:
        [scored] = score_files(path, scorer)
    assert scored.components == {"em": 1.0, "format": 0.0}  # answered, but one call failed
    assert (scored.turns, scored.invalid_steps) == (2, 1)


def test_sharegpt_function_calls_and_agentgym_react_turns(tmp_path):
    sharegpt = {
        "id": "capital-chile",
        "env_id": "toy/Capitals-v0",
        "system": "You look capitals up.",
        "conversations": [
            {"from": "human", "value": "What is the capital of Chile?"},
            {"from": "function_call", "value": json.dumps({"name": "lookup", "arguments": {"country": "Chile"}})},
            {"from": "observation", "value": "The capital of Chile is Santiago."},
            {"from": "function_call", "value": json.dumps({"name": "answer", "arguments": {"text": "Santiago"}})},
            {"from": "observation", "value": "Answer recorded."},
        ],
    }
    agentgym_style = {  # AgentGym's AgentTraj: human/gpt turns and an item_id
        "item_id": "capital-japan",
        "conversations": [
            {"from": "human", "value": "What is the capital of Japan?", "loss": None},
            {"from": "gpt", "value": "Thought: I know it.\n<answer>Kyoto</answer>", "loss": True},
        ],
    }
    path = write_jsonl(tmp_path / "conv.jsonl", [sharegpt, agentgym_style])
    with Scorer("em", env_id="toy/Capitals-v0") as scorer:
        scored = list(score_files(path, scorer))
    assert [(s.task_id, s.score, s.turns) for s in scored] == [("capital-chile", 1.0, 2), ("capital-japan", 0.0, 1)]
    t = importers.from_sharegpt(sharegpt)
    assert t.messages[0] == {"role": "system", "content": "You look capitals up."}
    assert t.steps[1].info["final"] == {"name": "answer", "arguments": {"text": "Santiago"}} and t.terminated
    with pytest.raises(TrajectoryError, match=r"conversations\[0\]\.from: unknown speaker 'bot'"):
        importers.from_sharegpt({"id": "x", "conversations": [{"from": "bot", "value": "hi"}]})


def test_verifiers_results_without_an_env_are_scored_against_their_own_answer(tmp_path, capsys):
    rows = [
        {
            "example_id": i,
            "prompt": [{"role": "system", "content": "Answer in <answer> tags."}, {"role": "user", "content": q}],
            "completion": [{"role": "assistant", "content": f"<think>...</think><answer>{said}</answer>"}],
            "answer": gold,
            "info": {},
            "reward": reward,
            "metrics": {"correct_answer_reward_func": reward},
            "is_completed": True,
            "is_truncated": False,
            "correct_answer_reward_func": reward,  # verifiers also flattens metrics to the top level
        }
        for i, (q, said, gold, reward) in enumerate(
            [("2+2?", "4", "4", 1.0), ("3*3?", "9", "9", 1.0), ("10/4?", "2.5", "2.50", 0.0), ("1+1?", "3", "2", 0.0)]
        )
    ]
    path = write_jsonl(tmp_path / "results.jsonl", rows)
    assert score_cli(path, "--reward", "em=1,numeric=0", "-o", str(tmp_path / "s.jsonl")) == 0
    out = capsys.readouterr().out
    assert "(no env)  4  0.500" in out
    scored = [json.loads(line) for line in (tmp_path / "s.jsonl").read_text().splitlines()]
    assert [(r["task_id"], r["components"], r["recorded"]) for r in scored] == [
        ("0", {"em": 1.0, "numeric": 1.0}, 1.0),
        ("1", {"em": 1.0, "numeric": 1.0}, 1.0),
        ("2", {"em": 0.0, "numeric": 1.0}, 0.0),
        ("3", {"em": 0.0, "numeric": 0.0}, 0.0),
    ]
    assert score_cli(path) == 1  # the env's own reward needs an env
    assert "the record names no env: pass --env ENV_ID" in capsys.readouterr().err


def test_importer_errors_name_what_is_wrong():
    with pytest.raises(TrajectoryError, match="missing task id: a verifiers record needs 'task_id' or 'example_id'"):
        importers.from_verifiers({"prompt": "q", "completion": "a"})
    with pytest.raises(TrajectoryError, match=r"completion\[0\]: missing the message's 'role'"):
        importers.from_verifiers({"example_id": 1, "prompt": "q", "completion": [{"content": "a"}]})
    with pytest.raises(TrajectoryError, match="env_kwargs: expected an object, got list"):
        importers.env_of({"env_id": "x", "env_kwargs": [1]})
    with pytest.raises(ValueError, match="unknown input format 'csv'"):
        importers.to_trajectory({}, "csv")
