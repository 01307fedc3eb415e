"""Base images: extracted once, with a shell, unsafe or unreadable archives refused as
InvalidImage leaving nothing (the member checks are tested with overcast.archives)."""
from __future__ import annotations

import bz2
import gzip
import io
import lzma
import os
import tarfile
from pathlib import Path

import pytest

from agents.compute.driver import InvalidImage
from agents.compute.process import images


def _member(name: str, kind: bytes = tarfile.REGTYPE, *, data: bytes = b"",
            linkname: str = "", mode: int = 0o644, uid: int = 0) -> tuple:
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.linkname, info.uid, info.gid = kind, mode, linkname, uid, uid
    info.size = len(data) if kind == tarfile.REGTYPE else 0
    return info, io.BytesIO(data) if kind == tarfile.REGTYPE else None


def shell() -> list[tuple]:
    return [_member("bin", tarfile.DIRTYPE, mode=0o755),
            _member("bin/sh", data=b"#!shell", mode=0o755)]


def archive(path: Path, members: list[tuple], *, compress: str = "") -> Path:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for info, data in members:
            tar.addfile(info, data)
    body = raw.getvalue()
    body = {"": lambda b: b, "gz": gzip.compress, "xz": lzma.compress,
            "bz2": bz2.compress}[compress](body)
    path.write_bytes(body)
    return path


@pytest.mark.parametrize(("compress", "kind"), [("", "tar"), ("gz", "tar.gz"),
                                                ("xz", "tar.xz"), ("bz2", "tar.bz2")])
def test_extract_returns_the_format_from_the_bytes(tmp_path: Path, compress: str, kind: str):
    path = archive(tmp_path / "image.iso", shell(), compress=compress)
    assert images.extract(path, tmp_path / "tree") == kind
    assert (tmp_path / "tree" / "bin" / "sh").read_bytes() == b"#!shell"


@pytest.mark.parametrize(("body", "message"), [
    (b"\x00" * 1024, "not a root filesystem archive"),
    (gzip.compress(b"just text, not a tar" * 50), "not a tar archive"),
    (b"\x1f\x8b\x08\x00garbage", "corrupt tar.gz"),
    (b"\x28\xb5\x2f\xfd" + b"\x00" * 100, "zstd-compressed archives are not supported"),
])
def test_what_is_not_a_tar_is_an_invalid_image_and_makes_no_tree(tmp_path: Path, body: bytes,
                                                                 message: str):
    path = tmp_path / "image"
    path.write_bytes(body)
    with pytest.raises(InvalidImage, match=message):
        images.extract(path, tmp_path / "sandbox" / "tree")
    assert not (tmp_path / "sandbox").exists()


def test_extracts_a_root_keeping_modes_and_owners(tmp_path: Path):
    path = archive(tmp_path / "img.tar.gz", [
        *shell(), _member("tmp", tarfile.DIRTYPE, mode=0o1777),
        _member("home/cirros", tarfile.DIRTYPE, mode=0o700, uid=1000),
        _member("bin/hard", tarfile.LNKTYPE, linkname="bin/sh"),
        _member("dev/null", tarfile.CHRTYPE)], compress="gz")
    dest = tmp_path / "tree"
    assert images.extract(path, dest) == "tar.gz"
    assert (dest / "tmp").stat().st_mode & 0o7777 == 0o1777
    assert (dest / "bin/hard").stat().st_ino == (dest / "bin/sh").stat().st_ino
    assert not (dest / "dev/null").exists()  # device nodes are the driver's to give
    if os.geteuid() == 0:
        assert (dest / "home/cirros").stat().st_uid == 1000


# Every unsafe member is refused by overcast.archives (tests/unit/overcast/test_archives.py);
# here, that the refusal is an InvalidImage and leaves nothing. Absolute link targets point at
# ``outside``, a directory of the test's own, never at the host's /etc.
UNSAFE = {
    "parent": (lambda outside: [_member("../evil", data=b"x")], "climbs out"),
    "through-symlink": (lambda outside: [_member("etc", tarfile.SYMTYPE, linkname=str(outside)),
                                         _member("etc/passwd", data=b"x")],
                        "through a symlink"),
    "hard-link-out": (lambda outside: [_member("shadow", tarfile.LNKTYPE,
                                               linkname=str(outside / "shadow"))], "hard link"),
}


@pytest.mark.parametrize("case", sorted(UNSAFE))
def test_unsafe_archives_are_refused_and_nothing_is_left(tmp_path: Path, case: str):
    members, message = UNSAFE[case]
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "shadow").write_bytes(b"secret")
    path = archive(tmp_path / "evil.tar", [*shell(), *members(outside)])
    dest = tmp_path / "sandbox" / "tree"
    with pytest.raises(InvalidImage, match=message):
        images.extract(path, dest)
    assert not dest.exists()
    assert not (tmp_path / "evil").exists() and not (tmp_path / "sandbox" / "evil").exists()
    assert os.listdir(outside) == ["shadow"]


def test_a_damaged_archive_is_refused_and_nothing_is_left(tmp_path: Path):
    whole = archive(tmp_path / "img.tar.gz", [*shell(), _member("big", data=os.urandom(50_000))],
                    compress="gz").read_bytes()
    path = tmp_path / "cut.tar.gz"
    path.write_bytes(whole[:len(whole) // 2])
    with pytest.raises(InvalidImage, match="cannot be read"):
        images.extract(path, tmp_path / "tree")
    assert not (tmp_path / "tree").exists()


def test_an_archive_without_a_shell_is_refused(tmp_path: Path):
    path = archive(tmp_path / "noshell.tar", [_member("etc", tarfile.DIRTYPE, mode=0o755)])
    with pytest.raises(InvalidImage, match="bin/sh"):
        images.extract(path, tmp_path / "tree")
    assert not (tmp_path / "tree").exists()


def test_a_bin_that_is_no_directory_is_refused(tmp_path: Path):
    path = archive(tmp_path / "odd.tar", [_member("bin", data=b"a file")])
    with pytest.raises(InvalidImage, match="cannot be read"):
        images.extract(path, tmp_path / "tree")
    assert not (tmp_path / "tree").exists()


def test_a_shell_behind_merged_usr_symlinks_counts(tmp_path: Path):
    path = archive(tmp_path / "debian.tar", [
        _member("usr", tarfile.DIRTYPE, mode=0o755),
        _member("usr/bin", tarfile.DIRTYPE, mode=0o755),
        _member("usr/bin/dash", data=b"#!", mode=0o755),
        _member("usr/bin/sh", tarfile.SYMTYPE, linkname="dash"),
        _member("bin", tarfile.SYMTYPE, linkname="/usr/bin")])
    assert images.extract(path, tmp_path / "tree") == "tar"


def test_cache_extracts_once_per_image(tmp_path: Path):
    path = archive(tmp_path / "img.tar", shell())
    cache = images.ImageCache(tmp_path / "cache")
    tree = cache.tree("image-1", path)
    (tree / "bin" / "marker").write_text("kept")
    assert cache.tree("image-1", path) == tree and (tree / "bin" / "marker").exists()
    assert (tree.parent / "format").read_text() == "tar"
    stat = path.stat()
    assert cache.key_for("image-1", path) == \
        f"image-1-{stat.st_size:x}-{stat.st_mtime_ns:x}"  # a new download: a new tree
    assert len(cache.key_for("", path)) == 64  # no id: the archive's sha256
    assert cache.key_for("../x", path) != "../x"
