"""The local runner: N episodes in flight, one batched policy call per turn, finished slots refilled.

Each turn the runner sends every active conversation to the policy in one call, steps the envs in
parallel (a thread pool; envs that ask for it live in worker processes), appends the completion and
the env's new messages to each conversation, and hands finished episodes out as they end while a
new task takes the freed slot, so the batch stays full.

Token-in/token-out: each assistant message the runner appends carries the completion's
``prompt_ids``/``completion_ids`` (see :data:`agentgym.policies.TOKEN_FIELDS`), so a tokenizing
policy extends the previous ids instead of re-tokenizing the conversation; the same ids and the
log-probs are stored on the trajectory's steps.

Failures are recorded, never raised: a policy that raises or returns garbage, an env that raises,
an episode past its time limit each end that episode with ``trajectory.error`` set and
``truncated=True``, and the run goes on. Ctrl-C stops the run between two records, so the output
file only ever holds whole lines.
"""

from __future__ import annotations

import collections
import concurrent.futures
import contextlib
import math
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, TextIO

import numpy as np

from agentgym.messages import assistant_message
from agentgym.policies import TOKEN_FIELDS, Completion, Policy, as_policy
from agentgym.runner.envs import PROCESS_KEY, THREADS_KEY, LocalEnv, ProcessEnv, env_metadata
from agentgym.trajectory import Rewards, Trajectory, TrajectoryWriter, read_trajectories


@dataclass(frozen=True)
class Episode:
    """One scheduled episode.

    Attributes:
        index: Its place in the plan; the env is reset with ``seed + index``.
        task_id: The task.
        group: Which sample of its task's group (0 to ``group_size - 1``).
    """

    index: int
    task_id: str
    group: int = 0


def plan_episodes(task_ids: Sequence[str], group_size: int = 1) -> list[Episode]:
    """Each task ``group_size`` times in a row (a GRPO group), numbered in order.

    Examples:
        >>> [(e.index, e.task_id, e.group) for e in plan_episodes(["a", "b"], group_size=2)]
        [(0, 'a', 0), (1, 'a', 1), (2, 'b', 0), (3, 'b', 1)]
    """
    if group_size < 1:
        raise ValueError(f"group_size must be at least 1, got {group_size}")
    return [
        Episode(index=i * group_size + g, task_id=task_id, group=g)
        for i, task_id in enumerate(task_ids)
        for g in range(group_size)
    ]


def draw_tasks(ids: Sequence[str], n: int, seed: int) -> list[str]:
    """``n`` task ids in a seeded random order, each used once before any repeats.

    Examples:
        >>> draw_tasks(["a", "b", "c"], 4, seed=0) == draw_tasks(["a", "b", "c"], 4, seed=0)
        True
        >>> sorted(draw_tasks(["a", "b", "c"], 3, seed=1))
        ['a', 'b', 'c']
    """
    if not ids:
        raise ValueError("the env's split has no tasks")
    rng = np.random.default_rng(seed)
    drawn: list[str] = []
    while len(drawn) < n:
        drawn.extend(ids[i] for i in rng.permutation(len(ids)))
    return drawn[:n]


@dataclass
class RunStats:
    """What a run did.

    Attributes:
        episodes: Episodes finished (written, when there is an output file).
        steps: Env steps taken.
        tokens: Completion tokens, where the policy reports them.
        seconds: Wall time.
        policy_seconds: Time inside policy calls (each batched call counted once).
        errors: Episodes that ended with an error.
        reward_sum: Sum of the episodes' total rewards.
        skipped: Episodes of the plan already in the output (``resume``).
    """

    episodes: int = 0
    steps: int = 0
    tokens: int = 0
    seconds: float = 0.0
    policy_seconds: float = 0.0
    errors: int = 0
    reward_sum: float = 0.0
    skipped: int = 0

    @property
    def mean_reward(self) -> float:
        """Mean total reward per episode (NaN before the first)."""
        return self.reward_sum / self.episodes if self.episodes else math.nan

    def add(self, trajectory: Trajectory) -> None:
        """Count one finished episode."""
        self.episodes += 1
        self.steps += len(trajectory.steps)
        self.tokens += sum(len(step.completion_ids or ()) for step in trajectory.steps)
        self.errors += trajectory.error is not None
        self.reward_sum += trajectory.rewards.total

    def line(self) -> str:
        """One progress line."""
        seconds = max(self.seconds, 1e-9)
        steps, tokens = _rate(self.steps / seconds), _rate(self.tokens / seconds)
        errors = f" | errors {self.errors:,}" if self.errors else ""
        reward = f"{self.mean_reward:.3f}"
        return f"episodes {self.episodes:,} | steps/s {steps} | tokens/s {tokens} | mean reward {reward}{errors}"


class Progress:
    """A progress line on a terminal (redrawn at most every ``interval`` seconds), silent otherwise.

    Args:
        total: Episodes planned.
        stream: Where to draw; ``None`` draws nothing.
        interval: Seconds between redraws.
    """

    def __init__(self, total: int, stream: TextIO | None = sys.stderr, interval: float = 0.25) -> None:
        self.total, self.stream, self.interval = total, stream, interval
        self._last = 0.0

    def update(self, stats: RunStats, force: bool = False) -> None:
        """Redraw if enough time has passed (or ``force``)."""
        now = time.monotonic()
        if self.stream is None or (not force and now - self._last < self.interval):
            return
        self._last = now
        end = "\r" if self.stream.isatty() else "\n"
        if end == "\n" and not force:
            return  # a log file gets the final line only
        self.stream.write(f"[{stats.episodes:,}/{self.total:,}] {stats.line()}{end}")
        self.stream.flush()

    def close(self, stats: RunStats) -> None:
        """Draw the final line."""
        self.update(stats, force=True)
        if self.stream is not None and self.stream.isatty():
            self.stream.write("\n")


@dataclass
class _Slot:
    """An episode in flight."""

    episode: Episode
    conversation: list[dict[str, Any]]
    tools: list[dict[str, Any]]
    started: float
    # Per step: (completion, seconds of the policy call), laid onto the trajectory at the end.
    completions: list[tuple[Completion, float]] = field(default_factory=list)
    # The time this episode used: its share of each batched policy call plus its own env steps
    # (not the time it waited behind other episodes' steps); the episode time limit applies to it.
    used: float = 0.0


class _TimedStep:
    """One env step to run on a pool thread, recording when it started and how long it ran."""

    def __init__(self, step: Callable[[Any], Any], action: Any) -> None:
        self.step, self.action = step, action
        self.started = threading.Event()
        self.start = 0.0
        self.seconds: float | None = None

    def __call__(self) -> Any:
        self.start = time.perf_counter()
        self.started.set()
        try:
            return self.step(self.action)
        finally:
            self.seconds = time.perf_counter() - self.start


def check_options(
    num_envs: int = 8, group_size: int = 1, max_turns: int | None = None, episode_time_limit_s: float | None = None,
    **_: Any,
) -> None:
    """Raise ``ValueError`` for a runner option out of range (checked before anything is built)."""
    if num_envs < 1:
        raise ValueError(f"num_envs must be at least 1, got {num_envs}")
    if group_size < 1:
        raise ValueError(f"group_size must be at least 1, got {group_size}")
    if max_turns is not None and max_turns < 1:
        raise ValueError(f"max_turns must be at least 1, got {max_turns}")
    if episode_time_limit_s is not None and not episode_time_limit_s > 0:
        raise ValueError(f"episode_time_limit_s must be positive, got {episode_time_limit_s}")


class Runner:
    """Rolls out a policy on an env, ``num_envs`` episodes at a time.

    Args:
        env_id: A registered env id.
        policy: ``policy(conversations, tools) -> list[Completion]`` (see :mod:`agentgym.policies`).
            A policy with ``needs_env = True`` (the oracle) also gets ``envs=``, the env handles
            (see :class:`~agentgym.policies.Policy`).
        env_kwargs: Keyword arguments for ``gymnasium.make``.
        num_envs: Episodes in flight (the policy's batch size).
        group_size: Episodes per task (a GRPO group); groups are scheduled together.
        max_turns: Overrides the env's ``max_turns``.
        episode_time_limit_s: Limit on the time each episode uses: its share of each batched policy
            call plus its own env steps (not the time it waits behind other episodes' steps); an
            episode past it ends with an error, a step past it is abandoned.
        env_threads: Threads stepping the envs (0: one after the other in this thread). Default:
            ``min(num_envs, 2 * cpu count)`` for envs whose metadata asks for threads or a process
            (see :mod:`agentgym.runner.envs`), else 0.
        seed: Seeds the task draw; episode ``i`` resets with ``seed + i``.
        imports: Modules to import first (they register the env), also in worker processes.

    Examples:
        >>> import agentgym
        >>> from agentgym.policies.oracle import OraclePolicy
        >>> runner = Runner("agentgym/TextToSQL-v0", OraclePolicy(), num_envs=4)
        >>> episodes = list(runner.episodes(runner.plan(n=8)))
        >>> len(episodes), all(t.rewards.total > 0.99 and t.terminated for t in episodes)
        (8, True)
        >>> runner.close()
    """

    def __init__(
        self,
        env_id: str,
        policy: Policy,
        *,
        env_kwargs: dict[str, Any] | None = None,
        num_envs: int = 8,
        group_size: int = 1,
        max_turns: int | None = None,
        episode_time_limit_s: float | None = None,
        env_threads: int | None = None,
        seed: int = 0,
        imports: Sequence[str] = (),
    ) -> None:
        check_options(num_envs=num_envs, group_size=group_size, max_turns=max_turns,
                      episode_time_limit_s=episode_time_limit_s)
        self.env_id = env_id
        self.policy = as_policy(policy)
        self.env_kwargs = dict(env_kwargs or {})
        if max_turns is not None:
            self.env_kwargs["max_turns"] = max_turns
        self.num_envs = num_envs
        self.group_size = group_size
        self.episode_time_limit_s = episode_time_limit_s
        self.seed = seed
        self.imports = tuple(imports)
        metadata = env_metadata(env_id, self.imports)
        in_process = bool(metadata.get(PROCESS_KEY))
        if env_threads is None:
            wants_threads = in_process or bool(metadata.get(THREADS_KEY))
            env_threads = min(num_envs, 2 * (os.cpu_count() or 1)) if wants_threads else 0
        self.env_threads = env_threads
        self._handle_class = ProcessEnv if in_process else LocalEnv
        self._handles: list[Any] = []
        self.policy_seconds = 0.0  # inside policy calls, over the runner's life
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None
        self.policy_info: dict[str, Any] = self.policy.describe()

    # ---- planning ---------------------------------------------------------------------------

    def plan(self, n: int | None = None, *, task_ids: Sequence[str] | None = None) -> list[Episode]:
        """The episodes to run: ``task_ids`` (each ``group_size`` times), or ``n`` episodes on drawn tasks.

        Args:
            n: Episodes in all (a multiple of ``group_size``); tasks are drawn from the env's
                split in a seeded order. With ``task_ids`` it caps the plan.
            task_ids: Run exactly these tasks.

        Raises:
            ValueError: If neither is given, or ``n`` is not a multiple of ``group_size``.
        """
        if task_ids is None:
            if n is None:
                raise ValueError("give n (episodes to run) or task_ids")
            if n < 0 or n % self.group_size:
                raise ValueError(f"n must be a non-negative multiple of group_size ({self.group_size}), got {n}")
            task_ids = draw_tasks(self._handle(0).tasks(), n // self.group_size, self.seed)
        plan = plan_episodes(list(task_ids), self.group_size)
        return plan if n is None else plan[:n]

    # ---- running ----------------------------------------------------------------------------

    def run(
        self,
        n: int | None = None,
        *,
        task_ids: Sequence[str] | None = None,
        output: str | os.PathLike[str] | None = None,
        resume: bool = False,
        progress: TextIO | None = None,
    ) -> RunStats:
        """Run the plan, streaming each finished trajectory to ``output`` (JSONL).

        Args:
            n: Episodes to run (see :meth:`plan`).
            task_ids: Or exactly these tasks.
            output: The JSONL file; each episode is appended and flushed as it finishes.
            resume: Skip the plan's episodes whose tasks the output already holds (an output that
                exists is refused without it, so nothing is appended to by mistake).
            progress: A stream for the progress line (e.g. ``sys.stderr``); ``None``: quiet.

        Returns:
            The run's statistics.

        Raises:
            FileExistsError: If ``output`` holds episodes and ``resume`` is false.
            FileLocked: If another run is writing ``output`` (it is locked for the whole run, resume
                check included).
        """
        plan = self.plan(n, task_ids=task_ids)
        stats = RunStats()
        # Locked before it is read for --resume: two runs on one file would each add the same episodes.
        writer = TrajectoryWriter(output, exclusive=True) if output is not None else None
        with writer if writer is not None else contextlib.nullcontext():
            if output is not None and os.path.getsize(output) > 0:
                if not resume:
                    raise FileExistsError(
                        f"{os.fspath(output)} already holds episodes: resume it, or choose another file"
                    )
                done = collections.Counter(t.task_id for t in read_trajectories(output, skip_invalid=True))
                remaining = []
                for episode in plan:
                    if done[episode.task_id] > 0:
                        done[episode.task_id] -= 1
                    else:
                        remaining.append(episode)
                stats.skipped = len(plan) - len(remaining)
                plan = remaining
            bar = Progress(len(plan), progress)
            started = time.perf_counter()
            policy_seconds = self.policy_seconds
            try:
                for trajectory in self.episodes(plan):
                    if writer is not None:
                        writer.write(trajectory)
                    stats.add(trajectory)
                    stats.seconds = time.perf_counter() - started
                    bar.update(stats)
            finally:
                stats.seconds = time.perf_counter() - started
                stats.policy_seconds = self.policy_seconds - policy_seconds
                bar.close(stats)
        return stats

    def episodes(self, plan: Sequence[Episode]) -> Iterator[Trajectory]:
        """Run ``plan`` and yield each trajectory as its episode ends (not in plan order).

        Args:
            plan: From :meth:`plan` (or any list of :class:`Episode`).

        Yields:
            Finished trajectories, with ``policy`` filled in and the policy's token ids and
            log-probs on their steps.
        """
        pending = collections.deque(plan)
        slots: list[_Slot | None] = [None] * min(self.num_envs, len(pending))
        finished: list[Trajectory] = []
        for index in range(len(slots)):
            self._start(index, slots, pending, finished)
        while True:
            yield from finished
            finished.clear()
            active = [index for index, slot in enumerate(slots) if slot is not None]
            if not active:
                return
            self._turn(active, slots, pending, finished)

    def close(self) -> None:
        """Close every env (and the thread pool)."""
        for handle in self._handles:
            if handle is not None:
                handle.close()
        self._handles = []
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    def __enter__(self) -> Runner:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # ---- internals --------------------------------------------------------------------------

    def _handle(self, index: int) -> Any:
        while len(self._handles) <= index:
            self._handles.append(None)
        if self._handles[index] is None:
            self._handles[index] = self._handle_class(self.env_id, self.env_kwargs, self.imports)
        return self._handles[index]

    def _drop(self, index: int) -> None:
        """Abandon a handle that failed; the slot gets a fresh env next time."""
        handle, self._handles[index] = self._handles[index], None
        if handle is not None:
            handle.kill()

    def _start(self, index: int, slots: list[_Slot | None], pending: collections.deque, finished: list) -> None:
        """Put the next pending episode in slot ``index`` (an episode that cannot start is finished failed)."""
        slots[index] = None
        while pending:
            episode = pending.popleft()
            try:
                _, info = self._handle(index).reset(self.seed + episode.index, episode.task_id)
            except Exception as error:  # noqa: BLE001 - recorded on the episode, the run goes on
                self._drop(index)
                slot = _Slot(episode, [], [], time.perf_counter())
                finished.append(self._failed(slot, f"reset failed: {_describe(error)}"))
                continue
            slots[index] = _Slot(episode, list(info["messages"]), info["tools"], time.perf_counter())
            return

    def _turn(self, active: list[int], slots: list[_Slot | None], pending: collections.deque, finished: list) -> None:
        conversations = [slots[index].conversation for index in active]
        tools = [slots[index].tools for index in active]
        started = time.perf_counter()
        completions, problem = self._complete(conversations, tools, active)
        policy_seconds = time.perf_counter() - started
        self.policy_seconds += policy_seconds
        actions: dict[int, Any] = {}
        for index, completion in zip(active, completions, strict=True):
            slot = slots[index]
            slot.used += policy_seconds / len(active)
            error = problem or _completion_problem(completion)
            if error is not None:
                self._finish(index, slots, pending, finished, error=f"policy: {error}")
                continue
            slot.completions.append((completion, policy_seconds))
            actions[index] = completion.action
        for index, outcome in self._step_all(actions, slots).items():
            slot = slots[index]
            if isinstance(outcome, TimeoutError):  # the env may still be busy: nothing of it is trusted
                self._finish(index, slots, pending, finished, error=str(outcome), trusted=False, drop=True)
                continue
            if isinstance(outcome, BaseException):
                error = f"env step failed: {_describe(outcome)}"
                self._finish(index, slots, pending, finished, error=error, drop=True)
                continue
            _, _, terminated, truncated, info = outcome
            completion = slot.completions[-1][0]
            slot.conversation.append(assistant_message(completion.action, _tokens(completion)))
            slot.conversation.extend(info["messages"])
            if terminated or truncated:
                self._finish(index, slots, pending, finished)
            elif self._out_of_time(slot):
                self._finish(index, slots, pending, finished, error=self._time_limit_error())

    def _complete(
        self, conversations: list, tools: list, active: list[int]
    ) -> tuple[list[Any], str | None]:
        """Call the policy once; on any failure, the same problem for every conversation."""
        try:
            if self.policy.needs_env:
                completions = self.policy(conversations, tools, envs=[self._handles[i] for i in active])
            else:
                completions = self.policy(conversations, tools)
            completions = list(completions)
        except Exception as error:  # noqa: BLE001 - a failing policy ends these episodes, not the run
            return [None] * len(active), f"the policy raised {_describe(error)}"
        if len(completions) != len(active):
            return [None] * len(active), f"{len(completions)} completions for {len(active)} conversations"
        return completions, None

    def _step_all(self, actions: dict[int, Any], slots: list[_Slot | None]) -> dict[int, Any]:
        """Step the envs in parallel; each result is the step's tuple or the exception it raised.

        Under an episode time limit, a step is given what is left of its own episode's time,
        counted from when it starts to run (not while it waits for a pool thread behind other
        episodes' steps); a step that outlives it is abandoned, its thread with it.
        """
        if self.env_threads <= 1 and self.episode_time_limit_s is None:  # no limit: the time used is not needed
            return {index: _call(self._handles[index].step, action) for index, action in actions.items()}
        calls = {index: _TimedStep(self._handles[index].step, action) for index, action in actions.items()}
        futures = {index: self._env_pool().submit(call) for index, call in calls.items()}
        results: dict[int, Any] = {}
        for index, call in calls.items():
            slot = slots[index]
            call.started.wait()  # every step submitted before it has finished, failed or been abandoned
            timeout = None
            if self.episode_time_limit_s is not None:
                timeout = max(self.episode_time_limit_s - slot.used - (time.perf_counter() - call.start), 0.0)
            try:
                results[index] = futures[index].result(timeout=timeout)
            except concurrent.futures.TimeoutError:
                results[index] = TimeoutError(self._time_limit_error() + " (during a step)")
                self._abandon_pool(calls, futures)
            except Exception as error:  # noqa: BLE001 - returned, recorded by the caller
                results[index] = error
            slot.used += call.seconds if call.seconds is not None else time.perf_counter() - call.start
        return results

    def _env_pool(self) -> concurrent.futures.ThreadPoolExecutor:
        if self._pool is None:
            self._pool = concurrent.futures.ThreadPoolExecutor(max(self.env_threads, 1), "agentgym-env")
        return self._pool

    def _abandon_pool(self, calls: dict[int, _TimedStep], futures: dict[int, concurrent.futures.Future]) -> None:
        """Leave a pool with a stuck thread: steps still queued on it move to a fresh pool."""
        pool, self._pool = self._pool, None
        for index, future in futures.items():
            if future.cancel():  # not started yet
                futures[index] = self._env_pool().submit(calls[index])
        if pool is not None:
            pool.shutdown(wait=False)

    def _out_of_time(self, slot: _Slot) -> bool:
        limit = self.episode_time_limit_s
        return limit is not None and slot.used > limit

    def _time_limit_error(self) -> str:
        return f"episode time limit of {self.episode_time_limit_s:g} s exceeded"

    def _finish(
        self,
        index: int,
        slots: list[_Slot | None],
        pending: collections.deque,
        finished: list,
        *,
        error: str | None = None,
        trusted: bool = True,
        drop: bool = False,
    ) -> None:
        """Hand out slot ``index``'s episode and start the next one there (on a fresh env if ``drop``)."""
        slot = slots[index]
        trajectory = None
        if trusted and self._handles[index] is not None:
            try:
                trajectory = self._handles[index].trajectory()
            except Exception as problem:  # noqa: BLE001 - fall back to what the runner saw
                error = error or f"cannot read the env's trajectory: {_describe(problem)}"
        if trajectory is None:
            trajectory = self._failed(slot, error or "the env was lost")
        else:
            self._lay_tokens(trajectory, slot)
            trajectory.policy = dict(self.policy_info)
            if error is not None:
                trajectory.error = error
                trajectory.truncated = trajectory.truncated or not trajectory.terminated
                if not trajectory.rewards.per_step:  # the env never closed the record: what was earned so far
                    trajectory.rewards = Rewards.from_steps(step.reward_components for step in trajectory.steps)
        finished.append(trajectory)
        if drop:
            self._drop(index)
        self._start(index, slots, pending, finished)

    def _failed(self, slot: _Slot, error: str) -> Trajectory:
        """A record of an episode whose env could not give its own."""
        trajectory = Trajectory(
            env_id=self.env_id,
            task_id=slot.episode.task_id,
            env_kwargs=dict(self.env_kwargs),
            seed=self.seed + slot.episode.index,
            messages=[_without_tokens(message) for message in slot.conversation],
            truncated=True,
            policy=dict(self.policy_info),
            error=error,
        )
        return trajectory

    @staticmethod
    def _lay_tokens(trajectory: Trajectory, slot: _Slot) -> None:
        """Store each step's token ids, log-probs and the time of the batched policy call that made it."""
        for step, (completion, seconds) in zip(trajectory.steps, slot.completions, strict=False):
            step.prompt_ids = completion.prompt_ids
            step.completion_ids = completion.completion_ids
            step.logprobs = completion.logprobs
            step.timings["policy"] = seconds


def _rate(value: float) -> str:
    """A rate for the progress line: whole numbers, but slow rates keep a decimal (0.2, not 0)."""
    return f"{value:,.0f}" if value >= 10 or value == 0 else f"{value:.2g}"


def _call(function: Any, *args: Any) -> Any:
    try:
        return function(*args)
    except Exception as error:  # noqa: BLE001 - returned, recorded by the caller
        return error


def _completion_problem(completion: Any) -> str | None:
    """What is wrong with a policy's output for one conversation, if anything."""
    if not isinstance(completion, Completion):
        return f"expected a Completion, got {type(completion).__name__}"
    if completion.error is not None:
        return completion.error
    if not isinstance(completion.text, str):
        return f"the completion's text is {type(completion.text).__name__}, not str"
    return None


def _tokens(completion: Completion) -> dict[str, Any]:
    """The token ids a tokenizing policy extends, carried on the runner's copy of the conversation."""
    return {name: getattr(completion, name) for name in TOKEN_FIELDS}


def _without_tokens(message: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in message.items() if key not in TOKEN_FIELDS}


def _describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"
