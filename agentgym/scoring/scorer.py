"""The scorer: rebuilds each trajectory's env and task, applies the reward, returns a :class:`Scored` each."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym

from agentgym import env_id_hint, import_modules, importers
from agentgym.core import Task
from agentgym.rewards.base import Judge, Reward, RewardResult, score_batch
from agentgym.rewards.compose import WeightedSum
from agentgym.rewards.registry import declared_kinds, kind_of
from agentgym.scoring.specs import ScoreError, _EnvDefault, _UserReward, load_object, parse_reward
from agentgym.trajectory import JSONLError, Rewards, Trajectory, TrajectoryError, decode_line, json_data
from agentgym.trust import Trust

# --------------------------------------------------------------------------------------------------
# Per-trajectory results


@dataclass
class Scored:
    """The score of one trajectory.

    Attributes:
        env_id: The env (``""`` when the record named none).
        task_id: The task.
        score: The reward's value.
        components: The reward's named parts: for the env's own reward, the components it records
            (already weighted, summing to ``score``); for a spec, each named reward's unweighted
            value (``score = Σ weight · component``).
        recorded: The total recorded in the file (agentgym records; a verifiers row's ``reward``),
            else ``None``.
        turns: Number of steps.
        invalid_steps: Steps whose action was invalid.
        success: ``score >= success_threshold``.
        repeat: The longest run of one action repeated in a row.
        details: The reward's details (JSON-ready).
        path: The file the trajectory came from, if any.
        line: Its line in that file.
        format: The input format.
        kinds: What each component measures (see :data:`agentgym.rewards.registry.KINDS`): the
            registry's kind for a named reward, the kinds the env's reward declares for its own
            components; components not listed are ``other``.
        error: The error the episode ended with (``trajectory.error``), if any: its recorded total
            holds only what was earned before it.
    """

    env_id: str
    task_id: str
    score: float
    components: dict[str, float]
    recorded: float | None
    turns: int
    invalid_steps: int
    success: bool
    repeat: int
    details: Mapping[str, Any] = field(default_factory=dict)
    path: str | None = None
    line: int | None = None
    format: str = "agentgym"
    kinds: Mapping[str, str] = field(default_factory=dict)
    error: str | None = None

    @property
    def where(self) -> str:
        """``file:line`` (or the task id when the trajectory came from no file)."""
        return f"{self.path}:{self.line}" if self.path is not None else self.task_id

    def to_dict(self) -> dict[str, Any]:
        """The result as one JSON-ready row of ``scored.jsonl``.

        Non-finite numbers become ``"Infinity"``/``"NaN"``, as in trajectories (:func:`agentgym.trajectory.json_data`).

        Examples:
            >>> Scored("e", "t", 1.0, {"em": 1.0}, None, 2, 0, True, 1, path="a.jsonl", line=3).to_dict()["where"]
            'a.jsonl:3'
        """
        return {
            "where": self.where,
            "env_id": self.env_id,
            "task_id": self.task_id,
            "score": json_data(self.score),
            "components": json_data(self.components),
            "recorded": json_data(self.recorded),
            "success": self.success,
            "turns": self.turns,
            "invalid_steps": self.invalid_steps,
            "longest_repeat": self.repeat,
            "format": self.format,
            "details": json_data(self.details),
        }


def _longest_repeat(trajectory: Trajectory) -> int:
    longest = run = 0
    previous: object = object()
    for step in trajectory.steps:
        action = step.action if isinstance(step.action, str) else json.dumps(step.action, sort_keys=True)
        run = run + 1 if action == previous else 1
        previous = action
        longest = max(longest, run)
    return longest


def _env_components(result: RewardResult) -> tuple[float, dict[str, float]]:
    """Score and components of the env's own reward, summed exactly as ``AgentEnv`` records them.

    ``AgentEnv.step_reward`` records each step's entry of ``details["steps"]`` when the reward gives
    them, else each ``per_step`` value as ``reward``, else the value on the last step.
    """
    steps = result.details.get("steps") if isinstance(result.details, Mapping) else None
    if not steps:
        values = result.per_step if result.per_step else [result.value]
        steps = [{"reward": value} for value in values]
    rewards = Rewards.from_steps(steps)
    return rewards.total, rewards.components


# --------------------------------------------------------------------------------------------------
# Scoring


@dataclass
class _Handle:
    """An env rebuilt for scoring, with its task set and reward (cached per env id and kwargs)."""

    env_id: str
    env: Any = None
    reward: Reward | None = None
    env_default: bool = False
    parse: Callable[[Any], Any] | None = None
    final_tools: tuple[str, ...] = importers.FINAL_TOOLS
    error: str | None = None
    tasks: Any = None
    kinds: Mapping[str, str] = field(default_factory=dict)

    def task(self, task_id: str) -> Task:
        try:
            return self.tasks.get(task_id)
        except KeyError as error:
            raise TrajectoryError(f"{self.env_id}: {error.args[0]}") from None


def _freeze(value: Any) -> Any:
    if isinstance(value, dict):
        return tuple(sorted((key, _freeze(item)) for key, item in value.items()))
    if isinstance(value, list):
        return tuple(_freeze(item) for item in value)
    return value


class Scorer:
    """Scores trajectories (or decoded records of any input format) against their rebuilt tasks.

    Args:
        reward: ``None`` or ``"default"`` for each env's own reward; a spec string (see
            :func:`parse_reward`); or a reward callable.
        judge: The judge for judge rewards: a callable ``prompt -> reply``, or its reference
            (``module:callable``, ``file.py:callable``).
        scorer: The log-probability scorer model for the information-gain rewards that need one
            (:class:`~agentgym.rewards.scorer.HFScorer`).
        env_id: The env of records that name none (conversation formats).
        env_kwargs: That env's kwargs.
        input_format: One of :data:`agentgym.importers.FORMATS`; ``None`` detects each line's.
        success_threshold: A trajectory succeeds when its score is at least this.
        trust: What records may make the scorer import and build (:class:`~agentgym.trust.Trust`);
            by default a record imports nothing (a ``MODULE:ID`` it names is refused unless
            ``env_id`` names that module) but its ``env_kwargs`` are accepted. ``agentgym score``
            passes the trust its options give.

    Raises:
        ScoreError: For an unknown reward or env, or a reward or judge that cannot be loaded.

    Examples:
        >>> import gymnasium, agentgym
        >>> env = gymnasium.make("agentgym/DeepSearch-v0", corpus="fictional", n_entities=40)
        >>> _ = env.reset(seed=0)
        >>> done = False
        >>> while not done:
        ...     *_, terminated, truncated, _ = env.step(env.unwrapped.oracle_action())
        ...     done = terminated or truncated
        >>> recorded = env.unwrapped.trajectory
        >>> scored = Scorer().score(recorded)
        >>> scored.score == recorded.rewards.total, scored.components == recorded.rewards.components
        (True, True)
        >>> Scorer("em").score(recorded).components
        {'em': 1.0}
    """

    def __init__(
        self,
        reward: str | Reward | None = None,
        *,
        judge: Judge | str | None = None,
        scorer: Any = None,
        env_id: str | None = None,
        env_kwargs: Mapping[str, Any] | None = None,
        input_format: str | None = None,
        success_threshold: float = 1.0,
        trust: Trust | None = None,
    ):
        if isinstance(judge, str):
            judge = _UserJudge(load_object(judge), judge)
        self.judge = judge
        if reward is None or (isinstance(reward, str) and reward.strip() == "default"):
            self.spec: WeightedSum | None = None
            self.label = "default"
        elif isinstance(reward, str):
            self.spec = parse_reward(reward, judge, scorer)
            self.label = reward
        else:
            name = getattr(reward, "__name__", type(reward).__name__)
            self.spec = WeightedSum([(name, _UserReward(reward, name), 1.0)])
            self.label = name
        if input_format is not None and input_format not in importers.FORMATS:
            raise ScoreError(f"unknown input format {input_format!r}; choose one of {', '.join(importers.FORMATS)}")
        self.trust = trust or Trust.library_default()
        if env_id is not None and ":" in env_id:  # MODULE:ID: the caller named MODULE, so records may too
            module, env_id = env_id.split(":", 1)
            self.trust = dataclasses.replace(self.trust, modules=self.trust.modules | {module})
        try:  # the modules the caller named (again in a spawned worker)
            import_modules(sorted(self.trust.modules))
        except ImportError as error:
            raise ScoreError(f"cannot import {error.name!r}: {error}") from None
        if env_id is not None and env_id not in gym.registry:
            raise ScoreError(f"unknown env {env_id!r}.{env_id_hint(env_id)}")
        self.env_id = env_id
        self.env_kwargs = dict(env_kwargs or {})
        self.input_format = input_format
        self.success_threshold = success_threshold
        self._handles: dict[Any, _Handle] = {}
        self._last: tuple[str, dict[str, Any], _Handle] | None = None
        self._names = tuple(self.spec.names) if self.spec is not None else ()
        self._kinds = {name: kind_of(name) for name in self._names} if isinstance(reward, str) else {}

    @property
    def weights(self) -> dict[str, float] | None:
        """The spec's component weights, or ``None`` for the env's own reward."""
        return None if self.spec is None else dict(zip(self.spec.names, self.spec.weights, strict=True))

    def close(self) -> None:
        """Close every env this scorer made."""
        for handle in self._handles.values():
            if handle.env is not None:
                handle.env.close()
        self._handles.clear()
        self._last = None

    def __enter__(self) -> Scorer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # ---- envs -----------------------------------------------------------------------------------

    def handle(self, env_id: str, env_kwargs: Mapping[str, Any], env_module: str | None = None) -> _Handle:
        """The env for ``(env_id, env_kwargs)``, made on first use (as :attr:`trust` allows); a failure is cached too.

        ``env_module`` is the record's: the module that registers ``env_id``.
        """
        last = self._last
        if last is not None and last[0] == env_id and last[1] == env_kwargs:  # consecutive lines share envs
            handle = last[2]
        else:
            key = (env_id, _freeze(env_kwargs))
            handle = self._handles.get(key)
            if handle is None:
                handle = self._handles[key] = self._make_handle(env_id, dict(env_kwargs), env_module)
            self._last = (env_id, dict(env_kwargs), handle)
        if handle.error is not None:
            raise TrajectoryError(handle.error)
        return handle

    def _make_handle(self, env_id: str, env_kwargs: dict[str, Any], env_module: str | None) -> _Handle:
        if not env_id:
            return self._envless_handle()
        try:  # a record is data: it imports and builds only what the trust allows
            env_id = self.trust.env_id(env_id, env_module)
            self.trust.check_kwargs(env_id, env_kwargs)
            self.trust.check_count(sum(handle.env is not None for handle in self._handles.values()))
        except TrajectoryError as error:
            return _Handle(env_id, error=error.reason)
        try:
            env = gym.make(env_id, disable_env_checker=True, **env_kwargs)
        except gym.error.Error:
            return _Handle(env_id, error=f"unknown env {env_id!r}.{env_id_hint(env_id)}")
        except Exception as error:
            return _Handle(env_id, error=f"cannot make {env_id} with {env_kwargs}: {type(error).__name__}: {error}")
        inner = env.unwrapped
        if not hasattr(inner, "all_tasks"):
            env.close()
            return _Handle(env_id, error=f"{env_id} is not an agentgym env (it has no task set)")
        own = getattr(inner, "reward", None)
        tools = getattr(inner, "tools", {})
        handle = _Handle(
            env_id,
            env=env,
            tasks=inner.all_tasks,
            parse=getattr(inner, "parse", None),
            final_tools=tuple(name for name, tool in tools.items() if getattr(tool, "final", False)),
        )
        if self.spec is None:
            if own is None:
                handle.error = f"{env_id} defines no reward of its own (env.unwrapped.reward); pass --reward SPEC"
            handle.reward, handle.env_default = own, True
            handle.kinds = declared_kinds(own)
        else:
            handle.reward = self._with_default(own, env_id, handle)
        return handle

    def _with_default(self, own: Reward | None, env_id: str, handle: _Handle) -> WeightedSum:
        assert self.spec is not None
        components = []
        for name, reward, weight in self.spec.components:
            if isinstance(reward, _EnvDefault):
                if own is None:
                    handle.error = f"{env_id} defines no reward of its own, so 'default' cannot be used"
                reward = own
            components.append((name, reward, weight))
        return WeightedSum(components)

    def _envless_handle(self) -> _Handle:
        handle = _Handle("")
        if self.spec is None or any(isinstance(reward, _EnvDefault) for _, reward, _ in self.spec.components):
            handle.error = (
                "the record names no env: pass --env ENV_ID, or score it with rules that read the record's own "
                "'answer' (e.g. --reward em)"
            )
        handle.reward = self.spec
        return handle

    # ---- scoring --------------------------------------------------------------------------------

    def prepare(self, record: Any) -> tuple[Trajectory, Task, _Handle, str]:
        """Turn a decoded record into ``(trajectory, task, env handle, format)``.

        Raises:
            TrajectoryError: If the record is malformed, names an unknown env or task, or names
                no env when one is needed.
        """
        fmt = self.input_format or importers.detect_format(record)
        if fmt == "agentgym":
            trajectory = Trajectory.from_dict(record, copy=False)  # fresh from json.loads: ours to keep
            return (*self._task_of(trajectory), fmt)  # type: ignore[return-value]
        if not isinstance(record, dict):
            raise TrajectoryError(f"expected a JSON object, got {type(record).__name__}")
        env_id, env_kwargs = importers.env_of(record)
        if env_id is None and self.env_id is not None:
            env_id, env_kwargs = self.env_id, self.env_kwargs
        handle = self.handle(env_id or "", env_kwargs)
        trajectory = importers.to_trajectory(
            record,
            fmt,
            env_id=env_id,
            env_kwargs=env_kwargs,
            parse=handle.parse,
            final_tools=handle.final_tools if handle.env is not None else importers.FINAL_TOOLS,
        )
        if handle.env is None:
            task = importers.row_task(record, fmt)
            if task is None:
                raise TrajectoryError("the record names no env and carries no 'answer' to score against: pass --env")
        else:
            task = handle.task(trajectory.task_id)
        return trajectory, task, handle, fmt

    def _task_of(self, trajectory: Trajectory) -> tuple[Trajectory, Task, _Handle]:
        """``(trajectory, task, env handle)`` of an agentgym trajectory."""
        handle = self.handle(trajectory.env_id, trajectory.env_kwargs, trajectory.env_module)
        if handle.env is None:  # an agentgym record carries no gold answer of its own
            raise TrajectoryError("the record names no env and carries no 'answer' to score against: pass --env")
        return trajectory, handle.task(trajectory.task_id), handle

    def result(self, trajectory: Trajectory, handle: _Handle, result: RewardResult, fmt: str) -> Scored:
        """Build the :class:`Scored` of one reward result."""
        if handle.env_default:
            score, components = _env_components(result)
        else:
            score = float(result.value)
            details = result.details
            components = {name: float(details[name]) for name in self._names}
        recorded = None
        if (fmt == "agentgym" and trajectory.steps) or fmt == "verifiers":
            recorded = trajectory.rewards.total
        return Scored(
            env_id=trajectory.env_id,
            task_id=trajectory.task_id,
            score=score,
            components=components,
            recorded=recorded,
            turns=len(trajectory.steps),
            invalid_steps=sum(step.invalid_action for step in trajectory.steps),
            success=score >= self.success_threshold,
            repeat=_longest_repeat(trajectory),
            details=result.details,  # type: ignore[arg-type]
            format=fmt,
            kinds=handle.kinds if handle.env_default else self._kinds,
            error=trajectory.error,
        )

    def score(self, trajectory: Trajectory) -> Scored:
        """Score one trajectory.

        Raises:
            TrajectoryError: For an unknown env or task.
        """
        trajectory, task, handle = self._task_of(trajectory)
        return self.result(trajectory, handle, handle.reward(trajectory, task), "agentgym")  # type: ignore[misc]

    def score_lines(
        self, lines: Sequence[bytes], path: str = "<input>", first_line: int = 1
    ) -> list[Scored | TrajectoryError]:
        """Score a chunk of JSONL lines; each non-blank line gives a :class:`Scored` or its error.

        Lines are parsed, then scored in batches (one per env), through the reward's ``batch``
        form when it has one.

        Args:
            lines: Raw lines (bytes, newline included or not).
            path: The file name for results and error messages.
            first_line: The line number of ``lines[0]``.

        Returns:
            One item per non-blank line, in order; errors carry ``path`` and ``line``.
        """
        results: list[Scored | TrajectoryError | None] = [None] * len(lines)
        batches: dict[int, list[tuple[int, Trajectory, Task, _Handle, str]]] = {}
        for index, raw in enumerate(lines):
            if not raw or raw.isspace():
                continue
            number = first_line + index
            try:
                record = decode_line(raw, first=number == 1)
                trajectory, task, handle, fmt = self.prepare(record)
            except JSONLError as error:  # TrajectoryError is one
                results[index] = TrajectoryError(error.reason, path, number)
                continue
            batches.setdefault(id(handle), []).append((index, trajectory, task, handle, fmt))
        for batch in batches.values():
            reward = batch[0][3].reward
            try:
                rewards: list[RewardResult] | None = score_batch(reward, [b[1] for b in batch], [b[2] for b in batch])
            except Exception:  # find the culprit one by one
                rewards = None
            for k, (index, trajectory, task, handle, fmt) in enumerate(batch):
                try:
                    result = rewards[k] if rewards is not None else reward(trajectory, task)  # type: ignore[misc]
                    scored = self.result(trajectory, handle, result, fmt)
                except Exception as error:
                    reason = f"the reward failed on task {trajectory.task_id!r}: {type(error).__name__}: {error}"
                    results[index] = TrajectoryError(reason, path, first_line + index)
                    continue
                scored.path, scored.line = path, first_line + index
                results[index] = scored
        return [item for item in results if item is not None]


class _UserJudge:
    """A judge loaded by reference; a class is instantiated with no arguments."""

    def __init__(self, obj: Any, name: str):
        if isinstance(obj, type):
            obj = obj()
        if not callable(obj):
            raise ScoreError(f"judge {name} is not callable; a judge is a callable prompt -> reply text")
        self.judge = obj
        self.name = name

    def __call__(self, prompt: str) -> str:
        return self.judge(prompt)
