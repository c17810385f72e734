"""The summary of a scoring run: per env and per component statistics, and the diagnostics."""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Mapping
from typing import Any

from agentgym.scoring.scorer import Scored
from agentgym.trajectory import TrajectoryError, json_data

#: An action repeated this many times in a row counts as a loop (a diagnostic).
LOOP_LENGTH = 3

#: Component kinds (:data:`agentgym.rewards.registry.KINDS`) that pay for evidence found: a format
#: reward paid alongside one of them is not "format without evidence".
EVIDENCE_KINDS = frozenset({"citation", "process", "info-gain"})


# --------------------------------------------------------------------------------------------------
# Summary and diagnostics


class Stats:
    """Streaming count, mean, standard deviation (population, ddof 0), minimum and maximum.

    Examples:
        >>> stats = Stats()
        >>> for x in (1.0, 2.0, 4.0):
        ...     stats.add(x)
        >>> stats.n, stats.mean, round(stats.std, 4), stats.min, stats.max
        (3, 2.3333333333333335, 1.2472, 1.0, 4.0)
    """

    __slots__ = ("n", "mean", "_m2", "min", "max")

    def __init__(self) -> None:
        self.n = 0
        self.mean = 0.0
        self._m2 = 0.0
        self.min = math.inf
        self.max = -math.inf

    def add(self, x: float) -> None:
        """Add one value (Welford's update)."""
        self.n += 1
        delta = x - self.mean
        self.mean += delta / self.n
        self._m2 += delta * (x - self.mean)
        if x < self.min:
            self.min = x
        if x > self.max:
            self.max = x

    @property
    def std(self) -> float:
        """Population standard deviation (0 for fewer than two values)."""
        return math.sqrt(max(self._m2, 0.0) / self.n) if self.n > 1 else 0.0

    def as_dict(self) -> dict[str, float | int]:
        """``n``, ``mean``, ``std``, ``min``, ``max``."""
        if not self.n:
            return {"n": 0}
        return {"n": self.n, "mean": self.mean, "std": self.std, "min": self.min, "max": self.max}


class _EnvSummary:
    def __init__(self) -> None:
        self.score = Stats()
        self.turns = Stats()
        self.components: dict[str, Stats] = {}
        self.successes = 0
        self.steps = 0
        self.invalid_steps = 0
        self.recorded = 0
        self.mismatched = 0


class Summary:
    """Aggregates :class:`Scored` results as they stream by: per-env and per-component stats, diagnostics.

    Memory grows with the number of envs, components and distinct tasks, never with the number of
    trajectories (at most ``max_examples`` examples are kept per diagnostic).

    Diagnostics:

    * **zero-variance groups**: tasks (grouped by env and task id) with two or more trajectories
      whose scores are all equal: a GRPO group with no signal
      (:func:`agentgym.rewards.credit.zero_variance_groups`).
    * **format without evidence**: a format component (a name containing ``format``) is positive
      while every outcome component (``outcome``, ``em``, ``sub_em``, ``f1``, ``numeric``, ``judge``)
      and every evidence component (a name containing ``citation`` or ``evidence``) is 0; needs at
      least one outcome component.
    * **repeated-action loops**: the same action :data:`LOOP_LENGTH` or more times in a row.
    * **judge vs rule**: where a ``judge`` component and a rule outcome (``em``, ``sub_em``,
      ``numeric``, ``f1``, ``outcome``) both ran, the trajectories where one says correct (>= 0.5)
      and the other does not.
    * **recorded vs offline**: agentgym records scored with the env's own reward whose score differs
      from the reward recorded at rollout (the env or its reward changed since, or the episode ended
      with an error, which the message then says).

    Args:
        reward: The reward's label, for the report.
        weights: The spec's weights (``None`` for the env's own reward).
        success_threshold: For the report (each :class:`Scored` carries its own ``success``).
        max_examples: Examples kept per diagnostic.
    """

    def __init__(
        self,
        reward: str = "default",
        weights: Mapping[str, float] | None = None,
        success_threshold: float = 1.0,
        max_examples: int = 5,
    ) -> None:
        self.reward = reward
        self.weights = dict(weights) if weights is not None else None
        self.success_threshold = success_threshold
        self.max_examples = max_examples
        self.n = 0
        self.envs: dict[str, _EnvSummary] = {}
        self.groups: dict[tuple[str, str], list[float]] = {}  # [count, min, max]
        self.skipped = 0
        self.skipped_examples: list[str] = []
        self.empty_files: list[str] = []
        self.format_only = 0
        self.format_only_examples: list[str] = []
        self.loops = 0
        self.loop_examples: list[str] = []
        self.disagreements: dict[str, list[int]] = {}  # "judge vs em" -> [compared, disagreed]
        self.disagreement_examples: list[str] = []
        self.mismatch_examples: list[str] = []
        self.mismatched_after_errors = 0  # of the mismatches, those of episodes that ended with an error

    def add(self, item: Scored | TrajectoryError) -> None:
        """Add one result (a :class:`~agentgym.trajectory.TrajectoryError` counts as a skipped line)."""
        if isinstance(item, TrajectoryError):
            self.skipped += 1
            if len(self.skipped_examples) < self.max_examples:
                self.skipped_examples.append(str(item))
            return
        self.n += 1
        env = self.envs.get(item.env_id)
        if env is None:
            env = self.envs[item.env_id] = _EnvSummary()
        score = item.score
        env.score.add(score)
        env.turns.add(item.turns)
        env.steps += item.turns
        env.invalid_steps += item.invalid_steps
        env.successes += item.success
        components = item.components
        for name, value in components.items():
            stats = env.components.get(name)
            if stats is None:
                stats = env.components[name] = Stats()
            stats.add(value)
        key = (item.env_id, item.task_id)
        group = self.groups.get(key)
        if group is None:
            self.groups[key] = [1, score, score]
        else:
            group[0] += 1
            if score < group[1]:
                group[1] = score
            if score > group[2]:
                group[2] = score
        if self.weights is None and item.recorded is not None and item.format == "agentgym":
            env.recorded += 1
            if item.recorded != score:
                env.mismatched += 1
                example = f"{item.where} recorded {item.recorded:g}, now {score:g}"
                if item.error is not None:  # not a changed env: the episode stopped early
                    self.mismatched_after_errors += 1
                    example += f" (the episode ended with an error: {item.error[:120]})"
                self._example(self.mismatch_examples, example)
        if item.repeat >= LOOP_LENGTH:
            self.loops += 1
            self._example(self.loop_examples, f"{item.where} ({item.repeat}x)")
        self._check_components(item, components)

    def _example(self, examples: list[str], text: str) -> None:
        if len(examples) < self.max_examples:
            examples.append(text)

    def _check_components(self, item: Scored, components: Mapping[str, float]) -> None:
        """Count format-without-evidence and judge-vs-rule disagreements, reading each component's kind."""
        format_paid = outcome_seen = outcome_paid = evidence_paid = False
        judges, rules = [], []
        for name, value in components.items():
            kind = item.kinds.get(name, "other")
            if kind == "format":
                format_paid = format_paid or value > 0
            elif kind == "outcome":
                outcome_seen, outcome_paid = True, outcome_paid or value != 0
                rules.append(name)
            elif kind == "judge":
                outcome_seen, outcome_paid = True, outcome_paid or value != 0
                judges.append(name)
            elif kind in EVIDENCE_KINDS:
                evidence_paid = evidence_paid or value != 0
        if format_paid and outcome_seen and not outcome_paid and not evidence_paid:
            self.format_only += 1
            self._example(self.format_only_examples, f"{item.where} task {item.task_id}")
        for judge in judges:
            for rule in rules:
                pair = self.disagreements.setdefault(f"{judge} vs {rule}", [0, 0])
                pair[0] += 1
                if (components[judge] >= 0.5) != (components[rule] >= 0.5):
                    pair[1] += 1
                    self._example(
                        self.disagreement_examples,
                        f"{item.where} {judge}={components[judge]:g} {rule}={components[rule]:g}",
                    )

    # ---- reports --------------------------------------------------------------------------------

    def zero_variance(self) -> dict[str, Any]:
        """The zero-variance report over tasks with two or more trajectories."""
        from agentgym.rewards.credit import zero_variance_groups

        keys = [key for key, (count, _, _) in self.groups.items() if count >= 2]
        # Each group enters as its minimum and maximum: all equal exactly when the two are.
        rewards = [value for key in keys for value in self.groups[key][1:]]
        ids = [f"{env_id}|{task_id}" for env_id, task_id in keys for _ in (0, 1)]
        report = zero_variance_groups(rewards, ids)
        zero = report.groups
        by_id = dict(zip([f"{e}|{t}" for e, t in keys], keys, strict=True))
        in_zero = sum(self.groups[by_id[group]][0] for group in zero)
        return {
            "groups": len(keys),
            "zero_variance": len(zero),
            "trajectories": in_zero,
            "singletons": len(self.groups) - len(keys),
            "examples": [
                f"{by_id[group][1]} ({self.groups[by_id[group]][1]:g} x{self.groups[by_id[group]][0]:.0f})"
                for group in zero[: self.max_examples]
            ],
        }

    def diagnostics(self) -> dict[str, Any]:
        """Every diagnostic as JSON-ready data."""
        recorded = sum(env.recorded for env in self.envs.values())
        mismatched = sum(env.mismatched for env in self.envs.values())
        return {
            "zero_variance_groups": self.zero_variance(),
            "format_without_evidence": {"count": self.format_only, "examples": self.format_only_examples},
            "repeated_action_loops": {"count": self.loops, "min_repeats": LOOP_LENGTH, "examples": self.loop_examples},
            "judge_vs_rule": {
                "pairs": {name: {"compared": c, "disagree": d} for name, (c, d) in self.disagreements.items()},
                "examples": self.disagreement_examples,
            },
            "recorded_vs_offline": {
                "compared": recorded,
                "differ": mismatched,
                "differ_after_errors": self.mismatched_after_errors,
                "examples": self.mismatch_examples,
            },
        }

    def to_dict(self) -> dict[str, Any]:
        """The whole summary as JSON-ready data (``agentgym score --format json``)."""
        envs = {}
        for env_id, env in self.envs.items():
            envs[env_id or "(no env)"] = {
                "score": env.score.as_dict(),
                "success_rate": env.successes / env.score.n if env.score.n else None,
                "invalid_action_rate": env.invalid_steps / env.steps if env.steps else 0.0,
                "turns": env.turns.as_dict(),
                "components": {name: stats.as_dict() for name, stats in env.components.items()},
            }
        return json_data(
            {
                "reward": self.reward,
                "weights": self.weights,
                "success_threshold": self.success_threshold,
                "trajectories": self.n,
                "skipped_lines": self.skipped,
                "skipped_examples": self.skipped_examples,
                "empty_files": self.empty_files,
                "envs": envs,
                "diagnostics": self.diagnostics(),
            }
        )

    def to_csv(self) -> str:
        """One row per env (metric ``score``) and per env component (``agentgym score --format csv``)."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(_CSV_HEADER)
        for env_id, env in self.envs.items():
            success, invalid = env.successes / env.score.n, env.invalid_steps / env.steps if env.steps else 0.0
            writer.writerow([env_id, "score", "", *_cells(env.score), repr(success), repr(invalid), env.turns.mean])
            for name, stats in env.components.items():
                weight = "" if self.weights is None else repr(self.weights.get(name, 0.0))
                writer.writerow([env_id, name, weight, *_cells(stats), "", "", ""])
        return out.getvalue()

    def render(self) -> str:
        """The summary and diagnostics as a text table (``agentgym score --format table``)."""
        lines = []
        label = "default (each env's own reward)" if self.weights is None else self.reward
        lines.append(f"{_trajectories(self.n)} scored · reward: {label} · success: score >= {self.success_threshold:g}")
        lines.append("")
        header = ["env", "n", "mean", "std", "min", "max", "success", "invalid", "turns"]
        rows = []
        for env_id, env in self.envs.items():
            s, invalid = env.score, env.invalid_steps / env.steps if env.steps else 0.0
            stats = [_f(x) for x in (s.mean, s.std, s.min, s.max)]
            success, turns = f"{env.successes / s.n:.1%}", f"{env.turns.mean:.1f}"
            rows.append([env_id or "(no env)", f"{s.n:,}", *stats, success, f"{invalid:.1%}", turns])
        lines += _table(header, rows)
        for env_id, env in self.envs.items():
            lines.append("")
            rows = []
            for name, c in env.components.items():
                weight = "-" if self.weights is None else f"{self.weights.get(name, 0):g}"
                rows.append([f"  {name}", weight, _f(c.mean), _f(c.std), _f(c.min), _f(c.max)])
            lines += _table([f"{env_id or '(no env)'} components", "weight", "mean", "std", "min", "max"], rows)
        lines.append("")
        lines += self._render_diagnostics()
        return "\n".join(lines)

    def _render_diagnostics(self) -> list[str]:
        lines = ["diagnostics"]
        zero = self.zero_variance()
        if zero["groups"]:
            text = (
                f"{zero['zero_variance'] or 'none'} of {zero['groups']:,} tasks with 2+ trajectories have all-equal "
                f"scores ({_trajectories(zero['trajectories'])}, no GRPO signal)"
            )
            if zero["examples"]:
                text += ": " + ", ".join(zero["examples"])
        else:
            text = "no task has 2+ trajectories"
        lines.append(f"  zero-variance groups: {text}")
        lines.append(f"  format reward without evidence: {_count(self.format_only, self.format_only_examples)}")
        lines.append(f"  repeated-action loops ({LOOP_LENGTH}+ in a row): {_count(self.loops, self.loop_examples)}")
        if self.disagreements:
            pairs = ", ".join(f"{name}: {d} of {c} disagree" for name, (c, d) in self.disagreements.items())
            examples = f" ({', '.join(self.disagreement_examples)})" if self.disagreement_examples else ""
            lines.append(f"  judge vs rule: {pairs}{examples}")
        else:
            lines.append("  judge vs rule: not run (needs a judge component and a rule outcome, e.g. em=1,judge=0)")
        recorded = sum(env.recorded for env in self.envs.values())
        mismatched = sum(env.mismatched for env in self.envs.values())
        if recorded:
            text = f"{mismatched} of {recorded:,} differ" if mismatched else f"all {recorded:,} equal"
            if self.mismatch_examples:
                text += f" ({', '.join(self.mismatch_examples)})"
            if self.mismatched_after_errors:
                errors = self.mismatched_after_errors
                text += f"; {errors:,} of them ended with an error, so they record only the rewards earned before it"
            if mismatched > self.mismatched_after_errors:
                text += ": the env or its reward changed since the rollout"
            lines.append(f"  recorded vs offline score: {text}")
        if self.skipped:
            lines.append(f"  skipped {self.skipped:,} invalid lines: {'; '.join(self.skipped_examples)}")
        for name in self.empty_files:
            lines.append(f"  {name}: empty file (no trajectories)")
        return lines


_CSV_HEADER = ("env", "metric", "weight", "n", "mean", "std", "min", "max", "success_rate", "invalid_action_rate",
               "turns_mean")  # fmt: skip


def _cells(stats: Stats) -> list[Any]:
    return [stats.n, repr(stats.mean), repr(stats.std), repr(stats.min), repr(stats.max)]


def _f(value: float) -> str:
    return f"{value:.3f}"


def _count(count: int, examples: list[str]) -> str:
    if not count:
        return "none"
    return f"{_trajectories(count)} ({', '.join(examples)}{', ...' if count > len(examples) else ''})"


def _trajectories(count: int) -> str:
    return f"{count:,} trajector{'y' if count == 1 else 'ies'}"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    out = []
    for row in [header, *rows]:
        cells = [str(cell).ljust(widths[0]) if i == 0 else str(cell).rjust(widths[i]) for i, cell in enumerate(row)]
        out.append("  ".join(cells).rstrip())
    return out
