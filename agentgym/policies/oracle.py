"""The oracle policy: each env's own gold-data solver, through the same batched policy call a model gets."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from agentgym.messages import content_text
from agentgym.policies import Completion, Conversation, Policy, ToolSchemas


class OraclePolicy(Policy):
    """Completes each conversation with its env's ``oracle_action()`` (proves every task solvable).

    The oracle reads gold data from the env, so it needs the envs themselves: the runner passes
    them as ``envs=`` because the policy says ``needs_env = True``. Anything with an
    ``oracle_action()`` method works (an env, an unwrapped env, a runner's env handle).

    Examples:
        >>> import gymnasium as gym, agentgym
        >>> env = gym.make("agentgym/TextToSQL-v0")
        >>> _, info = env.reset(seed=0)
        >>> [completion] = OraclePolicy()([info["messages"]], [info["tools"]], envs=[env.unwrapped])
        >>> completion.text.startswith("<tool_call>")
        True
        >>> env.close()
    """

    needs_env = True

    def __call__(
        self, conversations: Sequence[Conversation], tools: Sequence[ToolSchemas], *, envs: Sequence[Any]
    ) -> list[Completion]:
        """One oracle action per conversation, from the env at the same position."""
        if len(envs) != len(conversations):
            raise ValueError(f"{len(envs)} envs for {len(conversations)} conversations: give one env each")
        return [_completion(env.oracle_action()) for env in envs]

    def describe(self) -> dict[str, Any]:
        """``{"name": "oracle"}`` for the trajectory's ``policy`` field."""
        return {"name": "oracle"}


def _completion(action: Any) -> Completion:
    """The completion of an oracle action: text, or an assistant message with tool calls."""
    if isinstance(action, str):
        return Completion(action)
    if isinstance(action, Mapping):
        return Completion(content_text(action.get("content")), tool_calls=action.get("tool_calls") or None)
    raise TypeError(f"oracle_action() returned {type(action).__name__}; expected text or an assistant message")
