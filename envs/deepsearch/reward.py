"""The DeepSearch reward: outcome, citation rubric (CaRR, C-GRPO style), format and evidence found.

It reads the trajectory alone (the final ``answer`` call and the observations), so ``agentgym score``
rescores saved DeepSearch episodes with it exactly as they were rewarded at rollout.
"""

from __future__ import annotations

from typing import Any

from agentgym.core import Task
from agentgym.rewards.base import RewardResult, final_answer, final_response
from agentgym.rewards.citation import CitationRubric, extract_citations, normalize_text
from agentgym.rewards.outcome import exact_match, f1_score, gold_answers
from agentgym.trajectory import Trajectory

__all__ = ["DeepSearchReward"]



class DeepSearchReward:
    """The DeepSearch reward: outcome + citation rubric (C-GRPO, only-positive) + format + evidence.

    Per episode, on its last step (``R_out`` is exact match, or token F1 with ``outcome="f1"``;
    ``R_rubric`` is :class:`~agentgym.rewards.citation.CitationRubric`'s rule-based value):

    * ``outcome`` = ``(1 - alpha) * R_out``
    * ``citation`` = ``alpha * R_rubric`` when ``R_out > 0``, else 0. With ``outcome`` this is
      C-GRPO's shipped code path (``only_positive``; its group normalization is not used there, so
      the per-trajectory value is exact; apply :func:`~agentgym.rewards.citation.c_grpo_rewards`
      on groups for the other variants).
    * ``format`` = ``format_score`` when the answer is wrong but was given with at least one
      ``[n](url)`` citation (Search-R1's format credit for a well-formed wrong answer), else 0.

    Per step: ``evidence`` = ``evidence_weight`` × (the fraction of the task's gold evidence
    sentences that first appear in this step's observation). Range of the return:
    ``[0, 1 + evidence_weight]``; an oracle earns exactly ``1 + evidence_weight``.

    Args:
        alpha: The rubric's weight (CaRR's ``rubric_reward_ratio``; 0.3 as shipped).
        outcome: ``"em"`` (exact match, Search-R1 normalization) or ``"f1"``.
        format_score: Credit for a well-formed wrong answer.
        evidence_weight: Total process reward for finding every gold evidence sentence.

    Examples:
        >>> from agentgym.trajectory import Step, Trajectory
        >>> task = Task("t", "Capital of Peru?", gold={"answer": "Lima", "entities": {"E0": ["Lima"]},
        ...     "rubrics": [{"text": "<E0> is the capital of Peru.", "evidence_url": "factbook://peru/government",
        ...                  "evidence": "Capital - name: Lima"}]})
        >>> final = {"name": "answer", "arguments": {"answer": "Lima", "report": ""}}
        >>> episode = Trajectory("e", "t", steps=[Step("...", info={"final": final})], terminated=True)
        >>> DeepSearchReward()(episode, task).value
        0.7
    """

    #: What each component measures (see :data:`agentgym.rewards.registry.KINDS`).
    kinds = {"outcome": "outcome", "citation": "citation", "format": "format", "evidence": "process"}

    def __init__(
        self, alpha: float = 0.3, outcome: str = "em", format_score: float = 0.1, evidence_weight: float = 0.1
    ):
        if outcome not in ("em", "f1"):
            raise ValueError(f"outcome must be 'em' or 'f1', got {outcome!r}")
        self.alpha = alpha
        self.outcome = outcome
        self.format_score = format_score
        self.evidence_weight = evidence_weight
        self.rubric = CitationRubric(identify="rule", support="rule")

    def __call__(self, trajectory: Trajectory, task: Task) -> RewardResult:
        """Score one episode: ``value`` is the return, ``details["steps"]`` the components per step."""
        evidence = [normalize_text(item["evidence"]) for item in task.gold.get("rubrics", ())]
        found: set[int] = set()
        steps = []
        for step in trajectory.steps:
            components = {}
            if self.evidence_weight and evidence and not step.invalid_action:
                observation = normalize_text(step.observation)
                new = {i for i, sentence in enumerate(evidence) if i not in found and sentence in observation}
                found |= new
                components["evidence"] = self.evidence_weight * len(new) / len(evidence)
            steps.append(components)
        details: dict[str, Any] = {}
        if steps and (trajectory.terminated or trajectory.truncated):
            final = self._final_components(trajectory, task, details)
            steps[-1].update(final)
        per_step = [float(sum(components.values())) for components in steps]
        details["steps"] = steps
        return RewardResult(float(sum(per_step)), per_step, details)

    def _final_components(self, trajectory: Trajectory, task: Task, details: dict[str, Any]) -> dict[str, float]:
        answer = final_answer(trajectory)
        golds = gold_answers(task)
        if answer is None:
            r_out = 0.0
        elif self.outcome == "em":
            r_out = exact_match(answer, golds)
        else:
            r_out = f1_score(answer, golds)
        has_rubrics = bool(task.gold.get("rubrics"))
        alpha = self.alpha if has_rubrics else 0.0  # no rubrics (e.g. HotpotQA): the outcome is everything
        r_rubric = self.rubric(trajectory, task).value if r_out > 0 and has_rubrics else 0.0
        response = final_response(trajectory) or ""
        well_formed = answer is not None and bool(extract_citations(response))
        details.update(answer=answer, outcome=r_out, rubric=r_rubric, well_formed=well_formed)
        return {
            "outcome": (1 - alpha) * r_out,
            "citation": alpha * r_rubric if r_out > 0 else 0.0,
            "format": self.format_score if r_out == 0 and well_formed else 0.0,
        }
