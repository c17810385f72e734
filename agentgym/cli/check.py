"""``agentgym check``: run the conformance suite (:mod:`agentgym.testing`) on an environment."""

from __future__ import annotations

import argparse
import sys
from typing import Any

import gymnasium as gym

from agentgym import testing
from agentgym.cli.options import add_import, json_object, resolve_env


def register(subparsers: Any) -> None:
    """Add ``agentgym check``."""
    parser = subparsers.add_parser("check", help="run the conformance suite on an environment")
    parser.add_argument("env_id", help="a registered id, or MODULE:ID to import MODULE first")
    parser.add_argument(
        "--kwargs", type=json_object, default={}, help="JSON object of keyword arguments for gymnasium.make"
    )
    parser.add_argument("--only", nargs="+", choices=list(testing.CHECKS), help="run only these checks")
    parser.add_argument(
        "--step-seconds", type=float, default=testing.DEFAULT_STEP_SECONDS, metavar="S",
        help="most seconds one step may take in the garbage and hostile checks "
        f"(default {testing.DEFAULT_STEP_SECONDS:g})",
    )
    add_import(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Run the checks, print one PASS/FAIL line each; exit 1 if any failed, 2 on bad arguments."""
    kwargs = args.kwargs
    env_id = resolve_env(args.env_id, args.imports)
    if env_id is None:
        return 2
    try:
        gym.make(env_id, **kwargs).close()
    except Exception as error:
        print(f"error: cannot make {env_id!r} with {kwargs}: {type(error).__name__}: {error}", file=sys.stderr)
        return 2

    def make_env() -> gym.Env:
        return gym.make(env_id, **kwargs)

    checks = {name: testing.CHECKS[name] for name in (args.only or testing.CHECKS)}
    if not args.step_seconds > 0:
        print(f"error: --step-seconds must be positive, got {args.step_seconds}", file=sys.stderr)
        return 2
    results = testing.run_checks(make_env, checks=checks, time_bound=args.step_seconds)
    width = max(len(result.name) for result in results)
    for result in results:
        status = {True: "PASS", False: "FAIL", None: "NOT RUN"}[result.passed]
        line = f"{status:<7} {result.name:<{width}}  {result.seconds:6.2f}s"
        if result.message:
            line += f"  {result.message}"
        print(line)
    failed = [result.name for result in results if result.passed is False]
    passed = sum(result.passed is True for result in results)
    print(f"{env_id}: {passed} passed, {len(failed)} failed, {len(results) - passed - len(failed)} not run")
    return 1 if failed else 0
