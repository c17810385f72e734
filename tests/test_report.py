"""``agentgym report``: streaming aggregates, escaping, bad input, and a real report rendered in headless Chromium."""

from __future__ import annotations

import argparse
import os
import random
import re
import shutil
import struct
import subprocess
import tracemalloc
import zlib
from pathlib import Path

import gymnasium as gym
import pytest

import agentgym  # noqa: F401  (registers agentgym/DeepSearch-v0)
from agentgym import report
from agentgym.cli import report as report_command
from agentgym.policies.random import RandomPolicy
from agentgym.report import DifficultyLookup, Histogram, Moments, ReportData
from agentgym.trajectory import Rewards, Step, Trajectory, TrajectoryWriter, write_trajectories

SCRIPT = "<script>alert('pwned')</script>"


def run(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="agentgym")
    report_command.register(parser.add_subparsers())
    args = parser.parse_args(["report", *argv])
    return args.run(args)


def episode(task_id: str, rewards: list[float], outcome: float | None = None, **fields) -> Trajectory:
    steps = [Step(action=f"step {i}", reward=r, reward_components={"process": r}) for i, r in enumerate(rewards)]
    components = {"process": sum(rewards)}
    if outcome is not None:
        components["outcome"] = outcome
    total = sum(rewards) + (outcome or 0.0)
    return Trajectory(
        env_id=fields.pop("env_id", "toy/Nowhere-v0"),
        task_id=task_id,
        steps=steps,
        terminated=True,
        rewards=Rewards(total=total, components=components, per_step=list(rewards)),
        **fields,
    )


# ---- streaming statistics ----------------------------------------------------------------------


def test_moments_match_the_two_pass_formulas():
    values = [random.Random(1).gauss(0, 3) for _ in range(1000)]
    m = Moments()
    for x in values:
        m.add(x)
    mean = sum(values) / len(values)
    std = (sum((x - mean) ** 2 for x in values) / len(values)) ** 0.5
    assert m.n == 1000 and m.mean == pytest.approx(mean) and m.std == pytest.approx(std)
    assert (m.min, m.max) == (min(values), max(values))


def test_histogram_is_exact_bounded_and_independent_of_order():
    values = [random.Random(2).uniform(-3, 40) for _ in range(5000)]
    forward, backward = Histogram(max_bins=30), Histogram(max_bins=30)
    for x in values:
        forward.add(x)
    for x in reversed(values):
        backward.add(x)
    assert forward.bins() == backward.bins()
    assert len(forward.bins()) <= 30
    assert sum(count for _, _, count in forward.bins()) == 5000
    for low, high, count in forward.bins():
        assert count == sum(low <= x < high for x in values)


def test_best_and_worst_are_kept_in_a_bounded_heap_with_ties_to_the_first():
    data = ReportData(top=2, difficulty=DifficultyLookup(enabled=False))
    for i, total in enumerate([0.5, 1.0, 0.0, 1.0, 0.0, 0.7]):
        data.add(episode(f"t{i}", [total]))
    best, worst = data.best_and_worst()
    assert [t.task_id for t in best] == ["t1", "t3"]
    assert [t.task_id for t in worst] == ["t2", "t4"]
    assert len(data._best) == len(data._worst) == 2


def test_an_episode_is_never_both_best_and_worst():
    data = ReportData(top=3, difficulty=DifficultyLookup(enabled=False))
    for i in range(4):
        data.add(episode(f"t{i}", [float(i)]))
    best, worst = data.best_and_worst()
    assert [t.task_id for t in best] == ["t3", "t2", "t1"]
    assert [t.task_id for t in worst] == ["t0"]


@pytest.mark.slow
def test_memory_does_not_grow_with_the_number_of_trajectories(tmp_path):
    def peak(n: int) -> int:
        path = tmp_path / f"{n}.jsonl"
        rng = random.Random(n)
        write_trajectories(
            path, (episode(f"t{i}", [rng.random() for _ in range(rng.randint(1, 8))], rng.random()) for i in range(n))
        )
        tracemalloc.start()
        report.write_report([str(path)], str(tmp_path / f"{n}.html"), rebuild=False)
        _, high = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        return high

    small, large = peak(2_500), peak(10_000)  # both past the scatter sample (2,000 points)
    assert large < 1.5 * small, (small, large)


# ---- the page ----------------------------------------------------------------------------------


def hostile_trajectory() -> Trajectory:
    trajectory = episode(SCRIPT, [0.5], outcome=1.0, env_id=f"agentgym/{SCRIPT}", policy={"name": SCRIPT})
    trajectory.rewards.components[SCRIPT] = 0.25
    trajectory.messages = [
        {"role": "system", "content": SCRIPT},
        {"role": "user", "content": f"{SCRIPT} & \"quotes\" 'too'"},
        {"role": "assistant", "content": SCRIPT, "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": SCRIPT, "arguments": f'{{"q": "{SCRIPT}"}}'}},
        ]},
        {"role": "tool", "name": SCRIPT, "content": SCRIPT * 200},
        {"role": SCRIPT, "content": [{"type": "text", "text": SCRIPT}]},
    ]
    return trajectory


def test_every_text_is_escaped(tmp_path):
    path = tmp_path / "hostile.jsonl"
    write_trajectories(path, [hostile_trajectory(), episode("ok", [0.1])])
    out = tmp_path / "report.html"
    assert run(str(path), "-o", str(out), "--title", SCRIPT, "--no-rebuild") == 0
    page = out.read_text(encoding="utf-8")
    assert "<script" not in page.lower()
    assert "&lt;script&gt;alert(&#x27;pwned&#x27;)&lt;/script&gt;" in page
    assert "<details>" in page  # the long tool output is collapsed


def test_the_page_is_self_contained(tmp_path):
    path = tmp_path / "runs.jsonl"
    write_trajectories(path, [episode(f"t{i}", [0.1 * i, 0.2], outcome=float(i % 2)) for i in range(10)])
    out = tmp_path / "report.html"
    assert run(str(path), "-o", str(out), "--no-rebuild") == 0
    page = out.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    assert not re.search(r"<(link|img|iframe|object|embed|script)\b|\bsrc=|@import|url\(", page, re.IGNORECASE)
    assert set(re.findall(r"https?://[^\s\"'<>)]+", page)) == {"http://www.w3.org/2000/svg"}  # the SVG namespace only
    assert page.count("<svg") >= 6  # total, process, outcome histograms; scatter; success; per-step curves
    assert "Grouped by episode length" in page and "rebuilding the envs was turned off" in page


def test_success_falls_back_to_episode_length_when_the_env_cannot_be_rebuilt(tmp_path):
    path = tmp_path / "runs.jsonl"
    write_trajectories(path, [episode("t1", [0.0], 1.0), episode("t2", [0.0, 0.0, 0.0], 0.0)])
    out = tmp_path / "report.html"
    data = report.write_report([str(path)], str(out))
    assert data.grouped_by == "turns"
    assert data.groups == {"1 turn": [1, 1], "3-4 turns": [1, 0]}
    assert "cannot rebuild it" in out.read_text(encoding="utf-8")


def test_malformed_lines_fail_with_file_and_line_unless_skipped(tmp_path, capsys):
    path = tmp_path / "runs.jsonl"
    write_trajectories(path, [episode("t1", [1.0])])
    with open(path, "a", encoding="utf-8") as handle:
        handle.write("{not json\n")
    out = tmp_path / "report.html"
    assert run(str(path), "-o", str(out)) == 1
    assert f"{path}:2: invalid JSON" in capsys.readouterr().err and not out.exists()
    assert run(str(path), "-o", str(out), "--skip-invalid", "--no-rebuild") == 0
    assert "1 episodes" in capsys.readouterr().out
    page = out.read_text(encoding="utf-8")
    assert "Malformed lines (1 skipped)" in page and f"{path}:2: invalid JSON" in page


def test_empty_and_missing_files_get_a_clear_message(tmp_path, capsys):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    assert run(str(empty), "-o", str(tmp_path / "r.html")) == 1
    assert "no trajectories in" in capsys.readouterr().err
    assert run(str(tmp_path / "missing.jsonl")) == 2
    assert "no such file" in capsys.readouterr().err


# ---- a real report, rendered in a browser ------------------------------------------------------


def rollout(path: Path, episodes: int) -> None:
    """DeepSearch episodes, alternately played by the oracle and by the random policy."""
    env = gym.make("agentgym/DeepSearch-v0", max_turns=8)
    inner = env.unwrapped
    policy = RandomPolicy(seed=0)
    with TrajectoryWriter(path) as writer:
        for i in range(episodes):
            _, info = env.reset(seed=i)
            oracle = i % 2 == 0
            done = False
            while not done:
                if oracle:
                    action = inner.oracle_action()
                else:
                    action = policy([inner.trajectory.messages], [info["tools"]])[0].action
                _, _, terminated, truncated, _ = env.step(action)
                done = terminated or truncated
            inner.trajectory.policy = {"name": "oracle" if oracle else "random"}
            writer.write(inner.trajectory)
    env.close()


def find_browser() -> str | None:
    for candidate in ("/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(candidate)
        if found:
            return found
    try:  # Playwright's own Chromium, if Playwright and its browser happen to be installed
        from playwright.sync_api import sync_playwright

        with sync_playwright() as p:
            path = p.chromium.executable_path
        return path if os.path.exists(path) else None
    except Exception:
        return None


def png_rows(path: Path) -> tuple[int, int, list[bytes]]:
    """Width, height and the (filtered) scanlines of a PNG, read with zlib alone."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    position, idat, width, height, bytes_per_pixel = 8, b"", 0, 0, 0
    while position < len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        kind, body = data[position + 4 : position + 8], data[position + 8 : position + 8 + length]
        if kind == b"IHDR":
            width, height, depth, color = struct.unpack(">IIBB", body[:10])
            bytes_per_pixel = {0: 1, 2: 3, 4: 2, 6: 4}.get(color, 1) * max(depth // 8, 1)
        elif kind == b"IDAT":
            idat += body
        position += 12 + length
    raw = zlib.decompress(idat)
    stride = 1 + width * bytes_per_pixel
    return width, height, [raw[i : i + stride] for i in range(0, len(raw), stride)]


@pytest.mark.slow
def test_report_of_a_real_rollout_renders_in_headless_chromium(tmp_path, tmp_path_factory, monkeypatch):
    browser = find_browser()
    if browser is None:
        pytest.skip("no Chromium found (/usr/bin/chromium, chromium or chromium-browser on PATH, or Playwright's); "
                    "install it with: apt-get install chromium")
    monkeypatch.setenv("AGENTGYM_CACHE", str(tmp_path_factory.mktemp("agentgym-cache")))  # keep ~/.cache clean
    runs = tmp_path / "runs.jsonl"
    rollout(runs, 16)
    out = tmp_path / "report.html"
    assert run(str(runs), "-o", str(out), "--title", "DeepSearch-v0: oracle vs random", "--top", "2") == 0
    page = out.read_text(encoding="utf-8")
    assert "Grouped by the task&#x27;s metadata[&#x27;difficulty&#x27;], found for 16 of 16 episodes" in page
    for section in ("Reward components", "Return against turns", "Success by difficulty", "Reward per step",
                    "Best episodes (2)", "Worst episodes (2)"):
        assert section in page
    screenshot = tmp_path / "report.png"
    result = subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
         f"--user-data-dir={tmp_path / 'profile'}", f"--screenshot={screenshot}", "--window-size=1280,2000",
         out.as_uri()],
        capture_output=True, text=True, timeout=120,
    )
    assert screenshot.exists(), result.stderr[-2000:]
    try:
        shutil.copyfile(screenshot, "/tmp/agentgym_report.png")  # for a person to look at
    except OSError:
        pass
    assert screenshot.stat().st_size > 10_000
    width, height, rows = png_rows(screenshot)
    assert (width, height) == (1280, 2000)
    assert len(set(rows)) > 200  # a blank (single-colour) page has one or two distinct scanlines


def test_a_trajectory_without_messages_is_shown_step_by_step():
    trajectory = episode("t1", [0.0, 1.0])
    trajectory.steps[0].observation = "first <observation>"
    trajectory.steps[1].tool_calls = [{"name": "answer", "arguments": {"answer": "42"}, "id": "c1"}]
    page = report.render_conversation(trajectory)
    assert page.count('class="msg role-assistant"') == 2 and page.count('class="msg role-tool"') == 2
    assert "first &lt;observation&gt;" in page and "step 2" in page and "answer=&quot;42&quot;" in page
