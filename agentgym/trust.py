"""What a trajectory record read from a file may make agentgym do when its env is rebuilt.

``agentgym score`` and ``agentgym report`` rebuild the env a record names (``env_id``,
``env_kwargs``) to find its task. A file may come from anyone, so a record is data, never a command:

- **Imports.** A record never makes agentgym import a module by itself. An ``env_id`` of the form
  ``MODULE:ID`` is accepted only when the user named ``MODULE`` (``--import MODULE`` or
  ``--env MODULE:ID``); the ``env_module`` a record carries (the module of its env's entry point,
  written at rollout) is imported only with ``--import-recorded``, or when the user named it.
  Otherwise the message says what to pass.
- **Work.** ``env_kwargs`` may ask for data to be built (a 3-million-entity world, a new database per
  line). Without ``--trust-kwargs`` each of a record's kwargs must pass the check its env family
  declares (:attr:`agentgym.core.AgentEnv.record_kwargs`: any turn limit or format, a fictional world
  of at most 1,000 entities, a bundled database...) or have the value registered with the id or given
  by the user (``--env-kwargs``); and at most :attr:`Trust.max_envs` distinct envs are built.

Examples:
    >>> trust = Trust(modules=frozenset({"agentgym.envs.text2sql"}))
    >>> trust.env_id("agentgym.envs.text2sql:agentgym/TextToSQL-v0")
    'agentgym/TextToSQL-v0'
    >>> trust.env_id("this:agentgym/DeepSearch-v0")
    Traceback (most recent call last):
    ...
    agentgym.trajectory.TrajectoryError: the record's env 'this:agentgym/DeepSearch-v0' asks to import module \
'this', which was not named on the command line; pass --import this if you trust it
"""

from __future__ import annotations

import importlib
import math
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym

import agentgym
from agentgym.trajectory import TrajectoryError

__all__ = ["Trust"]


@dataclass(frozen=True)
class Trust:
    """What records may make agentgym import and build.

    Attributes:
        modules: Modules the user named (imported already, or imported here on demand).
        recorded_modules: Import the ``env_module`` a record carries (``--import-recorded``).
        kwargs: Accept any ``env_kwargs`` and any number of envs (``--trust-kwargs``).
        env_kwargs: Kwarg values the user named (``--env-kwargs``); records may use them.
        max_envs: Most distinct envs built without ``kwargs``.
    """

    modules: frozenset[str] = frozenset()
    recorded_modules: bool = False
    kwargs: bool = False
    env_kwargs: Mapping[str, Any] = field(default_factory=dict)
    max_envs: int = 8

    @classmethod
    def library_default(cls) -> Trust:
        """The trust of a library caller: records import nothing, but their kwargs are the caller's business."""
        return cls(kwargs=True, max_envs=math.inf)  # type: ignore[arg-type]

    def env_id(self, env_id: str, env_module: str | None = None) -> str:
        """The registered id a record's ``env_id`` stands for, importing only what is allowed.

        Args:
            env_id: The record's ``env_id`` (a registered id, or ``MODULE:ID``).
            env_module: The record's ``env_module``: the module that registers the id.

        Returns:
            A registered id (without a module part).

        Raises:
            TrajectoryError: If the id is not registered and may not or cannot be made so; the message
                says what to pass.
        """
        module, colon, bare = env_id.partition(":")
        if not colon:
            module, bare = "", env_id
        if module:
            if module not in self.modules:
                raise TrajectoryError(
                    f"the record's env {env_id!r} asks to import module {module!r}, which was not named on "
                    f"the command line; pass --import {module} if you trust it"
                )
            self._import(module, bare)
        if bare in gym.registry:
            return bare
        if env_module:
            if not (self.recorded_modules or env_module in self.modules):
                raise TrajectoryError(
                    f"unknown env {bare!r}; its record says module {env_module!r} registers it: pass --import "
                    f"{env_module} (or --import-recorded for every recorded module) if you trust the file"
                )
            self._import(env_module, bare)
            if bare in gym.registry:
                return bare
            raise TrajectoryError(f"unknown env {bare!r}: importing {env_module!r} did not register it")
        raise TrajectoryError(f"unknown env {bare!r}.{agentgym.env_id_hint(bare)}")

    def check_kwargs(self, env_id: str, env_kwargs: Mapping[str, Any]) -> None:
        """Refuse kwargs that would build data the user did not ask for.

        Args:
            env_id: A registered id.
            env_kwargs: The record's kwargs.

        Raises:
            TrajectoryError: Naming the kwargs and ``--trust-kwargs``.
        """
        if self.kwargs:
            return
        registered = gym.spec(env_id).kwargs
        try:
            checks = getattr(agentgym.env_class(env_id), "record_kwargs", {})
        except Exception:  # the make that follows says what is wrong with the class
            checks = {}
        costly = sorted(
            name
            for name, value in env_kwargs.items()
            if not (name in registered and registered[name] == value)
            and not (name in self.env_kwargs and self.env_kwargs[name] == value)
            and not (name in checks and _passes(checks[name], value))
        )
        if costly:
            shown = ", ".join(f"{name}={_short(env_kwargs[name])}" for name in costly)
            raise TrajectoryError(
                f"the record asks for {env_id} with {shown}, which may cost unbounded work to build; pass "
                "--trust-kwargs if you trust the file, or name the values with --env-kwargs"
            )

    def check_count(self, built: int) -> None:
        """Refuse to build one more env when ``built`` are built already.

        Raises:
            TrajectoryError: Naming ``--trust-kwargs``.
        """
        if not self.kwargs and built >= self.max_envs:
            raise TrajectoryError(
                f"the input asks for more than {self.max_envs} distinct envs (env_id and env_kwargs); pass "
                "--trust-kwargs if you trust it"
            )

    @staticmethod
    def _import(module: str, env_id: str) -> None:
        if module in sys.modules:
            return
        try:
            importlib.import_module(module)
        except Exception as error:
            raise TrajectoryError(f"cannot import {module!r} for {env_id!r}: {type(error).__name__}: {error}") from None


def _passes(check: Any, value: Any) -> bool:
    try:
        return bool(check(value))
    except Exception:  # a value the check cannot handle is not a cheap one
        return False


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
