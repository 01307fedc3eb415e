"""Suffix hashes: the hash tree replicators compare to find what differs between replicas.

A partition's objects sit in suffix directories (the last three hex digits of the name hash).
Each suffix has a hash of the names of the files it holds after cleanup, so two replicas with
the same files have the same suffix hashes, and a replicator only looks inside suffixes whose
hashes differ. Hashes are cached in ``<partition>/hashes.json``; every write appends its
suffix to ``hashes.invalid`` under the partition lock, and the next reader rehashes just
those. The lock makes this safe between processes (a node and a ``once`` run beside it).
"""
from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import orjson

HASHES = "hashes.json"
INVALID = "hashes.invalid"
LOCK = ".lock"


@contextlib.contextmanager
def locked(partition_dir: Path) -> Iterator[None]:
    fd = os.open(partition_dir / LOCK, os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def invalidate(partition_dir: Path, suffix: str) -> None:
    """Record that ``suffix`` changed, so its hash is computed again."""
    try:
        with locked(partition_dir):
            fd = os.open(partition_dir / INVALID, os.O_WRONLY | os.O_CREAT | os.O_APPEND,
                         0o644)
            try:
                os.write(fd, suffix.encode() + b"\n")
            finally:
                os.close(fd)
    except FileNotFoundError:
        pass  # the partition went away; nothing to hash


def suffix_hash(suffix_dir: Path, cleanup: Callable[[Path], list[str]]) -> str | None:
    """The hash of a suffix's files after cleanup; None when it holds nothing."""
    try:
        hash_names = sorted(os.listdir(suffix_dir))
    except FileNotFoundError:
        return None
    md5 = hashlib.md5(usedforsecurity=False)
    found = False
    for name_hash in hash_names:
        files = cleanup(suffix_dir / name_hash)
        if files:
            found = True
            md5.update(name_hash.encode() + b":" + ",".join(sorted(files)).encode() + b";")
    if not found:
        with contextlib.suppress(OSError):
            os.rmdir(suffix_dir)
        return None
    return md5.hexdigest()


def get_hashes(partition_dir: Path, cleanup: Callable[[Path], list[str]], *,
               recalculate: bool = False) -> dict[str, str]:
    """``{suffix: hash}`` for every suffix of the partition that holds files."""
    if not partition_dir.is_dir():
        return {}
    with locked(partition_dir):
        cached: dict[str, str] | None = None
        if not recalculate:
            try:
                cached = orjson.loads((partition_dir / HASHES).read_bytes())
            except (FileNotFoundError, orjson.JSONDecodeError):
                cached = None
        try:
            invalid = set((partition_dir / INVALID).read_text().split())
        except FileNotFoundError:
            invalid = set()
        if cached is None:
            suffixes = [s for s in os.listdir(partition_dir) if len(s) == 3]
            result: dict[str, str] = {}
            todo = set(suffixes)
        else:
            result = dict(cached)
            todo = invalid
        if cached is not None and not todo:
            return result
        for suffix in todo:
            value = suffix_hash(partition_dir / suffix, cleanup)
            if value is None:
                result.pop(suffix, None)
            else:
                result[suffix] = value
        tmp = partition_dir / f".{HASHES}.{os.getpid()}"
        tmp.write_bytes(orjson.dumps(result))
        os.replace(tmp, partition_dir / HASHES)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(partition_dir / INVALID)
        return result
