"""``agentgym rollout`` end to end: real envs, real files, Ctrl-C and --resume in a real process."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest

from agentgym.cli import main
from agentgym.cli.rollout import policy_kwargs
from agentgym.trajectory import read_trajectories

CLI = [sys.executable, "-m", "agentgym.cli"]


def test_rollout_writes_trajectories_and_a_summary(tmp_path, capsys):
    output = tmp_path / "out.jsonl"
    status = main(["rollout", "agentgym/TextToSQL-v0", "--policy", "oracle", "-n", "8", "--num-envs", "4",
                   "--group-size", "2", "-o", str(output), "-q"])
    assert status == 0
    assert capsys.readouterr().out.startswith(f"wrote 8 episodes to {output}: episodes 8 | steps/s ")
    episodes = list(read_trajectories(output))
    assert len(episodes) == 8 and all(t.rewards.total >= 1 for t in episodes)
    assert len({t.task_id for t in episodes}) == 4  # four groups of two


def test_rollout_task_ids_max_turns_and_the_random_policy(tmp_path, capsys):
    output = tmp_path / "out.jsonl"
    tasks = "capital-peru,capital-chile"
    status = main(["rollout", "toy_envs:toy/Capitals-v0", "--policy", "random", "--task-ids", tasks,
                   "--max-turns", "1", "-o", str(output), "-q"])
    assert status == 0
    episodes = list(read_trajectories(output))
    assert sorted(t.task_id for t in episodes) == ["capital-chile", "capital-peru"]
    assert all(len(t.steps) == 1 and t.env_kwargs["max_turns"] == 1 for t in episodes)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["agentgym/DeepSerch-v0", "--policy", "oracle"], "Did you mean 'agentgym/DeepSearch-v0'?"),
        (["agentgym/DeepSearch-v0", "--policy", "gpt"], "invalid choice: 'gpt'"),
        (["agentgym/DeepSearch-v0", "--policy", "openai"], "the openai policy needs --model"),
        (["agentgym/DeepSearch-v0", "--policy", "oracle", "--model", "x"], "--model does not apply to the oracle"),
        (["agentgym/DeepSearch-v0", "--policy", "oracle", "--num-envs", "0"], "num_envs must be at least 1"),
        (["agentgym/DeepSearch-v0", "--policy", "oracle", "--env-kwargs", "[1]"], "must be a JSON object"),
        (["agentgym/DeepSearch-v0", "--policy", "oracle", "-n", "3", "--group-size", "2"], "multiple of group_size"),
        (["nowhere:agentgym/DeepSearch-v0", "--policy", "oracle"], "cannot import 'nowhere'"),
    ],
)
def test_rollout_bad_arguments_exit_2_with_a_clear_message(argv, message, tmp_path, capsys):
    assert main(["rollout", *argv, "-o", str(tmp_path / "out.jsonl"), "-q"]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out.jsonl").exists() or not (tmp_path / "out.jsonl").read_bytes()


def test_policy_options_map_to_each_backends_names():
    class Args:
        policy, model, base_url, temperature, max_new_tokens = "openai", "m", "http://h/v1", 0.0, 64
        env_kwargs, policy_kwargs, seed = {}, {"timeout_s": 5}, 0

    assert policy_kwargs(Args) == {"model": "m", "base_url": "http://h/v1", "temperature": 0.0, "max_tokens": 64,
                                   "timeout_s": 5}
    Args.policy, Args.base_url = "hf", None
    assert policy_kwargs(Args)["max_new_tokens"] == 64


def test_ctrl_c_leaves_a_valid_file_and_resume_finishes_the_plan(tmp_path):
    output = tmp_path / "out.jsonl"
    command = [*CLI, "rollout", "agentgym/TextToSQL-v0", "--policy", "oracle", "-n", "3000", "-o", str(output), "-q"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and (not output.exists() or output.read_bytes().count(b"\n") < 20):
        time.sleep(0.02)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert "run again with --resume" in err and "Traceback" not in err
    written = list(read_trajectories(output))  # strict: every line whole
    assert 20 <= len(written) < 3000

    resumed = subprocess.run([*command, "--resume"], capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert f"({len(written):,} already there)" in resumed.stdout
    episodes = list(read_trajectories(output))
    assert len(episodes) == 3000 and len({(t.task_id, t.seed) for t in episodes}) == 3000
