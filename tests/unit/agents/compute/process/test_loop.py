"""Loop devices set up with ioctls: autoclear once unmounted or never mounted, and nodes made
where /dev has none (as in a container). Needs root and loop devices (skipped without)."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from agents.compute.process import loop, syscalls

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not Path("/dev/loop-control").exists()
    or shutil.which("mkfs.ext4") is None or shutil.which("unshare") is None,
    reason="needs root, loop devices, e2fsprogs and unshare")


@pytest.fixture
def ext4(tmp_path: Path) -> Path:
    path = tmp_path / "volume-0a0a0a0a-0000-4000-8000-00000000000a"
    subprocess.run(["truncate", "-s", "32M", str(path)], check=True)
    subprocess.run(["mkfs.ext4", "-q", str(path)], check=True)
    return path


def test_a_device_clears_itself_when_unmounted_or_never_mounted(ext4, tmp_path):
    point = tmp_path / "mnt"
    point.mkdir()
    with loop.attached(ext4) as device:
        assert loop.devices_backing(ext4.name) == [device.removeprefix("/dev/")]
        syscalls.mount(device, str(point), "ext4", syscalls.MS_NODEV | syscalls.MS_NOSUID)
    try:
        assert loop.devices_backing(ext4.name)  # the mount holds it
        (point / "data").write_text("x")
    finally:
        syscalls.umount(str(point), detach=False)
    assert loop.devices_backing(ext4.name) == []
    with loop.attached(ext4, read_only=True):
        pass
    assert loop.devices_backing(ext4.name) == []


def test_nodes_are_made_where_dev_has_none(ext4, tmp_path):
    """In a mount namespace of its own whose /dev is an empty tmpfs, as a container's is."""
    script = textwrap.dedent(f"""
        import os, sys
        from pathlib import Path
        from agents.compute.process import loop, syscalls
        syscalls.mount("tmpfs", "/dev", "tmpfs", 0, "mode=755")
        assert not os.listdir("/dev")
        with loop.attached(Path({str(ext4)!r})) as device:
            syscalls.mount(device, {str(tmp_path)!r}, "ext4", syscalls.MS_NODEV)
        Path({str(tmp_path)!r}, "made").write_text(device)
        syscalls.umount({str(tmp_path)!r}, detach=False)
        print(sorted(os.listdir("/dev")), device)
    """)
    done = subprocess.run(["unshare", "--mount", "--propagation", "private", sys.executable,
                           "-c", script], capture_output=True, text=True, timeout=60,
                          cwd=Path(__file__).resolve().parents[5])
    assert done.returncode == 0, done.stderr
    nodes, device = done.stdout.rsplit("]", 1)
    assert "'loop-control'" in nodes and f"'{device.strip().removeprefix('/dev/')}'" in nodes
    assert loop.devices_backing(ext4.name) == []
    made = subprocess.run(["debugfs", "-R", "cat /made", str(ext4)], capture_output=True,
                          text=True, check=True).stdout
    assert made == device.strip()
