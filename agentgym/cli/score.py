"""``agentgym score``: the command line over :mod:`agentgym.scoring`.

A trajectory file is data from anyone: the records import nothing and build only cheap envs
unless the options say otherwise (:mod:`agentgym.trust`): ``--import MODULE`` and ``--env MODULE:ID``
name modules records may use, ``--import-recorded`` imports the module each record says registers
its env, ``--trust-kwargs`` lets records ask for any ``env_kwargs``.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import Any

from agentgym import importers
from agentgym.cli.options import add_import, add_trust, import_all, json_object, trust
from agentgym.rewards.registry import DEFAULT_DESCRIPTION, REWARDS
from agentgym.scoring.files import score_files
from agentgym.scoring.scorer import Scored, Scorer
from agentgym.scoring.specs import ScoreError
from agentgym.scoring.summary import Summary
from agentgym.trajectory import TrajectoryError, dumps

#: ``agentgym score`` scores inputs at least this big in one process per CPU (unless ``--workers``).
AUTO_WORKERS_BYTES = 32 << 20
#: The exit status when everything else was scored but ``--skip-invalid`` skipped lines.
EXIT_SKIPPED = 3


def register(subparsers: Any) -> None:
    """Add ``agentgym score``."""
    parser = subparsers.add_parser(
        "score",
        help="score saved trajectories offline",
        description="Score saved trajectories offline, per env and per reward component, with diagnostics. "
        "Records import nothing and build only cheap envs unless --import, --env MODULE:ID, --import-recorded "
        "or --trust-kwargs allow more. Exit status: 0 scored; 1 a malformed line (without --skip-invalid) or "
        f"nothing to score; 2 bad arguments (unknown reward or env, missing file or module); {EXIT_SKIPPED} scored, "
        "but --skip-invalid skipped lines (the summary says how many).",
    )
    parser.add_argument("files", nargs="*", metavar="FILE", help="JSONL files of trajectories ('-' reads stdin)")
    parser.add_argument(
        "--reward",
        metavar="SPEC",
        default=None,
        help="name=weight,... of rewards (see --list-rewards), MODULE:CALLABLE or FILE.py[:NAME]; "
        "default: each env's own reward",
    )
    parser.add_argument(
        "--judge",
        metavar="MODULE:CALLABLE",
        help="the judge (prompt -> reply text) for the judge rewards; FILE.py:NAME works too",
    )
    parser.add_argument(
        "--env", metavar="ENV_ID", help="the env of records that name none (imported formats); MODULE:ID imports MODULE"
    )
    parser.add_argument(
        "--env-kwargs", metavar="JSON", type=json_object, default={}, help="that env's kwargs, a JSON object"
    )
    parser.add_argument(
        "--input-format",
        choices=("auto", *importers.FORMATS),
        default="auto",
        help="the input format (default: detected per line)",
    )
    parser.add_argument("-o", "--output", metavar="FILE", help="write one JSON line of scores per trajectory here")
    parser.add_argument("--format", choices=("table", "json", "csv"), default="table", help="summary format")
    parser.add_argument(
        "--skip-invalid",
        action="store_true",
        help=f"go on past malformed lines; the summary says how many were skipped, and the exit status is "
        f"{EXIT_SKIPPED} when any were",
    )
    parser.add_argument(
        "--success-threshold",
        type=float,
        default=1.0,
        metavar="X",
        help="a trajectory succeeds when its score is at least X (default 1.0)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        metavar="N",
        help="score in N processes (0: one per CPU); default: one per CPU (at most 8) for inputs over 32 MiB, else 1",
    )
    parser.add_argument("--list-rewards", action="store_true", help="list the reward names a spec may use, and exit")
    add_import(parser, "import MODULE first (it registers the envs of the records); records may name it in "
               "MODULE:ID; repeatable")
    add_trust(parser)
    parser.set_defaults(run=run)


def _list_rewards() -> str:
    width = max(len(name) for name in REWARDS)
    lines = [f"{'default':<{width}}  {'env':<9}  {DEFAULT_DESCRIPTION}"]
    for name, entry in REWARDS.items():
        note = f" [not in a spec: {entry.unavailable}]" if entry.unavailable else ""
        lines.append(f"{name:<{width}}  {entry.kind:<9}  {entry.description}{note}")
    lines.append(f"{'MODULE:NAME':<{width}}  a reward of your own; FILE.py (its 'reward') and FILE.py:NAME work too")
    return "\n".join(lines)


def _auto_workers(files: Sequence[str]) -> int:
    """One process per CPU (at most 8) for big inputs; starting workers does not pay off below 32 MiB."""
    if "-" in files or sum(os.path.getsize(name) for name in files) < AUTO_WORKERS_BYTES:
        return 1
    return min(os.cpu_count() or 1, 8)


def run(args: argparse.Namespace) -> int:
    """Score the files, print the summary; return the exit status (0, 1, 2 or 3, see ``--help``)."""
    if args.list_rewards:
        print(_list_rewards())
        return 0
    if not args.files:
        print("error: no input files (give JSONL files, or '-' for standard input)", file=sys.stderr)
        return 2
    for name in args.files:
        if name != "-" and not os.path.isfile(name):
            problem = "is a directory; pass its files (e.g. DIR/*.jsonl)" if os.path.isdir(name) else "no such file"
            print(f"error: {name}: {problem}", file=sys.stderr)
            return 2
    env_kwargs = args.env_kwargs
    if not import_all(args.imports):
        return 2
    config = {  # the Scorer imports the MODULE of --env MODULE:ID and lets records use it
        "reward": args.reward,
        "judge": args.judge,
        "env_id": args.env,
        "env_kwargs": env_kwargs,
        "input_format": None if args.input_format == "auto" else args.input_format,
        "success_threshold": args.success_threshold,
        "trust": trust(args, args.imports, env_kwargs),
    }
    try:
        scorer = Scorer(**config)
    except ScoreError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    summary = Summary(scorer.label, scorer.weights, args.success_threshold)
    workers = _auto_workers(args.files) if args.workers is None else args.workers or (os.cpu_count() or 1)
    # A lone surrogate (kept by the trajectory writer) has no UTF-8 form: inside a JSON string,
    # backslashreplace writes it as the JSON escape "\udXXX", which reads back as the same text.
    try:
        output = open(args.output, "w", encoding="utf-8", errors="backslashreplace") if args.output else None
    except OSError as error:
        scorer.close()
        print(f"error: cannot write {args.output}: {error.strerror or error}", file=sys.stderr)
        return 2
    items = score_files(
        args.files, scorer, workers=workers, empty_files=summary.empty_files, config=config, fast_gc=True
    )
    try:
        for item in items:
            if isinstance(item, TrajectoryError) and not args.skip_invalid:
                print(f"error: {item}", file=sys.stderr)
                print("(--skip-invalid goes on past malformed lines)", file=sys.stderr)
                return 1
            summary.add(item)
            if output is not None and isinstance(item, Scored):
                output.write(dumps(item.to_dict()) + "\n")
    finally:
        items.close()  # stops the workers and restores the garbage collector's settings
        if output is not None:
            output.close()
        scorer.close()
    for name in summary.empty_files:
        print(f"warning: {name}: empty file (no trajectories)", file=sys.stderr)
    if summary.n == 0:
        skipped = f" ({summary.skipped:,} invalid lines skipped)" if summary.skipped else ""
        print(f"error: no trajectories to score in {', '.join(args.files)}{skipped}", file=sys.stderr)
        return 1
    if args.format == "json":
        print(dumps(summary.to_dict(), indent=2))
    elif args.format == "csv":
        print(summary.to_csv(), end="")
    else:
        print(summary.render())
    if summary.skipped:
        print(f"skipped {summary.skipped:,} invalid lines (first: {summary.skipped_examples[0]})", file=sys.stderr)
        return EXIT_SKIPPED
    return 0
