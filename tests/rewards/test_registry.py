"""The named-reward registry: every reward of the library is reachable by name, from a spec and from the CLI.

The judge is a fixed function (an LLM judge cannot run here); the scorer of the information-gain
rewards is a real transformers model (the suite's tiny seeded Llama on SmolLM2's vocabulary).
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import math
import pkgutil
from dataclasses import replace
from pathlib import Path

import gymnasium
import pytest
import toy_envs  # noqa: F401  (registers toy/Capitals-v0)

import agentgym.rewards
from agentgym.cli import score as score_command
from agentgym.rewards.base import Reward
from agentgym.rewards.compose import SpecError, WeightedSum, parse_terms
from agentgym.rewards.registry import KINDS, REWARDS, MissingRequirement, kind_of, make_reward, reward_from_spec
from agentgym.scoring import ScoreError, Scorer, parse_reward
from agentgym.trajectory import write_trajectories

#: Names whose reward reads data the toy tasks lack, and the phrase of the error that says so.
NEEDS_TASK_DATA = {
    "entropy_reduction": "candidates",
    "par": "reference_rewards",
    "lsc": "reference_rewards",
}


def judge(prompt: str) -> str:
    """A fixed judge: says yes, scores 1, and finds everything relevant."""
    return 'Relevance: 1\nScore: 1\n{"answer": true}\nyes'


def oracle_episode():
    """A real toy/Capitals-v0 episode played by its oracle, and its task."""
    env = gymnasium.make("toy/Capitals-v0")
    env.reset(options={"task_id": "capital-peru"})
    done = False
    while not done:
        *_, terminated, truncated, _ = env.step(env.unwrapped.oracle_action())
        done = terminated or truncated
    trajectory, task = env.unwrapped.trajectory, env.unwrapped.task
    env.close()
    return trajectory, task


@pytest.fixture(scope="module")
def episode():
    """The oracle episode, with the data every named reward may read added to it and its task."""
    trajectory, task = oracle_episode()
    for step in trajectory.steps:
        step.logprobs = [-0.5, -0.25]
        step.info["ref_logprobs"] = [-1.0, -0.5]
    trajectory.steps[0].info["candidates"] = ["Lima", "Cusco"]
    gold = {
        **task.gold,
        "candidates": ["Lima", "Cusco", "Quito", "Bogota"],
        "checklist": [[{"question": "Did the agent answer Lima?"}]],
        "evidence": ["The capital of Peru is Lima."],
    }
    task = replace(task, gold=gold, metadata={"reference_rewards": [0.0, 0.5, 0.5]})
    return trajectory, task


@pytest.fixture(scope="module")
def scorer(tiny_model, smollm2_tokenizer):
    from agentgym.rewards.scorer import HFScorer

    return HFScorer(tiny_model, smollm2_tokenizer)


def score_cli(*argv: str) -> int:
    """Run `agentgym score ARGV` through the subcommand's own parser."""
    parser = argparse.ArgumentParser(prog="agentgym")
    score_command.register(parser.add_subparsers(required=True))
    args = parser.parse_args(["score", *argv])
    return args.run(args)


# ---- the registry --------------------------------------------------------------------------------


def test_every_entry_declares_a_known_kind_and_the_kind_is_read_by_name():
    assert {entry.kind for entry in REWARDS.values()} <= set(KINDS)
    assert (kind_of("em"), kind_of("format"), kind_of("citation"), kind_of("step_checks")) == (
        "outcome",
        "format",
        "citation",
        "process",
    )
    assert (kind_of("igpo"), kind_of("par"), kind_of("default"), kind_of("mine.py")) == (
        "info-gain",
        "shaping",
        "env",
        "other",
    )


def test_every_reward_class_of_the_library_has_a_name():
    """A reward class added to rewards/ without a registry entry fails here (WeightedSum is the spec itself)."""
    named = set()
    for name, entry in REWARDS.items():
        if entry.unavailable is not None:
            module, _, attr = entry.build.partition(":")
            named.add(getattr(importlib.import_module(module), attr))
        else:
            named.add(type(make_reward(name, judge=judge, scorer=object())))
    classes = set()
    for module_info in pkgutil.iter_modules(agentgym.rewards.__path__):
        module = importlib.import_module(f"agentgym.rewards.{module_info.name}")
        for attr, obj in vars(module).items():
            if attr.startswith("_") or not inspect.isclass(obj) or obj.__module__ != module.__name__:
                continue
            call = vars(obj).get("__call__")
            if call is not None and list(inspect.signature(call).parameters)[1:3] == ["trajectory", "task"]:
                classes.add(obj)
    assert classes - named == {WeightedSum, Reward}  # the spec itself, and the protocol
    assert {cls.__name__ for cls in classes} >= {"IGPOReward", "InfoPOReward", "PreferenceAsReward", "ImplicitPRM"}


@pytest.mark.parametrize("name", sorted(REWARDS))
def test_each_name_resolves_from_a_spec_and_scores_a_real_trajectory(name, episode, scorer):
    trajectory, task = episode
    entry = REWARDS[name]
    if entry.unavailable is not None:
        with pytest.raises(ScoreError, match=f"reward '{name}' cannot be named in a spec: .*--reward FILE.py"):
            parse_reward(f"{name}=1", judge)
        return
    reward = parse_reward(f"{name}=0.5", judge, scorer)
    result = reward(trajectory, task)
    assert math.isfinite(result.value) and result.value == 0.5 * result.details[name]
    if result.per_step is not None:
        assert len(result.per_step) == len(trajectory.steps)


def test_named_rewards_score_what_their_formulas_say(episode):
    trajectory, task = episode
    values = {
        name: make_reward(name, judge=judge)(trajectory, task).value
        for name in ("em", "format", "step_checks", "par", "lsc", "entropy_reduction", "implicit_prm")
    }
    assert values["em"] == values["format"] == 1.0
    assert values["step_checks"] == 3.0  # 2 valid steps + 1 step whose observation holds the gold evidence
    assert values["par"] == pytest.approx(sum(1 / (1 + math.exp(-(1.0 - r))) for r in (0.0, 0.5, 0.5)) / 3)
    assert values["lsc"] < 0  # log sigmoid of em minus a quantile of the reference rewards
    assert values["entropy_reduction"] == 1.0  # 4 candidates, then 2: one bit
    assert values["implicit_prm"] == pytest.approx(0.05 * 0.75)  # beta * sum(log pi - log pi_ref), min over steps


@pytest.mark.parametrize(("name", "requirement"), [("judge", "judge"), ("checklist", "judge"), ("igpo", "scorer")])
def test_a_reward_missing_its_requirement_says_what_it_needs(name, requirement):
    with pytest.raises(MissingRequirement, match=f"reward '{name}' needs a {requirement}") as caught:
        reward_from_spec(f"em,{name}=0.5")
    assert caught.value.requirement == requirement
    with pytest.raises(ScoreError, match="needs a scorer .*agentgym score has no option for it"):
        Scorer("infopo")


def test_unknown_names_get_suggestions():
    with pytest.raises(SpecError, match="unknown reward 'ipgo'. Did you mean 'igpo'"):
        make_reward("ipgo")
    with pytest.raises(SpecError, match="unknown reward 'entorpy_reduction' in .* Did you mean 'entropy_reduction'"):
        reward_from_spec("em,entorpy_reduction=1")


def test_one_grammar_for_specs():
    """scoring.parse_reward and compose.parse_spec read the same terms, with the same errors."""
    assert parse_terms(" em = 1 , f1 ") == [("em", 1.0), ("f1", 1.0)]
    for bad in ("em,,f1", "em=nan", "em,em"):
        with pytest.raises(SpecError) as grammar:
            parse_terms(bad)
        with pytest.raises(ScoreError) as scoring:
            parse_reward(bad)
        assert str(grammar.value) == str(scoring.value)


# ---- agentgym score --reward NAME ----------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(REWARDS))
def test_each_name_is_reachable_from_agentgym_score(name, tmp_path, capsys):
    trajectory, _ = oracle_episode()
    path = tmp_path / "runs.jsonl"
    write_trajectories(path, [trajectory])
    (tmp_path / "fixed_judge.py").write_text(f"def judge(prompt):\n    return {judge('')!r}\n")
    code = score_cli(str(path), "--reward", name, "--judge", f"{tmp_path / 'fixed_judge.py'}:judge")
    err = capsys.readouterr().err
    entry = REWARDS[name]
    if entry.unavailable is not None:
        assert code == 2 and f"reward '{name}' cannot be named in a spec" in err
    elif "scorer" in entry.needs:
        assert code == 2 and f"reward '{name}' needs a scorer" in err and "--reward FILE.py" in err
    elif name in NEEDS_TASK_DATA:  # the toy task lacks the data: the reward says which
        assert code == 1 and "the reward failed on task 'capital-peru'" in err and NEEDS_TASK_DATA[name] in err
    else:
        assert code == 0, err


def test_rewards_cite_papers_and_code_not_notes_the_project_lacks():
    for path in Path(agentgym.rewards.__path__[0]).glob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert "rewards.md" not in text and "web-and-gui.md" not in text, path.name


def test_the_summary_reads_component_kinds_not_names():
    """Before, any component with "format" in its name counted as a format reward, and only fixed names as outcomes."""
    from agentgym.scoring import Scored, Summary

    def scored(components, kinds):
        return Scored("e", "t", 0.1, components, None, 1, 0, False, 1, kinds=kinds)

    summary = Summary()
    summary.add(scored({"bonus": 0.1, "correct": 0.0}, {"bonus": "format", "correct": "outcome"}))
    summary.add(scored({"my_format": 0.1, "em": 0.0}, {"em": "outcome"}))  # my_format is the user's: kind other
    summary.add(scored({"bonus": 0.1, "correct": 0.0, "found": 0.05}, {"bonus": "format", "correct": "outcome",
                                                                       "found": "process"}))
    assert summary.diagnostics()["format_without_evidence"]["count"] == 1
    with Scorer("em,search_r1_format=0") as scorer:
        trajectory, _ = oracle_episode()
        assert scorer.score(trajectory).kinds == {"em": "outcome", "search_r1_format": "format"}
    env = gymnasium.make("agentgym/DeepSearch-v0", corpus="fictional", n_entities=40)
    env.reset(seed=0)
    done = False
    while not done:
        *_, terminated, truncated, _ = env.step(env.unwrapped.oracle_action())
        done = terminated or truncated
    with Scorer() as scorer:  # the env's own reward: the kinds its reward declares
        assert scorer.score(env.unwrapped.trajectory).kinds == type(env.unwrapped.reward).kinds
    env.close()


def test_env_rewards_declare_the_kinds_of_their_components():
    from agentgym.envs.deepsearch.reward import DeepSearchReward
    from agentgym.envs.text2sql.reward import DEFAULT_WEIGHTS, TextToSQLReward

    assert set(DeepSearchReward.kinds) == {"outcome", "citation", "format", "evidence"}
    assert set(TextToSQLReward.kinds) == {*DEFAULT_WEIGHTS, "process"}
    assert set(DeepSearchReward.kinds.values()) | set(TextToSQLReward.kinds.values()) <= set(KINDS)
