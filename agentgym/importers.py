r"""Trajectories from other tools' files: the input layer of ``agentgym score``.

Each JSONL line is one episode. Its format is detected per line (:func:`detect_format`) or named
with ``agentgym score --input-format``:

``agentgym``
    agentgym's own record (:mod:`agentgym.trajectory`), recognized by its ``"schema"`` field::

        {"schema": "agentgym.trajectory/1", "env_id": "agentgym/DeepSearch-v0", "task_id": "fb-0001", ...}

``openai``
    OpenAI chat messages plus the task id; ``env_id`` (and ``env_kwargs``) may be left out and given
    with ``agentgym score --env``::

        {"messages": [{"role": "user", "content": "What is the capital of Peru?"},
                      {"role": "assistant", "content": "<answer>Lima</answer>"}],
         "task_id": "fb-0001", "env_id": "agentgym/DeepSearch-v0"}

``sharegpt``
    ShareGPT / AgentGym conversations: ``from`` is ``human``, ``gpt``, ``system``,
    ``function_call`` (its value a JSON ``{"name", "arguments"}``) or ``observation``; the task id
    is ``task_id``, ``item_id`` or ``id``::

        {"conversations": [{"from": "human", "value": "What is the capital of Peru?"},
                           {"from": "function_call",
                            "value": "{\"name\": \"search\", \"arguments\": {\"query\": \"Peru\"}}"},
                           {"from": "observation", "value": "[1] Peru ..."},
                           {"from": "gpt", "value": "<answer>Lima</answer>"}],
         "item_id": "fb-0001"}

``verifiers``
    A row of the ``results.jsonl`` that ``vf-eval`` saves (verifiers' ``RolloutOutput``):
    ``prompt`` and ``completion`` (chat messages, or strings), ``answer``, ``info``, ``reward``,
    ``metrics``, ``is_truncated``, ``example_id`` (older versions: ``id``, ``task``). The task id is
    ``info["task_id"]``, ``task_id``, ``example_id`` or ``id``; the env is ``env_id`` or
    ``info["env_id"]`` when present::

        {"example_id": 0, "prompt": [{"role": "user", "content": "What is the capital of Peru?"}],
         "completion": [{"role": "assistant", "content": "<answer>Lima</answer>"}],
         "answer": "Lima", "info": {}, "reward": 1.0, "metrics": {"correct_answer": 1.0}}

How a conversation becomes steps (:func:`steps_from_messages`): each assistant message is a step's
``action`` (its text, or the message itself when it has ``tool_calls``); the tool, user and
observation messages after it, joined by a blank line, are the step's ``observation``. With the
env's own parser (``parse=env.unwrapped.parse``, as ``agentgym score`` passes it), tool calls are
read exactly as the env reads them at rollout, and a call to a ``final`` tool is recorded in
``step.info["final"]``, where rewards look for the answer; ``<answer>...</answer>`` text works
either way (:func:`agentgym.rewards.base.final_answer`). An episode with a final call is
``terminated``, one without is ``truncated`` (it ended before answering).

A record without an env (verifiers rows usually have none) can still be scored by rules such as
exact match: :func:`row_task` builds its task from the record's own ``answer``.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from typing import Any

from agentgym.core import Task
from agentgym.messages import FINAL_TOOLS, content_text, decode_arguments, steps_from_messages
from agentgym.tools import ParsedAction
from agentgym.trajectory import Rewards, Trajectory, TrajectoryError

__all__ = [
    "FINAL_TOOLS",
    "FORMATS",
    "detect_format",
    "env_of",
    "from_openai",
    "from_sharegpt",
    "from_verifiers",
    "row_task",
    "sharegpt_messages",
    "steps_from_messages",
    "task_id_of",
    "to_trajectory",
]

#: The input formats, in the order :func:`detect_format` tries them.
FORMATS: tuple[str, ...] = ("agentgym", "sharegpt", "verifiers", "openai")

#: ``parse(action) -> ParsedAction``: an env's parser, ``env.unwrapped.parse``.
Parser = Callable[[Any], ParsedAction]

_SHAREGPT_ROLES = {
    "human": "user",
    "user": "user",
    "gpt": "assistant",
    "assistant": "assistant",
    "system": "system",
    "function_call": "assistant",
    "observation": "tool",
    "tool": "tool",
    "function": "tool",
}


def detect_format(record: Any) -> str:
    """Which format a decoded JSONL record is in.

    Args:
        record: The decoded line.

    Returns:
        One of :data:`FORMATS`.

    Raises:
        TrajectoryError: If the record is not an object or matches no format.

    Examples:
        >>> detect_format({"schema": "agentgym.trajectory/1"}), detect_format({"messages": [], "task_id": "t"})
        ('agentgym', 'openai')
        >>> detect_format({"conversations": []}), detect_format({"prompt": [], "completion": []})
        ('sharegpt', 'verifiers')
        >>> detect_format({"text": "hi"})
        Traceback (most recent call last):
        ...
        agentgym.trajectory.TrajectoryError: unrecognized record with keys 'text': expected an agentgym \
trajectory ("schema"), OpenAI messages ("messages"), ShareGPT conversations ("conversations") or a \
verifiers result ("prompt" and "completion")
    """
    if not isinstance(record, dict):
        raise TrajectoryError(f"expected a JSON object, got {type(record).__name__}")
    if "schema" in record or ("steps" in record and "env_id" in record):
        return "agentgym"
    if "conversations" in record:
        return "sharegpt"
    if "prompt" in record and "completion" in record:
        return "verifiers"
    if "messages" in record:
        return "openai"
    keys = ", ".join(repr(key) for key in list(record)[:8]) or "none"
    raise TrajectoryError(
        f'unrecognized record with keys {keys}: expected an agentgym trajectory ("schema"), OpenAI messages '
        '("messages"), ShareGPT conversations ("conversations") or a verifiers result ("prompt" and "completion")'
    )


def task_id_of(record: Mapping[str, Any], format: str) -> str:
    """The task id a record names.

    Args:
        record: The decoded line.
        format: Its format.

    Returns:
        The id, as a string.

    Raises:
        TrajectoryError: If the record names no task.

    Examples:
        >>> task_id_of({"item_id": "webshop_12"}, "sharegpt"), task_id_of({"example_id": 3}, "verifiers")
        ('webshop_12', '3')
    """
    info = record.get("info") if isinstance(record.get("info"), Mapping) else {}
    keys = {"sharegpt": ("task_id", "item_id", "id"), "verifiers": ("task_id", "example_id", "id")}
    for key in keys.get(format, ("task_id", "id")):
        value = info.get(key) if key == "task_id" and key in info else record.get(key)
        if value is not None and not isinstance(value, (dict, list, bool)):
            return str(value)
    names = " or ".join(repr(key) for key in keys.get(format, ("task_id", "id")))
    raise TrajectoryError(f"missing task id: a {format} record needs {names}")


def env_of(record: Mapping[str, Any]) -> tuple[str | None, dict[str, Any]]:
    """The env a record names, if any: ``(env_id, env_kwargs)`` from the record or its ``info``.

    Examples:
        >>> env_of({"env_id": "agentgym/DeepSearch-v0", "env_kwargs": {"max_turns": 12}})
        ('agentgym/DeepSearch-v0', {'max_turns': 12})
        >>> env_of({"info": {"env_id": "toy/Capitals-v0"}}), env_of({})
        (('toy/Capitals-v0', {}), (None, {}))
    """
    for source in (record, record.get("info")):
        if isinstance(source, Mapping) and isinstance(source.get("env_id"), str) and source["env_id"]:
            kwargs = source.get("env_kwargs")
            if kwargs is not None and not isinstance(kwargs, dict):
                raise TrajectoryError(f"env_kwargs: expected an object, got {type(kwargs).__name__}")
            return source["env_id"], dict(kwargs or {})
    return None, {}


# --------------------------------------------------------------------------------------------------
# Messages to steps


def _trajectory(
    messages: list[dict[str, Any]],
    *,
    env_id: str,
    task_id: str,
    env_kwargs: dict[str, Any] | None,
    parse: Parser | None,
    final_tools: Collection[str],
    truncated: bool = False,
    rewards: Rewards | None = None,
) -> Trajectory:
    steps = steps_from_messages(messages, parse=parse, final_tools=final_tools)
    terminated = not truncated and any("final" in step.info for step in steps)
    return Trajectory(
        env_id=env_id,
        task_id=task_id,
        env_kwargs=dict(env_kwargs or {}),
        messages=messages,
        steps=steps,
        terminated=terminated,
        truncated=not terminated,
        rewards=rewards or Rewards(),
    )


def _messages(value: Any, where: str) -> list[dict[str, Any]]:
    if isinstance(value, str):
        return [{"role": "user" if where == "prompt" else "assistant", "content": value}]
    if not isinstance(value, list):
        raise TrajectoryError(f"{where}: expected a list of messages, got {type(value).__name__}")
    for index, message in enumerate(value):
        if not isinstance(message, dict):
            raise TrajectoryError(f"{where}[{index}]: expected a message object, got {type(message).__name__}")
        if not isinstance(message.get("role"), str):
            raise TrajectoryError(f"{where}[{index}]: missing the message's 'role'")
    return value


# --------------------------------------------------------------------------------------------------
# The formats


def from_openai(
    record: Mapping[str, Any],
    *,
    env_id: str | None = None,
    env_kwargs: dict[str, Any] | None = None,
    parse: Parser | None = None,
    final_tools: Collection[str] = FINAL_TOOLS,
) -> Trajectory:
    """A trajectory from an OpenAI-messages record (``{"messages", "task_id", "env_id"?}``).

    Args:
        record: The decoded line.
        env_id: The env when the record names none (its own ``env_id`` wins).
        env_kwargs: The env's kwargs when the record names no env.
        parse: The env's parser (see :func:`steps_from_messages`).
        final_tools: The final-answer tools when there is no parser.

    Returns:
        The trajectory.

    Raises:
        TrajectoryError: If the record is malformed.

    Examples:
        >>> t = from_openai({"messages": [{"role": "user", "content": "2+2?"},
        ...                               {"role": "assistant", "content": "<answer>4</answer>"}],
        ...                  "task_id": "add-1"}, env_id="toy/Math-v0")
        >>> t.env_id, t.task_id, len(t.steps), t.truncated
        ('toy/Math-v0', 'add-1', 1, True)
    """
    own_env, own_kwargs = env_of(record)
    return _trajectory(
        _messages(record.get("messages"), "messages"),
        env_id=own_env or env_id or "",
        task_id=task_id_of(record, "openai"),
        env_kwargs=own_kwargs if own_env else env_kwargs,
        parse=parse,
        final_tools=final_tools,
    )


def sharegpt_messages(record: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The OpenAI chat messages of a ShareGPT / AgentGym record.

    Args:
        record: The decoded line, with ``conversations`` (and optionally a top-level ``system``).

    Returns:
        The messages; a ``function_call`` turn becomes an assistant message with ``tool_calls``.

    Raises:
        TrajectoryError: If a turn is malformed or its speaker unknown.

    Examples:
        >>> sharegpt_messages({"conversations": [
        ...     {"from": "human", "value": "Peru?"},
        ...     {"from": "function_call", "value": '{"name": "search", "arguments": {"query": "Peru"}}'},
        ...     {"from": "observation", "value": "Lima"}]})[1:]
        [{'role': 'assistant', 'content': '', 'tool_calls': [{'id': 'call_1', 'type': 'function', \
'function': {'name': 'search', 'arguments': {'query': 'Peru'}}}]}, {'role': 'tool', 'content': 'Lima'}]
    """
    turns = record.get("conversations")
    if not isinstance(turns, list):
        raise TrajectoryError(f"conversations: expected a list of turns, got {type(turns).__name__}")
    messages: list[dict[str, Any]] = []
    if isinstance(record.get("system"), str) and record["system"]:
        messages.append({"role": "system", "content": record["system"]})
    for index, turn in enumerate(turns):
        if not isinstance(turn, dict):
            raise TrajectoryError(f"conversations[{index}]: expected an object, got {type(turn).__name__}")
        speaker = turn.get("from", turn.get("role"))
        value = turn.get("value", turn.get("content"))
        if speaker not in _SHAREGPT_ROLES:
            known = ", ".join(sorted(_SHAREGPT_ROLES))
            raise TrajectoryError(f"conversations[{index}].from: unknown speaker {speaker!r} (known: {known})")
        text = content_text(value)
        if speaker == "function_call":
            call, _ = decode_arguments(text)
            if isinstance(call, dict) and isinstance(call.get("name"), str):
                function = {"name": call["name"], "arguments": call.get("arguments", {})}
                tool_call = {"id": f"call_{index}", "type": "function", "function": function}
                messages.append({"role": "assistant", "content": "", "tool_calls": [tool_call]})
                continue
        messages.append({"role": _SHAREGPT_ROLES[speaker], "content": text})
    return messages


def from_sharegpt(
    record: Mapping[str, Any],
    *,
    env_id: str | None = None,
    env_kwargs: dict[str, Any] | None = None,
    parse: Parser | None = None,
    final_tools: Collection[str] = FINAL_TOOLS,
) -> Trajectory:
    """A trajectory from a ShareGPT / AgentGym ``conversations`` record.

    Args:
        record: The decoded line.
        env_id: The env when the record names none.
        env_kwargs: The env's kwargs when the record names no env.
        parse: The env's parser (see :func:`steps_from_messages`).
        final_tools: The final-answer tools when there is no parser.

    Returns:
        The trajectory.

    Raises:
        TrajectoryError: If the record is malformed.

    Examples:
        >>> t = from_sharegpt({"item_id": "webshop_12", "conversations": [
        ...     {"from": "human", "value": "Buy a red mug."},
        ...     {"from": "gpt", "value": "Action: search[red mug]"},
        ...     {"from": "human", "value": "Results: ..."}]}, env_id="toy/Shop-v0")
        >>> t.task_id, t.steps[0].action, t.steps[0].observation
        ('webshop_12', 'Action: search[red mug]', 'Results: ...')
    """
    own_env, own_kwargs = env_of(record)
    return _trajectory(
        sharegpt_messages(record),
        env_id=own_env or env_id or "",
        task_id=task_id_of(record, "sharegpt"),
        env_kwargs=own_kwargs if own_env else env_kwargs,
        parse=parse,
        final_tools=final_tools,
    )


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def from_verifiers(
    record: Mapping[str, Any],
    *,
    env_id: str | None = None,
    env_kwargs: dict[str, Any] | None = None,
    parse: Parser | None = None,
    final_tools: Collection[str] = FINAL_TOOLS,
) -> Trajectory:
    """A trajectory from a row of verifiers' ``results.jsonl``.

    The messages are ``prompt`` + ``completion``. The reward verifiers recorded goes to
    ``rewards.total`` and its numeric ``metrics`` to ``rewards.components`` (for comparison; the
    score is recomputed). ``is_truncated`` marks the episode truncated.

    Args:
        record: The decoded line.
        env_id: The env when the record names none.
        env_kwargs: The env's kwargs when the record names no env.
        parse: The env's parser (see :func:`steps_from_messages`).
        final_tools: The final-answer tools when there is no parser.

    Returns:
        The trajectory.

    Raises:
        TrajectoryError: If the record is malformed.

    Examples:
        >>> t = from_verifiers({"example_id": 7, "prompt": [{"role": "user", "content": "2+2?"}],
        ...                     "completion": [{"role": "assistant", "content": "<answer>4</answer>"}],
        ...                     "answer": "4", "reward": 1.0, "metrics": {"correct": 1.0}})
        >>> t.task_id, t.rewards.total, t.rewards.components, [m["role"] for m in t.messages]
        ('7', 1.0, {'correct': 1.0}, ['user', 'assistant'])
    """
    own_env, own_kwargs = env_of(record)
    messages = _messages(record.get("prompt"), "prompt") + _messages(record.get("completion"), "completion")
    metrics = record.get("metrics") if isinstance(record.get("metrics"), Mapping) else {}
    components = {str(key): number for key, value in metrics.items() if (number := _number(value)) is not None}
    reward = _number(record.get("reward"))
    return _trajectory(
        messages,
        env_id=own_env or env_id or "",
        task_id=task_id_of(record, "verifiers"),
        env_kwargs=own_kwargs if own_env else env_kwargs,
        parse=parse,
        final_tools=final_tools,
        truncated=bool(record.get("is_truncated")),
        rewards=Rewards(total=reward if reward is not None else 0.0, components=components),
    )


_IMPORTERS = {"openai": from_openai, "sharegpt": from_sharegpt, "verifiers": from_verifiers}


def to_trajectory(
    record: Any,
    format: str | None = None,
    *,
    env_id: str | None = None,
    env_kwargs: dict[str, Any] | None = None,
    parse: Parser | None = None,
    final_tools: Collection[str] = FINAL_TOOLS,
) -> Trajectory:
    """A trajectory from a decoded record of any format.

    Args:
        record: The decoded line.
        format: One of :data:`FORMATS`; ``None`` detects it.
        env_id: The env when the record names none (ignored for agentgym records).
        env_kwargs: The env's kwargs when the record names no env.
        parse: The env's parser, for the conversation formats.
        final_tools: The final-answer tools when there is no parser.

    Returns:
        The trajectory.

    Raises:
        TrajectoryError: If the record is malformed or not in ``format``.
        ValueError: If ``format`` is not a known format.

    Examples:
        >>> to_trajectory({"messages": [], "task_id": "t1"}, env_id="x").task_id
        't1'
        >>> to_trajectory({"messages": []}, "openai")
        Traceback (most recent call last):
        ...
        agentgym.trajectory.TrajectoryError: missing task id: a openai record needs 'task_id' or 'id'
    """
    if format is None:
        format = detect_format(record)
    elif format not in FORMATS:
        raise ValueError(f"unknown input format {format!r}; choose one of {', '.join(FORMATS)}")
    elif not isinstance(record, dict):
        raise TrajectoryError(f"expected a JSON object, got {type(record).__name__}")
    if format == "agentgym":
        return Trajectory.from_dict(record)
    return _IMPORTERS[format](record, env_id=env_id, env_kwargs=env_kwargs, parse=parse, final_tools=final_tools)


def row_task(record: Mapping[str, Any], format: str) -> Task | None:
    """A task built from the record itself, for scoring a record that names no env.

    The gold answer is the record's ``answer`` (or ``info["answer"]``), plus the entries of a
    ``gold`` object when there is one; the prompt is the first user message's text; ``info`` is
    the metadata.

    Args:
        record: The decoded line (not an agentgym record).
        format: Its format.

    Returns:
        The task, or ``None`` when the record carries no gold answer.

    Examples:
        >>> task = row_task({"example_id": 1, "prompt": "2+2?", "completion": "4", "answer": "4"}, "verifiers")
        >>> task.id, task.prompt, dict(task.gold)
        ('1', '2+2?', {'answer': '4'})
        >>> row_task({"messages": [], "task_id": "t"}, "openai") is None
        True
    """
    info = record.get("info") if isinstance(record.get("info"), Mapping) else {}
    gold: dict[str, Any] = dict(record["gold"]) if isinstance(record.get("gold"), Mapping) else {}
    answer = record.get("answer", info.get("answer"))
    if answer not in (None, ""):
        gold["answer"] = answer
    if not gold:
        return None
    if format == "verifiers":
        prompt = record.get("prompt")
        messages = [{"role": "user", "content": prompt}] if isinstance(prompt, str) else prompt
    elif format == "sharegpt":
        messages = sharegpt_messages(record)
    else:
        messages = record.get("messages")
    users = (m for m in messages or () if isinstance(m, Mapping) and m.get("role") == "user")
    question = next((content_text(m.get("content")) for m in users), "")
    return Task(id=task_id_of(record, format), prompt=question, gold=gold, metadata=dict(info))
