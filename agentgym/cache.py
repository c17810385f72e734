"""agentgym's on-disk cache: where it lives, and how an entry is written, checked and replaced.

Everything agentgym builds once and reuses lives under :func:`cache_root` (``$AGENTGYM_CACHE``,
default ``~/.cache/agentgym``): BM25 indexes (``index/``), sentence embeddings (``dense/``), DuckDB
databases (``text2sql/``) and converted models (``models/``). An *entry* is one folder, named by a
hash of what it was built from, holding the built files and a manifest (:data:`MANIFEST`) with the
size and SHA-256 of each file plus the builder's own metadata.

- :func:`store` writes an entry into a fresh temporary folder next to its place, writes the
  manifest last, then renames the folder into place, so a reader never sees half an entry. A
  broken entry already there is moved aside first (a rename cannot replace a non-empty folder)
  and deleted after.
- :func:`lookup` returns an entry's metadata only when the manifest is there and every file it lists
  has its recorded size and checksum; otherwise ``None``, and the caller rebuilds and stores again
  (which replaces the broken entry on disk).
- When the cache cannot be written (``AGENTGYM_CACHE`` names a file, a read-only folder...),
  :func:`store` warns once with a :class:`CacheWarning` saying so, and writes the entry into a
  private temporary folder instead: everything works, only without reuse across processes.

Examples:
    >>> import tempfile
    >>> from pathlib import Path
    >>> root = Path(tempfile.mkdtemp())
    >>> folder = store(root / "demo" / "abc", lambda tmp: (tmp / "data.txt").write_text("hello"), meta={"n": 1})
    >>> lookup(folder)
    {'n': 1}
    >>> _ = (folder / "data.txt").write_text("jello")  # same size, other bytes
    >>> lookup(folder) is None
    True
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import uuid
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

__all__ = ["CACHE_ENV", "MANIFEST", "CacheWarning", "cache_root", "lookup", "remove", "store"]

#: The environment variable that moves the cache.
CACHE_ENV = "AGENTGYM_CACHE"

#: The file in each entry folder listing its files, their sizes and checksums, and its metadata.
MANIFEST = "agentgym-cache.json"

_FORMAT = "agentgym.cache/1"

# Checking an entry hashes every file it lists, once per process and per state of the files (a
# stat() tells a later look-up nothing changed). SHA-256 runs at ~1 GB/s here (SHA-NI): the 5.5 MB
# Factbook BM25 index costs ~6 ms on a ~15 ms load, and a 5 MB DuckDB file ~5 ms. Bigger entries
# (a converted model is ~540 MB: half a second) are hashed only when a file's size or modification
# time differs from the manifest's, which any rewrite, truncation or garbling through the file
# system changes.
FULL_HASH_LIMIT = 64 << 20

_VERIFIED: set[tuple[Any, ...]] = set()
_WARNED: set[str] = set()


class CacheWarning(UserWarning):
    """The cache could not be written: entries are built into a temporary folder instead."""


def cache_root() -> Path:
    """The cache directory: ``$AGENTGYM_CACHE`` or ``~/.cache/agentgym`` (it may not exist yet).

    Examples:
        >>> import os
        >>> saved = os.environ.get("AGENTGYM_CACHE")
        >>> os.environ["AGENTGYM_CACHE"] = "/tmp/agcache"
        >>> str(cache_root() / "models")
        '/tmp/agcache/models'
        >>> _ = os.environ.pop("AGENTGYM_CACHE") if saved is None else os.environ.update(AGENTGYM_CACHE=saved)
    """
    value = os.environ.get(CACHE_ENV)
    return Path(value).expanduser() if value else Path.home() / ".cache" / "agentgym"


def lookup(folder: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The metadata of an intact cache entry, or ``None`` when it is missing or broken.

    An entry is intact when its manifest reads and every file it lists exists with the recorded
    size and SHA-256 (see :data:`FULL_HASH_LIMIT` for when the hash is skipped).

    Args:
        folder: The entry's folder.

    Returns:
        The ``meta`` given to :func:`store`, or ``None``.
    """
    folder = Path(folder)
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        if manifest.get("format") != _FORMAT:
            return None
        files: dict[str, dict[str, Any]] = manifest["files"]
        states = tuple(sorted((name, _state(folder / name)) for name in files))
        if (str(folder), states) in _VERIFIED:
            return dict(manifest["meta"])
        total = sum(int(entry["size"]) for entry in files.values())
        for (name, (size, mtime_ns, _)), entry in zip(states, (files[name] for name, _ in states), strict=True):
            if size != entry["size"]:
                return None
            if total <= FULL_HASH_LIMIT or mtime_ns != entry["mtime_ns"]:
                if _sha256(folder / name) != entry["sha256"]:
                    return None
        _VERIFIED.add((str(folder), states))
        return dict(manifest["meta"])
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def store(
    folder: str | os.PathLike[str],
    write: Callable[[Path], Any],
    *,
    meta: Mapping[str, Any] | None = None,
) -> Path:
    """Build a cache entry with ``write(temporary folder)`` and put it in place atomically.

    The manifest (sizes, checksums, ``meta``) is written after ``write`` returns, then the folder
    is renamed to ``folder``. An entry already there that :func:`lookup` accepts (another process
    was faster) is kept; a broken one is replaced.

    Args:
        folder: Where the entry goes.
        write: Fills the folder it is given.
        meta: JSON data returned by :func:`lookup` (what the entry was built from).

    Returns:
        ``folder``; or, when the cache cannot be written, a private temporary folder holding the
        entry (a :class:`CacheWarning` says why, once per cache location).
    """
    folder = Path(folder)
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
    except OSError as error:
        return _store_elsewhere(folder, write, meta, error)
    try:
        _fill(staging, write, meta)
        _move_into_place(staging, folder)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return folder


def remove(folder: str | os.PathLike[str]) -> None:
    """Delete an entry (a missing one is fine); it is renamed away first, so readers never see it half gone."""
    folder = Path(folder)
    trash = folder.with_name(f".{folder.name}-trash-{uuid.uuid4().hex[:8]}")
    try:
        os.rename(folder, trash)
    except OSError:
        return
    if trash.is_dir():
        shutil.rmtree(trash, ignore_errors=True)
    else:
        trash.unlink(missing_ok=True)


def _fill(staging: Path, write: Callable[[Path], Any], meta: Mapping[str, Any] | None) -> None:
    write(staging)
    staging.chmod(0o755)  # mkdtemp makes it private; the cache is an ordinary shared folder
    files = {}
    for path in sorted(staging.rglob("*")):
        if path.is_file() and path.name != MANIFEST:
            size, mtime_ns, _ = _state(path)
            files[path.relative_to(staging).as_posix()] = {"size": size, "mtime_ns": mtime_ns, "sha256": _sha256(path)}
    manifest = {"format": _FORMAT, "meta": dict(meta or {}), "files": files}
    (staging / MANIFEST).write_text(json.dumps(manifest, indent=1), encoding="utf-8")


def _move_into_place(staging: Path, folder: Path) -> None:
    try:
        os.rename(staging, folder)  # succeeds when nothing (or an empty folder) is there
        return
    except OSError:
        if lookup(folder) is not None:  # another process stored the same entry first
            return
    remove(folder)  # broken: move it aside, then put ours in its place
    try:
        os.rename(staging, folder)
    except OSError:
        if lookup(folder) is None:  # lost a race to another writer: fine if theirs is intact
            raise


def _store_elsewhere(
    folder: Path, write: Callable[[Path], Any], meta: Mapping[str, Any] | None, error: OSError
) -> Path:
    root = cache_root()
    if str(root) not in _WARNED:
        _WARNED.add(str(root))
        warnings.warn(
            f"agentgym cannot write its cache at {folder.parent} ({error.strerror or error}); "
            f"building in a temporary folder instead, so nothing is reused across runs. "
            f"Set {CACHE_ENV} to a writable directory (now {os.environ.get(CACHE_ENV, '(unset)')!r}).",
            CacheWarning,
            stacklevel=3,
        )
    staging = Path(tempfile.mkdtemp(prefix="agentgym-cache-")) / folder.name
    staging.mkdir()
    _fill(staging, write, meta)
    return staging


def _state(path: Path) -> tuple[int, int, int]:
    stat = os.stat(path)
    return stat.st_size, stat.st_mtime_ns, stat.st_ino


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()

