"""Combining rewards: weighted sums (weight 0 = logged metric), gates, LSC conjunction and PAR.

Each combinator exists twice: as a pure function over numbers (:func:`weighted_sum`,
:func:`gated`, :func:`lsc`, :func:`par`) and as a reward on ``(trajectory, task)`` that wraps
other rewards (:class:`WeightedSum`, :class:`Gate`, :class:`LogSigmoidConjunction`,
:class:`PreferenceAsReward`). :func:`parse_spec` builds a :class:`WeightedSum` from the text
``agentgym score --reward`` takes::

    reward = parse_spec("outcome=1,citation_rubric=0.3,format=0", available)
    result = reward(trajectory, task)
    result.value                    # 1 * outcome + 0.3 * citation_rubric
    result.details["format"]        # computed and reported, not added

As in TRL's ``reward_weights`` and verifiers' ``Rubric``, a component with weight 0 is still
computed and reported in ``details``; it just does not count.

PAR: Fu et al., 2025, "Reward Shaping to Mitigate Reward Hacking in RLHF" (arXiv 2502.18770); code
``PorUna-byte/PAR``, ``trainers/reward_shaper.py`` (``RewardShaper.shaped_reward``, ``reward_lsc``).
LSC: Wang et al., 2024, "Transforming and Combining Rewards for Aligning Large Language Models"
(arXiv 2402.00742), with the reference quantile as the PAR code computes it.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from agentgym.core import Task
from agentgym.rewards.base import Reward, RewardResult, score_batch
from agentgym.suggest import did_you_mean
from agentgym.trajectory import Trajectory

__all__ = [
    "Gate",
    "LogSigmoidConjunction",
    "PreferenceAsReward",
    "SpecError",
    "WeightedSum",
    "gated",
    "log_sigmoid",
    "lsc",
    "lsc_reference",
    "par",
    "parse_spec",
    "parse_terms",
    "sigmoid",
    "weighted_sum",
]


# --------------------------------------------------------------------------------------------------
# Pure functions over numbers
# --------------------------------------------------------------------------------------------------


def sigmoid(x: float) -> float:
    """The logistic function ``1 / (1 + e^{-x})``, without overflow for large ``|x|``.

    Examples:
        >>> sigmoid(0.0), round(sigmoid(1.0), 5), sigmoid(-1000.0)
        (0.5, 0.73106, 0.0)
    """
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    z = math.exp(x)
    return z / (1.0 + z)


def log_sigmoid(x: float) -> float:
    """``log σ(x) = −log(1 + e^{−x})``, stable for large ``|x|``.

    Examples:
        >>> round(log_sigmoid(1.0), 5), log_sigmoid(-1000.0)
        (-0.31326, -1000.0)
    """
    if x >= 0:
        return -math.log1p(math.exp(-x))
    return x - math.log1p(math.exp(x))


def weighted_sum(values: Sequence[float], weights: Sequence[float]) -> float:
    """``Σ w_i · v_i`` over the components whose weight is not 0.

    A zero-weight component is skipped, not multiplied: a NaN or infinite logged metric does not
    poison the sum.

    Args:
        values: Component values.
        weights: Their weights, aligned with ``values``.

    Returns:
        The weighted sum.

    Raises:
        ValueError: If the lengths differ.

    Examples:
        >>> weighted_sum([1.0, 0.5, float("nan")], [1.0, 0.3, 0.0])
        1.15
    """
    if len(values) != len(weights):
        raise ValueError(f"{len(values)} values but {len(weights)} weights")
    return float(sum(w * v for v, w in zip(values, weights, strict=True) if w != 0))


def gated(value: float, gate_value: float, threshold: float = 1.0, otherwise: float = 0.0) -> float:
    """``value`` if ``gate_value >= threshold``, else ``otherwise``.

    Examples:
        >>> gated(0.7, gate_value=1.0), gated(0.7, gate_value=0.0)
        (0.7, 0.0)
        >>> gated(0.7, gate_value=0.4, threshold=0.5, otherwise=-1.0)
        -1.0
    """
    return value if gate_value >= threshold else otherwise


def lsc(values: float | Sequence[float], references: float | Sequence[float]) -> float:
    """Log-sigmoid-centered transform and conjunction: ``Σ_i log σ(r_i − r_i^ref)``.

    Paper: "Transforming and Combining Rewards for Aligning Large Language Models" (Wang et al.,
    2024, arXiv 2402.00742), paper variant. For Bradley-Terry rewards, ``log σ(r − r_ref)`` is
    the log-probability that the output beats the reference; summing over properties is the
    log-probability that it is good on all of them (independence assumed), a soft AND. The
    transform is concave and increasing: it rewards fixing a bad property more than polishing a
    good one, and preserves each property's order. Range ``(−∞, 0)``.

    Args:
        values: One reward, or one per property.
        references: The per-prompt reference reward(s) ``r_ref(x)`` (see :func:`lsc_reference`),
            aligned with ``values``.

    Returns:
        The summed transformed reward.

    Examples:
        >>> round(lsc(1.0, 0.0), 5)
        -0.31326
        >>> round(lsc([2.0, 0.5], [1.0, 1.0]), 5)  # helpful + harmless
        -1.28734
    """
    if isinstance(values, (int, float)):
        values = [float(values)]
    if isinstance(references, (int, float)):
        references = [float(references)]
    if len(values) != len(references):
        raise ValueError(f"{len(values)} rewards but {len(references)} references")
    return sum(log_sigmoid(r - ref) for r, ref in zip(values, references, strict=True))


def lsc_reference(
    reference_rewards: Sequence[float], quantile: float = 0.85, eps: float = 1e-5
) -> float:
    """The per-prompt reference ``r_ref`` as the PAR repository's LSC baseline computes it.

    Code-faithful to ``PorUna-byte/PAR: trainers/reward_shaper.py`` (``reward_lsc``):
    ``r_ref = Normal(mean(refs), std(refs, ddof=1) + eps).ppf(quantile)``, a quantile of a
    normal fitted to the rewards of base-policy samples. The paper only says "a quantile of
    base-policy rewards".

    Args:
        reference_rewards: Rewards of base-policy responses to the same prompt (two or more).
        quantile: The quantile (0.85 in the PAR code).
        eps: Added to the sample std.

    Returns:
        ``r_ref``.

    Raises:
        ValueError: With fewer than two reference rewards.

    Examples:
        >>> r_ref = lsc_reference([0.5, 1.0, 1.5])  # mean 1.0, sample std 0.5
        >>> round(r_ref, 4), round(lsc(2.0, r_ref), 4)
        (1.5182, -0.481)
    """
    if len(reference_rewards) < 2:
        raise ValueError("lsc_reference needs at least two reference rewards")
    mean = statistics.fmean(reference_rewards)
    std = statistics.stdev(reference_rewards) + eps
    return statistics.NormalDist(mean, std).inv_cdf(quantile)


def par(value: float, references: Sequence[float], k: float = 1.0) -> float:
    """Preference As Reward: ``(1/M) Σ_m σ(k · (r − r_ref^m))``.

    Paper: "Reward Shaping to Mitigate Reward Hacking in RLHF" (Fu et al., 2025, arXiv
    2502.18770); code-faithful to ``PorUna-byte/PAR: RewardShaper.shaped_reward`` with
    ``--reward_sigmoid --reward_relative`` (``sigmoid_k = 1``; the repo defaults to M = 10
    references, the paper finds M = 1 suffices). The repo's length penalty, applied before
    PAR, is not part of this function. Range ``(0, 1)``; increasing in ``value``, bounded, and
    with its steepest slope where the reward is near the references.

    Args:
        value: The policy response's reward ``r(x, y)``.
        references: Rewards ``r(x, y_ref^m)`` of M reference (SFT-policy) responses.
        k: Sigmoid slope.

    Returns:
        The shaped reward.

    Raises:
        ValueError: If ``references`` is empty.

    Examples:
        >>> round(par(2.0, [1.0, 2.5]), 5), round(par(2.0, [1.0]), 5)
        (0.5543, 0.73106)
    """
    if len(references) == 0:
        raise ValueError("par needs at least one reference reward")
    return sum(sigmoid(k * (value - ref)) for ref in references) / len(references)


# --------------------------------------------------------------------------------------------------
# Rewards over (trajectory, task)
# --------------------------------------------------------------------------------------------------


def _per_step_terms(
    result: RewardResult, weight: float, n_steps: int, name: str
) -> list[float] | None:
    if result.per_step is None:
        return None
    if len(result.per_step) != n_steps:
        raise ValueError(
            f"component {name!r} gave {len(result.per_step)} per-step rewards for {n_steps} steps"
        )
    return [weight * r for r in result.per_step]


class WeightedSum:
    """A weighted sum of named rewards; weight 0 means "computed and logged, not added".

    The TRL/verifiers composition convention, as a reward. ``value = Σ w_i · value_i`` over the
    non-zero weights. ``details`` holds every component's value under its name (weight 0
    included) and each component's own details as ``"<name>/<key>"``, so callers get a
    per-component breakdown. ``per_step`` is ``Σ w_i · per_step_i`` over the components that
    give per-step rewards (outcome-only components add nothing to it), or ``None`` if none do.
    Range: ``Σ w_i · range_i``.

    Args:
        components: ``(name, reward, weight)`` triples; names must be unique.

    Raises:
        ValueError: On an empty list, duplicate names or a non-finite weight.

    Examples:
        >>> from agentgym.trajectory import Step, Trajectory
        >>> from agentgym.core import Task
        >>> def outcome(t, task): return RewardResult(1.0, per_step=[0.0, 1.0])
        >>> def fmt(t, task): return RewardResult(0.5, details={"tags": 2})
        >>> def length(t, task): return RewardResult(120.0)
        >>> reward = WeightedSum([
        ...     ("outcome", outcome, 1.0),
        ...     ("format", fmt, 0.2),
        ...     ("length", length, 0),  # logged, not added
        ... ])
        >>> trajectory = Trajectory("x", "t", steps=[Step("a"), Step("b")])
        >>> result = reward(trajectory, Task("t", "q"))
        >>> result.value, result.per_step
        (1.1, [0.0, 1.0])
        >>> result.details
        {'outcome': 1.0, 'format': 0.5, 'format/tags': 2, 'length': 120.0}
    """

    def __init__(self, components: Sequence[tuple[str, Reward, float]]):
        if not components:
            raise ValueError("WeightedSum needs at least one component")
        names = [name for name, _, _ in components]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"duplicate component names: {', '.join(duplicates)}")
        for name, _, weight in components:
            if not math.isfinite(weight):
                raise ValueError(f"component {name!r} has non-finite weight {weight!r}")
        self.components: list[tuple[str, Reward, float]] = [
            (name, reward, float(weight)) for name, reward, weight in components
        ]

    @property
    def names(self) -> list[str]:
        """Component names, in order."""
        return [name for name, _, _ in self.components]

    @property
    def weights(self) -> list[float]:
        """Component weights, in order."""
        return [weight for _, _, weight in self.components]

    def __repr__(self) -> str:
        terms = ", ".join(f"{name}={weight:g}" for name, _, weight in self.components)
        return f"WeightedSum({terms})"

    def __call__(self, trajectory: Trajectory, task: Task) -> RewardResult:
        """Score one trajectory."""
        results = [reward(trajectory, task) for _, reward, _ in self.components]
        return self._combine(results, len(trajectory.steps))

    def batch(
        self, trajectories: Sequence[Trajectory], tasks: Sequence[Task]
    ) -> list[RewardResult]:
        """Score many trajectories, each component through its own batched form when it has one."""
        per_component = [
            score_batch(reward, trajectories, tasks) for _, reward, _ in self.components
        ]
        return [
            self._combine([results[i] for results in per_component], len(trajectory.steps))
            for i, trajectory in enumerate(trajectories)
        ]

    def _combine(self, results: Sequence[RewardResult], n_steps: int) -> RewardResult:
        value = weighted_sum([r.value for r in results], self.weights)
        per_step: list[float] | None = None
        details: dict[str, Any] = {}
        for (name, _, weight), result in zip(self.components, results, strict=True):
            details[name] = result.value
            for key, item in result.details.items():
                details[f"{name}/{key}"] = item
            if weight == 0:
                continue
            terms = _per_step_terms(result, weight, n_steps, name)
            if terms is not None:
                per_step = (
                    terms
                    if per_step is None
                    else [a + b for a, b in zip(per_step, terms, strict=True)]
                )
        return RewardResult(value, per_step=per_step, details=details)


class Gate:
    """Apply ``reward`` only when ``gate`` passes (``gate >= threshold``), else ``otherwise``.

    For rewards that only make sense on top of another, e.g. a citation-rubric score that counts
    only when the answer is correct, or a format bonus only for finished episodes. ``reward`` is
    not computed when the gate fails (saving judge calls); then ``per_step`` is ``None``.
    ``details``: ``gate`` (the gate's value), ``passed`` (1.0 / 0.0), and when computed
    ``reward`` and the reward's own details as ``"reward/<key>"``. Range: ``reward``'s range
    plus ``otherwise``.

    Args:
        reward: The gated reward.
        gate: The reward deciding whether ``reward`` applies.
        threshold: The gate passes when its value is ``>= threshold``.
        otherwise: The value when the gate fails.

    Examples:
        >>> from agentgym.trajectory import Trajectory
        >>> from agentgym.core import Task
        >>> correct = lambda t, task: RewardResult(float(task.gold["ok"]))
        >>> rubric = lambda t, task: RewardResult(0.6)
        >>> reward = Gate(rubric, gate=correct)
        >>> reward(Trajectory("x", "t"), Task("t", "q", gold={"ok": 1})).value
        0.6
        >>> reward(Trajectory("x", "t"), Task("t", "q", gold={"ok": 0})).details
        {'gate': 0.0, 'passed': 0.0}
    """

    def __init__(
        self, reward: Reward, gate: Reward, threshold: float = 1.0, otherwise: float = 0.0
    ):
        self.reward = reward
        self.gate = gate
        self.threshold = threshold
        self.otherwise = otherwise

    def __call__(self, trajectory: Trajectory, task: Task) -> RewardResult:
        """Score one trajectory."""
        gate_result = self.gate(trajectory, task)
        passed = gate_result.value >= self.threshold
        return self._result(gate_result, self.reward(trajectory, task) if passed else None)

    def batch(
        self, trajectories: Sequence[Trajectory], tasks: Sequence[Task]
    ) -> list[RewardResult]:
        """Score many trajectories; the gated reward sees only those whose gate passed."""
        gates = score_batch(self.gate, trajectories, tasks)
        open_ = [i for i, g in enumerate(gates) if g.value >= self.threshold]
        scored = score_batch(
            self.reward, [trajectories[i] for i in open_], [tasks[i] for i in open_]
        )
        by_index = dict(zip(open_, scored, strict=True))
        return [self._result(g, by_index.get(i)) for i, g in enumerate(gates)]

    def _result(self, gate_result: RewardResult, result: RewardResult | None) -> RewardResult:
        details: dict[str, Any] = {"gate": gate_result.value, "passed": float(result is not None)}
        if result is None:
            return RewardResult(self.otherwise, details=details)
        details["reward"] = result.value
        for key, item in result.details.items():
            details[f"reward/{key}"] = item
        return RewardResult(result.value, per_step=result.per_step, details=details)


#: A per-prompt reference for :class:`LogSigmoidConjunction`: a constant or a function of the task.
ReferenceFn = Callable[[Task], float]


class LogSigmoidConjunction:
    """LSC as a reward: ``Σ_i log σ(r_i(trajectory, task) − r_i^ref(task))`` over named rewards.

    Paper: "Transforming and Combining Rewards" (Wang et al., 2024), see :func:`lsc`. Each
    property's reference is a constant or a function of the task (e.g. reading a precomputed
    :func:`lsc_reference` from ``task.metadata``). ``details``: each component's raw value under
    its name, its reference as ``"<name>/reference"`` and its transformed term as
    ``"<name>/lsc"``. Trajectory-level only (``per_step`` is ``None``). Range ``(−∞, 0)``.

    Args:
        components: ``(name, reward, reference)`` triples.

    Examples:
        >>> from agentgym.trajectory import Trajectory
        >>> from agentgym.core import Task
        >>> helpful = lambda t, task: RewardResult(2.0)
        >>> harmless = lambda t, task: RewardResult(0.5)
        >>> reward = LogSigmoidConjunction([("helpful", helpful, 1.0), ("harmless", harmless, 1.0)])
        >>> round(reward(Trajectory("x", "t"), Task("t", "q")).value, 5)
        -1.28734
    """

    def __init__(self, components: Sequence[tuple[str, Reward, float | ReferenceFn]]):
        if not components:
            raise ValueError("LogSigmoidConjunction needs at least one component")
        self.components = list(components)

    def __call__(self, trajectory: Trajectory, task: Task) -> RewardResult:
        """Score one trajectory."""
        total = 0.0
        details: dict[str, Any] = {}
        for name, reward, reference in self.components:
            value = reward(trajectory, task).value
            ref = float(reference(task)) if callable(reference) else float(reference)
            term = log_sigmoid(value - ref)
            total += term
            details.update({name: value, f"{name}/reference": ref, f"{name}/lsc": term})
        return RewardResult(total, details=details)


def _metadata_references(task: Task) -> Sequence[float]:
    try:
        return task.metadata["reference_rewards"]
    except KeyError:
        raise ValueError(
            f"task {task.id!r} has no metadata['reference_rewards']; pass references= to "
            "PreferenceAsReward"
        ) from None


class PreferenceAsReward:
    """PAR as a reward: the mean sigmoid of ``reward`` centred on reference responses' rewards.

    Paper: Fu et al., 2025 (arXiv 2502.18770), code-faithful to the PAR repository's shaper (see
    :func:`par`). The reference rewards ``r(x, y_ref^m)`` are per prompt, so they come from the
    task: by default from ``task.metadata["reference_rewards"]``, or from a function of the
    task. ``details``: ``raw`` (the unshaped reward), ``n_references``, and the reward's own
    details as ``"raw/<key>"``. Range ``(0, 1)``.

    Args:
        reward: The reward to shape.
        references: ``task -> reference rewards``; default reads
            ``task.metadata["reference_rewards"]``.
        k: Sigmoid slope.

    Examples:
        >>> from agentgym.trajectory import Trajectory
        >>> from agentgym.core import Task
        >>> reward = PreferenceAsReward(lambda t, task: RewardResult(2.0))
        >>> task = Task("t", "q", metadata={"reference_rewards": [1.0, 2.5]})
        >>> round(reward(Trajectory("x", "t"), task).value, 5)
        0.5543
    """

    def __init__(
        self,
        reward: Reward,
        references: Callable[[Task], Sequence[float]] | None = None,
        *,
        k: float = 1.0,
    ):
        self.reward = reward
        self.references = references if references is not None else _metadata_references
        self.k = k

    def __call__(self, trajectory: Trajectory, task: Task) -> RewardResult:
        """Score one trajectory."""
        return self._shape(self.reward(trajectory, task), task)

    def batch(
        self, trajectories: Sequence[Trajectory], tasks: Sequence[Task]
    ) -> list[RewardResult]:
        """Score many trajectories through the wrapped reward's batched form when it has one."""
        results = score_batch(self.reward, trajectories, tasks)
        return [self._shape(result, task) for result, task in zip(results, tasks, strict=True)]

    def _shape(self, result: RewardResult, task: Task) -> RewardResult:
        references = [float(r) for r in self.references(task)]
        details: dict[str, Any] = {"raw": result.value, "n_references": len(references)}
        for key, item in result.details.items():
            details[f"raw/{key}"] = item
        return RewardResult(par(result.value, references, self.k), details=details)


# --------------------------------------------------------------------------------------------------
# The spec parser behind `agentgym score --reward`
# --------------------------------------------------------------------------------------------------


class SpecError(ValueError):
    """A malformed reward spec such as ``"outcome=1,format="``; the message says what to fix."""


def parse_terms(spec: str) -> list[tuple[str, float]]:
    """The grammar of reward specs: ``"name=weight,name=weight,..."`` into ``(name, weight)`` pairs.

    The one parser of spec strings (``agentgym score --reward``, :func:`parse_spec`,
    :func:`~agentgym.rewards.registry.reward_from_spec`)::

        spec   := term ("," term)*
        term   := name ["=" weight]
        name   := any text without "," or "=" (a registry name, "default", "module:attr", "file.py")
        weight := a finite Python float ("1", "0.3", "-1", "1e-2")

    A bare ``name`` means weight 1; weight 0 computes and reports the reward without adding it.
    Whitespace around names, weights and commas is ignored. Names must be unique.

    Args:
        spec: The spec text.

    Returns:
        The terms in spec order.

    Raises:
        SpecError: On an empty spec or term, a missing name, a missing, non-numeric or
            non-finite weight, or a name given twice.

    Examples:
        >>> parse_terms("outcome=1, citation_rubric=0.3, format")
        [('outcome', 1.0), ('citation_rubric', 0.3), ('format', 1.0)]
        >>> parse_terms("mypkg.rewards:mine=-1e-1,rules.py")
        [('mypkg.rewards:mine', -0.1), ('rules.py', 1.0)]
        >>> for bad in ["", "em,,f1", "=1", "em=", "em=x", "em=inf", "em,em=2"]:
        ...     try:
        ...         parse_terms(bad)
        ...     except SpecError as error:
        ...         print(error)
        empty reward spec; expected e.g. 'outcome=1,format=0.1'
        empty term in reward spec 'em,,f1' (two commas in a row?)
        missing reward name in '=1'; expected 'name=weight'
        missing weight in 'em='; expected e.g. 'em=1'
        weight 'x' in 'em=x' is not a number
        weight in 'em=inf' must be finite
        reward 'em' appears twice in 'em,em=2'
    """
    if not spec.strip():
        raise SpecError("empty reward spec; expected e.g. 'outcome=1,format=0.1'")
    terms: list[tuple[str, float]] = []
    seen: set[str] = set()
    for term in spec.split(","):
        term = term.strip()
        if not term:
            raise SpecError(f"empty term in reward spec {spec!r} (two commas in a row?)")
        name, sep, weight_text = (part.strip() for part in term.partition("="))
        if not name:
            raise SpecError(f"missing reward name in {term!r}; expected 'name=weight'")
        if sep and not weight_text:
            raise SpecError(f"missing weight in {term!r}; expected e.g. '{name}=1'")
        try:
            weight = float(weight_text) if sep else 1.0
        except ValueError:
            raise SpecError(f"weight {weight_text!r} in {term!r} is not a number") from None
        if not math.isfinite(weight):
            raise SpecError(f"weight in {term!r} must be finite")
        if name in seen:
            raise SpecError(f"reward {name!r} appears twice in {spec!r}")
        seen.add(name)
        terms.append((name, weight))
    return terms


def parse_spec(spec: str, available: Mapping[str, Reward]) -> WeightedSum:
    """Parse a spec (grammar: :func:`parse_terms`) into a :class:`WeightedSum` of known rewards.

    Args:
        spec: The spec text, e.g. ``"outcome=1,citation_rubric=0.3,format=0.1"``.
        available: The rewards the spec may name.

    Returns:
        The weighted sum, components in spec order.

    Raises:
        SpecError: On a malformed spec (see :func:`parse_terms`) or an unknown name (with the
            closest known names suggested).

    Examples:
        >>> ok = lambda t, task: RewardResult(1.0)
        >>> available = {"outcome": ok, "format": ok, "citation_rubric": ok}
        >>> parse_spec("outcome=1, citation_rubric=0.3, format=0", available)
        WeightedSum(outcome=1, citation_rubric=0.3, format=0)
        >>> parse_spec("outcome", available)
        WeightedSum(outcome=1)
        >>> try:
        ...     parse_spec("outcome=1,fromat=0.1", available)
        ... except SpecError as error:
        ...     print(error)
        unknown reward 'fromat' in 'fromat=0.1'. Did you mean 'format'? Available: ...
    """
    components: list[tuple[str, Reward, float]] = []
    for name, weight in parse_terms(spec):
        if name not in available:
            term = next(term.strip() for term in spec.split(",") if term.partition("=")[0].strip() == name)
            known = ", ".join(sorted(available)) or "none"
            raise SpecError(f"unknown reward {name!r} in {term!r}.{did_you_mean(name, available)} Available: {known}.")
        components.append((name, available[name], weight))
    return WeightedSum(components)
