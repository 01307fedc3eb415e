"""The twins keep their real counterparts' contracts: the same methods and signatures as
FileBackend and SwiftBackupStore, and the same outcomes as the real FileBackend (mkfs and
all) for the same steps."""
from __future__ import annotations

import inspect
import shutil
import uuid
from pathlib import Path

import pytest

from services.volume.backend import BackendError, FileBackend, InvalidImage
from services.volume.backups import SwiftBackupStore
from tests.unit.services.volume.twins import (
    GiB,
    TwinBackend,
    TwinBackendError,
    TwinBackupStore,
    TwinInvalidImage,
    rootfs_tar,
)

_PUBLIC = ("volume_path", "snapshot_path", "create", "create_from_image",
           "create_from_snapshot", "create_from_volume", "snapshot", "extend", "delete",
           "delete_snapshot", "used_bytes", "check")


@pytest.mark.parametrize("name", _PUBLIC)
def test_the_backend_twin_has_the_real_signatures(name):
    assert inspect.signature(getattr(TwinBackend, name)) == \
        inspect.signature(getattr(FileBackend, name))


@pytest.mark.parametrize("name", ["backup", "restore", "delete"])
def test_the_store_twin_has_the_real_signatures(name):
    assert inspect.signature(getattr(TwinBackupStore, name)) == \
        inspect.signature(getattr(SwiftBackupStore, name))


def _scenario(backend, image: Path, junk: Path) -> tuple[list[str], list[int]]:
    """The same steps on either backend: what each step came to, and the sizes (GiB) of
    the files left."""
    vol, clone, other, snap, missing, made = (str(uuid.uuid4()) for _ in range(6))
    outcomes: list[str] = []

    def step(method: str, *args: object) -> None:
        try:
            getattr(backend, method)(*args)
        except (InvalidImage, TwinInvalidImage):
            outcomes.append(f"{method}: invalid image")
        except (BackendError, TwinBackendError):
            outcomes.append(f"{method}: backend error")
        else:
            outcomes.append(f"{method}: ok")

    step("check")
    step("create", vol, 1)
    step("create", vol, 1)  # repeated: nothing happens
    step("create", vol, 2)  # exists with another size
    step("snapshot", vol, snap)
    step("snapshot", vol, snap)
    step("create_from_snapshot", clone, snap, 2)
    step("create_from_volume", other, vol, 1)
    step("create_from_snapshot", str(uuid.uuid4()), missing, 1)  # no such snapshot
    step("extend", vol, 3)
    step("extend", vol, 3)
    step("extend", vol, 2)  # never shrinks
    step("create_from_image", made, 1, image)
    step("create_from_image", str(uuid.uuid4()), 1, junk)
    step("create", "not-a-uuid", 1)
    step("delete", other)
    step("delete", other)
    step("delete_snapshot", snap)
    step("delete_snapshot", snap)
    sizes = sorted(p.stat().st_size // GiB for p in backend.root.glob("[vs]*-*"))
    return outcomes, sizes


@pytest.mark.skipif(shutil.which("mkfs.ext4", path="/usr/sbin:/sbin:/usr/bin") is None,
                    reason="e2fsprogs is not installed")
def test_the_backend_twin_behaves_as_the_file_backend(tmp_path):
    image = tmp_path / "rootfs.tar"
    image.write_bytes(rootfs_tar(tmp_path / "build"))
    junk = tmp_path / "junk"
    junk.write_bytes(b"no archive")
    results = {}
    for kind, make in (("real", FileBackend), ("twin", TwinBackend)):
        root = tmp_path / kind
        root.mkdir()
        results[kind] = _scenario(make(root), image, junk)
    assert results["twin"] == results["real"]
    outcomes, sizes = results["real"]
    assert outcomes[3] == "create: backend error"
    assert outcomes[13] == "create_from_image: invalid image"
    assert sizes == [1, 2, 3]  # the image's volume, the clone, the extended volume


def test_check_fails_without_the_directory(tmp_path):
    with pytest.raises(OSError):
        TwinBackend(tmp_path / "missing").check()
