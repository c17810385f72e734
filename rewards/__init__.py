"""Rewards for agent trajectories: ``reward(trajectory, task) -> RewardResult``.

Modules, one family each: :mod:`.outcome` (exact match, F1, Search-R1 format, numeric),
:mod:`.judge` (LLM-judge outcome with a content-free guard), :mod:`.citation` (CaRR and C-GRPO),
:mod:`.info_gain` (IGPO, A²TGPO, InfoPO, entropy reduction) with :mod:`.scorer` (log-probabilities
from a transformers model), :mod:`.process` (step checks, R3-RAG, implicit PRM, judge steps, CM2),
:mod:`.toolrl`, :mod:`.sql`, :mod:`.webshop`, :mod:`.miniwob` (task-specific),
:mod:`.compose` (weighted sums, gates, LSC, PAR, spec strings), :mod:`.shaping` (potential-based),
:mod:`.credit` (group advantages) and :mod:`.adapters` (TRL and verl). :mod:`.registry` names every
reward a spec string may use, with its kind.
"""

from agentgym.rewards.base import Judge, Reward, RewardResult, final_answer, final_response, score_batch

__all__ = ["Judge", "Reward", "RewardResult", "final_answer", "final_response", "score_batch"]
