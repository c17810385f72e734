"""TextToSQL-v0 environment overhead on Chinook; prints a markdown table.

    python benchmarks/text2sql.py

Measures the first make (database file from the cache, task generation), later makes, reset, each
tool's step (``execute`` over the gold queries of 200 tasks), whole oracle episodes, the memory 64
envs add when they share one read-only database (against 64 private connections), and how soon a
cross join that would run for hours is interrupted after its time limit.
"""

from __future__ import annotations

import gc
import statistics
import time
import tracemalloc

import duckdb
from common import median_ms, oracle_rate, print_table, rss_mib

from agentgym.envs.text2sql.env import TextToSQLEnv
from agentgym.envs.text2sql.sandbox import ReadOnlyDatabase, SandboxError
from agentgym.tools import ToolCall, format_call

CROSS_JOIN = "SELECT sum(a.Milliseconds + b.Milliseconds + c.Milliseconds) FROM Track a, Track b, Track c"


def call(name: str, **arguments) -> str:
    return format_call(ToolCall(name, arguments))


def main() -> None:
    rows = []
    started = time.perf_counter()
    env = TextToSQLEnv()
    rows.append(("first make (database file + task generation)", f"{(time.perf_counter() - started) * 1000:,.0f} ms"))
    rows.append(("  tasks", f"{len(env.all_tasks):,} ({len(env.tasks)} train)"))
    rows.append(("later make (shared data and connection)", f"{median_ms(lambda: TextToSQLEnv().close(), 50):.3f} ms"))
    rows.append(("reset (target < 5 ms)", f"{median_ms(lambda: env.reset()):.3f} ms"))

    def step(action):
        if env.turn >= env.max_turns - 1:
            env.reset()
        env.step(action)

    env.reset(seed=0)
    rows.append(("step: list_tables", f"{median_ms(lambda: step(call('list_tables'))):.3f} ms"))
    rows.append(("step: describe", f"{median_ms(lambda: step(call('describe', table='Track'))):.3f} ms"))
    simple, refused = call("execute", sql="SELECT * FROM Genre"), call("execute", sql="DROP TABLE Track")
    rows.append(("step: execute, simple SELECT", f"{median_ms(lambda: step(simple)):.3f} ms"))
    gold = [call("execute", sql=task.gold["sql"]) for task in list(env.tasks)[:200]]
    times = []
    for action in gold * 3:
        started = time.perf_counter()
        step(action)
        times.append(time.perf_counter() - started)
    rows.append(
        (
            "step: execute, gold queries of 200 tasks (target median < 5 ms)",
            f"median {statistics.median(times) * 1000:.3f} ms, "
            f"p90 {sorted(times)[int(0.9 * len(times))] * 1000:.3f} ms",
        )
    )
    rows.append(("step: execute, refused (DROP TABLE)", f"{median_ms(lambda: step(refused)):.3f} ms"))
    rows.append(("step: invalid action", f"{median_ms(lambda: step('no tool call here')):.3f} ms"))

    rate = oracle_rate(env, env.tasks.ids[:200])
    rows.append(("oracle episodes (list, describe, execute, submit + reward)", rate))

    # Memory of 64 envs sharing one read-only database, against 64 private connections.
    sql = "SELECT g.Name, count(*) FROM Track t JOIN Genre g USING (GenreId) GROUP BY 1"
    gc.collect()
    tracemalloc.start()
    before = rss_mib()
    envs = [TextToSQLEnv() for _ in range(64)]
    for i, e in enumerate(envs):
        e.reset(seed=i)
        e.step(call("execute", sql=sql))
    shared_rss = rss_mib() - before
    python_heap, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rows.append(
        (
            "memory added by 64 more envs (one shared connection)",
            f"{shared_rss:.1f} MiB RSS ({python_heap / 2**20:.1f} MiB Python heap)",
        )
    )
    for e in envs:
        e.close()
    gc.collect()
    before = rss_mib()
    private = []
    for _ in range(64):  # what 64 envs would hold with a connection each
        con = duckdb.connect(":memory:", config={"memory_limit": "256MB", "threads": 1})
        con.execute(f"ATTACH '{env.database.path}' AS chinook (READ_ONLY)")
        con.execute("USE chinook")
        con.execute(sql).fetchall()
        private.append(con)
    rows.append(("  for comparison: 64 private connections", f"{rss_mib() - before:.1f} MiB RSS"))
    for con in private:
        con.close()

    # Interrupt latency: how long after its time limit a cross join that would run for hours stops.
    def overshoot(timeout_s: float) -> float:
        with ReadOnlyDatabase(env.database.path, timeout_s=timeout_s) as db:
            started = time.perf_counter()
            try:
                db.execute(CROSS_JOIN)
            except SandboxError:
                pass
            return (time.perf_counter() - started - timeout_s) * 1000

    late = [overshoot(2.0)] + [overshoot(0.2) for _ in range(10)]
    rows.append(
        (
            "hostile cross join: stopped after its limit by (2 s once, 0.2 s x10)",
            f"{late[0]:.1f} ms at 2 s; median {statistics.median(late[1:]):.1f} ms, max {max(late[1:]):.1f} ms",
        )
    )
    env.close()

    print_table(rows)


if __name__ == "__main__":
    main()
