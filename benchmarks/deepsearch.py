"""DeepSearch-v0 environment overhead; prints a markdown table.

    python benchmarks/deepsearch.py

Measures the first make (corpus, tasks and the BM25 index, from the on-disk cache when present),
later makes (shared data), reset, each tool's step, whole oracle episodes, and the memory 64 envs
add once the data is loaded.
"""

from __future__ import annotations

import tempfile
import time
import tracemalloc

import gymnasium as gym
from common import median_ms, oracle_rate, print_table, rss_mib

import agentgym  # noqa: F401
from agentgym.envs.deepsearch.retrieval import BM25Retriever
from agentgym.tools import ToolCall, format_call


def main() -> None:
    rows = []
    started = time.perf_counter()
    env = gym.make("agentgym/DeepSearch-v0")
    rows.append(("first make (corpus + tasks + index)", f"{(time.perf_counter() - started) * 1000:,.0f} ms"))
    inner = env.unwrapped
    rows.append(("  index loaded from disk cache", str(inner.retriever.loaded_from_cache)))
    with tempfile.TemporaryDirectory() as cache:
        started = time.perf_counter()
        BM25Retriever(inner.corpus, cache_dir=cache)
        rows.append(("BM25 index build, cold (whole Factbook)", f"{(time.perf_counter() - started) * 1000:,.0f} ms"))
        started = time.perf_counter()
        BM25Retriever(inner.corpus, cache_dir=cache)
        rows.append(("BM25 index load from the disk cache", f"{(time.perf_counter() - started) * 1000:,.0f} ms"))
    rows.append(("later make (shared data)", f"{median_ms(lambda: gym.make('agentgym/DeepSearch-v0'), 20):.2f} ms"))
    rows.append(("reset", f"{median_ms(lambda: env.reset()):.3f} ms"))

    env.reset(seed=0)
    actions = {
        "search (k=5)": format_call(ToolCall("search", {"query": "capital of the country bordering Chile"})),
        "open": format_call(ToolCall("open", {"url": "factbook://argentina/government"})),
        "find": format_call(ToolCall("find", {"url": "factbook://argentina/economy", "pattern": "exports"})),
        "invalid action": "no tool call here",
    }
    for name, action in actions.items():

        def one_step(action=action):
            if inner.turn >= inner.max_turns - 1:
                env.reset()
            env.step(action)

        rows.append((f"step: {name}", f"{median_ms(one_step):.3f} ms"))

    rate = oracle_rate(env, inner.tasks.ids[:200])
    rows.append(("oracle episodes (search, open evidence, answer + reward)", rate))

    tracemalloc.start()
    envs = [gym.make("agentgym/DeepSearch-v0") for _ in range(64)]
    for e in envs:
        e.reset(seed=0)
    current, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rows.append(("memory added by 64 more envs (data shared)", f"{current / 2**20:.1f} MiB"))
    rows.append(("resident memory of this process, 65 envs", f"{rss_mib():,.0f} MiB"))

    print_table(rows)


if __name__ == "__main__":
    main()
