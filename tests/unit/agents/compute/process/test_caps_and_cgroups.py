"""The capability set a guest keeps, and finding a usable cgroup hierarchy."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from agents.compute.process import caps, cgroups


def test_guest_root_keeps_what_a_vm_root_needs_and_nothing_that_reaches_the_host():
    dropped = set(caps.dropped_numbers(last=40))
    for name in ("SYS_ADMIN", "SYS_MODULE", "SYS_PTRACE", "SYS_TIME", "SYS_RAWIO",
                 "SYS_BOOT", "MKNOD", "DAC_READ_SEARCH", "SYS_RESOURCE", "BPF", "PERFMON",
                 "MAC_ADMIN", "SYSLOG", "LINUX_IMMUTABLE"):
        assert caps.CAPABILITIES[name] in dropped, name
    for name in ("CHOWN", "SETUID", "SETGID", "NET_BIND_SERVICE", "NET_ADMIN", "KILL",
                 "DAC_OVERRIDE", "FOWNER", "SYS_CHROOT"):
        assert caps.CAPABILITIES[name] not in dropped, name
    assert len(dropped) + len(caps.GUEST_KEEPS) == 41


def test_bounding_mask_is_what_proc_shows():
    mask = caps.bounding_mask()
    assert mask & (1 << caps.CAPABILITIES["NET_ADMIN"])
    assert not mask & (1 << caps.CAPABILITIES["SYS_ADMIN"])
    assert bin(mask).count("1") == len(caps.GUEST_KEEPS)


def _v1_tree(root: Path) -> Path:
    for name in cgroups.V1_CONTROLLERS:
        (root / name).mkdir(parents=True)
        (root / name / "cgroup.procs").write_text("")
    return root


def test_detects_v1(tmp_path: Path):
    tree = cgroups.detect(_v1_tree(tmp_path))
    assert (tree.version, tree.writable) == (1, True)
    guest = tree.guest("host--vm")
    assert guest.procs_files() == [
        str(tmp_path / name / "overcast" / "host--vm" / "cgroup.procs")
        for name in cgroups.V1_CONTROLLERS]


def test_detects_v2(tmp_path: Path):
    (tmp_path / "cgroup.controllers").write_text("cpu memory pids\n")
    tree = cgroups.detect(tmp_path)
    assert (tree.version, tree.writable) == (2, True)
    assert tree.guest("vm").dirs() == [tmp_path / "overcast" / "vm"]


def test_v2_without_memory_or_cpu_freezes_but_does_not_enforce_limits(tmp_path: Path):
    (tmp_path / "cgroup.controllers").write_text("hugetlb\n")
    tree = cgroups.detect(tmp_path)
    assert tree.writable and not tree.enforces_limits
    assert "memory or cpu" in tree.reason


def test_v2_limits_and_controllers_are_written(tmp_path: Path):
    (tmp_path / "cgroup.controllers").write_text("cpu memory pids io\n")
    (tmp_path / "cgroup.subtree_control").write_text("")
    guest_dir = tmp_path / "overcast" / "vm"
    guest_dir.mkdir(parents=True)
    (tmp_path / "overcast" / "cgroup.subtree_control").write_text("")
    for name in ("memory.max", "cpu.max", "pids.max"):  # the kernel makes these
        (guest_dir / name).write_text("")
    tree = cgroups.detect(tmp_path)
    tree.guest("vm").create(memory_mb=256, vcpus=2)
    assert (guest_dir / "memory.max").read_text() == str(256 * 2**20)
    assert (guest_dir / "cpu.max").read_text() == "200000 100000"
    assert (tmp_path / "cgroup.subtree_control").read_text() == "+memory +cpu +pids"
    assert (tmp_path / "overcast" / "cgroup.subtree_control").read_text() == \
        "+memory +cpu +pids"


def test_read_only_tree_is_not_writable_and_says_why(tmp_path: Path):
    (tmp_path / "cgroup.controllers").write_text("cpu memory\n")
    (tmp_path / "overcast").write_text("a file where the cgroup should go")
    tree = cgroups.detect(tmp_path)
    assert (tree.version, tree.writable) == (2, False)
    assert "not writable" in tree.reason
    assert tree.guest("vm").procs_files() == []


def test_no_hierarchy_at_all(tmp_path: Path):
    tree = cgroups.detect(tmp_path)
    assert (tree.version, tree.writable) == (0, False) and tree.reason


@pytest.mark.skipif(os.geteuid() != 0 or not Path("/sys/fs/cgroup/memory/cgroup.procs")
                    .exists(), reason="needs root on a cgroup v1 host")
def test_v1_limits_are_written_and_removed():
    tree = cgroups.detect()
    guest = tree.guest(f"unit-test-{os.getpid()}")
    guest.create(memory_mb=64, vcpus=2)
    try:
        memory = tree.root / "memory/overcast" / guest.instance_id
        assert int((memory / "memory.limit_in_bytes").read_text()) == 64 * 2**20
        cpu = tree.root / "cpu/overcast" / guest.instance_id
        assert int((cpu / "cpu.cfs_quota_us").read_text()) == 2 * cgroups.CPU_PERIOD_US
    finally:
        guest.remove()
    assert not any(path.exists() for path in guest.dirs())
