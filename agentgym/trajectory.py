"""Episode records (trajectories) and their JSONL file format.

One episode is one :class:`Trajectory`: the conversation, a record per step, the rewards, and what
is needed to find the task again for offline scoring (``env_id``, ``env_kwargs``, ``task_id``,
``seed``). A file holds one trajectory per line, as a JSON object tagged
``"schema": "agentgym.trajectory/1"``; ``assets/trajectory.schema.json`` (see :func:`schema`)
documents every field.

:class:`TrajectoryWriter` appends whole lines and flushes after each episode, so a crash loses at
most the episode being written. :func:`read_trajectories` streams files line by line and reports
the file and line of any malformed record.

This module also owns agentgym's one JSONL reader (:func:`read_jsonl`, :func:`decode_line`: every
error reads ``path:line: reason``) and its one JSON encoder (:func:`dumps`, :func:`json_data`), used
for trajectories, ``agentgym score`` rows and summaries, and the DeepSearch corpus and task files.

Values JSON cannot hold (in every record :func:`dumps` writes):

- NaN and the infinities are written as the strings ``"NaN"``, ``"Infinity"`` and ``"-Infinity"``.
  Number fields (rewards, reward components, timings, logprobs) read them back as the same floats;
  in free-form data (``env_kwargs``, ``messages``, ``policy``, ``info``, tool calls, a dict action)
  they stay strings.
- An integer too long for JSON readers (over ~3,900 digits; Python refuses to read more than 4,300)
  is written as its hexadecimal string, e.g. ``"0x1f..."``.
- Any other value that is not JSON data (an object in ``env_kwargs`` or ``info``, a set, bytes) is
  written as its ``repr()`` string; tuples become lists. Such fields do not round-trip exactly.
- A field of the record itself that has the wrong type (``reward="abc"``) is refused when the record
  is serialised (:class:`TrajectoryError`), so a file never holds a line its reader would reject.
"""

from __future__ import annotations

import json
import math
import numbers
import os
import re
import sys
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime, timezone
from importlib.resources import files
from pathlib import Path
from typing import Any, BinaryIO

__all__ = [
    "SCHEMA_VERSION",
    "FileLocked",
    "Rewards",
    "Step",
    "Trajectory",
    "JSONLError",
    "TrajectoryError",
    "TrajectoryWriter",
    "decode_line",
    "dumps",
    "json_data",
    "read_jsonl",
    "read_trajectories",
    "schema",
    "write_trajectories",
]

SCHEMA_VERSION = "agentgym.trajectory/1"

# JSON has no NaN or infinities; these are the spellings JavaScript and Python's json module use.
_NONFINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


class JSONLError(ValueError):
    """A malformed line of a JSONL file (or a malformed JSON value), located as ``path:line: reason``.

    Every JSONL reader of agentgym (:func:`read_jsonl`, and so trajectories, scoring, the report and
    the DeepSearch corpus and task files) reports its errors with this one phrasing.

    Attributes:
        reason: What is wrong, e.g. ``"invalid JSON: Expecting value (column 1)"``.
        path: The file the line was read from, or ``None``.
        line: The 1-based line number in that file, or ``None``.

    Examples:
        >>> str(JSONLError("invalid JSON: Expecting value (column 1)", "qa.jsonl", 3))
        'qa.jsonl:3: invalid JSON: Expecting value (column 1)'
    """

    def __init__(self, reason: str, path: str | None = None, line: int | None = None) -> None:
        # Every argument goes to ValueError too, so the error survives pickling (process pools).
        super().__init__(reason, path, line)
        self.reason = reason
        self.path = path
        self.line = line

    def __str__(self) -> str:
        location = ":".join(str(part) for part in (self.path, self.line) if part is not None)
        return f"{location}: {self.reason}" if location else self.reason


class TrajectoryError(JSONLError):
    """A malformed trajectory record (a :class:`JSONLError` of a trajectory file).

    Attributes:
        reason: What is wrong, naming the field path, e.g.
            ``"steps[3].reward: expected a number, got 'abc'"``.
        path: The file the record was read from, or ``None``.
        line: The record's 1-based line number in that file, or ``None``.

    Examples:
        >>> str(TrajectoryError("missing required field 'task_id'", "runs/a.jsonl", 7))
        "runs/a.jsonl:7: missing required field 'task_id'"
        >>> str(TrajectoryError("missing required field 'task_id'"))
        "missing required field 'task_id'"
    """


def _utc_now() -> str:
    return datetime.now(timezone.utc).isoformat()


@dataclass
class Step:
    """One ``env.step``: the action, what the env made of it, and its reward.

    Attributes:
        action: The assistant's raw completion text, or the assistant message dict it sent.
        tool_calls: The calls parsed from the action, each ``{"name", "arguments", "id"}``.
        observation: What the env returned (tool results or feedback).
        reward: The step's reward.
        reward_components: The named parts of ``reward``.
        invalid_action: Whether the action was malformed or a tool call failed.
        timings: Seconds spent, e.g. ``{"env": 0.001, "policy": 0.8}``.
        prompt_ids: Token ids of the prompt the policy saw, when it reports them.
        completion_ids: Token ids of the completion, when the policy reports them.
        logprobs: Log-probabilities of ``completion_ids``, when the policy reports them.
        info: Extra JSON data the env records for its rewards.

    Examples:
        >>> step = Step(action="<tool_call>{...}</tool_call>", observation="4", reward=1)
        >>> step.reward, step.tool_calls, step.prompt_ids
        (1, [], None)
    """

    action: str | dict[str, Any]
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    observation: str = ""
    reward: float = 0.0
    reward_components: dict[str, float] = field(default_factory=dict)
    invalid_action: bool = False
    timings: dict[str, float] = field(default_factory=dict)
    prompt_ids: list[int] | None = None
    completion_ids: list[int] | None = None
    logprobs: list[float] | None = None
    info: dict[str, Any] = field(default_factory=dict)


@dataclass
class Rewards:
    """The episode's rewards.

    Attributes:
        total: The episode reward.
        components: Named parts of ``total`` (summed over steps).
        per_step: One reward per step, in order.

    Examples:
        >>> Rewards(total=1.0, components={"answer": 1.0}, per_step=[0.0, 1.0]).total
        1.0
    """

    total: float = 0.0
    components: dict[str, float] = field(default_factory=dict)
    per_step: list[float] = field(default_factory=list)

    @classmethod
    def from_steps(cls, steps: Iterable[Mapping[str, float]]) -> Rewards:
        """Sum the named reward components of each step: the one place totals are computed.

        A step's reward is the sum of its components, the episode's ``total`` the sum of the
        step rewards, and ``components`` each name's sum over the steps. ``AgentEnv`` records its
        rewards with it, and ``agentgym score`` rescores an env's own reward with it, so the two agree.

        Args:
            steps: One mapping ``{component name: value}`` per step (already weighted).

        Returns:
            The episode's rewards.

        Examples:
            >>> Rewards.from_steps([{"evidence": 0.05}, {"evidence": 0.05, "outcome": 1.0}])
            Rewards(total=1.1, components={'evidence': 0.1, 'outcome': 1.0}, per_step=[0.05, 1.05])
            >>> Rewards.from_steps([]).total
            0.0
        """
        components: dict[str, float] = {}
        per_step = []
        for step in steps:
            values = [float(value) for value in step.values()]
            per_step.append(float(sum(values)))
            for name, value in zip(step, values, strict=True):
                components[name] = components.get(name, 0.0) + value
        return cls(float(sum(per_step)), components, per_step)


@dataclass
class Trajectory:
    """The record of one episode, as written to one JSONL line.

    Attributes:
        env_id: The Gymnasium id of the env, e.g. ``"agentgym/DeepSearch-v0"``.
        task_id: The task's stable id within the env's task set.
        env_kwargs: The keyword arguments the env was made with.
        seed: The seed passed to ``reset``, if any.
        messages: The full OpenAI-format conversation, tool calls and tool results included.
        steps: One :class:`Step` per ``env.step``.
        terminated: Whether the episode ended by reaching a final state.
        truncated: Whether the episode was cut off (e.g. by ``max_turns``).
        rewards: The episode's rewards.
        policy: Who acted: ``{"name", "model", "sampling"}``.
        error: Why the episode stopped early, when something failed (the env raised, the policy
            gave no completion, a time limit passed); ``None`` for a normal episode. Optional when
            reading: a record without it reads as ``None``.
        created_at: When the record was created (UTC, ISO 8601).
        env_module: The module of the env's entry point (importing it registers ``env_id`` again), so
            that a later reader can rebuild a user's env; ``None`` when unknown. Optional when reading.
        schema: The format version, :data:`SCHEMA_VERSION`.

    Examples:
        >>> t = Trajectory(env_id="agentgym/ToolCall-v0", task_id="add-1", seed=3)
        >>> t.steps.append(Step(action="2+2?", observation="4", reward=1.0))
        >>> line = t.to_json()
        >>> line[:40]
        '{"schema":"agentgym.trajectory/1","env_i'
        >>> Trajectory.from_json(line) == t
        True
    """

    env_id: str
    task_id: str
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    seed: int | None = None
    messages: list[dict[str, Any]] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)
    terminated: bool = False
    truncated: bool = False
    rewards: Rewards = field(default_factory=Rewards)
    policy: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    created_at: str = field(default_factory=_utc_now)
    env_module: str | None = None
    schema: str = SCHEMA_VERSION

    def to_dict(self) -> dict[str, Any]:
        """Return the record as JSON data (the object one JSONL line holds).

        Non-finite floats become ``"NaN"``/``"Infinity"``/``"-Infinity"`` and values that are not
        JSON data become their ``repr()`` (see the module docstring).

        Returns:
            A new dict that ``json.dumps(..., allow_nan=False)`` accepts and
            :meth:`from_dict` reads back.

        Raises:
            TrajectoryError: If a field has the wrong type (e.g. a string reward), naming it.

        Examples:
            >>> t = Trajectory("agentgym/ToolCall-v0", "add-1", env_kwargs={"split": ("dev",)})
            >>> t.rewards.total = float("nan")
            >>> d = t.to_dict()
            >>> d["env_kwargs"], d["rewards"]["total"]
            ({'split': ['dev']}, 'NaN')
        """
        record = _jsonable(self, set())
        _parse_trajectory(record)  # the reader's own checks, so nothing unreadable is ever written
        # "schema" first, so the version is the first thing a person or a sniffing tool sees.
        return {"schema": record.pop("schema"), **record}

    @classmethod
    def from_dict(cls, data: Any, *, copy: bool = True) -> Trajectory:
        """Check a record (as :meth:`to_dict` or ``json.loads`` gives it) and build the trajectory.

        Every field is required and no other is allowed. Integers are accepted where numbers are
        expected, booleans are not; ``"NaN"``, ``"Infinity"`` and ``"-Infinity"`` are read as floats
        in number fields. Free-form data is deep-copied unless ``copy=False``.

        Args:
            data: The decoded record.
            copy: ``False`` hands ``data`` over (as a ``json.loads`` result nobody else holds): the
                trajectory may share its lists and dicts, and a well-formed record takes a fast
                path that only checks its shape (several times faster).

        Returns:
            The trajectory.

        Raises:
            TrajectoryError: If the record is malformed; the reason names the field path, e.g.
                ``"steps[3].reward: expected a number, got 'abc'"``.

        Examples:
            >>> record = Trajectory("agentgym/ToolCall-v0", "add-1").to_dict()
            >>> Trajectory.from_dict(record).task_id
            'add-1'
            >>> del record["task_id"]
            >>> Trajectory.from_dict(record)
            Traceback (most recent call last):
            ...
            agentgym.trajectory.TrajectoryError: missing required field 'task_id'
        """
        try:
            return (not copy and _fast_trajectory(data)) or _parse_trajectory(data)
        except RecursionError:
            raise TrajectoryError("the record is nested too deeply") from None

    def to_json(self) -> str:
        r"""Return the record as one line of JSON (no newline inside, none at the end).

        Returns:
            Compact JSON; non-ASCII text is kept as is.

        Raises:
            TrajectoryError: If a field has the wrong type (see :meth:`to_dict`).

        Examples:
            >>> t = Trajectory("e", "t", messages=[{"role": "user", "content": "a\nb"}])
            >>> "\n" in t.to_json()
            False
        """
        return _dumps(self.to_dict())

    @classmethod
    def from_json(cls, line: str) -> Trajectory:
        """Parse one JSONL line written by :meth:`to_json`.

        Args:
            line: The JSON text (a trailing newline is fine).

        Returns:
            The trajectory.

        Raises:
            TrajectoryError: If the text is not JSON or the record is malformed.

        Examples:
            >>> try:
            ...     Trajectory.from_json('{"schema": "agentgym.trajectory/9"}')
            ... except TrajectoryError as error:
            ...     print(error)
            unknown schema 'agentgym.trajectory/9' (this agentgym reads agentgym.trajectory/1)
        """
        try:
            data = json.loads(line)
        except (ValueError, RecursionError) as error:  # a huge integer raises a plain ValueError
            raise TrajectoryError(_json_error(error, line)) from None
        return cls.from_dict(data, copy=False)


def schema() -> dict[str, Any]:
    """Return the JSON Schema (draft 2020-12) of one record, from ``assets/trajectory.schema.json``.

    Returns:
        A fresh dict on every call.

    Examples:
        >>> s = schema()
        >>> s["$id"], s["properties"]["schema"]["const"]
        ('agentgym.trajectory/1', 'agentgym.trajectory/1')
    """
    text = files("agentgym.assets").joinpath("trajectory.schema.json").read_text(encoding="utf-8")
    return json.loads(text)


class FileLocked(OSError):
    """Another process is writing the trajectory file (:class:`TrajectoryWriter` with ``exclusive=True``)."""


class TrajectoryWriter:
    """Appends trajectories to a JSONL file, one flushed line per episode.

    Each record is serialised in full before anything is written, then goes out in a single
    ``write`` and a flush (and an ``fsync`` when asked), so a crash loses at most the episode in
    flight. If the file ends in a partial line (an earlier writer crashed), the first record starts
    on a new line instead of being glued to it. Safe to share between threads.

    Args:
        path: The file; created, with its parent directories, if missing.
        fsync: Also ``os.fsync`` after every record (survives power loss; slower).
        exclusive: Hold an exclusive lock on the file while it is open (``fcntl.flock``, POSIX; no
            lock elsewhere), so that two runs cannot append to one file (each would add the
            episodes the other is adding).

    Raises:
        FileLocked: With ``exclusive``, if another writer holds the lock (``"another rollout is
            writing PATH"``).

    Attributes:
        path: The file, as a string.
        count: How many records this writer has written.

    Examples:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     with TrajectoryWriter(f"{tmp}/runs/a.jsonl") as writer:
        ...         writer.write(Trajectory("agentgym/ToolCall-v0", "add-1"))
        ...         writer.write(Trajectory("agentgym/ToolCall-v0", "add-2"))
        ...     [t.task_id for t in read_trajectories(f"{tmp}/runs/a.jsonl")], writer.count
        (['add-1', 'add-2'], 2)
    """

    def __init__(self, path: str | os.PathLike[str], *, fsync: bool = False, exclusive: bool = False) -> None:
        self.path = os.fspath(path)
        self.count = 0
        self._fsync = fsync
        self._lock = threading.Lock()
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        # Binary append: lines are encoded as UTF-8 here, and no newline translation happens.
        self._file = open(self.path, "a+b")
        if exclusive:
            self._lock_file()
        self._newline_first = False
        if self._file.seekable() and self._file.seek(0, os.SEEK_END) > 0:
            self._file.seek(-1, os.SEEK_END)
            self._newline_first = self._file.read(1) != b"\n"

    def _lock_file(self) -> None:
        try:
            import fcntl
        except ImportError:  # not POSIX: no lock
            return
        try:
            fcntl.flock(self._file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._file.close()
            raise FileLocked(f"another rollout is writing {self.path}") from None

    def write(self, trajectory: Trajectory) -> None:
        """Append one trajectory as a line and flush it.

        Args:
            trajectory: The episode record.

        Raises:
            TrajectoryError: If a field has the wrong type; nothing is written then.
        """
        line = _encode_line(trajectory)
        with self._lock:
            if self._newline_first:
                line = b"\n" + line
                self._newline_first = False
            self._file.write(line)
            self._file.flush()
            if self._fsync:
                os.fsync(self._file.fileno())
            self.count += 1

    def close(self) -> None:
        """Close the file (idempotent)."""
        with self._lock:
            self._file.close()

    def __enter__(self) -> TrajectoryWriter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def write_trajectories(path: str | os.PathLike[str], trajectories: Iterable[Trajectory]) -> int:
    """Append trajectories to a JSONL file.

    Args:
        path: The file; created, with its parent directories, if missing.
        trajectories: The records to append.

    Returns:
        How many records were written.

    Examples:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     write_trajectories(f"{tmp}/a.jsonl", [Trajectory("e", "t1"), Trajectory("e", "t2")])
        2
    """
    with TrajectoryWriter(path) as writer:
        for trajectory in trajectories:
            writer.write(trajectory)
    return writer.count


def read_trajectories(
    paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
    *,
    skip_invalid: bool = False,
    errors: list[TrajectoryError] | None = None,
) -> Iterator[Trajectory]:
    r"""Stream the trajectories of one or more JSONL files, in order.

    Files are read one line at a time, so memory does not grow with the file. Blank lines are
    skipped. ``"-"`` reads standard input.

    Args:
        paths: A file, or several.
        skip_invalid: Go on past malformed lines instead of raising.
        errors: With ``skip_invalid``, a list that collects the error of every skipped line.

    Yields:
        Each valid record, as a :class:`Trajectory`.

    Raises:
        TrajectoryError: For a malformed line (bad UTF-8 or JSON, a cut-off line, an unknown schema
            version, a missing, extra or wrongly typed field), with ``path`` and 1-based ``line``
            set, unless ``skip_invalid``. Records before it have been yielded already.
        FileNotFoundError: If a file does not exist.

    Examples:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     path = f"{tmp}/a.jsonl"
        ...     _ = write_trajectories(path, [Trajectory("e", "t1")])
        ...     with open(path, "a") as f:
        ...         _ = f.write("not json\n")
        ...     problems = []
        ...     found = list(read_trajectories(path, skip_invalid=True, errors=problems))
        >>> [t.task_id for t in found], problems[0].line, problems[0].reason
        (['t1'], 2, 'invalid JSON: Expecting value (column 1)')
    """
    yield from read_jsonl(paths, parse=_parse_record, skip_invalid=skip_invalid, errors=errors, error=TrajectoryError)


def _parse_record(data: Any) -> Trajectory:
    return Trajectory.from_dict(data, copy=False)  # fresh from json.loads: nobody else holds it


# ---- the one JSONL reader and the one JSON encoder ----------------------------------------------


def read_jsonl(
    paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
    *,
    parse: Callable[[Any], Any] | None = None,
    skip_invalid: bool = False,
    errors: list[Any] | None = None,
    error: type[JSONLError] = JSONLError,
    located: bool = False,
) -> Iterator[Any]:
    r"""Stream the decoded lines of one or more JSONL files, in order: agentgym's one JSONL reader.

    Files are read one line at a time, so memory does not grow with the file. Blank lines are
    skipped, a UTF-8 byte-order mark may start a file, ``"-"`` reads standard input. Every problem
    is reported as ``path:line: reason`` (see :func:`decode_line`).

    Args:
        paths: A file, or several.
        parse: Turns each decoded value into what is yielded; it raises a :class:`JSONLError` (or a
            subclass) without location for a malformed record, and the reader adds the location.
        skip_invalid: Go on past malformed lines instead of raising.
        errors: With ``skip_invalid``, a list that collects the error of every skipped line.
        error: The class of the errors raised for lines that are not JSON (a subclass of
            :class:`JSONLError`, e.g. :class:`TrajectoryError`).
        located: Yield ``(path, line number, value)`` tuples, for callers whose own checks of a
            value report ``path:line: reason`` too.

    Yields:
        Each line's value (``parse(value)`` when ``parse`` is given), or its located tuple.

    Raises:
        JSONLError: ``error`` or what ``parse`` raised, with ``path`` and ``line`` set, unless
            ``skip_invalid``. Values before it have been yielded already.
        FileNotFoundError: If a file does not exist.

    Examples:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     with open(f"{tmp}/a.jsonl", "w") as f:
        ...         _ = f.write('{"q": 1}\n\n[2]\n{"q": 12' + "3" * 5000 + "}\n")
        ...     problems = []
        ...     values = list(read_jsonl(f"{tmp}/a.jsonl", skip_invalid=True, errors=problems))
        ...     where = str(problems[0]).replace(tmp, "")
        >>> values, where
        ([{'q': 1}, [2]], '/a.jsonl:4: invalid JSON: an integer of more than 4300 digits (column 7)')
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    for path in paths:
        name = os.fspath(path)
        if name == "-":
            stream = getattr(sys.stdin, "buffer", sys.stdin)
            yield from _read_stream(stream, "<stdin>", parse, skip_invalid, errors, error, located)
        else:
            with open(name, "rb") as stream:
                yield from _read_stream(stream, name, parse, skip_invalid, errors, error, located)


def _read_stream(
    stream: BinaryIO | Iterable[str],
    name: str,
    parse: Callable[[Any], Any] | None,
    skip_invalid: bool,
    errors: list[Any] | None,
    error: type[JSONLError],
    located: bool,
) -> Iterator[Any]:
    for number, raw in enumerate(stream, 1):
        if isinstance(raw, str):  # a text stream standing in for stdin
            raw = raw.encode("utf-8", "surrogateescape")
        if not raw.strip():
            continue
        try:
            try:
                value = decode_line(raw, first=number == 1)
            except JSONLError as problem:
                raise error(problem.reason) from None
            if parse is not None:
                value = parse(value)
        except JSONLError as problem:
            at_line = type(problem)(problem.reason, name, number)
            if not skip_invalid:
                raise at_line from None
            if errors is not None:
                errors.append(at_line)
            continue
        yield (name, number, value) if located else value


def decode_line(raw: bytes | str, *, first: bool = False) -> Any:
    r"""Decode one JSONL line (the decoder counterpart of :func:`dumps`).

    Args:
        raw: The line, as read from a file in binary mode (or text); its newline may be there.
        first: Whether it is a file's first line, where a UTF-8 byte-order mark is allowed.

    Returns:
        The JSON value. ``"NaN"``/``"Infinity"`` strings stay strings (number fields read them back,
        see :meth:`Trajectory.from_dict`).

    Raises:
        JSONLError: Without location, for bad UTF-8, bad JSON, a cut-off line (a line with no
            newline at its end says so), nesting too deep, or an integer longer than Python converts
            (4,300 digits).

    Examples:
        >>> decode_line(b'{"a": [1, "NaN"]}\n')
        {'a': [1, 'NaN']}
        >>> decode_line(b'{"a": ')
        Traceback (most recent call last):
        ...
        agentgym.trajectory.JSONLError: invalid JSON: Expecting value (column 7) (the line is cut short: ...)
    """
    text = ""
    try:
        if isinstance(raw, bytes):
            text = raw.decode("utf-8-sig" if first else "utf-8")
        else:
            text = raw[1:] if first and raw.startswith("\ufeff") else raw
        return json.loads(text)
    except (ValueError, RecursionError) as problem:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        reason = _json_error(problem, text)
    if not raw.endswith(b"\n" if isinstance(raw, bytes) else "\n"):
        reason += " (the line is cut short: was its writer interrupted?)"
    raise JSONLError(reason)


def _json_error(error: Exception, text: str = "") -> str:
    if isinstance(error, UnicodeDecodeError):
        return f"not valid UTF-8 (byte {error.start})"
    if isinstance(error, json.JSONDecodeError):
        # The position within the record: error.colno would count from the newline that ends it.
        return f"invalid JSON: {error.msg} (column {error.pos + 1})"
    if isinstance(error, RecursionError):
        return "invalid JSON: nested too deeply"
    # json.loads raises a plain ValueError for an integer over sys.get_int_max_str_digits(); its
    # message does not say where, so find the first long run of digits.
    match = _LONG_DIGITS.search(text) if text else None
    column = f" (column {match.start() + 1})" if match else ""
    limit = getattr(sys, "get_int_max_str_digits", lambda: 4300)()  # Python 3.10.7+
    return f"invalid JSON: an integer of more than {limit} digits{column}"


_LONG_DIGITS = re.compile(r"[0-9]{1000}")  # a fixed count: linear, no backtracking


def json_data(value: Any) -> Any:
    """Return ``value`` as JSON data, the way every agentgym record is written.

    NaN and the infinities become ``"NaN"``, ``"Infinity"`` and ``"-Infinity"``; tuples become
    lists; numpy numbers become Python numbers; an integer too long for JSON readers (over 4,000
    digits) becomes its hexadecimal string; any other object becomes its ``repr()``, and so does
    a container inside itself.

    Examples:
        >>> json_data({"x": float("inf"), "y": (1, float("nan")), "z": {1, 2}})
        {'x': 'Infinity', 'y': [1, 'NaN'], 'z': '{1, 2}'}
    """
    return _jsonable(value, set())


def dumps(value: Any, *, indent: int | None = None) -> str:
    r"""Encode ``value`` as JSON text: agentgym's one JSON encoder (trajectories, scores, summaries).

    The value goes through :func:`json_data` first. Non-ASCII text is kept as is, except what
    would break a line-oriented reader or a UTF-8 writer: lone surrogates (text decoded with
    ``errors="surrogateescape"``) are written as ``\udXXX`` escapes, U+2028, U+2029 and U+0085 as
    ``\uXXXX`` escapes. The text always encodes to UTF-8, and :func:`decode_line` reads back the
    same strings.

    Args:
        value: What to encode.
        indent: ``None`` for one compact line, else the indent of a pretty-printed document.

    Returns:
        The JSON text (no newline at the end).

    Examples:
        >>> dumps({"score": float("-inf"), "text": "é"})
        '{"score":"-Infinity","text":"é"}'
        >>> dumps({"score": float("nan"), "text": "é\ud800"})
        '{"score":"NaN","text":"\\u00e9\\ud800"}'
        >>> decode_line(dumps({"text": "\ud800"}).encode())
        {'text': '\ud800'}
    """
    return _dumps(_jsonable(value, set()), indent=indent)


def _dumps(record: Any, ensure_ascii: bool = False, indent: int | None = None) -> str:
    """JSON text of JSON data (see :func:`dumps`)."""
    separators = (",", ":") if indent is None else (",", ": ")
    text = json.dumps(record, ensure_ascii=ensure_ascii, separators=separators, allow_nan=False, indent=indent)
    if not ensure_ascii:
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            # Lone surrogates have no UTF-8 form; as \u escapes they are valid JSON and read back
            # unchanged.
            return _dumps(record, ensure_ascii=True, indent=indent)
    # These can only occur inside JSON strings, where the escape means the same; left raw,
    # str.splitlines() and JavaScript would break the record in two.
    return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029").replace("\x85", "\\u0085")


def _encode_line(trajectory: Trajectory) -> bytes:
    return (_dumps(trajectory.to_dict()) + "\n").encode("utf-8")


def _jsonable(value: Any, active: set[int]) -> Any:
    """Return ``value`` as JSON data (see the module docstring); ``active`` breaks cycles."""
    if value is None or isinstance(value, (str, bool)):
        return value
    if isinstance(value, int):
        # Past ~4,300 digits json.dumps (and every Python reader) refuses the number: keep it as text.
        return value if value.bit_length() <= _MAX_INT_BITS else hex(value)
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, numbers.Integral):  # numpy integers and the like
        return int(value)
    if isinstance(value, numbers.Real):
        return _jsonable(float(value), active)
    if not isinstance(value, (Mapping, list, tuple, Trajectory, Step, Rewards)):
        return _safe_repr(value)
    if id(value) in active:  # a container inside itself
        return _safe_repr(value)
    active.add(id(value))
    try:
        if isinstance(value, Mapping):
            return {
                key if isinstance(key, str) else _safe_repr(key): _jsonable(item, active)
                for key, item in value.items()
            }
        if isinstance(value, (list, tuple)):
            return [_jsonable(item, active) for item in value]
        return {f.name: _jsonable(getattr(value, f.name), active) for f in fields(value)}
    finally:
        active.discard(id(value))


_MAX_INT_BITS = 13_000  # 3,913 decimal digits, under sys.get_int_max_str_digits()'s default of 4,300


def _safe_repr(value: Any) -> str:
    try:
        return repr(value)
    except Exception:  # a broken __repr__ must not lose the episode
        return f"<{type(value).__name__} object>"


# ---- checking records: each check returns the value as the dataclasses hold it, or raises -------

# Field names as insertion-ordered sets: compared in one go, listed in order in messages.
_TRAJECTORY_FIELDS = dict.fromkeys(f.name for f in fields(Trajectory))
_STEP_FIELDS = dict.fromkeys(f.name for f in fields(Step))
_REWARDS_FIELDS = dict.fromkeys(f.name for f in fields(Rewards))


# --------------------------------------------------------------------------------------------------
# A fast path for well-formed records
#
# The full checks look at every field and deep-copy the free-form data, which costs more than
# json.loads itself. A record json.loads just made is JSON by construction and owned by nobody else,
# so the common, well-formed case only needs its shape checked (``from_dict(data, copy=False)``).
# _fast_trajectory accepts a record only if every field is exactly as the full checks accept it (the
# field sets come from the dataclasses, so a schema change sends records to the full checks);
# anything else goes to them, which either accept it (e.g. "NaN" in a number field) or name what is
# wrong.

_TRAJECTORY_KEYS = frozenset(f.name for f in fields(Trajectory))
_STEP_KEYS = frozenset(f.name for f in fields(Step))
_REWARDS_KEYS = frozenset(f.name for f in fields(Rewards))
_NUMBER_TYPES = (float, int)


def _float_list(values: Any) -> list[float] | None:
    """``values`` as a list of floats (itself when it already is one), or ``None``."""
    if type(values) is not list:
        return None
    for x in values:
        if type(x) is not float:
            if all(type(y) in _NUMBER_TYPES for y in values):
                return [float(y) for y in values]
            return None
    return values


def _float_map(values: Any) -> dict[str, float] | None:
    """``values`` as a dict of floats (itself when it already is one), or ``None``."""
    if type(values) is not dict:
        return None
    for x in values.values():
        if type(x) is not float:
            if all(type(y) in _NUMBER_TYPES for y in values.values()):
                return {key: float(y) for key, y in values.items()}
            return None
    return values


def _ints_ok(values: Any) -> bool:
    """Token ids: ``None`` or a list of integers."""
    return values is None or (type(values) is list and all(type(x) is int for x in values))


def _fast_step(data: Any) -> Step | None:
    if type(data) is not dict or data.keys() != _STEP_KEYS:
        return None
    reward, logprobs = data["reward"], data["logprobs"]
    components, timings = _float_map(data["reward_components"]), _float_map(data["timings"])
    if logprobs is not None:
        logprobs = _float_list(logprobs)
        if logprobs is None:
            return None
    if (
        components is None
        or timings is None
        or type(reward) not in _NUMBER_TYPES
        or type(data["action"]) not in (str, dict)
        or type(data["observation"]) is not str
        or type(data["invalid_action"]) is not bool
        or type(data["info"]) is not dict
        or type(data["tool_calls"]) is not list
        or not all(type(call) is dict for call in data["tool_calls"])
        or not _ints_ok(data["prompt_ids"])
        or not _ints_ok(data["completion_ids"])
    ):
        return None
    return Step(
        action=data["action"],
        tool_calls=data["tool_calls"],
        observation=data["observation"],
        reward=float(reward),
        reward_components=components,
        invalid_action=data["invalid_action"],
        timings=timings,
        prompt_ids=data["prompt_ids"],
        completion_ids=data["completion_ids"],
        logprobs=logprobs,
        info=data["info"],
    )


def _fast_trajectory(data: Any) -> Trajectory | None:
    """The trajectory of a well-formed record nobody else holds; ``None``: use the full checks."""
    if type(data) is not dict:
        return None
    if "error" not in data:
        data["error"] = None
    if "env_module" not in data:
        data["env_module"] = None
    if data.keys() != _TRAJECTORY_KEYS or data["schema"] != SCHEMA_VERSION:
        return None
    rewards, seed, messages = data["rewards"], data["seed"], data["messages"]
    if (
        type(rewards) is not dict
        or rewards.keys() != _REWARDS_KEYS
        or type(rewards["total"]) not in _NUMBER_TYPES
        or type(data["env_id"]) is not str
        or type(data["task_id"]) is not str
        or type(data["env_kwargs"]) is not dict
        or not (seed is None or type(seed) is int)
        or type(messages) is not list
        or not all(type(message) is dict for message in messages)
        or type(data["steps"]) is not list
        or type(data["terminated"]) is not bool
        or type(data["truncated"]) is not bool
        or type(data["policy"]) is not dict
        or not (data["error"] is None or type(data["error"]) is str)
        or not (data["env_module"] is None or type(data["env_module"]) is str)
        or type(data["created_at"]) is not str
    ):
        return None
    try:
        components, per_step = _float_map(rewards["components"]), _float_list(rewards["per_step"])
        steps = [_fast_step(step) for step in data["steps"]]
        if components is None or per_step is None or None in steps:
            return None
        return Trajectory(
            env_id=data["env_id"],
            task_id=data["task_id"],
            env_kwargs=data["env_kwargs"],
            seed=seed,
            messages=messages,
            steps=steps,  # type: ignore[arg-type]
            terminated=data["terminated"],
            truncated=data["truncated"],
            rewards=Rewards(total=float(rewards["total"]), components=components, per_step=per_step),
            policy=data["policy"],
            error=data["error"],
            created_at=data["created_at"],
            env_module=data["env_module"],
        )
    except OverflowError:  # an integer too large for a float: from_dict says so
        return None


def _parse_trajectory(data: Any) -> Trajectory:
    if not isinstance(data, dict):
        raise _expected("an object", data, "")
    # Checked before the fields: another version may well have other fields.
    if "schema" in data and data["schema"] != SCHEMA_VERSION:
        raise TrajectoryError(
            f"unknown schema {_show(data['schema'])} (this agentgym reads {SCHEMA_VERSION})"
        )
    # The optional fields (older records have neither).
    data = {"error": None, "env_module": None, **data}
    _check_fields(data, "", _TRAJECTORY_FIELDS)
    return Trajectory(
        env_id=_string(data["env_id"], "env_id"),
        task_id=_string(data["task_id"], "task_id"),
        env_kwargs=_object(data["env_kwargs"], "env_kwargs"),
        seed=None if data["seed"] is None else _integer(data["seed"], "seed"),
        messages=_array(data["messages"], "messages", _object),
        steps=_array(data["steps"], "steps", _parse_step),
        terminated=_boolean(data["terminated"], "terminated"),
        truncated=_boolean(data["truncated"], "truncated"),
        rewards=_parse_rewards(data["rewards"]),
        policy=_object(data["policy"], "policy"),
        error=_optional(_string, data["error"], "error"),
        created_at=_string(data["created_at"], "created_at"),
        env_module=_optional(_string, data["env_module"], "env_module"),
        schema=SCHEMA_VERSION,
    )


def _parse_step(data: Any, where: str) -> Step:
    _check_fields(data, where, _STEP_FIELDS)
    action = data["action"]
    if not isinstance(action, (str, dict)):
        raise _expected("a string or an object", action, f"{where}.action")
    return Step(
        action=_json(action, f"{where}.action"),
        tool_calls=_array(data["tool_calls"], f"{where}.tool_calls", _object),
        observation=_string(data["observation"], f"{where}.observation"),
        reward=_number(data["reward"], f"{where}.reward"),
        reward_components=_number_map(data["reward_components"], f"{where}.reward_components"),
        invalid_action=_boolean(data["invalid_action"], f"{where}.invalid_action"),
        timings=_number_map(data["timings"], f"{where}.timings"),
        prompt_ids=_optional(_integers, data["prompt_ids"], f"{where}.prompt_ids"),
        completion_ids=_optional(_integers, data["completion_ids"], f"{where}.completion_ids"),
        logprobs=_optional(_numbers, data["logprobs"], f"{where}.logprobs"),
        info=_object(data["info"], f"{where}.info"),
    )


def _parse_rewards(data: Any) -> Rewards:
    _check_fields(data, "rewards", _REWARDS_FIELDS)
    return Rewards(
        total=_number(data["total"], "rewards.total"),
        components=_number_map(data["components"], "rewards.components"),
        per_step=_numbers(data["per_step"], "rewards.per_step"),
    )


def _check_fields(data: Any, where: str, names: dict[str, None]) -> None:
    """Check that ``data`` is an object with exactly the fields ``names``."""
    if not isinstance(data, dict):
        raise _expected("an object", data, where)
    if data.keys() == names.keys():
        return
    unknown = [key for key in data if key not in names]
    if unknown:
        raise TrajectoryError(
            _at(where, f"{_plural('unknown field', unknown)} (not in {SCHEMA_VERSION})")
        )
    missing = [name for name in names if name not in data]
    if missing:
        raise TrajectoryError(_at(where, _plural("missing required field", missing)))


def _string(value: Any, where: str) -> str:
    if isinstance(value, str):
        return value
    raise _expected("a string", value, where)


def _boolean(value: Any, where: str) -> bool:
    if isinstance(value, bool):
        return value
    raise _expected("a boolean", value, where)


def _integer(value: Any, where: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise _expected("an integer", value, where)


def _number(value: Any, where: str) -> float:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            return float(value)
        except OverflowError:  # an integer too large for a float
            pass
    elif isinstance(value, str) and value in _NONFINITE:
        return _NONFINITE[value]
    raise _expected("a number", value, where)


def _optional(check: Callable[[Any, str], Any], value: Any, where: str) -> Any:
    return None if value is None else check(value, where)


def _array(value: Any, where: str, check: Callable[[Any, str], Any]) -> list[Any]:
    if not isinstance(value, list):
        raise _expected("an array", value, where)
    return [check(item, f"{where}[{index}]") for index, item in enumerate(value)]


# Token ids and logprobs can run to many thousands per step: check the common case without
# building an error path for every item.


def _integers(value: Any, where: str) -> list[int]:
    if not isinstance(value, list):
        raise _expected("an array", value, where)
    for index, item in enumerate(value):
        if type(item) is not int:
            _integer(item, f"{where}[{index}]")
    return list(value)


def _numbers(value: Any, where: str) -> list[float]:
    if not isinstance(value, list):
        raise _expected("an array", value, where)
    return [
        item if type(item) is float else _number(item, f"{where}[{index}]")
        for index, item in enumerate(value)
    ]


def _number_map(value: Any, where: str) -> dict[str, float]:
    return {key: _number(item, f"{where}[{key!r}]") for key, item in _object(value, where).items()}


def _object(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _expected("an object", value, where)
    return _json(value, where)


def _json(value: Any, where: str) -> Any:
    """Check that ``value`` is JSON data (as ``json.loads`` returns it) and return a deep copy."""
    if value is None or isinstance(value, (str, int, float)):
        return value
    if isinstance(value, list):
        return [_json(item, where) for item in value]
    if isinstance(value, dict):
        copy = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise TrajectoryError(f"{where}: object keys must be strings, got {_show(key)}")
            copy[key] = _json(item, where)
        return copy
    raise _expected("JSON data", value, where)


def _expected(what: str, value: Any, where: str) -> TrajectoryError:
    return TrajectoryError(_at(where, f"expected {what}, got {_show(value)}"))


def _at(where: str, message: str) -> str:
    return f"{where}: {message}" if where else message


def _plural(noun: str, names: list[Any]) -> str:
    listed = ", ".join(_show(name) for name in names)
    return f"{noun}{'s' if len(names) > 1 else ''} {listed}"


def _show(value: Any, limit: int = 60) -> str:
    """A short repr for error messages: a bad value can be a whole message list."""
    text = _safe_repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
