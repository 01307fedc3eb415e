"""A guest's merged root written as a plain tar, as fast as the disk allows.

The tree is walked by a child process chrooted into the guest's root (``python -m
agents.compute.process.snapshot ROOT TARGET EXCLUDE_JSON``), never by the agent: a path the
guest controls is then resolved inside the guest, so a directory it swaps for a symlink to
``/run/secrets`` mid-walk reaches only its own files, frozen or not.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import BinaryIO

from agents.compute.process.cgroups import GuestCgroup
from agents.compute.process.disks import Disk, mount_root
from agents.compute.process.guests import GuestRecord, is_alive
from agents.compute.process.lifecycle import Launcher, unmount_all

SKIP = frozenset({".overcast"})  # the driver's own mount point for the init, not the guest's


def mount_points(pid: int) -> set[str]:
    """The guest's mount points other than its root, relative to its root."""
    points = set()
    for line in Path(f"/proc/{pid}/mountinfo").read_text().splitlines():
        point = line.split()[4].encode().decode("unicode_escape")
        if point != "/":
            points.add(point.lstrip("/"))
    return points


WRITE_TIMEOUT = 600.0


def write_tar(root: Path, target: Path, *, exclude: set[str] = frozenset()) -> None:
    """Archive the tree at ``root`` into ``target`` from a child chrooted into ``root`` (see
    the module docstring): the directories in ``exclude`` (mount points) are kept empty,
    symlinks are stored, never followed."""
    tmp = target.with_name(target.name + ".part")
    try:
        with open(tmp, "wb") as sink:
            done = subprocess.run(
                [sys.executable, "-m", "agents.compute.process.snapshot", str(root),
                 str(sink.fileno()), json.dumps(sorted(exclude))],
                pass_fds=(sink.fileno(),), stdin=subprocess.DEVNULL, capture_output=True,
                text=True, timeout=WRITE_TIMEOUT)
        if done.returncode != 0:
            raise OSError(f"the snapshot of {root} failed: {done.stderr.strip()[-400:]}")
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def _write_tree(root: Path, sink: BinaryIO, *, exclude: set[str]) -> None:
    """Archive ``root`` (inside the chroot: "/") into the open file ``sink``."""
    with tarfile.open(fileobj=sink, mode="w", format=tarfile.PAX_FORMAT) as tar:
        stack = [""]
        while stack:
            relative = stack.pop()
            folder = root / relative if relative else root
            with os.scandir(folder) as entries:
                children = sorted(entries, key=lambda entry: entry.name)
            for entry in children:
                name = f"{relative}/{entry.name}" if relative else entry.name
                if name in SKIP:
                    continue
                if entry.is_file(follow_symlinks=False) and name in exclude:
                    continue  # a file bind-mounted in by the driver
                tar.add(entry.path, arcname=name, recursive=False)
                if entry.is_dir(follow_symlinks=False) and name not in exclude:
                    stack.append(name)


def snapshot_guest(record: GuestRecord, disk: Disk, target: Path, *, launcher: Launcher,
                   cgroup: GuestCgroup, base_tree: Path) -> None:
    """Write the guest's merged root to ``target``: a running guest is frozen meanwhile and
    read through its init's /proc/<pid>/root; a stopped one's root is mounted for a moment."""
    if is_alive(record):
        was_frozen = bool(record.frozen)
        try:
            if not was_frozen:
                launcher.freeze(record, cgroup)  # a freeze that fails half way is thawed
            write_tar(Path(f"/proc/{record.pid}/root"), target,
                      exclude=mount_points(record.pid))
        finally:
            if not was_frozen:
                launcher.thaw(record, cgroup)
        return
    disk.merged.mkdir(exist_ok=True)
    mount_root(disk.root_spec(base_tree), disk.merged)
    try:
        write_tar(disk.merged, target)
    finally:
        unmount_all(disk.merged)


def main(argv: list[str]) -> int:
    """The child: chroot into ROOT, then write its tree to the inherited file descriptor."""
    root, fd, exclude = argv[0], int(argv[1]), set(json.loads(argv[2]))
    os.chroot(root)
    os.chdir("/")
    with os.fdopen(fd, "wb") as sink:
        _write_tree(Path("/"), sink, exclude=exclude)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
