"""Root filesystem archives are told by their first bytes, and an upload marks them."""
from __future__ import annotations

import bz2
import gzip
import io
import lzma
import os
import tarfile

import pytest

from services.image import rootfs
from services.image.manager import ImageManager
from tests.unit.services.image.image_helpers import ALICE, chunks_of


def _tar(size: int = 200_000) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        data = os.urandom(size)  # incompressible, so the compressed head is a small part
        info = tarfile.TarInfo("etc/hostname")
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


@pytest.mark.parametrize("fmt, compress", [
    ("tar", lambda b: b), ("tar.gz", gzip.compress), ("tar.xz", lzma.compress),
    ("tar.bz2", bz2.compress)])
def test_each_archive_format_is_detected_from_its_head(fmt, compress):
    assert rootfs.detect(compress(_tar())[:rootfs.HEAD_BYTES]) == fmt


@pytest.mark.parametrize("data", [
    b"", b"\x00" * 4096, b"QFI\xfb" + os.urandom(4096), gzip.compress(b"not a tar" * 100),
    b"\x1f\x8b" + os.urandom(100), b"BZh9garbage", lzma.compress(os.urandom(2000))])
def test_other_data_is_no_root_filesystem(data):
    assert rootfs.detect(data[:rootfs.HEAD_BYTES]) is None


async def test_an_upload_of_a_tar_sets_overcast_rootfs(manager: ImageManager):
    image = await manager.create_image(ALICE, {"name": "root", "disk_format": "raw",
                                               "container_format": "bare"})
    done = await manager.upload(ALICE, image["id"], chunks_of(gzip.compress(_tar()), 1000))
    assert done["overcast_rootfs"] == "tar.gz"


async def test_an_upload_of_other_data_sets_nothing(manager: ImageManager):
    image = await manager.create_image(ALICE, {"name": "disk", "disk_format": "qcow2",
                                               "container_format": "bare"})
    done = await manager.upload(ALICE, image["id"], chunks_of(b"QFI\xfb" + b"\x00" * 5000,
                                                              1000))
    assert "overcast_rootfs" not in done
