"""``agentgym new NAME``: generate a new environment from the template (:mod:`agentgym.template`)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from agentgym.cli.options import add_import, import_all
from agentgym.template import TemplateError, generate


def register(subparsers: Any) -> None:
    """Add ``agentgym new``."""
    parser = subparsers.add_parser(
        "new",
        help="generate a new environment from the template",
        description="Generate an environment (env class, task set, tools, reward, oracle, tests that run the "
        "conformance suite, README) from agentgym's template. In the envs/ directory of an agentgym checkout it "
        "is a sub-package of agentgym; anywhere else a standalone installable project.",
    )
    parser.add_argument("name", help="the env's name: my-env, my_env or MyEnv (module my_env, id agentgym/MyEnv-v0)")
    parser.add_argument("--dir", default=".", metavar="PATH",
                        help="where to create it (default: the current directory); agentgym's envs/ directory "
                        "makes it part of the agentgym package")
    add_import(parser, "import MODULE first (its envs' ids are taken, so a new env may not reuse them); repeatable")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Generate the env and print what was written and what to do next; exit 2 on a refused name or target."""
    if not import_all(args.imports):
        return 2
    try:
        generated = generate(args.name, args.dir)
    except TemplateError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    name = generated.name
    kind = "a sub-package of agentgym" if generated.in_package else "a standalone package"
    print(f"created {name.env_id} ({name.env_class} in module {name.module}), {kind}:")
    for path in generated.files:
        print(f"  {path}")
    print()
    print("\n".join(generated.next_steps))
    return 0
