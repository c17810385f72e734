"""A wheel built from the repo works in a fresh virtual environment, outside the repository."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
import venv
import zipfile
from pathlib import Path

import pytest

import agentgym

ROOT = Path(__file__).resolve().parents[1]

# A third-party env package, as a user would write one: it registers under agentgym/ on import.
EXTERNAL_ENV = textwrap.dedent('''
    import gymnasium
    from agentgym import AgentEnv, Task, TaskSet, Tool


    class EchoEnv(AgentEnv):
        """Repeat the word you are given (an env from outside the package)."""

        def __init__(self, **kwargs):
            tasks = TaskSet([Task(id=w, prompt=f"Say {w}.", gold={"answer": w}) for w in ["red", "blue"]])
            super().__init__(tasks, split="all", **kwargs)
            self.said = None

        def make_tools(self):
            return [Tool.from_function(self.say, final=True)]

        def begin_episode(self, task):
            self.said = None

        def say(self, word: str) -> str:
            """Say a word.

            Args:
                word: The word.
            """
            self.said = word
            return "ok"

        def step_reward(self, step, done):
            return {"outcome": float(self.said == self.task.gold["answer"])} if done else {}

        def oracle_action(self):
            return '<tool_call>{"name": "say", "arguments": {"word": "%s"}}</tool_call>' % self.task.gold["answer"]


    gymnasium.register(id="agentgym/Echo-v0", entry_point=EchoEnv, kwargs={"max_turns": 5})
''')


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(out), str(ROOT)],
        check=True,
        capture_output=True,
        text=True,
    )
    (path,) = out.glob("agentgym-*.whl")
    return path


def test_wheel_holds_every_package_and_asset(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    installed_as = {
        "agentgym": "agentgym", "envs": "agentgym/envs", "rewards": "agentgym/rewards", "assets": "agentgym/assets"
    }
    for top, target in installed_as.items():
        for init in (ROOT / top).rglob("__init__.py"):  # every package, sub-packages included
            relative = init.relative_to(ROOT / top).as_posix()
            assert f"{target}/{relative}" in names, f"{top}/{relative} is missing from the wheel"
    assert "agentgym/assets/trajectory.schema.json" in names


def test_wheel_works_in_a_fresh_venv_outside_the_repo(wheel, tmp_path):
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python, cli = env_dir / "bin" / "python", env_dir / "bin" / "agentgym"
    subprocess.run(
        [python, "-m", "pip", "install", "-q", f"{wheel}[search,sql]"], check=True, capture_output=True, text=True
    )
    work = tmp_path / "elsewhere"
    work.mkdir()
    (work / "echo_env.py").write_text(EXTERNAL_ENV)

    def run(*args: str | Path) -> str:
        result = subprocess.run(list(args), cwd=work, capture_output=True, text=True)
        assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout

    location = run(python, "-c", "import agentgym; print(agentgym.__file__)")
    assert str(env_dir) in location and str(ROOT) not in location  # the installed copy, not the repo
    listing = run(cli, "list", "--import", "echo_env")
    assert re.search(r"agentgym/Echo-v0 +Repeat the word you are given", listing)
    for env_id in agentgym.ENVIRONMENTS:
        assert env_id in listing
    check = run(cli, "check", "echo_env:agentgym/Echo-v0")
    assert "agentgym/Echo-v0: 7 passed, 0 failed, 0 not run" in check
    ids = json.dumps(list(agentgym.ENVIRONMENTS))
    made = run(
        python,
        "-c",
        f"import gymnasium; [gymnasium.make('agentgym:' + i).close() for i in {ids}]; "
        "env = gymnasium.make('echo_env:agentgym/Echo-v0'); print(env.reset(seed=0)[0])",
    )
    assert made.startswith("Say ")
