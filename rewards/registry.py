"""The named rewards: every reward a spec string or ``agentgym score --reward NAME`` may name, with its kind.

:data:`REWARDS` maps a name to a :class:`RewardEntry`: where the reward is built (a lazy
``module:callable``, so importing this module imports no reward family), its :attr:`~RewardEntry.kind`
(what it measures, read by ``agentgym score``'s diagnostics instead of guessing from names), what
it needs to be built (a judge, a log-probability scorer model), and, for a reward that cannot be
named alone, why. :func:`reward_from_spec` turns a spec string (grammar:
:func:`~agentgym.rewards.compose.parse_terms`) into a :class:`~agentgym.rewards.compose.WeightedSum`
of named rewards.

Not here, on purpose: the group-level advantages of :mod:`.credit` and
:func:`~agentgym.rewards.info_gain.a2tgpo_advantages` (they turn a group's rewards into advantages;
they are not a reward of one trajectory), and the env families' own rewards (``envs/<family>/reward.py``;
``default`` names the env's reward, and this package never imports ``envs``).

Examples:
    >>> REWARDS["f1"].kind, REWARDS["judge"].needs
    ('outcome', ('judge',))
    >>> reward_from_spec("em=1,format=0.1")
    WeightedSum(em=1, format=0.1)
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from agentgym.rewards.base import Judge, Reward, RewardResult
from agentgym.rewards.compose import SpecError, WeightedSum, parse_spec, parse_terms
from agentgym.suggest import did_you_mean

__all__ = [
    "DEFAULT_DESCRIPTION",
    "KINDS",
    "REWARDS",
    "MissingRequirement",
    "RewardEntry",
    "declared_kinds",
    "kind_of",
    "make_reward",
    "reward_from_spec",
]

#: What a reward measures. ``outcome``: the final answer against gold; ``format``: the form of the
#: answer or actions; ``citation``: the cited evidence; ``process``: each step; ``judge``: an LLM
#: judge of the final answer; ``info-gain``: how much each step tells about the answer;
#: ``shaping``: a transform of another reward (PAR, LSC, potential-based); ``env``: an env family's
#: own reward; ``other``: a user's reward.
KINDS = ("outcome", "format", "citation", "process", "judge", "info-gain", "shaping", "env", "other")

#: What each requirement of :attr:`RewardEntry.needs` is, for error messages. A judge is a callable
#: ``prompt -> reply text`` (:data:`~agentgym.rewards.base.Judge`).
REQUIREMENTS = {
    "judge": "a judge",
    "scorer": "a scorer (a model giving log-probabilities: agentgym.rewards.scorer.HFScorer or any LogProbScorer)",
}

DEFAULT_DESCRIPTION = "the env's own reward (env.unwrapped.reward): what was recorded at rollout"


@dataclass(frozen=True)
class RewardEntry:
    """A named reward: how to build it and what it is.

    Attributes:
        build: ``module:callable`` that builds the reward, called with :attr:`kwargs` and, for each
            of :attr:`needs`, that requirement as a keyword argument.
        kind: One of :data:`KINDS`.
        description: One line for ``agentgym score --list-rewards``.
        kwargs: Keyword arguments for :attr:`build`.
        needs: What building it takes besides ``kwargs``: ``"judge"``, ``"scorer"``.
        unavailable: Why the name cannot be used in a spec (the reward needs code, e.g. a
            function, that no spec can give); ``None`` when it can.
    """

    build: str
    kind: str
    description: str
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    needs: tuple[str, ...] = ()
    unavailable: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown kind {self.kind!r}; choose one of {', '.join(KINDS)}")
        unknown = set(self.needs) - set(REQUIREMENTS)
        if unknown:
            raise ValueError(f"unknown requirements {sorted(unknown)}; choose among {list(REQUIREMENTS)}")


_RULES = {"identify": "rule", "support": "rule"}

#: The rewards a spec may name (besides ``default``, the env's own).
REWARDS: dict[str, RewardEntry] = {
    # outcome
    "em": RewardEntry("agentgym.rewards.outcome:ExactMatch", "outcome",
                      "exact match of the final answer (Search-R1 normalization)"),
    "outcome": RewardEntry("agentgym.rewards.outcome:ExactMatch", "outcome", "the same as em"),
    "sub_em": RewardEntry("agentgym.rewards.outcome:SubExactMatch", "outcome",
                          "a gold answer appears inside the final answer"),
    "f1": RewardEntry("agentgym.rewards.outcome:F1", "outcome",
                      "token F1 of the final answer against the best gold answer"),
    "numeric": RewardEntry("agentgym.rewards.outcome:NumericMatch", "outcome",
                           "the answer's number equals a gold number (rel 1e-6)"),
    # format
    "search_r1_format": RewardEntry("agentgym.rewards.outcome:SearchR1Format", "format",
                                    "Search-R1's format-aware EM (0.2/0.1)"),
    "format": RewardEntry("agentgym.rewards.outcome:AnswerFormat", "format",
                          "1 if the agent answered and no action was invalid"),
    # citation
    "citation": RewardEntry("agentgym.rewards.citation:CitationRubric", "citation",
                            "CaRR citation rubric, rule-based (gold entities and evidence)", _RULES),
    "citation_rubric": RewardEntry("agentgym.rewards.citation:CitationRubric", "citation",
                                   "the same as citation", _RULES),
    "citation_judge": RewardEntry("agentgym.rewards.citation:CitationRubric", "citation",
                                  "CaRR citation rubric, judge where gold data is missing (needs --judge)",
                                  needs=("judge",)),
    # judge
    "judge": RewardEntry("agentgym.rewards.judge:JudgeOutcome", "judge",
                         "LLM judge of the final answer (needs --judge)", needs=("judge",)),
    # process
    "step_checks": RewardEntry("agentgym.rewards.registry:_step_checks", "process",
                               "per step: the action was valid, and the observation holds gold evidence"),
    "relevance_steps": RewardEntry("agentgym.rewards.registry:_relevance_steps", "process",
                                   "R3-RAG: judged relevance of each retrieval step, scaled by em (needs --judge)",
                                   needs=("judge",)),
    "implicit_prm": RewardEntry("agentgym.rewards.process:ImplicitPRM", "process",
                                "implicit PRM beta*log(pi/pi_ref) per step (needs recorded logprobs)"),
    "judge_steps": RewardEntry("agentgym.rewards.process:JudgeStepScores", "process",
                               "an LLM judge scores each step (needs --judge)", needs=("judge",)),
    "checklist": RewardEntry("agentgym.rewards.process:ChecklistReward", "process",
                             "CM2 checklist items (task.gold['checklist']) judged per turn (needs --judge)",
                             needs=("judge",)),
    # information gain
    "igpo": RewardEntry("agentgym.rewards.info_gain:IGPOReward", "info-gain",
                        "IGPO: gain in the gold answer's probability per turn (needs a scorer model)",
                        needs=("scorer",)),
    "infopo": RewardEntry("agentgym.rewards.info_gain:InfoPOReward", "info-gain",
                          "InfoPO: log-prob gain of each turn over a masked observation (needs a scorer model)",
                          needs=("scorer",)),
    "entropy_reduction": RewardEntry("agentgym.rewards.info_gain:EntropyReductionReward", "info-gain",
                                     "entropy drop of the candidate set (task.gold['candidates']) per step"),
    # shaping
    "par": RewardEntry("agentgym.rewards.registry:_par", "shaping",
                       "PAR of em against task.metadata['reference_rewards']"),
    "lsc": RewardEntry("agentgym.rewards.registry:_lsc", "shaping",
                       "LSC log-sigmoid of em minus a quantile of task.metadata['reference_rewards']"),
    "potential_shaping": RewardEntry(
        "agentgym.rewards.shaping:PotentialShaping", "shaping", "potential-based shaping of a reward",
        unavailable="it shapes a reward with a potential function phi(trajectory, t, task), which a spec cannot "
        "give: define PotentialShaping(reward, potential) in a file and pass --reward FILE.py"),
    "gate": RewardEntry(
        "agentgym.rewards.compose:Gate", "shaping", "a reward counted only when another passes a threshold",
        unavailable="it combines two rewards (the gate and the gated one), which a spec's flat sum cannot express: "
        "define Gate(reward, gate) in a file and pass --reward FILE.py"),
    # env families' rewards that live in rewards/
    "toolrl": RewardEntry("agentgym.rewards.toolrl:ToolRLReward", "env",
                          "ToolRL: format + correctness of the tool calls against task.gold"),
    "reasoning_sql": RewardEntry("agentgym.rewards.sql:ReasoningSQLReward", "env",
                                 "Reasoning-SQL partial rewards of the answer's SQL (execution needs the env)"),
    "webshop": RewardEntry("agentgym.rewards.webshop:WebShopReward", "env",
                           "WebShop: attribute/option/type match of the purchase (step.info['purchase'])"),
    "miniwob": RewardEntry("agentgym.rewards.miniwob:MiniWoBSuccess", "env",
                           "MiniWoB++ success from the raw reward recorded in step.info"),
}  # fmt: skip


class MissingRequirement(SpecError):
    """A named reward needs something it was not given (a judge, a scorer model).

    Attributes:
        name: The reward's name.
        requirement: What it needs: a key of :data:`REQUIREMENTS`.
    """

    def __init__(self, name: str, requirement: str):
        super().__init__(f"reward {name!r} needs {REQUIREMENTS[requirement]}")
        self.name = name
        self.requirement = requirement


def kind_of(name: str) -> str:
    """The kind of a component named in a spec: the registry's, ``env`` for ``default``, else ``other``.

    Examples:
        >>> kind_of("citation"), kind_of("default"), kind_of("mypkg.rewards:mine")
        ('citation', 'env', 'other')
    """
    if name == "default":
        return "env"
    entry = REWARDS.get(name)
    return entry.kind if entry is not None else "other"


def declared_kinds(reward: Any) -> dict[str, str]:
    """The kinds a reward declares for the named components it reports (``details["steps"]``).

    A reward whose per-step ``details["steps"]`` names components (as the env families' rewards
    do) declares what each measures in a class attribute ``kinds``; other rewards declare none.

    Examples:
        >>> class Mine:
        ...     kinds = {"outcome": "outcome", "bonus": "format"}
        >>> declared_kinds(Mine()), declared_kinds(len)
        ({'outcome': 'outcome', 'bonus': 'format'}, {})
    """
    kinds = getattr(reward, "kinds", None)
    return {str(name): str(kind) for name, kind in kinds.items()} if isinstance(kinds, Mapping) else {}


def make_reward(name: str, *, judge: Judge | None = None, scorer: Any = None) -> Reward:
    """Build the named reward of :data:`REWARDS`.

    Args:
        name: A key of :data:`REWARDS`.
        judge: The judge, for the rewards that need one.
        scorer: The log-probability scorer model (:class:`~agentgym.rewards.scorer.LogProbScorer`),
            for the information-gain rewards that need one.

    Returns:
        The reward.

    Raises:
        SpecError: For an unknown name (with suggestions) or a reward no spec can build.
        MissingRequirement: If the reward needs a judge or a scorer that was not given.

    Examples:
        >>> make_reward("f1")
        <agentgym.rewards.outcome.F1 object at ...>
        >>> try:
        ...     make_reward("igpo")
        ... except MissingRequirement as error:
        ...     print(error.requirement, "-", error)
        scorer - reward 'igpo' needs a scorer (a model giving log-probabilities: ...
    """
    entry = REWARDS.get(name)
    if entry is None:
        raise SpecError(f"unknown reward {name!r}.{did_you_mean(name, REWARDS)}")
    if entry.unavailable is not None:
        raise SpecError(f"reward {name!r} cannot be named in a spec: {entry.unavailable}")
    given = {"judge": judge, "scorer": scorer}
    kwargs = dict(entry.kwargs)
    for requirement in entry.needs:
        if given[requirement] is None:
            raise MissingRequirement(name, requirement)
        kwargs[requirement] = given[requirement]
    module, _, attr = entry.build.partition(":")
    return getattr(importlib.import_module(module), attr)(**kwargs)


def reward_from_spec(
    spec: str,
    *,
    judge: Judge | None = None,
    scorer: Any = None,
    extra: Mapping[str, Reward] | None = None,
) -> WeightedSum:
    """Build the weighted sum a spec string names (grammar: :func:`~agentgym.rewards.compose.parse_terms`).

    Only the rewards the spec names are built, so a spec without judge rewards needs no judge.

    Args:
        spec: ``"name=weight,..."`` with names of :data:`REWARDS` or of ``extra``.
        judge: The judge, for the rewards that need one.
        scorer: The log-probability scorer model, for the rewards that need one.
        extra: More rewards by name (the caller's own: ``agentgym score`` adds ``default`` and
            ``module:callable`` references); they take precedence over :data:`REWARDS`.

    Returns:
        The weighted sum, components in spec order.

    Raises:
        SpecError: For a malformed spec, an unknown name (with suggestions) or a reward that
            cannot be named.
        MissingRequirement: If a named reward needs a judge or a scorer that was not given.

    Examples:
        >>> reward_from_spec("f1, em=0")
        WeightedSum(f1=1, em=0)
        >>> try:
        ...     reward_from_spec("em,judge=0.5")
        ... except MissingRequirement as error:
        ...     print(error)
        reward 'judge' needs a judge
    """
    extra = dict(extra or {})
    names = {name for name, _ in parse_terms(spec)}
    available: dict[str, Reward] = {}
    for name in REWARDS:
        # Only the named ones are built; the others are listed so that a typo gets suggestions.
        available[name] = make_reward(name, judge=judge, scorer=scorer) if name in names else _unbuilt
    available.update(extra)
    return parse_spec(spec, available)


def _unbuilt(trajectory: Any, task: Any) -> RewardResult:  # pragma: no cover - never called
    raise RuntimeError("a reward the spec does not name was called")


# ---- builders of the entries that combine rewards ------------------------------------------------


def _step_checks() -> Reward:
    from agentgym.rewards.process import StepChecks, evidence_hit, valid_tool_call

    return StepChecks(valid_tool_call, evidence_hit)


def _relevance_steps(judge: Judge) -> Reward:
    from agentgym.rewards.outcome import ExactMatch
    from agentgym.rewards.process import RelevanceScaledSteps

    return RelevanceScaledSteps(ExactMatch(), judge=judge)


def _par() -> Reward:
    from agentgym.rewards.compose import PreferenceAsReward
    from agentgym.rewards.outcome import ExactMatch

    return PreferenceAsReward(ExactMatch())


def _lsc() -> Reward:
    from agentgym.rewards.compose import LogSigmoidConjunction, lsc_reference
    from agentgym.rewards.outcome import ExactMatch

    return LogSigmoidConjunction([("em", ExactMatch(), _metadata_lsc_reference(lsc_reference))])


def _metadata_lsc_reference(lsc_reference: Callable[..., float]) -> Callable[[Any], float]:
    def reference(task: Any) -> float:
        rewards = task.metadata.get("reference_rewards") if isinstance(task.metadata, Mapping) else None
        if not rewards:
            raise ValueError(f"task {task.id!r} has no metadata['reference_rewards'] for the LSC reference")
        return lsc_reference([float(value) for value in rewards])

    return reference
