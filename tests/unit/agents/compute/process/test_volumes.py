"""Volumes in real guests of the ``process`` driver: real ext4 files attached through real
loop devices, written and read from inside real busybox guests; asserted on the host's
/proc/self/mountinfo and ``losetup``. Needs root (skipped without)."""
from __future__ import annotations

import asyncio
import dataclasses
import os
import shutil
import subprocess
import tarfile
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from agents.compute.contract import RUNNING, SHUTDOWN, BlockDevice, FlavorSpec, InstancePayload
from agents.compute.driver import VolumeError
from agents.compute.process import ProcessDriver, volumes
from agents.compute.process.disks import Disk
from overcast.testing import eventually
from services.image import cirros
from services.volume.contract import OVERCAST_FILE, ConnectionInfo

NEEDS = [(os.geteuid() == 0, "the process driver needs root (namespaces, mounts, loops)"),
         (shutil.which("unshare") is not None, "needs util-linux unshare"),
         (shutil.which("mkfs.ext4") is not None, "needs e2fsprogs"),
         (Path("/dev/loop-control").exists(), "needs loop devices"),
         (cirros.BUSYBOX.is_file(), "needs /bin/busybox (busybox-static)")]
pytestmark = pytest.mark.skipif(any(not ok for ok, _ in NEEDS),
                                reason="; ".join(why for ok, why in NEEDS if not ok))
FLAVOR = FlavorSpec(id="1", name="m1.tiny", vcpus=1, ram=128, disk=1)


def instance(instance_id: str, *, image_ref: str = "cirros") -> InstancePayload:
    return InstancePayload(id=instance_id, name=instance_id, project_id="demo",
                           user_id="alice", flavor=FLAVOR, image_ref=image_ref)


def volume(volumes_dir: Path, *, tree: Path | None = None, size: str = "64M"
           ) -> tuple[str, ConnectionInfo]:
    """A real volume file holding ext4 (filled from ``tree``): its id and connection."""
    volume_id = str(uuid.uuid4())
    path = volumes_dir / f"volume-{volume_id}"
    subprocess.run(["truncate", "-s", size, str(path)], check=True)
    subprocess.run(["mkfs.ext4", "-q", *(["-d", str(tree)] if tree else []), str(path)],
                   check=True)
    return volume_id, ConnectionInfo(driver_volume_type=OVERCAST_FILE, volume_id=volume_id,
                                     file_name=path.name, attachment_id=f"att-{volume_id}")


def device(volume_id: str, name: str, *, boot_index: int | None = None) -> BlockDevice:
    return BlockDevice(volume_id=volume_id, attachment_id=f"att-{volume_id}",
                       device_name=f"/dev/{name}", boot_index=boot_index)


def mounts_under(path: Path) -> list[str]:
    prefix = str(path.resolve())
    with open("/proc/self/mountinfo") as table:
        return [line for line in table if line.split()[4].startswith(prefix)]


def loops_of(path: Path) -> str:
    """``losetup -a``'s lines for ``path``."""
    listing = subprocess.run(["losetup", "-a"], capture_output=True, text=True).stdout
    return "\n".join(line for line in listing.splitlines() if str(path) in line)


def read_file(volume_file: Path, path: str) -> str:
    """A file of the filesystem in ``volume_file``, read without mounting it."""
    return subprocess.run(["debugfs", "-R", f"cat {path}", str(volume_file)],
                          capture_output=True, text=True, check=True).stdout


async def guest_sh(driver: ProcessDriver, instance_id: str, script: str) -> str:
    argv = driver.console_command(instance_id, ["sh", "-c", script])
    proc = await asyncio.create_subprocess_exec(*argv, stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), timeout=30)
    assert proc.returncode == 0, (script, err.decode())
    return out.decode()


async def booted(driver: ProcessDriver, instance_id: str) -> None:
    log = driver.disks[instance_id].console_log
    await eventually(lambda: "login:" in log.read_text(), timeout=15,
                     message=lambda: log.read_text())


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return cirros.build_rootfs(tmp_path_factory.mktemp("image") / "cirros.tar.gz")


@pytest.fixture(scope="module")
def tree(image: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The image's root tree, to fill a root volume from."""
    root = tmp_path_factory.mktemp("tree")
    subprocess.run(["tar", "-xzf", str(image), "-C", str(root)], check=True)
    return root


@pytest.fixture
def volumes_dir(tmp_path: Path) -> Path:
    path = tmp_path / "volumes"
    path.mkdir()
    return path


@pytest.fixture
async def make_driver(tmp_path: Path, volumes_dir: Path) -> AsyncIterator[Callable]:
    """``await make_driver(state)``: a ProcessDriver; after the test every one is cleaned up
    and no mount or loop device of the test is left."""
    made: list[ProcessDriver] = []

    async def make(state: str = "host-a") -> ProcessDriver:
        driver = ProcessDriver(state_dir=tmp_path / state, shared_dir=tmp_path / "shared",
                               volumes_dir=volumes_dir)
        await driver.init_host(f"{state}-{os.getpid()}")
        made.append(driver)
        return driver

    yield make
    for driver in made:
        await driver.cleanup_host()
    assert not mounts_under(tmp_path)
    await eventually(lambda: not loops_of(volumes_dir), timeout=5,
                     message=lambda: loops_of(volumes_dir))


async def test_a_volume_keeps_its_data_from_one_guest_to_another(make_driver, image,
                                                                 volumes_dir, monkeypatch):
    monkeypatch.setattr(volumes, "CLEAR_WAIT", 0.3)
    driver = await make_driver()
    for guest in ("vm-1", "vm-2"):
        await driver.spawn(instance(guest), image=image, network_info=[])
    await asyncio.gather(booted(driver, "vm-1"), booted(driver, "vm-2"))
    volume_id, connection = volume(volumes_dir)
    file = volumes_dir / connection.file_name

    await driver.attach_volume("vm-1", block_device=device(volume_id, "vdb"),
                               connection=connection)
    await driver.attach_volume("vm-1", block_device=device(volume_id, "vdb"),
                               connection=connection)  # a duplicate message
    [mount] = mounts_under(driver.disks["vm-1"].volumes / "vdb")
    assert " ext4 /dev/loop" in mount and "nosuid" in mount and "nodev" in mount
    assert str(file) in loops_of(volumes_dir)
    assert driver.attached_volumes("vm-1") == [device(volume_id, "vdb")]
    inside = await guest_sh(driver, "vm-1", "echo kept > /mnt/volumes/vdb/note && sync && "
                            "grep ' /mnt/volumes/vdb ' /proc/mounts")
    assert "ext4" in inside and "nosuid" in inside and "nodev" in inside

    # The same file is never mounted twice: not for another guest while this one has it.
    with pytest.raises(VolumeError, match="in use"):
        await driver.attach_volume("vm-2", block_device=device(volume_id, "vdc"),
                                   connection=connection)
    assert not mounts_under(driver.disks["vm-2"].volumes / "vdc")

    await driver.detach_volume("vm-1", volume_id=volume_id)
    await driver.detach_volume("vm-1", volume_id=volume_id)  # a duplicate message
    assert not mounts_under(driver.disks["vm-1"].volumes)[1:]  # only the directory's bind
    assert not loops_of(volumes_dir)  # the loop device cleared itself
    assert driver.attached_volumes("vm-1") == []
    assert "GONE" in await guest_sh(driver, "vm-1", "test -e /mnt/volumes/vdb || echo GONE")

    await driver.attach_volume("vm-2", block_device=device(volume_id, "vdc"),
                               connection=connection)
    assert await guest_sh(driver, "vm-2", "cat /mnt/volumes/vdc/note") == "kept\n"

    await driver.destroy("vm-2")  # releases its volume; the file and its data stay
    assert not loops_of(volumes_dir) and file.is_file()
    assert read_file(file, "/note") == "kept\n"


async def test_a_guest_boots_from_its_root_volume(make_driver, tree, volumes_dir, tmp_path):
    driver = await make_driver()
    root_id, root = volume(volumes_dir, tree=tree)
    data_id, data = volume(volumes_dir)
    result = await driver.spawn(instance("vm-1", image_ref=""), image=None, network_info=[],
                                block_devices=[(device(root_id, "vda", boot_index=0), root),
                                               (device(data_id, "vdb"), data)])
    assert result.disk_reused  # its root is the volume's, kept
    await booted(driver, "vm-1")
    assert driver.get_info("vm-1").power_state == RUNNING
    inside = await guest_sh(driver, "vm-1", "echo mine > /root-note && sync && "
                            "grep -E ' / | /mnt/volumes/vdb ' /proc/mounts")
    assert inside.count("ext4") == 2, inside
    root_file = volumes_dir / root.file_name
    assert str(root_file) in loops_of(volumes_dir)
    with pytest.raises(VolumeError, match="root"):
        await driver.detach_volume("vm-1", volume_id=root_id)

    await driver.power_off("vm-1", grace=0)  # a stopped guest holds no volume
    assert driver.get_info("vm-1").power_state == SHUTDOWN
    assert not loops_of(volumes_dir)
    assert read_file(root_file, "/root-note") == "mine\n"
    # A stopped guest's snapshot mounts its root volume for the moment.
    assert await driver.snapshot("vm-1", tmp_path / "snap.tar") == "tar"
    with tarfile.open(tmp_path / "snap.tar") as archive:
        assert archive.extractfile("root-note").read() == b"mine\n"
    assert not loops_of(volumes_dir)

    await driver.power_on("vm-1")  # and has them again when it starts
    await booted(driver, "vm-1")
    assert await guest_sh(driver, "vm-1", "cat /root-note; ls /mnt/volumes") == "mine\nvdb\n"

    await driver.destroy("vm-1")
    assert not loops_of(volumes_dir)
    assert root_file.is_file() and (volumes_dir / data.file_name).is_file()


async def test_a_restarted_agent_finds_the_mounts_and_releases_them(make_driver, image,
                                                                    volumes_dir):
    first = await make_driver()
    await first.spawn(instance("vm-1"), image=image, network_info=[])
    await booted(first, "vm-1")
    volume_id, connection = volume(volumes_dir)
    await first.attach_volume("vm-1", block_device=device(volume_id, "vdb"),
                              connection=connection)
    # A new driver on the same state, as after an agent restart: nothing in its memory.
    second = await make_driver()
    assert second.attached_volumes("vm-1") == [device(volume_id, "vdb")]
    assert mounts_under(second.disks["vm-1"].volumes / "vdb")  # the guest kept it
    await second.detach_volume("vm-1", volume_id=volume_id)
    assert not loops_of(volumes_dir)
    await second.destroy("vm-1")
    first.records.clear()  # the first one's view is stale: nothing left for it to stop


async def test_a_guest_cannot_point_the_mount_elsewhere(make_driver, image, volumes_dir):
    driver = await make_driver()
    await driver.spawn(instance("vm-1"), image=image, network_info=[])
    await booted(driver, "vm-1")
    await guest_sh(driver, "vm-1", "ln -s / /mnt/volumes/vdb")  # the host's root, seen there
    volume_id, connection = volume(volumes_dir)
    with pytest.raises(VolumeError, match="not a directory"):
        await driver.attach_volume("vm-1", block_device=device(volume_id, "vdb"),
                                   connection=connection)
    assert not loops_of(volumes_dir)  # nothing was mounted, anywhere
    assert driver.attached_volumes("vm-1") == []


async def test_a_stopped_guest_gets_its_new_volume_when_it_starts(make_driver, image,
                                                                  volumes_dir):
    driver = await make_driver()
    await driver.spawn(instance("vm-1"), image=image, network_info=[])
    await driver.power_off("vm-1", grace=0)
    volume_id, connection = volume(volumes_dir)
    await driver.attach_volume("vm-1", block_device=device(volume_id, "vdb"),
                               connection=connection)
    assert not loops_of(volumes_dir)  # recorded, mounted only while it runs
    await driver.power_on("vm-1")
    await booted(driver, "vm-1")
    assert "ext4" in await guest_sh(driver, "vm-1", "grep /mnt/volumes/vdb /proc/mounts")


async def test_a_volume_the_guest_still_holds_stays_attached(make_driver, image, volumes_dir,
                                                             monkeypatch):
    monkeypatch.setattr(volumes, "CLEAR_WAIT", 0.3)
    driver = await make_driver()
    await driver.spawn(instance("vm-1"), image=image, network_info=[])
    await booted(driver, "vm-1")
    volume_id, connection = volume(volumes_dir)
    await driver.attach_volume("vm-1", block_device=device(volume_id, "vdb"),
                               connection=connection)
    await guest_sh(driver, "vm-1", "cd /mnt/volumes/vdb && sleep 600 >/dev/null 2>&1 &")
    with pytest.raises(VolumeError, match="still in use"):
        await driver.detach_volume("vm-1", volume_id=volume_id)
    # Unmounted lazily: the filesystem lives on while the guest's process is in it, so it
    # is still attached, and no other guest may mount the file meanwhile.
    assert driver.attached_volumes("vm-1") == [device(volume_id, "vdb")]
    assert loops_of(volumes_dir)
    await guest_sh(driver, "vm-1", "killall sleep")
    await eventually(lambda: not loops_of(volumes_dir), timeout=5)
    await driver.detach_volume("vm-1", volume_id=volume_id)
    assert driver.attached_volumes("vm-1") == []


async def test_two_guests_asking_for_one_file_at_once_get_one_mount(tmp_path, volumes_dir,
                                                                    monkeypatch):
    monkeypatch.setattr(volumes, "CLEAR_WAIT", 0.2)
    volume_id, connection = volume(volumes_dir)
    disks = [Disk(tmp_path / name) for name in ("one", "two")]
    results = await asyncio.gather(*(asyncio.to_thread(
        volumes.attach, disk, device(volume_id, "vdb"), connection, volumes_dir)
        for disk in disks), return_exceptions=True)
    try:
        assert sorted(type(r).__name__ for r in results) == ["NoneType", "VolumeError"]
        assert len(loops_of(volumes_dir).splitlines()) == 1
    finally:
        for disk in disks:
            volumes.release_all(disk)
    assert not loops_of(volumes_dir) and not mounts_under(tmp_path)


def test_a_read_only_volume_is_mounted_read_only(tmp_path, volumes_dir):
    volume_id, connection = volume(volumes_dir)
    disk = Disk(tmp_path / "disk")
    read_only = dataclasses.replace(connection, read_only=True)
    volumes.attach(disk, device(volume_id, "vdb"), read_only, volumes_dir)
    try:
        [mount] = mounts_under(disk.volumes / "vdb")
        assert mount.split()[5].split(",")[0] == "ro"  # the mount's own options
        with pytest.raises(OSError):
            (disk.volumes / "vdb" / "note").write_text("x")
    finally:
        volumes.release_all(disk)
    assert not loops_of(volumes_dir) and not mounts_under(tmp_path)
