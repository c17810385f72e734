"""``agentgym new``: names, refusals, and generated envs that pass their own tests and ``agentgym check``."""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from agentgym import template
from agentgym.cli import new as new_command
from agentgym.template import TemplateError, parse_name

ROOT = Path(__file__).resolve().parents[1]


def new(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="agentgym")
    new_command.register(parser.add_subparsers())
    args = parser.parse_args(["new", *argv])
    return args.run(args)


def python(*args: str | Path, cwd: Path, pythonpath: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    if pythonpath is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(pythonpath), *filter(None, [env.get("PYTHONPATH")])])
    return subprocess.run([sys.executable, *map(str, args)], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=600)


# ---- names -------------------------------------------------------------------------------------


@pytest.mark.parametrize("spelling", ["my-env", "my_env", "MyEnv", "myEnv", "my--env"])
def test_spellings_of_a_name_agree(spelling):
    name = parse_name(spelling)
    assert (name.module, name.env_id, name.env_class, name.reward_class) == (
        "my_env", "agentgym/MyEnv-v0", "MyEnv", "MyEnvReward"
    )


def test_names_without_env_get_an_env_class():
    name = parse_name("web-shop2")
    assert (name.module, name.env_id, name.env_class, name.title) == (
        "web_shop_2", "agentgym/WebShop2-v0", "WebShop2Env", "Web Shop 2"
    )


@pytest.mark.parametrize(
    ("bad", "why"),
    [("", "invalid name"), ("2fast", "start with a letter"), ("my env", "start with a letter"),
     ("café", "start with a letter"), ("x" * 41, "at most 40"), ("json", "shadow"), ("class", "shadow"),
     ("agentgym", "shadow"), ("Tests", "shadow")],
)
def test_invalid_names_are_refused_with_exit_2(bad, why, tmp_path, capsys):
    with pytest.raises(TemplateError, match=why):
        parse_name(bad)
    assert new(bad, "--dir", str(tmp_path)) == 2
    assert why in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


def test_taken_ids_modules_and_existing_targets_are_refused(tmp_path, capsys):
    assert new("deep-search", "--dir", str(tmp_path)) == 2
    assert "agentgym/DeepSearch-v0 is registered already" in capsys.readouterr().err
    assert new("toy-envs", "--dir", str(tmp_path)) == 2  # tests/toy_envs.py is importable here
    assert "is importable already" in capsys.readouterr().err
    (tmp_path / "taken_env").mkdir()
    assert new("taken-env", "--dir", str(tmp_path)) == 2
    assert "exists already" in capsys.readouterr().err
    assert [p.name for p in tmp_path.iterdir()] == ["taken_env"] and not any((tmp_path / "taken_env").iterdir())
    (tmp_path / "a-file").write_text("")
    assert new("free-env", "--dir", str(tmp_path / "a-file")) == 2
    assert "is not a directory" in capsys.readouterr().err


def test_every_placeholder_of_the_template_has_a_value(tmp_path):
    generated = template.generate("placeholder-check", tmp_path)
    for path in generated.files:
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"\{\{\w+\}\}", text), path
    names = sorted(path.relative_to(generated.root).as_posix() for path in generated.files)
    assert names == ["README.md", "placeholder_check/__init__.py", "placeholder_check/env.py", "pyproject.toml",
                     "tests/test_placeholder_check.py"]
    readme = (generated.root / "README.md").read_text(encoding="utf-8")
    for section in ("## Overview", "## Task", "## Tools", "## Rewards", "## Quickstart"):
        assert section in readme


# ---- a standalone package ----------------------------------------------------------------------


@pytest.mark.slow
def test_a_standalone_env_passes_its_own_tests_and_agentgym_check(tmp_path, capsys):
    assert new("my-env", "--dir", str(tmp_path / "out")) == 0
    printed = capsys.readouterr().out
    project = tmp_path / "out" / "my_env"
    assert printed.startswith("created agentgym/MyEnv-v0 (MyEnv in module my_env), a standalone package:")
    assert f"  {project / 'pyproject.toml'}" in printed and "agentgym check my_env:agentgym/MyEnv-v0" in printed
    # Imported from its directory (as `pip install -e .` would make it importable), in a fresh interpreter.
    tests = python("-m", "pytest", "-q", "-p", "no:cacheprovider", cwd=project, pythonpath=project)
    assert tests.returncode == 0, tests.stdout + tests.stderr
    assert re.search(r"\b1[0-9] passed\b", tests.stdout) and "failed" not in tests.stdout, tests.stdout
    check = python("-m", "agentgym.cli", "check", "my_env:agentgym/MyEnv-v0", cwd=project)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "agentgym/MyEnv-v0: 7 passed, 0 failed, 0 not run" in check.stdout
    listing = python("-m", "agentgym.cli", "list", "--import", "my_env", cwd=project)
    assert re.search(r"agentgym/MyEnv-v0 +Look up item stock counts", listing.stdout), listing.stdout + listing.stderr


def test_a_standalone_env_is_lint_clean(tmp_path):
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
    if ruff is None:
        pytest.skip("ruff is not installed (it comes with agentgym[dev])")
    generated = template.generate("lint-me", tmp_path)
    result = subprocess.run([ruff, "check", "--no-cache", "."], cwd=generated.root, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


# ---- a sub-package of agentgym -----------------------------------------------------------------


@pytest.fixture
def checkout(tmp_path) -> Path:
    """A stand-in for an agentgym checkout: agentgym/, envs/ and the real pyproject.toml (style rules)."""
    root = tmp_path / "checkout"
    for package in ("agentgym", "envs"):
        (root / package).mkdir(parents=True)
        (root / package / "__init__.py").write_text('"""Stand-in."""\n')
    shutil.copyfile(ROOT / "pyproject.toml", root / "pyproject.toml")
    return root


def test_in_envs_it_is_a_sub_package_with_instructions_to_ship_it(checkout, capsys):
    assert new("in-pkg", "--dir", str(checkout / "envs")) == 0
    printed = capsys.readouterr().out
    assert "a sub-package of agentgym" in printed
    assert '"agentgym/InPkg-v0": ("agentgym.envs.in_pkg.env:InPkgEnv", 8),' in printed
    assert 'packages: add "agentgym.envs.in_pkg"' in printed
    for path in ("envs/in_pkg/__init__.py", "envs/in_pkg/env.py", "envs/in_pkg/README.md",
                 "tests/envs/in_pkg/test_env.py"):
        assert (checkout / path).is_file(), path
    assert not (checkout / "envs" / "in_pkg" / "pyproject.toml").exists()
    test = (checkout / "tests/envs/in_pkg/test_env.py").read_text(encoding="utf-8")
    assert "from agentgym.envs.in_pkg import InPkgEnv" in test
    assert new("in-pkg", "--dir", str(checkout / "envs")) == 2  # a second time: it exists


@pytest.mark.slow
def test_in_envs_it_registers_on_import_and_passes_its_tests(checkout, tmp_path):
    assert template.generate("in-pkg", checkout / "envs").in_package
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
    if ruff is not None:  # the repository's own style rules (pyproject.toml was copied)
        lint = subprocess.run([ruff, "check", "--no-cache", "envs/in_pkg", "tests/envs/in_pkg"], cwd=checkout,
                              capture_output=True, text=True)
        assert lint.returncode == 0, lint.stdout + lint.stderr
    # agentgym.envs is this repository's envs/; make the stand-in's envs/ part of it too, as if it were.
    runner = (
        "import sys, agentgym.envs, pytest; "
        f"agentgym.envs.__path__.append({str(checkout / 'envs')!r}); "
        f"sys.exit(pytest.main(['-q', '-p', 'no:cacheprovider', '--rootdir', {str(checkout)!r}, "
        f"'-c', {str(checkout / 'pyproject.toml')!r}, {str(checkout / 'tests/envs/in_pkg')!r}, "
        f"{str(checkout / 'envs/in_pkg')!r}]))"
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    result = python("-c", runner, cwd=elsewhere)
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"\b1[0-9] passed\b", result.stdout) and "failed" not in result.stdout, result.stdout
