# Backend choice. A volume is a sparse file of exactly its size holding an ext4 filesystem
# (Cinder's NFS driver, in small), rather than
# - a plain directory per volume: it has no size of its own (limiting one needs project
#   quotas or a filesystem per volume), it cannot be snapshotted or backed up without walking
#   a tree whose files change under the copy, and a guest would see the host's filesystem
#   rather than a disk of its own;
# - a FUSE filesystem: it needs /dev/fuse and a daemon per attachment in each guest's mount
#   namespace, whose death takes the volume away mid-write.
# A file holding ext4 has a fixed size the guest cannot exceed; snapshots, clones and backups
# are plain file operations (a sparse copy; chunks read with SEEK_DATA); it is made, filled
# from an image's tree (mkfs.ext4 -d), checked and grown (e2fsck, resize2fs) without root and
# without mounting; and a host attaches it by mounting the file through a loop device.
"""The volume backend: every volume a file in one directory shared with every hypervisor.

Every method blocks (the manager runs them in threads). Creation is atomic: the file is
built under a temporary name in the same directory, fsynced and renamed, so a crash leaves
no half-made volume under its final name, and repeating a creation that finished does
nothing (the manager re-runs its work after a restart). Names starting with a dot in the
directory are work in progress (``.<final name>.<random>[.work|.restore].tmp``); the next
creation or deletion of the same volume or snapshot removes what an interrupted one left.
"""
from __future__ import annotations

import collections
import contextlib
import errno
import logging
import os
import shutil
import subprocess
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

from overcast import archives
from overcast.archives import ArchiveError
from overcast.fs import fsync_dir
from services.volume.contract import FILE_NAME

logger = logging.getLogger(__name__)

GIB = 1 << 30
_TOOL_DIRS = ("/usr/sbin", "/sbin")
# Lazy init: the inode tables and the journal are not zeroed (the file is sparse, so they
# read as zeros anyway), which makes a volume of any size in a few hundredths of a second.
_MKFS_EXTENDED = "lazy_itable_init=1,lazy_journal_init=1,nodiscard"
_COPY_BLOCK = 8 << 20


class BackendError(Exception):
    """Something the backend could not do (the message says what)."""


class InvalidImage(BackendError):
    """The image is not a root filesystem archive, or its tree does not fit the volume."""


# -- sparse files --------------------------------------------------------------------------


def data_extents(fd: int, size: int) -> Iterator[tuple[int, int]]:
    """``(offset, length)`` of the parts of the first ``size`` bytes of open file ``fd`` that
    may hold data; holes are left out (the whole file when the filesystem cannot tell)."""
    offset = 0
    while offset < size:
        try:
            start = os.lseek(fd, offset, os.SEEK_DATA)
            end = os.lseek(fd, start, os.SEEK_HOLE)
        except OSError as exc:
            if exc.errno == errno.ENXIO:  # no data after offset
                return
            if exc.errno in (errno.EINVAL, errno.EOPNOTSUPP):
                yield offset, size - offset
                return
            raise
        if start >= size:
            return
        end = min(end, size)
        yield start, end - start
        offset = end


def _copy_range(src: int, dst: int, offset: int, length: int) -> None:
    """Copy ``length`` bytes at ``offset`` in the kernel, else by reading (zeros skipped)."""
    end = offset + length
    try:
        while offset < end:
            copied = os.copy_file_range(src, dst, end - offset, offset, offset)
            if copied == 0:
                return  # the source is shorter than it was
            offset += copied
        return
    except OSError as exc:
        if exc.errno not in (errno.EXDEV, errno.ENOSYS, errno.EOPNOTSUPP, errno.EINVAL):
            raise
    while offset < end:
        block = os.pread(src, min(_COPY_BLOCK, end - offset), offset)
        if not block:
            return
        if block.count(0) != len(block):
            os.pwrite(dst, block, offset)
        offset += len(block)


def copy_sparse(source: Path, target: Path) -> None:
    """Make the new file ``target`` a copy of ``source`` with the same holes."""
    src = os.open(source, os.O_RDONLY)
    try:
        dst = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            size = os.fstat(src).st_size
            for offset, length in data_extents(src, size):
                _copy_range(src, dst, offset, length)
            os.ftruncate(dst, size)
        finally:
            os.close(dst)
    finally:
        os.close(src)


def _new_file(path: Path, size: int) -> None:
    """The new sparse file ``path`` of ``size`` bytes, readable by its owner only (volumes
    hold users' data; hosts mount them as root)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.ftruncate(fd, size)
    finally:
        os.close(fd)


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# -- root filesystem archives ---------------------------------------------------------------


def extract_tree(archive: Path, dest: Path, *, max_bytes: int) -> str:
    """Unpack root filesystem archive ``archive`` into the existing empty directory ``dest``
    and return its format. ``InvalidImage`` when it is no such archive, is unsafe (the checks
    are ``overcast.archives``'; device nodes are skipped), or holds more than ``max_bytes``
    (checked before each file is written, so a small compressed archive cannot fill the
    disk). On error ``dest`` may hold part of the tree."""
    try:
        kind = archives.sniff(archive)
        # Directories' modes are set last, so a read-only directory still gets its files
        # when this runs without root.
        archives.unpack(archive, dest, max_bytes=max_bytes, directories_last=True)
    except ArchiveError as exc:
        raise InvalidImage(str(exc)) from None
    return kind


# -- tools ----------------------------------------------------------------------------------


def _tool(name: str) -> str:
    """The path of e2fsprogs' ``name`` on PATH, /usr/sbin or /sbin; FileNotFoundError."""
    search = os.pathsep.join([os.environ.get("PATH", os.defpath), *_TOOL_DIRS])
    found = shutil.which(name, path=search)
    if found is None:
        raise FileNotFoundError(errno.ENOENT, f"{name} not found (install e2fsprogs)", name)
    return found


def _run(tool: str, *args: str, ok: tuple[int, ...] = (0,)) -> subprocess.CompletedProcess:
    try:
        result = subprocess.run([_tool(tool), *args], capture_output=True, text=True,
                                errors="replace", stdin=subprocess.DEVNULL, check=False)
    except OSError as exc:
        raise BackendError(f"{tool} could not run: {exc}") from None
    if result.returncode not in ok:
        detail = (result.stderr.strip() or result.stdout.strip())[-500:]
        raise BackendError(f"{tool} failed ({result.returncode}): {detail}")
    return result


def _mkfs(path: Path, *, tree: Path | None = None) -> None:
    """Make an ext4 filesystem filling file ``path``, holding a copy of ``tree`` if given
    (whose root directory's mode and owner the filesystem's root takes), else with an empty
    root owned by root."""
    if tree is None:
        _run("mkfs.ext4", "-q", "-F", "-m", "0", "-E", f"{_MKFS_EXTENDED},root_owner=0:0",
             str(path))
    else:
        _run("mkfs.ext4", "-q", "-F", "-m", "0", "-E", _MKFS_EXTENDED, "-d", str(tree),
             str(path))


def _grow_fs(path: Path) -> None:
    """Grow the (unmounted) filesystem in ``path`` to the file's size."""
    # e2fsck: 1 and 2 mean errors were corrected; resize2fs insists on a fresh check.
    _run("e2fsck", "-fp", str(path), ok=(0, 1, 2))
    _run("resize2fs", str(path))


def _gib(size_gb: int) -> int:
    if isinstance(size_gb, bool) or not isinstance(size_gb, int) or size_gb < 1:
        raise BackendError(f"a volume's size must be a whole number of GiB >= 1, "
                           f"not {size_gb!r}")
    return size_gb * GIB


class FileBackend:
    """Volumes as sparse files of exactly their size holding an ext4 filesystem, in
    one directory shared with every hypervisor (Cinder's NFS driver, in small).

    ``root/volume-<id>`` is a volume, ``root/snapshot-<id>`` a snapshot; names starting with
    a dot are work in progress. Ids are UUIDs; anything else is refused (``BackendError``)
    so that no path can leave ``root``.
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._guard = threading.Lock()
        self._locks: dict[str, threading.Lock] = collections.defaultdict(threading.Lock)

    # -- names ---------------------------------------------------------------------------

    def _path(self, kind: str, ident: str) -> Path:
        name = f"{kind}-{ident}"
        if not isinstance(ident, str) or not FILE_NAME.fullmatch(name):
            raise BackendError(f"invalid {kind} id {ident!r}")
        return self.root / name

    def volume_path(self, volume_id: str) -> Path:
        """``root/volume-<id>``; ``BackendError`` unless ``volume_id`` is a UUID."""
        return self._path("volume", volume_id)

    def snapshot_path(self, snapshot_id: str) -> Path:
        """``root/snapshot-<id>``; ``BackendError`` unless ``snapshot_id`` is a UUID."""
        return self._path("snapshot", snapshot_id)

    @contextlib.contextmanager
    def _locked(self, path: Path) -> Iterator[None]:
        """One operation at a time on ``path`` in this process."""
        with self._guard:
            lock = self._locks[path.name]
        with lock:
            yield

    def _sweep(self, path: Path) -> None:
        """Remove what an interrupted operation on ``path`` left (its temporary files)."""
        for leftover in self.root.glob(f".{path.name}.*.tmp"):
            if leftover.is_dir() and not leftover.is_symlink():
                shutil.rmtree(leftover, ignore_errors=True)
            else:
                leftover.unlink(missing_ok=True)

    def _build(self, final: Path, size: int | None, make: Callable[[Path, Path], None]) -> None:
        """Make ``final`` atomically: ``make(tmp_file, work_dir)`` fills the new file
        ``tmp_file`` (``work_dir`` is a scratch directory beside it, removed afterwards);
        the file is then fsynced and renamed. Nothing is done when ``final`` exists already
        (of ``size`` bytes, if given; another size is a ``BackendError``)."""
        with self._locked(final):
            if os.path.lexists(final):
                if size is not None and final.stat().st_size != size:
                    raise BackendError(f"{final.name} exists with another size")
                return
            self._sweep(final)
            tag = uuid.uuid4().hex
            tmp = self.root / f".{final.name}.{tag}.tmp"
            work = self.root / f".{final.name}.{tag}.work.tmp"
            try:
                work.mkdir(mode=0o700)
                make(tmp, work)
                _fsync_file(tmp)
                os.rename(tmp, final)
                fsync_dir(self.root)
            except OSError as exc:
                tmp.unlink(missing_ok=True)
                raise BackendError(f"{final.name} could not be made: {exc}") from exc
            except BaseException:
                tmp.unlink(missing_ok=True)
                raise
            finally:
                shutil.rmtree(work, ignore_errors=True)

    # -- creating ------------------------------------------------------------------------

    def create(self, volume_id: str, size_gb: int) -> None:
        """An empty ext4 volume of ``size_gb`` GiB (idempotent)."""
        final, size = self.volume_path(volume_id), _gib(size_gb)

        def make(tmp: Path, _work: Path) -> None:
            _new_file(tmp, size)
            _mkfs(tmp)

        self._build(final, size, make)
        logger.info("volume %s created (%d GiB)", volume_id, size_gb)

    def create_from_image(self, volume_id: str, size_gb: int, image_file: Path) -> None:
        """A ``size_gb`` GiB ext4 volume holding the tree of root filesystem archive
        ``image_file`` (idempotent). ``InvalidImage`` when it is no such archive, is unsafe
        or does not fit."""
        final, size = self.volume_path(volume_id), _gib(size_gb)

        def make(tmp: Path, work: Path) -> None:
            tree = work / "tree"
            tree.mkdir(mode=0o755)  # the volume's root directory takes this mode
            try:
                kind = extract_tree(Path(image_file), tree, max_bytes=size)
            except FileNotFoundError as exc:
                raise BackendError(f"the image file is missing: {exc}") from None
            _new_file(tmp, size)
            try:
                _mkfs(tmp, tree=tree)
            except BackendError as exc:
                if "Could not allocate" in str(exc) or "No space" in str(exc):
                    raise InvalidImage(f"the image's tree does not fit in {size_gb} GiB"
                                       ) from None
                raise
            logger.info("volume %s filled from a %s image", volume_id, kind)

        self._build(final, size, make)
        logger.info("volume %s created from an image (%d GiB)", volume_id, size_gb)

    def _create_copy(self, final: Path, source: Path, size_gb: int) -> None:
        size = _gib(size_gb)

        def make(tmp: Path, _work: Path) -> None:
            try:
                source_size = source.stat().st_size
            except FileNotFoundError:
                raise BackendError(f"{source.name} does not exist") from None
            if size < source_size:
                raise BackendError(f"a volume made from {source.name} needs at least "
                                   f"{-(-source_size // GIB)} GiB, not {size_gb}")
            copy_sparse(source, tmp)
            if size > source_size:
                os.truncate(tmp, size)
                _grow_fs(tmp)

        self._build(final, size, make)

    def create_from_snapshot(self, volume_id: str, snapshot_id: str, size_gb: int) -> None:
        """A volume copied from a snapshot and grown to ``size_gb`` GiB (idempotent); never
        smaller than the snapshot."""
        self._create_copy(self.volume_path(volume_id), self.snapshot_path(snapshot_id),
                          size_gb)
        logger.info("volume %s created from snapshot %s (%d GiB)", volume_id, snapshot_id,
                    size_gb)

    def create_from_volume(self, volume_id: str, source_id: str, size_gb: int) -> None:
        """A volume copied from another volume and grown to ``size_gb`` GiB (idempotent);
        never smaller than the source."""
        self._create_copy(self.volume_path(volume_id), self.volume_path(source_id), size_gb)
        logger.info("volume %s created from volume %s (%d GiB)", volume_id, source_id,
                    size_gb)

    def snapshot(self, volume_id: str, snapshot_id: str) -> None:
        """Snapshot ``snapshot_id``: a sparse copy of the volume as it is now (idempotent)."""
        source = self.volume_path(volume_id)

        def make(tmp: Path, _work: Path) -> None:
            try:
                copy_sparse(source, tmp)
            except FileNotFoundError:
                raise BackendError(f"{source.name} does not exist") from None

        self._build(self.snapshot_path(snapshot_id), None, make)
        logger.info("snapshot %s taken of volume %s", snapshot_id, volume_id)

    # -- changing and removing ----------------------------------------------------------

    def extend(self, volume_id: str, size_gb: int) -> None:
        """Grow the (unattached) volume and its filesystem to ``size_gb`` GiB, keeping its
        data; repeating it is harmless. ``BackendError`` for a smaller size."""
        path, size = self.volume_path(volume_id), _gib(size_gb)
        with self._locked(path):
            try:
                current = path.stat().st_size
            except FileNotFoundError:
                raise BackendError(f"{path.name} does not exist") from None
            if size < current:
                raise BackendError(f"{path.name} is {current // GIB} GiB; it cannot shrink "
                                   f"to {size_gb}")
            try:
                os.truncate(path, size)
                # Also when the size is unchanged: an extend interrupted after the truncate
                # left the filesystem smaller than its file.
                _grow_fs(path)
                _fsync_file(path)
            except OSError as exc:
                raise BackendError(f"{path.name} could not be extended: {exc}") from exc
        logger.info("volume %s extended to %d GiB", volume_id, size_gb)

    def _delete(self, path: Path) -> None:
        with self._locked(path):
            try:
                self._sweep(path)
                path.unlink()
                fsync_dir(self.root)
            except FileNotFoundError:
                return
            except OSError as exc:
                raise BackendError(f"{path.name} could not be deleted: {exc}") from exc

    def delete(self, volume_id: str) -> None:
        """Remove the volume's file (and any leftovers); a missing volume is no error."""
        self._delete(self.volume_path(volume_id))
        logger.info("volume %s deleted", volume_id)

    def delete_snapshot(self, snapshot_id: str) -> None:
        """Remove the snapshot's file; a missing snapshot is no error."""
        self._delete(self.snapshot_path(snapshot_id))
        logger.info("snapshot %s deleted", snapshot_id)

    # -- looking ---------------------------------------------------------------------------

    def used_bytes(self, volume_id: str) -> int:
        """The bytes the volume's file really takes (its allocated blocks)."""
        path = self.volume_path(volume_id)
        try:
            return path.stat().st_blocks * 512
        except FileNotFoundError:
            raise BackendError(f"{path.name} does not exist") from None

    def check(self) -> None:
        """Raise ``OSError`` unless the directory is there, writable and durable, and the
        filesystem tools are installed (a heartbeat reports the backend down then)."""
        for tool in ("mkfs.ext4", "e2fsck", "resize2fs"):
            _tool(tool)
        if not self.root.is_dir():
            raise FileNotFoundError(errno.ENOENT, "the volumes directory is missing",
                                    str(self.root))
        probe = self.root / f".check.{uuid.uuid4().hex}.tmp"
        try:
            fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                os.write(fd, b"overcast")
                os.fsync(fd)
            finally:
                os.close(fd)
        finally:
            probe.unlink(missing_ok=True)
