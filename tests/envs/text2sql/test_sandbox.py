"""The read-only DuckDB sandbox: guards against hostile SQL, the time limit, the row cap, sharing, cleanup."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import duckdb
import pytest

from agentgym.envs.text2sql.sandbox import ReadOnlyDatabase, SandboxError, _SharedConnection, plain_value

CROSS_JOIN = "SELECT sum(a.n * b.n * c.n * d.n) FROM numbers a, numbers b, numbers c, numbers d"  # 1.6e13 rows


@pytest.fixture(scope="module")
def db_path(tmp_path_factory):
    """A small store: artist, album (FK to artist), track (decimal prices, dates) and 2,000 numbers."""
    path = tmp_path_factory.mktemp("sandbox") / "store.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE TABLE artist (artist_id INTEGER PRIMARY KEY, name VARCHAR NOT NULL)")
        con.execute(
            "CREATE TABLE album (album_id INTEGER PRIMARY KEY, title VARCHAR, "
            "artist_id INTEGER REFERENCES artist (artist_id))"
        )
        con.execute(
            'CREATE TABLE "Track Sale" (track_id INTEGER, album_id INTEGER, unit_price DECIMAL(10, 2), sold DATE)'
        )
        con.execute("CREATE TABLE numbers AS SELECT range AS n, 'n' || range AS label FROM range(2000)")
        con.execute("INSERT INTO artist VALUES (1, 'AC/DC'), (2, 'Accept'), (3, 'Aerosmith')")
        con.execute("INSERT INTO album VALUES (10, 'For Those About To Rock', 1), (11, 'Balls to the Wall', 2)")
        con.execute("INSERT INTO \"Track Sale\" VALUES (100, 10, 0.99, DATE '2009-01-01'), (101, 11, 1.99, NULL)")
        con.execute("COMMENT ON TABLE album IS 'Albums, each by one artist'")
        con.execute("COMMENT ON COLUMN album.title IS 'The album title'")
        con.execute("CREATE VIEW artist_albums AS SELECT name, title FROM artist JOIN album USING (artist_id)")
    return path


@pytest.fixture
def db(db_path):
    database = ReadOnlyDatabase(db_path, timeout_s=0.5)
    yield database
    database.close()


def checksum(db: ReadOnlyDatabase) -> tuple[str, dict[str, tuple]]:
    """The file's bytes and every table's row count and content hash."""
    tables = {
        name: db.execute(f'SELECT count(*), sum(hash(t)) FROM "{name}" AS t').rows[0]
        for name in db.tables()
    }
    return hashlib.sha256(db.path.read_bytes()).hexdigest(), tables


def watchdog_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("agentgym-sql-watchdog")]


# ---- ordinary queries ----------------------------------------------------------------------------


def test_a_select_returns_columns_and_plain_rows(db):
    result = db.execute('SELECT track_id, unit_price, sold FROM "Track Sale" ORDER BY track_id')
    assert result.columns == ("track_id", "unit_price", "sold")
    assert result.rows == [(100, 0.99, "2009-01-01"), (101, 1.99, None)]
    assert db.execute("SELECT TIMESTAMP '2009-01-01 10:00', [1, 2], 'NaN'::DOUBLE").rows == [
        ("2009-01-01 10:00:00", [1, 2], None)
    ]
    assert (result.row_count, result.truncated) == (2, False)


@pytest.mark.parametrize(
    "sql",
    [
        "WITH a AS (SELECT * FROM artist) SELECT count(*) FROM a",
        "FROM artist SELECT count(*)",
        "select count(*) from ARTIST;",
        "SELECT count(*) FROM artist -- a trailing comment",
        "(SELECT count(*) FROM artist)",
    ],
)
def test_read_queries_in_any_spelling_run(db, sql):
    assert db.execute(sql).rows == [(3,)]


def test_results_are_cut_at_max_rows_and_the_cursor_stays_usable(db_path):
    with ReadOnlyDatabase(db_path, max_rows=100) as db:
        result = db.execute("SELECT a.n, b.n FROM numbers a, numbers b")  # 4 million rows, streamed
        assert (result.row_count, result.truncated, len(result.rows)) == (100, True, 100)
        assert db.execute("SELECT count(*) FROM numbers").rows == [(2000,)]
        assert db.execute("SELECT n FROM numbers LIMIT 100").truncated is False
        assert len(db.tables()) == 5  # metadata is never cut


def test_tables_and_describe(db):
    assert db.tables() == ["album", "artist", "artist_albums", "numbers", "Track Sale"]
    info = db.describe("ALBUM")
    assert info.name == "album" and info.row_count == 2
    assert info.columns == (("album_id", "INTEGER"), ("title", "VARCHAR"), ("artist_id", "INTEGER"))
    assert info.primary_key == ("album_id",)
    assert info.foreign_keys == ((("artist_id",), "artist", ("artist_id",)),)
    assert info.sample_rows == ((10, "For Those About To Rock", 1), (11, "Balls to the Wall", 2))
    assert (info.comment, info.column_comments) == ("Albums, each by one artist", ("", "The album title", ""))
    assert db.describe("artist_albums").columns == (("name", "VARCHAR"), ("title", "VARCHAR"))
    assert db.describe('"Track Sale"').columns[2] == ("unit_price", "DECIMAL(10,2)")
    assert len(db.describe("numbers").sample_rows) == 3
    assert len(db.describe("numbers", sample_rows=5).sample_rows) == 5


def test_an_unknown_table_suggests_close_names(db):
    with pytest.raises(SandboxError, match=r"There is no table 'artists'\. Did you mean 'artist'"):
        db.describe("artists")
    with pytest.raises(SandboxError, match="The tables are: album, artist"):
        db.describe("../../etc/passwd")


def test_plain_values_survive_json_and_match_the_task_generators():
    import datetime
    import decimal
    import json
    import uuid

    from agentgym.envs.text2sql.tasks import jsonable

    values = [decimal.Decimal("2.50"), datetime.datetime(2020, 1, 2, 3, 4), float("nan"), float("-inf"),
              uuid.UUID(int=0), [1, decimal.Decimal("2")], {"k": 1}, b"\x00", datetime.timedelta(days=1), True,
              datetime.time(1, 2)]
    plain = [plain_value(v) for v in values]
    assert plain == json.loads(json.dumps(plain, allow_nan=False))
    assert plain == [jsonable(v) for v in values]
    assert plain[:5] == [2.5, "2020-01-02 03:04:00", None, None, "00000000-0000-0000-0000-000000000000"]


# ---- hostile input -------------------------------------------------------------------------------

HOSTILE = [
    ("DROP TABLE artist", "This is a DROP statement"),
    ("DELETE FROM artist", "This is a DELETE statement"),
    ("UPDATE artist SET name = 'x'", "This is a UPDATE statement"),
    ("INSERT INTO artist VALUES (9, 'x')", "This is a INSERT statement"),
    ("CREATE TABLE evil AS SELECT 1", "This is a CREATE statement"),
    ("CREATE TEMP TABLE evil (i INTEGER)", "This is a CREATE statement"),
    ("CREATE VIEW evil AS SELECT 1", "This is a CREATE statement"),
    ("ALTER TABLE artist ADD COLUMN x INTEGER", "This is a ALTER statement"),
    ("ATTACH '/tmp/agentgym-evil.duckdb' AS evil", "This is a ATTACH statement"),
    ("DETACH store", "This is a DETACH statement"),
    ("COPY artist TO '/tmp/agentgym-evil.csv'", "This is a COPY statement"),
    ("EXPORT DATABASE '/tmp/agentgym-evil'", "This is a EXPORT statement"),
    ("INSTALL httpfs", "This is a LOAD statement"),
    ("LOAD httpfs", "This is a LOAD statement"),
    ("PRAGMA table_info('artist')", "This is a PRAGMA statement"),
    ("SET memory_limit = '64GB'", "This is a SET statement"),
    ("SET enable_external_access = true", "This is a SET statement"),
    ("RESET memory_limit", "This is a SET statement"),
    ("SET VARIABLE x = 1", "This is a SET statement"),
    ("CALL pragma_version()", "This is a CALL statement"),
    ("CHECKPOINT", "This is a CALL statement"),
    ("BEGIN TRANSACTION", "This is a TRANSACTION statement"),
    ("VACUUM", "This is a VACUUM statement"),
    ("EXPLAIN SELECT 1", "This is a EXPLAIN statement"),
    ("SELECT * FROM read_csv('/etc/passwd')", "File, network and extension access are disabled"),
    ("SELECT * FROM read_text('/etc/passwd')", "File, network and extension access are disabled"),
    ("SELECT * FROM read_blob('/etc/shadow')", "File, network and extension access are disabled"),
    ("SELECT * FROM glob('/*')", "File, network and extension access are disabled"),
    ("SELECT * FROM '/etc/passwd'", "Table with name /etc/passwd does not exist"),
    ("SELECT * FROM read_parquet('http://169.254.169.254/x.parquet')", "access are disabled"),
    ("SELECT * FROM duckdb_extensions()", "File, network and extension access are disabled"),
    ("SELECT * FROM query('DROP TABLE artist')", "Expected a single SELECT statement"),
    ("WITH gone AS (DELETE FROM artist RETURNING *) SELECT * FROM gone", "The database is read-only"),
    ("WITH new AS (INSERT INTO artist VALUES (9, 'x') RETURNING *) FROM new", "The database is read-only"),
    ("SELECT 1; DROP TABLE artist", "Send exactly one statement per call; this holds 2 (SELECT, DROP)"),
    ("SELECT 1; SELECT 2", "Send exactly one statement per call; this holds 2 (SELECT, SELECT)"),
    ("SELECT 1;" * 50, "this holds 50"),
    ("", "The SQL is empty"),
    ("   \n\t", "The SQL is empty"),
    ("-- just a comment", "holds no statement"),
    (";", "holds no statement"),
    ("Please list all the artists.", "syntax error at or near \"Please\""),
    ("SELEC name FROM artist", "syntax error"),
    ("SELECT nme FROM artist", 'Referenced column "nme" not found'),
    ("SELECT * FROM artists", "Table with name artists does not exist"),
    ("\x00\x01", "syntax error"),
    ("SELECT " + "1 + " * 300_000 + "1", "characters long; the limit is 100,000"),
    (CROSS_JOIN, "stopped at the 0.5 s time limit"),
]


@pytest.mark.parametrize("sql, expected", HOSTILE, ids=[f"{i:02d}-{sql[:40]}" for i, (sql, _) in enumerate(HOSTILE)])
def test_hostile_sql_is_refused_clearly_and_changes_nothing(db, sql, expected):
    before = checksum(db)
    with pytest.raises(SandboxError) as caught:
        db.execute(sql)
    assert expected in str(caught.value)
    assert len(str(caught.value)) <= 1_100
    assert db.execute("SELECT count(*) FROM artist").rows == [(3,)]  # the database still answers
    assert checksum(db) == before


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT list(range) FROM range(100000000)",
        "SELECT length(string_agg(a.label || b.label, ',')) FROM numbers a, numbers b, numbers c",
        "SELECT * FROM numbers a, numbers b, numbers c ORDER BY a.label || b.label || c.label",
    ],
)
def test_a_query_past_the_memory_limit_fails_cleanly(db_path, sql):
    with ReadOnlyDatabase(db_path, timeout_s=30) as db:  # memory, not time, must stop these
        before = checksum(db)
        started = time.perf_counter()
        with pytest.raises(SandboxError, match="The query ran out of memory"):
            db.execute(sql)
        assert time.perf_counter() - started < 10
        assert db.execute("SELECT count(*) FROM artist").rows == [(3,)]
        assert checksum(db) == before


def test_nothing_is_written_outside_the_database(db, tmp_path):
    target = tmp_path / "out.csv"
    for sql in (f"COPY artist TO '{target}'", f"SELECT * FROM artist; COPY artist TO '{target}'"):
        with pytest.raises(SandboxError):
            db.execute(sql)
    assert not target.exists() and not list(tmp_path.iterdir())


def test_a_megabyte_of_sql_is_refused_without_parsing(db):
    started = time.perf_counter()
    with pytest.raises(SandboxError, match="1,048,576 characters long"):
        db.execute("S" * (1 << 20))
    assert time.perf_counter() - started < 0.1


def test_non_text_sql_is_refused(db):
    with pytest.raises(SandboxError, match="SQL must be text, got int"):
        db.execute(42)


# ---- time limit ----------------------------------------------------------------------------------


def test_a_cross_join_that_would_run_for_hours_is_interrupted_at_the_default_2_s(db_path):
    with ReadOnlyDatabase(db_path) as db:
        started = time.perf_counter()
        with pytest.raises(SandboxError, match="stopped at the 2 s time limit"):
            db.execute(CROSS_JOIN)
        elapsed = time.perf_counter() - started
        assert 1.9 < elapsed < 3.0  # the limit plus a few milliseconds (margin for a loaded machine)
        assert db.execute("SELECT count(*) FROM numbers").rows == [(2000,)]


def test_a_query_interrupted_while_streaming_rows_is_stopped_too(db):
    # Few rows match, so the work happens while rows are fetched, not when the query starts.
    started = time.perf_counter()
    with pytest.raises(SandboxError, match="time limit"):
        db.execute("SELECT * FROM numbers a, numbers b, numbers c WHERE a.label || b.label || c.label = 'x'")
    assert time.perf_counter() - started < 1.5


def test_a_timeout_in_one_database_does_not_stop_its_neighbours(db_path):
    with ReadOnlyDatabase(db_path, timeout_s=0.5) as slow, ReadOnlyDatabase(db_path, timeout_s=0.5) as quick:
        errors = []

        def run_slow():
            try:
                slow.execute(CROSS_JOIN)
            except SandboxError as error:
                errors.append(str(error))

        thread = threading.Thread(target=run_slow)
        thread.start()
        answers = []
        while thread.is_alive():
            answers.append(quick.execute("SELECT count(*) FROM artist").rows[0][0])
            time.sleep(0.01)
        thread.join()
        assert len(errors) == 1 and "time limit" in errors[0]
        assert len(answers) > 5 and set(answers) == {3}


# ---- sharing and cleanup -------------------------------------------------------------------------


def test_64_databases_share_one_connection_and_one_thread(db_path):
    threads_before = set(threading.enumerate())
    databases = [ReadOnlyDatabase(db_path) for _ in range(64)]
    try:
        shared = {id(db._shared) for db in databases}
        assert len(shared) == 1 and databases[0]._shared.users == 64
        assert len(watchdog_threads()) == 1

        def count(i):
            return databases[i].execute(f"SELECT count(*) FROM numbers WHERE n < {i}").rows[0][0]

        with ThreadPoolExecutor(16) as pool:
            assert list(pool.map(count, range(64))) == list(range(64))
    finally:
        for database in databases:
            database.close()
    assert db_path.resolve() not in _SharedConnection._open
    assert set(threading.enumerate()) - threads_before == set()


def test_close_frees_the_thread_and_the_file_and_is_idempotent(db_path):
    threads_before = set(threading.enumerate())
    database = ReadOnlyDatabase(db_path, timeout_s=0.2)
    with pytest.raises(SandboxError, match="time limit"):
        database.execute(CROSS_JOIN)
    database.close()
    database.close()
    assert set(threading.enumerate()) - threads_before == set()
    with pytest.raises(SandboxError, match="The database is closed"):
        database.execute("SELECT 1")
    with duckdb.connect(str(db_path)) as writer:  # nothing in this process holds the file any more
        assert writer.execute("SELECT count(*) FROM artist").fetchone() == (3,)


def test_a_second_database_must_share_the_first_ones_settings(db_path):
    with ReadOnlyDatabase(db_path):
        with pytest.raises(ValueError, match="already open in this process with memory_limit='256MB'"):
            ReadOnlyDatabase(db_path, memory_limit="1GB")
        with ReadOnlyDatabase(db_path, timeout_s=9, max_rows=5) as other:  # per-instance limits may differ
            assert other.timeout_s == 9


def test_the_sandbox_coexists_with_other_connections_to_the_file(db_path):
    with duckdb.connect(str(db_path), read_only=True) as plain:  # e.g. a task generator's own connection
        with ReadOnlyDatabase(db_path) as db:
            sql = "SELECT count(*) FROM artist"
            assert db.execute(sql).rows == plain.execute(sql).fetchall() == [(3,)]
            with duckdb.connect(str(db_path), read_only=True) as later:
                assert later.execute("SELECT count(*) FROM album").fetchone() == (2,)
            with pytest.raises(SandboxError, match="syntax error|does not exist"):
                db.execute("SELECT * FROM memory.main.anything")  # the writable in-memory catalog is gone


def test_a_missing_file_is_an_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="no database file"):
        ReadOnlyDatabase(tmp_path / "nope.duckdb")


# ---- hostile values (issue 12, items 1 and 2) ---------------------------------------------------


@pytest.mark.parametrize("sql", ["SELECT '\ud800'", "SELECT name FROM artist WHERE name = '\udfff x'"])
def test_a_lone_surrogate_is_refused_not_a_type_error(db, sql):
    with pytest.raises(SandboxError, match="not valid Unicode"):
        db.execute(sql)
    with pytest.raises(SandboxError, match="not valid Unicode"):
        db.check(sql)


HUGE_VALUES = [
    "SELECT length(repeat('x', 2000000000))",
    "SELECT length('x'.repeat(2000000000))",
    "SELECT length(lpad('x', 300000000, 'y'))",
    "SELECT length(rpad(label, 300000000, 'y')) FROM numbers",
    "SELECT len(range(300000000))",
    "SELECT len(generate_series(1, 300000000))",
    "SELECT count(*) FROM (SELECT unnest(range(n * 1000000)) FROM numbers)",
    "SELECT len(list_resize([1], 300000000))",
    "SELECT length(printf('%300000000d', 1))",
    "SELECT length(format('{:>300000000}', 'x'))",
    "SELECT repeat('x', n) FROM numbers",
    "SELECT length(repeat(repeat('abcdefghij', 10000), 10000))",
]


def _nest(template: str, seed: str, levels: int) -> str:
    """``template`` applied ``levels`` times to ``seed`` (``{}`` marks where the inner expression goes)."""
    for _ in range(levels):
        seed = template.format(seed)
    return seed


_TEN = "||".join(["s"] * 10)

#: Values grown across query levels: each one doubles or multiplies a string per CTE level, nested
#: call (replace, hex), subquery, LATERAL join, recursion round or reduce step. Before the growth
#: bound most ran 3-8 s and peaked at 0.8-3.3 GB under the 2 s, 256 MB limits (the doubling
#: recursion was already stopped by memory_limit, at 330 MB).
GROWN_VALUES = [
    "WITH c0 AS (SELECT 'abcdefghij' AS s), "
    + ", ".join(f"c{i} AS (SELECT {_TEN} AS s FROM c{i - 1})" for i in range(1, 9))
    + " SELECT length(s) FROM c8",
    "SELECT length(" + _nest("replace({}, 'a', 'aaaaaaaaaa')", "'aaaaaaaaaa'", 8) + ")",
    "WITH RECURSIVE r(i, s) AS (SELECT 0, 'abcdefghijabcdefghij' UNION ALL SELECT i + 1, s || s FROM r "
    "WHERE i < 40) SELECT max(length(s)) FROM r",
    f"WITH RECURSIVE r(i, s) AS (SELECT 0, 'abcdefghij' UNION ALL SELECT i + 1, {_TEN} FROM r WHERE i < 8) "
    "SELECT max(length(s)) FROM r",
    "SELECT length(s) FROM " + _nest(f"(SELECT {_TEN} AS s FROM {{}})", "(SELECT 'abcdefghij' AS s)", 8),
    "WITH c0 AS (SELECT 'abcdefghij' AS s0) SELECT length(s8) FROM c0"
    + "".join(f", LATERAL (VALUES ({'||'.join([f's{i - 1}'] * 10)})) t{i}(s{i})" for i in range(1, 9)),
    "WITH a AS (SELECT string_agg(a.label || b.label, '') s FROM numbers a, numbers b) "
    "SELECT length(s || s || s) FROM a",
    "SELECT length(list_reduce(list_transform(range(1000), lambda x: 'abcdefghij'), lambda a, b: a || a || b))",
    "SELECT length(" + _nest("hex({})", "'abcdefghij'", 26) + ")",
]


@pytest.mark.parametrize("sqls", [HUGE_VALUES, GROWN_VALUES], ids=["built", "grown"])
def test_values_too_big_to_interrupt_are_refused_within_the_time_and_memory_limits(db_path, tmp_path, sqls):
    # A fresh process, so its peak RSS is this test's: before the fix these ran 3-100 s each and
    # peaked at 4-14 GB against the 2 s, 256 MB limits. The peak is VmHWM, not ru_maxrss: Linux
    # carries ru_maxrss over from the (large) pytest process across fork and exec.
    script = tmp_path / "huge.py"
    script.write_text(
        "import json, sys, time\n"
        "from agentgym.envs.text2sql.sandbox import ReadOnlyDatabase, SandboxError\n"
        "out = []\n"
        "with ReadOnlyDatabase(sys.argv[1]) as db:\n"
        "    for sql in json.loads(sys.argv[2]):\n"
        "        started = time.perf_counter()\n"
        "        try:\n"
        "            db.execute(sql)\n"
        "            error = None\n"
        "        except SandboxError as caught:\n"
        "            error = str(caught)\n"
        "        out.append((sql, error, time.perf_counter() - started))\n"
        "peak = next(line for line in open('/proc/self/status') if line.startswith('VmHWM:'))\n"
        "print(json.dumps({'runs': out, 'peak_mb': int(peak.split()[1]) / 1024}))\n"
    )
    done = subprocess.run(
        [sys.executable, str(script), str(db_path), json.dumps(sqls)],
        capture_output=True, text=True, timeout=120, check=True,
    )
    report = json.loads(done.stdout)
    for sql, error, seconds in report["runs"]:
        assert error is not None, sql
        assert seconds < 2.5, (sql, seconds)
    assert report["peak_mb"] < 600, report["peak_mb"]


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT lpad(CAST(n AS VARCHAR), 5, '0'), rpad(label, 8, '.'), repeat('-', 3) FROM numbers LIMIT 1",
        "SELECT range(1, 10, 2), generate_series(3), list_resize([1, 2], 4), printf('%05d', 7), format('{:>4}', 1)",
        "SELECT count(*) FROM range(100000) t(r)",
        "SELECT count(*) FROM generate_series(1, 5000000)",
    ],
)
def test_small_constant_sizes_and_table_functions_still_run(db, sql):
    assert db.execute(sql).rows


def test_grown_values_are_refused_with_a_message_for_the_agent(db):
    with pytest.raises(SandboxError, match="more than 10,000 times longer than the data it starts from") as caught:
        db.execute(GROWN_VALUES[0])
    assert "Build smaller values" in str(caught.value) and len(str(caught.value)) <= 1_100


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT name || ' (' || artist_id || ')' FROM artist",
        "SELECT concat(name, ' - ', title), concat_ws(', ', name, title) FROM artist JOIN album USING (artist_id)",
        "SELECT replace(name, ' ', '_'), upper(replace(replace(name, 'A', 'a'), '/', '-')) FROM artist",
        "SELECT regexp_replace(name, '[^A-Za-z]', '', 'g') FROM artist",
        "WITH a AS (SELECT name || '!' AS n FROM artist), b AS (SELECT n || '?' AS n FROM a) SELECT n || n FROM b",
        "SELECT 'Artists: ' || string_agg(name, ', ' ORDER BY name) FROM artist",
        "SELECT string_agg(name, ', ') || ' / ' || string_agg(artist_id::VARCHAR, ', ') FROM artist",
        "SELECT string_agg(name || ' - ' || title, '; '), list(title) FROM artist JOIN album USING (artist_id)",
        "SELECT name FROM artist WHERE name || 'x' IN (SELECT title || 'x' FROM album) OR artist_id = 1",
        "SELECT (SELECT string_agg(title, '; ') FROM album WHERE album.artist_id = artist.artist_id) FROM artist",
        "WITH RECURSIVE h(id, path) AS (SELECT artist_id, name FROM artist WHERE artist_id = 1 UNION ALL "
        "SELECT a.artist_id, h.path || '/' || a.name FROM h JOIN artist a ON a.artist_id = h.id + 1) SELECT * FROM h",
        "SELECT list_transform(['a', 'b'], lambda x: upper(x) || '!'), list_reduce(['a', 'b'], lambda a, b: a || b)",
        "SELECT hex(name), to_json(name), CAST(name AS BLOB), url_encode(name) FROM artist",
    ],
)
def test_ordinary_concatenation_replace_and_aggregates_still_run(db, sql):
    assert db.execute(sql).rows
