"""``agentgym report``: one self-contained HTML page about trajectory files (:mod:`agentgym.report`)."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from agentgym.cli.options import add_import, add_trust, import_all, trust
from agentgym.report import NoTrajectories, _num, write_report
from agentgym.trajectory import TrajectoryError


def register(subparsers: Any) -> None:
    """Add ``agentgym report``."""
    parser = subparsers.add_parser(
        "report",
        help="write a self-contained HTML report of trajectory files",
        description="Write one self-contained HTML page (inline CSS and SVG plots; works offline) about "
        "trajectory JSONL files: reward components, return against turns, success by difficulty, "
        "per-step rewards, and the best and worst episodes' conversations. Envs are rebuilt (to read task "
        "difficulty) as agentgym score rebuilds them: records import nothing and build only cheap envs unless "
        "--import, --import-recorded or --trust-kwargs allow more.",
    )
    parser.add_argument("files", nargs="+", metavar="FILE", help="trajectory JSONL files ('-' reads stdin)")
    parser.add_argument("-o", "--output", default="report.html", help="the HTML file to write (default: report.html)")
    parser.add_argument("--title", default="agentgym report", help="the page title")
    parser.add_argument("--top", type=_non_negative, default=3, metavar="N",
                        help="show the N best and N worst episodes (default: 3)")
    parser.add_argument("--success-threshold", type=float, default=1.0, metavar="X",
                        help="an episode succeeds when its return is at least X (default 1.0, as agentgym score)")
    parser.add_argument("--skip-invalid", action="store_true", help="go on past malformed lines (listed in the report)")
    parser.add_argument("--no-rebuild", dest="rebuild", action="store_false",
                        help="do not rebuild envs to read task difficulty; group success by episode length")
    add_import(parser, "import MODULE first (it registers the envs to rebuild); records may name it in "
               "MODULE:ID; repeatable")
    add_trust(parser)
    parser.set_defaults(run=run)


def _non_negative(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value


def run(args: argparse.Namespace) -> int:
    """Write the report; exit 1 on malformed or empty input, 2 on a missing file or module."""
    missing = [path for path in args.files if path != "-" and not os.path.isfile(path)]
    if missing:
        print(f"error: no such file: {', '.join(missing)}", file=sys.stderr)
        return 2
    if not import_all(args.imports):
        return 2
    try:
        data = write_report(args.files, args.output, title=args.title, top=args.top,
                            skip_invalid=args.skip_invalid, rebuild=args.rebuild,
                            success_threshold=args.success_threshold, trust=trust(args, args.imports))
    except TrajectoryError as error:
        print(f"error: {error} (use --skip-invalid to go on past malformed lines)", file=sys.stderr)
        return 1
    except NoTrajectories as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except OSError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(
        f"wrote {args.output}: {data.count:,} episodes, mean return {_num(data.total.mean, 4)}, "
        f"success rate {data.success_rate:.1%}, success grouped by {data.grouped_by}"
    )
    return 0
