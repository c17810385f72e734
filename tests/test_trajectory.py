from __future__ import annotations

import copy
import io
import itertools
import json
import math
import pickle
import sys
import threading
import tracemalloc
from pathlib import Path
from typing import Any

import gymnasium
import jsonschema
import numpy as np
import pytest

import agentgym  # noqa: F401  (registers agentgym/DeepSearch-v0)
from agentgym.trajectory import (
    SCHEMA_VERSION,
    JSONLError,
    Rewards,
    Step,
    Trajectory,
    TrajectoryError,
    TrajectoryWriter,
    _fast_trajectory,
    _parse_trajectory,
    decode_line,
    dumps,
    read_jsonl,
    read_trajectories,
    schema,
    write_trajectories,
)

SEARCH_CALL = (
    '<tool_call>{"name": "search", "arguments": {"query": "capital of Japan"}}</tool_call>'
)
TOOL_RESULT = "Tokyo is the capital.\r\nSecond line\u2028after a line separator\x85and a NEL"


def rich_trajectory(task_id: str = "q-0042") -> Trajectory:
    return Trajectory(
        env_id="agentgym/DeepSearch-v0",
        task_id=task_id,
        env_kwargs={"split": "dev", "max_turns": 8, "corpus": {"name": "factbook", "k": 5}},
        seed=None,
        messages=[
            {"role": "system", "content": "Tu es un agent.\nUtilise les outils."},
            {"role": "user", "content": "Quelle est la capitale du Japon ? 日本の首都は？ 🗾"},
            {"role": "assistant", "content": SEARCH_CALL},
            {"role": "tool", "tool_call_id": "call_1", "name": "search", "content": TOOL_RESULT},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [{"id": "call_2", "type": "function"}],
            },
        ],
        steps=[
            Step(
                action=SEARCH_CALL,
                tool_calls=[
                    {"name": "search", "arguments": {"query": "capital of Japan"}, "id": "call_1"}
                ],
                observation=TOOL_RESULT,
                reward=0.1,
                reward_components={"format": 0.1},
                timings={"env": 0.001, "policy": 0.8},
                prompt_ids=[151644, 8948, 198],
                completion_ids=[27, 14172, 0],
                logprobs=[-0.12, -2.5, 0.0],
                info={"retrieved": ["doc-1", "doc-7"]},
            ),
            Step(
                action={"role": "assistant", "content": None, "tool_calls": [{"id": "call_2"}]},
                tool_calls=[{"name": "answer", "arguments": {"text": "東京"}, "id": "call_2"}],
                observation="",
                reward=1,  # an int where a float is expected
                reward_components={"answer": 1.0},
                invalid_action=False,
                info={"final": {"name": "answer", "arguments": {"text": "東京"}}},
            ),
        ],
        terminated=True,
        truncated=False,
        rewards=Rewards(total=1.1, components={"format": 0.1, "answer": 1.0}, per_step=[0.1, 1.0]),
        policy={"name": "vllm", "model": "Qwen/Qwen3-1.7B", "sampling": {"temperature": 0.7}},
        created_at="2026-11-22T10:00:00.123456+00:00",
    )


def nonfinite_trajectory() -> Trajectory:
    return Trajectory(
        env_id="agentgym/ToolCall-v0",
        task_id="t-1",
        seed=0,
        steps=[
            Step(
                action="x",
                reward=math.nan,
                reward_components={"judge": math.inf},
                timings={"env": -math.inf},
                logprobs=[-math.inf, -1.0],
                info={"score": math.nan},
            )
        ],
        rewards=Rewards(total=math.nan, components={"judge": math.inf}, per_step=[-math.inf]),
    )


def minimal_record() -> dict[str, Any]:
    return Trajectory("e", "t", created_at="2026-11-22T10:00:00+00:00").to_dict()


def validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(schema())


# ---- round trips --------------------------------------------------------------------------------


def test_dict_round_trip_is_equal_and_independent() -> None:
    t = rich_trajectory()
    record = t.to_dict()
    back = Trajectory.from_dict(record)
    assert back == t
    assert isinstance(back.steps[1].reward, float)
    assert back.seed is None and back.steps[1].prompt_ids is None
    # Neither side shares mutable data with the other.
    record["messages"][0]["content"] = "changed"
    record["steps"][0]["info"]["retrieved"].append("doc-9")
    assert back == t == rich_trajectory()


def test_json_round_trip_is_one_line() -> None:
    t = rich_trajectory()
    line = t.to_json()
    assert "\n" not in line and "\r" not in line
    assert "\u2028" not in line and "\x85" not in line
    assert line.splitlines() == [line]
    assert "日本の首都" in line  # non-ASCII text stays readable
    assert line.startswith('{"schema":"agentgym.trajectory/1",')
    assert json.loads(line) == t.to_dict()
    assert Trajectory.from_json(line) == t
    assert Trajectory.from_json(line).steps[0].observation == TOOL_RESULT


def test_file_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "runs" / "deep" / "a.jsonl"  # parent directories are created
    trajectories = [rich_trajectory("q-1"), rich_trajectory("q-2"), Trajectory("e", "t", seed=3)]
    assert write_trajectories(path, trajectories) == 3
    assert len(path.read_bytes().splitlines()) == 3
    assert list(read_trajectories(path)) == trajectories
    # Appending later adds lines, with no blank line between.
    assert write_trajectories(path, trajectories[:1]) == 1
    assert path.read_text(encoding="utf-8").count("\n") == 4
    assert list(read_trajectories(str(path))) == trajectories + trajectories[:1]


def test_default_created_at_is_utc_iso() -> None:
    t = Trajectory("e", "t")
    assert t.created_at.endswith("+00:00")
    assert Trajectory.from_json(t.to_json()).created_at == t.created_at


def test_nonfinite_numbers_are_written_as_strings_and_read_back() -> None:
    t = nonfinite_trajectory()
    record = t.to_dict()
    assert record["rewards"]["total"] == "NaN"
    assert record["steps"][0]["reward_components"] == {"judge": "Infinity"}
    assert record["steps"][0]["logprobs"] == ["-Infinity", -1.0]

    def refuse(token: str) -> None:
        raise AssertionError(f"non-standard JSON token {token}")

    line = t.to_json()
    json.loads(line, parse_constant=refuse)  # strictly valid JSON
    back = Trajectory.from_json(line)
    step = back.steps[0]
    assert math.isnan(step.reward) and math.isnan(back.rewards.total)
    assert step.reward_components == {"judge": math.inf}
    assert step.timings == {"env": -math.inf}
    assert step.logprobs == [-math.inf, -1.0]
    assert back.rewards.per_step == [-math.inf]
    assert step.info == {"score": "NaN"}  # free-form data keeps the string


def test_bare_nan_tokens_from_other_writers_are_read() -> None:
    line = minimal_record()
    line["rewards"]["total"] = math.nan
    text = json.dumps(line)  # Python's default writes a bare NaN token
    assert "NaN" in text
    assert math.isnan(Trajectory.from_json(text).rewards.total)


class Opaque:
    def __repr__(self) -> str:
        return "Opaque()"


class BrokenRepr:
    def __repr__(self) -> str:
        raise RuntimeError("no repr")


def test_values_json_cannot_hold_become_repr_strings() -> None:
    cycle: list[Any] = [1]
    cycle.append(cycle)
    t = Trajectory(
        "e",
        "t",
        env_kwargs={
            "tokenizer": Opaque(),
            "path": Path("/data"),
            "splits": ("dev", "test"),
            3: "int key",
        },
        steps=[
            Step(
                action="a",
                reward=np.float32(0.5),
                timings={"env": np.float64(0.25)},
                prompt_ids=[int(i) for i in np.arange(3)],
                info={
                    "set": {1},
                    "bytes": b"\x00",
                    "cycle": cycle,
                    "broken": BrokenRepr(),
                    "n": np.int64(7),
                },
            )
        ],
    )
    back = Trajectory.from_json(t.to_json())
    assert back.env_kwargs == {
        "tokenizer": "Opaque()",
        "path": repr(Path("/data")),
        "splits": ["dev", "test"],
        "3": "int key",
    }
    info = back.steps[0].info
    assert info["set"] == "{1}" and info["bytes"] == "b'\\x00'" and info["n"] == 7
    assert info["cycle"] == [1, "[1, [...]]"]
    assert info["broken"] == "<BrokenRepr object>"
    assert back.steps[0].reward == 0.5 and back.steps[0].timings == {"env": 0.25}


def test_wrongly_typed_field_is_refused_before_writing(tmp_path: Path) -> None:
    bad = Trajectory("e", "t", steps=[Step(action="a"), Step(action="b", reward="abc")])  # type: ignore[arg-type]
    with pytest.raises(TrajectoryError) as raised:
        bad.to_json()
    assert str(raised.value) == "steps[1].reward: expected a number, got 'abc'"
    path = tmp_path / "a.jsonl"
    with TrajectoryWriter(path) as writer:
        with pytest.raises(TrajectoryError):
            writer.write(bad)
        writer.write(Trajectory("e", "ok"))
    assert writer.count == 1
    assert [t.task_id for t in read_trajectories(path)] == ["ok"]


# ---- the JSON schema ----------------------------------------------------------------------------


def test_schema_is_a_valid_draft_2020_12_schema() -> None:
    s = schema()
    jsonschema.Draft202012Validator.check_schema(s)
    assert s["$id"] == SCHEMA_VERSION
    assert s["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_schema_lists_exactly_the_dataclass_fields() -> None:
    from dataclasses import fields

    s = schema()
    for properties, cls in [
        (s, Trajectory),
        (s["$defs"]["step"], Step),
        (s["$defs"]["rewards"], Rewards),
    ]:
        names = [f.name for f in fields(cls)]
        optional = ["error", "env_module"] if cls is Trajectory else []
        assert sorted(properties["required"] + optional) == sorted(names)
        assert sorted(properties["properties"]) == sorted(names)
        assert properties["additionalProperties"] is False


def test_schema_describes_every_field() -> None:
    def walk(node: Any, where: str) -> None:
        if isinstance(node, dict):
            for name, sub in node.get("properties", {}).items():
                assert sub.get("description"), f"{where}.{name} has no description"
            for key, sub in node.items():
                walk(sub, f"{where}.{key}")
        elif isinstance(node, list):
            for index, sub in enumerate(node):
                walk(sub, f"{where}[{index}]")

    walk(schema(), "schema")


@pytest.mark.parametrize(
    "trajectory",
    [
        rich_trajectory(),
        nonfinite_trajectory(),
        Trajectory("e", "t"),
        Trajectory("e", "t", env_kwargs={"obj": Opaque()}, steps=[Step(action={"content": None})]),
    ],
    ids=["rich", "nonfinite", "minimal", "repr"],
)
def test_every_to_dict_validates_against_the_schema(trajectory: Trajectory) -> None:
    record = trajectory.to_dict()
    validator().validate(record)
    validator().validate(json.loads(trajectory.to_json()))


def _set(path: list[Any], value: Any):
    def mutate(record: dict[str, Any]) -> dict[str, Any]:
        node = record
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
        return record

    return mutate


def _delete(path: list[Any]):
    def mutate(record: dict[str, Any]) -> dict[str, Any]:
        node = record
        for key in path[:-1]:
            node = node[key]
        del node[path[-1]]
        return record

    return mutate


BROKEN = [
    (_delete(["task_id"]), "missing required field 'task_id'"),
    (_delete(["steps", 1, "reward"]), "steps[1]: missing required field 'reward'"),
    (_set(["steps", 0, "reward"], "abc"), "steps[0].reward: expected a number, got 'abc'"),
    (_set(["steps", 0, "reward"], True), "steps[0].reward: expected a number, got True"),
    (_set(["rewards", "per_step", 1], None), "rewards.per_step[1]: expected a number, got None"),
    (
        _set(["steps", 0, "completion_ids", 1], 1.5),
        "steps[0].completion_ids[1]: expected an integer, got 1.5",
    ),
    (
        _set(["steps", 0, "reward_components", "format"], "high"),
        "steps[0].reward_components['format']: expected a number, got 'high'",
    ),
    (_set(["seed"], "7"), "seed: expected an integer, got '7'"),
    (_set(["seed"], False), "seed: expected an integer, got False"),
    (_set(["terminated"], None), "terminated: expected a boolean, got None"),
    (_set(["env_id"], None), "env_id: expected a string, got None"),
    (_set(["messages", 0], "hi"), "messages[0]: expected an object, got 'hi'"),
    (_set(["steps", 0, "action"], 42), "steps[0].action: expected a string or an object, got 42"),
    (_set(["steps", 1, "observation"], None), "steps[1].observation: expected a string, got None"),
    (_set(["rewards"], None), "rewards: expected an object, got None"),
    (
        _set(["schema"], "agentgym.trajectory/9"),
        "unknown schema 'agentgym.trajectory/9' (this agentgym reads agentgym.trajectory/1)",
    ),
    (_set(["score"], 1.0), "unknown field 'score' (not in agentgym.trajectory/1)"),
    (
        _set(["steps", 1, "advantage"], 0.3),
        "steps[1]: unknown field 'advantage' (not in agentgym.trajectory/1)",
    ),
    (
        _set(["rewards", "mean"], 0.3),
        "rewards: unknown field 'mean' (not in agentgym.trajectory/1)",
    ),
    (lambda record: [record["env_id"]], "expected an object, got ['agentgym/DeepSearch-v0']"),
]


@pytest.mark.parametrize(("mutate", "reason"), BROKEN, ids=[reason[:40] for _, reason in BROKEN])
def test_broken_records_fail_both_the_schema_and_from_dict(mutate, reason: str) -> None:
    record = mutate(rich_trajectory().to_dict())
    assert not validator().is_valid(record)
    with pytest.raises(TrajectoryError) as raised:
        Trajectory.from_dict(record)
    assert raised.value.reason == reason
    assert str(raised.value) == reason
    assert raised.value.path is None and raised.value.line is None


def test_several_missing_or_unknown_fields_are_all_named() -> None:
    record = minimal_record()
    del record["seed"], record["policy"]
    with pytest.raises(TrajectoryError, match=r"^missing required fields 'seed', 'policy'$"):
        Trajectory.from_dict(record)
    record = minimal_record()
    record["a"] = record["b"] = 1
    with pytest.raises(TrajectoryError, match=r"^unknown fields 'a', 'b' "):
        Trajectory.from_dict(record)


def test_from_dict_accepts_only_json_data_in_free_form_fields() -> None:
    record = minimal_record()
    record["policy"] = {"sampling": {"stop": {"</answer>"}}}
    with pytest.raises(TrajectoryError) as raised:
        Trajectory.from_dict(record)
    assert str(raised.value) == "policy: expected JSON data, got {'</answer>'}"
    record["policy"] = {"sampling": {1: "x"}}
    with pytest.raises(TrajectoryError) as raised:
        Trajectory.from_dict(record)
    assert str(raised.value) == "policy: object keys must be strings, got 1"


def test_long_bad_values_are_shortened_in_messages() -> None:
    record = minimal_record()
    record["task_id"] = ["x" * 1000]
    message = str(pytest.raises(TrajectoryError, Trajectory.from_dict, record).value)
    assert message.startswith("task_id: expected a string, got ['xxx") and message.endswith("...")
    assert len(message) < 100


def test_from_json_reports_invalid_json() -> None:
    with pytest.raises(TrajectoryError) as raised:
        Trajectory.from_json('{"a": 1 "b": 2}')
    assert str(raised.value) == "invalid JSON: Expecting ',' delimiter (column 9)"


def test_error_pickles_and_formats() -> None:
    error = TrajectoryError("steps[0].reward: expected a number, got 'abc'", "runs/a.jsonl", 3)
    assert str(error) == "runs/a.jsonl:3: steps[0].reward: expected a number, got 'abc'"
    back = pickle.loads(pickle.dumps(error))
    assert (back.reason, back.path, back.line) == (error.reason, error.path, error.line)
    assert str(back) == str(error)
    assert isinstance(error, ValueError)


# ---- reading ------------------------------------------------------------------------------------


def write_lines(path: Path, lines: list[str]) -> None:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")


def broken_file(tmp_path: Path) -> tuple[Path, dict[int, str]]:
    """A file mixing good records (lines 1, 5, 11) with one of each kind of bad line."""
    extra = minimal_record() | {"extra": 1}
    no_task = minimal_record()
    del no_task["task_id"]
    wrong_type = minimal_record()
    wrong_type["truncated"] = "no"
    lines = [
        Trajectory("e", "good-1").to_json(),
        '{"schema": "agentgym.trajectory/1", "env_id": ',
        "",
        "[1, 2, 3]",
        Trajectory("e", "good-2").to_json(),
        json.dumps(no_task),
        json.dumps(wrong_type),
        json.dumps(minimal_record() | {"schema": "agentgym.trajectory/2"}),
        "   ",
        json.dumps(extra),
        Trajectory("e", "good-3").to_json(),
    ]
    write_lines(tmp_path / "mixed.jsonl", lines)
    expected = {
        2: "invalid JSON: Expecting value (column 48)",
        4: "expected an object, got [1, 2, 3]",
        6: "missing required field 'task_id'",
        7: "truncated: expected a boolean, got 'no'",
        8: "unknown schema 'agentgym.trajectory/2' (this agentgym reads agentgym.trajectory/1)",
        10: "unknown field 'extra' (not in agentgym.trajectory/1)",
    }
    return tmp_path / "mixed.jsonl", expected


def test_reader_raises_with_file_and_line(tmp_path: Path) -> None:
    path, expected = broken_file(tmp_path)
    records = read_trajectories(path)
    assert next(records).task_id == "good-1"
    with pytest.raises(TrajectoryError) as raised:
        next(records)
    error = raised.value
    assert (error.path, error.line, error.reason) == (str(path), 2, expected[2])
    assert str(error) == f"{path}:2: {expected[2]}"


@pytest.mark.parametrize("line", [4, 6, 7, 8, 10])
def test_reader_reports_each_kind_of_bad_line_at_its_line(tmp_path: Path, line: int) -> None:
    path, expected = broken_file(tmp_path)
    # Keep the good lines and the one bad line under test, blanked elsewhere so numbering holds.
    lines = path.read_text(encoding="utf-8").split("\n")
    for number in expected:
        if number != line:
            lines[number - 1] = ""
    path.write_text("\n".join(lines), encoding="utf-8")
    with pytest.raises(TrajectoryError) as raised:
        list(read_trajectories(path))
    assert str(raised.value) == f"{path}:{line}: {expected[line]}"


def test_skip_invalid_goes_on_and_collects_errors(tmp_path: Path) -> None:
    path, expected = broken_file(tmp_path)
    errors: list[TrajectoryError] = []
    found = list(read_trajectories(path, skip_invalid=True, errors=errors))
    assert [t.task_id for t in found] == ["good-1", "good-2", "good-3"]
    assert [(e.line, e.reason) for e in errors] == list(expected.items())
    assert all(e.path == str(path) for e in errors)
    # Without a list the bad lines are skipped silently.
    assert len(list(read_trajectories(path, skip_invalid=True))) == 3


def test_invalid_utf8_is_reported_at_its_line(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    path.write_bytes(Trajectory("e", "t").to_json().encode() + b"\n" + b'{"x": "\xff"}\n')
    errors: list[TrajectoryError] = []
    assert len(list(read_trajectories(path, skip_invalid=True, errors=errors))) == 1
    assert [(e.line, e.reason) for e in errors] == [(2, "not valid UTF-8 (byte 7)")]


def test_windows_line_endings_and_bom_are_accepted(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    t = rich_trajectory()
    line = t.to_json().encode() + b"\r\n"
    path.write_bytes(b"\xef\xbb\xbf" + line + line)
    assert list(read_trajectories(path)) == [t, t]


def test_reads_several_paths_in_order(tmp_path: Path) -> None:
    write_trajectories(tmp_path / "a.jsonl", [Trajectory("e", "a1"), Trajectory("e", "a2")])
    write_trajectories(tmp_path / "b.jsonl", [Trajectory("e", "b1")])
    (tmp_path / "empty.jsonl").write_text("")
    paths = [tmp_path / "b.jsonl", str(tmp_path / "empty.jsonl"), tmp_path / "a.jsonl"]
    assert [t.task_id for t in read_trajectories(paths)] == ["b1", "a1", "a2"]
    assert [t.task_id for t in read_trajectories(p for p in paths)] == ["b1", "a1", "a2"]


def test_missing_file_raises_file_not_found(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="nope.jsonl"):
        list(read_trajectories([tmp_path / "nope.jsonl"]))


def test_dash_reads_stdin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = (Trajectory("e", "from-stdin").to_json() + "\nnot json\n").encode()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data), encoding="utf-8"))
    errors: list[TrajectoryError] = []
    found = list(read_trajectories("-", skip_invalid=True, errors=errors))
    assert [t.task_id for t in found] == ["from-stdin"]
    assert [str(e) for e in errors] == ["<stdin>:2: invalid JSON: Expecting value (column 1)"]


def test_reading_streams_in_constant_memory(tmp_path: Path) -> None:
    path = tmp_path / "big.jsonl"
    line = Trajectory("agentgym/ToolCall-v0", "task", seed=1).to_json() + "\n"
    path.write_text(line * 100_000, encoding="utf-8")
    size = path.stat().st_size
    records = read_trajectories(path)
    peaks: list[int] = []

    def take(n: int, *, traced: bool) -> int:
        if traced:
            tracemalloc.start()
        try:
            taken = sum(1 for _ in itertools.islice(records, n))
            if traced:
                peaks.append(tracemalloc.get_traced_memory()[1])
        finally:
            tracemalloc.stop()
        return taken

    # tracemalloc slows every allocation several-fold, so it watches the first and the last
    # 10,000 records: reading the file up front shows in the first window, and keeping what was
    # read (a few hundred bytes a record) would pass the limit within either.
    count = take(10_000, traced=True) + take(80_000, traced=False) + take(20_000, traced=True)
    assert count == 100_000
    assert max(peaks) < size / 100, f"peaks {peaks} bytes for a {size:,}-byte file"


# ---- writing ------------------------------------------------------------------------------------


def test_crash_mid_write_loses_only_that_episode(tmp_path: Path) -> None:
    path = tmp_path / "runs.jsonl"
    with TrajectoryWriter(path) as writer:
        for i in range(3):
            writer.write(rich_trajectory(f"ep-{i}"))
    # A crash while writing the 4th record leaves a partial line, with no newline, cut inside a
    # multi-byte character.
    partial = (rich_trajectory("ep-3").to_json() + "\n").encode("utf-8")
    cut = partial.index("日本".encode()) + 1
    with open(path, "ab") as f:
        f.write(partial[:cut])

    errors: list[TrajectoryError] = []
    found = list(read_trajectories(path, skip_invalid=True, errors=errors))
    assert [t.task_id for t in found] == ["ep-0", "ep-1", "ep-2"]
    assert [e.line for e in errors] == [4]
    assert "cut short" in errors[0].reason

    yielded: list[str] = []
    with pytest.raises(TrajectoryError) as raised:
        for t in read_trajectories(path):
            yielded.append(t.task_id)
    assert yielded == ["ep-0", "ep-1", "ep-2"]
    assert raised.value.line == 4

    # A new writer starts its first record on a fresh line.
    with TrajectoryWriter(path) as writer:
        writer.write(rich_trajectory("ep-4"))
    errors = []
    found = list(read_trajectories(path, skip_invalid=True, errors=errors))
    assert [t.task_id for t in found] == ["ep-0", "ep-1", "ep-2", "ep-4"]
    assert [e.line for e in errors] == [4]
    assert path.read_bytes().split(b"\n")[4] == rich_trajectory("ep-4").to_json().encode()


def test_writer_flushes_each_record(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    writer = TrajectoryWriter(path, fsync=True)
    writer.write(Trajectory("e", "t1"))
    # Visible to a reader while the writer is still open.
    assert [t.task_id for t in read_trajectories(path)] == ["t1"]
    writer.close()
    writer.close()  # idempotent
    with pytest.raises(ValueError):
        writer.write(Trajectory("e", "t2"))
    assert writer.count == 1


def test_lone_surrogates_survive_a_file_round_trip(tmp_path: Path) -> None:
    text = b"caf\xe9 output".decode("utf-8", "surrogateescape")
    t = Trajectory("e", "t", steps=[Step(action="a", observation=text)])
    write_trajectories(tmp_path / "a.jsonl", [t])
    assert list(read_trajectories(tmp_path / "a.jsonl")) == [t]


def test_threads_share_a_writer(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    step = Step(action="a", observation="x" * 5000)  # long lines: unlocked writes would interleave

    with TrajectoryWriter(path) as writer:

        def work(thread: int) -> None:
            for i in range(200):
                writer.write(Trajectory("e", f"{thread}-{i}", steps=[step]))

        threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert writer.count == 1600
    assert len(path.read_bytes().splitlines()) == 1600
    ids = [t.task_id for t in read_trajectories(path)]
    assert sorted(ids) == sorted(f"{n}-{i}" for n in range(8) for i in range(200))


def test_to_dict_does_not_mutate_the_trajectory() -> None:
    t = nonfinite_trajectory()
    before = copy.deepcopy(t)
    t.to_dict()
    assert math.isnan(t.rewards.total) and t.steps[0].info["score"] != "NaN"
    assert t.steps[0].logprobs == before.steps[0].logprobs


def test_the_fast_path_accepts_exactly_what_the_full_checks_accept():
    env = gymnasium.make("agentgym/DeepSearch-v0", corpus="fictional", n_entities=40)
    env.reset(seed=0)
    while not env.step(env.unwrapped.oracle_action())[2]:
        pass
    episode = env.unwrapped.trajectory
    episode.error = "a note"
    episode.steps[0].prompt_ids, episode.steps[0].logprobs = [1, 2], [-0.5, -1.0]
    record = json.loads(episode.to_json())
    fast = _fast_trajectory(json.loads(json.dumps(record)))
    assert repr(fast) == repr(Trajectory.from_dict(record)) == repr(Trajectory.from_dict(record, copy=False))
    assert repr(fast) == repr(episode)

    def inside(data, where):
        return data["rewards"] if where == "rewards" else data["steps"][0] if where == "step" else data

    bad_values = ["abc", "NaN", 1, 0, True, None, [], {}, [1.5, "x"], {"a": "b"}, 1.5, 10**400, [1, 2.0]]
    accepted = 0
    for where in ("record", "rewards", "step"):
        for key in inside(record, where):
            for value in bad_values:
                mutated = json.loads(json.dumps(record))
                inside(mutated, where)[key] = value
                fast = _fast_trajectory(json.loads(json.dumps(mutated)))
                try:
                    slow = _parse_trajectory(mutated)
                except TrajectoryError:
                    assert fast is None, (where, key, value)
                    continue
                assert fast is None or repr(fast) == repr(slow), (where, key, value)
                accepted += 1
    assert accepted > 20


# ---- the one encoder and the one reader -----------------------------------------------------------


def test_dumps_spells_non_finite_numbers_as_trajectories_do_and_escapes_lone_surrogates(tmp_path):
    value = {"score": float("inf"), "low": float("-inf"), "nan": float("nan"), "text": "caf\u00e9 \udcff"}
    text = dumps(value)
    assert json.loads(text)["score"] == "Infinity" and json.loads(text)["nan"] == "NaN"
    path = tmp_path / "out.jsonl"
    path.write_text(text + "\n", encoding="utf-8")  # encodes: the surrogate is an escape
    assert decode_line(path.read_bytes())["text"] == "caf\u00e9 \udcff"
    recorded = Trajectory("e", "t", messages=[{"role": "user", "content": "\udcff"}])
    recorded.rewards.total = float("inf")
    line = recorded.to_json()
    assert json.loads(line)["rewards"]["total"] == json.loads(text)["score"]


def test_a_huge_integer_is_reported_at_its_file_and_line_and_can_be_skipped(tmp_path):
    path = tmp_path / "a.jsonl"
    write_trajectories(path, [Trajectory("e", "t1")])
    with open(path, "a") as f:
        f.write('{"schema": "agentgym.trajectory/1", "seed": ' + "7" * 4301 + "}\n")
    with pytest.raises(TrajectoryError) as error:
        list(read_trajectories(path))
    assert (error.value.path, error.value.line) == (str(path), 2)
    assert str(error.value).startswith(f"{path}:2: invalid JSON: an integer of more than 4300 digits (column ")
    errors: list[TrajectoryError] = []
    assert [t.task_id for t in read_trajectories(path, skip_invalid=True, errors=errors)] == ["t1"]
    assert isinstance(errors[0], TrajectoryError) and errors[0].line == 2
    with pytest.raises(JSONLError, match=r"a\.jsonl:2: invalid JSON: an integer"):
        list(read_jsonl(path))
    # Writing one is not a crash either: it is kept as hexadecimal text.
    assert json.loads(Trajectory("e", "t", env_kwargs={"n": 10**5000}).to_json())["env_kwargs"]["n"].startswith("0x")
