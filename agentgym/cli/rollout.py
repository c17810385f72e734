"""``agentgym rollout``: run a policy on an env and stream the trajectories to JSONL."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from agentgym.cli.options import add_import, json_object, resolve_env
from agentgym.policies import POLICIES, make_policy

#: How each policy names the common options (``--model``, ``--max-new-tokens``...).
_OPTION_NAMES = {
    "hf": {"model": "model", "max_new_tokens": "max_new_tokens", "temperature": "temperature"},
    "vllm": {"model": "model", "max_new_tokens": "max_new_tokens", "temperature": "temperature"},
    "openai": {"model": "model", "max_new_tokens": "max_tokens", "temperature": "temperature", "base_url": "base_url"},
    "oracle": {},
    "random": {},
}


def register(subparsers: Any) -> None:
    """Add ``agentgym rollout``."""
    parser = subparsers.add_parser(
        "rollout",
        help="run a policy on an environment and write the trajectories",
        description="Run episodes of a policy on an environment, num-envs at a time with one batched policy call "
        "per turn, and append each trajectory to a JSONL file as it finishes. Exit status: 0 done; 1 some episodes "
        "ended with an error (recorded in their trajectories); 2 bad arguments; 130 interrupted (the file holds "
        "every finished episode; --resume continues it).",
    )
    parser.add_argument("env_id", help="a registered id, or MODULE:ID to import MODULE first")
    parser.add_argument("--policy", required=True, choices=list(POLICIES), help="who acts")
    parser.add_argument("--model", help="hf: a local directory or .gguf (default: the bundled SmolLM2-135M-Instruct); "
                        "vllm: a model path; openai: the served model's name")
    parser.add_argument("--base-url", help="openai: the server's /v1 URL (default http://127.0.0.1:8000/v1)")
    parser.add_argument("--temperature", type=float, help="sampling temperature (0: greedy)")
    parser.add_argument("--max-new-tokens", type=int, help="most tokens per completion")
    parser.add_argument("--policy-kwargs", type=json_object, default={}, metavar="JSON",
                        help="more keyword arguments for the policy, a JSON object")
    parser.add_argument("-n", "--episodes", type=int, help="episodes to run (default: one per task id given, else 8)")
    parser.add_argument("--task-ids", help="comma-separated task ids to run (each --group-size times)")
    parser.add_argument("--num-envs", type=int, default=8, help="episodes in flight, the policy's batch (default 8)")
    parser.add_argument("--group-size", type=int, default=1, help="episodes per task, for GRPO groups (default 1)")
    parser.add_argument("--max-turns", type=int, help="override the env's turn limit")
    parser.add_argument("--time-limit", type=float, metavar="SECONDS", help="wall-clock limit per episode")
    parser.add_argument("--env-kwargs", type=json_object, default={}, metavar="JSON",
                        help="keyword arguments for gymnasium.make, a JSON object")
    parser.add_argument("--seed", type=int, default=0, help="seeds the task draw and the resets (default 0)")
    parser.add_argument("-o", "--output", required=True, help="the JSONL file to append trajectories to")
    parser.add_argument("--resume", action="store_true", help="skip the episodes the output already holds")
    parser.add_argument("--backend", choices=("local", "ray"), default="local",
                        help="run here, or shard over Ray workers (default local)")
    parser.add_argument("--workers", type=int, default=2, help="ray: how many workers (default 2)")
    add_import(parser)
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress line")
    parser.set_defaults(run=run)


def policy_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """The policy's keyword arguments from the common options and ``--policy-kwargs``.

    Raises:
        ValueError: If an option does not apply to the chosen policy.
    """
    names = _OPTION_NAMES[args.policy]
    kwargs: dict[str, Any] = {}
    for option in ("model", "base_url", "temperature", "max_new_tokens"):
        value = getattr(args, option)
        if value is None:
            continue
        if option not in names:
            raise ValueError(f"--{option.replace('_', '-')} does not apply to the {args.policy} policy")
        kwargs[names[option]] = value
    if args.policy == "random":
        kwargs.update(tool_format=args.env_kwargs.get("tool_format", "hermes"), seed=args.seed)
    if args.policy == "openai" and "model" not in kwargs and "model" not in args.policy_kwargs:
        raise ValueError("the openai policy needs --model (the name the server serves)")
    return {**kwargs, **args.policy_kwargs}


def run(args: argparse.Namespace) -> int:
    """Run the episodes; print a summary line."""
    from agentgym.runner.local import Runner

    env_id = resolve_env(args.env_id, args.imports)  # MODULE:ID: MODULE joins the imports, here and in any worker
    if env_id is None:
        return 2
    task_ids = [task for task in args.task_ids.split(",") if task] if args.task_ids else None
    n = args.episodes if args.episodes is not None or task_ids else 8
    try:
        kwargs = policy_kwargs(args)
        options = dict(
            env_kwargs=args.env_kwargs, num_envs=args.num_envs, group_size=args.group_size, max_turns=args.max_turns,
            episode_time_limit_s=args.time_limit, seed=args.seed, imports=args.imports,
        )
        if args.backend == "ray":
            from agentgym.runner.ray import RayRunner

            runner: Any = RayRunner(env_id, args.policy, kwargs, workers=args.workers, **options)
        else:
            runner = Runner(env_id, make_policy(args.policy, **kwargs), **options)
    except (ValueError, TypeError, ImportError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    progress = None if args.quiet else sys.stderr
    try:
        with runner:
            stats = runner.run(n, task_ids=task_ids, output=args.output, resume=args.resume, progress=progress)
    except KeyboardInterrupt:
        print(f"\ninterrupted: every finished episode is in {args.output}; run again with --resume to go on",
              file=sys.stderr)
        return 130
    except (ValueError, KeyError, OSError) as error:  # OSError: the output exists, is locked or unwritable
        print(f"error: {error}", file=sys.stderr)
        return 2
    skipped = f" ({stats.skipped:,} already there)" if stats.skipped else ""
    print(f"wrote {stats.episodes:,} episodes to {args.output}{skipped}: {stats.line()}")
    return 1 if stats.errors else 0
