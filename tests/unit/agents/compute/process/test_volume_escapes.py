"""A volume made from a hostile user's image, end to end on real files: the volume service's
``FileBackend`` fills it from an archive holding a setuid-root program, device nodes (one of
them the host's memory), a FIFO and symlinks out of the tree; the host mounts it as it does
for a guest (``volumes.attach``). Nothing of it gives anyone more than the tree's own files:
no device node reaches the volume, the mount is ``nosuid,nodev``, a setuid-root program run
from it by an unprivileged user stays unprivileged, and the host never follows a symlink of
the volume. Needs root, loop devices and e2fsprogs (skipped without)."""
from __future__ import annotations

import io
import os
import shutil
import subprocess
import tarfile
import tempfile
import uuid
from pathlib import Path

import pytest

from agents.compute.contract import BlockDevice
from agents.compute.process import volumes
from agents.compute.process.disks import Disk
from services.volume.backend import FileBackend
from services.volume.contract import OVERCAST_FILE, ConnectionInfo

NEEDS = [(os.geteuid() == 0, "mounting needs root"),
         (Path("/dev/loop-control").exists(), "needs loop devices"),
         (shutil.which("mkfs.ext4") is not None, "needs e2fsprogs"),
         (shutil.which("setpriv") is not None, "needs util-linux setpriv")]
pytestmark = pytest.mark.skipif(any(not ok for ok, _ in NEEDS),
                                reason="; ".join(why for ok, why in NEEDS if not ok))
NOBODY = 65534


def _member(tar: tarfile.TarFile, name: str, kind: bytes, *, data: bytes = b"",
            mode: int = 0o644, uid: int = 0, **extra: object) -> None:
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.uid, info.gid = kind, mode, uid, 0
    for key, value in extra.items():
        setattr(info, key, value)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data) if data else None)


def hostile_image(path: Path) -> Path:
    """A root filesystem archive a hostile user could upload."""
    with tarfile.open(path, "w:gz") as tar:
        for directory in ("bin", "dev", "run"):
            _member(tar, directory, tarfile.DIRTYPE, mode=0o755)
        # /usr/bin/id made setuid root: it reports euid=0 wherever setuid is honoured.
        _member(tar, "bin/become-root", tarfile.REGTYPE, data=Path("/usr/bin/id").read_bytes(),
                mode=0o4755)
        _member(tar, "dev/mem", tarfile.CHRTYPE, mode=0o666, devmajor=1, devminor=1)
        _member(tar, "dev/host-disk", tarfile.BLKTYPE, mode=0o666, devmajor=8, devminor=0)
        _member(tar, "run/pipe", tarfile.FIFOTYPE)
        _member(tar, "escape", tarfile.SYMTYPE, linkname="/")
        _member(tar, "host-etc", tarfile.SYMTYPE, linkname="/etc")
    return path


def inode(volume_file: Path, inside: str) -> str:
    return subprocess.run(["debugfs", "-R", f"stat {inside}", str(volume_file)],
                          capture_output=True, text=True).stdout


@pytest.fixture
def volume_file(tmp_path: Path) -> Path:
    root = tmp_path / "volumes"
    root.mkdir()
    volume_id = str(uuid.uuid4())
    FileBackend(root).create_from_image(volume_id, 1, hostile_image(tmp_path / "image.tgz"))
    return root / f"volume-{volume_id}"


def test_an_image_gives_its_volume_no_device_node(volume_file: Path) -> None:
    for node in ("/dev/mem", "/dev/host-disk"):
        assert "File not found" in subprocess.run(
            ["debugfs", "-R", f"stat {node}", str(volume_file)], capture_output=True,
            text=True).stderr, node
    # What else the tree held is there as it was: the setuid program (harmless once
    # mounted nosuid), the FIFO and the symlinks, never followed when the volume was made.
    assert "Mode:  04755" in inode(volume_file, "/bin/become-root")
    assert "Type: FIFO" in inode(volume_file, "/run/pipe")
    assert 'Fast link dest: "/"' in inode(volume_file, "/escape")


@pytest.fixture
def disk() -> Disk:
    """A guest disk an unprivileged user can walk to (as a guest's own users could)."""
    base = Path(tempfile.mkdtemp(prefix="overcast-escape-"))
    base.chmod(0o711)
    try:
        yield Disk(base / "disk")
    finally:
        volumes.release_all(Disk(base / "disk"))
        shutil.rmtree(base, ignore_errors=True)


def test_a_hostile_volume_mounted_for_a_guest_grants_nothing(volume_file: Path,
                                                              disk: Disk) -> None:
    connection = ConnectionInfo(driver_volume_type=OVERCAST_FILE, volume_id="v",
                                file_name=volume_file.name, attachment_id="a")
    block_device = BlockDevice(volume_id="v", attachment_id="a", device_name="/dev/vdb")
    disk.path.mkdir(mode=0o711)
    disk.volumes.mkdir(mode=0o711)
    volumes.attach(disk, block_device, connection, volume_file.parent)
    where = disk.volumes / "vdb"
    [line] = [m for m in Path("/proc/self/mountinfo").read_text().splitlines()
              if m.split()[4] == str(where.resolve())]
    assert {"nosuid", "nodev"} <= set(line.split()[5].split(","))

    # The setuid-root program runs as whoever runs it.
    ran = subprocess.run(["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}",
                          "--clear-groups", str(where / "bin" / "become-root")],
                         capture_output=True, text=True)
    assert ran.returncode == 0, ran.stderr
    assert "euid=0" not in ran.stdout and f"uid={NOBODY}" in ran.stdout
    # The mount point is the host's own directory; the volume's symlinks stay symlinks
    # inside it, pointing where the guest's root would resolve them.
    assert where.is_dir() and not where.is_symlink()
    assert os.readlink(where / "escape") == "/" and os.readlink(where / "host-etc") == "/etc"
    assert not (where / "dev" / "mem").exists()

    volumes.detach(disk, block_device, volume_file.name)
    assert not where.exists()
    assert Path("/etc/passwd").is_file()  # the unmount and rmdir followed nothing
