"""Adapters from agentgym rewards to trainers: TRL ``reward_funcs`` and verl ``compute_score``.

TRL's ``GRPOTrainer`` calls each reward function as
``reward_func(prompts=..., completions=..., completion_ids=..., **columns)``, where ``columns``
are the dataset's other columns (one list entry per completion) plus trainer extras such as
``trainer_state``; it expects ``list[float | None]`` back (``None``: not applicable to this
sample) and logs the function under its ``__name__``. :func:`trl_reward_func` builds that
function; :func:`trl_reward_funcs` splits a :class:`~agentgym.rewards.compose.WeightedSum` into
one function per component plus the weights, for ``GRPOConfig(reward_weights=...)``, so TRL
logs every component and weight-0 components become logged metrics.

verl's reward managers call ``compute_score(data_source=..., solution_str=...,
ground_truth=..., extra_info=...)`` (the function named by ``custom_reward_function.path`` /
``.name``) and accept a float or a dict with a ``"score"`` key whose other keys are logged.
:func:`verl_compute_score` builds that function.

How a trajectory and task are built from the trainer's inputs (:func:`trajectory_from_completion`,
:func:`task_from_columns`):

* The prompt (a string, or a list of chat messages) opens ``trajectory.messages`` (a string
  becomes one user message); ``Task.prompt`` is the last user message's text.
* The completion is the agent's side. A string is one assistant message and one
  :class:`~agentgym.trajectory.Step`. A list of messages (TRL's conversational format, possibly
  multi-turn with tool calls) gives one step per assistant message, its ``tool_calls``
  converted to ``{"name", "arguments", "id"}`` and the tool/user messages that follow it joined
  as the step's observation. This is :func:`agentgym.messages.steps_from_messages`, the reading
  ``agentgym score`` gives an imported conversation, so a call of a final tool (``answer``...)
  is marked as the final answer in both and a reward scores the same offline and in training.
* Gold: the dataset columns named in ``gold_columns`` (default ``answer``) go to ``Task.gold``
  under the same key (a mapping renames: ``{"solution": "answer"}``); a ``gold`` column holding a
  dict is merged in first. The remaining columns go to ``Task.metadata``. ``Task.id`` is the
  ``task_id`` or ``id`` column when present, else the row index. For verl, ``ground_truth``
  becomes ``gold["answer"]`` (or the whole gold when it is a dict) and ``extra_info`` (plus
  ``data_source``) becomes the metadata.

A reward value that is NaN is returned as ``None`` to TRL (TRL ignores it in its weighted sum).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any

from agentgym.core import Task
from agentgym.messages import FINAL_TOOLS, content_text, steps_from_messages
from agentgym.rewards.base import Reward, RewardResult, score_batch
from agentgym.rewards.compose import WeightedSum
from agentgym.trajectory import Trajectory

__all__ = [
    "TRL_RESERVED",
    "task_from_columns",
    "trajectory_from_completion",
    "trl_reward_func",
    "trl_reward_funcs",
    "verl_compute_score",
]

#: Keyword arguments TRL passes to reward functions that are not dataset columns.
TRL_RESERVED = frozenset(
    {"prompts", "completions", "completion_ids", "trainer_state", "step", "run_name",
     "log_extra", "log_metric", "environments"}
)  # fmt: skip

Message = Mapping[str, Any]


def trajectory_from_completion(
    prompt: str | Sequence[Message] | None,
    completion: str | Sequence[Message],
    task_id: str = "0",
    env_id: str = "trl",
    final_tools: Collection[str] = FINAL_TOOLS,
) -> Trajectory:
    """Build a :class:`~agentgym.trajectory.Trajectory` from a trainer's prompt and completion.

    Args:
        prompt: The prompt text, a list of chat messages, or ``None``.
        completion: The completion text, or a list of chat messages (assistant, tool, ...).
        task_id: The trajectory's ``task_id``.
        env_id: The trajectory's ``env_id``.
        final_tools: The tools whose call is the final answer.

    Returns:
        A terminated trajectory: ``messages`` = prompt + completion, its steps read from the
        completion by :func:`agentgym.messages.steps_from_messages` (one per assistant message, the
        final-answer call marked as the env marks it), as ``agentgym score`` reads an imported file.

    Examples:
        >>> t = trajectory_from_completion("2+2?", "<answer>4</answer>")
        >>> [m["role"] for m in t.messages], t.steps[0].action
        (['user', 'assistant'], '<answer>4</answer>')
        >>> t = trajectory_from_completion([{"role": "user", "content": "2+2?"}], [
        ...     {"role": "assistant", "content": "", "tool_calls": [
        ...         {"id": "c1", "type": "function",
        ...          "function": {"name": "add", "arguments": '{"a": 2, "b": 2}'}}]},
        ...     {"role": "tool", "tool_call_id": "c1", "content": "4"},
        ...     {"role": "assistant", "content": "<answer>4</answer>"},
        ... ])
        >>> len(t.steps), t.steps[0].tool_calls, t.steps[0].observation
        (2, [{'name': 'add', 'arguments': {'a': 2, 'b': 2}, 'id': 'c1'}], '4')
    """
    if prompt is None:
        messages: list[dict[str, Any]] = []
    elif isinstance(prompt, str):
        messages = [{"role": "user", "content": prompt}]
    else:
        messages = [dict(message) for message in prompt]
    if isinstance(completion, str):
        completion_messages: list[dict[str, Any]] = [{"role": "assistant", "content": completion}]
    else:
        completion_messages = [dict(message) for message in completion]
    return Trajectory(
        env_id=env_id,
        task_id=task_id,
        messages=messages + completion_messages,
        steps=steps_from_messages(completion_messages, final_tools=final_tools),
        terminated=True,
    )


def _prompt_text(prompt: str | Sequence[Message] | None) -> str:
    if prompt is None:
        return ""
    if isinstance(prompt, str):
        return prompt
    for message in reversed(prompt):
        if message.get("role") == "user":
            return content_text(message.get("content"))
    return ""


def task_from_columns(
    prompt: str | Sequence[Message] | None,
    columns: Mapping[str, Any],
    *,
    index: int = 0,
    gold_columns: Sequence[str] | Mapping[str, str] = ("answer",),
) -> Task:
    """Build a :class:`~agentgym.core.Task` from one dataset row's columns.

    Args:
        prompt: The prompt text or chat messages.
        columns: The row's other columns.
        index: The row's position, used as the id when there is no ``task_id``/``id`` column.
        gold_columns: Columns that go to ``Task.gold``; a mapping renames column → gold key.

    Returns:
        The task.

    Examples:
        >>> task = task_from_columns("2+2?", {"answer": "4", "level": 1}, index=3)
        >>> task.id, task.prompt, dict(task.gold), dict(task.metadata)
        ('3', '2+2?', {'answer': '4'}, {'level': 1})
        >>> task_from_columns("q", {"solution": "4"}, gold_columns={"solution": "answer"}).gold
        {'answer': '4'}
    """
    rename = (
        dict(gold_columns) if isinstance(gold_columns, Mapping) else {c: c for c in gold_columns}
    )
    gold: dict[str, Any] = {}
    if isinstance(columns.get("gold"), Mapping):
        gold.update(columns["gold"])
    metadata: dict[str, Any] = {}
    for column, value in columns.items():
        if column in rename:
            if value is not None:
                gold[rename[column]] = value
        elif not (column == "gold" and isinstance(value, Mapping)):
            metadata[column] = value
    task_id = columns.get("task_id", columns.get("id", index))
    return Task(id=str(task_id), prompt=_prompt_text(prompt), gold=gold, metadata=metadata)


def _float_or_none(value: float) -> float | None:
    value = float(value)
    return None if math.isnan(value) else value


def trl_reward_func(
    reward: Reward,
    name: str | None = None,
    *,
    gold_columns: Sequence[str] | Mapping[str, str] = ("answer",),
) -> Callable[..., list[float | None]]:
    """Wrap a reward as a TRL ``reward_funcs`` entry.

    The returned function takes ``completions`` (and ``prompts``) plus the dataset columns as
    keyword lists, builds one trajectory and task per completion (see the module docstring),
    scores them with the reward's batched form when it has one, and returns one float per
    completion (``None`` where the value is NaN).

    Args:
        reward: The reward.
        name: The function's ``__name__``, which TRL logs it under (``rewards/<name>/mean``);
            default: the reward's own name.
        gold_columns: Dataset columns that go to ``Task.gold`` (a mapping renames).

    Returns:
        ``reward_func(completions, prompts=None, **kwargs) -> list[float | None]``.

    Examples:
        >>> def exact(trajectory, task):
        ...     said = trajectory.messages[-1]["content"]
        ...     return RewardResult(float(said.strip() == task.gold["answer"]))
        >>> reward_func = trl_reward_func(exact, "exact")
        >>> reward_func(prompts=["2+2?", "2+3?"], completions=["4", "6"], answer=["4", "5"])
        [1.0, 0.0]
        >>> reward_func.__name__
        'exact'
    """

    def reward_func(
        completions: Sequence[str | Sequence[Message]],
        prompts: Sequence[str | Sequence[Message] | None] | None = None,
        **kwargs: Any,
    ) -> list[float | None]:
        n = len(completions)
        prompts = list(prompts) if prompts is not None else [None] * n
        columns = {
            key: list(value)
            for key, value in kwargs.items()
            if key not in TRL_RESERVED and isinstance(value, (list, tuple)) and len(value) == n
        }
        tasks = [
            task_from_columns(
                prompts[i],
                {key: value[i] for key, value in columns.items()},
                index=i,
                gold_columns=gold_columns,
            )
            for i in range(n)
        ]
        trajectories = [
            trajectory_from_completion(prompts[i], completions[i], task_id=tasks[i].id)
            for i in range(n)
        ]
        return [_float_or_none(r.value) for r in score_batch(reward, trajectories, tasks)]

    reward_func.__name__ = name or getattr(reward, "__name__", type(reward).__name__)
    reward_func.__qualname__ = reward_func.__name__
    return reward_func


def trl_reward_funcs(
    reward: WeightedSum, *, gold_columns: Sequence[str] | Mapping[str, str] = ("answer",)
) -> tuple[list[Callable[..., list[float | None]]], list[float]]:
    """Split a :class:`~agentgym.rewards.compose.WeightedSum` into TRL reward functions and weights.

    Pass the first item as ``GRPOTrainer(reward_funcs=...)`` and the second as
    ``GRPOConfig(reward_weights=...)``; TRL then logs each component under its name, and a
    weight-0 component is logged without affecting the advantage, as in the ``WeightedSum``.

    Args:
        reward: The weighted sum.
        gold_columns: As for :func:`trl_reward_func`.

    Returns:
        ``(reward_funcs, reward_weights)``.

    Examples:
        >>> one = lambda t, task: RewardResult(1.0)
        >>> funcs, weights = trl_reward_funcs(WeightedSum([("outcome", one, 1.0), ("fmt", one, 0)]))
        >>> [f.__name__ for f in funcs], weights
        (['outcome', 'fmt'], [1.0, 0.0])
    """
    funcs = [
        trl_reward_func(r, name, gold_columns=gold_columns) for name, r, _ in reward.components
    ]
    return funcs, list(reward.weights)


def _loggable(value: Any) -> bool:
    return isinstance(value, (bool, int, float)) and not isinstance(value, complex)


def verl_compute_score(
    reward: Reward,
    *,
    gold_key: str = "answer",
    return_details: bool = True,
    detail_keys: Sequence[str] | None = None,
) -> Callable[..., float | dict[str, Any]]:
    """Wrap a reward as verl's ``compute_score(data_source, solution_str, ground_truth, ...)``.

    Point verl's ``custom_reward_function.path`` at a file that defines
    ``compute_score = verl_compute_score(my_reward)`` (and ``.name`` at ``compute_score``).
    ``solution_str`` (the decoded response) is the completion; ``extra_info["question"]`` or
    ``extra_info["prompt"]``, when present, the prompt; ``ground_truth`` goes to
    ``Task.gold[gold_key]`` (a dict ground truth is the whole gold); ``data_source`` and the rest
    of ``extra_info`` to ``Task.metadata``; ``extra_info["index"]`` (verl's row index), when
    present, is the task id.

    With ``return_details`` the result is ``{"score": value, **numeric details}``; otherwise the
    float value. verl appends every key to a per-sample column, so every sample must return the
    same keys. That holds for rewards whose details are fixed; for one whose details vary by
    sample (a :class:`~agentgym.rewards.compose.Gate` reports the gated reward only when the
    gate passes), name the columns in ``detail_keys``: exactly those are returned, NaN where a
    sample lacks one. Non-numeric details are dropped.

    Args:
        reward: The reward.
        gold_key: The gold key ``ground_truth`` is stored under.
        return_details: Return the dict form.
        detail_keys: The detail keys to return (default: all numeric details).

    Returns:
        ``compute_score(data_source, solution_str, ground_truth, extra_info=None, **kwargs)``.

    Examples:
        >>> def exact(trajectory, task):
        ...     said = trajectory.messages[-1]["content"]
        ...     return RewardResult(float(said == task.gold["answer"]), details={"len": len(said)})
        >>> compute_score = verl_compute_score(exact)
        >>> compute_score(data_source="gsm8k", solution_str="4", ground_truth="4")
        {'score': 1.0, 'len': 1}
        >>> verl_compute_score(exact, return_details=False)("gsm8k", "5", "4", {"index": 7})
        0.0
        >>> verl_compute_score(exact, detail_keys=["len", "judge"])("gsm8k", "4", "4")
        {'score': 1.0, 'len': 1, 'judge': nan}
    """

    def compute_score(
        data_source: str,
        solution_str: str,
        ground_truth: Any,
        extra_info: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> float | dict[str, Any]:
        info = dict(extra_info or {})
        prompt = info.get("question", info.get("prompt"))
        gold = dict(ground_truth) if isinstance(ground_truth, Mapping) else {gold_key: ground_truth}
        task = Task(
            id=str(info.get("index", "0")),
            prompt=_prompt_text(prompt),
            gold=gold,
            metadata={"data_source": data_source, **info},
        )
        trajectory = trajectory_from_completion(
            prompt, solution_str, task.id, env_id=str(data_source)
        )
        result: RewardResult = reward(trajectory, task)
        if not return_details:
            return float(result.value)
        if detail_keys is not None:
            details = {key: result.details.get(key, math.nan) for key in detail_keys}
        else:
            details = {k: v for k, v in result.details.items() if _loggable(v) and k != "score"}
        return {"score": float(result.value), **details}

    compute_score.__name__ = "compute_score"
    return compute_score
