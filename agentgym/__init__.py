"""agentgym: Gymnasium environments, rewards and a batched policy runner for multi-turn LLM agents.

Importing the package registers its environments with Gymnasium (lazily: an env's module is
imported only when it is made)::

    import gymnasium
    import agentgym

    env = gymnasium.make("agentgym/DeepSearch-v0")

``gymnasium.make("agentgym:agentgym/DeepSearch-v0")`` works without importing agentgym first.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable

import gymnasium

from agentgym.core import AgentEnv, Task, TaskSet, TextSpace, split_of
from agentgym.tools import Tool, ToolCall, ToolError
from agentgym.trajectory import Step, Trajectory

__version__ = "0.1.0"

__all__ = [
    "AgentEnv",
    "env_class",
    "env_id_hint",
    "import_modules",
    "ENVIRONMENTS",
    "Step",
    "Task",
    "TaskSet",
    "TextSpace",
    "Tool",
    "ToolCall",
    "ToolError",
    "Trajectory",
    "split_of",
]

#: The environments agentgym registers: id -> (entry point, default max_turns).
#: ``agentgym list`` shows each with the first line of its class docstring.
#:
#: The step limit is the env's own ``max_turns`` kwarg rather than Gymnasium's ``max_episode_steps``:
#: a TimeLimit wrapper would cut an episode without the env knowing, so the final step's reward and
#: the trajectory record would miss the truncation. Change it with ``gymnasium.make(id, max_turns=N)``.
ENVIRONMENTS: dict[str, tuple[str, int]] = {
    "agentgym/DeepSearch-v0": ("agentgym.envs.deepsearch.env:DeepSearchEnv", 12),
    "agentgym/TextToSQL-v0": ("agentgym.envs.text2sql.env:TextToSQLEnv", 15),
}

for _env_id, (_entry_point, _max_turns) in ENVIRONMENTS.items():
    if _env_id not in gymnasium.registry:
        gymnasium.register(id=_env_id, entry_point=_entry_point, kwargs={"max_turns": _max_turns})


def import_modules(names: Iterable[str]) -> None:
    """Import modules that register more environments (a user's package, a test module).

    Args:
        names: Module names, as for ``import``.

    Raises:
        ModuleNotFoundError: If one cannot be found.
    """
    for name in names:
        importlib.import_module(name)


def env_class(env_id: str) -> type:
    """The class a registered id makes, imported without building an env (e.g. to read its ``metadata``).

    Args:
        env_id: A registered id.

    Raises:
        gymnasium.error.Error: If the id is not registered.

    Examples:
        >>> env_class("agentgym/TextToSQL-v0").__name__
        'TextToSQLEnv'
    """
    entry_point = gymnasium.spec(env_id).entry_point
    if not isinstance(entry_point, str):
        return entry_point
    from agentgym.loading import load_object

    return load_object(entry_point)


def env_id_hint(env_id: str) -> str:
    """A hint for an id that is not registered: the closest registered ids, or how to list them.

    Names are compared without the shared namespace, so ``agentgym/`` alone does not make two ids close.

    Args:
        env_id: The id that is not registered.

    Returns:
        A sentence to append to an "unknown env" message (it starts with a space).

    Examples:
        >>> env_id_hint("agentgym/DeepSerch-v0")
        " Did you mean 'agentgym/DeepSearch-v0'?"
    """
    from agentgym.suggest import did_you_mean

    namespace = str(env_id).rpartition("/")[0]
    same_namespace = [known for known in gymnasium.registry if known.rpartition("/")[0] == namespace]
    hint = did_you_mean(env_id, same_namespace, key=lambda name: name.rpartition("/")[2].lower()) if namespace else ""
    return hint or did_you_mean(env_id, gymnasium.registry) or " Run 'agentgym list' to see the registered envs."

