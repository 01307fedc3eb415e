"""Paths inside a guest's root tree, resolved as the guest would (symlinks stay inside).

A guest's root filesystem comes from a user's archive, so any of its symlinks may point at
``/`` or climb with ``..``; the host must never follow one out of the tree.
"""
from __future__ import annotations

import os
import stat
from pathlib import Path

MAX_LINKS = 40


class EscapesRoot(ValueError):
    """A path inside the guest tree cannot be resolved within it."""


def resolve_in_root(root: Path, path: str) -> Path:
    """``path`` (absolute or relative to the guest's /) resolved inside ``root`` as a chroot
    would: absolute symlink targets restart at ``root`` and ``..`` stops at it. The last
    component need not exist."""
    parts = [p for p in path.split("/") if p not in ("", ".")]
    resolved: list[str] = []
    links = 0
    while parts:
        part = parts.pop(0)
        if part == "..":
            if resolved:
                resolved.pop()
            continue
        candidate = root.joinpath(*resolved, part)
        try:
            mode = os.lstat(candidate).st_mode
        except FileNotFoundError:
            resolved.append(part)
            continue
        if stat.S_ISLNK(mode):
            links += 1
            if links > MAX_LINKS:
                raise EscapesRoot(f"too many symlinks resolving {path}")
            target = os.readlink(candidate)
            if target.startswith("/"):
                resolved = []
            parts = [p for p in target.split("/") if p not in ("", ".")] + parts
            continue
        resolved.append(part)
    return root.joinpath(*resolved)


def mount_point(root: Path, path: str, *, is_file: bool = False) -> Path:
    """A directory (or, with ``is_file``, an empty file) at ``path`` inside ``root`` to mount
    over, made when missing; raises ``EscapesRoot`` when something else is in the way."""
    target = resolve_in_root(root, path)
    parent = resolve_in_root(root, str(target.relative_to(root).parent))
    parent.mkdir(parents=True, exist_ok=True)
    if is_file:
        if not target.exists():
            target.touch()
        if not target.is_file():
            raise EscapesRoot(f"{path} in the guest is not a file")
    else:
        target.mkdir(exist_ok=True)
        if not target.is_dir():
            raise EscapesRoot(f"{path} in the guest is not a directory")
    return target
