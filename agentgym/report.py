"""``agentgym report``: one self-contained HTML page about a set of saved trajectories.

The page works offline: inline CSS, plots drawn as inline SVG by this module (no plotting library,
no script, nothing fetched). It shows a summary, the reward components (table and histograms),
reward against turns, success by difficulty, per-step reward curves, and the best and worst
episodes with their conversations.

Input is streamed: :class:`ReportData` keeps running aggregates (moments, fixed-size histograms,
per-step sums), a seeded reservoir sample of points for the scatter plot and a bounded heap of the
best and worst episodes, so memory does not grow with the number of trajectories.

An episode counts as a *success* when its return is at least a threshold (1.0 by default, as in
``agentgym score``; ``--success-threshold``).

Success is grouped by the task's ``metadata["difficulty"]`` when the env can be rebuilt from the
trajectory's ``env_id`` and ``env_kwargs`` (the task is looked up by ``task_id``); otherwise by
episode length. The page says which.

Example::

    agentgym report runs/*.jsonl -o report.html --title "Qwen3-4B on DeepSearch" --top 3
"""

from __future__ import annotations

import heapq
import html
import json
import math
import random
import warnings
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import agentgym
from agentgym.messages import (
    TOOL_CALL_CLOSE,
    TOOL_CALL_OPEN,
    content_text,
    decode_arguments,
    message_text,
    without_blocks,
)
from agentgym.scoring.summary import Stats
from agentgym.trajectory import Trajectory, TrajectoryError, read_trajectories
from agentgym.trust import Trust

__all__ = [
    "DifficultyLookup",
    "Histogram",
    "Moments",
    "NoTrajectories",
    "ReportData",
    "is_success",
    "nice_ticks",
    "render_conversation",
    "render_html",
    "write_report",
]

#: Difficulty labels in the order the chart shows them; other labels follow, sorted.
DIFFICULTY_ORDER = ("trivial", "easy", "medium", "hard", "expert")
#: Upper bounds of the episode-length buckets used when no difficulty is known.
TURN_BUCKETS = (1, 2, 4, 8, 16, 32, 64)
#: Longer message bodies are collapsed behind a ``<details>`` element.
COLLAPSE_CHARS = 600
COLLAPSE_LINES = 12
#: Message bodies are cut to this many characters in the page (the JSONL keeps them whole).
MAX_SHOWN_CHARS = 20_000
#: Steps beyond this index are not drawn in the per-step curves (they are still counted elsewhere).
MAX_STEP_INDEX = 256
#: At most this many distinct env ids, policies and groups are tallied; the rest count as "other".
MAX_KEYS = 32

_PALETTE = ("#3867d6", "#20bf6b", "#fa8231", "#8854d0", "#eb3b5a", "#0fb9b1", "#f7b731", "#4b6584")
_GOOD, _BAD, _MUTED = "#20bf6b", "#eb3b5a", "#a5b1c2"


# --------------------------------------------------------------------------------------------------
# Streaming statistics


class Moments(Stats):
    """:class:`~agentgym.scoring.Stats` of a stream that counts non-finite values in ``nonfinite`` and skips them.

    Examples:
        >>> m = Moments()
        >>> for x in [1.0, 2.0, 3.0, float("nan")]:
        ...     m.add(x)
        >>> m.n, m.mean, round(m.std, 4), m.min, m.max, m.nonfinite
        (3, 2.0, 0.8165, 1.0, 3.0, 1)
    """

    __slots__ = ("nonfinite",)

    def __init__(self) -> None:
        super().__init__()
        self.nonfinite = 0

    def add(self, x: float) -> None:
        """Add one value (a non-finite one is only counted)."""
        if math.isfinite(x):
            super().add(x)
        else:
            self.nonfinite += 1


class Histogram:
    """A histogram of a stream whose range is not known in advance, in constant memory.

    Bins are ``[i * width, (i + 1) * width)`` with ``width`` a power of two. When the values
    seen span more than ``max_bins`` bins, the width doubles and pairs of bins merge; counts stay
    exact, and the final bins do not depend on the order of the values.

    Args:
        max_bins: Most bins between the lowest and the highest value.
        min_width: The narrowest bin (a power of two).

    Examples:
        >>> h = Histogram(max_bins=4)
        >>> for x in [0.0, 0.0, 0.7, 1.0, 1.1]:
        ...     h.add(x)
        >>> h.width, h.bins()
        (0.5, [(0.0, 0.5, 2), (0.5, 1.0, 1), (1.0, 1.5, 2)])
    """

    def __init__(self, max_bins: int = 40, min_width: float = 2.0**-10) -> None:
        self.max_bins = max_bins
        self.width = min_width
        self.counts: dict[int, int] = {}
        self.low = math.inf
        self.high = -math.inf

    def add(self, x: float) -> None:
        """Add one value (non-finite values are ignored)."""
        if not math.isfinite(x):
            return
        self.low, self.high = min(self.low, x), max(self.high, x)
        index = math.floor(x / self.width)
        self.counts[index] = self.counts.get(index, 0) + 1
        while max(self.counts) - min(self.counts) + 1 > self.max_bins:
            self.width *= 2
            merged: dict[int, int] = {}
            for i, count in self.counts.items():
                merged[i // 2] = merged.get(i // 2, 0) + count
            self.counts = merged

    def bins(self) -> list[tuple[float, float, int]]:
        """Every bin from the lowest to the highest non-empty one, as ``(low, high, count)``."""
        if not self.counts:
            return []
        return [
            (i * self.width, (i + 1) * self.width, self.counts.get(i, 0))
            for i in range(min(self.counts), max(self.counts) + 1)
        ]


class _Reservoir:
    """A uniform random sample of at most ``size`` items of a stream (seeded, so reproducible)."""

    def __init__(self, size: int, seed: int = 0) -> None:
        self.size = size
        self.items: list[Any] = []
        self.seen = 0
        self._rng = random.Random(seed)

    def add(self, item: Any) -> None:
        self.seen += 1
        if len(self.items) < self.size:
            self.items.append(item)
        else:
            slot = self._rng.randrange(self.seen)
            if slot < self.size:
                self.items[slot] = item


def _tally(counts: dict[str, int], key: str) -> None:
    """Count ``key``, lumping keys past :data:`MAX_KEYS` into ``"other"``."""
    if key not in counts and len(counts) >= MAX_KEYS:
        key = "other"
    counts[key] = counts.get(key, 0) + 1


def is_success(trajectory: Trajectory, threshold: float = 1.0) -> bool:
    """Whether an episode succeeded: its return is at least ``threshold`` (as ``agentgym score`` counts it).

    Args:
        trajectory: The episode.
        threshold: The lowest return that counts as a success.

    Returns:
        ``True`` for a success.

    Examples:
        >>> from agentgym.trajectory import Rewards
        >>> is_success(Trajectory("e", "t", rewards=Rewards(total=0.7))), is_success(Trajectory("e", "t"), 0.0)
        (False, True)
        >>> is_success(Trajectory("e", "t", rewards=Rewards(total=float("nan"))), 0.0)
        False
    """
    total = trajectory.rewards.total
    return math.isfinite(total) and total >= threshold


def turn_bucket(turns: int) -> str:
    """The episode-length group of an episode with ``turns`` steps.

    Examples:
        >>> [turn_bucket(n) for n in (0, 1, 3, 5, 100)]
        ['0 turns', '1 turn', '3-4 turns', '5-8 turns', '65+ turns']
    """
    if turns <= 1:
        return f"{turns} turn" + ("s" if turns != 1 else "")
    low = 1
    for high in TURN_BUCKETS:
        if turns <= high:
            return f"{turns} turns" if low + 1 == high else f"{low + 1}-{high} turns"
        low = high
    return f"{TURN_BUCKETS[-1] + 1}+ turns"


class DifficultyLookup:
    """Finds a trajectory's task difficulty by rebuilding its env (once per env id and kwargs).

    ``gymnasium.make(env_id, **env_kwargs).unwrapped.all_tasks.get(task_id).metadata["difficulty"]``;
    the env is closed at once and only its task set is kept. Failures are remembered (and given
    as reasons in :attr:`problems`), never raised.

    Args:
        enabled: ``False`` skips rebuilding (every lookup gives ``None``).
        max_envs: Most task sets kept.
        trust: What a record may make the rebuild import and build (:class:`~agentgym.trust.Trust`);
            by default, as for :class:`~agentgym.scoring.Scorer`, a record imports nothing but its
            kwargs are accepted (``agentgym report`` passes the trust its options give).
    """

    def __init__(self, enabled: bool = True, max_envs: int = 16, trust: Trust | None = None) -> None:
        self.enabled = enabled
        self.max_envs = max_envs
        self.trust = trust or Trust.library_default()
        self._tasks: dict[str, Any] = {}
        self.problems: dict[str, str] = {}

    def __call__(self, trajectory: Trajectory) -> str | None:
        """The task's difficulty label, or ``None`` when it cannot be found."""
        if not self.enabled:
            return None
        key = trajectory.env_id + " " + json.dumps(trajectory.env_kwargs, sort_keys=True, default=str)
        if key not in self._tasks:
            if len(self._tasks) >= self.max_envs:
                self.problems.setdefault(trajectory.env_id, f"more than {self.max_envs} distinct envs; not rebuilt")
                return None
            self._tasks[key] = self._load(trajectory)
        tasks = self._tasks[key]
        if tasks is None:
            return None
        try:
            metadata = tasks.get(trajectory.task_id).metadata
        except KeyError:
            self.problems.setdefault(trajectory.env_id, f"task {trajectory.task_id!r} is not in its task set")
            return None
        difficulty = metadata.get("difficulty") if isinstance(metadata, Mapping) else None
        if difficulty is None:
            self.problems.setdefault(trajectory.env_id, "its tasks carry no metadata['difficulty']")
            return None
        return str(difficulty)

    def _load(self, trajectory: Trajectory) -> Any:
        import gymnasium as gym

        try:
            env_id = self.trust.env_id(trajectory.env_id, trajectory.env_module)
            self.trust.check_kwargs(env_id, trajectory.env_kwargs)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                env = gym.make(env_id, **trajectory.env_kwargs)
            try:
                return env.unwrapped.all_tasks
            finally:
                env.close()
        except Exception as error:  # any failure means "no difficulty", never a crashed report
            reason = f"cannot rebuild it ({type(error).__name__}: {str(error)[:200]})"
            self.problems.setdefault(trajectory.env_id, reason)
            return None


class ReportData:
    """Everything the report shows, accumulated one trajectory at a time in bounded memory.

    Args:
        top: How many best and worst episodes to keep.
        difficulty: Finds a trajectory's difficulty; by default a :class:`DifficultyLookup`.
        sample_size: Points kept (uniformly sampled) for the reward-against-turns scatter.
        success_threshold: The lowest return that counts as a success (:func:`is_success`).

    Examples:
        >>> from agentgym.trajectory import Rewards, Step
        >>> data = ReportData(top=1, difficulty=DifficultyLookup(enabled=False))
        >>> for i, total in enumerate([0.0, 1.0, 0.5]):
        ...     steps = [Step("a", reward=0.0), Step("b", reward=total)]
        ...     data.add(Trajectory("e", f"t{i}", steps=steps, rewards=Rewards(total, {"outcome": total})))
        >>> data.count, round(data.success_rate, 3), data.best_and_worst()[0][0].task_id
        (3, 0.333, 't1')
        >>> data.groups, data.grouped_by
        ({'2 turns': [3, 1]}, 'turns')
    """

    def __init__(
        self,
        top: int = 3,
        difficulty: DifficultyLookup | None = None,
        sample_size: int = 2000,
        success_threshold: float = 1.0,
    ) -> None:
        self.top = top
        self.success_threshold = success_threshold
        self.difficulty = difficulty if difficulty is not None else DifficultyLookup()
        self.count = 0
        self.successes = 0
        self.terminated = 0
        self.truncated = 0
        self.steps = 0
        self.invalid_steps = 0
        self.total = Moments()
        self.turns = Moments()
        self.components: dict[str, Moments] = {}
        self.histograms: dict[str, Histogram] = {"total": Histogram()}
        self.by_turns: dict[int, Moments] = {}
        self.step_sums: list[float] = []
        self.step_counts: list[int] = []
        self.by_difficulty: dict[str, list[int]] = {}
        self.by_length: dict[str, list[int]] = {}
        self.with_difficulty = 0
        self.env_ids: dict[str, int] = {}
        self.policies: dict[str, int] = {}
        self.points = _Reservoir(sample_size)
        self._best: list[tuple[float, int, Trajectory]] = []
        self._worst: list[tuple[float, int, Trajectory]] = []

    def add(self, trajectory: Trajectory) -> None:
        """Fold one trajectory into the aggregates."""
        seq = self.count
        self.count += 1
        success = is_success(trajectory, self.success_threshold)
        self.successes += success
        self.terminated += trajectory.terminated
        self.truncated += trajectory.truncated
        turns = len(trajectory.steps)
        self.steps += turns
        self.invalid_steps += sum(step.invalid_action for step in trajectory.steps)
        total = trajectory.rewards.total
        self.total.add(total)
        self.turns.add(turns)
        self.histograms["total"].add(total)
        for name, value in trajectory.rewards.components.items():
            if name not in self.components:
                if len(self.components) >= MAX_KEYS:
                    continue
                self.components[name] = Moments()
                self.histograms[name] = Histogram()
            self.components[name].add(value)
            self.histograms[name].add(value)
        self.by_turns.setdefault(turns, Moments()).add(total)
        per_step = trajectory.rewards.per_step or [step.reward for step in trajectory.steps]
        for index, value in enumerate(per_step[:MAX_STEP_INDEX]):
            if not math.isfinite(value):
                continue
            if index == len(self.step_sums):
                self.step_sums.append(0.0)
                self.step_counts.append(0)
            self.step_sums[index] += value
            self.step_counts[index] += 1
        difficulty = self.difficulty(trajectory)
        if difficulty is not None:
            self.with_difficulty += 1
        _count_group(self.by_difficulty, difficulty if difficulty is not None else "unknown", success)
        _count_group(self.by_length, turn_bucket(turns), success)
        _tally(self.env_ids, trajectory.env_id)
        _tally(self.policies, _policy_name(trajectory.policy))
        if math.isfinite(total):
            self.points.add((turns, total, success))
            _keep(self._best, (total, -seq, trajectory), self.top)
            _keep(self._worst, (-total, -seq, trajectory), self.top)

    @property
    def success_rate(self) -> float:
        """The fraction of episodes whose return reached :attr:`success_threshold`."""
        return self.successes / self.count if self.count else 0.0

    @property
    def grouped_by(self) -> str:
        """``"difficulty"`` when any task's difficulty was found, else ``"turns"``."""
        return "difficulty" if self.with_difficulty else "turns"

    @property
    def groups(self) -> dict[str, list[int]]:
        """Success groups, ordered, as ``label -> [episodes, successes]``."""
        if self.grouped_by == "difficulty":
            order = {label: i for i, label in enumerate(DIFFICULTY_ORDER)}
            keys = sorted(self.by_difficulty, key=lambda k: (k == "unknown", order.get(k, len(order)), k))
            return {key: self.by_difficulty[key] for key in keys}
        return dict(sorted(self.by_length.items(), key=lambda item: _bucket_start(item[0])))

    def best_and_worst(self) -> tuple[list[Trajectory], list[Trajectory]]:
        """The best episodes (highest return first) and the worst (lowest first), never the same one twice.

        Ties go to the episode read first.
        """
        best = sorted(self._best, key=lambda item: (-item[0], -item[1]))
        worst = sorted(self._worst, key=lambda item: (-item[0], -item[1]))
        shown = {item[1] for item in best}
        return [item[2] for item in best], [item[2] for item in worst if item[1] not in shown]


def _keep(heap: list[tuple[float, int, Trajectory]], item: tuple[float, int, Trajectory], size: int) -> None:
    """Keep the ``size`` largest items (by key and then earliest) in a min-heap."""
    if size <= 0:
        return
    if len(heap) < size:
        heapq.heappush(heap, item)
    elif item[:2] > heap[0][:2]:
        heapq.heapreplace(heap, item)


def _count_group(groups: dict[str, list[int]], key: str, success: bool) -> None:
    if key not in groups and len(groups) >= MAX_KEYS:
        key = "other"
    counts = groups.setdefault(key, [0, 0])
    counts[0] += 1
    counts[1] += success


def _bucket_start(label: str) -> int:
    head = label.split()[0].rstrip("+").split("-")[0]
    return int(head) if head.isdigit() else 1 << 30


def _policy_name(policy: Mapping[str, Any]) -> str:
    if not isinstance(policy, Mapping) or not policy:
        return "(not recorded)"
    name = str(policy.get("name") or "?")
    model = policy.get("model")
    return f"{name} ({model})" if model else name


# --------------------------------------------------------------------------------------------------
# SVG plots


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values covering ``[low, high]``: steps of 1, 2 or 5 times a power of ten.

    Args:
        low: The lowest value to cover.
        high: The highest value to cover.
        count: About how many intervals.

    Returns:
        Ascending tick values; the first is at most ``low`` and the last at least ``high``.

    Examples:
        >>> nice_ticks(0, 1)
        [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
        >>> nice_ticks(0.03, 1.1, 4)
        [0.0, 0.5, 1.0, 1.5]
        >>> nice_ticks(0, 0, 2)
        [0.0, 0.5, 1.0]
    """
    if high < low:
        low, high = high, low
    if high == low:  # one value: a unit range above zero, else around it
        low, high = (low - 1, high + 1) if low else (0.0, 1.0)
    raw = (high - low) / max(count, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    first = math.floor(low / step + 1e-9)
    last = math.ceil(high / step - 1e-9)
    digits = max(0, -math.floor(math.log10(step)) + 1)
    return [round(i * step, digits) for i in range(first, last + 1)]


def _num(value: float, digits: int = 3) -> str:
    """A compact number for labels: ``0.7``, ``1.1``, ``12``, ``0.0333``."""
    if not math.isfinite(value):
        return str(value)
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.{digits}g}" if abs(value) < 1e-3 or abs(value) >= 1e4 else f"{value:.{digits}f}".rstrip("0")


def _e(text: Any) -> str:
    """HTML-escape any value's text."""
    return html.escape(str(text), quote=True)


class _Chart:
    """An SVG chart with linear axes: map data to pixels, draw gridlines, collect elements."""

    def __init__(
        self,
        x_range: tuple[float, float],
        y_range: tuple[float, float],
        *,
        title: str,
        x_label: str = "",
        y_label: str = "",
        width: int = 520,
        height: int = 280,
    ) -> None:
        self.x_ticks = nice_ticks(*x_range)
        self.y_ticks = nice_ticks(*y_range)
        self.x_lo, self.x_hi = self.x_ticks[0], self.x_ticks[-1]
        self.y_lo, self.y_hi = self.y_ticks[0], self.y_ticks[-1]
        self.title, self.x_label, self.y_label = title, x_label, y_label
        self.width, self.height = width, height
        self.left, self.right, self.top, self.bottom = 56, 16, 28, 44
        self.elements: list[str] = []

    def x(self, value: float) -> float:
        span = (self.x_hi - self.x_lo) or 1.0
        return self.left + (value - self.x_lo) / span * (self.width - self.left - self.right)

    def y(self, value: float) -> float:
        span = (self.y_hi - self.y_lo) or 1.0
        return self.height - self.bottom - (value - self.y_lo) / span * (self.height - self.top - self.bottom)

    def add(self, element: str) -> None:
        self.elements.append(element)

    def svg(self, x_tick_labels: Mapping[float, str] | None = None) -> str:
        parts = [
            f'<svg class="chart" viewBox="0 0 {self.width} {self.height}" width="{self.width}" height="{self.height}" '
            f'role="img" xmlns="http://www.w3.org/2000/svg"><title>{_e(self.title)}</title>',
            f'<text x="{self.left}" y="16" class="ctitle">{_e(self.title)}</text>',
        ]
        for tick in self.y_ticks:
            y = self.y(tick)
            right = self.width - self.right
            parts.append(f'<line x1="{self.left}" x2="{right}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>')
            parts.append(f'<text x="{self.left - 6}" y="{y + 4:.1f}" class="tick" text-anchor="end">'
                         f"{_num(tick)}</text>")
        ticks = x_tick_labels if x_tick_labels is not None else {tick: _num(tick) for tick in self.x_ticks}
        base = self.height - self.bottom
        for tick, label in ticks.items():
            x = self.x(tick)
            parts.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{base}" y2="{base + 4}" class="axis"/>')
            parts.append(f'<text x="{x:.1f}" y="{base + 16}" class="tick" text-anchor="middle">{_e(label)}</text>')
        parts.append(f'<line x1="{self.left}" x2="{self.width - self.right}" y1="{base}" y2="{base}" class="axis"/>')
        parts.append(f'<line x1="{self.left}" x2="{self.left}" y1="{self.top}" y2="{base}" class="axis"/>')
        if self.x_label:
            middle = (self.left + self.width - self.right) / 2
            parts.append(f'<text x="{middle:.1f}" y="{self.height - 6}" class="label" text-anchor="middle">'
                         f"{_e(self.x_label)}</text>")
        if self.y_label:
            middle = (self.top + base) / 2
            parts.append(f'<text transform="translate(14 {middle:.1f}) rotate(-90)" class="label" '
                         f'text-anchor="middle">{_e(self.y_label)}</text>')
        parts.extend(self.elements)
        parts.append("</svg>")
        return "".join(parts)


def _no_data(title: str, why: str = "no data") -> str:
    return f'<div class="nodata"><b>{_e(title)}</b><br>{_e(why)}</div>'


def histogram_svg(name: str, histogram: Histogram, color: str) -> str:
    """A histogram as an SVG bar chart."""
    bins = histogram.bins()
    title = name
    if not bins:
        return _no_data(title, "no finite values")
    peak = max(count for _, _, count in bins)
    if histogram.low == histogram.high:  # one value: a narrow bar in the middle of a unit-wide axis
        value = histogram.low
        chart = _Chart((value - 1, value + 1), (0, peak), title=f"{title} (all {_num(value, 4)})",
                       x_label="value", y_label="episodes", width=360, height=240)
        bins = [(value - 0.025, value + 0.025, peak)]
    else:
        chart = _Chart((bins[0][0], bins[-1][1]), (0, peak), title=title, x_label="value", y_label="episodes",
                       width=360, height=240)
    for low, high, count in bins:
        if not count:
            continue
        x0, x1, y = chart.x(low), chart.x(high), chart.y(count)
        chart.add(
            f'<rect x="{x0 + 0.5:.1f}" y="{y:.1f}" width="{max(x1 - x0 - 1, 1):.1f}" '
            f'height="{chart.y(0) - y:.1f}" fill="{color}"><title>[{_num(low, 4)}, {_num(high, 4)}): '
            f"{count} episodes</title></rect>"
        )
    return chart.svg()


def scatter_svg(data: ReportData) -> str:
    """Episode return against number of turns: sampled episodes, and the mean per turn count."""
    points = data.points.items
    title = "return against turns"
    if not points:
        return _no_data(title)
    xs = [p[0] for p in points] + list(data.by_turns)
    ys = [p[1] for p in points]
    chart = _Chart((min(0, min(xs)), max(xs) + 0.5), (min(0.0, min(ys)), max(ys)), title=title,
                   x_label="turns (steps in the episode)", y_label="return", width=1060, height=320)
    jitter = random.Random(0)
    for turns, total, success in points:
        x = chart.x(turns + jitter.uniform(-0.25, 0.25))
        color = _GOOD if success else _BAD
        chart.add(f'<circle cx="{x:.1f}" cy="{chart.y(total):.1f}" r="3" fill="{color}" fill-opacity="0.55">'
                  f"<title>{turns} turns, return {_num(total, 4)}</title></circle>")
    means = sorted((turns, m) for turns, m in data.by_turns.items() if m.n)
    if means:
        path = " ".join(f"{chart.x(t):.1f},{chart.y(m.mean):.1f}" for t, m in means)
        chart.add(f'<polyline points="{path}" fill="none" stroke="#2d3436" stroke-width="2"/>')
        for turns, m in means:
            chart.add(f'<rect x="{chart.x(turns) - 3:.1f}" y="{chart.y(m.mean) - 3:.1f}" width="6" height="6" '
                      f'fill="#2d3436"><title>{turns} turns: mean return {_num(m.mean, 4)} over {m.n} episodes'
                      f"</title></rect>")
    return chart.svg()


def groups_svg(groups: Mapping[str, Sequence[int]], title: str) -> str:
    """Success rate per group as labelled bars (``n`` under each bar)."""
    if not groups:
        return _no_data(title)
    chart = _Chart((0, len(groups)), (0, 1), title=title, y_label="success rate", width=520, height=280)
    labels = {}
    for i, (label, (n, wins)) in enumerate(groups.items()):
        rate = wins / n if n else 0.0
        x0, x1 = chart.x(i + 0.15), chart.x(i + 0.85)
        y = chart.y(rate)
        color = _MUTED if label in ("unknown", "other") else _PALETTE[i % len(_PALETTE)]
        chart.add(f'<rect x="{x0:.1f}" y="{y:.1f}" width="{x1 - x0:.1f}" height="{chart.y(0) - y:.1f}" '
                  f'fill="{color}"><title>{_e(label)}: {wins}/{n} succeeded</title></rect>')
        chart.add(f'<text x="{(x0 + x1) / 2:.1f}" y="{y - 4:.1f}" class="value" text-anchor="middle">'
                  f"{rate:.0%}</text>")
        labels[i + 0.5] = f"{label} (n={n})"
    return chart.svg(x_tick_labels=labels)


def step_curves_svg(data: ReportData, best: Sequence[Trajectory], worst: Sequence[Trajectory]) -> str:
    """Mean reward per step index, with the best and worst episodes' own curves."""
    title = "reward per step"
    if not data.step_counts:
        return _no_data(title, "no steps")
    means = [s / n for s, n in zip(data.step_sums, data.step_counts, strict=True)]
    curves = [(t, _GOOD) for t in best] + [(t, _BAD) for t in worst]
    values = list(means)
    for trajectory, _ in curves:
        values += _per_step(trajectory)[:MAX_STEP_INDEX]
    values = [v for v in values if math.isfinite(v)]
    longest = max([len(means)] + [min(len(_per_step(t)), MAX_STEP_INDEX) for t, _ in curves])
    chart = _Chart((1, max(longest, 2)), (min(0.0, min(values)), max(values)), title=title,
                   x_label="step", y_label="reward", width=1060, height=320)
    for trajectory, color in curves:
        points = [(i + 1, v) for i, v in enumerate(_per_step(trajectory)[:MAX_STEP_INDEX]) if math.isfinite(v)]
        if points:
            path = " ".join(f"{chart.x(i):.1f},{chart.y(v):.1f}" for i, v in points)
            chart.add(f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="1.2" '
                      f'stroke-opacity="0.7"><title>{_e(trajectory.task_id)}: return '
                      f"{_num(trajectory.rewards.total, 4)}</title></polyline>")
    path = " ".join(f"{chart.x(i + 1):.1f},{chart.y(m):.1f}" for i, m in enumerate(means))
    chart.add(f'<polyline points="{path}" fill="none" stroke="{_PALETTE[0]}" stroke-width="3"/>')
    for i, (m, n) in enumerate(zip(means, data.step_counts, strict=True)):
        chart.add(f'<circle cx="{chart.x(i + 1):.1f}" cy="{chart.y(m):.1f}" r="3.5" fill="{_PALETTE[0]}">'
                  f"<title>step {i + 1}: mean {_num(m, 4)} over {n} episodes</title></circle>")
    return chart.svg()


def _per_step(trajectory: Trajectory) -> list[float]:
    return list(trajectory.rewards.per_step or [step.reward for step in trajectory.steps])


# --------------------------------------------------------------------------------------------------
# Conversations


def _text(value: Any) -> str:
    """Content, or an action, as text (:mod:`agentgym.messages`); other values become JSON."""
    if isinstance(value, Mapping):  # an assistant message recorded as a step's action
        return message_text(value)
    if value is None or isinstance(value, (str, list)):
        return content_text(value)
    return json.dumps(value, ensure_ascii=False, indent=1, default=str)


def _body(text: str, collapse: bool = False) -> str:
    """Escaped text in a ``<pre>``; long text (or ``collapse``) goes behind a ``<details>``."""
    shown = text
    if len(shown) > MAX_SHOWN_CHARS:
        shown = shown[:MAX_SHOWN_CHARS] + f"\n[... {len(text) - MAX_SHOWN_CHARS:,} more characters not shown]"
    block = f"<pre>{_e(shown)}</pre>"
    if not (collapse or len(text) > COLLAPSE_CHARS or text.count("\n") >= COLLAPSE_LINES):
        return block
    first = text.strip().split("\n", 1)[0][:120]
    lines = text.count("\n") + 1
    return (f"<details><summary>{_e(first)} <span class=\"meta\">({len(text):,} characters, "
            f"{lines:,} lines)</span></summary>{block}</details>")


def _call(call: Any) -> str:
    """One tool call (OpenAI ``tool_calls`` entry or agentgym's ``{"name", "arguments"}``)."""
    if not isinstance(call, Mapping):
        return f'<div class="call">{_e(_text(call))}</div>'
    function = call.get("function") if isinstance(call.get("function"), Mapping) else call
    name = function.get("name", "?")
    arguments, _ = decode_arguments(function.get("arguments", {}))
    if isinstance(arguments, Mapping):
        shown = ", ".join(f"{k}={json.dumps(v, ensure_ascii=False, default=str)}" for k, v in arguments.items())
    else:
        shown = arguments if isinstance(arguments, str) else json.dumps(arguments, ensure_ascii=False, default=str)
    return f'<div class="call"><span class="fn">&#8594; {_e(name)}</span>{_body(shown)}</div>'


def render_conversation(trajectory: Trajectory) -> str:
    """A trajectory's conversation as HTML: one styled block per message, every text escaped.

    Assistant messages are matched with their steps (the k-th assistant message is the k-th step,
    as :class:`~agentgym.core.AgentEnv` records them) to show each step's reward. A trajectory
    with steps but no messages is shown step by step.

    Args:
        trajectory: The episode.

    Returns:
        An HTML fragment.

    Examples:
        >>> t = Trajectory("e", "t", messages=[{"role": "user", "content": "<script>alert(1)</script>"}])
        >>> "&lt;script&gt;" in render_conversation(t) and "<script>" not in render_conversation(t)
        True
    """
    messages = list(trajectory.messages)
    if not messages:
        for step in trajectory.steps:
            messages.append({"role": "assistant", "content": _text(step.action)})
            messages.append({"role": "tool", "name": "observation", "content": step.observation})
    assistant = [m for m in messages if isinstance(m, Mapping) and m.get("role") == "assistant"]
    aligned = len(assistant) == len(trajectory.steps)
    parts, turn = [], 0
    for message in messages:
        if not isinstance(message, Mapping):
            parts.append(f'<div class="msg role-other">{_body(_text(message))}</div>')
            continue
        role = str(message.get("role", "?"))
        css = role if role in ("system", "user", "assistant", "tool") else "other"
        header = f'<span class="role">{_e(role)}</span>'
        if message.get("name"):
            header += f' <span class="meta">{_e(message["name"])}</span>'
        if role == "assistant" and aligned:
            step = trajectory.steps[turn]
            turn += 1
            header += f' <span class="meta">step {turn}</span> <span class="badge">reward {_num(step.reward, 4)}'
            shown = {k: v for k, v in step.reward_components.items() if v}
            if shown:
                header += " (" + ", ".join(f"{_e(k)} {_num(v, 4)}" for k, v in shown.items()) + ")"
            header += "</span>"
            if step.invalid_action:
                header += ' <span class="badge bad">invalid action</span>'
        body = _text(message.get("content"))
        calls = message.get("tool_calls") or []
        raw = ""
        if role == "assistant" and aligned and not calls and step.tool_calls:
            # A text completion: show the calls the env parsed from it, and the raw text on demand.
            calls = step.tool_calls
            raw = f'<details class="raw"><summary>raw completion</summary>{_body(body)}</details>' if body else ""
            body = without_blocks(body, TOOL_CALL_OPEN, TOOL_CALL_CLOSE).strip()
        html_body = _body(body, collapse=role == "system") if body else ""
        if isinstance(calls, list):
            html_body += "".join(_call(call) for call in calls)
        html_body += raw
        parts.append(f'<div class="msg role-{css}"><div class="head">{header}</div>{html_body}</div>')
    return "\n".join(parts)


def _episode_card(trajectory: Trajectory, rank: str, threshold: float) -> str:
    ending = "terminated" if trajectory.terminated else "truncated" if trajectory.truncated else "unfinished"
    components = ", ".join(f"{_e(k)} {_num(v, 4)}" for k, v in trajectory.rewards.components.items())
    success = '<span class="badge good">success</span>' if is_success(trajectory, threshold) else ""
    return (
        f'<details class="episode" open><summary><b>{_e(rank)}</b> return {_num(trajectory.rewards.total, 4)} '
        f"{success} <span class=\"meta\">{_e(trajectory.env_id)} · task {_e(trajectory.task_id)} · "
        f"{len(trajectory.steps)} turns · {ending}" + (f" · {components}" if components else "") + "</span>"
        f"</summary>{render_conversation(trajectory)}</details>"
    )


# --------------------------------------------------------------------------------------------------
# The page

_CSS = """
body{font:14px/1.45 -apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;color:#2d3436;
  background:#f5f6fa;margin:0;padding:24px 32px;max-width:1180px}
h1{font-size:24px;margin:0 0 4px}
h2{font-size:18px;margin:28px 0 10px;border-bottom:1px solid #dcdde1;padding-bottom:4px}
a{color:#3867d6}
.meta{color:#636e72;font-size:12px}
.nav{margin-top:6px;font-size:13px}
.note{color:#636e72;font-size:13px;margin:4px 0 10px}
.cards{display:flex;flex-wrap:wrap;gap:10px;margin:14px 0}
.card{background:#fff;border:1px solid #dcdde1;border-radius:8px;padding:10px 14px;min-width:120px}
.card .v{font-size:22px;font-weight:600}
.card .k{font-size:12px;color:#636e72}
table{border-collapse:collapse;background:#fff;font-size:13px;margin:0 16px 8px 0}
th,td{border:1px solid #dcdde1;padding:4px 10px;text-align:right}
th{background:#f1f2f6}
td:first-child,th:first-child{text-align:left}
.charts{display:flex;flex-wrap:wrap;gap:12px}
.chart{background:#fff;border:1px solid #dcdde1;border-radius:8px;max-width:100%;height:auto}
.chart .grid{stroke:#eceff1}
.chart .axis{stroke:#636e72}
.chart .tick{font-size:11px;fill:#636e72}
.chart .label{font-size:12px;fill:#2d3436}
.chart .ctitle{font-size:13px;font-weight:600;fill:#2d3436}
.chart .value{font-size:11px;fill:#2d3436}
.nodata{background:#fff;border:1px dashed #b2bec3;border-radius:8px;padding:24px;width:470px;color:#636e72}
.episode{background:#fff;border:1px solid #dcdde1;border-radius:8px;margin:10px 0;padding:8px 12px}
.episode>summary{padding:4px 0}
details>summary{cursor:pointer}
.msg{border-left:4px solid #b2bec3;margin:8px 0;padding:4px 10px;border-radius:4px;background:#fafbfc}
.msg .head{margin-bottom:2px}
.role{font-weight:600;text-transform:uppercase;font-size:11px;letter-spacing:.05em}
.role-system{border-color:#a5b1c2;background:#f1f2f6}
.role-user{border-color:#3867d6;background:#eef3fd}
.role-assistant{border-color:#20bf6b;background:#edfaf3}
.role-tool{border-color:#f7b731;background:#fff8e6}
.role-other{border-color:#8854d0}
pre{white-space:pre-wrap;word-break:break-word;margin:4px 0;font:12px/1.4 ui-monospace,Menlo,Consolas,monospace}
.call{margin:4px 0 4px 8px;display:flex;gap:8px;align-items:baseline}
.call>pre,.call>details{flex:1}
.fn{font:600 12px ui-monospace,Menlo,Consolas,monospace;color:#8854d0}
.raw>summary{font-size:11px;color:#636e72}
.badge{display:inline-block;font-size:11px;padding:0 6px;border-radius:8px;background:#dfe6e9;color:#2d3436}
.badge.good{background:#d1f2e0;color:#1e7d4a}
.badge.bad{background:#fadbd8;color:#a93226}
"""


def render_html(
    data: ReportData,
    *,
    title: str = "agentgym report",
    sources: Sequence[str] = (),
    skipped: int = 0,
    skipped_errors: Sequence[TrajectoryError] = (),
) -> str:
    """The report page for accumulated data.

    Args:
        data: The aggregates.
        title: The page title.
        sources: The input files, listed in the header.
        skipped: How many malformed lines were skipped.
        skipped_errors: The first few of them, listed at the end.

    Returns:
        A complete, self-contained HTML document.
    """
    best, worst = data.best_and_worst()
    invalid_rate = data.invalid_steps / data.steps if data.steps else 0.0
    cards = [
        ("episodes", f"{data.count:,}"),
        ("mean return", f"{_num(data.total.mean)} ± {_num(data.total.std)}"),
        ("success rate", f"{data.success_rate:.1%}"),
        ("invalid actions", f"{invalid_rate:.1%} of steps"),
        ("mean turns", _num(data.turns.mean, 3)),
        ("terminated / truncated", f"{data.terminated:,} / {data.truncated:,}"),
    ]
    if skipped:
        cards.append(("malformed lines skipped", f"{skipped:,}"))
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{_e(title)}</h1>",
        f'<div class="meta">agentgym {_e(agentgym.__version__)} · '
        + _e(", ".join(sources) if sources else "(no files)")
        + "</div>",
        '<div class="nav"><a href="#components">components</a> · <a href="#turns">turns</a> · '
        '<a href="#difficulty">difficulty</a> · <a href="#steps">per step</a> · <a href="#best">best</a> · '
        '<a href="#worst">worst</a></div>',
        '<div class="cards">'
        + "".join(f'<div class="card"><div class="v">{_e(v)}</div><div class="k">{_e(k)}</div></div>' for k, v in cards)
        + "</div>",
        _key_table("environments", data.env_ids, data.count) + _key_table("policies", data.policies, data.count),
        f'<p class="note">An episode succeeds when its return is at least {_num(data.success_threshold, 4)} '
        "(<code>--success-threshold</code>, as in <code>agentgym score</code>).</p>",
        '<h2 id="components">Reward components</h2>',
        _components_table(data),
        '<div class="charts">',
    ]
    for i, (name, histogram) in enumerate(data.histograms.items()):
        out.append(histogram_svg(name, histogram, _PALETTE[i % len(_PALETTE)]))
    out.append("</div>")
    out += [
        '<h2 id="turns">Return against turns</h2>',
        f'<p class="note">{len(data.points.items):,} of {data.count:,} episodes shown'
        + (" (a uniform sample)" if data.points.seen > len(data.points.items) else "")
        + "; green: success, red: failure; the dark line is the mean return for each episode length "
        "(over every episode).</p>",
        scatter_svg(data),
        '<h2 id="difficulty">Success by difficulty</h2>',
        f'<p class="note">{_e(_groups_note(data))}</p>',
        groups_svg(data.groups, "success rate by " + ("task difficulty" if data.grouped_by == "difficulty"
                                                     else "episode length")),
        '<h2 id="steps">Reward per step</h2>',
        '<p class="note">Blue: the mean reward at each step index over the episodes that reached it. '
        "Thin lines: the best (green) and worst (red) episodes below.</p>",
        step_curves_svg(data, best, worst),
        f'<h2 id="best">Best episodes ({len(best)})</h2>',
        "".join(_episode_card(t, f"#{i}", data.success_threshold) for i, t in enumerate(best, 1))
        or '<p class="note">none</p>',
        f'<h2 id="worst">Worst episodes ({len(worst)})</h2>',
        "".join(_episode_card(t, f"#{i}", data.success_threshold) for i, t in enumerate(worst, 1))
        or '<p class="note">none beyond the best episodes above</p>',
    ]
    if skipped:
        out.append(f'<h2 id="malformed">Malformed lines ({skipped:,} skipped)</h2><ul>')
        out += [f"<li><code>{_e(error)}</code></li>" for error in skipped_errors]
        if skipped > len(skipped_errors):
            out.append(f"<li>... and {skipped - len(skipped_errors):,} more</li>")
        out.append("</ul>")
    out.append("</body></html>\n")
    return "\n".join(out)


def _key_table(name: str, counts: Mapping[str, int], total: int) -> str:
    rows = "".join(
        f"<tr><td>{_e(key)}</td><td>{count:,}</td><td>{count / max(total, 1):.0%}</td></tr>"
        for key, count in sorted(counts.items(), key=lambda item: -item[1])
    )
    return f'<table style="display:inline-table"><tr><th>{_e(name)}</th><th>episodes</th>' \
           f"<th>share</th></tr>{rows}</table>"


def _components_table(data: ReportData) -> str:
    rows = []
    for name, m in [("total (return)", data.total), *data.components.items()]:
        cells = [f"{m.n:,}", _num(m.mean, 4), _num(m.std, 4), _num(m.min, 4) if m.n else "-",
                 _num(m.max, 4) if m.n else "-"]
        if m.nonfinite:
            cells[0] += f" (+{m.nonfinite} non-finite)"
        rows.append(f"<tr><td>{_e(name)}</td>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    return ("<table><tr><th>component</th><th>episodes</th><th>mean</th><th>std</th><th>min</th><th>max</th></tr>"
            + "".join(rows) + "</table>")


def _groups_note(data: ReportData) -> str:
    problems = "; ".join(f"{env_id}: {why}" for env_id, why in data.difficulty.problems.items())
    if data.grouped_by == "difficulty":
        note = (f"Grouped by the task's metadata['difficulty'], found for {data.with_difficulty:,} of "
                f"{data.count:,} episodes by rebuilding each env from its env_id and env_kwargs.")
        return note + (f" Not found for the rest ({problems})." if data.with_difficulty < data.count else "")
    if not data.difficulty.enabled:
        return "Grouped by episode length (number of steps): rebuilding the envs was turned off (--no-rebuild)."
    why = f" ({problems})" if problems else ""
    return f"Grouped by episode length (number of steps): no task difficulty could be found{why}."


def write_report(
    paths: Iterable[str],
    output: str,
    *,
    title: str = "agentgym report",
    top: int = 3,
    skip_invalid: bool = False,
    rebuild: bool = True,
    success_threshold: float = 1.0,
    trust: Trust | None = None,
) -> ReportData:
    """Read trajectory files (streaming) and write the HTML report.

    Args:
        paths: JSONL trajectory files (``"-"`` is standard input).
        output: Where to write the page.
        title: The page title.
        top: How many best and worst episodes to show.
        skip_invalid: Go on past malformed lines (they are listed in the report).
        rebuild: Rebuild envs to find each task's difficulty.
        success_threshold: The lowest return that counts as a success.
        trust: What records may make the rebuild import and build (see :class:`DifficultyLookup`).

    Returns:
        The aggregates the page was made from.

    Raises:
        TrajectoryError: For a malformed line, unless ``skip_invalid``.
        NoTrajectories: If the files hold no trajectory.
    """
    paths = list(paths)
    errors = _FirstErrors()
    difficulty = DifficultyLookup(enabled=rebuild, trust=trust)
    data = ReportData(top=top, difficulty=difficulty, success_threshold=success_threshold)
    for trajectory in read_trajectories(paths, skip_invalid=skip_invalid, errors=errors):
        data.add(trajectory)
    if not data.count:
        extra = f" ({errors.count:,} malformed lines skipped)" if errors.count else ""
        raise NoTrajectories(f"no trajectories in {', '.join(paths)}{extra}")
    page = render_html(data, title=title, sources=paths, skipped=errors.count, skipped_errors=errors)
    # A lone surrogate in a record (the trajectory writer keeps it) has no UTF-8 form: shown as "\udXXX".
    with open(output, "w", encoding="utf-8", errors="backslashreplace") as handle:
        handle.write(page)
    return data


class NoTrajectories(ValueError):
    """The input held no trajectory (empty files, or every line malformed and skipped)."""


class _FirstErrors(list):
    """A list that keeps only the first few errors appended to it, and counts them all."""

    def __init__(self, keep: int = 20) -> None:
        super().__init__()
        self.keep = keep
        self.count = 0

    def append(self, error: Any) -> None:
        self.count += 1
        if len(self) < self.keep:
            super().append(error)
