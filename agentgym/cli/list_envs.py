"""``agentgym list``: the registered environments, one line each (not ``list.py``: that would shadow ``list``)."""

from __future__ import annotations

import argparse
from typing import Any

import gymnasium as gym

import agentgym
from agentgym.cli.options import add_import, import_all

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


def agentgym_ids() -> list[str]:
    """Every registered id in the ``agentgym`` namespace, sorted."""
    return sorted(env_id for env_id, spec in gym.registry.items() if spec.namespace == NAMESPACE)


def register(subparsers: Any) -> None:
    """Add ``agentgym list``."""
    parser = subparsers.add_parser("list", help="list the registered environments")
    add_import(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Print each registered id with its one-line description."""
    if not import_all(args.imports):
        return 2
    ids = agentgym_ids()
    if not ids:
        print("no agentgym environments are registered")
        return 0
    width = max(len(env_id) for env_id in ids)
    for env_id in ids:
        print(f"{env_id:<{width}}  {describe(env_id)}")
    return 0
