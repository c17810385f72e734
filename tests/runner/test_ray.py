"""The Ray runner on a local Ray cluster: the oracle's trajectories match the local runner's."""

from __future__ import annotations

import pytest

import agentgym  # noqa: F401  (registers the agentgym envs)
from agentgym.policies.oracle import OraclePolicy
from agentgym.runner import Runner

ray = pytest.importorskip("ray", reason="the ray extra is part of the CI install; this skip is for minimal installs")


def comparable(trajectory):
    """What a rerun must reproduce (timings and timestamps differ by nature)."""
    return (
        trajectory.task_id,
        trajectory.seed,
        trajectory.messages,
        [(step.action, step.observation, step.reward, step.reward_components) for step in trajectory.steps],
        trajectory.rewards,
        trajectory.terminated,
        trajectory.policy,
    )


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def test_ray_shards_give_the_local_runners_trajectories(local_ray, tmp_path):
    from agentgym.runner.ray import RayRunner

    options = dict(num_envs=3, group_size=2, seed=11, env_kwargs={"split": "dev"})
    with Runner("agentgym/TextToSQL-v0", OraclePolicy(), **options) as runner:
        local = list(runner.episodes(runner.plan(n=16)))
    with RayRunner("agentgym/TextToSQL-v0", "oracle", workers=2, **options) as runner:
        stats = runner.run(n=16, output=tmp_path / "ray.jsonl")
        plan = runner.plan(n=16)
    from agentgym.trajectory import read_trajectories

    sharded = list(read_trajectories(tmp_path / "ray.jsonl"))
    assert stats.episodes == 16 and not stats.errors
    assert sorted(map(comparable, sharded), key=repr) == sorted(map(comparable, local), key=repr)
    assert sorted(t.seed for t in sharded) == [11 + e.index for e in plan]


def test_ray_runner_reports_bad_options_at_construction(local_ray):
    from agentgym.runner.ray import RayRunner

    with pytest.raises(ValueError, match="num_envs"):
        RayRunner("agentgym/TextToSQL-v0", "oracle", workers=1, num_envs=0)
    with pytest.raises(ValueError, match="unknown policy"):
        RayRunner("agentgym/TextToSQL-v0", "gpt", workers=1)
