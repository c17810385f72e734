"""The Ray runner: the local runner's plan, sharded over Ray workers (``pip install 'agentgym[ray]'``).

Each worker is a Ray actor holding its own :class:`~agentgym.runner.local.Runner` (its envs and
its policy, built once in the worker from the policy's name and arguments). The driver cuts the
plan into chunks of whole groups, keeps every worker busy with one chunk at a time, and yields
each chunk's trajectories as it comes back. Episode ``i`` resets with ``seed + i`` whichever
worker runs it, so a deterministic policy (the oracle) gives the same trajectories as a local run.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from typing import Any

from agentgym.policies import POLICIES, make_policy
from agentgym.runner.local import Episode, Runner, check_options
from agentgym.trajectory import Trajectory


class _Worker:
    """A Ray actor: one local runner."""

    def __init__(self, env_id: str, policy: str, policy_kwargs: dict[str, Any], options: dict[str, Any]) -> None:
        self.runner = Runner(env_id, make_policy(policy, **policy_kwargs), **options)

    def plan(self, n: int | None, task_ids: Sequence[str] | None) -> list[Episode]:
        return self.runner.plan(n, task_ids=task_ids)

    def run(self, chunk: list[Episode]) -> list[Trajectory]:
        return list(self.runner.episodes(chunk))

    def close(self) -> None:
        self.runner.close()


class RayRunner(Runner):
    """:class:`~agentgym.runner.local.Runner`'s interface, with the episodes run by Ray workers.

    Args:
        env_id: A registered env id.
        policy: A policy name (see :data:`agentgym.policies.POLICIES`); each worker builds its own.
        policy_kwargs: The policy's keyword arguments.
        workers: How many Ray actors.
        ray_init: Keyword arguments for ``ray.init`` when Ray is not initialised yet (default: a
            local cluster with a CPU per worker at least, no dashboard). Connect to an existing
            cluster by calling ``ray.init(address=...)`` first.
        **options: The local runner's options (``num_envs`` per worker, ``group_size``,
            ``max_turns``, ``env_kwargs``, ``seed``...).

    Raises:
        ImportError: If Ray is not installed.
    """

    def __init__(
        self,
        env_id: str,
        policy: str,
        policy_kwargs: dict[str, Any] | None = None,
        *,
        workers: int = 2,
        ray_init: dict[str, Any] | None = None,
        **options: Any,
    ) -> None:
        try:
            import ray
        except ImportError:
            raise ImportError("the ray backend needs Ray: pip install 'agentgym[ray]'") from None
        if workers < 1:
            raise ValueError(f"workers must be at least 1, got {workers}")
        if policy not in POLICIES:
            raise ValueError(f"unknown policy {policy!r}; choose one of {', '.join(POLICIES)}")
        check_options(**options)
        if not ray.is_initialized():
            defaults = {"num_cpus": max(workers, os.cpu_count() or 1), "include_dashboard": False}
            ray.init(**{**defaults, **(ray_init or {})})
        self._ray = ray
        self.env_id = env_id
        self.group_size = options.get("group_size", 1)
        self.num_envs = options.get("num_envs", 8)
        self.seed = options.get("seed", 0)
        self.policy_seconds = 0.0  # spent in the workers; not gathered here
        actor = ray.remote(_Worker)
        self._workers = [actor.remote(env_id, policy, dict(policy_kwargs or {}), options) for _ in range(workers)]
        # The first worker's runner checks the options; its errors surface here, not mid-run.
        self._call(self._workers[0].plan.remote(0, []))

    def _call(self, ref: Any) -> Any:
        try:
            return self._ray.get(ref)
        except self._ray.exceptions.RayTaskError as error:
            raise error.as_instanceof_cause() from None
        except self._ray.exceptions.ActorDiedError as error:  # e.g. the worker could not load the policy
            raise RuntimeError(f"a Ray worker could not start: {error}") from None

    def plan(self, n: int | None = None, *, task_ids: Sequence[str] | None = None) -> list[Episode]:
        """The same plan as the local runner's (drawn by a worker from the env's task set)."""
        return self._call(self._workers[0].plan.remote(n, None if task_ids is None else list(task_ids)))

    def episodes(self, plan: Sequence[Episode]) -> Iterator[Trajectory]:
        """Run ``plan`` on the workers; yield trajectories chunk by chunk as they come back."""
        # Chunks of whole groups, about one worker batch each, so groups stay on one worker.
        size = max(self.num_envs // self.group_size, 1) * self.group_size
        chunks = [list(plan[start : start + size]) for start in range(0, len(plan), size)]
        chunks.reverse()  # popped from the end: in plan order
        running: dict[Any, Any] = {}
        idle = list(self._workers)
        while chunks or running:
            while chunks and idle:
                worker = idle.pop()
                running[worker.run.remote(chunks.pop())] = worker
            [done], _ = self._ray.wait(list(running), num_returns=1)
            idle.append(running.pop(done))
            yield from self._call(done)

    def close(self) -> None:
        """Close the workers' envs and stop the actors."""
        for worker in getattr(self, "_workers", []):
            try:
                self._ray.get(worker.close.remote())
            finally:
                self._ray.kill(worker)
        self._workers = []
