"""Per-guest cgroups (v1 or v2): memory and CPU limits, and the freezer.

``detect()`` finds which hierarchy the host has and whether this process may write it. A
container sees its cgroup tree read-only; when it also has a private cgroup namespace
(compose's ``cgroup: private``) and CAP_SYS_ADMIN, the v1 controllers are mounted afresh
under ``PRIVATE_ROOT``, rooted at the container's own cgroup, so guests' limits nest inside
the container's. When neither works, ``CgroupTree.writable`` is False, the driver reports
``limits_enforced: False`` and freezes guests with SIGSTOP instead.
"""
from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import signal
import time
from pathlib import Path

logger = logging.getLogger(__name__)

ROOT = Path("/sys/fs/cgroup")
PRIVATE_ROOT = Path("/run/overcast/cgroup")
PARENT = "overcast"
V1_CONTROLLERS = ("memory", "cpu", "freezer", "pids")
CPU_PERIOD_US = 100_000
PIDS_MAX = 4096
_UNAPPLIED: set[str] = set()  # v2 limit files found missing (logged once each)


@dataclasses.dataclass(frozen=True)
class CgroupTree:
    """Where guests' cgroups go: ``version`` 1 or 2 (0: none usable)."""

    version: int
    root: Path
    writable: bool
    reason: str = ""
    # True when the memory and cpu controllers are there to enforce the flavor's limits
    # (a v2 hierarchy may offer only some controllers; the freezer works regardless).
    limits: bool = True

    @property
    def enforces_limits(self) -> bool:
        return self.writable and self.limits

    def guest(self, instance_id: str) -> GuestCgroup:
        return GuestCgroup(self, instance_id)


def _probe_writable(parent: Path) -> str:
    """'' when a child cgroup can be made under ``parent``, else why not."""
    try:
        parent.mkdir(exist_ok=True)
        probe = parent / f"probe-{os.getpid()}"
        probe.mkdir(exist_ok=True)
        probe.rmdir()
    except OSError as exc:
        return f"{parent} is not writable ({exc.strerror})"
    return ""


def detect(root: Path = ROOT, *, private_root: Path | None = PRIVATE_ROOT) -> CgroupTree:
    """The host's cgroup hierarchy as this process can use it: ``root`` if it is writable,
    else (v1 in a private cgroup namespace) the controllers mounted at ``private_root``."""
    tree = _detect(root)
    if tree.writable or tree.version != 1 or private_root is None:
        return tree
    mounted = mount_private_v1(private_root)
    if mounted:
        logger.warning("%s; mounted %s at %s (a private cgroup namespace)", tree.reason,
                       ", ".join(V1_CONTROLLERS), private_root)
        private = _detect(private_root)
        if private.writable:
            return private
    return tree


def in_private_namespace() -> bool:
    """True when every v1 controller of this process is at its namespace's root ('/'), as
    in a container with a private cgroup namespace."""
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return False
    paths = {}
    for line in lines:
        _id, controllers, path = line.split(":", 2)
        for name in controllers.split(","):
            paths[name] = path
    return all(paths.get(name) == "/" for name in V1_CONTROLLERS)


def mount_private_v1(private_root: Path) -> bool:
    """Mount each v1 controller under ``private_root`` (once; an existing mount is kept).
    Only in a private cgroup namespace: elsewhere the mount would be the host's whole
    hierarchy. Whether every controller is there now."""
    if not in_private_namespace():
        return False
    from agents.compute.process import syscalls
    for name in V1_CONTROLLERS:
        target = private_root / name
        if (target / "cgroup.procs").is_file():
            continue
        try:
            target.mkdir(parents=True, exist_ok=True)
            syscalls.mount("cgroup", str(target), "cgroup", 0, name)
        except OSError as exc:
            logger.warning("cannot mount the %s cgroup controller at %s: %s", name, target,
                           exc)
            return False
    return True


def _detect(root: Path) -> CgroupTree:
    if (root / "cgroup.controllers").is_file():
        reason = _probe_writable(root / PARENT)
        offered = (root / "cgroup.controllers").read_text().split()
        missing = [name for name in ("memory", "cpu") if name not in offered]
        if missing and not reason:
            reason = f"the cgroup v2 hierarchy at {root} offers no {' or '.join(missing)}"
        return CgroupTree(2, root, not _probe_writable(root / PARENT), reason,
                          limits=not missing)
    if all((root / name / "cgroup.procs").is_file() for name in V1_CONTROLLERS):
        for name in V1_CONTROLLERS:
            reason = _probe_writable(root / name / PARENT)
            if reason:
                return CgroupTree(1, root, False, reason)
        return CgroupTree(1, root, True)
    return CgroupTree(0, root, False, f"no cgroup v1 controllers or v2 hierarchy at {root}")


@dataclasses.dataclass(frozen=True)
class GuestCgroup:
    tree: CgroupTree
    instance_id: str

    def dirs(self) -> list[Path]:
        """Every directory of this guest's cgroup (one per v1 controller, one for v2)."""
        if not self.tree.writable:
            return []
        if self.tree.version == 2:
            return [self.tree.root / PARENT / self.instance_id]
        return [self.tree.root / name / PARENT / self.instance_id for name in V1_CONTROLLERS]

    def _v1(self, controller: str) -> Path:
        return self.tree.root / controller / PARENT / self.instance_id

    def procs_files(self) -> list[str]:
        """The ``cgroup.procs`` files a process writes its pid to, to join this cgroup."""
        return [str(path / "cgroup.procs") for path in self.dirs()]

    def create(self, *, memory_mb: int, vcpus: int) -> None:
        """Make the cgroup with the flavor's limits (0 means unlimited). Idempotent."""
        if not self.tree.writable:
            return
        memory = memory_mb * 1024 * 1024
        if self.tree.version == 2:
            parent = self.tree.root / PARENT
            _enable_v2_controllers(self.tree.root, parent)
            path = parent / self.instance_id
            path.mkdir(exist_ok=True)
            limits = {"memory.max": str(memory) if memory else "max",
                      "cpu.max": f"{vcpus * CPU_PERIOD_US if vcpus else 'max'} {CPU_PERIOD_US}",
                      "pids.max": str(PIDS_MAX)}
            for name, value in limits.items():
                if (path / name).exists():  # absent when the controller is not offered
                    _write(path / name, value)
                elif name not in _UNAPPLIED:
                    _UNAPPLIED.add(name)
                    logger.warning("cgroup v2 offers no %s under %s: that limit is not "
                                   "enforced", name, parent)
            return
        for path in self.dirs():
            path.mkdir(exist_ok=True)
        if memory:
            _write(self._v1("memory") / "memory.limit_in_bytes", str(memory))
        _write(self._v1("cpu") / "cpu.cfs_period_us", str(CPU_PERIOD_US))
        _write(self._v1("cpu") / "cpu.cfs_quota_us",
               str(vcpus * CPU_PERIOD_US) if vcpus else "-1")
        _write(self._v1("pids") / "pids.max", str(PIDS_MAX))

    def pids(self) -> list[int]:
        for path in self.dirs()[:1] if self.tree.version == 2 else [self._v1("freezer")]:
            try:
                return [int(line) for line in (path / "cgroup.procs").read_text().split()]
            except OSError:
                return []
        return []

    def set_frozen(self, frozen: bool) -> None:
        """Freeze or thaw every process in the cgroup, returning once the kernel says so."""
        if self.tree.version == 2:
            path = self.dirs()[0]
            _write(path / "cgroup.freeze", "1" if frozen else "0")
            want = f"frozen {int(frozen)}"
            _wait(lambda: want in (path / "cgroup.events").read_text().splitlines())
            return
        state = self._v1("freezer") / "freezer.state"
        _write(state, "FROZEN" if frozen else "THAWED")
        want = "FROZEN" if frozen else "THAWED"
        _wait(lambda: state.read_text().strip() == want)

    def kill_all(self) -> None:
        for pid in self.pids():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def remove(self, *, timeout: float = 5.0) -> None:
        """Kill what is left in the cgroup and remove it. Idempotent."""
        if not self.tree.writable:
            return
        if self.tree.version == 1 and self._v1("freezer").exists():
            _write(self._v1("freezer") / "freezer.state", "THAWED")
        elif self.tree.version == 2 and self.dirs()[0].exists():
            _write(self.dirs()[0] / "cgroup.freeze", "0")
        deadline = time.monotonic() + timeout
        for path in self.dirs():
            while path.exists():
                self.kill_all()
                try:
                    path.rmdir()
                except FileNotFoundError:
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.02)


def _enable_v2_controllers(root: Path, parent: Path) -> None:
    parent.mkdir(exist_ok=True)
    wanted = [name for name in ("memory", "cpu", "pids")
              if name in (root / "cgroup.controllers").read_text().split()]
    for level in (root, parent):
        enabled = (level / "cgroup.subtree_control").read_text().split()
        missing = " ".join(f"+{name}" for name in wanted if name not in enabled)
        if missing:
            try:
                _write(level / "cgroup.subtree_control", missing)
            except OSError as exc:
                logger.warning("cannot enable cgroup controllers %s in %s: %s",
                               missing, level, exc)


def _write(path: Path, value: str) -> None:
    try:
        path.write_text(value)
    except FileNotFoundError:
        if path.parent.exists():
            raise


def _wait(condition: object, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise TimeoutError("the cgroup freezer did not settle")
        time.sleep(0.005)
