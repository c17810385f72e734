"""The policy runner: batched multi-turn rollouts of a policy on an env, locally or sharded over Ray.

- :class:`Runner` (:mod:`agentgym.runner.local`): N episodes in flight, one batched policy call per
  turn, envs stepped in parallel, finished slots refilled, trajectories streamed to JSONL.
- :class:`RayRunner` (:mod:`agentgym.runner.ray`): the same plan sharded over Ray workers.
- ``agentgym rollout`` (:mod:`agentgym.cli.rollout`): both from the command line.
"""

from agentgym.runner.local import Episode, Progress, Runner, RunStats, draw_tasks, plan_episodes

__all__ = ["Episode", "Progress", "RunStats", "Runner", "draw_tasks", "plan_episodes"]
