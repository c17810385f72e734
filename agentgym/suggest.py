"""Spelling suggestions for error messages ("Did you mean ...?"), shared by every module that names things."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable

__all__ = ["did_you_mean"]


def did_you_mean(word: str, choices: Iterable[str], *, n: int = 3, key: Callable[[str], str] = str.lower) -> str:
    """A hint naming the choices closest to a misspelled name, for an error message.

    Names are compared through ``key`` (by default ignoring case) and shown as spelled. A name over
    100 characters gets no hint (difflib is quadratic in its length).

    Args:
        word: What the user wrote.
        choices: The valid names.
        n: At most this many suggestions.
        key: What of a name is compared.

    Returns:
        ``" Did you mean 'a' or 'b'?"`` (with a leading space, to append to a sentence), or ``""``.

    Examples:
        >>> did_you_mean("fromat", ["format", "outcome"])
        " Did you mean 'format'?"
        >>> did_you_mean("Chinok", ["chinook", "nycflights13"])
        " Did you mean 'chinook'?"
        >>> did_you_mean("xyz", ["format"])
        ''
    """
    word = str(word)
    if len(word) > 100:
        return ""
    spelled = {key(str(choice)): str(choice) for choice in choices}
    close = [spelled[match] for match in difflib.get_close_matches(key(word), spelled, n=n, cutoff=0.6)]
    return f" Did you mean {' or '.join(map(repr, close))}?" if close else ""


