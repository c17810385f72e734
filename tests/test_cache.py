"""agentgym.cache: checksummed entries, atomic replacement, an unusable cache location."""

from __future__ import annotations

import os

import pytest

from agentgym import cache


def write_two(folder):
    (folder / "a.bin").write_bytes(b"alpha" * 100)
    (folder / "sub").mkdir()
    (folder / "sub" / "b.txt").write_text("beta")


def test_an_entry_is_found_only_while_every_file_is_intact(tmp_path):
    folder = cache.store(tmp_path / "kind" / "key", write_two, meta={"version": 3})
    assert folder == tmp_path / "kind" / "key" and cache.lookup(folder) == {"version": 3}
    (folder / "sub" / "b.txt").write_text("bet")  # truncated
    assert cache.lookup(folder) is None
    (folder / "sub" / "b.txt").write_text("beta")
    (folder / "a.bin").write_bytes(b"alphA" * 100)  # same size
    assert cache.lookup(folder) is None
    (folder / "a.bin").unlink()
    assert cache.lookup(folder) is None
    assert cache.lookup(tmp_path / "nowhere") is None


def test_storing_over_a_broken_entry_replaces_it_and_leaves_nothing_aside(tmp_path):
    folder = tmp_path / "key"
    folder.mkdir()
    (folder / "junk").write_text("a half-written entry from an older agentgym")
    cache.store(folder, write_two)
    assert cache.lookup(folder) == {} and not (folder / "junk").exists()
    assert os.listdir(tmp_path) == ["key"]
    (tmp_path / "file-in-the-way").write_text("x")
    cache.store(tmp_path / "file-in-the-way", write_two)
    assert cache.lookup(tmp_path / "file-in-the-way") == {}
    assert sorted(os.listdir(tmp_path)) == ["file-in-the-way", "key"]


def test_an_intact_entry_written_first_by_another_process_is_kept(tmp_path):
    folder = cache.store(tmp_path / "key", write_two, meta={"by": "first"})
    cache.store(folder, write_two, meta={"by": "second"})
    assert cache.lookup(folder) == {"by": "first"}


def test_big_entries_are_hashed_when_their_files_change(tmp_path, monkeypatch):
    monkeypatch.setattr(cache, "FULL_HASH_LIMIT", 10)  # every entry counts as big
    folder = cache.store(tmp_path / "key", write_two)
    assert cache.lookup(folder) == {}
    path = folder / "a.bin"
    stat = path.stat()
    path.write_bytes(b"alphA" * 100)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))  # any rewrite moves the mtime
    assert cache.lookup(folder) is None


def test_an_unusable_cache_location_warns_once_and_builds_in_a_temporary_folder(tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv(cache.CACHE_ENV, str(blocker))
    monkeypatch.setattr(cache, "_WARNED", set())
    with pytest.warns(cache.CacheWarning, match="Set AGENTGYM_CACHE to a writable directory"):
        folder = cache.store(cache.cache_root() / "kind" / "key", write_two)
    assert folder.name == "key" and not str(folder).startswith(str(blocker))
    assert cache.lookup(folder) == {} and (folder / "sub" / "b.txt").read_text() == "beta"
