"""Facts about the hypervisor host, and sweeping its mounts."""
from __future__ import annotations

import shutil
from pathlib import Path

from agents.compute.process.lifecycle import unmount_all


def unmount_under(path: Path) -> None:
    prefix = str(path.resolve()) + "/"
    with open("/proc/self/mountinfo") as mounts:
        points = [line.split()[4] for line in mounts]
    for point in sorted(points, key=len, reverse=True):
        if point.startswith(prefix):
            unmount_all(Path(point))


def memory_mb() -> int:
    with open("/proc/meminfo") as meminfo:
        for line in meminfo:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) // 1024
    return 0


def disk_gb(path: Path) -> int:
    probe = path
    while not probe.exists():
        probe = probe.parent
    return shutil.disk_usage(probe).total // 2**30
