"""Garbage completions against every built-in env; prints a markdown table per env.

    python benchmarks/fuzz.py                                  # 10,000 completions, 2,000 episodes
    python benchmarks/fuzz.py --completions 300 --episodes 50  # a quick try

Steps each env with ``--completions`` garbage completions: the conformance suite's hostile-input
classes (:func:`agentgym.testing.hostile_actions`: invalid Unicode, huge integers, deep JSON, long
runs of backtracking-prone characters, many calls) and its garbage list, plus random ones: random
bytes decoded as text (lone surrogates included), random Unicode, random JSON, calls of random tool
names with random arguments, and mutated valid calls. It counts the steps that raised (crashes) and
those over the time bound, and the slowest step. Then it plays ``--episodes`` episodes of garbage
and reports the resident memory after a warm-up (the first tenth) and at the end. The target: zero
crashes, zero steps over the bound, growth under 10 %.
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import random
import time
from collections import Counter

import gymnasium as gym
from common import print_table, rss_mib

import agentgym  # noqa: F401  (registers the built-in envs)
from agentgym import testing
from agentgym.tools import ToolCall, format_call

ENV_IDS = ("agentgym/DeepSearch-v0", "agentgym/TextToSQL-v0")


def random_json(rng: random.Random, depth: int = 0):
    """A random JSON value, at most a few levels deep."""
    kind = rng.randrange(7 if depth < 3 else 4)
    if kind == 0:
        return rng.choice([None, True, False])
    if kind == 1:
        return rng.choice([0, -1, 2**31, 2**63, rng.randint(-(10**9), 10**9), 1e308, -0.0])
    if kind == 2:
        return random_text(rng, rng.randint(0, 40))
    if kind == 3:
        return rng.choice(["", " ", "null", "[]", "{}", "\\", '"'])
    if kind in (4, 5):
        return [random_json(rng, depth + 1) for _ in range(rng.randint(0, 5))]
    return {random_text(rng, rng.randint(0, 10)): random_json(rng, depth + 1) for _ in range(rng.randint(0, 5))}


def random_text(rng: random.Random, length: int) -> str:
    """Random code points: mostly printable ASCII, some anywhere in Unicode, a few lone surrogates."""
    chars = []
    for _ in range(length):
        roll = rng.random()
        if roll < 0.7:
            chars.append(chr(rng.randint(0x20, 0x7E)))
        elif roll < 0.97:
            chars.append(chr(rng.randint(0, 0x10FFFF)))
        else:
            chars.append(chr(rng.randint(0xD800, 0xDFFF)))
    return "".join(chars)


def random_bytes_text(rng: random.Random, length: int) -> str:
    """Random bytes decoded as UTF-8 with ``surrogateescape``: what a careless reader hands an env."""
    return rng.randbytes(length).decode("utf-8", errors="surrogateescape")


def mutate(rng: random.Random, text: str) -> str:
    """A few random edits: delete, insert, duplicate or swap a span, or cut the text short."""
    for _ in range(rng.randint(1, 4)):
        if not text:
            return random_text(rng, 5)
        i = rng.randrange(len(text))
        j = min(len(text), i + rng.randint(1, 20))
        edit = rng.randrange(5)
        if edit == 0:
            text = text[:i] + text[j:]
        elif edit == 1:
            text = text[:i] + rng.choice(['"', "{", "}", "[", "]", ",", ":", "\\", "<", ">", "\n", "\ud800"]) + text[i:]
        elif edit == 2:
            text = text[:j] + text[i:j] * rng.randint(2, 50) + text[j:]
        elif edit == 3:
            text = text[:i] + text[i:j][::-1] + text[j:]
        else:
            text = text[:i]
    return text


class Garbage:
    """Draws garbage completions for one env, from the fixed classes and the random generators."""

    def __init__(self, env: gym.Env, seed: int):
        self.rng = random.Random(seed)
        inner = env.unwrapped
        self.format = inner.tool_format
        self.names = list(inner.tools)
        self.parameters = {name: list(tool.parameters.get("properties", {})) for name, tool in inner.tools.items()}
        self.fixed = list(testing.hostile_actions(env, seed=seed)) + testing.garbage_actions(env, seed)
        self.valid = [a for a in testing.fuzzed_tool_calls(env, seed, per_tool=4) if isinstance(a, str)]
        self.sources = ["fixed", "bytes", "text", "json", "tool", "mutated"]

    def draw(self) -> tuple[str, object]:
        """One completion and the name of its source."""
        rng = self.rng
        source = rng.choice(self.sources)
        if source == "fixed":
            action = rng.choice(self.fixed)
            if isinstance(action, testing.HostileAction):
                return f"hostile: {action.hostile_class}", action.action
            return "garbage list", action
        if source == "bytes":
            return source, random_bytes_text(rng, rng.randint(0, 2000))
        if source == "text":
            return source, random_text(rng, rng.randint(0, 2000))
        if source == "json":
            return source, json.dumps(random_json(rng), ensure_ascii=rng.random() < 0.5)
        if source == "tool":
            name = rng.choice(self.names) if rng.random() < 0.7 else random_text(rng, rng.randint(0, 12))
            if name in self.parameters and rng.random() < 0.7:  # the tool's own argument names, random values
                arguments = {key: random_json(rng, 2) for key in self.parameters[name]}
            else:
                arguments = random_json(rng, 2)
                arguments = arguments if isinstance(arguments, dict) else {"x": arguments}
            try:
                return source, format_call(ToolCall(name, arguments), self.format)
            except ValueError:  # a name or key the format cannot write
                return source, f'<tool_call>{json.dumps({"name": name, "arguments": arguments})}</tool_call>'
        return source, mutate(rng, rng.choice(self.valid)) if self.valid else random_text(rng, 100)


def step(env: gym.Env, action, limit: float) -> tuple[str, float, bool]:
    """Step once under a deadline; return (what went wrong or "", seconds, whether the episode is over)."""
    started = time.perf_counter()
    try:
        with testing.deadline(limit):
            *_, terminated, truncated, _ = env.step(action)
    except testing.StepInterrupted:
        return "hung", time.perf_counter() - started, True
    except Exception as error:  # a crash is what the benchmark counts
        return type(error).__name__, time.perf_counter() - started, True
    return "", time.perf_counter() - started, terminated or truncated


def fuzz(env_id: str, completions: int, episodes: int, time_bound: float, seed: int) -> None:
    """Run both parts on one env and print its table."""
    limit = 2 * time_bound + 1  # a step still running then is interrupted (and the env rebuilt)
    env = gym.make(env_id)
    garbage = Garbage(env, seed)
    crashes: Counter[str] = Counter()
    over = hung = 0
    slowest, slowest_source = 0.0, ""
    env.reset(seed=seed)
    for _ in range(completions):
        source, action = garbage.draw()
        problem, seconds, done = step(env, action, limit)
        over += seconds > time_bound
        if problem == "hung":
            hung += 1
            env.close()
            env = gym.make(env_id)
        elif problem:
            crashes[f"{problem} ({source})"] += 1
        if seconds > slowest:
            slowest, slowest_source = seconds, source
        if done:
            env.reset()

    warm_up = max(1, episodes // 10)
    rss_warm = 0.0
    for episode in range(episodes):
        env.reset(seed=seed + episode)
        done = False
        while not done:
            problem, _, done = step(env, garbage.draw()[1], limit)  # counted above; here only memory matters
            if problem == "hung":
                env.close()
                env = gym.make(env_id)
        if episode + 1 == warm_up:
            gc.collect()
            rss_warm = rss_mib()
    gc.collect()
    rss_end = rss_mib()
    env.close()

    print(f"\n### {env_id}\n")
    print_table(
        [
            ("garbage completions", f"{completions:,}"),
            ("crashes (an exception out of step)", f"{sum(crashes.values()):,}"),
            (f"steps over the {time_bound:g} s bound", f"{over:,}"),
            (f"  of which hung (interrupted at {limit:g} s)", f"{hung:,}"),
            ("slowest step", f"{slowest * 1000:,.1f} ms ({slowest_source})"),
            (f"RSS after warm-up ({warm_up:,} episodes)", f"{rss_warm:,.0f} MiB"),
            (f"RSS after {episodes:,} episodes", f"{rss_end:,.0f} MiB"),
            ("growth after warm-up", f"{(rss_end - rss_warm) / rss_warm * 100:+.1f} %" if rss_warm else "n/a"),
        ],
        header=("measure", "value"),
    )
    for what, count in crashes.most_common(5):
        print(f"- crash: {what} x{count}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--envs", nargs="+", default=list(ENV_IDS), help="env ids to fuzz")
    parser.add_argument("--completions", type=int, default=10_000, help="garbage completions per env")
    parser.add_argument("--episodes", type=int, default=2_000, help="episodes for the memory measure")
    parser.add_argument("--time-bound", type=float, default=testing.DEFAULT_STEP_SECONDS, help="seconds per step")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    logging.disable(logging.ERROR)  # the envs log each malformed action they recover from
    for env_id in args.envs:
        fuzz(env_id, args.completions, args.episodes, args.time_bound, args.seed)


if __name__ == "__main__":
    main()
