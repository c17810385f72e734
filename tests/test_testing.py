"""The conformance suite passes a good env and catches each class of broken env."""

from __future__ import annotations

import re
import time

import pytest
import toy_envs
from toy_envs import (
    BadObservationEnv,
    CapitalsEnv,
    EndlessEnv,
    FileLeakingEnv,
    HugeIntEnv,
    LongRunSleepEnv,
    NondeterministicEnv,
    RaisingEnv,
    RecordDroppingEnv,
    SlowCallsEnv,
    SurrogateCrashEnv,
    ThreadLeakingEnv,
    WrongOracleEnv,
)

from agentgym import testing
from agentgym.testing import ConformanceError, EnvConformance


class TestCapitalsConforms(EnvConformance):
    """The reusable mixin, used exactly as an env author would."""

    def make_env(self):
        return CapitalsEnv(max_turns=6)


class TestCapitalsConformsThroughGymnasiumMake(EnvConformance):
    """Wrapped by gymnasium.make (order enforcing, time limit, passive checker)."""

    def make_env(self):
        import gymnasium

        return gymnasium.make("toy/Capitals-v0")


@pytest.mark.parametrize("tool_format", ["json", "python", "react"])
def test_other_tool_formats_conform(tool_format):
    results = testing.run_checks(lambda: CapitalsEnv(tool_format=tool_format, max_turns=6))
    assert [(r.name, r.passed, r.message) for r in results if not r.passed] == []


def test_nondeterministic_reset_is_caught():
    with pytest.raises(ConformanceError, match="not deterministic"):
        testing.check_determinism(NondeterministicEnv)


def test_raising_on_garbage_is_caught():
    with pytest.raises(ConformanceError, match=r"raised KeyError"):
        testing.check_garbage(RaisingEnv)


def test_leaked_thread_is_caught():
    try:
        with pytest.raises(ConformanceError, match="thread 'leaky-worker'"):
            testing.check_close(ThreadLeakingEnv, settle_seconds=0.5)
    finally:
        ThreadLeakingEnv.release.set()


def test_leaked_file_is_caught():
    with pytest.raises(ConformanceError, match="open files"):
        testing.check_close(FileLeakingEnv, settle_seconds=0.2)


def test_an_episode_that_never_ends_is_caught():
    with pytest.raises(ConformanceError, match="did not end within max_turns"):
        testing.check_termination(lambda: EndlessEnv(max_turns=3))


def test_an_observation_outside_the_space_is_caught():
    with pytest.raises(ConformanceError, match="gymnasium check_env"):
        testing.check_gymnasium(BadObservationEnv)


def test_a_failing_oracle_is_caught():
    with pytest.raises(ConformanceError, match=r"the oracle failed \d+ of \d+ tasks"):
        testing.check_oracle(WrongOracleEnv)


def test_run_checks_reports_every_check_without_stopping():
    results = {r.name: r for r in testing.run_checks(RaisingEnv)}
    assert set(results) == set(testing.CHECKS)
    assert results["garbage"].passed is False and "KeyError" in results["garbage"].message
    assert results["gymnasium"].passed is True


def test_an_env_without_an_oracle_reports_not_run():
    class NoOracle(CapitalsEnv):
        oracle_action = None

    results = {r.name: r for r in testing.run_checks(NoOracle)}
    assert results["oracle"].passed is None and "no oracle_action" in results["oracle"].message


def test_garbage_includes_the_hostile_classes_the_design_names():
    actions = testing.garbage_actions(CapitalsEnv())
    strings = [a for a in actions if isinstance(a, str)]
    assert "" in strings
    assert any(len(a) >= 1 << 20 for a in strings)  # a megabyte
    assert any("no_such_tool" in a for a in strings)  # unknown tools
    assert any("Ignore all previous instructions" in a for a in strings)  # injection-looking text
    assert any(not a.isascii() for a in strings)  # random unicode
    assert any(isinstance(a, dict) for a in actions)  # malformed message dicts
    assert toy_envs.CAPITALS  # keep the import honest


# ---- hostile inputs -----------------------------------------------------------------------------


def test_hostile_actions_cover_every_argument_of_every_tool_in_every_format():
    env = HugeIntEnv(tool_format="python")
    actions = list(testing.hostile_actions(env, ["huge-int"]))
    places = {(a.tool, a.argument, a.format) for a in actions}
    for tool, argument in [("lookup", "country"), ("answer", "text"), ("page", "number")]:
        for fmt in ["python", "openai", "openai (structured)"]:
            assert (tool, argument, fmt) in places
    assert (None, None, "text") in places  # free text and the <answer> block
    assert any("<answer>" in a.action for a in actions if isinstance(a.action, str))


def test_hostile_payloads_reach_the_tools_as_written():
    env = CapitalsEnv()
    by_name = {(a.name, a.format): a.action for a in testing.hostile_actions(env, ["invalid-unicode"]) if a.tool}
    escaped = by_name[("lone high surrogate (JSON escape)", "hermes")]
    assert escaped.isascii() and "\\ud800" in escaped  # plain ASCII that decodes to a surrogate
    assert "\ud800" in by_name[("lone high surrogate (raw)", "hermes")]
    structured = by_name[("lone high surrogate (raw)", "openai (structured)")]
    assert "a\ud800b" in structured["tool_calls"][0]["function"]["arguments"].values()
    huge = next(a for a in testing.hostile_actions(env, ["huge-int"]) if a.format == "hermes")
    assert "1" + "0" * 4999 in huge.action
    json_env = CapitalsEnv(tool_format="json")
    deep = next(a for a in testing.hostile_actions(json_env, ["deep-json"]) if a.format == "json")
    assert "[" * 10_000 in deep.action
    runs = [a for a in testing.hostile_actions(env, ["long-run"]) if a.format == "text"]
    assert {len(a.action) >= 150_000 for a in runs} == {True}
    many = next(a for a in testing.hostile_actions(env, ["many-calls"]) if a.format == "hermes")
    assert many.action.count("<tool_call>") == 500


def test_a_sample_is_seeded_and_covers_every_class():
    env = CapitalsEnv()
    first = [a.describe() for a in testing.hostile_actions(env, per_class=3, seed=5)]
    assert first == [a.describe() for a in testing.hostile_actions(env, per_class=3, seed=5)]
    assert {a.split("]")[0][1:] for a in first} == set(testing.HOSTILE_CLASSES)


def test_an_unknown_hostile_class_is_refused():
    with pytest.raises(ValueError, match="unknown hostile class 'nope'"):
        list(testing.hostile_actions(CapitalsEnv(), ["nope"]))


@pytest.mark.parametrize("tool_format", ["hermes", "json", "python", "react"])
def test_a_clean_env_survives_every_hostile_action(tool_format):
    testing.check_hostile(lambda: CapitalsEnv(tool_format=tool_format, max_turns=6), per_class=None)


def test_a_crash_on_a_surrogate_is_caught_and_named():
    with pytest.raises(ConformanceError) as caught:
        testing.check_hostile(SurrogateCrashEnv, ["invalid-unicode"], per_class=None)
    message = str(caught.value)
    assert re.search(
        r"\[invalid-unicode\] lone high surrogate \(JSON escape\) \(tool 'lookup', argument 'country', hermes "
        r"format\): step raised UnicodeEncodeError: .* at .*toy_envs.py:\d+ \(step took \d+\.\d\d s\)",
        message,
    ), message


def test_a_stall_on_a_long_run_is_caught_with_its_seconds():
    with pytest.raises(ConformanceError) as caught:
        testing.check_hostile(SlowLongRun, ["long-run"], per_class=None, time_bound=0.2, max_failures=1)
    message = str(caught.value)
    assert re.search(
        r"\[long-run\] 150,000 \w[\w ]* \(tool 'lookup', argument 'country', \w+ format\): the step took longer "
        r"than the 0.2 s bound \(step took 0.[3-9]\d s\)",
        message,
    ), message
    assert "(stopped there)" in message


def test_a_raise_on_a_huge_integer_is_caught():
    with pytest.raises(ConformanceError, match=r"\[huge-int\] .*step raised ValueError"):
        testing.check_hostile(HugeIntEnv, ["huge-int"], per_class=None)


def test_a_broken_trajectory_is_caught():
    with pytest.raises(ConformanceError, match=r"\[long-run\] .*assistant message\(s\) but \d+ step\(s\)"):
        testing.check_hostile(RecordDroppingEnv, ["long-run"], per_class=4)


def test_many_slow_calls_in_one_completion_are_caught():
    with pytest.raises(ConformanceError, match=r"\[many-calls\] 500 calls in one completion \(tool 'lookup'.*bound"):
        testing.check_hostile(SlowCallsEnv, ["many-calls"], time_bound=0.5, max_failures=1)


def test_the_time_bound_applies_to_garbage_too():
    with pytest.raises(ConformanceError, match=r"over the 0.05 s bound"):
        testing.check_garbage(SlowLongRun, time_bound=0.05)


def test_run_checks_includes_the_hostile_check():
    results = {r.name: r for r in testing.run_checks(SurrogateCrashEnv, checks={"hostile": testing.check_hostile})}
    assert results["hostile"].passed is False and "UnicodeEncodeError" in results["hostile"].message


class SlowLongRun(LongRunSleepEnv):
    """The stalling env with a stall longer than the tests' bounds."""

    stall_seconds = 0.35


def test_a_hanging_step_is_interrupted_and_the_check_goes_on():
    class Hanging(LongRunSleepEnv):
        stall_seconds = 60

    started = time.perf_counter()
    with pytest.raises(ConformanceError) as caught:
        testing.check_hostile(Hanging, ["long-run"], per_class=3, time_bound=0.1, interrupt_after=0.5, seed=1)
    assert time.perf_counter() - started < 10
    assert "did not return within 0.5 s and was interrupted" in str(caught.value)
