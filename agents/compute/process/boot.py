"""The first process of a guest: assembles its root and becomes its init.

Run by the driver as ``unshare --mount --propagation slave --uts --ipc --net --pid --fork
--kill-child -- python -m agents.compute.process.boot <spec.json>``, so it starts as PID 1
of fresh namespaces. It records its host pid, joins the guest's cgroup, mounts the guest's
disk and its /proc, /dev, /sys (read-only), /tmp, /run, config drive and volume directory,
pivots into that root (unmounting the host's), sets the hostname, drops the capabilities a
guest may not have and execs ``/bin/sh /.overcast/init``. Errors go to the console log.
"""
from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path

from agents.compute.process import caps, disks, syscalls
from agents.compute.process.paths import mount_point
from agents.compute.process.syscalls import (
    MS_BIND,
    MS_NODEV,
    MS_NOEXEC,
    MS_NOSUID,
    MS_RDONLY,
    MS_REC,
    MS_REMOUNT,
    mount,
)

INIT_PATH = "/.overcast/init"
DEVICES = {"null": (1, 3), "zero": (1, 5), "full": (1, 7), "random": (1, 8),
           "urandom": (1, 9), "tty": (5, 0)}
# What of /proc a guest's root could use to reach the host's kernel: read-only or hidden.
PROC_READ_ONLY = ("sys", "sysrq-trigger", "irq", "bus", "fs", "acpi", "scsi")
PROC_HIDDEN = ("kcore", "keys", "timer_list", "sched_debug", "kallsyms", "latency_stats")


def _say(message: str) -> None:
    """To the console log (the driver gives this process the log as stdout and stderr)."""
    sys.stderr.write(f"overcast: {message}\n")
    sys.stderr.flush()


def _bind(source: str, target: Path, *, read_only: bool) -> None:
    mount(source, str(target), None, MS_BIND | MS_REC)
    if read_only:
        mount(None, str(target), None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)


def _mount_proc(root: Path) -> None:
    proc = mount_point(root, "proc")
    mount("proc", str(proc), "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    for name in PROC_READ_ONLY:
        if (proc / name).exists():
            _bind(str(proc / name), proc / name, read_only=True)
    for name in PROC_HIDDEN:
        if (proc / name).is_file():
            mount("/dev/null", str(proc / name), None, MS_BIND)


def _mount_dev(root: Path) -> None:
    dev = mount_point(root, "dev")
    mount("tmpfs", str(dev), "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=755,size=1m")
    for name, (major, minor) in DEVICES.items():
        node = dev / name
        try:
            os.mknod(node, 0o666 | stat.S_IFCHR, os.makedev(major, minor))
            os.chmod(node, 0o666)
        except PermissionError:  # a container may refuse mknod: borrow the host's node
            node.touch()
            mount(f"/dev/{name}", str(node), None, MS_BIND)
    (dev / "pts").mkdir()
    mount("devpts", str(dev / "pts"), "devpts", MS_NOSUID | MS_NOEXEC,
          "newinstance,ptmxmode=0666,mode=0620,gid=5")
    (dev / "ptmx").symlink_to("pts/ptmx")
    (dev / "shm").mkdir(mode=0o1777)
    mount("tmpfs", str(dev / "shm"), "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777,size=16m")
    for index, name in enumerate(("stdin", "stdout", "stderr")):
        (dev / name).symlink_to(f"/proc/self/fd/{index}")
    (dev / "fd").symlink_to("/proc/self/fd")


def assemble(spec: dict) -> Path:
    """Mount the guest's root and everything in it; returns the root."""
    root = Path(spec["merged"])
    disks.mount_root(spec["root"], root)
    _mount_proc(root)
    try:
        mount("sysfs", str(mount_point(root, "sys")), "sysfs",
              MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC)
    except OSError as exc:
        _say(f"/sys left empty ({exc})")
    _mount_dev(root)
    tmp_size = max(16, spec.get("memory_mb", 512) // 4)
    mount("tmpfs", str(mount_point(root, "tmp")), "tmpfs", MS_NOSUID | MS_NODEV,
          f"mode=1777,size={tmp_size}m")
    mount("tmpfs", str(mount_point(root, "run")), "tmpfs", MS_NOSUID | MS_NODEV,
          "mode=755,size=16m")
    _bind(spec["config_dir"], mount_point(root, "mnt/config"), read_only=True)
    _bind(spec["volumes_dir"], mount_point(root, "mnt/volumes"), read_only=False)
    if spec.get("rescue_root"):
        disks.mount_root(spec["rescue_root"], mount_point(root, "mnt/rescue"))
    _bind(spec["init"], mount_point(root, INIT_PATH, is_file=True), read_only=True)
    return root


def main(spec_path: str) -> None:
    spec = json.loads(Path(spec_path).read_text())
    host_pid = int(os.readlink("/proc/self"))  # still the host's /proc: the host's pid
    start_time = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()[19]
    for procs in spec["cgroup_procs"]:
        Path(procs).write_text("0")  # "0": this process (pids here are in the guest's ns)
    root = assemble(spec)
    syscalls.sethostname(spec["hostname"])
    # Opened now, written last: after the pivot the host's path is out of reach, and the
    # driver takes a complete line in the pid file as "the guest is up".
    pid_file = open(spec["pidfile"], "w")  # noqa: SIM115 - closed just before exec
    os.chdir(root)
    syscalls.pivot_root(".", ".")
    syscalls.umount(".")  # the host's root, stacked under the new one by pivot_root(".", ".")
    os.chdir("/")
    caps.drop_to_guest()
    pid_file.write(f"{host_pid} {start_time}\n")
    pid_file.close()
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": "/root", "TERM": "linux"}
    os.execve("/bin/sh", ["/bin/sh", INIT_PATH], env)


if __name__ == "__main__":
    try:
        main(sys.argv[1])
    except Exception as exc:  # noqa: BLE001 - whatever failed, the console log says so
        _say(f"the guest could not boot: {exc}")
        sys.exit(1)
