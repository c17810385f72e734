"""The ``agentgym`` command: ``list`` the registered environments, ``check`` one against the conformance suite.

Each subcommand is a ``register(subparsers)`` that adds its parser and a ``run(args) -> int``
that returns the exit status; :func:`main` wires them together.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from typing import Any

import gymnasium as gym

import agentgym
from agentgym import testing
from agentgym.tools import did_you_mean

NAMESPACE = "agentgym"


def describe(env_id: str) -> str:
    """The first line of a registered env's class docstring.

    Args:
        env_id: A registered id.

    Returns:
        The description, or a note saying why there is none.
    """
    try:
        cls = agentgym.env_class(env_id)
    except Exception as error:  # a broken or uninstalled family must not break the listing
        return f"(cannot import {gym.spec(env_id).entry_point}: {type(error).__name__}: {error})"
    doc = (cls.__doc__ or "").strip()
    return doc.splitlines()[0] if doc else "(no description)"


def env_id_hint(env_id: str) -> str:
    """A hint for an id that is not registered: the closest registered ids, or how to list them.

    Names are compared without the shared namespace, so ``agentgym/`` alone does not make two ids close.

    Examples:
        >>> env_id_hint("agentgym/DeepSerch-v0")
        " Did you mean 'agentgym/DeepSearch-v0'?"
    """
    namespace = str(env_id).rpartition("/")[0]
    same_namespace = [known for known in gym.registry if known.rpartition("/")[0] == namespace]
    hint = did_you_mean(env_id, same_namespace, key=lambda name: name.rpartition("/")[2].lower()) if namespace else ""
    return hint or did_you_mean(env_id, gym.registry) or " Run 'agentgym list' to see the registered envs."


def json_object(text: str) -> dict[str, Any]:
    """An argparse ``type``: a JSON object, e.g. ``--env-kwargs '{"split": "test"}'``.

    Examples:
        >>> json_object('{"max_turns": 4}')
        {'max_turns': 4}
        >>> json_object("[1]")
        Traceback (most recent call last):
        ...
        argparse.ArgumentTypeError: must be a JSON object such as '{"split": "test"}', got list
    """
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise argparse.ArgumentTypeError(f"not valid JSON: {error}") from None
    if not isinstance(value, dict):
        example = """'{"split": "test"}'"""
        raise argparse.ArgumentTypeError(f"must be a JSON object such as {example}, got {type(value).__name__}")
    return value


def agentgym_ids() -> list[str]:
    """Every registered id in the ``agentgym`` namespace, sorted."""
    return sorted(env_id for env_id, spec in gym.registry.items() if spec.namespace == NAMESPACE)


# ---- list ----------------------------------------------------------------------------------------


def register_list(subparsers: Any) -> None:
    """Add ``agentgym list``."""
    parser = subparsers.add_parser("list", help="list the registered environments")
    parser.add_argument("--import", dest="imports", action="append", default=[], metavar="MODULE",
                        help="import MODULE first (it registers more environments); repeatable")
    parser.set_defaults(run=run_list)


def run_list(args: argparse.Namespace) -> int:
    """Print each registered id with its one-line description."""
    agentgym.import_modules(args.imports)
    ids = agentgym_ids()
    if not ids:
        print("no agentgym environments are registered")
        return 0
    width = max(len(env_id) for env_id in ids)
    for env_id in ids:
        print(f"{env_id:<{width}}  {describe(env_id)}")
    return 0


# ---- check ---------------------------------------------------------------------------------------


def register_check(subparsers: Any) -> None:
    """Add ``agentgym check``."""
    parser = subparsers.add_parser("check", help="run the conformance suite on an environment")
    parser.add_argument("env_id", help="a registered id, or MODULE:ID to import MODULE first")
    parser.add_argument(
        "--kwargs", type=json_object, default={}, help="JSON object of keyword arguments for gymnasium.make"
    )
    parser.add_argument("--only", nargs="+", choices=list(testing.CHECKS), help="run only these checks")
    parser.set_defaults(run=run_check)


def run_check(args: argparse.Namespace) -> int:
    """Run the checks, print one PASS/FAIL line each; exit 1 if any failed, 2 on bad arguments."""
    kwargs = args.kwargs
    env_id = args.env_id
    try:
        gym.make(env_id, **kwargs).close()
    except gym.error.Error as error:
        print(f"error: cannot make {env_id!r}: {error}.{env_id_hint(env_id.split(':')[-1])}", file=sys.stderr)
        return 2
    if ":" in env_id:  # the module is imported now; later makes use the bare id
        env_id = env_id.split(":", 1)[1]

    def make_env() -> gym.Env:
        return gym.make(env_id, **kwargs)

    checks = {name: testing.CHECKS[name] for name in (args.only or testing.CHECKS)}
    results = testing.run_checks(make_env, checks=checks)
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


# ---- main ----------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    """The ``agentgym`` argument parser with every subcommand."""
    parser = argparse.ArgumentParser(prog="agentgym", allow_abbrev=False,
                                     description="Gymnasium environments and rewards for LLM agents.")
    parser.add_argument("--version", action="version", version=f"agentgym {agentgym.__version__}")
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)
    # The subcommand modules import this one (for json_object), so they are imported here, not above.
    from agentgym import report, scoring, template
    from agentgym.runner import cli as runner_cli

    register_list(subparsers)
    register_check(subparsers)
    runner_cli.register_rollout(subparsers)
    scoring.register_score(subparsers)
    report.register_report(subparsers)
    template.register_new(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``agentgym`` command line.

    Args:
        argv: Arguments without the program name; defaults to ``sys.argv[1:]``.

    Returns:
        The exit status.
    """
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exit:  # argparse's own errors (status 2), --help and --version (0)
        return exit.code if isinstance(exit.code, int) else 1
    # MODULE:ID and --import name the user's own modules, as `python -m` would find them.
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
