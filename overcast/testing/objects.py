"""A storage node's own files for one object, read straight from its data directory, as
Swift's probe tests look at each node's disk rather than only through the proxy."""
from __future__ import annotations

from pathlib import Path

from agents.storage.diskfile import object_dir
from overcast.ring import Ring


def object_files(data_dir: Path, ring: Ring, account: str, container: str, obj: str
                 ) -> list[Path]:
    """The files (``<timestamp>.data``, ``.ts``, ``.meta``) of ``obj`` in ``data_dir``."""
    name_hash = ring.hash(account, container, obj)
    directory = object_dir(data_dir, ring.partition_of_hash(name_hash), name_hash)
    return sorted(directory.glob("*")) if directory.is_dir() else []
