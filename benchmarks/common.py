"""What the benchmark scripts share: timing, memory, oracle episodes and the markdown table."""

from __future__ import annotations

import statistics
import time


def median_ms(fn, repeat: int = 200) -> float:
    """Median wall time of ``fn()`` in milliseconds."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def rss_mib() -> float:
    """The process's resident set size now (Linux)."""
    with open("/proc/self/status") as status:
        line = next(line for line in status if line.startswith("VmRSS:"))
    return int(line.split()[1]) / 1024


def oracle_rate(env, task_ids) -> str:
    """Play the env's oracle on each task; ``"N episodes/s, M steps/s"``."""
    inner = env.unwrapped
    started = time.perf_counter()
    steps = 0
    for task_id in task_ids:
        env.reset(options={"task_id": task_id})
        done = False
        while not done:
            *_, terminated, truncated, _ = env.step(inner.oracle_action())
            steps += 1
            done = terminated or truncated
    seconds = time.perf_counter() - started
    return f"{len(task_ids) / seconds:,.0f} episodes/s, {steps / seconds:,.0f} steps/s"


def print_table(rows, header=("measure", "value")) -> None:
    """Print ``rows`` (pairs) as a markdown table."""
    print(f"| {header[0]} | {header[1]} |")
    print("|---|---:|")
    for name, value in rows:
        print(f"| {name} | {value} |")
