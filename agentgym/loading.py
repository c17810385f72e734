"""Resolving references to Python objects: ``module:attr`` and ``file.py:attr``, in one place.

Env entry points (``agentgym.envs.deepsearch.env:DeepSearchEnv``), policy names
(:data:`agentgym.policies.POLICIES`), and the user's own rewards and judges on the command line
(``my_rewards:Brevity``, ``rewards.py``) all resolve through :func:`load_object`.
"""

from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path
from typing import Any

from agentgym.suggest import did_you_mean

__all__ = ["LoadError", "load_object"]


class LoadError(ValueError):
    """A reference that cannot be resolved; the message says what is wrong and suggests close names."""


def load_object(ref: str, *, file_attr: str | None = None) -> Any:
    """The object a reference names: ``module:attr``, ``file.py:attr`` or, with ``file_attr``, ``file.py``.

    ``attr`` may be dotted (``module:Class.method``). A file is executed as a fresh module each
    time it is loaded.

    Args:
        ref: The reference.
        file_attr: The attribute a bare ``file.py`` stands for (``None``: a bare file is refused).

    Returns:
        The object.

    Raises:
        LoadError: If the reference is malformed, the module or file cannot be imported, or it has
            no such attribute (with close names suggested).

    Examples:
        >>> load_object("agentgym.rewards.outcome:ExactMatch").__name__
        'ExactMatch'
        >>> load_object("agentgym.rewards.outcome:Exact")
        Traceback (most recent call last):
        ...
        agentgym.loading.LoadError: agentgym.rewards.outcome has no attribute 'Exact'. Did you mean \
'ExactMatch' or 'exact_match'?
        >>> load_object("os.path")
        Traceback (most recent call last):
        ...
        agentgym.loading.LoadError: 'os.path' is not MODULE:NAME or FILE.py:NAME
    """
    if file_attr is not None and ref.endswith(".py"):
        location, attr = ref, file_attr
    elif ":" in ref:
        location, attr = ref.rsplit(":", 1)
    else:
        shapes = "MODULE:NAME, FILE.py or FILE.py:NAME" if file_attr is not None else "MODULE:NAME or FILE.py:NAME"
        raise LoadError(f"{ref!r} is not {shapes}")
    if location.endswith(".py"):
        path = Path(location)
        if not path.is_file():
            raise LoadError(f"{location}: no such file")
        spec = importlib.util.spec_from_file_location(f"agentgym_user_{abs(hash(path.resolve()))}", path)
        module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
        try:
            spec.loader.exec_module(module)  # type: ignore[union-attr]
        except Exception as error:
            raise LoadError(f"cannot load {location}: {type(error).__name__}: {error}") from None
    else:
        try:
            module = importlib.import_module(location)
        except Exception as error:
            raise LoadError(f"cannot import {location}: {type(error).__name__}: {error}") from None
    obj: Any = module
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            public = [key for key in dir(obj) if not key.startswith("_")]
            raise LoadError(f"{location} has no attribute {attr!r}.{did_you_mean(part, public)}") from None
    return obj
