"""The ``agentgym`` command line: one module per subcommand, shared options in :mod:`.options`.

Each subcommand module has ``register(subparsers)``, which adds its parser, and ``run(args) -> int``,
which returns the exit status; :func:`main` wires them together. The library never imports this
package (a test checks it): the commands call the library, not the other way round.

=========  =====================  ========================
command    module                 library it drives
=========  =====================  ========================
list       :mod:`.list_envs`      the Gymnasium registry
check      :mod:`.check`          :mod:`agentgym.testing`
rollout    :mod:`.rollout`        :mod:`agentgym.runner`
score      :mod:`.score`          :mod:`agentgym.scoring`
report     :mod:`.report`         :mod:`agentgym.report`
new        :mod:`.new`            :mod:`agentgym.template`
=========  =====================  ========================

Every subcommand takes ``--import MODULE`` (modules that register more envs), and an env id may
be given as ``MODULE:ID`` (MODULE is imported first).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

import agentgym
from agentgym import env_id_hint  # noqa: F401  (its former home; it belongs to the library now)
from agentgym.cli import check, list_envs, new, report, rollout, score
from agentgym.cli.options import json_object  # noqa: F401  (its former home)

__all__ = ["build_parser", "main"]

#: The subcommand modules, in the order ``--help`` lists them.
COMMANDS = (list_envs, check, rollout, score, report, new)


def build_parser() -> argparse.ArgumentParser:
    """The ``agentgym`` argument parser with every subcommand."""
    parser = argparse.ArgumentParser(prog="agentgym", allow_abbrev=False,
                                     description="Gymnasium environments and rewards for LLM agents.")
    parser.add_argument("--version", action="version", version=f"agentgym {agentgym.__version__}")
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)
    for command in COMMANDS:
        command.register(subparsers)
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
    # A lone surrogate in a record (the trajectory writer keeps it) must not crash a printed summary.
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    return args.run(args)
