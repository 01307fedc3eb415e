"""What a ``process`` guest really uses, read from its cgroup and from /proc.

Memory comes from the guest's cgroup only (v1 ``memory.usage_in_bytes`` and
``memory.limit_in_bytes``, v2 ``memory.current`` and ``memory.max``): without a writable
cgroup the used figure is unknown (None) and the maximum is the flavor's RAM, which is then
not enforced. CPU time comes from the cgroup (v2 ``cpu.stat`` ``usage_usec``, v1
``cpuacct.usage``, where cpuacct is mounted with cpu) or else from /proc: the ``utime +
stime`` of the guest's processes and of the children they reaped (which misses exited ones
not reaped yet). Uptime is since the guest's init started.
"""
from __future__ import annotations

import contextlib
import os
import platform
from pathlib import Path

from agents.compute.driver import POWER_STATE_NAMES, GuestDiagnostics
from agents.compute.process.cgroups import GuestCgroup
from agents.compute.process.guests import GuestRecord, namespace_members

MIB = 1024 * 1024
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
# What v1 reports as the limit of a cgroup with none (the largest page-aligned value).
UNLIMITED_V1 = 1 << 62


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


def _int(text: str | None) -> int | None:
    if text is None:
        return None
    try:
        return int(text)
    except ValueError:
        return None  # "max": no limit


def _controllers(cgroup: GuestCgroup) -> dict[str, Path]:
    """The guest's cgroup directory of each controller (v2: one directory for all)."""
    dirs = cgroup.dirs()
    if not dirs:
        return {}
    if cgroup.tree.version == 2:
        return {"memory": dirs[0], "cpu": dirs[0]}
    # v1: <root>/<controller>/overcast/<name>
    return {path.parent.parent.name: path for path in dirs}


def memory_bytes(cgroup: GuestCgroup) -> tuple[int | None, int | None]:
    """``(limit, used)`` of the guest's cgroup in bytes; None for what it does not say."""
    path = _controllers(cgroup).get("memory")
    if path is None:
        return None, None
    if cgroup.tree.version == 2:
        return _int(_read(path / "memory.max")), _int(_read(path / "memory.current"))
    limit = _int(_read(path / "memory.limit_in_bytes"))
    if limit is not None and limit >= UNLIMITED_V1:
        limit = None
    return limit, _int(_read(path / "memory.usage_in_bytes"))


def _cgroup_cpu_ns(cgroup: GuestCgroup) -> int | None:
    path = _controllers(cgroup).get("cpu")
    if path is None:
        return None
    if cgroup.tree.version == 2:
        for line in (_read(path / "cpu.stat") or "").splitlines():
            key, _, value = line.partition(" ")
            if key == "usage_usec" and value.strip().isdigit():
                return int(value) * 1000
        return None
    # v1: cpuacct is usually mounted with cpu ("cpu,cpuacct"), so its file is here too.
    return _int(_read(path / "cpuacct.usage"))


def _proc_cpu_ns(init_pid: int) -> int | None:
    ticks, seen = 0, False
    for pid in namespace_members(init_pid):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # it exited meanwhile
        # utime, stime, and the cutime, cstime of the children it reaped (fields 14-17)
        ticks += sum(int(value) for value in fields[11:15])
        seen = True
    return ticks * 1_000_000_000 // CLOCK_TICKS if seen else None


def cpu_time_ns(cgroup: GuestCgroup, init_pid: int) -> int | None:
    """CPU time the guest has used, in nanoseconds; None when nothing says."""
    found = _cgroup_cpu_ns(cgroup)
    return found if found is not None else _proc_cpu_ns(init_pid)


def uptime_seconds(start_time: str) -> int | None:
    """Seconds since a process started ``start_time`` (its /proc stat field 22) ago."""
    boot = _read(Path("/proc/uptime"))
    if not boot or not start_time.isdigit():
        return None
    return max(0, int(float(boot.split()[0]) - int(start_time) / CLOCK_TICKS))


def host_os() -> str:
    """The hypervisor's OS (os-release's ID, as ``debian``), else the kernel's name."""
    with contextlib.suppress(OSError):
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("ID="):
                return line[3:].strip().strip('"')
    return platform.system().lower()


def measure(*, record: GuestRecord, cgroup: GuestCgroup, power_state: int,
            disk_used_bytes: int, driver: str) -> GuestDiagnostics:
    """The guest's figures now; ``record`` is of a guest whose init runs."""
    flavor = record.instance.flavor
    limit, used = memory_bytes(cgroup)
    return GuestDiagnostics(
        state=POWER_STATE_NAMES.get(power_state, "pending"), driver=driver,
        hypervisor=driver, hypervisor_os=host_os(),
        uptime=uptime_seconds(record.start_time), config_drive=True,
        num_cpus=flavor.vcpus, num_disks=1, num_nics=0,
        memory_max_mb=limit // MIB if limit is not None else flavor.ram,
        memory_used_mb=used // MIB if used is not None else None,
        cpu_time_ns=cpu_time_ns(cgroup, record.pid),
        disk_write_bytes=disk_used_bytes)
