"""ToolRL's reward for tool calling: a format reward plus a fine-grained call-correctness reward.

Paper: Qian et al., 2025, "ToolRL: Reward is All Tool Learning Needs" (arXiv 2504.13958); code
``qiancheng0/ToolRL``, ``verl/utils/reward_score/rlla.py`` (``compute_score``,
``customize_format_reward_func``, ``customize_correctness_reward_tool``,
``compute_tool_call_reward``, ``match_score``).
Everything here is code-faithful; the code's environment-variable switches are keyword flags:

=========================== =====================================================
code switch                 flag here
=========================== =====================================================
``REFINEDREWARD=1``         ``refined=True``: :func:`match_score` is 0/1
``INTERMEDIATEREWARD=1``    ``intermediate=True``: each gold call is worth 1, exact match only
``COARSEREWARD=1``          ``coarse=True``: anything but an exact list match scores min
``CORRECTMAX1=1``           ``correct_max1=True``: correctness in [-1, 1]
``SCHEDULEREWARD=1``        ``schedule=True``: bounds move with the trainer ``step``
``MAX1STEP30MAX3=1``        ``max1_step30_max3=True``
``WITHLENGTH=1``            ``with_length=True`` (``SCHEDULELENGTH=1``: ``schedule_length``)
=========================== =====================================================

Total: ``R = R_format + R_correct (+ R_length)``. With the defaults R_format is 0 or 1 and
R_correct is in [-3, 3], so R is in [-3, 4] ([-3, 5] with the length term).

Calls are dicts ``{"name", "parameters"}`` (ToolRL's data) or ``{"name", "arguments"}``
(agentgym's ``Step.tool_calls`` and OpenAI); both are accepted and compared as name +
parameters, any other keys (``id``) ignored. ``arguments`` given as a JSON string is decoded.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Hashable, Mapping, Sequence
from typing import Any, Literal

from agentgym.core import Task
from agentgym.messages import decode_arguments
from agentgym.rewards.base import RewardResult
from agentgym.trajectory import Trajectory

__all__ = [
    "ToolRLReward",
    "correctness_bounds",
    "format_bounds",
    "match_score",
    "normalize_calls",
    "parse_tool_calls",
    "toolrl_correctness",
    "toolrl_format",
    "toolrl_length",
    "toolrl_score",
]


def match_score(
    first: Sequence[Hashable], second: Sequence[Hashable], *, strict: bool = False
) -> float:
    """ToolRL's ``match_score``: multiset Jaccard of two lists, 1.0 when they are equal.

    ``sum_k min(c1[k], c2[k]) / (len(first) + len(second) - intersection)``; 0.0 if either list is
    empty (and they differ). ``strict=True`` (``REFINEDREWARD``) gives 0.0 unless equal.

    Args:
        first: A list (gold names or keys).
        second: Another list (predicted names or keys).
        strict: 0/1 matching.

    Returns:
        The score in [0, 1].

    Examples:
        >>> match_score(["get_weather"], ["get_weather", "get_time"])
        0.5
        >>> match_score(["a", "a", "b"], ["a", "b", "c"])  # intersection 2, union 4
        0.5
    """
    if list(first) == list(second):
        return 1.0
    if strict or not first or not second:
        return 0.0
    count1, count2 = Counter(first), Counter(second)
    intersection = sum(min(count1[k], count2[k]) for k in count1.keys() & count2.keys())
    union = len(first) + len(second) - intersection
    return intersection / union if union > 0 else 0.0


def normalize_calls(calls: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Turn calls into ToolRL's ``{"name", "parameters"}`` dicts.

    Args:
        calls: Dicts with ``name`` and ``parameters`` or ``arguments`` (a dict or a JSON string).

    Returns:
        New dicts; the inputs are not modified.

    Raises:
        ValueError: If a call is not a mapping, has no ``name``, or has arguments that are not an
            object.

    Examples:
        >>> normalize_calls([{"name": "f", "arguments": '{"x": 1}', "id": "call_0"}])
        [{'name': 'f', 'parameters': {'x': 1}}]
    """
    normalized = []
    for call in calls:
        if not isinstance(call, Mapping) or "name" not in call:
            raise ValueError(f"not a tool call: {call!r}")
        arguments = call.get("parameters", call.get("arguments", {}))
        arguments, error = decode_arguments(arguments)
        if error is not None:
            raise ValueError(f"arguments of {call['name']!r} are not JSON: {error}")
        if not isinstance(arguments, Mapping):
            raise ValueError(f"arguments of {call['name']!r} are not an object: {arguments!r}")
        normalized.append({"name": call["name"], "parameters": dict(arguments)})
    return normalized


def toolrl_correctness(
    gold_calls: Sequence[Mapping[str, Any]],
    pred_calls: Sequence[Mapping[str, Any]],
    *,
    max_reward: float = 3.0,
    min_reward: float = -3.0,
    refined: bool = False,
    intermediate: bool = False,
    coarse: bool = False,
) -> float:
    """ToolRL's ``compute_tool_call_reward`` on parsed calls.

    Equal lists score ``max_reward``. Otherwise ``S = match_score(gold names, predicted names)``
    and each gold call, in order, greedily takes the unused predicted call of the same name that
    maximizes ``match_score(gold keys, predicted keys) + #(gold params with an equal predicted
    value)``, adding that best score to S (a candidate must score above 0 to be taken).
    ``S_max = 1 + sum_g (1 + |params_g|)``, and the reward is
    ``(max - min) * S / S_max + min``, i.e. ``6 S / S_max - 3`` by default. Range
    [``min_reward``, ``max_reward``].

    Args:
        gold_calls: The expected calls.
        pred_calls: The predicted calls.
        max_reward: Reward of an exact match.
        min_reward: Reward of a complete miss.
        refined: Strict 0/1 :func:`match_score` (``REFINEDREWARD``).
        intermediate: A gold call is worth 1 and counts only on an exact match
            (``INTERMEDIATEREWARD``).
        coarse: ``min_reward`` unless the lists are equal (``COARSEREWARD``).

    Returns:
        The correctness reward.

    Raises:
        ValueError: If a call is malformed (see :func:`normalize_calls`).

    Examples:
        >>> gold = [{"name": "get_weather", "parameters": {"city": "Paris", "unit": "C"}}]
        >>> fahrenheit = {"name": "get_weather", "parameters": {"city": "Paris", "unit": "F"}}
        >>> toolrl_correctness(gold, [fahrenheit])
        1.5
        >>> toolrl_correctness(gold, [{"name": "get_weather", "parameters": {"city": "Paris"}}])
        0.75
    """
    gold_tools = normalize_calls(gold_calls)
    pred_tools = normalize_calls(pred_calls)
    if gold_tools == pred_tools:
        return max_reward
    if coarse:
        return min_reward
    score = match_score(
        [t["name"] for t in gold_tools], [t["name"] for t in pred_tools], strict=refined
    )
    max_score = 1.0
    used: set[int] = set()
    for gold in gold_tools:
        gold_params = gold["parameters"]
        max_score += 1.0 if intermediate else 1.0 + len(gold_params)
        best_score, best_index = 0.0, -1
        for i, pred in enumerate(pred_tools):
            if i in used or pred["name"] != gold["name"]:
                continue
            if intermediate:
                if pred == gold:
                    best_score, best_index = 1.0, i
                    break
                continue
            pred_params = pred["parameters"]
            candidate = match_score(list(gold_params), list(pred_params), strict=refined)
            candidate += sum(
                1.0 for k, v in gold_params.items() if k in pred_params and pred_params[k] == v
            )
            if candidate > best_score:
                best_score, best_index = candidate, i
        if best_index >= 0:
            used.add(best_index)
            score += best_score
    return (max_reward - min_reward) * score / max_score + min_reward


def parse_tool_calls(text: str) -> list[dict[str, Any]]:
    r"""Parse calls as ToolRL does: one JSON object per line of the first ``<tool_call>`` block.

    Args:
        text: A completion (or ToolRL ground-truth string).

    Returns:
        The parsed JSON objects.

    Raises:
        ValueError: If there is no ``<tool_call>…</tool_call>`` block or a line is not JSON (the
            code scores these ``min_reward``).

    Examples:
        >>> parse_tool_calls('<tool_call>\n{"name": "f", "parameters": {}}\n</tool_call>')
        [{'name': 'f', 'parameters': {}}]
    """
    if "<tool_call>" not in text or "</tool_call>" not in text:
        raise ValueError("no <tool_call> block")
    block = text.split("<tool_call>")[1].split("</tool_call>")[0].strip()
    return [json.loads(line) for line in block.split("\n")]


_FORMAT_PATTERNS = {
    (False, True): re.compile(r"^<think>.*?</think>\n<response>.*?</response>$", re.DOTALL),
    (True, False): re.compile(r"^<think>.*?</think>\n<tool_call>\n.*?\n</tool_call>$", re.DOTALL),
    (True, True): re.compile(
        r"^<think>.*?</think>\n<tool_call>\n.*?\n</tool_call>\n<response>.*?</response>$", re.DOTALL
    ),
    (False, False): re.compile(r"^<think>.*?</think>$", re.DOTALL),
}


def toolrl_format(
    response: str,
    *,
    tool_call: bool,
    response_tag: bool,
    max_reward: float = 1.0,
    min_reward: float = 0.0,
) -> float:
    r"""ToolRL's format reward: ``max_reward`` iff the completion has the layout the gold implies.

    The gold decides the pattern (``re.DOTALL``; the completion is stripped first):

    * calls only: ``<think>…</think>\n<tool_call>\n…\n</tool_call>``, one ``<tool_call>`` pair;
    * response only: ``<think>…</think>\n<response>…</response>``, one ``<response>`` pair;
    * both: ``<think>…</think>\n<tool_call>\n…\n</tool_call>\n<response>…</response>``, one
      pair each;
    * neither: ``<think>…</think>``.

    Args:
        response: The completion.
        tool_call: Whether the gold holds ``<tool_call>``.
        response_tag: Whether the gold holds ``<response>``.
        max_reward: Reward of a well-formed completion.
        min_reward: Reward otherwise.

    Returns:
        ``max_reward`` or ``min_reward``.

    Examples:
        >>> good = '<think>x</think>\n<tool_call>\n{"name": "f", "parameters": {}}\n</tool_call>'
        >>> toolrl_format(good, tool_call=True, response_tag=False)
        1.0
        >>> cramped = '<think>x</think>\n<tool_call>{"name": "f"}</tool_call>'
        >>> toolrl_format(cramped, tool_call=True, response_tag=False)
        0.0
    """
    text = response.strip()
    # The counts first: with one tag of each pair, the pattern's lazy .*? runs match in linear time
    # (many "</think>\n<tool_call>\n" would make each a rescan of the rest of the text).
    if tool_call and (text.count("<tool_call>") != 1 or text.count("</tool_call>") != 1):
        return min_reward
    if response_tag and (text.count("<response>") != 1 or text.count("</response>") != 1):
        return min_reward
    if not _FORMAT_PATTERNS[(tool_call, response_tag)].search(text):
        return min_reward
    return max_reward


def toolrl_length(
    response: str,
    *,
    step: int = 0,
    schedule_length: bool = False,
    max_reward: float = 1.0,
    min_reward: float = 0.0,
) -> float:
    """ToolRL's optional length reward (``WITHLENGTH=1``) on the words inside ``<think>``.

    ``r = min(1, round(#words / L, 2))`` with ``L = 512``, or ``L = 384 + 256 * step / 105`` with
    ``schedule_length``; the reward is ``r * (max - min) + min``, and ``min_reward`` without
    ``<think>``/``</think>``.

    Args:
        response: The completion.
        step: The trainer step.
        schedule_length: ``SCHEDULELENGTH``.
        max_reward: Reward at full length.
        min_reward: Reward at zero length.

    Returns:
        The length reward in [``min_reward``, ``max_reward``].

    Examples:
        >>> toolrl_length("<think>" + "word " * 256 + "</think>")
        0.5
    """
    if "<think>" not in response or "</think>" not in response:
        return min_reward
    think = response.split("<think>")[-1].split("</think>")[0].strip()
    target = 384 + 256 * step / 105 if schedule_length else 512
    ratio = min(1.0, round(len(think.split()) / target, 2))
    return ratio * (max_reward - min_reward) + min_reward


def format_bounds(
    step: int = 0, *, schedule: bool = False, max1_step30_max3: bool = False
) -> tuple[float, float]:
    """``(min, max)`` of the format reward at trainer ``step`` (default ``(0, 1)``).

    ``max1_step30_max3`` halves both bounds from step 30 on; ``schedule`` then moves them to
    ``max = max(1, 2 - (2 - max) step / 150)`` and ``min = min(-1, -2 + (2 + min) step / 150)``.

    Args:
        step: The trainer step.
        schedule: ``SCHEDULEREWARD``.
        max1_step30_max3: ``MAX1STEP30MAX3``.

    Returns:
        ``(min_reward, max_reward)``.

    Examples:
        >>> [format_bounds(step, schedule=True) for step in (0, 75, 150)]
        [(-2.0, 2.0), (-1.0, 1.5), (-1.0, 1.0)]
    """
    low, high = 0.0, 1.0
    if max1_step30_max3 and step >= 30:
        low, high = low / 2, high / 2
    if schedule:
        high = max(1.0, 2 - (2 - high) * step / 150)
        low = min(-1.0, -2 + (2 + low) * step / 150)
    return low, high


def correctness_bounds(
    step: int = 0,
    *,
    schedule: bool = False,
    max1_step30_max3: bool = False,
    correct_max1: bool = False,
) -> tuple[float, float]:
    """``(min, max)`` of the correctness reward at trainer ``step`` (default ``(-3, 3)``).

    ``correct_max1`` starts from (-1, 1); ``max1_step30_max3`` divides by 3 before step 30;
    ``schedule`` then moves them to ``max = min(3, 2 + (max - 2) step / 150)`` and
    ``min = max(-3, -2 + (min + 2) step / 150)``.

    Args:
        step: The trainer step.
        schedule: ``SCHEDULEREWARD``.
        max1_step30_max3: ``MAX1STEP30MAX3``.
        correct_max1: ``CORRECTMAX1``.

    Returns:
        ``(min_reward, max_reward)``.

    Examples:
        >>> correctness_bounds(0, schedule=True), correctness_bounds(75, schedule=True)
        ((-2.0, 2.0), (-2.5, 2.5))
        >>> correctness_bounds(10, max1_step30_max3=True)
        (-1.0, 1.0)
    """
    low, high = (-1.0, 1.0) if correct_max1 else (-3.0, 3.0)
    if max1_step30_max3 and step < 30:
        low, high = low / 3, high / 3
    if schedule:
        high = min(3.0, (high - 2) * step / 150 + 2)
        low = max(-3.0, (low + 2) * step / 150 - 2)
    return low, high


def _correctness(
    gold_calls: Sequence[Mapping[str, Any]] | None,
    pred: str | Sequence[Mapping[str, Any]],
    bounds: tuple[float, float],
    flags: dict[str, bool],
) -> float:
    """Correctness from parsed gold calls and a completion (str) or parsed calls; errors -> min."""
    low, high = bounds
    if not gold_calls:
        return 0.0
    gold_calls = normalize_calls(gold_calls)  # a malformed gold is a data error: let it raise
    try:
        pred_calls = parse_tool_calls(pred) if isinstance(pred, str) else pred
        return toolrl_correctness(gold_calls, pred_calls, max_reward=high, min_reward=low, **flags)
    except (ValueError, TypeError, KeyError):
        return low


def toolrl_score(
    response: str,
    ground_truth: str,
    *,
    step: int = 0,
    refined: bool = False,
    intermediate: bool = False,
    coarse: bool = False,
    correct_max1: bool = False,
    schedule: bool = False,
    max1_step30_max3: bool = False,
    with_length: bool = False,
    schedule_length: bool = False,
) -> dict[str, float]:
    r"""ToolRL's ``compute_score`` on text: a completion against a ToolRL ground-truth string.

    The ground truth holds ``<tool_call>`` (one JSON call per line) and/or ``<response>``. No
    ``<tool_call>`` in the ground truth gives correctness 0; a completion without a
    ``<tool_call>`` block, or with a line that is not JSON, gives the minimum.

    Args:
        response: The completion.
        ground_truth: The ToolRL ground truth.
        step: The trainer step (for the scheduled variants).
        refined: See :func:`toolrl_correctness`.
        intermediate: See :func:`toolrl_correctness`.
        coarse: See :func:`toolrl_correctness`.
        correct_max1: See :func:`correctness_bounds`.
        schedule: See :func:`format_bounds` and :func:`correctness_bounds`.
        max1_step30_max3: See :func:`format_bounds` and :func:`correctness_bounds`.
        with_length: Add :func:`toolrl_length`.
        schedule_length: See :func:`toolrl_length`.

    Returns:
        ``{"format", "correctness", "length", "total"}`` (``length`` is 0 without ``with_length``).

    Examples:
        >>> call = '{"name": "get_weather", "parameters": {"city": "Paris", "unit": "%s"}}'
        >>> gt = f"<tool_call>\n{call % 'C'}\n</tool_call>"
        >>> out = f"<think>ok</think>\n<tool_call>\n{call % 'F'}\n</tool_call>"
        >>> toolrl_score(out, gt)
        {'format': 1.0, 'correctness': 1.5, 'length': 0.0, 'total': 2.5}
    """
    response = response.strip()
    fmt_low, fmt_high = format_bounds(step, schedule=schedule, max1_step30_max3=max1_step30_max3)
    fmt = toolrl_format(
        response,
        tool_call="<tool_call>" in ground_truth,
        response_tag="<response>" in ground_truth,
        max_reward=fmt_high,
        min_reward=fmt_low,
    )
    bounds = correctness_bounds(
        step, schedule=schedule, max1_step30_max3=max1_step30_max3, correct_max1=correct_max1
    )
    flags = {"refined": refined, "intermediate": intermediate, "coarse": coarse}
    gold_calls = parse_tool_calls(ground_truth) if "<tool_call>" in ground_truth else None
    correct = _correctness(gold_calls, response, bounds, flags)
    length = (
        toolrl_length(response, step=step, schedule_length=schedule_length) if with_length else 0.0
    )
    return {
        "format": fmt,
        "correctness": correct,
        "length": length,
        "total": fmt + correct + length,
    }


def _action_text(action: str | Mapping[str, Any]) -> str:
    if isinstance(action, str):
        return action
    content = action.get("content")
    return content if isinstance(content, str) else ""


class ToolRLReward:
    r"""ToolRL format + correctness on a trajectory's parsed tool calls.

    Paper: ToolRL (Qian et al., 2025); code-faithful formulas (:func:`toolrl_correctness`,
    :func:`toolrl_format`, :func:`toolrl_length`), all variants as keyword flags. Range with the
    defaults: format {0, 1} + correctness [-3, 3], total [-3, 4].

    ToolRL scores one completion. Here the gold calls are ``task.gold["calls"]``; the gold
    expects a ``<response>`` when ``task.gold["response"]`` is set. The predicted calls are the
    env-parsed ``step.tool_calls`` of step ``step`` (``calls_from="all"``: of every step, in
    order); the format is checked on that step's raw completion text (an OpenAI message action
    contributes its ``content``, which has no ``<tool_call>`` tags). A trajectory without that
    step scores the minimum on both (or correctness 0 when the gold has no calls).

    Args:
        step: Index of the step whose completion is scored.
        calls_from: ``"step"`` (that step's calls) or ``"all"`` (every step's calls).
        trainer_step: The trainer step, for ``schedule``/``max1_step30_max3``/``schedule_length``.
        refined: See :func:`toolrl_correctness`.
        intermediate: See :func:`toolrl_correctness`.
        coarse: See :func:`toolrl_correctness`.
        correct_max1: See :func:`correctness_bounds`.
        schedule: See :func:`format_bounds`.
        max1_step30_max3: See :func:`format_bounds`.
        with_length: Add :func:`toolrl_length`.
        schedule_length: See :func:`toolrl_length`.

    Examples:
        >>> from agentgym.trajectory import Step, Trajectory
        >>> call = {"name": "get_weather", "arguments": {"city": "Paris", "unit": "F"}}
        >>> text = f"<think>weather</think>\n<tool_call>\n{json.dumps(call)}\n</tool_call>"
        >>> t = Trajectory(env_id="x", task_id="w", steps=[Step(action=text, tool_calls=[call])])
        >>> gold = {"calls": [{"name": "get_weather", "arguments": {"city": "Paris", "unit": "C"}}]}
        >>> task = Task(id="w", prompt="?", gold=gold)
        >>> result = ToolRLReward()(t, task)
        >>> result.value, result.details["format"], result.details["correctness"]
        (2.5, 1.0, 1.5)
    """

    def __init__(
        self,
        *,
        step: int = 0,
        calls_from: Literal["step", "all"] = "step",
        trainer_step: int = 0,
        refined: bool = False,
        intermediate: bool = False,
        coarse: bool = False,
        correct_max1: bool = False,
        schedule: bool = False,
        max1_step30_max3: bool = False,
        with_length: bool = False,
        schedule_length: bool = False,
    ) -> None:
        if calls_from not in ("step", "all"):
            raise ValueError(f"calls_from must be 'step' or 'all', not {calls_from!r}")
        self.step = step
        self.calls_from = calls_from
        self.trainer_step = trainer_step
        self.flags = {"refined": refined, "intermediate": intermediate, "coarse": coarse}
        self.correct_max1 = correct_max1
        self.schedule = schedule
        self.max1_step30_max3 = max1_step30_max3
        self.with_length = with_length
        self.schedule_length = schedule_length

    def __call__(self, trajectory: Trajectory, task: Task) -> RewardResult:
        """Score one trajectory."""
        gold_calls = list(task.gold.get("calls") or [])
        expects_response = bool(task.gold.get("response"))
        steps = trajectory.steps
        chosen = steps[self.step] if -len(steps) <= self.step < len(steps) else None
        text = _action_text(chosen.action) if chosen is not None else ""
        if self.calls_from == "all":
            pred_calls = [call for s in steps for call in s.tool_calls]
        else:
            pred_calls = list(chosen.tool_calls) if chosen is not None else []

        s = self.trainer_step
        fmt_low, fmt_high = format_bounds(
            s, schedule=self.schedule, max1_step30_max3=self.max1_step30_max3
        )
        fmt = toolrl_format(
            text,
            tool_call=bool(gold_calls),
            response_tag=expects_response,
            max_reward=fmt_high,
            min_reward=fmt_low,
        )
        bounds = correctness_bounds(
            s,
            schedule=self.schedule,
            max1_step30_max3=self.max1_step30_max3,
            correct_max1=self.correct_max1,
        )
        correct = _correctness(gold_calls, pred_calls, bounds, self.flags)
        length = (
            toolrl_length(text, step=s, schedule_length=self.schedule_length)
            if self.with_length
            else 0.0
        )
        total = fmt + correct + length
        return RewardResult(
            total,
            details={
                "format": fmt,
                "correctness": correct,
                "length": length,
                "n_pred_calls": len(pred_calls),
            },
        )
