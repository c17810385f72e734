"""The agentgym command line: list and check."""

from __future__ import annotations

import subprocess
import sys

from agentgym.cli import main


def test_list_shows_agentgym_envs_with_descriptions(capsys):
    import gymnasium

    gymnasium.register(id="agentgym/ToyCapitals-v0", entry_point="toy_envs:CapitalsEnv")
    try:
        assert main(["list", "--import", "toy_envs"]) == 0
    finally:
        del gymnasium.registry["agentgym/ToyCapitals-v0"]
    out = capsys.readouterr().out
    assert "agentgym/ToyCapitals-v0  Answer a country's capital after looking it up (a test env)." in out
    assert "toy/Capitals-v0" not in out  # other namespaces are not agentgym's


def test_check_passes_a_conforming_env(capsys):
    assert main(["check", "toy_envs:toy/Capitals-v0"]) == 0
    out = capsys.readouterr().out
    for name in ("gymnasium", "determinism", "termination", "garbage", "hostile", "close", "oracle"):
        assert f"PASS    {name}" in out
    assert "toy/Capitals-v0: 7 passed, 0 failed, 0 not run" in out


def test_check_fails_a_broken_env_with_exit_1(capsys):
    import gymnasium
    import toy_envs

    gymnasium.register(id="toy/Raising-v0", entry_point=toy_envs.RaisingEnv)
    assert main(["check", "toy/Raising-v0", "--only", "garbage", "close"]) == 1
    out = capsys.readouterr().out
    assert "FAIL    garbage" in out and "KeyError" in out and "PASS    close" in out


def test_check_rejects_unknown_ids_and_bad_kwargs(capsys):
    assert main(["check", "toy_envs:toy/Capitols-v0"]) == 2
    assert "Did you mean 'toy/Capitals-v0'" in capsys.readouterr().err
    assert main(["check", "toy_envs:toy/Capitals-v0", "--kwargs", "{not json"]) == 2
    assert "argument --kwargs: not valid JSON" in capsys.readouterr().err
    assert main(["check", "toy_envs:toy/Capitals-v0", "--kwargs", "[1]"]) == 2


def test_console_script_runs():
    result = subprocess.run(
        [sys.executable, "-m", "agentgym.cli", "--version"], capture_output=True, text=True, check=True
    )
    assert result.stdout.startswith("agentgym ")


def test_check_takes_the_step_time_bound(capsys):
    import gymnasium
    import toy_envs

    gymnasium.register(id="toy/Stalling-v0", entry_point=toy_envs.LongRunSleepEnv)  # 0.3 s on long arguments
    try:
        assert main(["check", "toy/Stalling-v0", "--only", "hostile", "--step-seconds", "0.1"]) == 1
        assert "longer than the 0.1 s bound" in capsys.readouterr().out
        assert main(["check", "toy/Stalling-v0", "--only", "hostile", "--step-seconds", "30"]) == 0
        assert main(["check", "toy/Stalling-v0", "--step-seconds", "0"]) == 2
        assert "--step-seconds must be positive" in capsys.readouterr().err
    finally:
        del gymnasium.registry["toy/Stalling-v0"]
