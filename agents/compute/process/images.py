"""Base images: root filesystem archives, recognised by their bytes and unpacked safely once.

An image is a tar archive (plain, gzip, xz or bzip2) of a root filesystem that has
``bin/sh``. ``ImageCache.tree`` extracts each image once into ``<cache>/<key>/rootfs``, which
guests only ever use as the read-only lower layer of their overlay.
"""
from __future__ import annotations

import bz2
import copy
import gzip
import hashlib
import logging
import lzma
import os
import posixpath
import re
import shutil
import tarfile
import threading
import uuid
import zlib
from pathlib import Path

from agents.compute.driver import InvalidImage
from agents.compute.process.paths import resolve_in_root

logger = logging.getLogger(__name__)

_OPENERS = {"tar.gz": gzip.open, "tar.xz": lzma.open, "tar.bz2": bz2.open}
_MAGIC = ((b"\x1f\x8b", "tar.gz"), (b"\xfd7zXZ\x00", "tar.xz"), (b"BZh", "tar.bz2"))
_COMPRESSED_ERRORS = (OSError, EOFError, zlib.error, lzma.LZMAError, tarfile.TarError,
                      ValueError)


def _is_tar_header(block: bytes) -> bool:
    return len(block) >= 263 and block[257:262] == b"ustar"


def sniff(path: Path) -> str:
    """The archive's format (``tar``, ``tar.gz``, ``tar.xz``, ``tar.bz2``), from its bytes;
    raises ``InvalidImage`` for anything else."""
    with open(path, "rb") as raw:
        head = raw.read(512)
    if _is_tar_header(head):
        return "tar"
    for magic, kind in _MAGIC:
        if head.startswith(magic):
            try:
                with _OPENERS[kind](path, "rb") as stream:
                    inner = stream.read(512)
            except _COMPRESSED_ERRORS as exc:
                raise InvalidImage(f"the image is a corrupt {kind} file: {exc}") from None
            if _is_tar_header(inner):
                return kind
            raise InvalidImage(f"the image is {kind.split('.')[1]}-compressed but not a tar "
                               "archive of a root filesystem")
    if head.startswith(b"\x28\xb5\x2f\xfd"):
        raise InvalidImage("zstd-compressed archives are not supported; use gzip or xz")
    raise InvalidImage("the image is not a root filesystem archive (tar, tar.gz, tar.xz or "
                       "tar.bz2)")


def _clean_name(name: str) -> str:
    name = name.lstrip("/")
    while name.startswith("./"):
        name = name[2:].lstrip("/")
    normal = posixpath.normpath(name) if name else "."
    if normal == ".." or normal.startswith("../") or "/../" in f"/{name}/":
        raise InvalidImage(f"the archive's member {name!r} climbs out of the root")
    return normal


def _renamed(member: tarfile.TarInfo, name: str, *, linkname: str | None = None
             ) -> tarfile.TarInfo:
    """A copy of ``member`` under ``name`` (TarInfo.replace is only in Python 3.11.4+)."""
    renamed = copy.copy(member)
    renamed.name = name
    if linkname is not None:
        renamed.linkname = linkname
    return renamed


# Python 3.11.4+ warns unless an extraction filter is named; the members are already checked.
_TRUSTED = {"filter": "fully_trusted"} if hasattr(tarfile, "fully_trusted_filter") else {}


def _guard(root: Path, member: tarfile.TarInfo) -> tarfile.TarInfo | None:
    """The member to extract (renamed to a clean relative name), or None to skip it; raises
    ``InvalidImage`` for a member that would write outside ``root``."""
    if member.ischr() or member.isblk():
        return None  # the driver gives every guest its own /dev
    name = _clean_name(member.name)
    if name == ".":
        return None
    # Nothing is written through a symlink: every parent must be a real directory in root.
    real_parent = os.path.realpath(root / posixpath.dirname(name))
    if not (real_parent + "/").startswith(str(root) + "/") and real_parent != str(root):
        raise InvalidImage(f"the archive's member {name!r} is reached through a symlink")
    if member.islnk():
        link = _clean_name(member.linkname)
        source = root / link
        if source.is_symlink() or not source.is_file() or \
                not os.path.realpath(source).startswith(str(root) + "/"):
            raise InvalidImage(f"the archive's hard link {name!r} does not point at a file "
                               "inside the archive")
        member = _renamed(member, name, linkname=link)
    elif member.issym():
        target = member.linkname
        if not target.startswith("/"):
            joined = posixpath.normpath(posixpath.join(posixpath.dirname(name), target))
            if joined == ".." or joined.startswith("../"):
                raise InvalidImage(f"the archive's symlink {name!r} points out of the root")
        member = _renamed(member, name)
    else:
        member = _renamed(member, name)
    existing = root / name
    if existing.is_symlink() and not member.issym():
        existing.unlink()  # an archive may replace a symlink; never write through it
    return member


def extract(archive: Path, dest: Path) -> str:
    """Unpack ``archive`` into the new directory ``dest`` and return its format. Raises
    ``InvalidImage`` (leaving ``dest`` removed) for an unsafe archive or one without a
    shell."""
    kind = sniff(archive)
    dest.mkdir(parents=True)
    root = Path(os.path.realpath(dest))
    try:
        with tarfile.open(archive, "r:*") as tar:
            for member in tar:
                safe = _guard(root, member)
                if safe is not None:
                    tar.extract(safe, root, numeric_owner=True, **_TRUSTED)
        shell = resolve_in_root(root, "bin/sh")
        if not shell.is_file():
            raise InvalidImage("the archive has no bin/sh: a guest needs a shell to boot")
    except InvalidImage:
        shutil.rmtree(dest, ignore_errors=True)
        raise
    except _COMPRESSED_ERRORS as exc:
        shutil.rmtree(dest, ignore_errors=True)
        raise InvalidImage(f"the image archive cannot be read: {exc}") from None
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
