"""Offline scoring: `agentgym score` and agentgym.scoring."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import gymnasium
import pytest
import toy_envs  # noqa: F401  (registers toy/Capitals-v0)

import agentgym
from agentgym.cli import score as score_command
from agentgym.policies.random import RandomPolicy
from agentgym.rewards.base import RewardResult
from agentgym.scoring import LOOP_LENGTH, Scored, ScoreError, Scorer, Summary, parse_reward, score_files
from agentgym.trajectory import Step, Trajectory, TrajectoryError, TrajectoryWriter, write_trajectories

TESTS = Path(__file__).parent


def score_cli(*argv: str) -> int:
    """Run `agentgym score ARGV` through the subcommand's own parser."""
    parser = argparse.ArgumentParser(prog="agentgym")
    score_command.register(parser.add_subparsers(required=True))
    args = parser.parse_args(["score", *argv])
    return args.run(args)


def rollout(env_id: str, policy: str, seeds, **kwargs) -> list[Trajectory]:
    """Play one episode per seed with the env's oracle, the random policy or garbage text."""
    env = gymnasium.make(env_id, **kwargs)
    inner = env.unwrapped
    random_policy = RandomPolicy(tool_format=inner.tool_format, seed=0)
    episodes = []
    for seed in seeds:
        _, info = env.reset(seed=seed)
        done = False
        while not done:
            if policy == "oracle":
                action = inner.oracle_action()
            elif policy == "random":
                action = random_policy([inner.trajectory.messages], [info["tools"]])[0].action
            else:
                action = env.action_space.sample()
            _, _, terminated, truncated, _ = env.step(action)
            done = terminated or truncated
        episodes.append(inner.trajectory)
    env.close()
    return episodes


def capitals(task_id: str, answer: str | None, *, steps: int = 1, action: str = "x", total: float = 0.0) -> Trajectory:
    """A toy/Capitals-v0 record answering ``answer`` (``None``: no answer) after ``steps`` steps."""
    record = Trajectory("toy/Capitals-v0", task_id, terminated=answer is not None, truncated=answer is None)
    for i in range(steps):
        step = Step(action=action, observation="...")
        if answer is not None and i == steps - 1:
            step.info["final"] = {"name": "answer", "arguments": {"text": answer}}
        record.steps.append(step)
    record.rewards.total = total
    return record


# ---- the offline score equals the recorded reward -----------------------------------------------


@pytest.mark.parametrize("env_id", sorted(agentgym.ENVIRONMENTS))
def test_offline_score_equals_the_recorded_reward_exactly(env_id, tmp_path, capsys):
    episodes = [
        *rollout(env_id, "oracle", range(4)),
        *rollout(env_id, "random", range(4, 8)),
        *rollout(env_id, "garbage", range(8, 10)),
    ]
    path = tmp_path / "runs.jsonl"
    with TrajectoryWriter(path) as writer:
        for episode in episodes:
            writer.write(episode)
    assert {e.rewards.total > 0 for e in episodes} == {True, False}  # solved and unsolved episodes
    assert any(step.invalid_action for e in episodes for step in e.steps)

    with Scorer() as scorer:
        scored = list(score_files(path, scorer))
    assert [s.score for s in scored] == [e.rewards.total for e in episodes]  # floats compared with ==
    assert [s.components for s in scored] == [e.rewards.components for e in episodes]

    assert score_cli(str(path), "-o", str(tmp_path / "scored.jsonl")) == 0
    rows = [json.loads(line) for line in (tmp_path / "scored.jsonl").read_text().splitlines()]
    assert [row["score"] for row in rows] == [row["recorded"] for row in rows] == [e.rewards.total for e in episodes]
    assert f"recorded vs offline score: all {len(episodes)} equal" in capsys.readouterr().out


def test_env_kwargs_rebuild_the_same_env(tmp_path):
    episodes = rollout("agentgym/DeepSearch-v0", "oracle", range(3), corpus="fictional", n_entities=40, alpha=0.5)
    write_trajectories(tmp_path / "a.jsonl", episodes)
    assert episodes[0].env_kwargs["corpus"] == "fictional"
    with Scorer() as scorer:
        assert [s.score for s in score_files(tmp_path / "a.jsonl", scorer)] == [e.rewards.total for e in episodes]


def test_a_changed_reward_shows_as_a_recorded_vs_offline_difference(tmp_path, capsys):
    episode = rollout("agentgym/DeepSearch-v0", "oracle", [0], corpus="fictional", n_entities=40)[0]
    episode.rewards.total += 0.5
    write_trajectories(tmp_path / "a.jsonl", [episode])
    assert score_cli(str(tmp_path / "a.jsonl")) == 0
    out = capsys.readouterr().out
    assert "recorded vs offline score: 1 of 1 differ" in out and "the env or its reward changed" in out


# ---- rewards -------------------------------------------------------------------------------------


def test_spec_rewards_report_each_component_and_its_weight(tmp_path, capsys):
    episodes = rollout("agentgym/DeepSearch-v0", "oracle", range(3), corpus="fictional", n_entities=40)
    episodes += rollout("agentgym/DeepSearch-v0", "random", range(3), corpus="fictional", n_entities=40)
    write_trajectories(tmp_path / "a.jsonl", episodes)
    with Scorer("em=1,citation=0.3,format=0,f1") as scorer:
        scored = list(score_files(tmp_path / "a.jsonl", scorer))
    assert list(scored[0].components) == ["em", "citation", "format", "f1"]
    for s in scored:
        c = s.components
        assert s.score == pytest.approx(c["em"] + 0.3 * c["citation"] + c["f1"])
    assert scored[0].components["em"] == scored[0].components["citation"] == 1.0

    assert score_cli(str(tmp_path / "a.jsonl"), "--reward", "em=1,citation=0.3,format=0,f1", "--format", "csv") == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("env,metric,weight,n,mean,std,min,max")
    assert [line.split(",")[1:3] for line in lines[1:]] == [
        ["score", ""],
        ["em", "1.0"],
        ["citation", "0.3"],
        ["format", "0.0"],
        ["f1", "1.0"],
    ]


def test_default_inside_a_spec_is_the_envs_own_reward(tmp_path):
    episodes = rollout("agentgym/DeepSearch-v0", "oracle", range(2), corpus="fictional", n_entities=40)
    write_trajectories(tmp_path / "a.jsonl", episodes)
    with Scorer("default=1,em=0") as scorer:
        scored = list(score_files(tmp_path / "a.jsonl", scorer))
    assert [s.components["default"] for s in scored] == [e.rewards.total for e in episodes]
    assert [s.components["em"] for s in scored] == [1.0, 1.0]


def test_rewards_of_your_own_from_a_file_or_a_module(tmp_path, monkeypatch):
    (tmp_path / "my_rewards.py").write_text(
        textwrap.dedent(
            """
            from agentgym.rewards.base import RewardResult

            def reward(trajectory, task):
                return len(trajectory.steps)          # a plain number is accepted

            class Brevity:
                def __call__(self, trajectory, task):
                    return RewardResult(1.0 / len(trajectory.steps), details={"steps": len(trajectory.steps)})
            """
        )
    )
    write_trajectories(tmp_path / "a.jsonl", [capitals("capital-peru", "Lima", steps=2)])
    monkeypatch.syspath_prepend(str(tmp_path))
    spec = f"{tmp_path / 'my_rewards.py'}=1,my_rewards:Brevity=0.5,em"
    with Scorer(spec) as scorer:
        [scored] = score_files(tmp_path / "a.jsonl", scorer)
    assert scored.components == {f"{tmp_path / 'my_rewards.py'}": 2.0, "my_rewards:Brevity": 0.5, "em": 1.0}
    assert scored.score == 2.0 + 0.25 + 1.0
    with Scorer(lambda trajectory, task: RewardResult(0.25)) as scorer:  # the library takes a callable
        assert next(score_files(tmp_path / "a.jsonl", scorer)).score == 0.25


def test_a_reward_that_fails_is_reported_at_its_line(tmp_path, capsys):
    (tmp_path / "broken.py").write_text("def reward(trajectory, task):\n    return 1 / 0\n")
    write_trajectories(tmp_path / "a.jsonl", [capitals("capital-peru", "Lima")])
    assert score_cli(str(tmp_path / "a.jsonl"), "--reward", str(tmp_path / "broken.py")) == 1
    assert f"{tmp_path / 'a.jsonl'}:1: the reward failed on task 'capital-peru': ZeroDivisionError" in (
        capsys.readouterr().err
    )


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("em,fromat=0.1", "unknown reward 'fromat' in 'fromat=0.1'. Did you mean 'format'?"),
        ("em=x", "weight 'x' in 'em=x' is not a number"),
        ("judge", "reward 'judge' needs a judge: pass --judge MODULE:CALLABLE"),
        ("no_such_module:fn", "cannot import no_such_module: ModuleNotFoundError"),
        ("agentgym.rewards.outcome:ExactMatc", "has no attribute 'ExactMatc'. Did you mean 'ExactMatch'"),
    ],
)
def test_bad_reward_specs_are_refused_with_exit_2(spec, message, tmp_path, capsys):
    with pytest.raises(ScoreError, match="."):
        parse_reward(spec)
    write_trajectories(tmp_path / "a.jsonl", [capitals("capital-peru", "Lima")])
    assert score_cli(str(tmp_path / "a.jsonl"), "--reward", spec) == 2
    assert message in capsys.readouterr().err


def test_an_env_without_a_reward_of_its_own_needs_a_spec(tmp_path, capsys):
    write_trajectories(tmp_path / "a.jsonl", [capitals("capital-peru", "Lima")])
    assert score_cli(str(tmp_path / "a.jsonl")) == 1
    assert "toy/Capitals-v0 defines no reward of its own (env.unwrapped.reward); pass --reward SPEC" in (
        capsys.readouterr().err
    )


# ---- judge -------------------------------------------------------------------------------------


def test_judge_and_judge_vs_rule_disagreements(tmp_path, monkeypatch, capsys):
    # A lenient judge: it accepts "Lim" too, where exact match does not.
    (tmp_path / "my_judge.py").write_text(
        "def judge(prompt):\n    return 'verdict: correct' if 'Response: Lim' in prompt else 'verdict: incorrect'\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    write_trajectories(
        tmp_path / "a.jsonl",
        [capitals("capital-peru", "Lima"), capitals("capital-peru", "Lim"), capitals("capital-peru", "Cusco")],
    )
    assert score_cli(str(tmp_path / "a.jsonl"), "--reward", "em=1,judge=0", "--judge", "my_judge:judge") == 0
    out = capsys.readouterr().out
    assert "judge vs rule: judge vs em: 1 of 3 disagree" in out and "a.jsonl:2 judge=1 em=0" in out
    with Scorer("judge", judge=lambda prompt: "verdict: incorrect") as scorer:  # a callable judge
        assert [s.score for s in score_files(tmp_path / "a.jsonl", scorer)] == [0.0, 0.0, 0.0]


# ---- summary and diagnostics ---------------------------------------------------------------------


def test_summary_table_and_diagnostics(tmp_path, capsys):
    records = [
        capitals("capital-peru", "Lima"),
        capitals("capital-peru", "Lima"),  # peru: all 1, zero variance
        capitals("capital-chile", "Santiago"),
        capitals("capital-chile", "Lima", steps=LOOP_LENGTH, action="lookup Chile"),  # a loop; format w/o outcome
        capitals("capital-japan", None, steps=2),  # a singleton group, no answer
    ]
    write_trajectories(tmp_path / "a.jsonl", records)
    assert score_cli(str(tmp_path / "a.jsonl"), "--reward", "em=1,format=0.1", "--success-threshold", "1") == 0
    out = capsys.readouterr().out
    assert "5 trajectories scored · reward: em=1,format=0.1 · success: score >= 1" in out
    assert "toy/Capitals-v0  5  0.680  0.515  0.000  1.100    60.0%     0.0%    1.6" in out
    assert "  em                             1  0.600  0.490  0.000  1.000" in out
    assert "zero-variance groups: 1 of 2 tasks with 2+ trajectories have all-equal scores (2 trajectories" in out
    assert "capital-peru (1.1 x2)" in out
    assert f"format reward without evidence: 1 trajectory ({tmp_path / 'a.jsonl'}:4 task capital-chile)" in out
    assert f"repeated-action loops (3+ in a row): 1 trajectory ({tmp_path / 'a.jsonl'}:4 (3x))" in out

    assert score_cli(str(tmp_path / "a.jsonl"), "--reward", "em=1,format=0.1", "--format", "json") == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["trajectories"] == 5 and summary["weights"] == {"em": 1.0, "format": 0.1}
    env = summary["envs"]["toy/Capitals-v0"]
    assert env["success_rate"] == 0.6 and env["components"]["em"]["mean"] == 0.6
    assert summary["diagnostics"]["zero_variance_groups"]["zero_variance"] == 1
    assert summary["diagnostics"]["repeated_action_loops"]["count"] == 1


def test_scored_rows_are_written_per_trajectory(tmp_path):
    write_trajectories(tmp_path / "a.jsonl", [capitals("capital-peru", "Lima"), capitals("capital-chile", "Lima")])
    assert score_cli(str(tmp_path / "a.jsonl"), "--reward", "em", "-o", str(tmp_path / "scored.jsonl")) == 0
    rows = [json.loads(line) for line in (tmp_path / "scored.jsonl").read_text().splitlines()]
    assert [(r["where"], r["task_id"], r["score"], r["components"]) for r in rows] == [
        (f"{tmp_path / 'a.jsonl'}:1", "capital-peru", 1.0, {"em": 1.0}),
        (f"{tmp_path / 'a.jsonl'}:2", "capital-chile", 0.0, {"em": 0.0}),
    ]
    assert rows[0]["details"] == {"em": 1.0, "em/em": 1.0, "em/answer": "Lima"} and rows[0]["recorded"] == 0.0


def test_summary_stats_are_streaming_and_match_numpy():
    import numpy as np

    summary = Summary("em", {"em": 1.0})
    values = [0.0, 1.0, 1.0, 0.25, 0.5]
    for i, value in enumerate(values):
        summary.add(Scored("e", f"t{i % 2}", value, {"em": value}, None, 1, 0, value >= 1, 1))
    stats = summary.envs["e"].score
    assert stats.mean == pytest.approx(np.mean(values)) and stats.std == pytest.approx(np.std(values))
    assert (stats.min, stats.max, stats.n) == (0.0, 1.0, 5)


def test_workers_give_the_same_results_in_order(tmp_path):
    records = [capitals(f"capital-{c}", "Lima") for c in ("peru", "chile", "japan")] * 700
    write_trajectories(tmp_path / "a.jsonl", records)
    with open(tmp_path / "a.jsonl", "a") as f:
        f.write("not json\n")
    with Scorer("em") as scorer:
        one = list(score_files(tmp_path / "a.jsonl", scorer))
        two = list(score_files(tmp_path / "a.jsonl", scorer, workers=2, config={"reward": "em"}))
    assert len(one) == len(two) == 2101
    assert [(s.line, s.score) for s in one[:-1]] == [(s.line, s.score) for s in two[:-1]]
    assert str(one[-1]) == str(two[-1]) == f"{tmp_path / 'a.jsonl'}:2101: invalid JSON: Expecting value (column 1)"


def test_big_inputs_and_stdin_are_scored_alike(tmp_path, monkeypatch, capsys):
    import io

    records = [capitals(f"capital-{c}", "Lima") for c in ("peru", "chile", "japan")] * 400
    write_trajectories(tmp_path / "a.jsonl", records)
    assert score_cli(str(tmp_path / "a.jsonl"), "--reward", "em", "-o", str(tmp_path / "one.jsonl")) == 0
    monkeypatch.setattr(score_command, "AUTO_WORKERS_BYTES", 1)  # "big": one worker per CPU
    assert score_cli(str(tmp_path / "a.jsonl"), "--reward", "em", "-o", str(tmp_path / "many.jsonl")) == 0
    assert (tmp_path / "one.jsonl").read_text() == (tmp_path / "many.jsonl").read_text()
    stdin = io.TextIOWrapper(io.BytesIO((tmp_path / "a.jsonl").read_bytes()))
    monkeypatch.setattr(sys, "stdin", stdin)
    capsys.readouterr()
    assert score_cli("-", "--reward", "em", "--workers", "2", "--format", "json") == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["trajectories"] == 1200
    assert summary["envs"]["toy/Capitals-v0"]["score"]["mean"] == pytest.approx(1 / 3)


def test_fast_gc_restores_the_collectors_settings(tmp_path):
    import gc

    write_trajectories(tmp_path / "a.jsonl", [capitals("capital-peru", "Lima")] * 1500)
    threshold, frozen = gc.get_threshold(), gc.get_freeze_count()
    with Scorer("em") as scorer:
        items = score_files(tmp_path / "a.jsonl", scorer, fast_gc=True)
        next(items)
        [next(items) for _ in range(600)]  # past the first chunk: tuned
        assert gc.get_threshold()[0] == 50_000 and gc.get_freeze_count() > frozen
        assert len(list(items)) == 1500 - 601
    assert (gc.get_threshold(), gc.get_freeze_count()) == (threshold, frozen)


# ---- bad input -----------------------------------------------------------------------------------


def test_a_malformed_line_is_reported_with_its_file_and_line_and_exit_1(tmp_path, capsys):
    path = tmp_path / "a.jsonl"
    write_trajectories(path, [capitals("capital-peru", "Lima")])
    with open(path, "a") as f:
        f.write('{"schema": "agentgym.trajectory/1", "env_id": "toy/Capitals-v0"}\n')
        f.write("{not json\n")
        f.write(json.dumps(capitals("capital-peru", "Lima").to_dict()).replace("toy/Capitals-v0", "toy/Capitols-v0"))
        f.write("\n" + json.dumps(capitals("capital-peruu", "Lima").to_dict()) + "\n")
        f.write('{"text": "hi"}\n\n')
        cut = json.dumps(capitals("capital-chile", "Santiago").to_dict())[:-20]
        f.write(cut)
    with pytest.raises(json.JSONDecodeError) as cut_error:
        json.loads(cut)
    assert score_cli(str(path), "--reward", "em") == 1
    err = capsys.readouterr().err
    assert f"error: {path}:2: missing required fields 'task_id', 'env_kwargs'" in err
    assert "--skip-invalid" in err

    assert score_cli(str(path), "--reward", "em", "--skip-invalid", "--format", "json") == score_command.EXIT_SKIPPED
    captured = capsys.readouterr()
    summary = json.loads(captured.out)
    assert summary["trajectories"] == 1 and summary["skipped_lines"] == 6
    assert "skipped 6 invalid lines" in captured.err
    with Scorer("em") as scorer:
        errors = [str(item) for item in score_files(path, scorer) if isinstance(item, TrajectoryError)]
    # Other tests may register more toy/ envs that are close too: compare the best guess only.
    errors[2] = errors[2].split("' or '")[0].rstrip("?'") + "'?"
    assert errors == [
        f"{path}:2: missing required fields 'task_id', 'env_kwargs', 'seed', 'messages', 'steps', 'terminated', "
        "'truncated', 'rewards', 'policy', 'created_at'",
        f"{path}:3: invalid JSON: Expecting property name enclosed in double quotes (column 2)",
        f"{path}:4: unknown env 'toy/Capitols-v0'. Did you mean 'toy/Capitals-v0'?",
        f"{path}:5: toy/Capitals-v0: no task with id 'capital-peruu' among 20 tasks. "
        "Did you mean 'capital-peru' or 'capital-iraq' or 'capital-iran'?",
        f"{path}:6: unrecognized record with keys 'text': expected an agentgym trajectory (\"schema\"), OpenAI "
        'messages ("messages"), ShareGPT conversations ("conversations") or a verifiers result ("prompt" and '
        '"completion")',
        f"{path}:8: invalid JSON: {cut_error.value.msg} (column {cut_error.value.pos + 1}) "
        "(the line is cut short: was its writer interrupted?)",
    ]


def test_empty_missing_and_directory_inputs_get_clear_messages(tmp_path, capsys):
    (tmp_path / "empty.jsonl").write_text("")
    (tmp_path / "blank.jsonl").write_text("\n  \n")
    assert score_cli(str(tmp_path / "empty.jsonl"), str(tmp_path / "blank.jsonl")) == 1
    err = capsys.readouterr().err
    assert f"warning: {tmp_path / 'empty.jsonl'}: empty file (no trajectories)" in err
    assert f"warning: {tmp_path / 'blank.jsonl'}: empty file (no trajectories)" in err
    assert "error: no trajectories to score" in err and "Traceback" not in err

    write_trajectories(tmp_path / "a.jsonl", [capitals("capital-peru", "Lima")])
    assert score_cli(str(tmp_path / "a.jsonl"), str(tmp_path / "empty.jsonl"), "--reward", "em") == 0
    captured = capsys.readouterr()
    assert "empty file (no trajectories)" in captured.err and "1 trajectory scored" in captured.out

    assert score_cli(str(tmp_path / "missing.jsonl")) == 2
    assert f"error: {tmp_path / 'missing.jsonl'}: no such file" in capsys.readouterr().err
    assert score_cli(str(tmp_path)) == 2
    assert "is a directory" in capsys.readouterr().err
    assert score_cli() == 2


def test_unknown_env_option_gets_did_you_mean(capsys):
    with pytest.raises(ScoreError, match="Did you mean 'agentgym/DeepSearch-v0'"):
        Scorer(env_id="agentgym/DeepSerch-v0")
    assert score_cli("-", "--env", "agentgym/DeepSerch-v0") == 2
    assert "unknown env 'agentgym/DeepSerch-v0'. Did you mean 'agentgym/DeepSearch-v0'?" in capsys.readouterr().err


def test_list_rewards(capsys):
    assert score_cli("--list-rewards") == 0
    out = capsys.readouterr().out
    for name in ("default", "em", "f1", "sub_em", "numeric", "citation", "search_r1_format", "format", "judge"):
        assert f"\n{name} " in f"\n{out}"


# ---- streaming in constant memory ----------------------------------------------------------------

PEAK_MEMORY = """
import resource, sys
import toy_envs
from agentgym.scoring import Scorer, Summary, score_files
summary = Summary("em", {"em": 1.0})
with Scorer("em") as scorer:
    for item in score_files(sys.argv[1], scorer, fast_gc=True):
        summary.add(item)
print(summary.n, summary.envs["toy/Capitals-v0"].score.mean, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def _peak_memory(path: Path) -> tuple[int, float, int]:
    result = subprocess.run(
        [sys.executable, "-c", PEAK_MEMORY, str(path)],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": str(TESTS)},
    )
    n, mean, kib = result.stdout.split()
    return int(n), float(mean), int(kib)


@pytest.mark.slow
def test_a_million_lines_stream_in_flat_memory(tmp_path):
    lines = []  # 100 distinct small records, cycled
    for i, (country, capital) in enumerate(list(toy_envs.CAPITALS.items()) * 5):
        said = [{"role": "assistant", "content": f"<answer>{capital if i % 2 else 'Lima'}</answer>"}]
        record = Trajectory("toy/Capitals-v0", f"capital-{country.lower()}", messages=said, terminated=True)
        lines.append(record.to_json().encode() + b"\n")
    small, large = tmp_path / "small.jsonl", tmp_path / "large.jsonl"
    small.write_bytes(b"".join(lines) * 100)  # 10,000 lines
    with open(large, "wb") as f:
        for _ in range(100):
            f.write(b"".join(lines) * 100)  # 1,000,000 lines
    n_small, mean_small, peak_small = _peak_memory(small)
    n_large, mean_large, peak_large = _peak_memory(large)
    assert (n_small, n_large) == (10_000, 1_000_000)
    assert mean_small == pytest.approx(mean_large)
    # 100x the lines, the same peak memory (within 10 MiB of interpreter noise).
    assert peak_large - peak_small < 10 * 1024, (peak_small, peak_large)




# ---- episodes that end with an env error (issue 12, item 7) ----------------------------------------


def _episode_that_breaks_after_earning(tmp_path):
    """A TextToSQL episode: one query that runs (process reward), then a tool that raises (not a ToolError)."""
    from agentgym.envs.text2sql.env import TextToSQLEnv
    from agentgym.policies import Completion
    from agentgym.runner import Runner
    from agentgym.tools import ToolCall, format_call

    class BreakingSQL(TextToSQLEnv):
        def execute(self, sql: str) -> str:
            """Run one read-only SQL query.

            Args:
                sql: One SELECT query.
            """
            if "boom" in sql:
                raise RuntimeError("the env broke")
            return super().execute(sql)

    if "toy/BreakingSQL-v0" not in gymnasium.registry:
        gymnasium.register(id="toy/BreakingSQL-v0", entry_point=BreakingSQL)

    def policy(conversations, tools):
        sql = ["SELECT 1" if len(c) < 4 else "SELECT 'boom'" for c in conversations]
        return [Completion(format_call(ToolCall("execute", {"sql": s}), "hermes")) for s in sql]

    with Runner("toy/BreakingSQL-v0", policy, num_envs=1) as runner:
        [episode] = list(runner.episodes(runner.plan(n=1)))
    return episode


def test_an_episode_ended_by_an_env_error_records_the_rewards_it_earned_and_scores_alike(tmp_path, capsys):
    episode = _episode_that_breaks_after_earning(tmp_path)
    assert episode.error == "env step failed: RuntimeError: the env broke"
    assert [step.reward for step in episode.steps] == [pytest.approx(0.02)]
    # Before: an empty rewards block (total 0) although the step earned 0.02.
    assert episode.rewards.total == pytest.approx(0.02) and episode.rewards.per_step == [pytest.approx(0.02)]
    assert episode.rewards.components == {"process": pytest.approx(0.02)}
    write_trajectories(tmp_path / "a.jsonl", [episode])
    assert score_cli(str(tmp_path / "a.jsonl")) == 0
    assert "recorded vs offline score: all 1 equal" in capsys.readouterr().out


def test_a_mismatch_of_an_episode_that_ended_with_an_error_says_so(tmp_path, capsys):
    episode = _episode_that_breaks_after_earning(tmp_path)
    episode.rewards.total += 0.5
    write_trajectories(tmp_path / "a.jsonl", [episode])
    assert score_cli(str(tmp_path / "a.jsonl")) == 0
    out = capsys.readouterr().out
    assert "the episode ended with an error: env step failed: RuntimeError: the env broke" in out
    assert "1 of them ended with an error" in out and "the env or its reward changed" not in out


def test_non_finite_scores_are_written_as_trajectories_write_them(tmp_path):
    """Regression (issue 11, defect 3): `score -o` wrote "inf"/"nan", trajectory files "Infinity"/"NaN"."""
    write_trajectories(tmp_path / "a.jsonl", [capitals("capital-peru", "Lima"), capitals("capital-chile", "Lima")])
    (tmp_path / "odd_rewards.py").write_text(
        "def reward(trajectory, task):\n"
        "    return float('inf') if task.id == 'capital-peru' else float('nan')\n"
    )
    scored = tmp_path / "scored.jsonl"
    assert score_cli(str(tmp_path / "a.jsonl"), "--reward", str(tmp_path / "odd_rewards.py"), "-o", str(scored)) == 0
    rows = [json.loads(line) for line in scored.read_text().splitlines()]
    assert [row["score"] for row in rows] == ["Infinity", "NaN"]
    recorded = Trajectory("e", "t")
    recorded.rewards.total = float("inf")
    assert json.loads(recorded.to_json())["rewards"]["total"] == rows[0]["score"]


def test_a_huge_integer_is_a_located_error_not_a_traceback(tmp_path):
    """Regression (issue 12, item 8): an integer over 4,300 digits raised a bare ValueError out of scoring."""
    path = tmp_path / "a.jsonl"
    write_trajectories(path, [capitals("capital-peru", "Lima")])
    with open(path, "a") as f:
        f.write(json.dumps(capitals("capital-peru", "Lima").to_dict()).replace('"seed": null', '"seed": ' + "9" * 5000))
        f.write("\n")
    with Scorer("em") as scorer:
        items = list(score_files(path, scorer))
    assert isinstance(items[0], Scored)
    assert isinstance(items[1], TrajectoryError) and (items[1].path, items[1].line) == (str(path), 2)
    assert "an integer of more than 4300 digits" in items[1].reason


def test_score_hands_the_trajectory_itself_to_the_reward():
    """Scorer.score no longer round-trips through to_dict/from_dict (a copy, with non-JSON values as repr)."""
    seen = []
    trajectory = capitals("capital-peru", "Lima")
    trajectory.steps[0].info["object"] = marker = object()

    def reward(got, task):
        seen.append(got)
        return 1.0

    with Scorer(reward) as scorer:
        assert scorer.score(trajectory).score == 1.0
    assert seen[0] is trajectory and seen[0].steps[0].info["object"] is marker
