"""Starting and stopping one guest's processes, and the host-side mounts that go with them.

These are blocking calls; the driver runs them in a thread. A running guest holds, on the
host: its init (child of an ``unshare`` that reaps it), its cgroup, the bind mount of its
network namespace at ``<state>/netns/<id>``, the shared bind mount of its volumes directory
and its volumes' mounts (``volumes.py``). ``stop`` releases all of them.
"""
from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from agents.compute.driver import SpawnError
from agents.compute.process import syscalls, volumes
from agents.compute.process.cgroups import GuestCgroup
from agents.compute.process.disks import Disk
from agents.compute.process.guests import GuestRecord, is_alive, proc_start_time, signal_all

logger = logging.getLogger(__name__)

INIT_SCRIPT = Path(__file__).resolve().parents[2] / "guest" / "init"
BOOT_TIMEOUT = 20.0
INIT_BANNER = b"overcast-init: "  # what agents/guest/init prints first
UNSHARE = ["unshare", "--mount", "--propagation", "slave", "--uts", "--ipc", "--net",
           "--pid", "--fork", "--kill-child", "--"]


def is_mounted(path: Path) -> bool:
    target = str(path)
    with open("/proc/self/mountinfo") as mounts:
        return any(line.split()[4] == target for line in mounts)


def unmount_all(path: Path) -> None:
    """Detach every mount at ``path`` (stacked ones too). Idempotent."""
    while is_mounted(path):
        syscalls.umount(str(path))


class Launcher:
    """Starts and stops guests for one driver (its state dir and host)."""

    def __init__(self, *, state_dir: Path) -> None:
        self.netns_dir = state_dir / "netns"
        self.run_dir = state_dir / "run"
        self._unshares: dict[str, subprocess.Popen] = {}

    def netns_path(self, instance_id: str) -> Path:
        return self.netns_dir / instance_id

    def start(self, record: GuestRecord, disk: Disk, cgroup: GuestCgroup, *,
              root: dict, rescue_root: dict | None = None) -> None:
        """Boot the guest from ``root`` and fill in ``record.pid``; raises ``SpawnError``
        with the console's last lines (leaving nothing running) when it does not come up."""
        flavor = record.instance.flavor
        self.run_dir.mkdir(parents=True, exist_ok=True)
        pidfile = self.run_dir / f"{record.instance_id}.pid"
        pidfile.unlink(missing_ok=True)
        cgroup.create(memory_mb=flavor.ram, vcpus=flavor.vcpus)
        self.share_volumes(disk)
        spec = {"merged": str(disk.merged), "root": root, "rescue_root": rescue_root,
                "config_dir": str(disk.config), "volumes_dir": str(disk.volumes),
                "init": str(INIT_SCRIPT), "hostname": _hostname(disk),
                "memory_mb": flavor.ram, "pidfile": str(pidfile),
                "cgroup_procs": cgroup.procs_files()}
        spec_path = self.run_dir / f"{record.instance_id}.json"
        spec_path.write_text(json.dumps(spec))
        disk.merged.mkdir(exist_ok=True)
        disk.trim_console()
        console_start = disk.console_log.stat().st_size if disk.console_log.exists() else 0
        with open(disk.console_log, "ab") as console:
            proc = subprocess.Popen(
                [*UNSHARE, sys.executable, "-m", "agents.compute.process.boot",
                 str(spec_path)], stdin=subprocess.DEVNULL, stdout=console, stderr=console,
                start_new_session=True)
        deadline = time.monotonic() + BOOT_TIMEOUT

        def booted() -> bool:
            """The init is running once it printed its first line."""
            with open(disk.console_log, "rb") as log:
                log.seek(console_start)
                return INIT_BANNER in log.read()

        line = ""
        while not (line.endswith("\n") and booted()):
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                proc.wait()
                self._release(record, disk, cgroup)
                raise SpawnError(f"the guest did not boot: {_tail(disk.console_log)}")
            time.sleep(0.01)
            with contextlib.suppress(FileNotFoundError):
                line = pidfile.read_text()
        pid, start_time = line.split()
        record.pid, record.start_time, record.frozen = int(pid), start_time, ""
        self._unshares[record.instance_id] = proc
        netns = self.netns_path(record.instance_id)
        try:
            self.netns_dir.mkdir(parents=True, exist_ok=True)
            netns.touch()
            syscalls.mount(f"/proc/{pid}/ns/net", str(netns), None, syscalls.MS_BIND)
        except OSError as exc:  # the init died at once, or the state dir is unusable
            self.stop(record, disk, cgroup, grace=0)
            raise SpawnError(f"the guest's network namespace cannot be kept: {exc}") from exc

    @staticmethod
    def share_volumes(disk: Disk) -> None:
        """Bind the disk's volumes directory onto itself as a shared mount, which the guest's
        ``/mnt/volumes`` will be a slave of (before its volumes are mounted in it: they would
        be hidden under a later bind). Idempotent."""
        if not is_mounted(disk.volumes):
            disk.volumes.mkdir(exist_ok=True)
            syscalls.mount(str(disk.volumes), str(disk.volumes), None, syscalls.MS_BIND)
            syscalls.mount(None, str(disk.volumes), None, syscalls.MS_SHARED)

    def stop(self, record: GuestRecord, disk: Disk, cgroup: GuestCgroup, *,
             grace: float) -> None:
        """SIGTERM to the init, SIGKILL to all after ``grace``; then release the host-side
        mounts and the cgroup. Idempotent."""
        if is_alive(record):
            if record.frozen:
                self.thaw(record, cgroup)
            if grace > 0:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(record.pid, signal.SIGTERM)
                _wait_dead(record, grace)
            if is_alive(record):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(record.pid, signal.SIGKILL)  # takes its whole PID namespace
                cgroup.kill_all()
                if not _wait_dead(record, 10.0):
                    raise SpawnError(f"guest {record.instance_id} did not die")
        self._release(record, disk, cgroup)
        record.pid, record.start_time, record.frozen = 0, "", ""

    def _release(self, record: GuestRecord, disk: Disk, cgroup: GuestCgroup) -> None:
        netns = self.netns_path(record.instance_id)
        unmount_all(netns)
        netns.unlink(missing_ok=True)
        volumes.release_all(disk)  # the guest is gone: no volume stays mounted on this host
        unmount_all(disk.volumes)
        unmount_all(disk.merged)
        cgroup.remove()
        proc = self._unshares.pop(record.instance_id, None)
        if proc is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=5)
        for name in (f"{record.instance_id}.pid", f"{record.instance_id}.json"):
            (self.run_dir / name).unlink(missing_ok=True)

    def reap(self, instance_id: str) -> None:
        """Collect the ``unshare`` of a guest whose init died, so no zombie is left."""
        proc = self._unshares.get(instance_id)
        if proc is not None and proc.poll() is not None:
            del self._unshares[instance_id]

    def freeze(self, record: GuestRecord, cgroup: GuestCgroup) -> None:
        if cgroup.tree.writable:
            cgroup.set_frozen(True)
        else:
            signal_all(record.pid, signal.SIGSTOP)

    def thaw(self, record: GuestRecord, cgroup: GuestCgroup) -> None:
        if cgroup.tree.writable:
            cgroup.set_frozen(False)
        else:
            signal_all(record.pid, signal.SIGCONT)


def _wait_dead(record: GuestRecord, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while proc_start_time(record.pid) == record.start_time:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def _hostname(disk: Disk) -> str:
    try:
        return (disk.config / "overcast" / "hostname").read_text().strip() or "guest"
    except FileNotFoundError:
        return "guest"


def _tail(path: Path, lines: int = 5) -> str:
    try:
        return " | ".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return "no console output"
