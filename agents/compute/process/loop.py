"""Loop devices, set up with the kernel's ioctls (no ``losetup``), and what they back.

``attached(file)`` binds a free loop device to ``file`` with ``LO_FLAGS_AUTOCLEAR`` and
yields its path while holding it open: mount it inside the ``with`` block, and the device
frees itself when the last user goes (the mount's unmount, or the end of the block when
nothing mounted it). Where ``/dev`` has no node for the device the kernel hands out (a
container's ``/dev`` is a tmpfs without loop nodes), the node is made (block 7:N; and
``/dev/loop-control``, char 10:237); the container must be allowed to use them (its device
cgroup: ``c 10:237 rwm``, ``b 7:* rwm``).

What a device backs is read from ``/sys/block/loopN/loop/backing_file``, as ``losetup``
reads it; every host on one kernel sees every loop device there.
"""
from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import os
import stat
import time
from collections.abc import Iterator
from pathlib import Path

LOOP_MAJOR = 7
LOOP_CONTROL = Path("/dev/loop-control")
LOOP_CONTROL_DEVICE = (10, 237)
LOOP_SET_FD = 0x4C00
LOOP_SET_STATUS64 = 0x4C04
LOOP_CONFIGURE = 0x4C0A  # Linux 5.8
LOOP_CTL_GET_FREE = 0x4C82
LO_FLAGS_READ_ONLY = 1
LO_FLAGS_AUTOCLEAR = 4
ATTEMPTS = 20  # another process may take the free device first: ask again
SYS_BLOCK = Path("/sys/block")
SYS_DEV_BLOCK = Path("/sys/dev/block")


class LoopInfo64(ctypes.Structure):
    """``struct loop_info64`` (include/uapi/linux/loop.h)."""

    _fields_ = [("lo_device", ctypes.c_uint64), ("lo_inode", ctypes.c_uint64),
                ("lo_rdevice", ctypes.c_uint64), ("lo_offset", ctypes.c_uint64),
                ("lo_sizelimit", ctypes.c_uint64), ("lo_number", ctypes.c_uint32),
                ("lo_encrypt_type", ctypes.c_uint32),
                ("lo_encrypt_key_size", ctypes.c_uint32), ("lo_flags", ctypes.c_uint32),
                ("lo_file_name", ctypes.c_char * 64), ("lo_crypt_name", ctypes.c_char * 64),
                ("lo_encrypt_key", ctypes.c_char * 32), ("lo_init", ctypes.c_uint64 * 2)]


class LoopConfig(ctypes.Structure):
    """``struct loop_config``, the argument of ``LOOP_CONFIGURE``."""

    _fields_ = [("fd", ctypes.c_uint32), ("block_size", ctypes.c_uint32),
                ("info", LoopInfo64), ("reserved", ctypes.c_uint64 * 8)]


def _control() -> int:
    """``/dev/loop-control`` opened (made when this ``/dev`` lacks it: char 10:237)."""
    with contextlib.suppress(FileExistsError):
        os.mknod(LOOP_CONTROL, 0o600 | stat.S_IFCHR, os.makedev(*LOOP_CONTROL_DEVICE))
    found = os.stat(LOOP_CONTROL)
    if not stat.S_ISCHR(found.st_mode) or found.st_rdev != os.makedev(*LOOP_CONTROL_DEVICE):
        raise OSError(errno.ENODEV, f"{LOOP_CONTROL} is not the loop control device")
    return os.open(LOOP_CONTROL, os.O_RDWR | os.O_CLOEXEC)


def _node(index: int) -> Path:
    """``/dev/loop<index>``, made when this ``/dev`` lacks it."""
    path = Path(f"/dev/loop{index}")
    with contextlib.suppress(FileExistsError):
        os.mknod(path, 0o660 | stat.S_IFBLK, os.makedev(LOOP_MAJOR, index))
    found = os.stat(path)
    if not stat.S_ISBLK(found.st_mode) or found.st_rdev != os.makedev(LOOP_MAJOR, index):
        raise OSError(errno.ENODEV, f"{path} is not loop device {index}")
    return path


def _configure(device: int, backing: int, name: str, flags: int) -> None:
    info = LoopInfo64(lo_flags=flags, lo_file_name=name.encode()[:63])
    try:
        fcntl.ioctl(device, LOOP_CONFIGURE, bytes(LoopConfig(fd=backing, info=info)))
    except OSError as exc:
        if exc.errno not in (errno.EINVAL, errno.ENOTTY):
            raise
        # A kernel before LOOP_CONFIGURE: bind, then set the flags (read-only comes from
        # how the backing file was opened).
        fcntl.ioctl(device, LOOP_SET_FD, backing)
        fcntl.ioctl(device, LOOP_SET_STATUS64, bytes(info))


@contextlib.contextmanager
def attached(file: Path, *, read_only: bool = False) -> Iterator[str]:
    """A loop device (``/dev/loopN``) bound to ``file``, held open for the block (see the
    module docstring). Raises OSError when none can be had."""
    backing = os.open(file, (os.O_RDONLY if read_only else os.O_RDWR) | os.O_CLOEXEC
                      | os.O_NOFOLLOW)
    try:
        flags = LO_FLAGS_AUTOCLEAR | (LO_FLAGS_READ_ONLY if read_only else 0)
        control = _control()
        try:
            for attempt in range(ATTEMPTS):
                path = _node(fcntl.ioctl(control, LOOP_CTL_GET_FREE))
                device = os.open(path, (os.O_RDONLY if read_only else os.O_RDWR)
                                 | os.O_CLOEXEC)
                try:
                    _configure(device, backing, file.name, flags)
                except OSError as exc:
                    os.close(device)
                    if exc.errno != errno.EBUSY or attempt == ATTEMPTS - 1:
                        raise
                    time.sleep(0.01 * (attempt + 1))
                    continue
                break
        finally:
            os.close(control)
    finally:
        os.close(backing)  # the device holds the file now
    try:
        yield str(path)
    finally:
        os.close(device)  # the last user gone (nothing mounted it): the device clears


def _backing_file(device_dir: Path) -> str | None:
    try:
        text = (device_dir / "loop" / "backing_file").read_text().strip()
    except OSError:
        return None
    return text.removesuffix(" (deleted)").rsplit("/", 1)[-1] or None


def backs(major: int, minor: int) -> str | None:
    """The name (not the directory) of the file the block device ``major:minor`` backs,
    or None when it is no loop device or backs nothing."""
    if major != LOOP_MAJOR:
        return None
    return _backing_file(SYS_DEV_BLOCK / f"{major}:{minor}")


def devices_backing(file_name: str) -> list[str]:
    """The loop devices ("loop3") on this kernel that back a file named ``file_name``."""
    return sorted(entry.name for entry in SYS_BLOCK.glob("loop*")
                  if _backing_file(entry) == file_name)
