"""The default busybox image: the archive builder and its registration at service start."""
from __future__ import annotations

import tarfile
from pathlib import Path

import pytest

from overcast.bus.signing import Signer
from services.image import cirros
from services.image.client import ImageClient
from services.image.service import CIRROS_ID, ImageConfig, ImageService
from tests.unit.services.image.image_helpers import BOB

pytestmark = pytest.mark.skipif(not cirros.BUSYBOX.is_file(), reason="needs /bin/busybox")


def test_archive_is_a_small_busybox_root(tmp_path: Path):
    archive = cirros.build_rootfs(tmp_path / "rootfs.tar.gz")
    assert archive.stat().st_size < 4 * 1024 * 1024
    with tarfile.open(archive, "r:gz") as tar:
        members = {m.name: m for m in tar.getmembers()}
        busybox = members["bin/busybox"]
        assert busybox.isfile() and busybox.mode == 0o755
        assert busybox.size == cirros.BUSYBOX.stat().st_size
        assert members["bin/sh"].issym() and members["bin/sh"].linkname == "busybox"
        assert members["sbin/init"].linkname == "../bin/busybox"
        assert members["usr/bin/env"].linkname == "../../bin/busybox"
        for name in ("ls", "cat", "echo", "hostname", "mount", "ps", "sleep"):
            assert members[f"bin/{name}"].issym(), name
        assert members["sbin/ip"].issym()
        for folder in ("etc", "proc", "sys", "dev", "tmp", "root", "var", "run"):
            assert members[folder].isdir(), folder
        assert members["tmp"].mode == 0o1777
        assert {m.mtime for m in members.values()} == {cirros.MTIME}
        os_release = tar.extractfile("etc/os-release").read().decode()
        assert "Overcast CirrOS-like busybox image" in os_release
        assert tar.extractfile("etc/passwd").read().startswith(b"root:x:0:0:")
        assert tar.extractfile("etc/hostname").read() == b"cirros\n"


@pytest.mark.skipif(not all(p.is_file() for p in cirros.DROPBEAR),
                    reason="needs Debian's dropbear-bin")
def test_archive_holds_dropbear_its_libraries_and_a_locked_cirros_user(tmp_path: Path):
    archive = cirros.build_rootfs(tmp_path / "rootfs.tar.gz")
    with tarfile.open(archive, "r:gz") as tar:
        members = {m.name: m for m in tar.getmembers()}
        for name in ("usr/sbin/dropbear", "usr/bin/dropbearkey"):
            assert members[name].isfile() and members[name].mode == 0o755, name
        for library in cirros.linked_files(cirros.DROPBEAR[0]):
            assert members[str(library).lstrip("/")].isfile(), library
        assert "lib64/ld-linux-x86-64.so.2" in members or "lib/ld-linux-aarch64.so.1" in members
        for folder in ("etc/dropbear", "var/log", "dev/pts"):
            assert members[folder].isdir(), folder
        home, ssh = members["home/cirros"], members["home/cirros/.ssh"]
        assert (home.uid, ssh.uid, ssh.mode) == (1000, 1000, 0o700)
        passwd = tar.extractfile("etc/passwd").read().decode()
        assert "cirros:x:1000:1000:cirros:/home/cirros:/bin/sh" in passwd
        shadow = tar.extractfile("etc/shadow").read().decode().splitlines()
        assert {line.split(":")[0]: line.split(":")[1] for line in shadow} == \
            {"root": "!", "cirros": "!"}
        assert members["etc/shadow"].mode == 0o640


def test_archive_without_an_ssh_server_on_the_host_still_builds(tmp_path: Path):
    archive = cirros.build_rootfs(tmp_path / "rootfs.tar.gz",
                                  ssh_server=(tmp_path / "no-dropbear",))
    with tarfile.open(archive, "r:gz") as tar:
        names = tar.getnames()
    assert "bin/busybox" in names and "usr/sbin/dropbear" not in names


def test_archive_is_reproducible(tmp_path: Path):
    one = cirros.build_rootfs(tmp_path / "one.tar.gz").read_bytes()
    two = cirros.build_rootfs(tmp_path / "two.tar.gz").read_bytes()
    assert one == two


def test_missing_busybox_is_a_clear_error(tmp_path: Path):
    with pytest.raises(cirros.BusyboxMissing, match="busybox-static"):
        cirros.build_rootfs(tmp_path / "x.tar.gz", busybox=tmp_path / "no-busybox")


async def test_service_registers_cirros_once(tmp_path: Path):
    cfg = ImageConfig(listen="127.0.0.1:0", state_dir=str(tmp_path),
                      bus_signing_key="image-tests-signing-key")
    for attempt in range(2):
        service = ImageService(cfg)
        await service.start()
        client = ImageClient(f"127.0.0.1:{service.port}",
                         signer=Signer("image-tests-signing-key"))
        try:
            image = await client.get_image(BOB, CIRROS_ID)
            assert image["name"] == "cirros" and image["status"] == "active"
            assert image["visibility"] == "public" and image["owner"] is None
            assert (image["disk_format"], image["container_format"]) == ("raw", "bare")
            assert image["overcast_rootfs"] == "tar.gz"
            if attempt == 0:
                first = image
            else:
                assert image == first  # not rebuilt at the second start
            listed = await client.list_images(BOB, filters={"name": "cirros"})
            assert [i["id"] for i in listed["images"]] == [CIRROS_ID]
            data = bytearray()
            async for chunk in client.download(BOB, CIRROS_ID):
                data += chunk
            assert len(data) == image["size"] and data[:2] == b"\x1f\x8b"
        finally:
            await client.close()
            await service.stop()
