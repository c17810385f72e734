"""Options every subcommand shares: ``--import MODULE``, ``MODULE:ID`` env ids and JSON-object options."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import gymnasium as gym

import agentgym
from agentgym.trust import Trust

#: The ``--import`` help, for every subcommand.
IMPORT_HELP = "import MODULE first (it registers more environments); repeatable"


def add_import(parser: argparse.ArgumentParser, help: str = IMPORT_HELP) -> None:
    """Add ``--import MODULE`` (repeatable; the names land in ``args.imports``).

    Args:
        parser: The subcommand's parser.
        help: Its help text.
    """
    parser.add_argument("--import", dest="imports", action="append", default=[], metavar="MODULE", help=help)


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
    except (json.JSONDecodeError, RecursionError, ValueError) as error:
        raise argparse.ArgumentTypeError(f"not valid JSON: {error}") from None
    if not isinstance(value, dict):
        example = """'{"split": "test"}'"""
        raise argparse.ArgumentTypeError(f"must be a JSON object such as {example}, got {type(value).__name__}")
    return value


def split_env_id(env_id: str) -> tuple[str | None, str]:
    """``MODULE:ID`` as ``(MODULE, ID)``; a bare id as ``(None, ID)``.

    Examples:
        >>> split_env_id("mypkg.envs:agentgym/Echo-v0")
        ('mypkg.envs', 'agentgym/Echo-v0')
        >>> split_env_id("agentgym/DeepSearch-v0")
        (None, 'agentgym/DeepSearch-v0')
    """
    module, colon, bare = env_id.partition(":")
    return (module, bare) if colon else (None, env_id)


def import_all(names: list[str]) -> bool:
    """Import the user's modules; on failure print ``error: cannot import ...`` and return ``False``.

    Args:
        names: Module names (``--import`` and the modules of ``MODULE:ID`` ids).
    """
    for name in names:
        try:
            agentgym.import_modules([name])
        except ImportError as error:
            print(f"error: cannot import {name!r}: {type(error).__name__}: {error}", file=sys.stderr)
            return False
    return True


def resolve_env(env_id: str, imports: list[str]) -> str | None:
    """Import ``--import`` modules and the module of a ``MODULE:ID`` id; the bare id, if registered.

    The module of ``MODULE:ID`` is appended to ``imports`` (so workers import it too). On failure an
    ``error:`` line is printed (with the closest registered ids) and ``None`` returned.

    Args:
        env_id: A registered id or ``MODULE:ID``.
        imports: The ``--import`` modules.
    """
    module, bare = split_env_id(env_id)
    if module is not None and module not in imports:
        imports.append(module)
    if not import_all(imports):
        return None
    if bare not in gym.registry:
        print(f"error: unknown env {bare!r}.{agentgym.env_id_hint(bare)}", file=sys.stderr)
        return None
    return bare


def add_trust(parser: argparse.ArgumentParser) -> None:
    """Add ``--import-recorded`` and ``--trust-kwargs``: what records read from files may ask for (see :func:`trust`).

    Args:
        parser: The parser of a subcommand that rebuilds the envs of records.
    """
    parser.add_argument(
        "--import-recorded",
        action="store_true",
        help="import the module each record says registers its env (env_module, written at rollout): only for "
        "files you trust",
    )
    parser.add_argument(
        "--trust-kwargs",
        action="store_true",
        help="let records ask for any env_kwargs and any number of envs (by default only the kwargs values their "
        "env family declares cheap, those registered or given with --env-kwargs, and at most 8 envs): only for "
        "files you trust",
    )


def trust(args: argparse.Namespace, modules: list[str], env_kwargs: dict[str, Any] | None = None) -> Trust:
    """The :class:`~agentgym.trust.Trust` the options give: records may use only what the user named.

    Args:
        args: Parsed options with ``import_recorded`` and ``trust_kwargs`` (:func:`add_trust`).
        modules: The modules the user named (``--import``, ``--env MODULE:ID``).
        env_kwargs: Kwarg values the user named (``--env-kwargs``).
    """
    return Trust(
        modules=frozenset(modules),
        recorded_modules=args.import_recorded,
        kwargs=args.trust_kwargs,
        env_kwargs=dict(env_kwargs or {}),
    )
