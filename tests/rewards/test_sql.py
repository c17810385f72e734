"""Reasoning-SQL partial rewards. Judges here are deterministic Python callables; no database."""

from __future__ import annotations

import random

import pytest

from agentgym.core import Task
from agentgym.rewards.sql import (
    DEFAULT_WEIGHTS,
    ReasoningSQLReward,
    execution_match,
    execution_reward,
    extract_sql,
    gold_orders,
    ngram_jaccard,
    parse_judge_score,
    schema_items,
    schema_linking_score,
    sql_judge_score,
    sql_tokens,
    syntax_reward,
    xml_count,
)
from agentgym.trajectory import Step, Trajectory

GOLD = "SELECT name FROM singer WHERE age > 30"
PRED = "SELECT name, country FROM singer"

# --- the worked example of Reasoning-SQL worked example -------------------------------------------


def test_schema_linking_worked_example():
    # G = {name, age, singer}, P = {name, country, singer}
    assert schema_items(GOLD) == {"name", "age", "singer"}
    assert schema_items(PRED) == {"name", "country", "singer"}
    # code-faithful recall 2/3
    assert schema_linking_score(PRED, GOLD) == pytest.approx(2 / 3)
    # paper Jaccard 2/4
    assert schema_linking_score(PRED, GOLD, mode="jaccard") == 0.5


def test_ngram_worked_example():
    # gold bigrams {select name, name from, from singer, singer where, where age, age 30};
    # pred {select name, name country, country from, from singer} -> 2 / 8
    assert sql_tokens(GOLD) == ["select", "name", "from", "singer", "where", "age", "30"]
    assert sql_tokens(PRED) == ["select", "name", "country", "from", "singer"]
    assert ngram_jaccard(PRED, GOLD) == 0.25


def test_max_total_is_six_and_a_half():
    # the worked example of Reasoning-SQL: TRL sums weight-1 components, max 3 + 1 + 1 + 0.5 + 1 = 6.5
    completion = f"<reasoning>\nsimple\n</reasoning>\n<answer>\n```sql\n{GOLD}\n```\n</answer>\n"
    trajectory = Trajectory(
        env_id="t",
        task_id="s",
        messages=[{"role": "assistant", "content": completion}],
        steps=[Step(action=completion, info={"rows": [("Ann",)]})],
    )
    task = Task(id="s", prompt="Singers over 30?", gold={"sql": GOLD, "rows": [("Ann",)]})
    result = ReasoningSQLReward()(trajectory, task)
    assert result.value == 6.5
    assert {k: result.details[k] for k in DEFAULT_WEIGHTS} == {
        "execution": 3.0,
        "syntax": 1.0,
        "schema": 1.0,
        "ngram": 1.0,
        "format": 0.5,
    }


# --- execution accuracy --------------------------------------------------------------------------


def test_execution_match_edge_cases():
    # multiset: order ignored
    assert execution_match([(1,), (2,)], [(2,), (1,)])
    # multiset: duplicates count
    assert not execution_match([(1,), (1,), (2,)], [(1,), (2,), (2,)])
    # set mode (the code's set()): duplicates collapse
    assert execution_match([(1,), (1,), (2,)], [(1,), (2,), (2,)], distinct=True)
    # ordered: order matters
    assert not execution_match([(1,), (2,)], [(2,), (1,)], ordered=True)
    # float tolerance, ints and floats alike
    assert execution_match([(0.1 + 0.2, 3)], [(0.3, 3.0)])
    assert not execution_match([(0.1 + 0.2,)], [(0.3,)], rel_tol=0.0, abs_tol=0.0)
    # near-equal floats that sort in a different order are still paired
    assert execution_match([(1.0000001, "b"), (1.0, "a")], [(1.0, "b"), (1.0000001, "a")])
    # column order matters (rows are tuples)
    assert not execution_match([(1, "a")], [("a", 1)])
    # None cells compare exactly; None is not 0
    assert execution_match([(None,)], [(None,)])
    assert not execution_match([(None,)], [(0,)])
    # strings are not numbers: "1" != 1
    assert not execution_match([("1",)], [(1,)])
    # failed prediction (None) never matches
    assert not execution_match(None, [(1,)])
    # both empty: match by default; the code scores it 0
    assert execution_match([], [])
    assert not execution_match([], [], allow_empty=False)
    # different row counts
    assert not execution_match([(1,)], [(1,), (2,)])
    # lists work as rows too
    assert execution_match([[1, "a"]], [(1, "a")])


def test_code_faithful_execution():
    # the RLForSQL comparison: set equality, both non-empty, exact values
    code = {"distinct": True, "allow_empty": False, "rel_tol": 0.0, "abs_tol": 0.0}
    assert execution_reward([(1,), (1,)], [(1,)], **code) == 3.0
    assert execution_reward([], [], **code) == 0.0


def test_execution_reward_and_fallback():
    # match -> ex_score (3.0); the earlier script used 2.0
    assert execution_reward([(1,)], [(1,)]) == 3.0
    assert execution_reward([(1,)], [(1,)], ex_score=2.0) == 2.0
    # mismatch, no judge -> 0
    assert execution_reward([(2,)], [(1,)]) == 0.0
    # mismatch -> the fallback's score, even when the prediction failed to run (as in the code)
    assert execution_reward(None, [(1,)], fallback=lambda: 1.25) == 1.25


def test_llm_feedback():
    prompts = []

    def judge(prompt: str) -> str:
        # deterministic stand-in for the Gemini judge
        prompts.append(prompt)
        return "1.5"

    assert sql_judge_score(judge, "Q?", GOLD, PRED, hint="age in years") == 1.5
    assert "age in years" in prompts[0] and GOLD in prompts[0] and PRED in prompts[0]
    # replies: first number, clipped to [0, 2]; none -> 0
    assert parse_judge_score("Score: 1.0 out of 2") == 1.0
    assert parse_judge_score("3") == 2.0
    assert parse_judge_score("-1") == 0.0
    assert sql_judge_score(lambda p: "no idea", "Q?", GOLD, PRED) == 0.0


def test_syntax_reward():
    # ran -> 1; any error -> 0
    assert syntax_reward(None) == 1.0
    assert syntax_reward("near 'SELEC': syntax error") == 0.0
    assert syntax_reward(RuntimeError("timeout")) == 0.0


# --- SQL text handling ----------------------------------------------------------------------------


def test_extract_sql():
    # last ```sql block wins
    assert extract_sql("```sql\nSELECT 1\n```\n```sql\nSELECT 2\n```") == "SELECT 2"
    # no block -> whole text
    assert extract_sql("SELECT 3") == "SELECT 3"
    # a ```python block is not SQL
    assert extract_sql("```python\nx\n```") == "```python\nx\n```"


def test_gold_orders():
    # top-level ORDER BY
    assert gold_orders("select a from t order by a")
    # ORDER BY only inside a subquery
    assert not gold_orders("SELECT a FROM (SELECT a FROM t ORDER BY a LIMIT 3)")
    # "order by" inside a string literal does not count
    assert not gold_orders("SELECT a FROM t WHERE b = 'order by'")
    # a column named "order_id" does not count
    assert not gold_orders("SELECT order_id FROM t")


@pytest.mark.parametrize(
    ("sql", "items"),
    [
        # qualifiers and aliases: T1.name -> name; table aliases and column aliases skipped
        (
            "SELECT T1.name AS n FROM singer AS T1 JOIN concert AS T2 ON T1.id = T2.sid",
            {"name", "singer", "concert", "id", "sid"},
        ),
        # implicit table alias, comma join
        (
            "SELECT s.name FROM singer s, concert c WHERE s.id = c.sid",
            {"name", "singer", "concert", "id", "sid"},
        ),
        # functions and * are not columns; literals ignored
        (
            "SELECT count(*), max(age) FROM singer WHERE country = 'France'",
            {"age", "singer", "country"},
        ),
        # quoted identifiers, lowercased
        ('SELECT "Song Name" FROM `Singer`', {"song name", "singer"}),
        # subquery in FROM
        ("SELECT x FROM (SELECT age AS x FROM singer)", {"x", "age", "singer"}),
        # CTE name is not a column
        ("WITH old AS (SELECT name FROM singer) SELECT name FROM old", {"name", "singer", "old"}),
        # schema-qualified table
        ("SELECT a FROM main.t", {"a", "t"}),
        # JOIN ... USING (id): the USING list is not a column reference for sqlglot
        ("SELECT a.x, b.y FROM a LEFT JOIN b USING (id)", {"a", "b", "x", "y"}),
        # CAST type is skipped
        ("SELECT CAST(age AS INTEGER) FROM singer", {"age", "singer"}),
        # ORDER BY an alias counts the alias as a column reference, as sqlglot does
        ("SELECT count(*) AS c FROM t GROUP BY k ORDER BY c", {"t", "k", "c"}),
    ],
)
def test_schema_items(sql, items):
    assert schema_items(sql) == items


def test_schema_linking_edge_cases():
    # empty gold set -> 0 (the code's ZeroDivisionError)
    assert schema_linking_score("SELECT a FROM t", "SELECT 1") == 0.0
    # an extractor error -> 0
    assert schema_linking_score("x", "y", extractor=lambda sql: 1 / 0) == 0.0
    # identical -> 1 in both modes
    assert (
        schema_linking_score(GOLD, GOLD) == schema_linking_score(GOLD, GOLD, mode="jaccard") == 1.0
    )


def test_ngram_edge_cases():
    # aliases dropped everywhere they appear
    assert sql_tokens("SELECT T1.a FROM t AS T1") == ["select", "a", "from", "t"]
    assert sql_tokens("SELECT x.a FROM t x WHERE x.b = 1") == [
        "select",
        "a",
        "from",
        "t",
        "where",
        "b",
        "1",
    ]
    # both too short for a bigram -> 0
    assert ngram_jaccard("x", "y") == 0.0
    # identical -> 1
    assert ngram_jaccard(GOLD, GOLD) == 1.0


def test_xml_count():
    base = "<reasoning>\nr\n</reasoning>\n<answer>\nSELECT 1\n</answer>"
    # all four markers, trailing newline -> 0.5
    assert xml_count(base + "\n") == 0.5
    # no trailing newline: the "\n</answer>\n" split leaves the whole text (54 chars):
    # 0.5 - 0.054 + 0.001
    assert xml_count(base) == pytest.approx(0.447)
    # 10 characters of trailing chatter after "\n</answer>\n": 0.5 - 0.010 - 0.010
    assert xml_count(base + "\n" + "x" * 10) == pytest.approx(0.48)
    # no markers -> 0
    assert xml_count("SELECT 1") == 0.0
    # duplicated <reasoning> -> that marker scores nothing
    assert xml_count("<reasoning>\n<reasoning>\n") == 0.0


# --- trajectory-level reward ----------------------------------------------------------------------


def completion_with(sql: str) -> str:
    return f"<reasoning>\nthink\n</reasoning>\n<answer>\n```sql\n{sql}\n```\n</answer>\n"


def trajectory_with(sql: str, **info) -> Trajectory:
    text = completion_with(sql)
    return Trajectory(
        env_id="t",
        task_id="s",
        messages=[{"role": "assistant", "content": text}],
        steps=[Step(action=text, info=info)],
    )


def test_reward_with_executor():
    rows = {GOLD: [("Ann",), ("Bob",)], PRED: [("Ann", "FR"), ("Bob", "UK"), ("Cy", "US")]}

    def executor(sql: str):
        # a stand-in for the env's read-only connection
        if sql not in rows:
            raise ValueError("no such column")
        return rows[sql]

    task = Task(id="s", prompt="Singers over 30?", gold={"sql": GOLD})
    result = ReasoningSQLReward(executor=executor)(trajectory_with(PRED), task)
    # EX fails (no judge) 0 + syntax 1 + schema 2/3 + ngram 0.25 + format 0.5
    assert result.value == pytest.approx(0 + 1 + 2 / 3 + 0.25 + 0.5)
    # a query that fails to run: syntax 0, error recorded
    failing = ReasoningSQLReward(executor=executor)(trajectory_with("SELECT nme FROM singer"), task)
    assert failing.details["syntax"] == 0.0 and failing.details["error"].startswith("ValueError")
    # the LLM fallback gives partial execution credit
    judged = ReasoningSQLReward(executor=executor, judge=lambda prompt: "0.5")(
        trajectory_with(PRED), task
    )
    assert judged.details["execution"] == 0.5


def test_reward_options():
    task = Task(id="s", prompt="?", gold={"sql": GOLD, "rows": [("Ann",)]})
    # lowercase "select": the code's case-sensitive check zeroes execution and schema
    lower = trajectory_with("select name from singer where age > 30", rows=[("Ann",)])
    result = ReasoningSQLReward()(lower, task)
    assert (result.details["execution"], result.details["schema"]) == (0.0, 0.0)
    # select_check="any_case" lets it through
    relaxed = ReasoningSQLReward(select_check="any_case")(lower, task)
    assert (relaxed.details["execution"], relaxed.details["schema"]) == (3.0, 1.0)
    # weights: execution only
    weighted = ReasoningSQLReward(weights={"syntax": 0, "schema": 0, "ngram": 0, "format": 0})
    assert weighted(trajectory_with(GOLD, rows=[("Ann",)]), task).value == 3.0
    # schema_mode="jaccard"
    jaccard = ReasoningSQLReward(schema_mode="jaccard")(
        trajectory_with(PRED, rows=[("Ann", "FR")]), task
    )
    assert jaccard.details["schema"] == 0.5
    # no execution result recorded and no executor: an execution error
    missing = ReasoningSQLReward()(trajectory_with(GOLD), task)
    assert (missing.details["execution"], missing.details["syntax"]) == (0.0, 0.0)
    # gold with ORDER BY: order matters; task.gold["ordered"] overrides
    ordered_task = Task(
        id="s", prompt="?", gold={"sql": GOLD + " ORDER BY name", "rows": [("Ann",), ("Bob",)]}
    )
    reversed_rows = trajectory_with(GOLD + " ORDER BY name", rows=[("Bob",), ("Ann",)])
    assert ReasoningSQLReward()(reversed_rows, ordered_task).details["execution"] == 0.0
    unordered_task = Task(id="s", prompt="?", gold={**ordered_task.gold, "ordered": False})
    assert ReasoningSQLReward()(reversed_rows, unordered_task).details["execution"] == 3.0
    # code_ex=True: empty results never match
    empty_task = Task(id="s", prompt="?", gold={"sql": GOLD, "rows": []})
    assert (
        ReasoningSQLReward(code_ex=True)(trajectory_with(GOLD, rows=[]), empty_task).details[
            "execution"
        ]
        == 0.0
    )
    assert (
        ReasoningSQLReward()(trajectory_with(GOLD, rows=[]), empty_task).details["execution"] == 3.0
    )


def test_ranges_property():
    # seeded random SQL-ish strings: every component in its range, total within [-small, 6.5]
    rng = random.Random(5)
    words = [
        "SELECT",
        "select",
        "name",
        "age",
        ",",
        "FROM",
        "singer",
        "WHERE",
        ">",
        "30",
        "AS",
        "T1",
        "JOIN",
        "ON",
        "(",
        ")",
        "'x'",
        "count",
        "*",
        "ORDER",
        "BY",
        ".",
    ]
    for _ in range(1000):
        sql = " ".join(rng.choice(words) for _ in range(rng.randint(0, 12)))
        gold = " ".join(rng.choice(words) for _ in range(rng.randint(1, 12)))
        assert 0.0 <= schema_linking_score(sql, gold) <= 1.0
        assert 0.0 <= schema_linking_score(sql, gold, mode="jaccard") <= 1.0
        assert 0.0 <= ngram_jaccard(sql, gold) <= 1.0
        assert xml_count(sql) <= 0.5
        rows_a = [(rng.randint(0, 2),) for _ in range(rng.randint(0, 3))]
        rows_b = [(rng.randint(0, 2),) for _ in range(rng.randint(0, 3))]
        # matching is symmetric
        assert execution_match(rows_a, rows_b) == execution_match(rows_b, rows_a)
        assert execution_reward(rows_a, rows_b) in (0.0, 3.0)
