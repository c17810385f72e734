"""The environment protocol: tasks, text spaces and :class:`AgentEnv`, the base of every agentgym env.

An episode is a conversation. ``reset`` opens it (system and user messages, tool schemas in ``info``);
each ``step`` takes the assistant's completion, parses its tool calls, runs them and returns what the
tools said as the next observation. The whole episode is kept in ``env.unwrapped.trajectory``.

A subclass supplies the task set, the tools (typed callables) and, optionally, the step reward::

    class EchoEnv(AgentEnv):
        def __init__(self, **kwargs):
            tasks = TaskSet([Task(id="t0", prompt="Say hi.", gold={"answer": "hi"})])
            super().__init__(tasks, **kwargs)

        def make_tools(self):
            return [Tool.from_function(self.answer, final=True)]

        def answer(self, text: str) -> str:
            '''Give the final answer.

Args:
                text: The answer.
            '''
            self.last_answer = text
            return "Answer recorded."
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, SupportsFloat

import gymnasium as gym
import numpy as np

from agentgym.messages import answer_tag, assistant_message, mark_final
from agentgym.suggest import did_you_mean
from agentgym.tools import FORMATS, ParsedAction, Tool, ToolCall, ToolError, ToolFormat, parse_action
from agentgym.tools import format_instructions as tool_format_instructions
from agentgym.trajectory import Rewards, Step, Trajectory

Split = Literal["train", "dev", "test"]
SPLITS: tuple[Split, ...] = ("train", "dev", "test")


# --------------------------------------------------------------------------------------------------
# Tasks


@dataclass(frozen=True)
class Task:
    """One task: the prompt the agent sees and the gold data its rewards read.

    Attributes:
        id: Stable string id; the same id names the same task whenever the env is rebuilt with
            the same kwargs (offline scoring relies on it).
        prompt: The user message that opens the episode.
        gold: What rewards compare against (answer, aliases, SQL, goal, expected calls, rubrics...).
        metadata: Anything else (difficulty, source, hop count...).
        split: ``"train"``, ``"dev"`` or ``"test"``.

    Examples:
        >>> task = Task(id="capital-fr", prompt="What is the capital of France?", gold={"answer": "Paris"})
        >>> task.gold["answer"], task.split
        ('Paris', 'train')
    """

    id: str
    prompt: str
    gold: Mapping[str, Any] = field(default_factory=dict)
    metadata: Mapping[str, Any] = field(default_factory=dict)
    split: Split = "train"


def split_of(task_id: str, dev: float = 0.1, test: float = 0.1) -> Split:
    """Assign a task id to a split by a stable hash, so splits never depend on task order.

    Args:
        task_id: The task's id.
        dev: Fraction of ids that land in ``"dev"``.
        test: Fraction of ids that land in ``"test"``.

    Returns:
        The split for this id; the same id always gets the same split.

    Examples:
        >>> split_of("task-1") == split_of("task-1")
        True
        >>> from collections import Counter
        >>> counts = Counter(split_of(f"q{i}") for i in range(10_000))
        >>> 7_700 < counts["train"] < 8_300 and 800 < counts["test"] < 1_200
        True
    """
    digest = hashlib.sha256(task_id.encode("utf-8")).digest()
    u = int.from_bytes(digest[:8], "big") / 2**64
    if u < test:
        return "test"
    if u < test + dev:
        return "dev"
    return "train"


class TaskSet(Sequence[Task]):
    """An ordered, immutable collection of tasks with lookup by id, splits and seeded sampling.

    Args:
        tasks: The tasks; ids must be unique.

    Raises:
        ValueError: If two tasks share an id.

    Examples:
        >>> tasks = TaskSet([Task(id=f"t{i}", prompt=f"q{i}", split=split_of(f"t{i}")) for i in range(100)])
        >>> len(tasks), tasks.get("t7").prompt
        (100, 'q7')
        >>> len(tasks.split("train")) + len(tasks.split("dev")) + len(tasks.split("test"))
        100
        >>> import numpy as np
        >>> tasks.sample(np.random.default_rng(0)) == tasks.sample(np.random.default_rng(0))
        True
    """

    def __init__(self, tasks: Iterable[Task]):
        self._tasks: tuple[Task, ...] = tuple(tasks)
        self._by_id: dict[str, Task] = {}
        for task in self._tasks:
            if task.id in self._by_id:
                raise ValueError(f"duplicate task id {task.id!r}")
            self._by_id[task.id] = task

    def __len__(self) -> int:
        return len(self._tasks)

    def __getitem__(self, index: int) -> Task:  # type: ignore[override]
        return self._tasks[index]

    def __iter__(self) -> Iterator[Task]:
        return iter(self._tasks)

    def __contains__(self, item: object) -> bool:
        if isinstance(item, str):
            return item in self._by_id
        return item in self._tasks

    @property
    def ids(self) -> list[str]:
        """The task ids, in order."""
        return [task.id for task in self._tasks]

    def get(self, task_id: str) -> Task:  # type: ignore[override]
        """Look a task up by id.

        Args:
            task_id: The task's id.

        Returns:
            The task.

        Raises:
            KeyError: If no task has this id; the message suggests close ids.
        """
        try:
            return self._by_id[task_id]
        except (KeyError, TypeError):
            hint = did_you_mean(str(task_id), self._by_id)
            raise KeyError(f"no task with id {task_id!r} among {len(self)} tasks.{hint}") from None

    def split(self, name: str) -> TaskSet:
        """The tasks of one split (``"train"``, ``"dev"`` or ``"test"``), or all of them for ``"all"``.

        Args:
            name: The split's name.

        Returns:
            A new task set holding that split's tasks, in order.

        Raises:
            ValueError: If the name is not a split.
        """
        if name == "all":
            return self
        if name not in SPLITS:
            raise ValueError(f"unknown split {name!r}; choose one of {', '.join(SPLITS)} or 'all'")
        return TaskSet(task for task in self._tasks if task.split == name)

    def sample(self, rng: np.random.Generator) -> Task:
        """Draw one task uniformly with the given generator (seeded sampling).

        Args:
            rng: The generator, usually the env's ``np_random``.

        Returns:
            A task.

        Raises:
            ValueError: If the task set is empty.
        """
        if not self._tasks:
            raise ValueError("cannot sample from an empty task set")
        return self._tasks[int(rng.integers(len(self._tasks)))]


# --------------------------------------------------------------------------------------------------
# Spaces


class TextSpace(gym.Space[str]):
    """Any Unicode string of at most ``max_length`` characters.

    Gymnasium's ``Text`` space only admits a fixed charset (alphanumerics by default); agent
    observations and completions are free text, so this space checks type and length only.

    Args:
        max_length: The longest string the space contains.
        seed: Seed for :meth:`sample`.

    Examples:
        >>> space = TextSpace(max_length=10)
        >>> space.contains("héllo, 世界"), space.contains("x" * 11), space.contains(3)
        (True, False, False)
        >>> first = TextSpace(seed=0).sample()
        >>> first == TextSpace(seed=0).sample() and TextSpace().contains(first)
        True
    """

    def __init__(self, max_length: int = 1 << 20, seed: int | np.random.Generator | None = None):
        self.max_length = int(max_length)
        super().__init__(shape=None, dtype=None, seed=seed)

    @property
    def is_np_flattenable(self) -> bool:
        """Text cannot be flattened into a fixed-size array."""
        return False

    def contains(self, x: Any) -> bool:
        """Whether ``x`` is a string of at most ``max_length`` characters."""
        return isinstance(x, str) and len(x) <= self.max_length

    def sample(self, mask: Any = None, probability: Any = None) -> str:
        """A random string: printable ASCII, tool-call punctuation and a few non-ASCII characters.

        The mix makes sampled actions useful as garbage for fuzzing while staying valid text.
        """
        length = int(self.np_random.integers(0, min(self.max_length, 64) + 1))
        alphabet = _SAMPLE_ALPHABET
        return "".join(alphabet[i] for i in self.np_random.integers(len(alphabet), size=length))

    def __repr__(self) -> str:
        return f"TextSpace(max_length={self.max_length})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TextSpace) and other.max_length == self.max_length


_SAMPLE_ALPHABET = (
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 \n\t"
    '{}[]()<>"\':,./\\_-=+*&^%$#@!?`~é世界🙂'
)


# --------------------------------------------------------------------------------------------------
# Environments

#: Observation shown after an action the env could not use; the episode goes on.
INVALID_ACTION_HINT = "Your last message could not be used: {error}"


def any_value(value: Any) -> bool:
    """The check of :attr:`AgentEnv.record_kwargs` for a kwarg whose every value is cheap to build.

    Examples:
        >>> any_value(10**6)
        True
    """
    return True


class AgentEnv(gym.Env[str, str]):
    """Base class of every agentgym environment: a multi-turn, tool-using conversation.

    Subclasses pass a :class:`TaskSet` to ``__init__`` and override :meth:`make_tools`; they may
    override :meth:`system_prompt`, :meth:`begin_episode`, :meth:`parse`, :meth:`end_step`,
    :meth:`step_reward` and :meth:`oracle_action`.
    Tools signal an agent's mistake by raising :class:`~agentgym.tools.ToolError`; a call to a tool
    declared ``final=True`` ends the episode (``terminated``). ``max_turns`` steps without that
    truncate it.

    Args:
        tasks: Every task of the family, all splits; ``reset`` samples from ``split``.
        split: Which split ``reset`` samples from (``"train"``, ``"dev"``, ``"test"`` or ``"all"``).
            ``options={"task_id": ...}`` may name a task of any split.
        max_turns: Steps after which the episode is truncated.
        tool_format: How tool calls are written in text completions (see :mod:`agentgym.tools`).
        max_calls_per_turn: Most tool calls one step may make (``None``: no limit). A completion with
            more is refused whole, none of its calls run, and the observation says so: one completion
            cannot hold the env for thousands of calls.
        max_observation_chars: Longer observations are cut to this length, with a note saying so.
        render_mode: ``None`` or ``"ansi"``.

    Attributes:
        trajectory: The record of the current (or last) episode.
        task: The current task.
        tools: The tools by name.
    """

    # render_fps only quiets a Gymnasium checker warning: text envs render on demand.
    metadata: dict[str, Any] = {"render_modes": ["ansi"], "render_fps": 1}

    #: The constructor kwargs a trajectory file may ask for when ``agentgym score`` or ``report``
    #: rebuilds the env (:mod:`agentgym.trust`), each with a check that its value costs bounded work
    #: (:func:`any_value` for options that build no data: turn limits, formats, display sizes). A family
    #: adds its own; other kwargs (a data path, an unbounded world size) need ``--trust-kwargs``.
    record_kwargs: ClassVar[Mapping[str, Callable[[Any], bool]]] = dict.fromkeys(
        ("split", "max_turns", "tool_format", "max_calls_per_turn", "max_observation_chars", "render_mode"),
        any_value,
    )

    #: Completions longer than this are rejected as invalid actions.
    max_action_chars: int = 1 << 20

    #: The tool a plain ``<answer>...</answer>`` in a completion stands for, when the completion
    #: makes no tool call (``None``: no such fallback). The tool is called with
    #: :meth:`answer_arguments` of the block's text.
    answer_tool: str | None = None

    #: The env's reward, ``reward(trajectory, task) -> RewardResult`` (see :mod:`agentgym.rewards`).
    #: The default :meth:`step_reward` reads it, and ``agentgym score`` rescores saved
    #: trajectories with it, so offline scores equal the rewards recorded at rollout.
    reward: Callable[[Trajectory, Task], Any] | None = None

    def __init__(
        self,
        tasks: TaskSet,
        *,
        split: str = "train",
        max_turns: int = 10,
        tool_format: ToolFormat = "hermes",
        max_calls_per_turn: int | None = 8,
        max_observation_chars: int = 16_000,
        render_mode: str | None = None,
    ):
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be None or 'ansi', got {render_mode!r}")
        if max_turns < 1:
            raise ValueError(f"max_turns must be at least 1, got {max_turns}")
        if tool_format not in FORMATS:
            hint = did_you_mean(str(tool_format), FORMATS)
            raise ValueError(f"unknown tool_format {tool_format!r}; use one of {', '.join(FORMATS)}.{hint}")
        self.all_tasks = tasks
        self.tasks = tasks.split(split)
        if not self.tasks:
            raise ValueError(f"split {split!r} has no tasks")
        self.max_turns = max_turns
        self.tool_format: ToolFormat = tool_format
        self.max_calls_per_turn = max_calls_per_turn
        self.max_observation_chars = max_observation_chars
        self.render_mode = render_mode
        self.observation_space = TextSpace(max_observation_chars + 64)  # room for the cut note
        self.action_space = TextSpace(self.max_action_chars)
        self.tools: dict[str, Tool] = {tool.name: tool for tool in self.make_tools()}
        if self.answer_tool is not None and self.answer_tool not in self.tools:
            raise ValueError(f"answer_tool {self.answer_tool!r} is not one of the tools ({', '.join(self.tools)})")
        self.task: Task | None = None
        self.trajectory: Trajectory | None = None
        self.turn = 0
        self._done = True
        self._call_counter = 0

    # ---- hooks for subclasses ---------------------------------------------------------------

    def make_tools(self) -> list[Tool]:
        """The tools the agent may call; called once in ``__init__``. Override in subclasses."""
        return []

    def system_prompt(self) -> str:
        """The system message for the current task: tool-calling instructions by default."""
        return tool_format_instructions(self.tools, self.tool_format)

    def begin_episode(self, task: Task) -> None:
        """Set up per-episode state for ``task`` (called by ``reset`` before the opening messages)."""

    def parse(self, action: str | Mapping[str, Any]) -> ParsedAction:
        """Turn one completion into tool calls.

        Tool calls are read in :attr:`tool_format`; when there is none and :attr:`answer_tool` is
        set, the last ``<answer>...</answer>`` of the text is a call of that tool (see
        :meth:`answer_arguments`).

        Args:
            action: The completion text, or an OpenAI assistant message dict.

        Returns:
            The content, the validated calls and the error message for the agent (``None`` when
            well-formed).
        """
        parsed = parse_action(action, self.tools, format=self.tool_format, max_calls=self.max_calls_per_turn)
        if parsed.calls or self.answer_tool is None:
            return parsed
        text = action if isinstance(action, str) else action.get("content") if isinstance(action, Mapping) else None
        body = answer_tag(text) if isinstance(text, str) else None
        if body is None:
            return parsed
        arguments, error = self.tools[self.answer_tool].validate(self.answer_arguments(body))
        if error is not None:
            return ParsedAction(content=text, calls=(), error=error)
        return ParsedAction(content=text, calls=(ToolCall(self.answer_tool, arguments),))

    def answer_arguments(self, text: str) -> dict[str, Any]:
        """The arguments of :attr:`answer_tool` for the text of an ``<answer>`` block.

        Args:
            text: The block's text, stripped.

        Returns:
            By default the text as the tool's first parameter; override to split it differently.
        """
        first = next(iter(self.tools[self.answer_tool].parameters.get("properties", {})), None)
        return {first: text} if first is not None else {}

    def end_step(self, step: Step, done: bool) -> None:
        """Record what the env knows about the step just taken, before it is rewarded.

        Called once per step, after the step is appended to ``self.trajectory.steps`` and before
        :meth:`step_reward`; write into ``step.info`` what the reward needs to read later (a
        reward reads the trajectory alone, so offline rescoring sees the same facts).

        Args:
            step: The step, already appended to ``self.trajectory.steps``.
            done: Whether the episode ends with this step (terminated or truncated).
        """

    def oracle_action(self) -> str | Mapping[str, Any]:
        """An action that makes progress towards solving the current task from its gold data.

        Optional: envs that can solve their own tasks override it; the ``oracle`` policy and
        :func:`agentgym.testing.check_oracle` use it to prove every task solvable. Check
        :meth:`has_oracle` before calling it.

        Returns:
            A completion (text or an assistant message) for :meth:`step`.

        Raises:
            NotImplementedError: If the env defines no oracle.
        """
        raise NotImplementedError(f"{type(self).__name__} defines no oracle_action()")

    @classmethod
    def has_oracle(cls) -> bool:
        """Whether the class overrides :meth:`oracle_action` with a method.

        Examples:
            >>> AgentEnv.has_oracle()
            False
        """
        method = getattr(cls, "oracle_action", None)
        return callable(method) and method is not AgentEnv.oracle_action

    def step_reward(self, step: Step, done: bool) -> dict[str, float]:
        """The reward components of the step just taken; ``step.reward`` is their sum.

        The default applies :attr:`reward` to the episode so far and takes this step's share:
        the step's entry of ``details["steps"]`` (named components) when the reward gives one,
        else the last ``per_step`` value, else the trajectory value on the final step.

        Args:
            step: The step, already appended to ``self.trajectory.steps``.
            done: Whether the episode ends with this step (terminated or truncated).

        Returns:
            Named components (already weighted); empty when the env has no reward.
        """
        if self.reward is None:
            return {}
        result = self.reward(self.trajectory, self.task)
        steps = result.details.get("steps") if isinstance(result.details, Mapping) else None
        if steps:
            return dict(steps[-1])
        if result.per_step:
            return {"reward": result.per_step[-1]}
        return {"reward": result.value} if done else {}

    # ---- Gymnasium API ----------------------------------------------------------------------

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[str, dict[str, Any]]:
        """Start an episode.

        Args:
            seed: Seeds the env's RNG, which draws the task.
            options: ``{"task_id": ...}`` selects a task (of any split) instead of drawing one.

        Returns:
            The opening user message and ``info`` with ``messages`` (system + user), ``tools``
            (OpenAI JSON schemas) and ``task_id``.

        Raises:
            KeyError: If ``options["task_id"]`` names no task.
        """
        super().reset(seed=seed)
        options = options or {}
        if options.get("task_id") is not None:
            task = self.all_tasks.get(options["task_id"])
        else:
            task = self.tasks.sample(self.np_random)
        self.task = task
        self.turn = 0
        self._done = False
        self._call_counter = 0
        self.begin_episode(task)
        messages = [
            {"role": "system", "content": self.system_prompt()},
            {"role": "user", "content": task.prompt},
        ]
        spec = self.spec
        self.trajectory = Trajectory(
            env_id=spec.id if spec is not None else f"{type(self).__module__}:{type(self).__name__}",
            task_id=task.id,
            env_kwargs=dict(spec.kwargs) if spec is not None else {},
            env_module=type(self).__module__,  # importing it registers the id again (agentgym.trust)
            seed=seed,
            messages=list(messages),
        )
        info = {
            "messages": messages,
            "tools": [tool.schema for tool in self.tools.values()],
            "task_id": task.id,
        }
        return task.prompt, info

    def step(self, action: str | Mapping[str, Any]) -> tuple[str, SupportsFloat, bool, bool, dict[str, Any]]:
        """Take the assistant's completion, run its tool calls and return what they said.

        Args:
            action: The completion text, or an OpenAI assistant message dict.

        Returns:
            ``(observation, reward, terminated, truncated, info)``; ``info`` holds ``messages``
            (appended this step), ``tool_calls``, ``reward_components``, ``invalid_action``,
            ``turn`` and ``task_id``.

        Raises:
            gymnasium.error.ResetNeeded: If no episode is running (before ``reset`` or after it ended).
        """
        if self._done or self.trajectory is None:
            raise gym.error.ResetNeeded("the episode is over (or never started): call reset()")
        started = time.perf_counter()
        parsed = self._parse_safely(action)
        said = assistant_message(action)
        self.trajectory.messages.append(said)
        new_messages: list[dict[str, Any]] = []
        invalid = parsed.error is not None
        terminated = False
        final: ToolCall | None = None
        calls: list[ToolCall] = []
        if invalid:
            new_messages.append({"role": "user", "content": INVALID_ACTION_HINT.format(error=parsed.error)})
        for call in parsed.calls:
            call = self._with_id(call)
            calls.append(call)
            result, failed = self._run(call)
            invalid = invalid or failed
            new_messages.append({"role": "tool", "tool_call_id": call.id, "name": call.name, "content": result})
            if self.tools[call.name].final and not failed:
                terminated = True
                final = call
                break  # calls after a final answer are not run
        self.turn += 1
        truncated = not terminated and self.turn >= self.max_turns
        # Each message gets an equal share of the budget so several long results still fit.
        share = self.max_observation_chars // max(len(new_messages), 1)
        for message in new_messages:
            message["content"] = _clip(message["content"], share)
        observation = _clip("\n\n".join(message["content"] for message in new_messages), self.max_observation_chars)
        self.trajectory.messages.extend(new_messages)
        step = Step(
            action=action if isinstance(action, str) else dict(said),  # its own copy, checked once
            tool_calls=[call.to_dict() for call in calls],
            observation=observation,
            invalid_action=invalid,
        )
        if final is not None:  # rewards find the final answer here, whatever the env calls its tool
            mark_final(step, final.name, final.arguments)
        self.trajectory.steps.append(step)
        done = terminated or truncated
        # Set before step_reward, so a reward computed from the trajectory sees how it ended.
        self.trajectory.terminated, self.trajectory.truncated = terminated, truncated
        self.end_step(step, done)
        components = {name: float(value) for name, value in self.step_reward(step, done).items()}
        step.reward_components = components
        step.reward = Rewards.from_steps([components]).total
        step.timings["env"] = time.perf_counter() - started
        if done:
            self._finish()
        info = {
            "messages": new_messages,
            "tool_calls": [call.to_dict() for call in calls],
            "reward_components": components,
            "invalid_action": invalid,
            "turn": self.turn,
            "task_id": self.task.id if self.task else None,
        }
        return observation, step.reward, terminated, truncated, info

    def render(self) -> str | None:
        """With ``render_mode="ansi"``, the conversation so far as text; otherwise ``None``."""
        if self.render_mode != "ansi" or self.trajectory is None:
            return None
        return render_messages(self.trajectory.messages)

    # ---- internals --------------------------------------------------------------------------

    def _parse_safely(self, action: Any) -> ParsedAction:
        if isinstance(action, str) and len(action) > self.max_action_chars:
            return ParsedAction(
                content="",
                calls=(),
                error=f"the message is {len(action):,} characters long; the limit is {self.max_action_chars:,}.",
            )
        return self.parse(action)

    def _with_id(self, call: ToolCall) -> ToolCall:
        self._call_counter += 1
        if call.id:
            return call
        return ToolCall(name=call.name, arguments=call.arguments, id=f"call_{self.turn}_{self._call_counter}")

    def _run(self, call: ToolCall) -> tuple[str, bool]:
        """Run one validated call; an agent mistake (ToolError) becomes an error text, not an exception."""
        try:
            result = self.tools[call.name](**call.arguments)
        except ToolError as error:
            return f"Error: {error}", True
        if isinstance(result, str):
            return result, False
        return json.dumps(result, ensure_ascii=False, default=str), False

    def _finish(self) -> None:
        """Close the episode record with its reward totals."""
        self._done = True
        trajectory = self.trajectory
        assert trajectory is not None
        trajectory.rewards = Rewards.from_steps(step.reward_components for step in trajectory.steps)


def _clip(text: str, limit: int) -> str:
    """Cut ``text`` to ``limit`` characters plus a note that says how much was cut."""
    if len(text) <= limit:
        return text
    return text[:limit] + f"\n[... {len(text) - limit:,} more characters cut]"


def render_messages(messages: Sequence[Mapping[str, Any]]) -> str:
    """Render a chat conversation as plain text, one block per message.

    Args:
        messages: OpenAI-format messages.

    Returns:
        The conversation as text.

    Examples:
        >>> print(render_messages([{"role": "user", "content": "Hi"},
        ...                        {"role": "tool", "name": "search", "content": "3 results"}]))
        [user]
        Hi
        <BLANKLINE>
        [tool search]
        3 results
    """
    blocks = []
    for message in messages:
        header = message.get("role", "?")
        if message.get("name"):
            header += f" {message['name']}"
        body = message.get("content") or ""
        if not isinstance(body, str):
            body = json.dumps(body, ensure_ascii=False)
        for call in message.get("tool_calls") or []:
            function = call.get("function", {}) if isinstance(call, Mapping) else {}
            body += f"\n-> {function.get('name')}({function.get('arguments')})"
        blocks.append(f"[{header}]\n{body}")
    return "\n\n".join(blocks)
