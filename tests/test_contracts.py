"""Declared contracts on AgentEnv (oracle_action, end_step) and one sum of reward components."""

from __future__ import annotations

import gymnasium
import pytest
import toy_envs  # noqa: F401  (registers toy/Capitals-v0)
from toy_envs import CapitalsEnv

from agentgym.core import AgentEnv
from agentgym.envs.text2sql.env import TextToSQLEnv
from agentgym.rewards.base import RewardResult
from agentgym.testing import CHECKS, run_checks
from agentgym.trajectory import Rewards


def test_oracle_action_is_declared_on_agent_env():
    assert not AgentEnv.has_oracle() and CapitalsEnv.has_oracle()

    class NoOracle(CapitalsEnv):
        oracle_action = None

    assert not NoOracle.has_oracle()
    env = gymnasium.make("toy/Capitals-v0").unwrapped

    class Plain(AgentEnv):
        pass

    with pytest.raises(NotImplementedError, match="Plain defines no oracle_action"):
        Plain(env.all_tasks).oracle_action()
    (result,) = run_checks(NoOracle, checks={"oracle": CHECKS["oracle"]})
    assert result.passed is None and "no oracle_action" in result.message


class Recording(CapitalsEnv):
    """Records the order of the end-of-step hook and the reward, and what the reward saw."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.calls: list[str] = []
        self.reward = self._reward

    def end_step(self, step, done):
        self.calls.append("end_step")
        step.info["seen_by_hook"] = len(self.trajectory.steps)

    def _reward(self, trajectory, task):
        self.calls.append("reward")
        return RewardResult(float(trajectory.steps[-1].info["seen_by_hook"]))

    step_reward = AgentEnv.step_reward  # the default: applies self.reward


def test_end_step_runs_before_the_reward_and_can_record_what_it_reads():
    env = Recording()
    env.reset(options={"task_id": "capital-peru"})
    env.step(env.oracle_action())
    _, reward, terminated, _, _ = env.step(env.oracle_action())
    assert env.calls == ["end_step", "reward", "end_step", "reward"]
    assert terminated and reward == 2.0 and env.trajectory.steps[-1].info["seen_by_hook"] == 2


def test_text_to_sql_keeps_its_bookkeeping_in_the_hook_not_in_the_reward():
    assert "end_step" in vars(TextToSQLEnv) and "step_reward" not in vars(TextToSQLEnv)


def test_recorded_rewards_are_the_one_sum_of_components():
    env = gymnasium.make("toy/Capitals-v0")
    env.reset(options={"task_id": "capital-peru"})
    done = False
    while not done:
        *_, terminated, truncated, _ = env.step(env.unwrapped.oracle_action())
        done = terminated or truncated
    trajectory = env.unwrapped.trajectory
    summed = Rewards.from_steps(step.reward_components for step in trajectory.steps)
    assert vars(trajectory.rewards) == vars(summed) == {"total": 1.1, "components": {"process": 0.1, "outcome": 1.0},
                                                        "per_step": [0.1, 1.0]}
    assert [step.reward for step in trajectory.steps] == trajectory.rewards.per_step
