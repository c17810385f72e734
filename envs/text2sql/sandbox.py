"""A read-only DuckDB sandbox for the SQL an agent writes.

:class:`ReadOnlyDatabase` opens a DuckDB file for agents' queries. Every instance on the same file
in a process shares one connection (64 envs hold one database in memory, not 64), and each
instance runs its queries on its own cursor. That connection is a private in-memory DuckDB
instance that attaches the file ``READ_ONLY`` (so it coexists with any other connection to the
file) and nothing else; then external access is disabled (no files, no network, no extensions),
with autoinstall and autoload off, a memory limit, no spilling to disk, and the configuration
locked, so no query can loosen any of it.

:meth:`ReadOnlyDatabase.execute` refuses, with a message written for the agent
(:class:`SandboxError`): SQL longer than ``max_sql_chars``, empty SQL, text that does not parse
(DuckDB's own parser decides), more than one statement, and any statement that is not a
``SELECT`` (``WITH ... SELECT``, ``FROM t``, ``VALUES``, ``DESCRIBE`` and ``SHOW`` parse as
``SELECT`` in DuckDB; ``DROP``, ``INSERT``, ``COPY``, ``ATTACH``, ``PRAGMA``, ``SET``,
``INSTALL``, ``LOAD``, ``EXPLAIN`` and the rest do not), text that is not valid Unicode (a lone
surrogate, which DuckDB's parser cannot take), and calls of the functions that build one value
whose size an argument sets (``repeat``, ``lpad``, ``rpad``, scalar ``range``/``generate_series``,
``list_resize``/``array_resize``; ``printf``/``format`` widths) unless that size is a small constant:
DuckDB builds such a value in one uninterruptible call outside its memory accounting
(``SELECT length(repeat('x', 2000000000))`` ran 18 s and took 4 GB under a 2 s, 256 MB limit).
For the same reason it refuses queries whose values can grow more than :data:`~.value_limits.MAX_GROWTH` times
through concatenations, ``replace()``, ``repeat()``, aggregates and list lambdas that feed each other
across nested calls, subqueries, CTE levels and recursion (eight CTE levels of ``s||s||...||s`` ran
14 s and took 4.9 GB): static bounds read from the parse tree (:mod:`.value_limits`), only for
queries whose text could hold such growth.
A query that runs past ``timeout_s`` is interrupted (``connection.interrupt()``) by one watchdog
thread per shared connection; results are cut at ``max_rows`` rows.

Example::

    db = ReadOnlyDatabase("chinook.duckdb")
    db.execute("SELECT Name FROM Artist ORDER BY Name LIMIT 2").rows
    db.close()
"""

from __future__ import annotations

import atexit
import dataclasses
import datetime
import decimal
import json
import math
import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from agentgym.envs.text2sql import value_limits
from agentgym.suggest import did_you_mean

__all__ = [
    "MAX_SQL_CHARS",
    "ReadOnlyDatabase",
    "Result",
    "SandboxError",
    "TableInfo",
    "plain_value",
    "quote_identifier",
]

#: Longest SQL text :meth:`ReadOnlyDatabase.execute` accepts, in characters.
MAX_SQL_CHARS = 100_000

#: Longest error message shown to the agent, in characters.
_MAX_ERROR_CHARS = 1_000

class SandboxError(Exception):
    """A query the sandbox refused, or one that failed; the message is written for the agent."""


@dataclass(frozen=True)
class Result:
    """What a query returned.

    Attributes:
        columns: The column names, in order.
        rows: The rows (at most the database's ``max_rows``), as tuples of plain JSON values
            (:func:`plain_value`).
        row_count: ``len(rows)``; when ``truncated``, the query returned more rows than that.
        truncated: Whether the result was cut at ``max_rows`` rows.
    """

    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]]
    row_count: int
    truncated: bool


@dataclass(frozen=True)
class TableInfo:
    """One table (or view) of the database, as :meth:`ReadOnlyDatabase.describe` reports it.

    Attributes:
        name: The table's name as the database spells it.
        columns: ``(name, type)`` per column, in order.
        row_count: How many rows the table has.
        sample_rows: The first few rows, as plain values.
        primary_key: The primary-key column names (empty if none).
        foreign_keys: ``(columns, referenced table, referenced columns)`` per foreign key.
        comment: The table's comment (``COMMENT ON TABLE``), or ``""``.
        column_comments: Each column's comment, or ``""``, aligned with ``columns``.
    """

    name: str
    columns: tuple[tuple[str, str], ...]
    row_count: int
    sample_rows: tuple[tuple[Any, ...], ...]
    primary_key: tuple[str, ...] = ()
    foreign_keys: tuple[tuple[tuple[str, ...], str, tuple[str, ...]], ...] = ()
    comment: str = ""
    column_comments: tuple[str, ...] = ()


def quote_identifier(name: str) -> str:
    """Quote a table or column name for DuckDB SQL.

    Args:
        name: The name.

    Returns:
        The name in double quotes, inner quotes doubled.

    Examples:
        >>> quote_identifier("Invoice Line"), quote_identifier('a"b')
        ('"Invoice Line"', '"a""b"')
    """
    return '"' + name.replace('"', '""') + '"'


_PLAIN_TYPES = (str, int, type(None))  # bool is an int


def plain_value(value: Any) -> Any:
    r"""A cell of a query result as a plain JSON value that reads back from JSON unchanged.

    The same normalisation the task generator applies to gold rows
    (:func:`agentgym.envs.text2sql.tasks.jsonable`), so predicted and gold results compare alike:
    ``Decimal`` becomes ``float``; non-finite floats become ``None`` (JSON has no NaN);
    timestamps become ``"YYYY-MM-DD HH:MM:SS"`` (DuckDB's own text), dates and times their ISO text;
    lists stay lists; blobs become hex; anything else (structs, maps, intervals, UUIDs) its text.

    Args:
        value: A value DuckDB returned.

    Returns:
        ``None``, a bool, an int, a finite float, a string or a list of these.

    Examples:
        >>> import datetime, decimal
        >>> plain_value(decimal.Decimal("1.50")), plain_value(datetime.datetime(2009, 1, 1, 5)), plain_value(1e999)
        (1.5, '2009-01-01 05:00:00', None)
        >>> plain_value((1, datetime.date(2009, 1, 2))), plain_value(b"\x01\xff")
        ([1, '2009-01-02'], '01ff')
    """
    if isinstance(value, _PLAIN_TYPES):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, decimal.Decimal):
        return plain_value(float(value))
    if isinstance(value, datetime.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return [plain_value(item) for item in value]
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).hex()
    return str(value)


def _plain_row(row: Sequence[Any]) -> tuple[Any, ...]:
    return tuple(cell if isinstance(cell, _PLAIN_TYPES) else plain_value(cell) for cell in row)


# --------------------------------------------------------------------------------------------------
# The watchdog: one thread per shared connection that interrupts queries past their deadline


class _Watchdog:
    """Interrupts watched queries when their deadline passes; one thread, stopped by :meth:`stop`.

    Registering a query costs a dict insert under a lock (and, rarely, a wake-up), far less than
    starting a timer thread per query.
    """

    def __init__(self, name: str):
        self._cond = threading.Condition()
        self._watched: dict[int, tuple[float, Callable[[], None]]] = {}
        self._fired: set[int] = set()
        self._next_token = 0
        self._wake_at = math.inf
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def watch(self, seconds: float, interrupt: Callable[[], None]) -> int:
        """Call ``interrupt()`` in ``seconds`` unless :meth:`unwatch` comes first; returns a token."""
        deadline = time.monotonic() + seconds
        with self._cond:
            self._next_token += 1
            token = self._next_token
            self._watched[token] = (deadline, interrupt)
            if deadline < self._wake_at:
                self._cond.notify()
        return token

    def unwatch(self, token: int) -> bool:
        """Stop watching a query; returns whether its interrupt was called. No call comes after this."""
        with self._cond:
            self._watched.pop(token, None)
            fired = token in self._fired
            self._fired.discard(token)
        return fired

    def stop(self) -> None:
        """End the thread and wait for it."""
        with self._cond:
            self._stopping = True
            self._cond.notify()
        self._thread.join()

    def _run(self) -> None:
        with self._cond:
            while not self._stopping:
                now = time.monotonic()
                wake_at = math.inf
                for token, (deadline, interrupt) in self._watched.items():
                    if token in self._fired:
                        continue
                    if deadline <= now:
                        self._fired.add(token)
                        interrupt()  # sets a flag the query checks; safe from any thread
                    else:
                        wake_at = min(wake_at, deadline)
                self._wake_at = wake_at
                self._cond.wait(None if wake_at == math.inf else wake_at - now)


# --------------------------------------------------------------------------------------------------
# The shared connection


class _SharedConnection:
    """The process's one read-only connection to a database file, counted by its users."""

    _registry_lock = threading.Lock()
    _open: dict[Path, _SharedConnection] = {}

    def __init__(self, path: Path, memory_limit: str, threads: int):
        # An in-memory instance that attaches the file, rather than duckdb.connect(path): DuckDB
        # keeps one instance per file path per process and refuses a second connection with other
        # settings, so a plain connection elsewhere (a task generator, a user's notebook) and the
        # sandbox could not coexist. This instance is private and holds nothing but the file.
        config = {
            "autoinstall_known_extensions": False,
            "autoload_known_extensions": False,
            "memory_limit": memory_limit,
            "threads": threads,
            "temp_directory": "",  # no spilling: a query that outgrows memory_limit fails
        }
        connection = duckdb.connect(":memory:", config=config)
        try:
            literal = "'" + str(path).replace("'", "''") + "'"
            connection.execute(f"ATTACH {literal} AS {quote_identifier(_catalog_name(path))} (READ_ONLY)")
            connection.execute(f"USE {quote_identifier(_catalog_name(path))}")
            connection.execute("DETACH memory")  # the writable in-memory catalog: gone
            connection.execute("SET enable_external_access = false")  # no files, no network from here on
            connection.execute("SET lock_configuration = true")  # last: no query can change any setting
        except duckdb.Error as error:
            connection.close()
            raise RuntimeError(f"cannot open {path} read-only: {error}") from error
        self.connection = connection
        self.path = path
        self.settings = (memory_limit, threads)
        self.users = 0
        self.watchdog = _Watchdog(f"agentgym-sql-watchdog[{path.name}]")
        self.cursor_lock = threading.Lock()
        self.lock = threading.Lock()  # guards the metadata caches below
        self.table_names: list[str] | None = None
        self.table_info: dict[str, TableInfo] = {}

    @classmethod
    def acquire(cls, path: Path, memory_limit: str, threads: int) -> _SharedConnection:
        with cls._registry_lock:
            shared = cls._open.get(path)
            if shared is None:
                shared = cls._open[path] = cls(path, memory_limit, threads)
            elif shared.settings != (memory_limit, threads):
                raise ValueError(
                    f"{path} is already open in this process with memory_limit={shared.settings[0]!r}, "
                    f"threads={shared.settings[1]}; every ReadOnlyDatabase on one file shares those settings"
                )
            shared.users += 1
            return shared

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """A new cursor (its own DuckDB connection to the shared database)."""
        with self.cursor_lock:
            return self.connection.cursor()

    def release(self) -> None:
        with self._registry_lock:
            self.users -= 1
            if self.users > 0 or self._open.get(self.path) is not self:
                return
            del self._open[self.path]
        self.watchdog.stop()
        self.connection.close()


def _catalog_name(path: Path) -> str:
    """The name queries see for the attached database: the file's stem without a content hash.

    Examples:
        >>> _catalog_name(Path("/cache/chinook-0f3a9c2be1d44d7a.duckdb")), _catalog_name(Path("my db.duckdb"))
        ('chinook', 'my_db')
        >>> _catalog_name(Path("memory.duckdb")), _catalog_name(Path("2024.db"))
        ('db_memory', 'db_2024')
    """
    name = re.sub(r"\W", "_", re.sub(r"-[0-9a-f]{8,}$", "", path.stem))
    if not name or name[0].isdigit() or name.lower() in ("memory", "system", "temp", "main"):
        name = "db_" + name
    return name


@atexit.register
def _close_all_at_exit() -> None:
    """Close connections left open (envs never closed) before the interpreter tears DuckDB down."""
    with _SharedConnection._registry_lock:
        leftovers = list(_SharedConnection._open.values())
        _SharedConnection._open.clear()
    for shared in leftovers:
        shared.watchdog.stop()
        shared.connection.close()


# --------------------------------------------------------------------------------------------------
# The database


class ReadOnlyDatabase:
    """A DuckDB file opened for an agent's queries: read-only, no file or network access, time-limited.

    Instances on the same file share one connection (and one watchdog thread); each runs its
    queries on its own cursor, one at a time. Call :meth:`close` when done: the last instance on a
    file to close closes the connection and stops the thread.

    Args:
        path: The DuckDB database file.
        timeout_s: A query still running after this many seconds is interrupted.
        max_rows: Results are cut at this many rows (:attr:`Result.truncated`).
        memory_limit: DuckDB's memory limit for the shared connection (e.g. ``"256MB"``).
        threads: DuckDB threads for the shared connection; 1 keeps each query on its caller's thread.
        max_sql_chars: Longer SQL is refused without being parsed.

    Raises:
        FileNotFoundError: If ``path`` does not exist.
        ValueError: If the file is already open in this process with another ``memory_limit`` or
            ``threads``.

    Examples:
        >>> import duckdb, pathlib, tempfile
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "shop.duckdb"
        >>> with duckdb.connect(str(path)) as con:
        ...     _ = con.execute("CREATE TABLE fruit AS SELECT * FROM (VALUES ('apple', 3), ('fig', 5)) t(name, qty)")
        >>> db = ReadOnlyDatabase(path)
        >>> db.tables()
        ['fruit']
        >>> db.execute("SELECT name FROM fruit WHERE qty > 4")
        Result(columns=('name',), rows=[('fig',)], row_count=1, truncated=False)
        >>> try:
        ...     db.execute("DROP TABLE fruit")
        ... except SandboxError as error:
        ...     print(error)
        Only read queries are allowed: one SELECT (or WITH ... SELECT) statement. This is a DROP statement, and the \
database is read-only.
        >>> db.close()
    """

    def __init__(
        self,
        path: str | Path,
        *,
        timeout_s: float = 2.0,
        max_rows: int = 10_000,
        memory_limit: str = "256MB",
        threads: int = 1,
        max_sql_chars: int = MAX_SQL_CHARS,
    ):
        path = Path(path).resolve()
        if not path.is_file():
            raise FileNotFoundError(f"no database file at {path}")
        if timeout_s <= 0 or max_rows < 1 or threads < 1 or max_sql_chars < 1:
            raise ValueError("timeout_s, max_rows, threads and max_sql_chars must be positive")
        self.path = path
        self.timeout_s = float(timeout_s)
        self.max_rows = int(max_rows)
        self.max_sql_chars = int(max_sql_chars)
        self._shared: _SharedConnection | None = _SharedConnection.acquire(path, memory_limit, int(threads))
        self._cursor = self._shared.cursor()
        self._lock = threading.Lock()  # a cursor runs one query at a time, and the cursor may be replaced

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._shared is None

    def close(self) -> None:
        """Close this instance's cursor (and the shared connection if it is the last one); idempotent."""
        with self._lock:
            shared, self._shared = self._shared, None
            if shared is None:
                return
            self._cursor.close()
        shared.release()

    def __enter__(self) -> ReadOnlyDatabase:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # ---- agent-facing queries -----------------------------------------------------------------

    def check(self, sql: str) -> duckdb.Statement:
        """Parse ``sql`` and check it is one read-only statement, without running it.

        Args:
            sql: The SQL text.

        Returns:
            The parsed statement.

        Raises:
            SandboxError: Saying what is wrong and what to send instead.
        """
        with self._lock:
            return self._check(sql)

    def execute(self, sql: str) -> Result:
        """Run one read-only query and return its first ``max_rows`` rows.

        Args:
            sql: One ``SELECT`` (or ``WITH ... SELECT``) statement.

        Returns:
            The result.

        Raises:
            SandboxError: If the SQL is refused (see :meth:`check`), fails, runs past
                ``timeout_s`` or outgrows the memory limit; the message is written for the agent.
        """
        with self._lock:
            return self._run(self._check(sql))

    def tables(self) -> list[str]:
        """The names of the database's tables and views, sorted case-insensitively.

        Returns:
            The names.
        """
        shared = self._live_shared()
        with shared.lock:
            if shared.table_names is None:
                result = self._query(
                    "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() AND NOT internal "
                    "UNION SELECT view_name FROM duckdb_views() WHERE database_name = current_database() "
                    "AND NOT internal"
                )
                shared.table_names = sorted((row[0] for row in result.rows), key=lambda name: (name.lower(), name))
            return list(shared.table_names)

    def resolve_table(self, name: str) -> str:
        """The database's spelling of a table name given in any letter case.

        Args:
            name: The name as the agent wrote it (quotes around it are ignored).

        Returns:
            The table's name.

        Raises:
            SandboxError: If there is no such table; the message suggests close names.
        """
        names = self.tables()
        wanted = name.strip().strip('"`[]').strip() if isinstance(name, str) else ""
        for candidate in names:
            if candidate == wanted:
                return candidate
        for candidate in names:
            if candidate.lower() == wanted.lower():
                return candidate
        hint = did_you_mean(wanted, names)
        listing = ", ".join(names[:50]) + (" ..." if len(names) > 50 else "")
        raise SandboxError(f"There is no table {wanted[:100]!r}.{hint} The tables are: {listing}.")

    def describe(self, table: str, *, sample_rows: int = 3) -> TableInfo:
        """A table's columns, types, keys, row count and first rows (cached: the database never changes).

        Args:
            table: The table's name, in any letter case.
            sample_rows: How many rows to show.

        Returns:
            The description.

        Raises:
            SandboxError: If there is no such table.
        """
        name = self.resolve_table(table)
        shared = self._live_shared()
        with shared.lock:
            info = shared.table_info.get(name)
            if info is None:
                info = shared.table_info[name] = self._describe(name)
        if sample_rows != len(info.sample_rows) and (sample_rows < len(info.sample_rows) or info.row_count > 3):
            rows = self._query(f"SELECT * FROM {quote_identifier(name)} LIMIT {max(int(sample_rows), 0)}").rows
            info = dataclasses.replace(info, sample_rows=tuple(rows))
        return info

    # ---- internals ------------------------------------------------------------------------------

    def _live_shared(self) -> _SharedConnection:
        if self._shared is None:
            raise SandboxError("The database is closed.")
        return self._shared

    def _check(self, sql: str) -> duckdb.Statement:
        """:meth:`check`, with ``self._lock`` held."""
        if not isinstance(sql, str):
            raise SandboxError(f"SQL must be text, got {type(sql).__name__}.")
        if len(sql) > self.max_sql_chars:
            raise SandboxError(
                f"The SQL is {len(sql):,} characters long; the limit is {self.max_sql_chars:,}. Send one shorter query."
            )
        if not sql.strip():
            raise SandboxError("The SQL is empty. Send one SELECT query, e.g. SELECT * FROM some_table LIMIT 5.")
        try:
            sql.encode("utf-8")
        except UnicodeEncodeError as error:  # a lone surrogate: DuckDB's parser raises TypeError on it
            raise SandboxError(
                f"The SQL holds a character that is not valid Unicode ({ascii(sql[error.start])} at position "
                f"{error.start}). Send plain text."
            ) from None
        self._live_shared()
        try:
            statements = self._cursor.extract_statements(sql)  # DuckDB's own parser
        except duckdb.Error as error:
            raise SandboxError(_agent_message(error)) from None
        if not statements:
            raise SandboxError("The SQL holds no statement (only comments or semicolons). Send one SELECT query.")
        if len(statements) > 1:
            kinds = ", ".join(statement.type.name for statement in statements[:5])
            raise SandboxError(
                f"Send exactly one statement per call; this holds {len(statements)} ({kinds}). "
                "Run them one at a time."
            )
        statement = statements[0]
        if statement.type != duckdb.StatementType.SELECT:
            raise SandboxError(
                "Only read queries are allowed: one SELECT (or WITH ... SELECT) statement. "
                f"This is a {statement.type.name} statement, and the database is read-only."
            )
        self._refuse_huge_values(sql)
        return statement

    def _refuse_huge_values(self, sql: str) -> None:
        """Refuse SQL that would build one huge value (:mod:`.value_limits`), with ``self._lock`` held."""
        lowered = sql.lower()
        if not value_limits.worth_checking(lowered):
            return  # most queries stop here: no serialized tree needed
        try:
            tree = json.loads(self._cursor.execute("SELECT json_serialize_sql(?)", [sql]).fetchone()[0])
        except (duckdb.Error, TypeError, ValueError, KeyError):
            return  # not a plain SELECT tree (e.g. DESCRIBE): nothing in it builds values
        except RecursionError:
            raise SandboxError("The query is nested too deeply to check. Send a flatter query.") from None
        try:
            value_limits.check(tree, lowered)
        except value_limits.ValueTooBig as refused:
            raise SandboxError(str(refused)) from None

    def _query(self, sql: str) -> Result:
        """Run the sandbox's own SQL (metadata queries) under the time limit; no row cap."""
        with self._lock:
            return self._run(sql, max_rows=1_000_000)

    def _describe(self, name: str) -> TableInfo:
        literal = "'" + name.replace("'", "''") + "'"
        where = f"database_name = current_database() AND table_name = {literal}"
        columns = self._query(
            f"SELECT column_name, data_type, comment FROM duckdb_columns() WHERE {where} ORDER BY column_index"
        )
        comment = self._query(
            f"SELECT comment FROM duckdb_tables() WHERE {where} "
            f"UNION ALL SELECT comment FROM duckdb_views() WHERE {where.replace('table_name', 'view_name')}"
        ).rows
        count = self._query(f"SELECT count(*) FROM {quote_identifier(name)}").rows[0][0]
        sample = self._query(f"SELECT * FROM {quote_identifier(name)} LIMIT 3").rows
        constraints = self._query(
            "SELECT constraint_type, to_json(constraint_column_names), referenced_table, "
            f"to_json(referenced_column_names) FROM duckdb_constraints() WHERE {where} "
            "AND constraint_type IN ('PRIMARY KEY', 'FOREIGN KEY') ORDER BY constraint_index"
        )
        primary_key: tuple[str, ...] = ()
        foreign_keys = []
        for kind, own, referenced, theirs in constraints.rows:
            own, theirs = tuple(json.loads(own)), tuple(json.loads(theirs or "[]"))
            if kind == "PRIMARY KEY":
                primary_key = own
            else:
                foreign_keys.append((own, referenced, theirs))
        return TableInfo(
            name=name,
            columns=tuple((column, kind) for column, kind, _ in columns.rows),
            row_count=int(count),
            sample_rows=tuple(sample),
            primary_key=primary_key,
            foreign_keys=tuple(foreign_keys),
            comment=(comment[0][0] or "") if comment else "",
            column_comments=tuple(note or "" for _, _, note in columns.rows),
        )

    def _run(self, statement: duckdb.Statement | str, max_rows: int | None = None) -> Result:
        """Run a checked statement under the time limit and the row cap, with ``self._lock`` held."""
        max_rows = self.max_rows if max_rows is None else max_rows
        shared = self._live_shared()
        cursor = self._cursor
        interrupted = False
        try:
            token = shared.watchdog.watch(self.timeout_s, cursor.interrupt)
            try:
                cursor.execute(statement)
                columns = tuple(str(column[0]) for column in cursor.description or ())
                rows = cursor.fetchmany(max_rows + 1)
            finally:
                interrupted = shared.watchdog.unwatch(token)
        except duckdb.Error as error:
            if interrupted or isinstance(error, duckdb.InterruptException):
                raise SandboxError(
                    f"The query was stopped at the {self.timeout_s:g} s time limit. Make it cheaper: join ON keys "
                    "instead of cross joins, filter early, and aggregate instead of listing rows."
                ) from None
            raise SandboxError(_agent_message(error)) from None
        truncated = len(rows) > max_rows
        if truncated:
            # The query is still open inside the cursor, holding memory: drop it with the cursor.
            rows = rows[:max_rows]
            self._cursor = shared.cursor()
            cursor.close()
        plain = [_plain_row(row) for row in rows]
        return Result(columns=columns, rows=plain, row_count=len(plain), truncated=truncated)


def _agent_message(error: BaseException) -> str:
    """DuckDB's error, cut to a readable length, with file and memory errors explained."""
    text = str(error).strip()
    if isinstance(error, duckdb.PermissionException):
        return (
            "File, network and extension access are disabled: query the database's own tables. "
            f"({text.splitlines()[0][:300]})"
        )
    if isinstance(error, duckdb.OutOfMemoryException):
        return (
            "The query ran out of memory. Make it smaller: join ON keys instead of cross joins, filter early, "
            f"aggregate, or add LIMIT. ({text.splitlines()[0][:300]})"
        )
    if "read-only mode" in text:  # e.g. DuckDB's data-modifying CTEs parse as SELECT statements
        return f"The database is read-only: a query may not change data, not even inside WITH. ({text[:300]})"
    if len(text) > _MAX_ERROR_CHARS:
        text = text[:_MAX_ERROR_CHARS] + " ..."
    return text
