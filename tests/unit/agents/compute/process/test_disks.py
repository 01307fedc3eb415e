"""A guest's disk: its usage figure and its console log."""
from __future__ import annotations

import time
from pathlib import Path

from agents.compute.process import disks


def test_disk_usage_is_measured_then_refreshed_in_the_background(tmp_path: Path):
    disk = disks.Disk(tmp_path / "disk")
    disk.path.mkdir()
    (disk.path / "layout").write_text(disks.OVERLAY)
    disk.upper.mkdir()
    (disk.upper / "a").write_bytes(b"x" * 8192)
    assert disk.used_bytes() >= 8192
    (disk.upper / "b").write_bytes(b"x" * 65536)
    assert disk.used_bytes() < 65536  # still the cached figure
    disk._usage = (disk._usage[0] - disks.USAGE_TTL, disk._usage[1])
    disk.used_bytes()  # starts the refresh
    with disk._measuring:
        pass
    deadline = time.monotonic() + 5
    while disk.used_bytes() < 65536 + 8192:
        assert time.monotonic() < deadline


def test_a_long_console_log_is_trimmed_to_its_end(tmp_path: Path):
    disk = disks.Disk(tmp_path)
    disk.console_log.write_bytes(b"".join(b"line %d\n" % n for n in range(100_000)))
    disk.trim_console(keep=1000)
    text = disk.console_log.read_text()
    assert len(text) <= 1000 and text.endswith("line 99999\n") and text.startswith("line ")
