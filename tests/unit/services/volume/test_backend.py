"""The file backend on real files: each volume's filesystem is looked at with e2fsprogs
(dumpe2fs, e2fsck -n, debugfs), never mounted."""
from __future__ import annotations

import io
import os
import re
import subprocess
import tarfile
import uuid
from pathlib import Path

import pytest

from services.volume.backend import GIB, BackendError, FileBackend, InvalidImage

SBIN = "/usr/sbin"


def e2(tool: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([f"{SBIN}/{tool}", *args], capture_output=True, text=True,
                          check=False)


def block_count(path: Path) -> int:
    """The filesystem's size in blocks, from its superblock."""
    out = e2("dumpe2fs", "-h", str(path)).stdout
    return int(re.search(r"^Block count:\s+(\d+)$", out, re.MULTILINE).group(1))


def block_size(path: Path) -> int:
    out = e2("dumpe2fs", "-h", str(path)).stdout
    return int(re.search(r"^Block size:\s+(\d+)$", out, re.MULTILINE).group(1))


def assert_clean(path: Path) -> None:
    result = e2("e2fsck", "-fn", str(path))
    assert result.returncode == 0, result.stdout + result.stderr


def read(path: Path, inside: str) -> bytes:
    """A file's bytes read out of the filesystem in ``path`` without mounting it."""
    result = subprocess.run([f"{SBIN}/debugfs", "-R", f"cat {inside}", str(path)],
                            capture_output=True, check=True)
    return result.stdout


def listing(path: Path, inside: str) -> str:
    return e2("debugfs", "-R", f"ls -l {inside}", str(path)).stdout


def replace(path: Path, inside: str, data: bytes, scratch: Path) -> None:
    """Overwrite a file inside the (unmounted) filesystem in ``path``."""
    scratch.write_bytes(data)
    for request in (f"rm {inside}", f"write {scratch} {inside}"):
        result = e2("debugfs", "-w", "-R", request, str(path))
        assert result.returncode == 0, result.stderr
    assert read(path, inside) == data


def new_id() -> str:
    return str(uuid.uuid4())


def entries(root: Path) -> list[str]:
    return sorted(os.listdir(root))


def make_archive(path: Path, members: list[tuple[tarfile.TarInfo, bytes | None]],
                 mode: str = "w:gz") -> Path:
    with tarfile.open(path, mode) as tar:
        for info, data in members:
            if data is not None:
                info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return path


def member(name: str, kind: bytes = tarfile.REGTYPE, *, mode: int = 0o644,
           linkname: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.linkname = kind, mode, linkname
    return info


def rootfs_members() -> list[tuple[tarfile.TarInfo, bytes | None]]:
    return [
        (member("./etc", tarfile.DIRTYPE, mode=0o755), None),
        (member("./etc/motd"), b"welcome to the volume\n"),
        (member("./bin", tarfile.DIRTYPE, mode=0o555), None),  # read-only, filled after
        (member("./bin/busybox", mode=0o755), b"\x7fELF" + bytes(5000)),
        (member("./bin/sh", tarfile.SYMTYPE, linkname="busybox"), None),
        (member("./bin/ls", tarfile.LNKTYPE, mode=0o755, linkname="./bin/busybox"), None),
        (member("./usr/lib/os-release", tarfile.SYMTYPE, linkname="/etc/motd"), None),
        (member("./dev/null", tarfile.CHRTYPE, mode=0o666), None),
    ]


@pytest.fixture
def root(tmp_path: Path) -> Path:
    directory = tmp_path / "volumes"
    directory.mkdir()
    return directory


@pytest.fixture
def backend(root: Path) -> FileBackend:
    return FileBackend(root)


# -- names ----------------------------------------------------------------------------------


def test_paths_are_named_after_the_id(backend: FileBackend, root: Path) -> None:
    ident = new_id()
    assert backend.volume_path(ident) == root / f"volume-{ident}"
    assert backend.snapshot_path(ident) == root / f"snapshot-{ident}"


@pytest.mark.parametrize("bad", ["../../etc/passwd", "..", "", "a/b",
                                 "0b8f6a8e-0000-4000-8000-00000000000a/../x",
                                 "0B8F6A8E-0000-4000-8000-00000000000A",
                                 "0b8f6a8e-0000-4000-8000-00000000000a\n", None, 7])
def test_an_id_that_is_no_uuid_is_refused(backend: FileBackend, root: Path, bad) -> None:
    with pytest.raises(BackendError):
        backend.volume_path(bad)
    with pytest.raises(BackendError):
        backend.snapshot_path(bad)
    with pytest.raises(BackendError):
        backend.create(bad, 1)
    with pytest.raises(BackendError):
        backend.delete(bad)
    with pytest.raises(BackendError):
        backend.snapshot(new_id(), bad)
    assert entries(root) == []
    assert entries(root.parent) == ["volumes"]


# -- empty volumes ----------------------------------------------------------------------------


def test_create_makes_a_sparse_file_of_exactly_its_size_holding_ext4(
        backend: FileBackend) -> None:
    ident = new_id()
    backend.create(ident, 1)
    path = backend.volume_path(ident)
    assert path.stat().st_size == GIB
    assert block_count(path) * block_size(path) == GIB
    assert_clean(path)
    assert backend.used_bytes(ident) < 64 << 20  # sparse: the lazy tables are not written
    assert backend.used_bytes(ident) == path.stat().st_blocks * 512
    assert "lost+found" in listing(path, "/")


def test_create_again_is_a_no_op(backend: FileBackend) -> None:
    ident = new_id()
    backend.create(ident, 2)
    before = backend.volume_path(ident).stat()
    backend.create(ident, 2)
    after = backend.volume_path(ident).stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    with pytest.raises(BackendError, match="another size"):
        backend.create(ident, 3)


@pytest.mark.parametrize("size", [0, -1, 1.5, True, "1"])
def test_a_size_that_is_no_whole_gib_is_refused(backend: FileBackend, root: Path,
                                                 size) -> None:
    with pytest.raises(BackendError, match="whole number of GiB"):
        backend.create(new_id(), size)
    assert entries(root) == []


FAILING_MKFS = """#!/bin/sh
# Writes into the file it was given (a half-made filesystem), then fails.
for last; do :; done
printf 'half a superblock' > "$last"
echo 'mkfs.ext4: simulated failure' >&2
exit 1
"""


def test_a_failed_mkfs_leaves_nothing_under_the_final_name(
        backend: FileBackend, root: Path, tmp_path: Path, monkeypatch) -> None:
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "mkfs.ext4").write_text(FAILING_MKFS)
    (fake / "mkfs.ext4").chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake}:{os.environ['PATH']}")
    ident = new_id()
    with pytest.raises(BackendError, match="simulated failure"):
        backend.create(ident, 1)
    assert entries(root) == []
    monkeypatch.undo()
    backend.create(ident, 1)  # the manager's retry
    assert_clean(backend.volume_path(ident))


def test_what_a_crash_left_is_cleared_by_the_next_attempt(backend: FileBackend,
                                                          root: Path) -> None:
    ident = new_id()
    name = f"volume-{ident}"
    (root / f".{name}.0123abcd.tmp").write_bytes(b"half a volume")
    (root / f".{name}.0123abcd.work.tmp").mkdir()
    (root / f".{name}.0123abcd.work.tmp" / "tree").mkdir()
    other = root / f".volume-{new_id()}.0123abcd.tmp"  # another volume's work: untouched
    other.write_bytes(b"")
    backend.create(ident, 1)
    assert entries(root) == sorted([name, other.name])


# -- from an image --------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["w", "w:gz", "w:xz", "w:bz2"])
def test_create_from_image_fills_the_filesystem_with_the_tree(
        backend: FileBackend, root: Path, tmp_path: Path, mode: str) -> None:
    image = make_archive(tmp_path / "rootfs.tar", rootfs_members(), mode)
    ident = new_id()
    backend.create_from_image(ident, 1, image)
    path = backend.volume_path(ident)
    assert path.stat().st_size == GIB
    assert_clean(path)
    assert read(path, "/etc/motd") == b"welcome to the volume\n"
    assert read(path, "/bin/ls") == b"\x7fELF" + bytes(5000)
    bin_listing = listing(path, "/bin")
    inodes = re.findall(r"^\s*(\d+)\s+100755 \(1\).*\s(?:busybox|ls)$", bin_listing,
                        re.MULTILINE)
    assert len(inodes) == 2 and inodes[0] == inodes[1], bin_listing  # one file, two names
    assert re.search(r"^\s*\d+\s+120777 .*\ssh$", bin_listing, re.MULTILINE)  # a symlink
    assert 'Fast link dest: "busybox"' in e2("debugfs", "-R", "stat /bin/sh", str(path)).stdout
    assert re.search(r"^\s*\d+\s+40555 ", bin_listing, re.MULTILINE)  # the mode it had
    assert "null" not in listing(path, "/dev")  # device nodes are skipped
    assert entries(root) == [path.name]
    assert backend.used_bytes(ident) >= 8192


def test_create_from_image_again_is_a_no_op(backend: FileBackend, tmp_path: Path) -> None:
    image = make_archive(tmp_path / "rootfs.tar.gz", rootfs_members())
    ident = new_id()
    backend.create_from_image(ident, 1, image)
    inode = backend.volume_path(ident).stat().st_ino
    image.unlink()  # not even read again
    backend.create_from_image(ident, 1, image)
    assert backend.volume_path(ident).stat().st_ino == inode


@pytest.mark.parametrize("content", [b"", b"just some text, not an archive" * 40,
                                     b"\x1f\x8b\x08\x00garbage" + bytes(600),
                                     b"\xfd7zXZ\x00" + bytes(600)])
def test_what_is_no_rootfs_archive_is_an_invalid_image(
        backend: FileBackend, root: Path, tmp_path: Path, content: bytes) -> None:
    image = tmp_path / "image"
    image.write_bytes(content)
    with pytest.raises(InvalidImage):
        backend.create_from_image(new_id(), 1, image)
    assert entries(root) == []


def test_a_gzip_of_something_else_is_an_invalid_image(
        backend: FileBackend, root: Path, tmp_path: Path) -> None:
    import gzip
    image = tmp_path / "image.gz"
    image.write_bytes(gzip.compress(b"not a tar" * 200))
    with pytest.raises(InvalidImage, match="not a tar archive"):
        backend.create_from_image(new_id(), 1, image)
    assert entries(root) == []


def test_an_image_bigger_than_the_volume_is_refused_before_it_is_unpacked(
        backend: FileBackend, root: Path, tmp_path: Path) -> None:
    # A header that claims 2 GiB followed by a few bytes: refused on the header alone.
    huge = member("big")
    huge.size = 2 * GIB
    image = tmp_path / "huge.tar"
    image.write_bytes(huge.tobuf(format=tarfile.GNU_FORMAT) + bytes(4096))
    with pytest.raises(InvalidImage, match="does not fit in 1 GiB"):
        backend.create_from_image(new_id(), 1, image)
    assert entries(root) == []


# Every unsafe member is refused by overcast.archives (tests/unit/overcast/test_archives.py,
# which also counts the sizes); here, that the refusal is an InvalidImage and leaves nothing.
# Absolute link targets point at ``outside``, a directory of the test's own, never at /.
@pytest.mark.parametrize("members", [
    lambda outside: [(member("../escaped"), b"x")],
    lambda outside: [(member("etc", tarfile.SYMTYPE, linkname=str(outside)), None),
                     (member("etc/escaped"), b"x")],
    lambda outside: [(member("hard", tarfile.LNKTYPE, linkname=str(outside / "secret")),
                      None)],
], ids=["dotdot", "through-symlink", "hardlink-absent"])
def test_an_archive_that_reaches_out_of_its_root_is_refused(
        backend: FileBackend, root: Path, tmp_path: Path, members) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_bytes(b"secret")
    image = make_archive(tmp_path / "evil.tar", members(outside), "w")
    before = sorted(p.name for p in tmp_path.iterdir())
    with pytest.raises(InvalidImage):
        backend.create_from_image(new_id(), 1, image)
    assert entries(root) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    assert entries(outside) == ["secret"]


def test_a_missing_image_file_is_a_backend_error(backend: FileBackend, root: Path,
                                                 tmp_path: Path) -> None:
    with pytest.raises(BackendError):
        backend.create_from_image(new_id(), 1, tmp_path / "absent.tar")
    assert entries(root) == []


# -- snapshots and copies -------------------------------------------------------------------


@pytest.fixture
def filled(backend: FileBackend, tmp_path: Path) -> str:
    """A 1 GiB volume holding /etc/motd."""
    ident = new_id()
    backend.create_from_image(ident, 1, make_archive(tmp_path / "rootfs.tar.gz",
                                                     rootfs_members()))
    return ident


def test_a_snapshot_keeps_the_data_the_volume_had(backend: FileBackend, filled: str,
                                                  tmp_path: Path) -> None:
    snap = new_id()
    backend.snapshot(filled, snap)
    volume, snapshot = backend.volume_path(filled), backend.snapshot_path(snap)
    replace(volume, "/etc/motd", b"changed after the snapshot\n", tmp_path / "scratch")
    assert read(snapshot, "/etc/motd") == b"welcome to the volume\n"
    assert read(volume, "/etc/motd") == b"changed after the snapshot\n"
    assert snapshot.stat().st_size == GIB
    assert snapshot.stat().st_blocks * 512 < 64 << 20  # a sparse copy
    assert_clean(snapshot)
    inode = snapshot.stat().st_ino
    backend.snapshot(filled, snap)  # again: a no-op, the snapshot is not retaken
    assert snapshot.stat().st_ino == inode
    assert read(snapshot, "/etc/motd") == b"welcome to the volume\n"


def test_a_snapshot_of_a_missing_volume_is_a_backend_error(backend: FileBackend,
                                                           root: Path) -> None:
    with pytest.raises(BackendError, match="does not exist"):
        backend.snapshot(new_id(), new_id())
    assert entries(root) == []


def test_a_volume_from_a_snapshot_is_grown_to_its_size(backend: FileBackend,
                                                       filled: str) -> None:
    snap, ident = new_id(), new_id()
    backend.snapshot(filled, snap)
    backend.create_from_snapshot(ident, snap, 3)
    path = backend.volume_path(ident)
    assert path.stat().st_size == 3 * GIB
    assert block_count(path) * block_size(path) == 3 * GIB
    assert_clean(path)
    assert read(path, "/etc/motd") == b"welcome to the volume\n"
    backend.create_from_snapshot(ident, snap, 3)  # repeated: nothing changes
    assert path.stat().st_size == 3 * GIB


def test_a_volume_from_a_snapshot_of_the_same_size(backend: FileBackend, filled: str) -> None:
    snap, ident = new_id(), new_id()
    backend.snapshot(filled, snap)
    backend.create_from_snapshot(ident, snap, 1)
    assert block_count(backend.volume_path(ident)) * 4096 == GIB
    assert read(backend.volume_path(ident), "/etc/motd") == b"welcome to the volume\n"


def test_a_volume_smaller_than_its_source_is_refused(backend: FileBackend, root: Path) -> None:
    source, snap = new_id(), new_id()
    backend.create(source, 2)
    backend.snapshot(source, snap)
    before = entries(root)
    with pytest.raises(BackendError, match="at least 2 GiB"):
        backend.create_from_snapshot(new_id(), snap, 1)
    with pytest.raises(BackendError, match="at least 2 GiB"):
        backend.create_from_volume(new_id(), source, 1)
    assert entries(root) == before


def test_a_volume_from_a_missing_source_is_a_backend_error(backend: FileBackend,
                                                           root: Path) -> None:
    with pytest.raises(BackendError, match="does not exist"):
        backend.create_from_snapshot(new_id(), new_id(), 1)
    with pytest.raises(BackendError, match="does not exist"):
        backend.create_from_volume(new_id(), new_id(), 1)
    assert entries(root) == []


def test_a_volume_from_a_volume_is_an_independent_copy(backend: FileBackend, filled: str,
                                                       tmp_path: Path) -> None:
    ident = new_id()
    backend.create_from_volume(ident, filled, 2)
    clone = backend.volume_path(ident)
    assert block_count(clone) * block_size(clone) == 2 * GIB
    replace(clone, "/etc/motd", b"the clone's own\n", tmp_path / "scratch")
    assert read(backend.volume_path(filled), "/etc/motd") == b"welcome to the volume\n"
    assert_clean(clone)


# -- extend and delete ----------------------------------------------------------------------


def test_extend_grows_the_filesystem_and_keeps_the_data(backend: FileBackend,
                                                        filled: str) -> None:
    path = backend.volume_path(filled)
    backend.extend(filled, 4)
    assert path.stat().st_size == 4 * GIB
    assert block_count(path) * block_size(path) == 4 * GIB
    assert_clean(path)
    assert read(path, "/etc/motd") == b"welcome to the volume\n"
    backend.extend(filled, 4)  # repeated: harmless
    assert block_count(path) * block_size(path) == 4 * GIB
    with pytest.raises(BackendError, match="cannot shrink"):
        backend.extend(filled, 2)
    assert path.stat().st_size == 4 * GIB


def test_an_extend_interrupted_after_the_truncate_is_finished_by_the_retry(
        backend: FileBackend, filled: str) -> None:
    path = backend.volume_path(filled)
    os.truncate(path, 2 * GIB)  # the file grew, then the process died
    assert block_count(path) * block_size(path) == GIB
    backend.extend(filled, 2)
    assert block_count(path) * block_size(path) == 2 * GIB
    assert_clean(path)


def test_extend_of_a_missing_volume_is_a_backend_error(backend: FileBackend,
                                                       root: Path) -> None:
    with pytest.raises(BackendError, match="does not exist"):
        backend.extend(new_id(), 2)
    assert entries(root) == []


def test_delete_is_idempotent(backend: FileBackend, filled: str, root: Path) -> None:
    snap = new_id()
    backend.snapshot(filled, snap)
    backend.delete(filled)
    assert entries(root) == [f"snapshot-{snap}"]
    backend.delete(filled)
    backend.delete_snapshot(snap)
    backend.delete_snapshot(snap)
    assert entries(root) == []
    with pytest.raises(BackendError, match="does not exist"):
        backend.used_bytes(filled)


def test_delete_removes_what_an_interrupted_creation_left(backend: FileBackend,
                                                          root: Path) -> None:
    ident = new_id()
    (root / f".volume-{ident}.5a5a.tmp").write_bytes(b"half")
    backend.delete(ident)
    assert entries(root) == []


# -- check ----------------------------------------------------------------------------------


def test_check_passes_on_a_usable_directory_and_leaves_nothing(backend: FileBackend,
                                                              root: Path) -> None:
    backend.check()
    assert entries(root) == []


def test_check_raises_when_the_directory_is_missing(tmp_path: Path) -> None:
    with pytest.raises(OSError):
        FileBackend(tmp_path / "absent").check()


def test_check_raises_when_the_directory_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(OSError):
        FileBackend(tmp_path / "file").check()


def test_check_raises_without_the_filesystem_tools(backend: FileBackend, monkeypatch) -> None:
    import services.volume.backend as module
    monkeypatch.setattr(module, "_TOOL_DIRS", ())
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(FileNotFoundError, match="e2fsprogs"):
        backend.check()


def test_a_directory_that_is_gone_is_a_backend_error_not_an_os_error(tmp_path: Path) -> None:
    backend = FileBackend(tmp_path / "absent")
    with pytest.raises(BackendError, match="could not be made"):
        backend.create(new_id(), 1)
    backend.delete(new_id())  # nothing to delete: fine
