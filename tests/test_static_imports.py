"""Static tools resolve agentgym.envs and agentgym.rewards, which live at the top level (envs/, rewards/).

The command this checks, from the repository root (``pip install -e '.[dev]'`` installs basedpyright)::

    basedpyright path/to/file.py      # no "Import "agentgym.envs..." could not be resolved"
    python -m ruff check --select I path/to/file.py
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

PROBE = '''import json

import numpy as np

from agentgym.envs.deepsearch.retrieval import BM25Retriever
from agentgym.envs.text2sql.databases import load_database
from agentgym.rewards.outcome import ExactMatch
from agentgym.trajectory import dumps

print(json, np, BM25Retriever, load_database, ExactMatch, dumps)
'''


def _checker() -> str | None:
    for name in ("basedpyright", "pyright"):
        found = shutil.which(name) or shutil.which(name, path=str(Path(sys.executable).parent))
        if found:
            return found
    return None


@pytest.mark.skipif(_checker() is None, reason="basedpyright is not installed (pip install -e '.[dev]')")
def test_the_type_checker_resolves_agentgym_envs_and_rewards(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text(PROBE)
    result = subprocess.run(
        [_checker(), "--outputjson", "--project", str(ROOT), str(probe)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    report = json.loads(result.stdout)
    unresolved = [d["message"] for d in report["generalDiagnostics"] if d.get("rule") == "reportMissingImports"]
    assert unresolved == []
    assert report["summary"]["errorCount"] == 0, report["generalDiagnostics"]


def test_ruff_sorts_agentgym_envs_and_rewards_as_first_party(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text(PROBE)  # stdlib, third party, then agentgym.envs/rewards with agentgym: first-party
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--select", "I", "--config", str(ROOT / "pyproject.toml"), str(probe)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
