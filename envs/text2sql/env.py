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
from collections.abc import Sequence
from typing import Any

from agentgym.core import AgentEnv, Task, TaskSet, any_value
from agentgym.envs.text2sql.databases import Database, load_database
from agentgym.envs.text2sql.reward import TextToSQLReward
from agentgym.envs.text2sql.sandbox import ReadOnlyDatabase, SandboxError, TableInfo
from agentgym.envs.text2sql.tasks import sql_tasks
from agentgym.rewards.sql import (
    extract_sql,
)
from agentgym.tools import Tool, ToolCall, ToolError, format_call
from agentgym.trajectory import Step

SYSTEM_PROMPT = """You answer questions about a database by writing SQL (DuckDB dialect) and trying it.
The database: {description}.
List the tables, describe the ones you need, and run queries with execute to check your work. When
your query answers the question, call submit with it: the answer is the rows it returns, so select
exactly what the question asks for, in that order. Submitting ends the episode. The database is
read-only, one statement per call, and a query stops after {timeout:g} seconds.

{tools}"""



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
    #: What a trajectory file may ask for when the env is rebuilt to score it (see AgentEnv.record_kwargs):
    #: the bundled and synthetic databases, short query time limits.
    record_kwargs = {
        **AgentEnv.record_kwargs,
        "max_rows_shown": any_value,
        "database": lambda value: isinstance(value, str) and value.startswith(("chinook", "nycflights13", "synthetic")),
        "seed": lambda value: type(value) is int,
        "timeout_s": lambda value: type(value) in (int, float) and 0 < value <= 10,
    }
    #: A plain ``<answer>...</answer>`` submits the SQL inside (:meth:`answer_arguments`).
    answer_tool = "submit"

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

    def answer_arguments(self, text: str) -> dict[str, Any]:
        """A plain ``<answer>...</answer>`` is a submit of the SQL inside (fenced or not)."""
        return {"sql": extract_sql(text).strip()}

    def end_step(self, step: Step, done: bool) -> None:
        """Record this step's queries (and the submission) in ``step.info``, where the reward reads them."""
        step.info.update(self._pending)
        self._pending = {}

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
