"""Resolving paths inside a guest tree as a chroot would."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from agents.compute.process.paths import EscapesRoot, mount_point, resolve_in_root


def test_absolute_and_climbing_symlinks_stay_in_the_root(tmp_path: Path):
    (tmp_path / "usr/bin").mkdir(parents=True)
    os.symlink("/usr/bin", tmp_path / "bin")
    os.symlink("../../../../../etc", tmp_path / "usr/up")
    assert resolve_in_root(tmp_path, "/bin/sh") == tmp_path / "usr/bin/sh"
    assert resolve_in_root(tmp_path, "usr/up/passwd") == tmp_path / "etc/passwd"


def test_symlink_loops_are_refused(tmp_path: Path):
    os.symlink("b", tmp_path / "a")
    os.symlink("a", tmp_path / "b")
    with pytest.raises(EscapesRoot):
        resolve_in_root(tmp_path, "a/x")


def test_mount_points_are_made_inside(tmp_path: Path):
    os.symlink("/", tmp_path / "mnt")
    assert mount_point(tmp_path, "mnt/config") == tmp_path / "config"
    assert (tmp_path / "config").is_dir()
    target = mount_point(tmp_path, ".overcast/init", is_file=True)
    assert target.is_file() and target.parent == tmp_path / ".overcast"
