"""`agentgym score` throughput and memory on DeepSearch trajectories; prints markdown tables.

    python benchmarks/score.py                  # 50,000 lines; memory on 10k vs 1M lines
    python benchmarks/score.py --lines 10000 --million 200000   # a quick look

Trajectories are real DeepSearch-v0 (Factbook) rollouts: half by the oracle (search, open the
evidence pages, answer with citations), half by the random policy (random tools until max_turns),
written with TrajectoryWriter and cycled to ``--lines`` lines. Three measurements per reward:

* read + score, end to end: ``score_files`` over the file (JSON parsing, the record checks, task
  lookup, the reward, the summary), in 1 process and in 2 worker processes;
* the reward alone: ``score_batch`` on trajectories already in memory;
* parsing alone (JSON + record): the floor every reward pays.

Rates are given per CPU second (user + system time, workers included: what an idle core does, and
steady when other jobs share the machine) and per wall-clock second (what you wait).

Memory: a fresh process scores a file of 10,000 small DeepSearch records (one answer step each),
another one of ``--million`` such records. Each reports its RSS once the env is built and the peak
RSS while streaming (the high-water mark is reset after the build, so the corpus and index do not
hide what the stream adds). Flat means equal.
Target on this 2-core machine: >= 10,000 trajectories/s for the rule-based outcome rewards.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import gymnasium as gym

import agentgym  # noqa: F401
from agentgym.policies.random import RandomPolicy
from agentgym.rewards.base import score_batch
from agentgym.scoring import Scorer, Summary, score_files
from agentgym.trajectory import Step, Trajectory, TrajectoryWriter

ENV_ID = "agentgym/DeepSearch-v0"
REWARDS = [
    ("em", "exact match"),
    ("f1", "token F1"),
    ("em,sub_em,f1,numeric", "4 rule outcomes (em, sub_em, f1, numeric)"),
    ("citation", "CaRR citation rubric (rule)"),
    ("default", "DeepSearch's own (outcome + CaRR + format + evidence)"),
]


def rollouts(path: Path, episodes: int) -> None:
    env = gym.make(ENV_ID)
    inner = env.unwrapped
    policy = RandomPolicy(seed=0)
    with TrajectoryWriter(path) as writer:
        for seed in range(episodes):
            _, info = env.reset(seed=seed)
            done = False
            while not done:
                if seed % 2 == 0:
                    action = inner.oracle_action()
                else:
                    action = policy([inner.trajectory.messages], [info["tools"]])[0].action
                _, _, terminated, truncated, _ = env.step(action)
                done = terminated or truncated
            writer.write(inner.trajectory)
    env.close()


def cycle(source: Path, target: Path, lines: int) -> None:
    records = source.read_bytes().splitlines(keepends=True)
    with open(target, "wb") as f:
        for i in range(lines):
            f.write(records[i % len(records)])


def cpu_seconds() -> float:
    """User + system CPU time of this process and of its finished children."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def end_to_end(path: Path, spec: str, workers: int) -> tuple[float, float]:
    """(trajectories per wall-clock second, per CPU second) of reading and scoring the whole file."""
    reward = None if spec == "default" else spec
    with Scorer(reward) as scorer:
        next(score_files(path, scorer))  # the env is built outside the timing
        summary = Summary()
        wall, cpu = time.perf_counter(), cpu_seconds()
        items = score_files(path, scorer, workers=workers, config={"reward": reward}, fast_gc=True)  # as the CLI
        for item in items:
            summary.add(item)
        wall, cpu = time.perf_counter() - wall, cpu_seconds() - cpu  # the workers have exited: counted
    assert summary.skipped == 0
    return summary.n / wall, summary.n / cpu


def reward_alone(path: Path, spec: str, limit: int = 5_000) -> tuple[float, float]:
    """(reward-only, parse-only) trajectories per CPU second, on the first ``limit`` lines."""
    with Scorer(None if spec == "default" else spec) as scorer:
        lines = path.read_bytes().splitlines(keepends=True)[:limit]
        started = time.process_time()
        prepared = [scorer.prepare(json.loads(line)) for line in lines]
        parse_rate = len(lines) / (time.process_time() - started)
        reward = prepared[0][2].reward
        trajectories, tasks = [p[0] for p in prepared], [p[1] for p in prepared]
        started = time.process_time()
        score_batch(reward, trajectories, tasks)
        return len(lines) / (time.process_time() - started), parse_rate


# Peak memory while streaming: the high-water mark is reset (Linux /proc/self/clear_refs) once the env
# is built, so building it (the corpus and search index) does not hide what the stream adds.
PEAK = """
import resource, sys
from agentgym.scoring import Scorer, Summary, score_files
def status(key):
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(key + ":"))
summary = Summary()
with Scorer("em") as scorer:
    next(score_files(sys.argv[1], scorer))
    built = status("VmRSS")
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    for item in score_files(sys.argv[1], scorer, fast_gc=True):
        summary.add(item)
    print(summary.n, summary.skipped, built, status("VmHWM"))
"""


def small_records(path: Path, lines: int) -> None:
    env = gym.make(ENV_ID)
    tasks = env.unwrapped.all_tasks
    block = []
    for i, task in enumerate(tasks[:100]):
        answer = task.gold["answer"] if i % 2 else "Atlantis"
        final = {"name": "answer", "arguments": {"answer": answer, "report": ""}}
        step = Step(action=f"<answer>{answer}</answer>", observation="Answer recorded.", info={"final": final})
        record = Trajectory(ENV_ID, task.id, env_kwargs={"max_turns": 12}, steps=[step], terminated=True)
        block.append(record.to_json().encode() + b"\n")
    env.close()
    chunk = b"".join(block) * 100  # 10,000 lines
    with open(path, "wb") as f:
        for _ in range(lines // 10_000):
            f.write(chunk)


def peak_memory(path: Path) -> tuple[int, int, int]:
    """(lines scored, RSS once the env is built, peak RSS while streaming), in KiB."""
    result = subprocess.run([sys.executable, "-c", PEAK, str(path)], capture_output=True, text=True, check=True)
    n, skipped, built, peak = map(int, result.stdout.split())
    assert skipped == 0
    return n, built, peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=400, help="distinct rollouts (default 400)")
    parser.add_argument("--lines", type=int, default=50_000, help="lines of the throughput file (default 50,000)")
    parser.add_argument("--million", type=int, default=1_000_000, help="lines of the large memory file")
    args = parser.parse_args()

    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        source, path = Path(tmp) / "rollouts.jsonl", Path(tmp) / "deepsearch.jsonl"
        started = time.perf_counter()
        rollouts(source, args.episodes)
        cycle(source, path, args.lines)
        size = os.path.getsize(path)
        print(
            f"{args.lines:,} DeepSearch trajectories ({args.episodes} distinct rollouts, oracle and random), "
            f"{size / args.lines / 1024:.1f} KiB per line on average; built in {time.perf_counter() - started:.0f}s; "
            f"{os.cpu_count()} CPUs\n"
        )
        rows = []
        for spec, name in REWARDS:
            alone, parse_rate = reward_alone(path, spec)
            one_wall, one_cpu = end_to_end(path, spec, workers=1)
            two_wall, _ = end_to_end(path, spec, workers=2)
            rows.append(
                (f"`{spec}`: {name}", f"{one_cpu:,.0f}", f"{one_wall:,.0f}", f"{two_wall:,.0f}", f"{alone:,.0f}")
            )
        rows.append(("parsing alone (JSON, record checks, task lookup)", f"{parse_rate:,.0f}", "-", "-", "-"))
        print("Trajectories per second: per CPU second (what one idle core does), and per wall-clock second")
        print(f"(load average when the run started: {load:.1f}).\n")
        print("| reward | read + score, 1 process, CPU | 1 process, wall | 2 processes, wall | reward alone, CPU |")
        print("|---|---:|---:|---:|---:|")
        for row in rows:
            print("| " + " | ".join(row) + " |")

        print()
        print("| small DeepSearch records, reward `em` | file | scored in | RSS, env built | peak RSS streaming |")
        print("|---|---:|---:|---:|---:|")
        for lines in (10_000, args.million):
            memory_path = Path(tmp) / f"small-{lines}.jsonl"
            small_records(memory_path, lines)
            size = os.path.getsize(memory_path)
            started = time.perf_counter()
            n, built, peak = peak_memory(memory_path)
            seconds = time.perf_counter() - started
            print(
                f"| {n:,} lines | {size / 2**20:,.0f} MiB | {seconds:.1f} s | {built / 1024:,.0f} MiB | "
                f"{peak / 1024:,.0f} MiB |"
            )
            memory_path.unlink()


if __name__ == "__main__":
    main()
