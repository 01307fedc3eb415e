"""A guest's disk: a directory holding its overlay's upper layer and everything per guest.

Layout of ``<disk>`` (``<state>/local/instances/<id>`` or ``<shared>/instances/<id>``)::

    owner        the host that owns a shared disk (only it may remove it)
    layout       "overlay" (upper/ over the cached image), "copy" (rootfs/ is the root) or
                 "volume" (the root volume mounted at volume-root/ is the root)
    base         the image cache key the disk was made from ("" for "volume")
    upper/ work/ the overlay's writable layer and its work dir
    rootfs/      the full copy, when overlayfs is not available
    volume-root/ where a root volume is mounted while the guest runs
    merged/      where the root is assembled (mounted only inside the guest's namespace)
    config/      the config drive, read-only at /mnt/config in the guest
    volumes/     shared with the guest at /mnt/volumes (slave propagation)
    console.log  everything the guest's init prints
"""
from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import shutil
import subprocess
import threading
import time
from pathlib import Path

from agents.compute.process import syscalls

logger = logging.getLogger(__name__)

OVERLAY = "overlay"
COPY = "copy"
VOLUME = "volume"
USAGE_TTL = 5.0
CONSOLE_KEEP = 512 * 1024


@dataclasses.dataclass
class Disk:
    path: Path
    _usage: tuple[float, int] = (0.0, 0)  # (monotonic time measured, bytes)
    _measuring: threading.Lock = dataclasses.field(default_factory=threading.Lock)

    @property
    def upper(self) -> Path:
        return self.path / "upper"

    @property
    def work(self) -> Path:
        return self.path / "work"

    @property
    def rootfs(self) -> Path:
        return self.path / "rootfs"

    @property
    def merged(self) -> Path:
        return self.path / "merged"

    @property
    def volume_root(self) -> Path:
        return self.path / "volume-root"

    @property
    def config(self) -> Path:
        return self.path / "config"

    @property
    def volumes(self) -> Path:
        return self.path / "volumes"

    @property
    def console_log(self) -> Path:
        return self.path / "console.log"

    def exists(self) -> bool:
        return (self.path / "layout").is_file()

    def layout(self) -> str:
        return (self.path / "layout").read_text().strip()

    def base(self) -> str:
        return (self.path / "base").read_text().strip()

    def owner(self) -> str | None:
        try:
            return (self.path / "owner").read_text().strip() or None
        except FileNotFoundError:
            return None

    def take_ownership(self, host: str) -> None:
        _write_atomic(self.path / "owner", host)

    def create(self, *, base_key: str, base_tree: Path | None, layout: str) -> None:
        """Make a fresh disk from the image tree (replacing any old one's contents); for
        ``VOLUME`` no tree: the root is a volume's."""
        for name in ("upper", "work", "rootfs", "merged", "layout", "base"):
            target = self.path / name
            if target.is_dir():
                shutil.rmtree(target)
            elif target.exists():
                target.unlink()
        self.path.mkdir(parents=True, exist_ok=True)
        if layout == OVERLAY:
            self.upper.mkdir()
            self.work.mkdir()
        elif layout == VOLUME:
            self.volume_root.mkdir(exist_ok=True)
        else:
            subprocess.run(["cp", "-a", "--reflink=auto", f"{base_tree}/.", str(self.rootfs)],
                           check=True, capture_output=True)
        self.merged.mkdir()
        self.volumes.mkdir(exist_ok=True)
        (self.path / "base").write_text(base_key)
        _write_atomic(self.path / "layout", layout)

    def root_spec(self, base_tree: Path | None) -> dict:
        """How ``boot`` assembles this disk as a root: an overlay, or a bind of the copy or
        of the root volume's mount."""
        layout = self.layout()
        if layout == OVERLAY:
            return {"kind": OVERLAY, "lower": str(base_tree), "upper": str(self.upper),
                    "work": str(self.work)}
        if layout == VOLUME:
            return {"kind": COPY, "source": str(self.volume_root)}
        return {"kind": COPY, "source": str(self.rootfs)}

    def rescue_spec(self, rescue_tree: Path) -> dict:
        """A throw-away overlay of the rescue image, its upper layer in ``rescue/``."""
        rescue = self.path / "rescue"
        for name in ("upper", "work"):
            (rescue / name).mkdir(parents=True, exist_ok=True)
        return {"kind": OVERLAY, "lower": str(rescue_tree), "upper": str(rescue / "upper"),
                "work": str(rescue / "work")}

    def remove_rescue(self) -> None:
        shutil.rmtree(self.path / "rescue", ignore_errors=True)

    def used_bytes(self) -> int:
        """What the guest wrote to its disk (the upper layer or the copy). Walking the tree
        can take a while, so the figure is measured once here and then refreshed in the
        background at most every few seconds; this returns the latest one at once."""
        checked, size = self._usage
        if not checked:
            return self._measure()
        if time.monotonic() - checked >= USAGE_TTL and not self._measuring.locked():
            threading.Thread(target=self._measure, daemon=True,
                             name=f"disk-usage-{self.path.name}").start()
        return size

    def _measure(self) -> int:
        with self._measuring:
            tree = self.upper if self.layout() == OVERLAY else self.rootfs
            size = tree_size(tree)
            self._usage = (time.monotonic(), size)
            return size

    def trim_console(self, *, keep: int = CONSOLE_KEEP) -> None:
        """Keep only the end of a console log grown past ``2 * keep`` bytes."""
        log = self.console_log
        if log.exists() and log.stat().st_size > 2 * keep:
            with open(log, "rb") as old:
                old.seek(-keep, os.SEEK_END)
                tail = old.read()
            _write_atomic_bytes(log, tail[tail.find(b"\n") + 1:])

    def remove(self) -> None:
        """Delete the disk. Refused (OSError) while anything is mounted in it: a volume's
        files would be deleted with it."""
        if mounted_under(self.path):
            raise OSError(f"{self.path} still has mounts: {', '.join(mounted_under(self.path))}")
        shutil.rmtree(self.path, ignore_errors=True)


class DiskQuota:
    """The flavor's disk size, enforced by accounting only: a guest that wrote more than it
    is reported (``disk_used_bytes``) and logged once, not stopped or refused writes."""

    def __init__(self) -> None:
        self.over: set[str] = set()

    def account(self, instance_id: str, *, used: int, disk_gb: int) -> bool:
        """True when the guest is over its disk size."""
        over = bool(disk_gb) and used > disk_gb * 2**30
        if over and instance_id not in self.over:
            logger.warning("guest %s has written %d bytes, over its flavor's %d GiB disk",
                           instance_id, used, disk_gb)
        (self.over.add if over else self.over.discard)(instance_id)
        return over


def tree_size(path: Path) -> int:
    total = 0
    for folder, _dirs, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(folder, name)).st_blocks * 512
    return total


def mounted_under(path: Path) -> list[str]:
    """The mount points (as mountinfo shows them) at or under ``path``."""
    prefix = str(path.resolve())
    with open("/proc/self/mountinfo") as mounts:
        points = [line.split()[4] for line in mounts]
    return [p for p in points if p == prefix or p.startswith(prefix + "/")]


def overlay_works(scratch: Path) -> bool:
    """True when this host can mount an overlay with layers under ``scratch``."""
    probe = scratch / f".overlay-probe-{os.getpid()}"
    dirs = [probe / name for name in ("lower", "upper", "work", "merged")]
    try:
        for folder in dirs:
            folder.mkdir(parents=True, exist_ok=True)
        lower, upper, work, merged = (str(d) for d in dirs)
        syscalls.mount("overlay", merged, "overlay", 0,
                       f"lowerdir={lower},upperdir={upper},workdir={work}")
        syscalls.umount(merged)
        return True
    except OSError:
        return False
    finally:
        shutil.rmtree(probe, ignore_errors=True)


def mount_root(spec: dict, target: Path) -> None:
    """Mount a root assembled by ``Disk.root_spec`` at ``target``."""
    if spec["kind"] == OVERLAY:
        syscalls.mount("overlay", str(target), "overlay", 0,
                       f"lowerdir={spec['lower']},upperdir={spec['upper']},"
                       f"workdir={spec['work']}")
    else:
        syscalls.mount(spec["source"], str(target), None, syscalls.MS_BIND | syscalls.MS_REC)


def _write_atomic(path: Path, text: str) -> None:
    _write_atomic_bytes(path, text.encode())


def _write_atomic_bytes(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
