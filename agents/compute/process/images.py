"""Base images: root filesystem archives, recognised by their bytes and unpacked safely once.

An image is a tar archive (plain, gzip, xz or bzip2) of a root filesystem that has
``bin/sh``, checked and unpacked by ``overcast.archives``. ``ImageCache.tree`` extracts each
image once into ``<cache>/<key>/rootfs``, which guests only ever use as the read-only lower
layer of their overlay.
"""
from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
import threading
import uuid
from pathlib import Path

from agents.compute.driver import InvalidImage
from agents.compute.process.paths import resolve_in_root
from overcast import archives
from overcast.archives import ArchiveError

logger = logging.getLogger(__name__)


def _require_shell(root: Path) -> None:
    if not resolve_in_root(root, "bin/sh").is_file():
        raise ArchiveError("the archive has no bin/sh: a guest needs a shell to boot")


def extract(archive: Path, dest: Path) -> str:
    """Unpack ``archive`` into the new directory ``dest`` and return its format. Raises
    ``InvalidImage`` (leaving ``dest`` removed) for an unsafe archive or one without a
    shell (the checks are ``overcast.archives``')."""
    try:
        kind = archives.sniff(archive, name_unsupported=True)
    except ArchiveError as exc:
        raise InvalidImage(str(exc)) from None
    dest.mkdir(parents=True)
    try:
        # Member by member, as the cache always has: it runs as root, so a directory whose
        # mode is set as it comes still takes its files.
        archives.unpack(archive, dest, directories_last=False, check=_require_shell)
    except ArchiveError as exc:
        shutil.rmtree(dest, ignore_errors=True)
        raise InvalidImage(str(exc)) from None
    return kind


class ImageCache:
    """Extracted base images under ``root``, one tree per image key."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._lock = threading.Lock()

    @staticmethod
    def key_for(image_ref: str, archive: Path) -> str:
        """The cache key: the image id and the archive file's identity (size and time, so
        a new download of the same id is extracted anew), else the archive's digest."""
        if image_ref and re.fullmatch(r"[A-Za-z0-9._-]{1,128}", image_ref):
            stat = archive.stat()
            return f"{image_ref}-{stat.st_size:x}-{stat.st_mtime_ns:x}"
        digest = hashlib.sha256()
        with open(archive, "rb") as data:
            for block in iter(lambda: data.read(1 << 20), b""):
                digest.update(block)
        return digest.hexdigest()

    def tree(self, key: str, archive: Path) -> Path:
        """The extracted root tree of image ``key``, extracting ``archive`` the first time."""
        final = self.root / key / "rootfs"
        with self._lock:
            if final.is_dir():
                return final
            # Root only: the trees keep their setuid files, which no local user of the
            # hypervisor may reach (guests see them through their overlay, not this path).
            self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
            os.chmod(self.root, 0o700)
            staging = self.root / f".{key}.{uuid.uuid4().hex}"
            try:
                kind = extract(archive, staging / "rootfs")
                (staging / "format").write_text(kind)
                final.parent.parent.mkdir(parents=True, exist_ok=True)
                try:
                    os.rename(staging, final.parent)
                except OSError:
                    if not final.is_dir():  # not another host's extraction that won the race
                        raise
            finally:
                shutil.rmtree(staging, ignore_errors=True)
            logger.info("image %s extracted into the cache (%s)", key, kind)
            return final
