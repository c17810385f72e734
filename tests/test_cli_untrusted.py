"""The command line on files from anyone: no imports or unbounded builds from records, locks, odd text, exit codes.

Every test runs real subcommands on real files; the ones about imports and locks run ``agentgym``
in real subprocesses (an import or a lock is a per-process thing).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import toy_envs  # noqa: F401  (registers toy/Capitals-v0)
from test_scoring import capitals, score_cli

import agentgym
from agentgym.cli import COMMANDS, build_parser
from agentgym.cli import score as score_command
from agentgym.scoring import Scorer, score_files
from agentgym.trajectory import FileLocked, Trajectory, TrajectoryError, TrajectoryWriter, write_trajectories
from agentgym.trust import Trust

TESTS = Path(__file__).parent
#: The first line of ``import this`` (a module that prints when imported).
ZEN = "Beautiful is better than ugly."


def agentgym_cli(*argv: str | Path, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run ``python -m agentgym.cli ARGV`` in a fresh interpreter, with the tests' modules importable."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run(
        [sys.executable, "-m", "agentgym.cli", *map(str, argv)],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout,
    )


def record(env_id: str = "toy/Capitals-v0", **fields) -> dict:
    """A well-formed toy/Capitals-v0 record with some fields changed."""
    data = capitals("capital-peru", "Lima").to_dict()
    data.update(env_id=env_id, **fields)
    return data


def write_lines(path: Path, records) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


# ---- every subcommand takes --import ------------------------------------------------------------


def test_every_subcommand_takes_import():
    parser = build_parser()
    subparsers = next(action for action in parser._actions if isinstance(action, argparse._SubParsersAction))
    assert set(subparsers.choices) == {"list", "check", "rollout", "score", "report", "new"}
    assert len(COMMANDS) == len(subparsers.choices)
    argv = {
        "list": [],
        "check": ["toy/Capitals-v0"],
        "rollout": ["toy/Capitals-v0", "--policy", "oracle", "-o", "x.jsonl"],
        "score": ["x.jsonl"],
        "report": ["x.jsonl"],
        "new": ["my-env"],
    }
    for name, args in argv.items():
        assert parser.parse_args([name, *args, "--import", "toy_envs"]).imports == ["toy_envs"], name


# ---- imports: a record is data, never a command --------------------------------------------------


def test_a_records_module_prefix_imports_nothing(tmp_path):
    path = write_lines(tmp_path / "a.jsonl", [record("this:agentgym/DeepSearch-v0")])
    result = agentgym_cli("score", path, "--reward", "em", cwd=tmp_path)
    assert ZEN not in result.stdout + result.stderr  # `this` was never imported
    assert result.returncode == 1
    assert "asks to import module 'this', which was not named on the command line; pass --import this" in result.stderr
    assert "Traceback" not in result.stderr
    report = agentgym_cli("report", path, "-o", tmp_path / "r.html", cwd=tmp_path)
    assert ZEN not in report.stdout + report.stderr and report.returncode == 0, report.stderr


def test_a_recorded_env_module_is_imported_only_when_allowed(tmp_path):
    path = write_lines(tmp_path / "a.jsonl", [record("toy/Unregistered-v0", env_module="this")])
    result = agentgym_cli("score", path, "--reward", "em", cwd=tmp_path)
    assert ZEN not in result.stdout + result.stderr and result.returncode == 1
    assert (
        "unknown env 'toy/Unregistered-v0'; its record says module 'this' registers it: pass --import this "
        "(or --import-recorded for every recorded module) if you trust the file"
    ) in result.stderr
    # Allowed, it is imported (and the message says it did not register the id).
    allowed = agentgym_cli("score", path, "--reward", "em", "--import-recorded", cwd=tmp_path)
    assert ZEN in allowed.stdout and "importing 'this' did not register it" in allowed.stderr


def test_a_named_module_may_be_used_by_records():
    with Scorer("em", trust=Trust(modules=frozenset({"toy_envs"}))) as scorer:
        assert scorer.handle("toy_envs:toy/Capitals-v0", {}).env is not None
    with Scorer("em") as scorer, pytest.raises(TrajectoryError, match="pass --import toy_envs"):
        scorer.handle("toy_envs:toy/Capitals-v0", {})


# ---- work: env_kwargs cannot ask for unbounded builds ---------------------------------------------


def test_costly_env_kwargs_need_trust_kwargs(tmp_path):
    deepsearch = capitals("capital-peru", "Lima").to_dict()
    deepsearch.update(env_id="agentgym/DeepSearch-v0", env_kwargs={"corpus": "fictional", "n_entities": 3_000_000})
    data_path = {**deepsearch, "env_kwargs": {"corpus": "hotpotqa", "data_path": "/etc/passwd"}}
    path = write_lines(tmp_path / "a.jsonl", [deepsearch, data_path])
    trust = Trust()
    with Scorer(trust=trust) as scorer:
        errors = [str(item) for item in score_files(path, scorer)]
    assert errors == [
        f"{path}:1: the record asks for agentgym/DeepSearch-v0 with n_entities=3000000, which may cost unbounded "
        "work to build; pass --trust-kwargs if you trust the file, or name the values with --env-kwargs",
        f"{path}:2: the record asks for agentgym/DeepSearch-v0 with corpus='hotpotqa', data_path='/etc/passwd', "
        "which may cost unbounded work to build; pass --trust-kwargs if you trust the file, or name the values "
        "with --env-kwargs",
    ]
    assert score_cli(str(path), "--skip-invalid") == 1  # nothing scored
    # Values the env family declares cheap, or that the user names, are fine.
    trust.check_kwargs("agentgym/DeepSearch-v0", {"corpus": "fictional", "n_entities": 40, "max_turns": 3})
    Trust(env_kwargs={"n_entities": 3_000_000}).check_kwargs("agentgym/DeepSearch-v0", {"n_entities": 3_000_000})
    Trust(kwargs=True).check_kwargs("agentgym/DeepSearch-v0", {"n_entities": 3_000_000})
    with pytest.raises(TrajectoryError, match="seed='x'"):
        trust.check_kwargs("agentgym/TextToSQL-v0", {"database": "synthetic", "seed": "x"})


def test_the_number_of_envs_built_for_records_is_bounded(tmp_path):
    records = [record(env_kwargs={"max_turns": n}) for n in range(1, 12)]
    path = write_lines(tmp_path / "a.jsonl", records)
    assert score_cli(str(path), "--reward", "em", "--skip-invalid", "--format", "json") == score_command.EXIT_SKIPPED
    assert score_cli(str(path), "--reward", "em", "--trust-kwargs") == 0
    with Scorer("em", trust=Trust()) as scorer:
        items = list(score_files(path, scorer))
    assert sum(not isinstance(item, TrajectoryError) for item in items) == Trust().max_envs
    assert str(items[-1]).endswith("asks for more than 8 distinct envs (env_id and env_kwargs); pass --trust-kwargs "
                                   "if you trust it")


# ---- odd text, huge numbers, skipped lines -------------------------------------------------------


def test_score_output_and_report_keep_lone_surrogates(tmp_path):
    episode = capitals("capital-peru", "Li\ud800ma")
    episode.messages = [{"role": "user", "content": "\udcff?"}, {"role": "assistant", "content": "Li\ud800ma"}]
    write_trajectories(tmp_path / "a.jsonl", [episode])
    assert Trajectory.from_json((tmp_path / "a.jsonl").read_text()) == episode  # the writer keeps them
    assert score_cli(str(tmp_path / "a.jsonl"), "--reward", "em", "-o", str(tmp_path / "s.jsonl")) == 0
    row = json.loads((tmp_path / "s.jsonl").read_text(encoding="utf-8"))
    assert row["details"]["em/answer"] == "Li\ud800ma"
    result = agentgym_cli("report", tmp_path / "a.jsonl", "-o", tmp_path / "r.html", "--no-rebuild", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "\\ud800" in (tmp_path / "r.html").read_text(encoding="utf-8")


def test_a_huge_integer_is_reported_with_file_and_line(tmp_path):
    path = tmp_path / "a.jsonl"
    write_trajectories(path, [capitals("capital-peru", "Lima")])
    with open(path, "a") as f:
        f.write('{"seed": ' + "9" * 5000 + "}\n")
    result = agentgym_cli("score", path, "--reward", "em", "--import", "toy_envs", cwd=tmp_path)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert f"error: {path}:2: invalid JSON" in result.stderr
    skipped = agentgym_cli("score", path, "--reward", "em", "--skip-invalid", "--import", "toy_envs", cwd=tmp_path)
    assert skipped.returncode == score_command.EXIT_SKIPPED, skipped.stderr
    assert "skipped 1 invalid lines" in skipped.stderr and "1 trajectory scored" in skipped.stdout
    report = agentgym_cli("report", path, "-o", tmp_path / "r.html", "--no-rebuild", cwd=tmp_path)
    assert report.returncode == 1 and "Traceback" not in report.stderr
    assert f"error: {path}:2: invalid JSON: an integer of more than 4300 digits" in report.stderr


def test_skip_invalid_exit_status_is_documented(capsys):
    parser = argparse.ArgumentParser(prog="agentgym")
    score_command.register(parser.add_subparsers())
    with pytest.raises(SystemExit):
        parser.parse_args(["score", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert f"{score_command.EXIT_SKIPPED} scored, but --skip-invalid skipped lines" in help_text


# ---- one writer per output file ------------------------------------------------------------------


def test_a_second_rollout_on_a_locked_output_is_refused(tmp_path):
    output = tmp_path / "out.jsonl"
    holder = subprocess.Popen(  # a real second process holding the output, as a running rollout does
        [sys.executable, "-c", "import sys; from agentgym.trajectory import TrajectoryWriter as W; "
         f"w = W({str(output)!r}, exclusive=True); print('locked', flush=True); sys.stdin.read()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        result = agentgym_cli("rollout", "toy_envs:toy/Capitals-v0", "--policy", "oracle", "-n", "2", "-o", output,
                              "-q", cwd=tmp_path)
        assert result.returncode == 2
        assert f"error: another rollout is writing {output}" in result.stderr
        with pytest.raises(FileLocked, match="another rollout is writing"):
            TrajectoryWriter(output, exclusive=True)
    finally:
        holder.communicate("")
    result = agentgym_cli("rollout", "toy_envs:toy/Capitals-v0", "--policy", "oracle", "-n", "2", "-o", output, "-q",
                          cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert len(output.read_text().splitlines()) == 2


def test_two_rollouts_on_one_file_write_each_episode_once(tmp_path):
    output = tmp_path / "out.jsonl"
    argv = ["rollout", "toy_envs:toy/Capitals-v0", "--policy", "oracle", "-n", "20", "-o", output, "--resume", "-q"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")])}
    runs = [subprocess.Popen([sys.executable, "-m", "agentgym.cli", *map(str, argv)], cwd=tmp_path, env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    results = [(run.wait(timeout=300), run.stderr.read()) for run in runs]
    for run in runs:
        run.stdout.close()
        run.stderr.close()
    # Either the second waited out (refused) or came after the first (nothing left to do): never both writing.
    assert all(code in (0, 2) for code, _ in results), results
    assert all(code == 0 or "another rollout is writing" in err for code, err in results), results
    assert len(output.read_text().splitlines()) == 20


# ---- a user's own env: new -> rollout -> score ---------------------------------------------------


@pytest.mark.slow
def test_score_scores_a_rollout_of_an_env_made_by_agentgym_new(tmp_path):
    created = agentgym_cli("new", "echo", "--dir", tmp_path, cwd=tmp_path)
    assert created.returncode == 0, created.stderr
    project = tmp_path / "echo"
    out = project / "out.jsonl"
    rolled = agentgym_cli("rollout", "echo:agentgym/Echo-v0", "--policy", "oracle", "-n", "4", "-o", out,
                          "-q", cwd=project)
    assert rolled.returncode == 0, rolled.stderr
    assert json.loads(out.read_text().splitlines()[0])["env_module"] == "echo.env"
    # The file names the module that registers the env; agentgym imports it only when told to.
    refused = agentgym_cli("score", out, cwd=project)
    assert refused.returncode == 1
    assert "its record says module 'echo.env' registers it: pass --import echo.env" in refused.stderr
    for allow in (["--import-recorded"], ["--import", "echo"], ["--env", "echo:agentgym/Echo-v0"]):
        scored = agentgym_cli("score", out, *allow, cwd=project)
        assert scored.returncode == 0, (allow, scored.stderr)
        assert "4 trajectories scored" in scored.stdout
        assert "recorded vs offline score: all 4 equal" in scored.stdout


def test_records_without_env_module_still_read():
    data = capitals("capital-peru", "Lima").to_dict()
    assert data["env_module"] is None
    del data["env_module"]
    assert Trajectory.from_dict(dict(data)).env_module is None
    assert Trajectory.from_dict(dict(data), copy=False).env_module is None  # the fast path too


def test_env_id_hint_lives_in_the_library():
    assert agentgym.env_id_hint("agentgym/DeepSerch-v0") == " Did you mean 'agentgym/DeepSearch-v0'?"
