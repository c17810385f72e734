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
For the same reason it refuses queries whose values can grow more than :data:`MAX_GROWTH` times
through concatenations, ``replace()``, ``repeat()``, aggregates and list lambdas that feed each other
across nested calls, subqueries, CTE levels and recursion (eight CTE levels of ``s||s||...||s`` ran
14 s and took 4.9 GB): a static bound read from the parse tree (:class:`_GrowthBound`), only for
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

from agentgym.suggest import did_you_mean

__all__ = [
    "MAX_BUILT_SIZE",
    "MAX_GROWTH",
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

#: Largest size (characters, list entries) a query may ask a value-building function for.
MAX_BUILT_SIZE = 10_000

#: Scalar functions whose arguments (0-based positions) set the size of the value they build; ``None``:
#: every argument (``range(start, stop, step)``). The table functions of the same names stream rows
#: and stay interruptible, so they are allowed.
_SIZED_FUNCTIONS: dict[str, tuple[int, ...] | None] = {
    "repeat": (1,),
    "lpad": (1,),
    "rpad": (1,),
    "list_resize": (1,),
    "array_resize": (1,),
    "range": None,
    "generate_series": None,
}

#: Most a query may multiply the length of one value by, across nested calls, CTE levels and recursion
#: (a base column's value, or 100 characters of a literal, is 1): ``s || s`` doubles, ``replace(s, 'a',
#: 'aaaa')`` quadruples, ``string_agg`` counts as 3,400.
MAX_GROWTH = 10_000

#: Functions whose first argument is a format string that may hold a field width.
_FORMAT_FUNCTIONS = ("printf", "format")

#: The names the text of a query must hold for :meth:`ReadOnlyDatabase._refuse_huge_values` to look closer.
_BUILDER_NAMES = (*_SIZED_FUNCTIONS, *_FORMAT_FUNCTIONS)

#: Five digits in a row in a ``printf`` or ``format`` string: maybe a field width of 10,000 or more.
_WIDE_FIELD = re.compile(r"[0-9]{5}")


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
        """Refuse calls that would build one huge value (see the module's docstring), with ``self._lock`` held.

        Two checks on the serialized tree: the sizes given to value-building functions, and the growth
        :class:`_GrowthBound` bounds (concatenations, replace() and aggregates multiplied across nesting,
        CTE levels and recursion, past :data:`MAX_GROWTH`).
        """
        lowered = sql.lower()
        builds = any(name in lowered for name in _BUILDER_NAMES)
        if not builds and not _may_grow_values(lowered):
            # A function's name is in the text whenever it is called, and ``||`` alone in one query level only
            # adds up lengths the SQL text bounds: no serialized tree needed (most queries stop here).
            return
        try:
            tree = json.loads(self._cursor.execute("SELECT json_serialize_sql(?)", [sql]).fetchone()[0])
            statements = tree["statements"]
        except (duckdb.Error, TypeError, ValueError, KeyError):
            return  # not a plain SELECT tree (e.g. DESCRIBE): nothing in it builds values
        except RecursionError:
            raise SandboxError("The query is nested too deeply to check. Send a flatter query.") from None
        for name, arguments in _function_calls(tree) if builds else ():
            sized = _SIZED_FUNCTIONS.get(name)
            if name in _SIZED_FUNCTIONS:
                positions = range(len(arguments)) if sized is None else sized
                sizes = [_integer_constant(arguments[i]) if i < len(arguments) else 0 for i in positions]
                if any(size is None or abs(size) > MAX_BUILT_SIZE for size in sizes):
                    raise SandboxError(
                        f"{name}() may only be called with constant sizes of at most {MAX_BUILT_SIZE:,} here: it "
                        "builds one value that can exhaust the sandbox's memory. Use a smaller constant, or the "
                        "table function (FROM range(n)) to make rows."
                    )
            elif name in _FORMAT_FUNCTIONS and arguments:
                text = _string_constant(arguments[0])
                if text is None or _WIDE_FIELD.search(text):
                    raise SandboxError(
                        f"{name}() needs a constant format string without five-digit numbers (field widths of 10,000 "
                        "or more) here."
                    )
        try:
            bound = _GrowthBound(MAX_GROWTH)
            for statement in statements if isinstance(statements, list) else ():
                bound.node(statement.get("node") if isinstance(statement, dict) else None, {}, [])
        except _TooMuchGrowth as refused:
            raise SandboxError(
                f"This query can make one value more than {MAX_GROWTH:,} times longer than the data it starts from "
                f"(at {refused.name[:40]}): nested concatenations (||, concat), replace() or aggregates that feed "
                "each other across subqueries, CTE levels or recursion multiply lengths. DuckDB builds such a value "
                "in one step that the time and memory limits cannot stop. Build smaller values."
            ) from None
        except RecursionError:
            raise SandboxError("The query is nested too deeply to check. Send a flatter query.") from None

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


def _function_calls(node: Any) -> list[tuple[str, list[Any]]]:
    """``(lowercased name, argument expressions)`` of every scalar function call in a serialized SQL tree.

    A table function in ``FROM`` (``range(n)`` there streams rows) is skipped; its arguments are not.

    Examples:
        >>> tree = {"type": "TABLE_FUNCTION", "function": {"class": "FUNCTION", "function_name": "range",
        ...         "arguments": [{"expression": {"class": "FUNCTION", "function_name": "REPEAT", "arguments": []}}]}}
        >>> _function_calls(tree)
        [('repeat', [])]
    """
    calls = []
    stack = [(node, False)]
    while stack:  # iterative: a deeply nested query must not exhaust Python's recursion limit
        item, is_table_function = stack.pop()
        if isinstance(item, list):
            stack.extend((child, False) for child in item)
            continue
        if not isinstance(item, dict):
            continue
        if item.get("class") == "FUNCTION" and not is_table_function:
            arguments = [argument.get("expression") for argument in item.get("arguments") or ()]
            calls.append((str(item.get("function_name", "")).lower(), arguments))
        for key, child in item.items():
            stack.append((child, key == "function" and item.get("type") == "TABLE_FUNCTION"))
    return calls


# --------------------------------------------------------------------------------------------------
# Growth: how much a query can multiply the length of one value (nested concatenation, replace, ...)
#
# DuckDB builds each string in one call that neither the interrupt nor memory_limit sees, so a value
# that grows tenfold per CTE level (s||s||...||s over eight levels) or per nested replace() ran 7-10 s
# and took 2-5 GB under a 2 s, 256 MB limit. A watchdog on RSS cannot help: the interrupt is only
# seen between operators. So the query's tree is read and each expression's growth bounded
# statically: a base column or a short literal is 1, concatenation adds, replace/repeat/aggregates
# multiply, and a column of a CTE or subquery carries the growth of the expression that made it
# (a recursive CTE is evaluated again until it settles: doubling each round never does).


class _TooMuchGrowth(Exception):
    def __init__(self, name: str):
        super().__init__(name)
        self.name = name


#: Characters of a string literal that count as one unit of growth (a base column's value is one unit).
_UNIT_CHARS = 100

#: Growth of the value an aggregate collects from many rows (string_agg, list, ...): the aggregate itself
#: is built row by row under memory_limit (which stops it near 50 MB of text), so it may get large, and
#: little more growth is left for what is built from it: ``'Artists: ' || string_agg(name, ', ')`` and
#: two aggregates joined pass, three copies of one do not (four copies of a 47 MB one peaked at 650 MB).
_AGGREGATE_GROWTH = MAX_GROWTH * 34 // 100  # just over a third

#: Rounds a recursive CTE is re-evaluated for: growth that doubles each round passes any bound by then.
_RECURSION_ROUNDS = 16

#: Aggregates (and window functions) that collect many rows into one string or list.
_COLLECTING_AGGREGATES = frozenset(
    ("string_agg", "group_concat", "listagg", "list", "array_agg", "histogram", "list_agg", "array_agg",
     "json_group_array", "json_group_object", "map_agg")
)

#: Functions that make a string a fixed number of times longer at most, per character: hex digits,
#: binary digits, percent-escapes and JSON escapes of a character's (up to 4) UTF-8 bytes. A blob
#: (from a cast or encode()) prints each byte as up to 4 characters (\xNN).
_EXPANDING = {
    "hex": 8, "to_hex": 8, "bin": 32, "to_binary": 32, "url_encode": 12, "to_json": 6, "json_quote": 6,
    "array_to_json": 6, "row_to_json": 6, "json_array": 6, "json_object": 6, "regexp_escape": 2,
    "to_base64": 6, "base64": 6, "encode": 16, "unhex": 4, "from_hex": 4, "from_binary": 4, "unbin": 4,
    "from_base64": 4,
}

#: Types a cast to which can print 16 times longer than its text: 4 UTF-8 bytes a character, \xNN a byte.
_BLOB_TYPES = ("blob", "bytea", "binary", "varbinary")

#: Functions whose result is no longer than their longest argument.
_NON_GROWING = frozenset(
    ("coalesce", "ifnull", "nullif", "greatest", "least", "substring", "substr", "left", "right", "trim",
     "ltrim", "rtrim", "upper", "lower", "ucase", "lcase", "min", "max", "first", "last", "any_value",
     "arg_min", "arg_max", "min_by", "max_by", "if", "translate", "reverse", "lag", "lead", "first_value",
     "last_value", "nth_value", "strip_accents")
)

#: Functions that apply a lambda to each element of a list.
_LAMBDA_FUNCTIONS = frozenset(
    ("list_transform", "array_transform", "apply", "list_apply", "array_apply", "list_reduce", "array_reduce",
     "reduce", "list_filter", "array_filter", "filter")
)

#: A call whose result can be longer than the sum of its arguments, or a second query level: worth the
#: tree. ``||`` and ``concat`` alone only add up argument lengths, which the SQL text bounds.
_MULTIPLYING_CALL = re.compile(
    r"(?:replace|repeat|agg|list\w*|array\w*|apply|reduce|group_concat|histogram|lpad|rpad|printf|format"
    r"|range|generate_series|transform|filter|unnest|hex|bin|binary|url_encode|json\w*|escape|base64|encode)\"?\s*\("
    r"|blob|bytea|binary"
)


def _may_grow_values(lowered: str) -> bool:
    """Whether a query's text (lowercased) may multiply a value's length, so its tree must be read.

    Examples:
        >>> _may_grow_values("select firstname || ' ' || lastname from employee")
        False
        >>> _may_grow_values("with a as (select s||s as s from t) select s||s from a")
        True
        >>> _may_grow_values("select replace(name, 'a', 'b') from artist")
        True
    """
    if _MULTIPLYING_CALL.search(lowered):
        return True
    if "||" not in lowered and "concat" not in lowered:
        return False
    levels = ("select", "values", "with", "pivot")  # the words that start a query level
    return sum(lowered.count(word) for word in levels) >= 2


@dataclass
class _Source:
    """A relation in a FROM clause: its alias and the growth of each of its columns."""

    alias: str
    columns: dict[str, float]
    default: float = 1.0


class _GrowthBound:
    """Bounds the growth of every value a serialized SELECT tree builds; raises :class:`_TooMuchGrowth`."""

    def __init__(self, limit: float):
        self.limit = limit
        self.steps = 0

    # ---- query nodes: each returns its output columns as (name, growth), in order

    def node(self, node: Any, ctes: dict[str, list[tuple[str, float]]], outer: list[list[_Source]]):
        self._step()
        if not isinstance(node, dict):
            return []
        kind = node.get("type")
        ctes = self._ctes(node.get("cte_map"), ctes, outer)
        if kind == "SET_OPERATION_NODE":
            return _merge(self.node(node.get("left"), ctes, outer), self.node(node.get("right"), ctes, outer))
        if kind == "RECURSIVE_CTE_NODE":
            name = str(node.get("cte_name", "")).lower()
            aliases = node.get("aliases") or []
            columns = _rename(self.node(node.get("left"), ctes, outer), aliases)
            for _ in range(_RECURSION_ROUNDS):
                ctes = {**ctes, name: columns}
                grown = _merge(columns, _rename(self.node(node.get("right"), ctes, outer), aliases))
                if grown == columns:
                    break
                columns = grown
            return columns
        if kind != "SELECT_NODE":
            return [("", self.anything(node, outer, ctes))]
        sources = self.from_table(node.get("from_table"), ctes, outer)
        scopes = [sources, *outer]
        for key in ("where_clause", "having", "qualify", "group_expressions"):
            self.anything(node.get(key), scopes, ctes)
        columns = []
        for item in node.get("select_list") or ():
            if isinstance(item, dict) and item.get("class") == "STAR" and not item.get("columns"):
                for source in sources:
                    columns.extend(source.columns.items() or [("", source.default)])
                continue
            growth = self.expression(item, scopes, ctes)
            name = item.get("alias") if isinstance(item, dict) else None
            if not name and isinstance(item, dict) and item.get("class") == "COLUMN_REF":
                name = (item.get("column_names") or [""])[-1]
            columns.append((str(name or "").lower(), growth))
        return columns

    def _ctes(self, cte_map: Any, ctes: dict, outer: list) -> dict[str, list[tuple[str, float]]]:
        entries = cte_map.get("map") if isinstance(cte_map, dict) else None
        if not entries:
            return ctes
        ctes = dict(ctes)
        for entry in entries:
            if not isinstance(entry, dict) or not isinstance(entry.get("value"), dict):
                continue
            value = entry["value"]
            columns = self.node(value.get("query_node") or (value.get("query") or {}).get("node"), ctes, outer)
            ctes[str(entry.get("key", "")).lower()] = _rename(columns, value.get("aliases") or [])
        return ctes

    def from_table(self, table: Any, ctes: dict, outer: list) -> list[_Source]:
        self._step()
        if not isinstance(table, dict):
            return []
        kind = table.get("type")
        if kind == "JOIN":  # the right side may be LATERAL: it sees the left side's columns
            left = self.from_table(table.get("left"), ctes, outer)
            sources = left + self.from_table(table.get("right"), ctes, [left, *outer])
            self.anything(table.get("condition"), [sources, *outer], ctes)
            return sources
        if kind == "BASE_TABLE":
            name = str(table.get("table_name", "")).lower()
            alias = str(table.get("alias") or name).lower()
            columns = ctes.get(name)
            if columns is None:
                return [_Source(alias, {})]
            return [_Source(alias, _as_dict(columns), max((g for _, g in columns), default=1.0))]
        if kind == "SUBQUERY":
            subquery = table.get("subquery")
            node = subquery.get("node") if isinstance(subquery, dict) else None
            columns = _rename(self.node(node, ctes, outer), table.get("column_name_alias") or [])
            return [_Source(str(table.get("alias") or "").lower(), _as_dict(columns),
                            max((g for _, g in columns), default=1.0))]
        if kind == "EMPTY":
            return []
        if kind == "TABLE_FUNCTION":  # streams rows: its columns are no bigger than its arguments
            function = table.get("function")
            growth = self.anything(function.get("arguments") if isinstance(function, dict) else None, outer, ctes)
            return [_Source(str(table.get("alias") or "").lower(), {}, growth)]
        # VALUES, PIVOT, ...: every column as big as anything in it.
        growth = self.anything(table, outer, ctes)
        return [_Source(str(table.get("alias") or "").lower(), {}, growth)]

    # ---- expressions: each returns its growth

    def expression(self, expression: Any, scopes: list[list[_Source]], ctes: dict) -> float:
        self._step()
        if not isinstance(expression, dict):
            return 1.0
        kind = expression.get("class")
        if kind == "CONSTANT":
            text = _string_constant(expression)
            return max(1.0, len(text) / _UNIT_CHARS) if text is not None else 1.0
        if kind == "COLUMN_REF":
            return _column_growth([str(name).lower() for name in expression.get("column_names") or ()], scopes)
        if kind in ("STAR", "POSITIONAL_REFERENCE"):
            return max((max([s.default, *s.columns.values()]) for scope in scopes for s in scope), default=1.0)
        if kind == "SUBQUERY":
            subquery = expression.get("subquery")
            node = subquery.get("node") if isinstance(subquery, dict) else None
            columns = self.node(node, ctes, scopes)
            self.anything(expression.get("child"), scopes, ctes)
            return self._check("subquery", max((g for _, g in columns), default=1.0))
        if kind in ("FUNCTION", "WINDOW"):
            return self.function(expression, scopes, ctes)
        if kind == "CASE":
            checks = [check for check in expression.get("case_checks") or () if isinstance(check, dict)]
            for check in checks:
                self.expression(check.get("when_expr"), scopes, ctes)
            results = [check.get("then_expr") for check in checks] + [expression.get("else_expr")]
            return max(self.expression(result, scopes, ctes) for result in results)
        if kind in ("COMPARISON", "CONJUNCTION", "TYPE"):
            self.anything({k: v for k, v in expression.items() if k != "class"}, scopes, ctes)
            return 1.0
        if kind == "CAST":
            target = expression.get("type_expr") or expression.get("cast_type")
            growth = self.expression(expression.get("child"), scopes, ctes)
            if any(name in json.dumps(target).lower() for name in _BLOB_TYPES):
                growth *= 16
            return self._check("CAST", growth)
        if kind in ("OPERATOR", "COLLATE", "BETWEEN"):
            parts = self._children(expression)
            return max((self.expression(part, scopes, ctes) for part in parts), default=1.0)
        parts = self._children(expression)
        return self._check(str(kind), sum(self.expression(part, scopes, ctes) for part in parts) or 1.0)

    def function(self, call: dict[str, Any], scopes: list[list[_Source]], ctes: dict) -> float:
        name = str(call.get("function_name", "")).lower()
        arguments = [item.get("expression") for item in call.get("arguments") or () if isinstance(item, dict)]
        arguments += list(call.get("children") or ())
        for key in ("filter", "partitions", "orders", "order_bys"):  # evaluated for nested queries, not sized
            self.anything(call.get(key), scopes, ctes)
        if name in _LAMBDA_FUNCTIONS:
            return self._check(name, self._lambda_call(name, arguments, scopes, ctes))
        growths = [self.expression(argument, scopes, ctes) for argument in arguments]
        first = growths[0] if growths else 1.0
        if name in _COLLECTING_AGGREGATES:  # each row's value was bounded already, the total is not
            growth = max(first, _AGGREGATE_GROWTH)
        elif name in ("replace", "regexp_replace"):
            to = _string_constant(arguments[2]) if len(arguments) > 2 else None
            if name == "replace":
                old = _string_constant(arguments[1]) if len(arguments) > 1 else None
                ratio = len(to) / len(old) if to is not None and old else None
            else:  # an empty match can take the replacement before every character; \0 copies the match
                ratio = len(to) + 1 + to.count("\\") if to is not None else None
            if ratio is None:
                ratio = (growths[2] if len(growths) > 2 else 1.0) * _UNIT_CHARS
            growth = first * max(1.0, ratio)
        elif name == "repeat":
            growth = first * abs(_integer_constant(arguments[1]) or MAX_BUILT_SIZE) if len(arguments) > 1 else first
        elif name in _SIZED_FUNCTIONS:  # lpad, range, list_resize: size set by a constant (checked already)
            sizes = [abs(_integer_constant(argument) or MAX_BUILT_SIZE) for argument in arguments[1:] or arguments]
            growth = first + max(sizes, default=0) / _UNIT_CHARS
        elif name in _EXPANDING:
            growth = first * _EXPANDING[name]
        elif name in _NON_GROWING:
            growth = max(growths, default=1.0)
        else:  # concat, ||, concat_ws, list_concat, printf, and anything else: at most the sum of the arguments
            growth = sum(growths) or 1.0
        return self._check(name, growth)

    def _lambda_call(self, name: str, arguments: list[Any], scopes: list[list[_Source]], ctes: dict) -> float:
        """A list function's growth: its lambda applied to the whole list (each element is no bigger).

        A reduce whose body uses the accumulator twice (``lambda a, b: a || a || b``) doubles it per
        element: unbounded.
        """
        growths = []
        for argument in arguments:
            if isinstance(argument, dict) and argument.get("class") == "LAMBDA":
                continue
            growths.append(self.expression(argument, scopes, ctes))
        size = max(growths, default=1.0)
        growth = size
        for argument in arguments:
            if not isinstance(argument, dict) or argument.get("class") != "LAMBDA":
                continue
            parameters = _lambda_parameters(argument.get("lhs"))
            body = argument.get("expr")
            bound = {parameter: size for parameter in parameters}
            growth = max(growth, self.expression(body, [[_Source("", bound)], *scopes], ctes))
            if "reduce" in name and parameters:
                probe = _GrowthBound(math.inf)
                probe.steps = self.steps
                accumulator = {parameter: 1.0 for parameter in parameters} | {parameters[0]: 1e9}
                if probe.expression(body, [[_Source("", accumulator)], *scopes], ctes) >= 2e9:
                    raise _TooMuchGrowth(name)
        return growth

    def anything(self, item: Any, scopes: list, ctes: dict | None = None) -> float:
        """The largest growth of the expressions and queries anywhere in ``item`` (a clause, a table function)."""
        ctes = ctes or {}
        if isinstance(item, list):
            return max((self.anything(child, scopes, ctes) for child in item), default=1.0)
        if not isinstance(item, dict):
            return 1.0
        if "class" in item:
            return self.expression(item, scopes, ctes)
        if item.get("type") in ("SELECT_NODE", "SET_OPERATION_NODE", "RECURSIVE_CTE_NODE"):
            return max((g for _, g in self.node(item, ctes, scopes)), default=1.0)
        if item.get("type") in ("JOIN", "SUBQUERY", "BASE_TABLE", "TABLE_FUNCTION") and "function" not in item:
            sources = self.from_table(item, ctes, scopes)
            return max((max([s.default, *s.columns.values()]) for s in sources), default=1.0)
        return max((self.anything(child, scopes, ctes) for child in item.values()), default=1.0)

    def _children(self, expression: dict[str, Any]) -> list[Any]:
        children = []
        for value in expression.values():
            if isinstance(value, dict) and "class" in value:
                children.append(value)
            elif isinstance(value, list):
                for entry in value:
                    if isinstance(entry, dict) and "class" in entry:
                        children.append(entry)
                    elif isinstance(entry, dict) and isinstance(entry.get("expression"), dict):
                        children.append(entry["expression"])
        return children

    def _check(self, name: str, growth: float) -> float:
        if growth > self.limit:
            raise _TooMuchGrowth(name)
        return growth

    def _step(self) -> None:
        self.steps += 1
        if self.steps > 200_000:  # a pathological tree: refuse rather than spend seconds reading it
            raise _TooMuchGrowth("the query's size")


def _column_growth(names: list[str], scopes: list[list[_Source]]) -> float:
    """A column's growth: from the innermost scope whose relations have it (1 for a base table's column)."""
    if not names:
        return 1.0
    column, qualifier = names[-1], (names[-2] if len(names) > 1 else None)
    best = 1.0
    if qualifier is not None:  # or a struct's field (s.v): the largest of the names read as a column
        best = max(_column_growth([name], scopes) for name in names[:-1])
    for sources in scopes:
        found = [
            source.columns.get(column, source.default if not source.columns else None)
            for source in sources
            if qualifier is None or source.alias == qualifier
        ]
        found = [growth for growth in found if growth is not None]
        if found and qualifier is not None:
            return max([best, *found])
        best = max([best, *found])  # unqualified: maybe an outer query's column, so the largest anywhere
    return best


def _lambda_parameters(lhs: Any) -> list[str]:
    """The parameter names of a lambda's left-hand side (``x`` or ``(a, b)``), lowercased."""
    if isinstance(lhs, dict) and lhs.get("class") == "COLUMN_REF":
        return [str((lhs.get("column_names") or [""])[-1]).lower()]
    if isinstance(lhs, dict) and lhs.get("class") == "FUNCTION":
        arguments = [item.get("expression") for item in lhs.get("arguments") or () if isinstance(item, dict)]
        return [name for argument in arguments for name in _lambda_parameters(argument)]
    return []


def _merge(left: list[tuple[str, float]], right: list[tuple[str, float]]) -> list[tuple[str, float]]:
    """Columns of a UNION: the names of the left side, the larger growth of each position."""
    merged = [(name, max(growth, right[i][1]) if i < len(right) else growth) for i, (name, growth) in enumerate(left)]
    return merged + right[len(left):]


def _rename(columns: list[tuple[str, float]], aliases: Sequence[Any]) -> list[tuple[str, float]]:
    return [(str(aliases[i]).lower() if i < len(aliases) else name, g) for i, (name, g) in enumerate(columns)]


def _as_dict(columns: list[tuple[str, float]]) -> dict[str, float]:
    out: dict[str, float] = {}
    for name, growth in columns:
        out[name] = max(growth, out.get(name, 0.0))
    return out


def _literal(expression: Any) -> dict[str, Any] | None:
    if isinstance(expression, dict) and expression.get("class") == "CONSTANT":
        literal = expression.get("literal")
        return literal if isinstance(literal, dict) else None
    return None


def _integer_constant(expression: Any) -> int | None:
    """The value of an integer literal expression, else ``None``.

    Examples:
        >>> _integer_constant({"class": "CONSTANT", "literal": {"kind": "INTEGER", "text": "-12"}})
        -12
        >>> _integer_constant({"class": "COLUMN_REF"}) is None
        True
    """
    literal = _literal(expression)
    text = literal.get("text") if literal is not None else None
    digits = text.lstrip("+-") if isinstance(text, str) else ""
    if not digits or len(digits) > 20 or not digits.isascii() or not digits.isdigit():
        return None
    return int(text)


def _string_constant(expression: Any) -> str | None:
    literal = _literal(expression)
    if literal is None or literal.get("kind") != "STRING" or not isinstance(literal.get("text"), str):
        return None
    return literal["text"]


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
