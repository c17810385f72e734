"""TextToSQL-v0: tools, hostile SQL through the env, reward values on hand-made pairs, the oracle and conformance."""

from __future__ import annotations

import threading
import time

import gymnasium as gym
import pytest

import agentgym  # noqa: F401  (registers agentgym/TextToSQL-v0)
from agentgym.core import Task
from agentgym.envs.text2sql.env import TextToSQLEnv, load_data
from agentgym.envs.text2sql.reward import DEFAULT_WEIGHTS, TextToSQLReward
from agentgym.envs.text2sql.sandbox import _SharedConnection
from agentgym.testing import EnvConformance, check_close
from agentgym.tools import ToolCall, format_call
from agentgym.trajectory import Trajectory

WEIGHT = {name: value / sum(DEFAULT_WEIGHTS.values()) for name, value in DEFAULT_WEIGHTS.items()}
OUTCOME = tuple(DEFAULT_WEIGHTS)


def call(name: str, **arguments) -> str:
    return format_call(ToolCall(name, arguments), "hermes")


class TestTextToSQLConforms(EnvConformance):
    # First in the file: no other env holds the shared connection, so the close check sees the
    # watchdog thread and the database file come and go with this env.
    def make_env(self):
        return gym.make("agentgym/TextToSQL-v0")


@pytest.fixture(scope="module")
def env():
    env = TextToSQLEnv(max_turns=15)
    yield env
    env.close()


def play(env, actions, task_id=None):
    """Reset (on a given task, else the first of the split) and play the actions until the episode ends."""
    env.reset(options={"task_id": task_id or env.tasks.ids[0]})
    info = {}
    for action in actions:
        *_, terminated, truncated, info = env.step(action)
        if terminated or truncated:
            break
    return env.trajectory, info


def play_oracle(env, task_id):
    env.reset(options={"task_id": task_id})
    done = False
    while not done:
        *_, terminated, truncated, _ = env.step(env.oracle_action())
        done = terminated or truncated
    return env.trajectory


# ---- the oracle ----------------------------------------------------------------------------------


def test_the_oracle_solves_every_chinook_test_task():
    env = TextToSQLEnv(split="test")
    try:
        assert len(env.tasks) >= 50
        failures = []
        for task in env.tasks:
            trajectory = play_oracle(env, task.id)
            details = env.reward(trajectory, task).details
            outcome = sum(trajectory.steps[-1].reward_components[name] for name in OUTCOME)
            if not (
                trajectory.terminated
                and details["raw"]["execution"] == 1.0
                and outcome == pytest.approx(1.0, abs=1e-12)
                and trajectory.rewards.total >= 1.0
            ):
                failures.append((task.id, details["raw"], trajectory.steps[-1].info.get("error")))
        assert not failures, failures[:5]
    finally:
        env.close()


# ---- opening and tools ---------------------------------------------------------------------------


def test_opening_observation_and_tools(env):
    obs, info = env.reset(seed=3)
    assert obs == env.task.prompt
    assert [t["function"]["name"] for t in info["tools"]] == ["list_tables", "describe", "execute", "submit"]
    system = info["messages"][0]["content"]
    assert "Chinook" in system and "DuckDB" in system and "2 seconds" in system


def test_list_tables_gives_every_table_with_its_row_count(env):
    env.reset(seed=0)
    obs, reward, *_, info = env.step(call("list_tables"))
    assert obs.startswith("11 tables:") and "- Track (3,503 rows)" in obs and "- Artist (275 rows)" in obs
    assert not info["invalid_action"] and reward == 0.0


def test_describe_shows_columns_types_keys_and_rows(env):
    env.reset(seed=0)
    obs, *_, info = env.step(call("describe", table="track"))  # any letter case
    assert obs.startswith("Table Track: 3,503 rows.")
    assert "- TrackId INTEGER (primary key)" in obs
    assert "- AlbumId INTEGER (references Album.AlbumId)" in obs
    assert "- UnitPrice DECIMAL(10,2)" in obs
    assert "First 3 rows:" in obs and "| For Those About To Rock (We Salute You) |" in obs
    assert not info["invalid_action"]


def test_execute_shows_the_row_count_and_the_first_rows(env):
    env.reset(seed=0)
    obs, reward, terminated, _, info = env.step(call("execute", sql="SELECT Name FROM Artist ORDER BY ArtistId"))
    lines = obs.splitlines()
    assert lines[0] == "275 rows; the first 20:" and lines[1:4] == ["| Name |", "| --- |", "| AC/DC |"]
    assert len(lines) == 3 + 20
    assert reward == pytest.approx(0.02) and not terminated and not info["invalid_action"]
    obs, *_ = env.step(call("execute", sql="SELECT count(*) AS n FROM Track WHERE Milliseconds < 0"))
    assert obs == "1 row:\n| n |\n| --- |\n| 0 |"
    obs, *_ = env.step(call("execute", sql="SELECT * FROM Track WHERE TrackId < 0"))
    assert obs.startswith("The query returned no rows. Columns: TrackId, Name, AlbumId")


def test_a_huge_result_is_cut_and_says_so(env):
    env.reset(seed=0)
    obs, *_, info = env.step(call("execute", sql="SELECT a.TrackId, b.TrackId FROM Track a, Track b"))
    assert obs.startswith("More than 10,000 rows (results stop there); the first 20:")
    assert not info["invalid_action"]


@pytest.mark.parametrize(
    "action, expected",
    [
        (call("describe", table="Tracks"), "There is no table 'Tracks'. Did you mean 'Track'"),
        (call("describe", table="../../etc/passwd"), "There is no table"),
        (call("execute", sql=""), "The SQL is empty"),
        (call("execute", sql="SELECT nme FROM Artist"), 'Referenced column "nme" not found'),
        (call("execute", sql="Which artist has the most albums?"), "syntax error"),
        (call("execute", sql="DROP TABLE Track"), "This is a DROP statement"),
        (call("execute", sql="DELETE FROM Invoice"), "This is a DELETE statement"),
        (call("execute", sql="UPDATE Track SET UnitPrice = 0"), "This is a UPDATE statement"),
        (call("execute", sql="INSERT INTO Genre VALUES (99, 'x')"), "This is a INSERT statement"),
        (call("execute", sql="CREATE TABLE t AS SELECT 1"), "This is a CREATE statement"),
        (call("execute", sql="ATTACH '/tmp/x.duckdb' AS x"), "This is a ATTACH statement"),
        (call("execute", sql="COPY Track TO '/tmp/track.csv'"), "This is a COPY statement"),
        (call("execute", sql="INSTALL httpfs"), "This is a LOAD statement"),
        (call("execute", sql="LOAD httpfs"), "This is a LOAD statement"),
        (call("execute", sql="PRAGMA database_list"), "This is a PRAGMA statement"),
        (call("execute", sql="SET threads = 64"), "This is a SET statement"),
        (call("execute", sql="SELECT * FROM read_csv('/etc/passwd')"), "File, network and extension access"),
        (call("execute", sql="SELECT * FROM read_text('/etc/passwd')"), "File, network and extension access"),
        (call("execute", sql="SELECT * FROM glob('/*')"), "File, network and extension access"),
        (call("execute", sql="SELECT 1; DROP TABLE Track"), "Send exactly one statement per call"),
        (call("execute", sql="SELECT " + "1+" * 400_000 + "1"), "characters long; the limit is 100,000"),
        (call("execute", sql=1), "argument 'sql' must be a string"),
        (call("execute"), "missing required argument 'sql'"),
        (call("submit", sql="  "), "The SQL is empty"),
        (call("execute", sql="SELECT length(repeat('x', 2000000000))"), "repeat() may only be called"),
    ],
)
def test_bad_and_hostile_tool_inputs_get_clear_errors_and_the_episode_goes_on(env, action, expected):
    env.reset(seed=0)
    before = env.db.execute("SELECT count(*), sum(hash(t)) FROM Track t").rows
    obs, reward, terminated, truncated, info = env.step(action)
    assert expected in obs and info["invalid_action"] and not terminated and not truncated
    assert reward == 0.0
    obs, *_, info = env.step(call("execute", sql="SELECT count(*) FROM Artist"))
    assert "| 275 |" in obs and not info["invalid_action"]
    assert env.db.execute("SELECT count(*), sum(hash(t)) FROM Track t").rows == before


SURROGATE_EXECUTE = '<tool_call>{"name": "execute", "arguments": {"sql": "SELECT \'\\ud800\'"}}</tool_call>'
SURROGATE_SUBMIT = '<tool_call>{"name": "submit", "arguments": {"sql": "SELECT \'\\ud800\'"}}</tool_call>'


def test_a_lone_surrogate_from_a_json_escape_is_an_error_observation_and_the_trajectory_stays_whole(env):
    assert SURROGATE_EXECUTE.isascii()  # plain ASCII reaches DuckDB as "SELECT '\ud800'"
    env.reset(seed=0)
    obs, reward, terminated, truncated, info = env.step(SURROGATE_EXECUTE)
    assert "not valid Unicode" in obs and info["invalid_action"] and not terminated
    obs, reward, terminated, truncated, info = env.step(SURROGATE_SUBMIT)
    assert "not valid Unicode" in obs and terminated
    assistant = [m for m in env.trajectory.messages if m["role"] == "assistant"]
    assert len(assistant) == len(env.trajectory.steps) == 2
    assert "not valid Unicode" in env.trajectory.steps[-1].info["error"]


def test_a_query_that_would_run_for_hours_is_stopped_at_the_time_limit():
    env = TextToSQLEnv(timeout_s=0.5)
    try:
        env.reset(seed=0)
        started = time.perf_counter()
        sql = "SELECT sum(a.Milliseconds + b.Milliseconds + c.Milliseconds) FROM Track a, Track b, Track c"
        obs, *_, info = env.step(call("execute", sql=sql))
        assert time.perf_counter() - started < 1.5
        assert "The query was stopped at the 0.5 s time limit" in obs and info["invalid_action"]
        obs, *_ = env.step(call("execute", sql="SELECT count(*) FROM Genre"))
        assert "| 25 |" in obs
    finally:
        env.close()


def test_submit_accepts_a_fenced_query_and_plain_answer_tags(env):
    trajectory, info = play(env, [call("submit", sql="```sql\nSELECT 1\n```")])
    assert trajectory.terminated and trajectory.steps[-1].info["sql"] == "SELECT 1"
    trajectory, info = play(env, ["Here it is.\n<answer>\n```sql\nSELECT 2 AS x\n```\n</answer>"])
    assert trajectory.terminated and info["tool_calls"][0] == {"name": "submit", "arguments": {"sql": "SELECT 2 AS x"},
                                                                "id": "call_0_1"}
    assert trajectory.steps[-1].info["rows"] == [[2]]


def test_a_submission_that_fails_still_ends_the_episode(env):
    trajectory, info = play(env, [call("submit", sql="DROP TABLE Track")])
    assert trajectory.terminated
    assert "Submitted. The query failed: Only read queries" in trajectory.steps[-1].observation
    assert trajectory.steps[-1].info["rows"] is None
    assert info["reward_components"]["execution"] == 0.0 and info["reward_components"]["syntax"] == 0.0


# ---- reward values -------------------------------------------------------------------------------


def score_pair(env, gold_sql: str, pred_sql: str, ordered: bool = False):
    """Submit ``pred_sql`` in the env and score the recorded episode against a hand-made gold task."""
    gold = {"sql": gold_sql, "ordered": ordered, "rows": env.db.execute(gold_sql).rows}
    task = Task("pair", "A hand-made question.", gold=gold)
    trajectory, _ = play(env, [call("submit", sql=pred_sql)])
    return TextToSQLReward()(trajectory, task)


def test_the_right_query_written_differently_gets_full_execution_credit(env):
    result = score_pair(
        env,
        "SELECT Name FROM Artist WHERE ArtistId <= 3",
        "select a.name from artist as a where a.artistid in (3, 2, 1)",
    )
    raw, final = result.details["raw"], result.details["steps"][-1]
    assert raw["execution"] == 1.0 and raw["syntax"] == 1.0 and raw["schema"] == 1.0
    assert 0 < raw["ngram"] < 1
    assert final["execution"] == pytest.approx(WEIGHT["execution"]) == pytest.approx(3 / 6.5)


@pytest.mark.parametrize(
    "gold_sql, pred_sql",
    [
        ("SELECT count(*) FROM Track", "SELECT count(*) FROM Album"),  # wrong number
        ("SELECT Name, ArtistId FROM Artist", "SELECT ArtistId, Name FROM Artist"),  # columns swapped
        ("SELECT BillingCountry FROM Invoice", "SELECT DISTINCT BillingCountry FROM Invoice"),  # duplicates count
        ("SELECT Name FROM Genre", "SELECT Name FROM Genre LIMIT 24"),  # a row short
    ],
)
def test_a_wrong_query_gets_no_execution_credit(env, gold_sql, pred_sql):
    result = score_pair(env, gold_sql, pred_sql)
    assert result.details["raw"]["execution"] == 0.0 and result.details["raw"]["syntax"] == 1.0
    assert result.details["steps"][-1]["execution"] == 0.0


def test_row_order_counts_only_when_the_gold_orders(env):
    gold, reversed_order = "SELECT Name FROM Genre ORDER BY Name", "SELECT Name FROM Genre ORDER BY Name DESC"
    assert score_pair(env, gold, reversed_order, ordered=True).details["raw"]["execution"] == 0.0
    assert score_pair(env, gold, reversed_order, ordered=False).details["raw"]["execution"] == 1.0
    assert score_pair(env, gold, gold, ordered=True).details["raw"]["execution"] == 1.0


def test_numbers_match_within_tolerance(env):
    gold = "SELECT BillingCountry, sum(Total) FROM Invoice GROUP BY 1"  # DECIMAL sums
    pred = "SELECT BillingCountry, sum(CAST(Total AS DOUBLE)) FROM Invoice GROUP BY 1"
    assert score_pair(env, gold, pred).details["raw"]["execution"] == 1.0
    assert score_pair(env, gold, pred.replace("sum(", "1.001 * sum(")).details["raw"]["execution"] == 0.0


def test_a_query_that_does_not_run_scores_neither_execution_nor_syntax(env):
    result = score_pair(env, "SELECT Name FROM Artist", "SELECT Nmae FROM Artist")
    raw = result.details["raw"]
    assert (raw["execution"], raw["syntax"]) == (0.0, 0.0)
    assert raw["schema"] == pytest.approx(1 / 2)  # artist found, name not
    assert 'Referenced column "Nmae" not found' in result.details["error"]


def test_a_perfect_submission_scores_one_and_format_counts_tool_calls(env):
    sql = "SELECT Name FROM Artist WHERE ArtistId = 1"
    task = Task("pair", "?", gold={"sql": sql, "ordered": False, "rows": [["AC/DC"]]})
    trajectory, _ = play(env, [call("submit", sql=sql)])
    result = TextToSQLReward()(trajectory, task)
    assert result.value == pytest.approx(1.0, abs=1e-12)
    trajectory, _ = play(env, ["Let me think first.", call("submit", sql=sql)])
    result = TextToSQLReward()(trajectory, task)
    assert result.details["raw"]["format"] == 0.5
    assert result.value == pytest.approx(1.0 - WEIGHT["format"] / 2)


def test_each_distinct_query_that_runs_earns_process_reward_up_to_the_cap(env):
    ok = [call("execute", sql=f"SELECT {i}") for i in range(8)]
    _, first = play(env, [ok[0]])
    trajectory, _ = play(env, [ok[0], ok[0], call("execute", sql="SELECT nope"), *ok[1:]])
    rewards = [step.reward for step in trajectory.steps]
    assert rewards[:3] == [pytest.approx(0.02), 0.0, 0.0]  # a repeat and a failure earn nothing
    assert sum(rewards) == pytest.approx(0.1) and rewards[-1] == 0.0  # capped after five
    assert all(set(step.reward_components) == {"process"} for step in trajectory.steps[:-1])


def test_no_submission_before_max_turns_scores_nothing_at_the_end():
    env = TextToSQLEnv(max_turns=2)
    try:
        env.reset(seed=1)
        env.step(call("execute", sql="SELECT 1"))
        *_, truncated, info = env.step("thinking")
        assert truncated and {k: info["reward_components"][k] for k in OUTCOME} == dict.fromkeys(OUTCOME, 0.0)
        assert env.trajectory.rewards.total == pytest.approx(0.02)
    finally:
        env.close()


def test_the_recorded_reward_equals_the_offline_score(env):
    reward = TextToSQLReward()
    scripts = [
        None,  # the oracle
        [call("execute", sql="SELECT 1"), call("execute", sql="SELEC 1"), "no tool", call("submit", sql="SELECT 2")],
        [call("describe", table="Album"), call("submit", sql="SELECT * FROM Album")],
    ]
    for task in list(env.all_tasks.split("dev"))[:8]:
        for script in scripts:
            recorded = play_oracle(env, task.id) if script is None else play(env, script, task.id)[0]
            reread = Trajectory.from_json(recorded.to_json())
            result = reward(reread, task)
            assert result.value == recorded.rewards.total
            assert result.per_step == recorded.rewards.per_step
            assert [step.reward_components for step in reread.steps] == result.details["steps"]


# ---- sharing and cleanup -------------------------------------------------------------------------


def test_64_envs_share_one_connection_and_one_watchdog_thread(env):
    shared = env.db._shared
    users = shared.users
    envs = [TextToSQLEnv() for _ in range(64)]
    try:
        assert {id(e.db._shared) for e in envs} == {id(shared)} and shared.users == users + 64
        assert sum(t.name.startswith("agentgym-sql-watchdog") for t in threading.enumerate()) == 1
        for i, e in enumerate(envs):
            e.reset(seed=i)
            obs, *_ = e.step(call("execute", sql=f"SELECT {i} AS i"))
            assert obs.endswith(f"| {i} |")
    finally:
        for e in envs:
            e.close()
    assert shared.users == users


def test_close_frees_the_thread_and_the_file_when_the_last_env_closes(env):
    # ``env`` (module fixture) is open, so use a database of its own: the close check needs to see it all go.
    check_close(lambda: TextToSQLEnv(database="synthetic", seed=7))
    path = load_data("synthetic", 7, None)[0].path.resolve()
    assert path not in _SharedConnection._open


def test_a_random_policy_scores_the_floor(env):
    from agentgym.policies.random import RandomPolicy

    policy = RandomPolicy(seed=0)
    returns = []
    for seed in range(20):
        obs, info = env.reset(seed=seed)
        messages, tools, done = list(info["messages"]), info["tools"], False
        while not done:
            (completion,) = policy([messages], [tools])
            obs, _, terminated, truncated, info = env.step(completion.action)
            messages += [{"role": "assistant", "content": completion.text}, *info["messages"]]
            done = terminated or truncated
        returns.append(env.trajectory.rewards.total)
    assert sum(returns) / len(returns) < 0.4  # the oracle's return is 1.02
