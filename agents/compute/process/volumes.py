"""A guest's volumes on the host: files of the shared volumes directory, each mounted
through a loop device (``loop.py``).

A data volume is mounted at ``<disk>/volumes/<name>``, inside the shared bind mount the
guest sees at ``/mnt/volumes``, so it appears in the running guest at
``/mnt/volumes/<name>`` (and its unmount too). A root volume is mounted at
``<disk>/volume-root``, which ``boot`` binds as the guest's root. Every mount is
``nodev,nosuid``: nothing on a volume can be a device node or a setuid program of the host.
The mount point is opened without following links and mounted on through its descriptor, so
a guest that swaps ``/mnt/volumes/<name>`` for a symlink cannot have the host mount (or
unmount) anywhere else.

What is mounted is read from ``/proc/self/mountinfo``, never remembered, so a restarted
agent releases exactly what is there. These are blocking calls; the driver runs them in a
thread.
"""
from __future__ import annotations

import contextlib
import dataclasses
import errno
import os
import re
import stat
import threading
import time
from collections.abc import Collection, Iterable
from pathlib import Path

from agents.compute.contract import BlockDevice
from agents.compute.driver import VolumeError, checked_mount_name
from agents.compute.process import loop, syscalls
from agents.compute.process.disks import Disk
from services.volume.contract import ConnectionInfo

FS_TYPES = frozenset({"ext4"})  # what a host mounts from a volume (never what it is told)
CLEAR_WAIT = 5.0  # how long a loop device of the same file may take to clear
_file_locks: dict[str, threading.Lock] = {}
_file_locks_lock = threading.Lock()


def _file_lock(file_name: str) -> threading.Lock:
    """One attach of a file at a time in this process (two guests asking for one volume
    would both find it unused, and both mount it)."""
    with _file_locks_lock:
        return _file_locks.setdefault(file_name, threading.Lock())


@dataclasses.dataclass(frozen=True)
class Mount:
    target: Path             # where it is mounted (resolved)
    device: tuple[int, int]  # the block device mounted (major, minor)
    backing: str | None      # the name of the file its loop device backs; None: not a loop


def target(disk: Disk, block_device: BlockDevice) -> Path:
    """Where the volume is mounted on the host."""
    if block_device.is_root:
        return disk.volume_root
    return disk.volumes / checked_mount_name(block_device)


def _resolved(path: Path) -> Path:
    """``path`` as mountinfo shows it: its directory resolved, itself not followed."""
    return path.parent.resolve() / path.name


def _unescape(field: str) -> str:
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)


def mounts(disk: Disk) -> list[Mount]:
    """The guest's volume mounts now, from ``/proc/self/mountinfo``: whatever is mounted at
    ``<disk>/volume-root`` or directly under ``<disk>/volumes`` (the volumes directory's
    own bind mount is not one)."""
    base = disk.path.resolve()
    root, data = base / disk.volume_root.name, base / disk.volumes.name
    found = []
    with open("/proc/self/mountinfo") as table:
        for line in table:
            fields = line.split()
            point = Path(_unescape(fields[4]))
            if point == root or point.parent == data:
                major, minor = (int(n) for n in fields[2].split(":"))
                found.append(Mount(point, (major, minor), loop.backs(major, minor)))
    return found


def _open_mount_point(disk: Disk, block_device: BlockDevice) -> int:
    """An ``O_PATH`` descriptor of the volume's mount point, made when missing, never
    through a symlink; ``VolumeError`` when the guest put something else there."""
    where = target(disk, block_device)
    where.parent.mkdir(parents=True, exist_ok=True)
    parent = os.open(where.parent, os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        with contextlib.suppress(FileExistsError):
            os.mkdir(where.name, 0o755, dir_fd=parent)
        try:
            fd = os.open(where.name, os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC,
                         dir_fd=parent)
        except OSError as exc:  # ENOTDIR: a file or a symlink the guest made there
            raise VolumeError(f"/mnt/volumes/{where.name} in the guest is not a directory"
                              ) from exc
    finally:
        os.close(parent)
    if not stat.S_ISDIR(os.fstat(fd).st_mode):
        os.close(fd)
        raise VolumeError(f"{where} is not a directory")
    return fd


def _wait_unused(file_name: str) -> None:
    """Wait for loop devices still backing ``file_name`` (a guest released a moment ago, on
    this host or another on this kernel) to clear; ``VolumeError`` if one stays: the
    filesystem is mounted elsewhere, and a second mount would corrupt it."""
    deadline = time.monotonic() + CLEAR_WAIT
    while devices := loop.devices_backing(file_name):
        if time.monotonic() > deadline:
            raise VolumeError(f"{file_name} is in use on this machine ({', '.join(devices)})")
        time.sleep(0.05)


def attach(disk: Disk, block_device: BlockDevice, connection: ConnectionInfo,
           volumes_dir: Path) -> None:
    """Mount the volume for the guest (see the module docstring). Idempotent: the same
    file already mounted there is fine. ``VolumeError`` when it cannot be mounted."""
    file_name = connection.checked_file_name()
    if connection.fs_type not in FS_TYPES:
        raise VolumeError(f"unsupported volume filesystem {connection.fs_type[:32]!r}")
    where = _resolved(target(disk, block_device))
    current = mounts(disk)
    if any(m.target == where and m.backing == file_name for m in current):
        return
    if any(m.target == where for m in current):
        raise VolumeError(f"another filesystem is mounted at {where}")
    if any(m.backing == file_name for m in current):
        raise VolumeError(f"volume {block_device.volume_id} is attached under another name")
    file = volumes_dir / file_name
    if not file.is_file():
        raise VolumeError(f"the file of volume {block_device.volume_id} is missing")
    flags = syscalls.MS_NODEV | syscalls.MS_NOSUID | \
        (syscalls.MS_RDONLY if connection.read_only else 0)
    with _file_lock(file_name):
        _wait_unused(file_name)
        point = _open_mount_point(disk, block_device)
        try:
            with loop.attached(file, read_only=connection.read_only) as device:
                syscalls.mount(device, f"/proc/self/fd/{point}", connection.fs_type, flags)
        except OSError as exc:
            raise VolumeError(f"volume {block_device.volume_id} could not be mounted: "
                              f"{exc.strerror or exc}") from exc
        finally:
            os.close(point)


def attach_all(disk: Disk, attached: Iterable[tuple[BlockDevice, ConnectionInfo]],
               volumes_dir: Path) -> None:
    """Mount every volume of the guest (before it starts); on failure none stays mounted."""
    try:
        for block_device, connection in attached:
            attach(disk, block_device, connection, volumes_dir)
    except BaseException:
        release_all(disk)
        raise


def _unmount(point: Path) -> None:
    """Unmount; lazily when busy (a guest process in it). Never through a symlink."""
    try:
        syscalls.umount(str(point), detach=False, nofollow=True)
    except OSError as exc:
        if exc.errno == errno.EBUSY:
            syscalls.umount(str(point), detach=True, nofollow=True)
        elif exc.errno not in (errno.EINVAL, errno.ENOENT):  # not mounted any more
            raise


def detach(disk: Disk, block_device: BlockDevice, file_name: str) -> None:
    """Unmount the volume (the file ``file_name``) from the guest and drop its mount point.
    Idempotent. A mount a guest process is in is detached lazily; ``VolumeError`` when
    the filesystem is still held after ``CLEAR_WAIT`` (it must not be mounted elsewhere
    yet: a later detach succeeds once the guest lets go of it)."""
    where = _resolved(target(disk, block_device))
    ours = [m for m in mounts(disk)
            if m.backing == file_name or (m.backing is None and m.target == where)]
    for mount in ours:
        _unmount(mount.target)
    if not block_device.is_root:
        with contextlib.suppress(OSError):  # something the guest left in it: keep it
            os.rmdir(where)
    try:
        # Also when nothing was mounted: an earlier lazy unmount may still be held.
        _wait_unused(file_name)
    except VolumeError:
        raise VolumeError(f"volume {block_device.volume_id} is still in use inside the "
                          "guest") from None


def release_all(disk: Disk, *, keep: Collection[str] = ()) -> None:
    """Unmount every volume of the guest (it stopped, or is being destroyed), but those of
    the files named in ``keep``. Idempotent; the loop devices clear themselves."""
    for mount in sorted(mounts(disk), key=lambda m: len(str(m.target)), reverse=True):
        if mount.backing is None or mount.backing not in keep:
            _unmount(mount.target)
