"""Writing a guest's root as a tar: mount points kept empty, links stored, never followed."""
from __future__ import annotations

import os
import tarfile
from pathlib import Path

from agents.compute.process import snapshot


def test_tar_keeps_mount_points_empty_and_stores_links(tmp_path: Path):
    root = tmp_path / "root"
    for folder in ("bin", "proc/1", "mnt/config/openstack", ".overcast", "etc"):
        (root / folder).mkdir(parents=True)
    (root / "bin/busybox").write_bytes(b"\x7fELF")
    os.link(root / "bin/busybox", root / "bin/hard")
    os.symlink("/", root / "bin/escape")
    (root / "proc/1/status").write_text("host stuff")
    (root / "mnt/config/openstack/meta").write_text("{}")
    (root / ".overcast/init").write_text("#!/bin/sh")
    (root / "etc/hostname").write_text("guest\n")
    target = tmp_path / "snap.tar"
    snapshot.write_tar(root, target, exclude={"proc", "mnt/config", "etc/hostname"})
    with tarfile.open(target) as tar:
        members = {m.name: m for m in tar.getmembers()}
    assert {"bin", "bin/busybox", "proc", "mnt", "mnt/config", "etc"} <= set(members)
    assert not any(n.startswith(("proc/", "mnt/config/", ".overcast")) for n in members)
    assert "etc/hostname" not in members  # a file mount point is left out
    assert members["bin/escape"].issym() and members["bin/escape"].linkname == "/"
    assert members["bin/hard"].islnk() or members["bin/busybox"].islnk()
    assert not target.with_name("snap.tar.part").exists()


def test_mount_points_come_from_the_guests_mountinfo():
    points = snapshot.mount_points(os.getpid())
    assert "proc" in points and "" not in points

