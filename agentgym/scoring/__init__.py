"""Offline scoring of saved trajectories: the library behind ``agentgym score``.

For each trajectory, the env it was played in is rebuilt once per distinct ``(env_id, env_kwargs)``
(``gymnasium.make``), its task is looked up by ``task_id`` and a reward is applied: the env's own
(``env.unwrapped.reward``, the reward recorded at rollout) or one given by a spec string::

    from agentgym.scoring import Scorer, Summary, score_files

    scorer = Scorer("em=1,citation=0.3")            # or Scorer() for the env's own reward
    summary = Summary()
    for item in score_files(["runs/a.jsonl"], scorer):
        summary.add(item)                            # a Scored, or the TrajectoryError of a bad line
    print(summary.render())

Rewards (:data:`agentgym.rewards.registry.REWARDS`, ``agentgym score --list-rewards``) are named in a
spec as ``name=weight,...`` (:func:`agentgym.rewards.compose.parse_terms`; weight 0 computes and reports a
component without adding it). A spec term may also name a reward of your own: ``module:callable``,
``path/to/file.py`` (its ``reward``) or ``path/to/file.py:callable``; a class is instantiated with no
arguments, and a reward that returns a plain number is accepted.

The score of a trajectory under the env's own reward is computed exactly as the env computed the
reward it recorded (per-step components summed in the same order), so it equals the recorded
``rewards.total`` bit for bit as long as the env and its reward have not changed.

Input is streamed in chunks of lines: memory does not grow with the number of lines, only with the
number of distinct tasks (the zero-variance diagnostic keeps a count, minimum and maximum per task)
and of distinct envs. ``workers > 1`` scores chunks in worker processes.

The parts: :mod:`.specs` (specs: the env's own reward, rewards of your own), :mod:`.scorer` (one trajectory at a time),
:mod:`.files` (reading files, worker processes) and :mod:`.summary` (statistics and diagnostics);
``agentgym score`` is :mod:`agentgym.cli.score`.
"""

from agentgym.rewards.registry import REWARDS
from agentgym.scoring.files import score_files
from agentgym.scoring.scorer import Scored, Scorer
from agentgym.scoring.specs import ScoreError, load_object, parse_reward
from agentgym.scoring.summary import LOOP_LENGTH, Stats, Summary

__all__ = [
    "LOOP_LENGTH",
    "REWARDS",
    "ScoreError",
    "Scored",
    "Scorer",
    "Stats",
    "Summary",
    "load_object",
    "parse_reward",
    "score_files",
]
