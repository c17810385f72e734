"""Env handles for the runner: the same five calls on an env in this process or in a worker process.

Text envs run in the runner's process (:class:`LocalEnv`). An env class says how it likes to be
stepped through its ``metadata``:

- ``"agentgym.threads": True``: its steps wait outside the GIL (a database query, a network call),
  so the runner steps several at once from a thread pool. Pure-Python envs leave it unset: threads
  would only contend for the GIL (DeepSearch's oracle runs 4,000 steps/s in one thread, 2,500 in four).
- ``"agentgym.process": True``: a browser, an event loop, anything that must be killable runs in
  a worker process of its own (:class:`ProcessEnv`), stepped from threads, and killed when a step
  outlives the episode's time limit.
"""

from __future__ import annotations

import multiprocessing
import traceback
from collections.abc import Sequence
from typing import Any

import gymnasium as gym

import agentgym
from agentgym.trajectory import Trajectory

#: The metadata keys by which an env asks for a worker process, or for threads to step it.
PROCESS_KEY = "agentgym.process"
THREADS_KEY = "agentgym.threads"


def make_env(env_id: str, env_kwargs: dict[str, Any], imports: Sequence[str] = ()) -> gym.Env:
    """``gymnasium.make`` after importing the modules that register the env (agentgym's own are registered)."""
    agentgym.import_modules(imports)
    return gym.make(env_id, **env_kwargs)


def env_metadata(env_id: str, imports: Sequence[str] = ()) -> dict[str, Any]:
    """The registered env class's ``metadata`` (without building an env)."""
    agentgym.import_modules(imports)
    return dict(getattr(agentgym.env_class(env_id), "metadata", {}))


class LocalEnv:
    """An env in this process.

    Args:
        env_id: The registered id.
        env_kwargs: Keyword arguments for ``gymnasium.make``.
        imports: Modules to import first (they register the env).
    """

    def __init__(self, env_id: str, env_kwargs: dict[str, Any], imports: Sequence[str] = ()) -> None:
        self.env = make_env(env_id, env_kwargs, imports)

    def reset(self, seed: int | None, task_id: str) -> tuple[str, dict[str, Any]]:
        """Start the episode on ``task_id``."""
        return self.env.reset(seed=seed, options={"task_id": task_id})

    def step(self, action: Any) -> tuple[str, float, bool, bool, dict[str, Any]]:
        """One ``env.step``."""
        return self.env.step(action)

    def trajectory(self) -> Trajectory:
        """The episode record so far."""
        return self.env.unwrapped.trajectory

    def oracle_action(self) -> Any:
        """The env's oracle action for the current state."""
        return self.env.unwrapped.oracle_action()

    def tasks(self) -> list[str]:
        """Task ids of the env's split, in order."""
        return list(self.env.unwrapped.tasks.ids)

    def close(self) -> None:
        """Close the env."""
        self.env.close()

    def kill(self) -> None:
        """Give up on the env: a thread stuck in its step cannot be stopped, only left behind."""
        try:
            self.env.close()
        except Exception:  # noqa: BLE001 - it is being abandoned because it misbehaved
            pass


def _serve(connection: Any, env_id: str, env_kwargs: dict[str, Any], imports: Sequence[str]) -> None:
    """The worker process: answer ``(method, args)`` requests on ``connection`` until ``close``."""
    try:
        handle = LocalEnv(env_id, env_kwargs, imports)
        connection.send(("ok", None))
    except BaseException as error:  # noqa: BLE001 - reported to the parent, which raises it
        connection.send(("error", _describe(error)))
        return
    while True:
        try:
            method, args = connection.recv()
        except (EOFError, KeyboardInterrupt):
            break
        try:
            connection.send(("ok", getattr(handle, method)(*args)))
        except Exception as error:  # noqa: BLE001 - the parent decides what an env error means
            connection.send(("error", _describe(error)))
        if method == "close":
            break
    connection.close()


def _describe(error: BaseException) -> str:
    last = traceback.extract_tb(error.__traceback__)[-1:] if error.__traceback__ else []
    where = f" (at {last[0].filename}:{last[0].lineno})" if last else ""
    return f"{type(error).__name__}: {error}{where}"


class WorkerError(RuntimeError):
    """An env call failed inside a worker process; the message names the original error."""


class ProcessEnv:
    """An env in a worker process of its own (``spawn``: safe beside threads and CUDA).

    Args:
        env_id: The registered id.
        env_kwargs: Keyword arguments for ``gymnasium.make``.
        imports: Modules the worker imports first (they register the env).
    """

    def __init__(self, env_id: str, env_kwargs: dict[str, Any], imports: Sequence[str] = ()) -> None:
        context = multiprocessing.get_context("spawn")
        self._connection, child = context.Pipe()
        self._process = context.Process(
            target=_serve, args=(child, env_id, env_kwargs, tuple(imports)), daemon=True, name=f"agentgym:{env_id}"
        )
        self._process.start()
        child.close()
        self._result()  # the env is built, or its error raised here

    def _call(self, method: str, *args: Any) -> Any:
        self._connection.send((method, args))
        return self._result()

    def _result(self) -> Any:
        try:
            status, value = self._connection.recv()
        except EOFError:
            raise WorkerError(f"the env's worker process died (exit code {self._process.exitcode})") from None
        if status == "error":
            raise WorkerError(value)
        return value

    def reset(self, seed: int | None, task_id: str) -> tuple[str, dict[str, Any]]:
        """Start the episode on ``task_id``."""
        return self._call("reset", seed, task_id)

    def step(self, action: Any) -> tuple[str, float, bool, bool, dict[str, Any]]:
        """One ``env.step``."""
        return self._call("step", action)

    def trajectory(self) -> Trajectory:
        """The episode record so far."""
        return self._call("trajectory")

    def oracle_action(self) -> Any:
        """The env's oracle action for the current state."""
        return self._call("oracle_action")

    def tasks(self) -> list[str]:
        """Task ids of the env's split, in order."""
        return self._call("tasks")

    def close(self) -> None:
        """Close the env and let the worker exit."""
        if self._process.is_alive():
            try:
                self._call("close")
            except (WorkerError, OSError):
                pass
            self._process.join(timeout=5)
        self.kill()

    def kill(self) -> None:
        """Stop the worker now, whatever it is doing."""
        if self._process.is_alive():
            self._process.kill()
            self._process.join(timeout=5)
        self._connection.close()
