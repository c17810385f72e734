r"""The conversation: OpenAI-style chat messages ⇄ an episode's steps.

This module is the one home of everything that reads or writes a message: a message's content as
text (:func:`content_text`, :func:`message_text`), the tool calls of a message and the decoding of
their JSON arguments (:func:`decode_arguments`, :func:`message_calls`), the assistant message
recorded for an action, with or without the policy's token ids (:func:`assistant_message`), the
final-answer mark rewards read (:func:`mark_final`) and the rebuilding of steps from a saved
conversation (:func:`steps_from_messages`). ``AgentEnv.step``, the importers, the TRL/verl adapters,
the report, the rewards and the runner all call these, so an episode reads the same whether it was
played live, imported from a file or handed over by a trainer.

The runner keeps its own copy of each conversation (the envs may live in worker processes, and the
policy needs the token ids on each assistant message); it builds its assistant messages with
:func:`assistant_message` too, so its copy equals the env's record plus the token ids.

Examples:
    >>> steps = steps_from_messages([
    ...     {"role": "user", "content": "Capital of Peru?"},
    ...     {"role": "assistant", "content": None, "tool_calls": [
    ...         {"id": "c1", "type": "function", "function": {"name": "answer", "arguments": '{"answer": "Lima"}'}}]},
    ... ])
    >>> steps[0].info["final"]
    {'name': 'answer', 'arguments': {'answer': 'Lima'}}
    >>> answer_tag("I think <answer> Lima </answer>.")
    'Lima'
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from typing import Any

from agentgym.trajectory import Step

__all__ = [
    "FINAL_TOOLS",
    "answer_tag",
    "answer_tags",
    "assistant_message",
    "between",
    "content_text",
    "decode_arguments",
    "json_error",
    "mark_final",
    "message_calls",
    "message_text",
    "steps_from_messages",
    "template_messages",
    "tool_call_blocks",
    "without_blocks",
]

#: The tools whose call gives the final answer when no env says which (imported conversations).
FINAL_TOOLS: tuple[str, ...] = ("answer", "final_answer", "submit")

#: ``action -> ParsedAction``: an env's parser (``env.unwrapped.parse``).
Parser = Callable[[Any], Any]

_ANSWER_OPEN, _ANSWER_CLOSE = "<answer>", "</answer>"

#: The tags around a Hermes-style tool call written in text.
TOOL_CALL_OPEN, TOOL_CALL_CLOSE = "<tool_call>", "</tool_call>"


def content_text(content: Any) -> str:
    """A message's ``content`` as text.

    ``None`` is empty; a list of OpenAI content parts gives its text parts joined without separator
    (the other parts, images and the like, are left out); any other value is written with ``str``.

    Args:
        content: The ``content`` field of a message.

    Returns:
        The text.

    Examples:
        >>> content_text([{"type": "text", "text": "a"}, {"type": "image_url"}, {"type": "text", "text": "b"}])
        'ab'
        >>> content_text(None), content_text("hi")
        ('', 'hi')
    """
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, (list, tuple)):
        return "".join(
            part if isinstance(part, str) else part["text"]
            for part in content
            if isinstance(part, str) or (isinstance(part, Mapping) and isinstance(part.get("text"), str))
        )
    return str(content)


def decode_arguments(arguments: Any) -> tuple[Any, str | None]:
    """A tool call's arguments as data, decoding a JSON string.

    ``None`` and a blank string mean no arguments. Never raises: text that is not JSON (or that
    Python cannot decode, such as an integer of more than 4,300 digits or nesting past the recursion
    limit) comes back unchanged with the reason.

    Args:
        arguments: The ``arguments`` of a call: a JSON string, a dict, or anything a model sent.

    Returns:
        ``(value, error)``: the decoded value and ``None``, or ``arguments`` unchanged and why it
        does not decode.

    Examples:
        >>> decode_arguments('{"x": 1}'), decode_arguments(None), decode_arguments({"y": 2})
        (({'x': 1}, None), ({}, None), ({'y': 2}, None))
        >>> decode_arguments('{"x": ')[1]
        'Expecting value: line 1 column 7 (char 6)'
        >>> decode_arguments('{"n": ' + "9" * 5000 + "}")[1]
        'a number is too long (over 4,300 digits)'
    """
    if arguments is None or (isinstance(arguments, str) and not arguments.strip()):
        return {}, None
    if not isinstance(arguments, str):
        return arguments, None
    try:
        return json.loads(arguments), None
    except (ValueError, RecursionError) as exc:
        return arguments, json_error(exc)


def json_error(exc: BaseException) -> str:
    """Why ``json.loads`` refused a text, in words for the agent.

    Args:
        exc: What ``json.loads`` raised: a ``JSONDecodeError``, the ``ValueError`` of an integer
            past Python's 4,300-digit limit, or a ``RecursionError``.

    Returns:
        The reason.

    Examples:
        >>> try:
        ...     json.loads("[" * 100_000)
        ... except RecursionError as exc:
        ...     json_error(exc)
        'nested too deeply'
    """
    if isinstance(exc, RecursionError):
        return "nested too deeply"
    if isinstance(exc, ValueError) and not isinstance(exc, json.JSONDecodeError) and "digits" in str(exc):
        return "a number is too long (over 4,300 digits)"
    return str(exc)


def message_calls(message: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The structured tool calls of a message, as agentgym's ``{"name", "arguments", "id"}`` dicts.

    Reads OpenAI ``tool_calls`` entries (``{"id", "function": {"name", "arguments"}}``) and flat
    ``{"name", "arguments"}`` entries. Arguments are decoded when they are JSON text and kept as
    written otherwise (the reward decides what a malformed call is worth); entries that are not
    objects are skipped.

    Args:
        message: An OpenAI-format message.

    Returns:
        The calls, in order.

    Examples:
        >>> call = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": '{"x": 1}'}}
        >>> message_calls({"role": "assistant", "tool_calls": [call, "junk"]})
        [{'name': 'f', 'arguments': {'x': 1}, 'id': 'c1'}]
    """
    tool_calls = message.get("tool_calls")
    if not isinstance(tool_calls, (list, tuple)):
        return []
    calls = []
    for call in tool_calls:
        if not isinstance(call, Mapping):
            continue
        function = call.get("function") if isinstance(call.get("function"), Mapping) else call
        arguments, _ = decode_arguments(function.get("arguments", function.get("parameters")))
        calls.append({"name": function.get("name"), "arguments": arguments, "id": call.get("id")})
    return calls


def message_text(message: Mapping[str, Any]) -> str:
    """A message's content as text, with its structured tool calls written out Hermes-style.

    Args:
        message: An OpenAI-format message.

    Returns:
        The content (:func:`content_text`), then one ``<tool_call>{"name", "arguments"}</tool_call>``
        block per structured tool call.

    Examples:
        >>> call = {"type": "function", "function": {"name": "f", "arguments": '{"x": 1}'}}
        >>> print(message_text({"role": "assistant", "content": "ok", "tool_calls": [call]}))
        ok
        <tool_call>
        {"name": "f", "arguments": {"x": 1}}
        </tool_call>
    """
    text = content_text(message.get("content"))
    for call in message_calls(message):
        payload = json.dumps({"name": call["name"], "arguments": call["arguments"]}, ensure_ascii=False, default=str)
        text += f"\n<tool_call>\n{payload}\n</tool_call>"
    return text


def template_messages(messages: Sequence[Mapping[str, Any]], native_tools: bool) -> list[dict[str, Any]]:
    """Copies of messages ready for a chat template.

    A template that renders ``tool_calls`` itself gets them as they are (with ``""`` for a missing
    content); for any other template the calls are written into the content Hermes-style
    (:func:`message_text`), never silently dropped.

    Args:
        messages: OpenAI-format messages.
        native_tools: Whether the chat template renders ``tool_calls``.

    Returns:
        New message dicts.

    Examples:
        >>> call = {"type": "function", "function": {"name": "f", "arguments": "{}"}}
        >>> message = {"role": "assistant", "content": "ok", "tool_calls": [call]}
        >>> print(template_messages([message], False)[0]["content"])
        ok
        <tool_call>
        {"name": "f", "arguments": {}}
        </tool_call>
        >>> template_messages([{"role": "assistant", "content": None, "tool_calls": [call]}], True)[0]["content"]
        ''
    """
    prepared = []
    for message in messages:
        clean = dict(message)
        if native_tools and clean.get("tool_calls"):
            clean["content"] = clean.get("content") or ""
        else:
            clean.pop("tool_calls", None)
            clean["content"] = message_text(message)
        prepared.append(clean)
    return prepared


def assistant_message(action: Any, tokens: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The assistant message that records an action, whatever its shape.

    Args:
        action: The completion text, or an assistant message dict (its ``content`` and
            ``tool_calls`` are kept, other keys dropped; a message that cannot be written as JSON,
            such as one holding an integer past Python's 4,300-digit limit, is recorded as a note
            saying so, so that the episode's record stays writable).
        tokens: Token ids to carry on the message (``prompt_ids``, ``completion_ids``), as the runner
            does for a tokenizing policy; ``None`` values are left out.

    Returns:
        A new ``{"role": "assistant", ...}`` dict.

    Examples:
        >>> assistant_message("hi")
        {'role': 'assistant', 'content': 'hi'}
        >>> assistant_message({"role": "assistant", "content": None, "tool_calls": [], "x": 1}, {"completion_ids": [5]})
        {'role': 'assistant', 'content': None, 'tool_calls': [], 'completion_ids': [5]}
        >>> huge = [{"function": {"name": "f", "arguments": {"n": 10**5000}}}]
        >>> print(assistant_message({"content": None, "tool_calls": huge})["content"])
        [a message that cannot be recorded as JSON: a number is too long (over 4,300 digits)]
    """
    if isinstance(action, Mapping):
        message = {"role": "assistant", **{k: v for k, v in action.items() if k in ("content", "tool_calls")}}
        problem = _not_json(message)
        if problem is not None:  # e.g. an integer past 4,300 digits: the record must stay writable
            message = {"role": "assistant", "content": f"[a message that cannot be recorded as JSON: {problem}]"}
    elif isinstance(action, str):
        message = {"role": "assistant", "content": action}
    else:
        message = {"role": "assistant", "content": repr(action)}
    for key, value in (tokens or {}).items():
        if value is not None:
            message[key] = value
    return message


def _not_json(value: Any) -> str | None:
    """Why ``value`` cannot be written as JSON, or ``None`` when it can."""
    try:
        json.dumps(value, ensure_ascii=False)
    except (ValueError, TypeError, RecursionError) as exc:
        return json_error(exc) if not isinstance(exc, TypeError) else str(exc)
    return None


def mark_final(step: Step, name: str, arguments: Any) -> None:
    """Record a step's final-answer call where rewards look for it (``step.info["final"]``).

    Args:
        step: The step.
        name: The final tool's name.
        arguments: The call's arguments (anything but a dict is recorded as no arguments).

    Examples:
        >>> step = Step(action="...")
        >>> mark_final(step, "answer", {"answer": "Lima"})
        >>> step.info
        {'final': {'name': 'answer', 'arguments': {'answer': 'Lima'}}}
    """
    step.info["final"] = {"name": name, "arguments": dict(arguments) if isinstance(arguments, Mapping) else {}}


def between(text: str, opening: str, closing: str) -> list[str]:
    r"""The texts between each ``opening`` and the next ``closing`` after it, in order.

    What ``re.findall(re.escape(opening) + "(.*?)" + re.escape(closing), text, re.DOTALL)``
    returns, in linear time: that regex rescans the rest of the text from every unclosed
    ``opening`` (200 KB of ``<answer>`` took seconds). The one linear tag reader: :func:`answer_tags`,
    ``extract_sql``'s fences and the judges' reply blocks use it.

    Args:
        text: Any text, e.g. a model's completion.
        opening: The marker a block starts with.
        closing: The marker it ends with.

    Returns:
        The blocks' contents, unstripped.

    Examples:
        >>> between("<answer> a </answer> x <answer>b</answer><answer>c", "<answer>", "</answer>")
        [' a ', 'b']
        >>> between("```sql\nSELECT 1```", "```sql", "```")
        ['\nSELECT 1']
    """
    return [text[start + len(opening) : end - len(closing)] for start, end in _block_spans(text, opening, closing)]


def without_blocks(text: str, opening: str, closing: str) -> str:
    """``text`` with each block :func:`between` finds removed, markers included, in linear time.

    Examples:
        >>> without_blocks("a<x>1</x>b<x>2</x>c<x>3", "<x>", "</x>")
        'abc<x>3'
    """
    kept = []
    position = 0
    for start, end in _block_spans(text, opening, closing):
        kept.append(text[position:start])
        position = end
    kept.append(text[position:])
    return "".join(kept)


def _block_spans(text: str, opening: str, closing: str) -> Iterator[tuple[int, int]]:
    """``(start, end)`` of each ``opening`` ... ``closing`` block, markers included (see :func:`between`)."""
    start = text.find(opening)
    while start != -1:
        end = text.find(closing, start + len(opening))
        if end == -1:
            return  # no later opening has a closing after it either
        yield start, end + len(closing)
        start = text.find(opening, end + len(closing))


def answer_tags(text: str) -> list[str]:
    """The texts of the ``<answer>...</answer>`` blocks of ``text``, in order, as written.

    A block runs from an ``<answer>`` to the first ``</answer>`` after it (what the regex
    ``<answer>(.*?)</answer>`` finds), but the blocks are found with ``str.find``, so the cost is
    linear in the length of ``text`` whatever it holds.

    Args:
        text: A completion.

    Returns:
        The blocks' texts (not stripped).

    Examples:
        >>> answer_tags("<answer> a </answer> x <answer>b<answer>c</answer> <answer>open")
        [' a ', 'b<answer>c']
    """
    if not isinstance(text, str):
        return []
    return between(text, _ANSWER_OPEN, _ANSWER_CLOSE)


def answer_tag(text: str) -> str | None:
    """The text of the last ``<answer>...</answer>`` block of ``text`` (:func:`answer_tags`), stripped.

    Args:
        text: A completion.

    Returns:
        The answer, or ``None`` when there is no closed block.

    Examples:
        >>> answer_tag("<answer>a</answer> then <answer>b</answer>"), answer_tag("<answer>open")
        ('b', None)
    """
    found = answer_tags(text)
    return found[-1].strip() if found else None


def steps_from_messages(
    messages: Sequence[Mapping[str, Any]],
    *,
    parse: Parser | None = None,
    final_tools: Collection[str] = FINAL_TOOLS,
) -> list[Step]:
    """Rebuild an episode's steps from its conversation.

    Each assistant message is one step; the messages after it up to the next assistant message are
    its observation. With ``parse`` (an env's parser) the step's tool calls, ``invalid_action`` and
    final call are what the env itself would make of the action; without it, the message's
    structured ``tool_calls`` are taken as they are, or, when it has none, the Hermes
    ``<tool_call>`` blocks of its text. A call to a tool in ``final_tools`` ends the episode: it is
    recorded in ``step.info["final"]`` (:func:`mark_final`), and later calls of that action are
    dropped, as the env drops them. A tool result starting with ``"Error:"`` (agentgym's convention
    for a failed call) also marks the step invalid.

    Args:
        messages: OpenAI chat messages (system and user messages before the first assistant
            message are the prompt and make no step).
        parse: ``action -> ParsedAction``, e.g. ``env.unwrapped.parse``.
        final_tools: Names of the tools that give the final answer.

    Returns:
        The steps, in order.

    Examples:
        >>> steps = steps_from_messages([
        ...     {"role": "user", "content": "Capital of Peru?"},
        ...     {"role": "assistant", "content": "", "tool_calls": [
        ...         {"id": "c1", "function": {"name": "search", "arguments": '{"query": "Peru"}'}}]},
        ...     {"role": "tool", "tool_call_id": "c1", "content": "Peru: capital Lima"},
        ...     {"role": "assistant",
        ...      "content": '<tool_call>{"name": "answer", "arguments": {"answer": "Lima"}}</tool_call>'},
        ... ])
        >>> [step.tool_calls[0]["name"] for step in steps], steps[0].observation
        (['search', 'answer'], 'Peru: capital Lima')
        >>> steps[1].info["final"]
        {'name': 'answer', 'arguments': {'answer': 'Lima'}}
    """
    steps: list[Step] = []
    observations: list[list[str]] = []
    for message in messages:
        if not isinstance(message, Mapping):
            continue
        if message.get("role") == "assistant":
            steps.append(_step(message, parse, final_tools))
            observations.append([])
        elif observations:
            text = content_text(message.get("content"))
            observations[-1].append(text)
            if message.get("role") == "tool" and text.startswith("Error:"):
                steps[-1].invalid_action = True
    for step, texts in zip(steps, observations, strict=True):
        step.observation = "\n\n".join(texts)
    return steps


def _step(message: Mapping[str, Any], parse: Parser | None, final_tools: Collection[str]) -> Step:
    if message.get("tool_calls"):
        action: str | dict[str, Any] = {"role": "assistant", "content": content_text(message.get("content"))}
        action["tool_calls"] = message["tool_calls"]
    else:
        action = content_text(message.get("content"))
    invalid = False
    if parse is not None:
        parsed = parse(action)
        invalid = parsed.error is not None
        calls = [call.to_dict() for call in parsed.calls]
    elif isinstance(action, dict):
        calls = message_calls(message)
    else:
        calls = _text_calls(action)
    step = Step(action=action, tool_calls=calls, invalid_action=invalid)
    for index, call in enumerate(calls):
        if call.get("name") in final_tools:
            mark_final(step, call["name"], call.get("arguments"))
            del calls[index + 1 :]  # calls after a final answer are not run
            break
    return step


def _text_calls(text: str) -> list[dict[str, Any]]:
    """The Hermes ``<tool_call>`` blocks of a text, read without any tool list (none when malformed)."""
    if TOOL_CALL_OPEN not in text:
        return []
    _, blocks, problem = tool_call_blocks(text)
    if problem is not None:
        return []
    objects = [decode_arguments(block.strip())[0] for block in blocks]
    return message_calls({"tool_calls": [obj for obj in objects if isinstance(obj, Mapping)]})


def tool_call_blocks(text: str) -> tuple[str, list[str], str | None]:
    """Split a text into what is outside its ``<tool_call>...</tool_call>`` blocks and the blocks' insides.

    Linear: the tags are found with ``str.find``.

    Args:
        text: A completion.

    Returns:
        ``(outside, blocks, problem)``: the text outside the blocks, stripped, the blocks' insides,
        and ``None``, or, when a tag is unmatched, the text before it, the blocks so far and what
        is wrong, in words for the agent.

    Examples:
        >>> tool_call_blocks('Hi <tool_call>{"name": "f"}</tool_call> there')
        ('Hi  there', ['{"name": "f"}'], None)
        >>> tool_call_blocks("Hi <tool_call>{")[2]
        'A <tool_call> is not closed: end each call with </tool_call>.'
    """
    outside: list[str] = []
    blocks: list[str] = []
    pos = 0
    while (start := text.find(TOOL_CALL_OPEN, pos)) != -1:
        end = text.find(TOOL_CALL_CLOSE, start + len(TOOL_CALL_OPEN))
        outside.append(text[pos:start])
        if end == -1 or TOOL_CALL_OPEN in text[start + len(TOOL_CALL_OPEN) : end]:
            problem = f"A {TOOL_CALL_OPEN} is not closed: end each call with {TOOL_CALL_CLOSE}."
            return "".join(outside).strip(), blocks, problem
        blocks.append(text[start + len(TOOL_CALL_OPEN) : end])
        pos = end + len(TOOL_CALL_CLOSE)
    outside.append(text[pos:])
    content = "".join(outside).strip()
    if TOOL_CALL_CLOSE in content:
        return content, blocks, f"Found {TOOL_CALL_CLOSE} without a matching {TOOL_CALL_OPEN} before it."
    return content, blocks, None
