"""Root filesystem archives: their format from their bytes, and members checked one by one
against the tree extracted so far, so that nothing lands outside it."""
from __future__ import annotations

import bz2
import gzip
import io
import lzma
import os
import tarfile
from pathlib import Path

import pytest

from overcast import archives
from overcast.archives import ArchiveError

GIB = 1 << 30
COMPRESS = {"": lambda b: b, "gz": gzip.compress, "xz": lzma.compress, "bz2": bz2.compress}


def member(name: str, kind: bytes = tarfile.REGTYPE, *, data: bytes = b"",
           linkname: str = "", mode: int = 0o644, uid: int = 0, mtime: int = 0) -> tuple:
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.linkname, info.uid, info.gid = kind, mode, linkname, uid, uid
    info.mtime = mtime
    info.size = len(data) if kind == tarfile.REGTYPE else 0
    return info, io.BytesIO(data) if kind == tarfile.REGTYPE else None


def archive(path: Path, members: list[tuple], *, compress: str = "") -> Path:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for info, data in members:
            tar.addfile(info, data)
    path.write_bytes(COMPRESS[compress](raw.getvalue()))
    return path


def headers_only(path: Path, sizes: dict[str, int]) -> Path:
    """A tar whose members claim ``sizes`` and whose data are holes (cheap to write)."""
    with open(path, "wb") as out:
        for name, size in sizes.items():
            info = tarfile.TarInfo(name)
            info.size = size
            out.write(info.tobuf(format=tarfile.GNU_FORMAT))
            out.seek(-(-size // 512) * 512, os.SEEK_CUR)
        out.write(bytes(1024))
    return path


@pytest.fixture(params=[True, False], ids=["directories-last", "one-by-one"])
def directories_last(request) -> bool:
    return request.param


# -- sniff ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("compress", "kind"), [("", "tar"), ("gz", "tar.gz"),
                                                ("xz", "tar.xz"), ("bz2", "tar.bz2")])
def test_the_format_comes_from_the_bytes_not_the_name(tmp_path: Path, compress: str,
                                                     kind: str) -> None:
    path = archive(tmp_path / "image.iso", [member("etc/motd", data=b"hi")], compress=compress)
    assert archives.sniff(path) == kind
    assert kind in archives.FORMATS


@pytest.mark.parametrize(("body", "message"), [
    (b"", "not a root filesystem archive"),
    (b"\x00" * 1024, "not a root filesystem archive"),
    (b"QFI\xfb" + b"\x00" * 1020, "not a root filesystem archive"),
    (gzip.compress(b"just text, not a tar" * 50), "gz-compressed but not a tar archive"),
    (lzma.compress(b"just text, not a tar" * 50), "xz-compressed but not a tar archive"),
    (b"\x1f\x8b\x08\x00garbage", "corrupt tar.gz"),
    (b"\xfd7zXZ\x00" + bytes(600), "corrupt tar.xz"),
    (b"\x28\xb5\x2f\xfd" + b"\x00" * 100, "not a root filesystem archive"),
])
def test_what_is_not_a_tar_is_refused(tmp_path: Path, body: bytes, message: str) -> None:
    path = tmp_path / "image"
    path.write_bytes(body)
    with pytest.raises(ArchiveError, match=message):
        archives.sniff(path)


def test_zstd_is_refused_by_name_when_asked(tmp_path: Path) -> None:
    path = tmp_path / "image"
    path.write_bytes(b"\x28\xb5\x2f\xfd" + b"\x00" * 100)
    with pytest.raises(ArchiveError, match="zstd-compressed archives are not supported"):
        archives.sniff(path, name_unsupported=True)
    path.write_bytes(b"\x00" * 1024)  # anything else: the same refusal as without
    with pytest.raises(ArchiveError, match="not a root filesystem archive"):
        archives.sniff(path, name_unsupported=True)


def test_a_missing_file_is_an_os_error_not_a_bad_archive(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        archives.sniff(tmp_path / "absent")
    assert not issubclass(FileNotFoundError, ArchiveError)


def test_an_archive_error_is_a_value_error() -> None:
    assert issubclass(ArchiveError, ValueError)


# -- unpack ---------------------------------------------------------------------------------


def test_a_root_is_extracted_keeping_modes_owners_and_links(
        tmp_path: Path, directories_last: bool) -> None:
    path = archive(tmp_path / "img.tar.gz", [
        member("bin", tarfile.DIRTYPE, mode=0o555),  # read-only, filled after
        member("bin/sh", data=b"#!shell", mode=0o755),
        member("tmp", tarfile.DIRTYPE, mode=0o1777),
        member("./home/", tarfile.DIRTYPE, mode=0o755),
        member("home/cirros", tarfile.DIRTYPE, mode=0o700, uid=1000),
        member("/etc/abs", data=b"leading slash stripped"),
        member("./", tarfile.DIRTYPE, mode=0o700),  # the root itself: skipped
        member("usr/bin/busybox-link", tarfile.SYMTYPE, linkname="/bin/sh"),
        member("bin/hard", tarfile.LNKTYPE, linkname="./bin/sh"),
        member("dev", tarfile.DIRTYPE, mode=0o755),
        member("dev/null", tarfile.CHRTYPE),
        member("dev/sda", tarfile.BLKTYPE)], compress="gz")
    dest = tmp_path / "tree"
    dest.mkdir(mode=0o755)
    archives.unpack(path, dest, directories_last=directories_last)
    assert (dest / "bin").stat().st_mode & 0o7777 == 0o555
    assert (dest / "tmp").stat().st_mode & 0o7777 == 0o1777
    assert dest.stat().st_mode & 0o777 == 0o755
    assert (dest / "etc/abs").read_bytes() == b"leading slash stripped"
    assert os.readlink(dest / "usr/bin/busybox-link") == "/bin/sh"  # resolved by its user
    assert (dest / "bin/hard").stat().st_ino == (dest / "bin/sh").stat().st_ino
    assert os.listdir(dest / "dev") == []  # device nodes are skipped
    if os.geteuid() == 0:
        assert (dest / "home/cirros").stat().st_uid == 1000


def test_directories_last_keeps_the_archives_directory_times(tmp_path: Path) -> None:
    path = archive(tmp_path / "img.tar", [
        member("etc", tarfile.DIRTYPE, mode=0o755, mtime=1_000_000),
        member("etc/motd", data=b"hi", mtime=2_000_000)])
    dest = tmp_path / "tree"
    dest.mkdir()
    archives.unpack(path, dest)
    assert int((dest / "etc").stat().st_mtime) == 1_000_000
    assert int((dest / "etc/motd").stat().st_mtime) == 2_000_000


def test_a_symlink_in_the_archive_may_be_replaced_by_a_file(
        tmp_path: Path, directories_last: bool) -> None:
    outside = tmp_path / "outside"
    outside.write_bytes(b"untouched")
    path = archive(tmp_path / "img.tar", [
        member("motd", tarfile.SYMTYPE, linkname=str(outside)),
        member("motd", data=b"the archive's own")])
    dest = tmp_path / "tree"
    dest.mkdir()
    archives.unpack(path, dest, directories_last=directories_last)
    assert not (dest / "motd").is_symlink()
    assert (dest / "motd").read_bytes() == b"the archive's own"
    assert outside.read_bytes() == b"untouched"


# Each case gets ``outside``, a directory beside the tree holding ``secret``: absolute link
# targets point there rather than at the host's /etc, so that a broken check writes into
# the test's own directory, where the test sees it.
UNSAFE = {
    "parent": (lambda outside: [member("../evil", data=b"x")], "climbs out"),
    "inner-parent": (lambda outside: [member("bin/../../evil", data=b"x")], "climbs out"),
    "through-symlink": (lambda outside: [member("etc", tarfile.SYMTYPE, linkname=str(outside)),
                                         member("etc/evil", data=b"x")], "through a symlink"),
    "through-nested-symlink": (lambda outside: [
        member("etc", tarfile.DIRTYPE, mode=0o755),
        member("etc/sub", tarfile.SYMTYPE, linkname=str(outside)),
        member("etc/sub/evil", data=b"x")], "through a symlink"),
    "climbing-symlink": (lambda outside: [member("up", tarfile.SYMTYPE, linkname="../../.."),
                                          member("up/x", data=b"x")], "points out of the root"),
    "symlink-up": (lambda outside: [member("link", tarfile.SYMTYPE, linkname="../../")],
                   "points out of the root"),
    "nested-symlink-up": (lambda outside: [member("etc/link", tarfile.SYMTYPE,
                                                  linkname="../../evil")],
                          "points out of the root"),
    "hard-link-out": (lambda outside: [member("stolen", tarfile.LNKTYPE,
                                              linkname=str(outside / "secret"))], "hard link"),
    "hard-link-up": (lambda outside: [member("out", tarfile.SYMTYPE, linkname="."),
                                      member("hard", tarfile.LNKTYPE, linkname="../evil")],
                     "climbs out"),
    "hard-link-via-symlink": (lambda outside: [
        member("secret", tarfile.SYMTYPE, linkname=str(outside / "secret")),
        member("stolen", tarfile.LNKTYPE, linkname="secret")], "hard link"),
    "hard-link-to-a-directory": (lambda outside: [
        member("etc", tarfile.DIRTYPE, mode=0o755),
        member("hard", tarfile.LNKTYPE, linkname="etc")], "hard link"),
}


@pytest.mark.parametrize("case", sorted(UNSAFE))
def test_a_member_that_would_reach_out_of_the_root_is_refused(
        tmp_path: Path, case: str, directories_last: bool) -> None:
    members, message = UNSAFE[case]
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_bytes(b"secret")
    path = archive(tmp_path / "evil.tar", [member("bin", tarfile.DIRTYPE, mode=0o755),
                                           *members(outside)])
    sandbox = tmp_path / "sandbox"
    dest = sandbox / "tree"
    dest.mkdir(parents=True)
    before = sorted(os.listdir(tmp_path))
    with pytest.raises(ArchiveError, match=message):
        archives.unpack(path, dest, directories_last=directories_last)
    assert sorted(os.listdir(tmp_path)) == before
    assert os.listdir(sandbox) == ["tree"]
    assert os.listdir(outside) == ["secret"]
    assert (outside / "secret").stat().st_nlink == 1


def test_a_damaged_archive_cannot_be_read(tmp_path: Path) -> None:
    whole = archive(tmp_path / "img.tar.gz", [member("etc/motd", data=os.urandom(100_000))],
                    compress="gz").read_bytes()
    path = tmp_path / "cut.tar.gz"
    path.write_bytes(whole[:len(whole) // 2])
    dest = tmp_path / "tree"
    dest.mkdir()
    with pytest.raises(ArchiveError, match="cannot be read"):
        archives.unpack(path, dest)


def test_an_archive_bigger_than_the_limit_is_refused_before_it_is_written(
        tmp_path: Path) -> None:
    path = headers_only(tmp_path / "huge.tar", {"big": 2 * GIB})
    dest = tmp_path / "tree"
    dest.mkdir()
    with pytest.raises(ArchiveError, match="does not fit in 1 GiB"):
        archives.unpack(path, dest, max_bytes=GIB)
    assert os.listdir(dest) == []


def test_members_that_add_up_past_the_limit_are_refused(tmp_path: Path) -> None:
    path = headers_only(tmp_path / "parts.tar", {"small": 1 << 20, "big": GIB})
    dest = tmp_path / "tree"
    dest.mkdir()
    with pytest.raises(ArchiveError, match="does not fit in 1 GiB"):
        archives.unpack(path, dest, max_bytes=GIB)
    assert os.listdir(dest) == ["small"]  # each member is counted before it is written


def test_each_member_counts_at_least_a_block(tmp_path: Path) -> None:
    path = archive(tmp_path / "many.tar", [member(f"f{i}", data=b"x") for i in range(3)])
    (tmp_path / "fits").mkdir()
    archives.unpack(path, tmp_path / "fits", max_bytes=3 * 4096)
    (tmp_path / "tight").mkdir()
    with pytest.raises(ArchiveError, match="does not fit in 8191 bytes"):
        archives.unpack(path, tmp_path / "tight", max_bytes=8191)


def test_the_check_sees_the_extracted_tree_and_may_refuse_it(tmp_path: Path) -> None:
    path = archive(tmp_path / "img.tar", [member("etc/motd", data=b"hi")])
    seen: list[Path] = []

    def refuse(root: Path) -> None:
        seen.append(root)
        assert (root / "etc/motd").read_bytes() == b"hi"
        raise ArchiveError("no shell")

    dest = tmp_path / "tree"
    dest.mkdir()
    with pytest.raises(ArchiveError, match=r"^no shell$"):
        archives.unpack(path, dest, check=refuse)
    assert seen == [Path(os.path.realpath(dest))]


def test_an_os_error_in_the_check_is_an_unreadable_archive(tmp_path: Path) -> None:
    path = archive(tmp_path / "img.tar", [member("bin", data=b"a file, not a directory")])
    dest = tmp_path / "tree"
    dest.mkdir()
    with pytest.raises(ArchiveError, match=r"cannot be read: .*Not a directory"):
        archives.unpack(path, dest, check=lambda root: os.lstat(root / "bin/sh"))


def test_a_fifo_replaced_by_a_file_is_never_opened(tmp_path: Path,
                                                   directories_last: bool) -> None:
    """Opening a FIFO the archive made, to write the file that follows it, would wait for a
    reader forever (an image that hangs the host's image cache)."""
    path = archive(tmp_path / "fifo.tar", [member("x", tarfile.FIFOTYPE),
                                           member("x", data=b"plain")])
    dest = tmp_path / "root"
    dest.mkdir()
    archives.unpack(path, dest, directories_last=directories_last)
    assert (dest / "x").read_bytes() == b"plain"


def test_a_directory_replaced_by_a_symlink_to_itself_is_refused(
        tmp_path: Path, directories_last: bool) -> None:
    path = archive(tmp_path / "loop.tar", [member("x", tarfile.DIRTYPE, mode=0o755),
                                           member("x", tarfile.SYMTYPE, linkname="x")])
    dest = tmp_path / "root"
    dest.mkdir()
    with pytest.raises(ArchiveError, match="replaces a directory"):
        archives.unpack(path, dest, directories_last=directories_last)
