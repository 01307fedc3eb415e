"""What a node answers to its peers' replicators: suffix hashes, file lists, pushed files."""
from __future__ import annotations

import asyncio
import logging
import os
import re
from collections.abc import AsyncIterator

from agents.storage import hashes
from agents.storage.diskfile import EXTENSIONS, DiskStore, ObjectWriter
from overcast import errors

logger = logging.getLogger(__name__)

_HASH = re.compile(r"^[0-9a-f]{32}$")
_NAME = re.compile(r"^\d{10,}\.\d{5}\.(data|ts|meta)$")


class ReplicationManager:
    def __init__(self, store: DiskStore) -> None:
        self.store = store

    def partition_hashes(self, partitions: list[int]) -> dict[int, dict[str, str]]:
        """Suffix hashes of those of ``partitions`` this node holds (blocking)."""
        found = {}
        for part in partitions:
            directory = self.store.partition_dir(part)
            if directory.is_dir():
                found[part] = hashes.get_hashes(directory, self.store.cleanup)
        return found

    def list_suffixes(self, part: int, suffixes: list[str]) -> dict[str, list[str]]:
        """``{hash: files}`` under the suffixes (after cleanup) (blocking)."""
        found: dict[str, list[str]] = {}
        for suffix in suffixes:
            suffix_dir = self.store.partition_dir(part) / suffix
            try:
                names = os.listdir(suffix_dir)
            except FileNotFoundError:
                continue
            for name_hash in names:
                files = self.store.cleanup(suffix_dir / name_hash)
                if files:
                    found[name_hash] = files
        return found

    async def receive(self, events: AsyncIterator[tuple[int, str, str] | bytes]) -> int:
        """Store the files a peer pushes; the number stored."""
        writer: ObjectWriter | None = None
        name = ""
        received = 0
        try:
            async for event in events:
                if isinstance(event, tuple):
                    if writer is not None:
                        await asyncio.to_thread(writer.commit, name, None)
                        received += 1
                    part, name_hash, name = event
                    if not _HASH.match(name_hash) or not _NAME.match(name):
                        raise errors.BadRequest(f"Bad replicated file {name_hash}/{name}.")
                    writer = ObjectWriter(self.store, part, name_hash, checksum=False)
                elif writer is None:
                    raise errors.BadRequest("File data before its header.")
                else:
                    writer.write(event)
            if writer is not None:
                await asyncio.to_thread(writer.commit, name, None)
                received += 1
                writer = None
        finally:
            if writer is not None:
                writer.abort()
        return received


def newest(files: list[str], exts: tuple[str, ...] = (".data", ".ts")) -> str:
    """The newest timestamp among ``files`` with one of ``exts`` ("" if none)."""
    stamps = [f.rsplit(".", 1)[0] for f in files if f.endswith(exts)]
    return max(stamps, default="")


def files_to_send(local: list[str], remote: list[str]) -> list[str]:
    """The local files a peer lacks: those newer than its newest data or tombstone (and
    metadata newer than its newest metadata)."""
    have = set(remote)
    remote_newest = newest(remote)
    remote_meta = newest(remote, (".meta",))
    send = []
    for name in local:
        if name in have or not name.endswith(EXTENSIONS):
            continue
        stamp = name.rsplit(".", 1)[0]
        if name.endswith(".meta"):
            if stamp > remote_meta and stamp > remote_newest:
                send.append(name)
        elif stamp > remote_newest:
            send.append(name)
    return send
