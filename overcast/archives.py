"""Root filesystem archives: tar (plain, gzip, xz or bzip2) told by their bytes, unpacked safely.

What the compute agent's image cache and the volume service's backend share. ``sniff`` names
an archive's format from its bytes, never its name; ``unpack`` extracts it into a directory,
checking each member against the tree extracted so far, so that nothing is written outside
that directory: no ``..`` out of it (a leading ``/`` is dropped, as tar does), nothing
written through or reached via a symlink, symlinks whose relative target climbs out refused,
hard links only to files already inside, device nodes skipped. Every refusal is an
``ArchiveError`` whose message says what is wrong, for a caller to raise as its own error.
"""
from __future__ import annotations

import bz2
import copy
import gzip
import lzma
import os
import posixpath
import tarfile
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

FORMATS = ("tar", "tar.gz", "tar.xz", "tar.bz2")
# The first bytes of each compressed format (a plain tar is told by TAR_MAGIC at TAR_MAGIC_AT).
MAGIC: dict[str, bytes] = {"tar.gz": b"\x1f\x8b", "tar.xz": b"\xfd7zXZ\x00", "tar.bz2": b"BZh"}
TAR_MAGIC_AT = 257  # "ustar" in a POSIX or GNU tar header
TAR_MAGIC = b"ustar"
_OPENERS: dict[str, Callable[..., object]] = {"tar.gz": gzip.open, "tar.xz": lzma.open,
                                              "tar.bz2": bz2.open}
# Compressed formats recognised only to be refused by name (``sniff(name_unsupported=True)``).
_UNSUPPORTED = ((b"\x28\xb5\x2f\xfd", "zstd-compressed archives are not supported; use gzip "
                                      "or xz"),)
# What reading a damaged archive raises (tarfile and the decompressors are not consistent).
_READ_ERRORS = (OSError, EOFError, zlib.error, lzma.LZMAError, tarfile.TarError, ValueError)
# Python 3.11.4+ warns unless an extraction filter is named; members are checked by _checked.
_TRUSTED = {"filter": "fully_trusted"} if hasattr(tarfile, "fully_trusted_filter") else {}
_BLOCK = 4096  # what a file takes at least in the filesystem a tree is put in (ext4's block)
_GIB = 1 << 30


class ArchiveError(ValueError):
    """The file is no root filesystem archive, cannot be read, is unsafe or too big (the
    message says which, in words fit for the user who supplied the image)."""


def is_tar_header(block: bytes) -> bool:
    """Whether ``block`` starts with a POSIX or GNU tar header."""
    return len(block) >= TAR_MAGIC_AT + 6 and \
        block[TAR_MAGIC_AT:TAR_MAGIC_AT + len(TAR_MAGIC)] == TAR_MAGIC


def sniff(path: Path, *, name_unsupported: bool = False) -> str:
    """The archive format of file ``path`` (one of ``FORMATS``) from its bytes; an
    ``ArchiveError`` for anything else (``OSError`` when the file cannot be opened). With
    ``name_unsupported`` the refusal of a zstd-compressed file says so, rather than that it
    is no archive."""
    with open(path, "rb") as raw:
        head = raw.read(512)
    if is_tar_header(head):
        return "tar"
    for kind, magic in MAGIC.items():
        if head.startswith(magic):
            try:
                with _OPENERS[kind](path, "rb") as stream:  # type: ignore[attr-defined]
                    inner = stream.read(512)
            except _READ_ERRORS as exc:
                raise ArchiveError(f"the image is a corrupt {kind} file: {exc}") from None
            if is_tar_header(inner):
                return kind
            raise ArchiveError(f"the image is {kind.split('.')[1]}-compressed but not a tar "
                               "archive of a root filesystem")
    if name_unsupported:
        for magic, refusal in _UNSUPPORTED:
            if head.startswith(magic):
                raise ArchiveError(refusal)
    raise ArchiveError("the image is not a root filesystem archive (tar, tar.gz, tar.xz or "
                       "tar.bz2)")


def clean_name(name: str) -> str:
    """``name`` relative to the archive's root (a leading ``/`` and ``./`` dropped, as tar
    does; ``.`` for the root itself); ``ArchiveError`` when it climbs out with ``..``."""
    name = name.lstrip("/")
    while name.startswith("./"):
        name = name[2:].lstrip("/")
    normal = posixpath.normpath(name) if name else "."
    if normal == ".." or normal.startswith("../") or "/../" in f"/{name}/":
        raise ArchiveError(f"the archive's member {name!r} climbs out of the root")
    return normal


def _renamed(member: tarfile.TarInfo, name: str, *, linkname: str | None = None
             ) -> tarfile.TarInfo:
    """A copy of ``member`` under ``name`` (TarInfo.replace is only in Python 3.11.4+)."""
    renamed = copy.copy(member)
    renamed.name = name
    if linkname is not None:
        renamed.linkname = linkname
    return renamed


def _checked(root: Path, member: tarfile.TarInfo) -> tarfile.TarInfo | None:
    """A copy of ``member`` under a clean relative name to extract into ``root`` (the real
    path of the tree so far), or None to skip it (device nodes, the root itself);
    ``ArchiveError`` for a member that would write outside ``root`` or link out of it."""
    if member.ischr() or member.isblk():
        return None  # a guest gets its own /dev from its driver; a data volume holds none
    name = clean_name(member.name)
    if name == ".":
        return None
    # Nothing is written through a symlink: every parent must be a real directory in root.
    real_parent = os.path.realpath(root / posixpath.dirname(name))
    if real_parent != str(root) and not real_parent.startswith(f"{root}/"):
        raise ArchiveError(f"the archive's member {name!r} is reached through a symlink")
    if member.islnk():
        link = clean_name(member.linkname)
        source = root / link
        if source.is_symlink() or not source.is_file() or \
                not os.path.realpath(source).startswith(f"{root}/"):
            raise ArchiveError(f"the archive's hard link {name!r} does not point at a file "
                               "inside the archive")
        safe = _renamed(member, name, linkname=link)
    else:
        if member.issym() and not member.linkname.startswith("/"):
            # Absolute targets are resolved inside the tree by whoever uses it (a chroot, a
            # mount); relative ones must not climb above its root.
            joined = posixpath.normpath(posixpath.join(posixpath.dirname(name),
                                                       member.linkname))
            if joined == ".." or joined.startswith("../"):
                raise ArchiveError(f"the archive's symlink {name!r} points out of the root")
        safe = _renamed(member, name)
    existing = root / name
    if existing.is_dir() and not existing.is_symlink() and not member.isdir():
        # tarfile would follow a symlink replacing its own directory round and round.
        raise ArchiveError(f"the archive's member {name!r} replaces a directory")
    if os.path.lexists(existing) and not existing.is_dir() and not member.issym():
        # An archive may replace what it wrote; never write through a symlink, and never
        # open a FIFO it made (the open would wait for a reader forever).
        existing.unlink()
    return safe


def _size(count: int) -> str:
    return f"{count // _GIB} GiB" if count % _GIB == 0 else f"{count} bytes"


def _members(tar: tarfile.TarFile, root: Path, max_bytes: int | None
             ) -> Iterator[tarfile.TarInfo]:
    """The members of ``tar`` to extract into ``root``, each checked when the previous ones
    are extracted (so each check sees the tree so far)."""
    total = 0
    for member in tar:
        if max_bytes is not None:
            total += -(-max(member.size, 1) // _BLOCK) * _BLOCK
            if total > max_bytes:
                raise ArchiveError(f"the image's tree does not fit in {_size(max_bytes)}")
        safe = _checked(root, member)
        if safe is not None:
            yield safe


def unpack(archive: Path, dest: Path, *, max_bytes: int | None = None,
           directories_last: bool = True, check: Callable[[Path], None] | None = None
           ) -> None:
    """Extract the tar archive ``archive`` (any of ``FORMATS``) into the existing directory
    ``dest``, keeping modes and numeric owners; ``ArchiveError`` when it cannot be read or a
    member is unsafe (see the module's docstring). On error ``dest`` may hold part of the
    tree: removing it is the caller's choice.

    ``max_bytes``: refuse the archive once its members add up to more (each counted in
    whole 4 KiB blocks, at least one), checked from the headers before each member is
    written, so that a small compressed archive cannot fill the disk.
    ``directories_last``: set directories' modes, owners and times after their contents
    (as ``tar`` does: a read-only directory still gets its files without root, and
    directories keep the archive's times); False extracts each member whole as it comes.
    ``check``: called with ``dest``'s real path once the tree is extracted; an
    ``ArchiveError`` it raises refuses the archive, and so does an ``OSError`` or a
    ``ValueError`` (as one raised while reading the archive does: "cannot be read").
    """
    root = Path(os.path.realpath(dest))
    try:
        with tarfile.open(archive, "r:*") as tar:
            members = _members(tar, root, max_bytes)
            if directories_last:
                tar.extractall(root, members=members, numeric_owner=True, **_TRUSTED)
            else:
                for safe in members:
                    tar.extract(safe, root, numeric_owner=True, **_TRUSTED)
        if check is not None:
            check(root)
    except ArchiveError:
        raise
    except _READ_ERRORS as exc:
        raise ArchiveError(f"the image archive cannot be read: {exc}") from None
