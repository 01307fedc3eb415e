"""The ``process`` virt driver: a guest is a process tree in its own namespaces and root.

See ``boot.py`` for what a guest is made of, ``lifecycle.py`` for what it holds on the host,
``disks.py`` for its disk and ``images.py`` for the image cache. State lives under
``state_dir``: ``guests/<id>.json`` (what the driver knows of each guest, so a restarted
agent adopts running guests), ``images/`` (extracted base images), ``local/instances/<id>``
(local disks), ``netns/<id>`` (the guests' network namespaces) and ``run/``. Shared disks
live in ``<shared_dir>/instances/<id>``. Volumes are files of ``volumes_dir`` (shared with the
volume service), mounted for a guest only while it runs (``volumes.py``).
"""
from __future__ import annotations

import asyncio
import logging
import os
import socket
import sys
from collections.abc import Sequence
from pathlib import Path

from agents.compute.contract import (
    PAUSED,
    RUNNING,
    SHUTDOWN,
    SUSPENDED,
    BlockDevice,
    InstancePayload,
)
from agents.compute.driver import (
    LOCAL,
    SHARED,
    STORAGE_KINDS,
    ComputeDriver,
    GuestDiagnostics,
    GuestInfo,
    GuestNotFound,
    InvalidImage,
    SpawnError,
    SpawnResult,
    VolumeError,
    check_volume,
)
from agents.compute.process import cgroups, diagnostics, host, snapshot, volumes
from agents.compute.process.disks import COPY, OVERLAY, VOLUME, Disk, DiskQuota, overlay_works
from agents.compute.process.guests import GuestRecord, RecordStore, is_alive
from agents.compute.process.images import ImageCache
from agents.compute.process.lifecycle import Launcher, unmount_all
from agents.guest import configdrive
from services.volume.contract import ConnectionInfo

Attached = dict[str, tuple[BlockDevice, ConnectionInfo]]  # volume id -> its attachment

logger = logging.getLogger(__name__)

FROZEN_STATES = {"paused": PAUSED, "suspended": SUSPENDED}
CLEANUP_GRACE = 5.0


# At most this much of the end of a console log is read and sent (the log itself is trimmed
# at each boot): a guest that prints without end must not fill the agent or the bus.
CONSOLE_READ_MAX = 1024 * 1024


def _read_tail(path: Path, limit: int) -> str:
    with open(path, "rb") as log:
        size = log.seek(0, os.SEEK_END)
        log.seek(max(0, size - limit))
        data = log.read(limit)
    if size > limit:  # start at a whole line
        data = data.partition(b"\n")[2]
    return data.decode(errors="replace")


class ProcessDriver(ComputeDriver):
    hypervisor_type = "process"
    needs_image = True

    def __init__(self, *, state_dir: Path, shared_dir: Path, host_ip: str = "127.0.0.1",
                 vcpus: int | None = None, memory_mb: int | None = None,
                 local_gb: int | None = None, volumes_dir: Path | None = None) -> None:
        self.state_dir = Path(state_dir)
        self.shared_dir = Path(shared_dir)
        # The volume service's files (``volume-<id>``), shared with every hypervisor.
        self.volumes_dir = Path(volumes_dir) if volumes_dir else self.shared_dir / "volumes"
        self.host = socket.gethostname()
        self.images = ImageCache(self.state_dir / "images")
        # A shared disk's lower layer lives beside it on the shared storage, so any host
        # that takes the disk over has the very tree it was made from (a shelved snapshot
        # it was unshelved from may be long deleted from the image service).
        self.shared_images = ImageCache(self.shared_dir / "images")
        self.store = RecordStore(self.state_dir / "guests")
        self.launcher = Launcher(state_dir=self.state_dir)
        self.cgroups = cgroups.detect()
        if not self.cgroups.writable:
            logger.warning("guest limits are not enforced and pause uses SIGSTOP: %s",
                           self.cgroups.reason)
        elif not self.cgroups.enforces_limits:
            logger.warning("guest limits are not enforced: %s", self.cgroups.reason)
        self.records: dict[str, GuestRecord] = {}
        self.disks: dict[str, Disk] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._releasing: set[str] = set()
        self._release_tasks: set[asyncio.Task] = set()
        self._layout: str | None = None
        self.quota = DiskQuota()
        self._resources = {"vcpus": vcpus or os.cpu_count() or 1,
                           "memory_mb": memory_mb or host.memory_mb(),
                           "local_gb": local_gb or host.disk_gb(self.state_dir),
                           "host_ip": host_ip}

    # -- the host --------------------------------------------------------------------
    async def init_host(self, host: str) -> None:
        self.host = host
        self.state_dir.mkdir(parents=True, exist_ok=True)
        for record in self.store.load_all():
            self.records[record.instance_id] = record
            self.disks[record.instance_id] = Disk(Path(record.disk_path))
            if record.pid and not is_alive(record):
                await asyncio.to_thread(self._stop, record, 0)  # release what it held
            else:
                await asyncio.to_thread(self._adopt_volumes, record)
            logger.info("adopted guest %s (%s)", record.instance_id,
                        "running" if record.pid else "stopped")
        await asyncio.to_thread(self._release_unknown)

    def _adopt_volumes(self, record: GuestRecord) -> None:
        """Make the guest's volume mounts what its record says (the agent may have stopped
        between a mount and the record's save): none while stopped, each attached one while
        it runs."""
        disk = self.disks[record.instance_id]
        attached = record.attached()
        running = is_alive(record)
        volumes.release_all(disk, keep={c.file_name for _, c in attached.values()}
                            if running else ())
        for block_device, connection in attached.values() if running else ():
            try:
                volumes.attach(disk, block_device, connection, self.volumes_dir)
            except (VolumeError, OSError) as exc:
                logger.warning("guest %s runs without volume %s: %s", record.instance_id,
                               block_device.volume_id, exc)

    def _release_unknown(self) -> None:
        """Release the volume mounts of guests this host has no record of (destroyed while
        the agent was going down): its local disks, and the shared disks it owns."""
        candidates = list((self.state_dir / "local" / "instances").glob("*"))
        candidates += [path for path in (self.shared_dir / "instances").glob("*")
                       if Disk(path).owner() == self.host]
        for path in candidates:
            if path.name not in self.records and path.is_dir():
                volumes.release_all(Disk(path))

    async def cleanup_host(self) -> None:
        await asyncio.gather(*(self.power_off(instance_id, grace=CLEANUP_GRACE)
                               for instance_id in list(self.records)))
        # Only this host's own disks on the shared storage: in process mode every hypervisor
        # shares one mount namespace, and the others' guests keep running.
        own_shared = [disk.path for disk in self.disks.values()
                      if disk.path.is_relative_to(self.shared_dir)]
        for path in (self.state_dir, *own_shared):
            await asyncio.to_thread(host.unmount_under, path)

    def host_resources(self) -> dict:
        return {**self._resources, "limits_enforced": self.cgroups.enforces_limits}

    def netns_path(self, instance_id: str) -> Path:
        """Where the guest's network namespace is bind-mounted while it runs (as
        ``ip netns`` does), for the network plumbing."""
        return self.launcher.netns_path(instance_id)

    def volumes_path(self, instance_id: str) -> Path:
        """The host directory shared with the guest at ``/mnt/volumes``: a mount made under
        it (``<path>/<name>``) while the guest runs appears at ``/mnt/volumes/<name>``."""
        return self.disks[self._record(instance_id).instance_id].volumes

    # -- state -----------------------------------------------------------------------
    def _record(self, instance_id: str) -> GuestRecord:
        try:
            return self.records[instance_id]
        except KeyError:
            raise GuestNotFound(instance_id) from None

    def _cache(self, storage: str) -> ImageCache:
        return self.shared_images if storage == SHARED else self.images

    def _base_tree(self, key: str, storage: str = LOCAL) -> Path:
        shared = self.shared_images.root / key / "rootfs"
        if storage == SHARED and shared.is_dir():
            return shared
        return self.images.root / key / "rootfs"  # local disks, and older shared ones

    def _cgroup(self, instance_id: str) -> cgroups.GuestCgroup:
        return self.cgroups.guest(f"{self.host}--{instance_id}")

    def _power_state(self, record: GuestRecord) -> int:
        if not is_alive(record):
            if record.pid and not self._lock(record.instance_id).locked():
                self._release_soon(record)
            return SHUTDOWN
        return FROZEN_STATES.get(record.frozen, RUNNING)

    def _release_soon(self, record: GuestRecord) -> None:
        """Its init died on its own: release its netns mount and cgroup, in a thread and
        under the guest's lock (this is reached from the power sync and the heartbeats'
        node report, which must never wait for unmounts)."""
        instance_id = record.instance_id
        if instance_id in self._releasing:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop (a tool reading the state): release right here
            self.launcher.reap(instance_id)
            self._stop(record, 0)
            return
        self._releasing.add(instance_id)

        async def release() -> None:
            try:
                async with self._lock(instance_id):
                    if self.records.get(instance_id) is record and record.pid \
                            and not is_alive(record):
                        await asyncio.to_thread(self.launcher.reap, instance_id)
                        await asyncio.to_thread(self._stop, record, 0)
            finally:
                self._releasing.discard(instance_id)
        task = loop.create_task(release())
        self._release_tasks.add(task)
        task.add_done_callback(self._release_tasks.discard)

    def get_info(self, instance_id: str) -> GuestInfo:
        record = self._record(instance_id)
        flavor = record.instance.flavor
        disk = self.disks[instance_id]
        try:
            used = disk.used_bytes()
        except OSError:
            used = 0
        self.quota.account(instance_id, used=used, disk_gb=flavor.disk)
        return GuestInfo(instance_id=instance_id, name=record.instance.name,
                         power_state=self._power_state(record), vcpus=flavor.vcpus,
                         memory_mb=flavor.ram, disk_gb=flavor.disk, storage=record.storage,
                         disk_used_bytes=used)

    def get_diagnostics(self, instance_id: str) -> GuestDiagnostics:
        """Measured from the guest's cgroup and /proc (see ``diagnostics.py``)."""
        info = self.get_info(instance_id)
        return diagnostics.measure(record=self.records[instance_id],
                                   cgroup=self._cgroup(instance_id),
                                   power_state=info.power_state,
                                   disk_used_bytes=info.disk_used_bytes,
                                   driver=self.hypervisor_type)

    def list_guests(self) -> list[GuestInfo]:
        return [self.get_info(instance_id) for instance_id in list(self.records)]

    def _lock(self, instance_id: str) -> asyncio.Lock:
        return self._locks.setdefault(instance_id, asyncio.Lock())

    # -- spawn and destroy -----------------------------------------------------------
    async def spawn(self, instance: InstancePayload, *, image: Path | None,
                    network_info: list[dict], storage: str = LOCAL,
                    reuse_disk: bool = False,
                    block_devices: Sequence[tuple[BlockDevice, ConnectionInfo]] = ()
                    ) -> SpawnResult:
        async with self._lock(instance.id):
            existing = self.records.get(instance.id)
            if existing is not None and is_alive(existing):
                return SpawnResult(disk_reused=True)  # a duplicate message
            if existing is not None:  # a stopped guest of the same id is remade
                await asyncio.to_thread(self._stop, existing, 0)
            return await asyncio.to_thread(self._spawn, instance, image, storage, reuse_disk,
                                           list(block_devices))

    def _disk_path(self, instance_id: str, storage: str) -> Path:
        if storage == SHARED:
            return self.shared_dir / "instances" / instance_id
        return self.state_dir / "local" / "instances" / instance_id

    def _disk_layout(self) -> str:
        if self._layout is None:
            self._layout = OVERLAY if overlay_works(self.state_dir) else COPY
            logger.info("guest disks are %s", "overlays" if self._layout == OVERLAY
                        else "full copies (overlayfs is not available here)")
        return self._layout

    def _spawn(self, instance: InstancePayload, image: Path | None, storage: str,
               reuse_disk: bool, block_devices: list[tuple[BlockDevice, ConnectionInfo]]
               ) -> SpawnResult:
        if storage not in STORAGE_KINDS:
            raise SpawnError(f"unknown disk storage {storage!r}")
        attached: Attached = {}
        for block_device, connection in block_devices:
            check_volume(attached, block_device, connection)
            attached[block_device.volume_id] = (block_device, connection)
        on_volume = any(block_device.is_root for block_device, _ in block_devices)
        if image is None and not on_volume:
            raise InvalidImage("the process driver boots a root filesystem archive; no image "
                               "was given")
        try:
            configdrive.decode_user_data(instance.user_data)
        except ValueError as exc:
            raise SpawnError(str(exc)) from None
        disk = Disk(self._disk_path(instance.id, storage))
        cache, key = self._cache(storage), ""
        if on_volume:  # no image: the root volume is the root
            reused = reuse_disk and disk.exists() and disk.layout() == VOLUME
        else:
            key = cache.key_for(instance.image_ref, image)
            reused = reuse_disk and disk.exists()
            if reused:
                key = disk.base()  # the image this disk was made from, its lower layer
            else:
                cache.tree(key, image)
        record = GuestRecord(instance=instance, storage=storage, disk_path=str(disk.path),
                             image_key=key)
        record.set_attached(attached)
        try:
            tree = None
            if on_volume:
                pass
            elif reused and self._base_tree(key, storage).is_dir():
                tree = self._base_tree(key, storage)
            else:
                tree = cache.tree(key, image)
            if not reused:
                disk.create(base_key=key, base_tree=tree,
                            layout=VOLUME if on_volume else self._disk_layout())
            if storage == SHARED:
                disk.take_ownership(self.host)  # this host runs it now (see destroy)
            configdrive.write(disk.config, instance)
            self.records[instance.id], self.disks[instance.id] = record, disk
            self._boot(record, disk, root=disk.root_spec(tree))
        except BaseException:
            self.records.pop(instance.id, None)
            self.disks.pop(instance.id, None)
            if not reused:
                disk.remove()
            raise
        self.store.save(record)
        logger.info("guest %s running (pid %s, disk %s, %d volume(s))", instance.id,
                    record.pid, "reused" if reused else "new", len(attached))
        return SpawnResult(disk_reused=reused or on_volume)

    def _boot(self, record: GuestRecord, disk: Disk, *, root: dict,
              rescue_root: dict | None = None) -> None:
        """Mount the guest's volumes and start it; on failure nothing stays mounted."""
        try:
            self.launcher.share_volumes(disk)
            volumes.attach_all(disk, record.attached().values(), self.volumes_dir)
            self.launcher.start(record, disk, self._cgroup(record.instance_id), root=root,
                                rescue_root=rescue_root)
        except BaseException:
            volumes.release_all(disk)
            unmount_all(disk.volumes)
            raise

    async def destroy(self, instance_id: str, *, keep_disk: bool = False) -> None:
        async with self._lock(instance_id):
            record = self.records.get(instance_id)
            if record is None:
                return
            await asyncio.to_thread(self._stop, record, 0)
            disk = self.disks[instance_id]
            if not keep_disk and (record.storage == LOCAL
                                  or disk.owner() in (None, self.host)):
                await asyncio.to_thread(disk.remove)
            self.store.delete(instance_id)
            del self.records[instance_id], self.disks[instance_id]
            logger.info("guest %s destroyed%s", instance_id, " (disk kept)" if keep_disk
                        else "")

    # -- power -----------------------------------------------------------------------
    def _stop(self, record: GuestRecord, grace: float) -> None:
        self.launcher.stop(record, self.disks[record.instance_id],
                           self._cgroup(record.instance_id), grace=grace)
        self.store.save(record)

    def _start(self, record: GuestRecord) -> None:
        disk = self.disks[record.instance_id]
        own_root = disk.root_spec(self._base_tree(record.image_key, record.storage))
        if not Path(own_root.get("lower", "/")).is_dir():
            raise SpawnError(f"the image {record.image_key} of this disk is not in the cache")
        rescue_root = None
        if record.rescue_key:
            rescue_root = own_root
            own_root = disk.rescue_spec(self._base_tree(record.rescue_key))
        self._boot(record, disk, root=own_root, rescue_root=rescue_root)
        self.store.save(record)

    async def power_off(self, instance_id: str, *, grace: float = 10.0) -> None:
        self._record(instance_id)  # GuestNotFound before waiting for the lock
        async with self._lock(instance_id):
            # Read again under the lock: a destroy and respawn of the same id may have run
            # while this waited, and the old record must not be stopped or started.
            record = self._record(instance_id)
            await asyncio.to_thread(self._stop, record, grace)

    async def power_on(self, instance_id: str) -> None:
        self._record(instance_id)  # GuestNotFound before waiting for the lock
        async with self._lock(instance_id):
            # Read again under the lock: a destroy and respawn of the same id may have run
            # while this waited, and the old record must not be stopped or started.
            record = self._record(instance_id)
            if not is_alive(record):
                await asyncio.to_thread(self._stop, record, 0)  # release what the dead held
                await asyncio.to_thread(self._start, record)

    async def reboot(self, instance_id: str, *, hard: bool) -> None:
        self._record(instance_id)  # GuestNotFound before waiting for the lock
        async with self._lock(instance_id):
            # Read again under the lock: a destroy and respawn of the same id may have run
            # while this waited, and the old record must not be stopped or started.
            record = self._record(instance_id)
            await asyncio.to_thread(self._stop, record, 0 if hard else 10.0)
            await asyncio.to_thread(self._start, record)

    async def _set_frozen(self, instance_id: str, frozen: str) -> None:
        self._record(instance_id)  # GuestNotFound before waiting for the lock
        async with self._lock(instance_id):
            # Read again under the lock: a destroy and respawn of the same id may have run
            # while this waited, and the old record must not be stopped or started.
            record = self._record(instance_id)
            if not is_alive(record):
                raise SpawnError(f"guest {instance_id} is not running")
            cgroup = self._cgroup(instance_id)
            if frozen and not record.frozen:
                await asyncio.to_thread(self.launcher.freeze, record, cgroup)
            elif not frozen and record.frozen:
                await asyncio.to_thread(self.launcher.thaw, record, cgroup)
            record.frozen = frozen
            self.store.save(record)

    async def pause(self, instance_id: str) -> None:
        await self._set_frozen(instance_id, "paused")

    async def unpause(self, instance_id: str) -> None:
        await self._set_frozen(instance_id, "")

    async def suspend(self, instance_id: str) -> None:
        await self._set_frozen(instance_id, "suspended")

    async def resume(self, instance_id: str) -> None:
        await self._set_frozen(instance_id, "")

    # -- disks -----------------------------------------------------------------------
    async def snapshot(self, instance_id: str, target: Path) -> str:
        self._record(instance_id)  # GuestNotFound before waiting for the lock
        async with self._lock(instance_id):
            # Read again under the lock: a destroy and respawn of the same id may have run
            # while this waited, and the old record must not be stopped or started.
            record = self._record(instance_id)
            await asyncio.to_thread(self._snapshot, record, Path(target))
        return "tar"

    def _snapshot(self, record: GuestRecord, target: Path) -> None:
        alive = is_alive(record)
        if alive and record.rescue_key:
            raise SpawnError("a rescued guest cannot be snapshotted; unrescue it first")
        disk = self.disks[record.instance_id]
        # A stopped guest's root volume is mounted for the moment, as its root would be.
        roots = [] if alive or disk.layout() != VOLUME else \
            [item for item in record.attached().values() if item[0].is_root]
        try:
            volumes.attach_all(disk, roots, self.volumes_dir)
            snapshot.snapshot_guest(record, disk, target, launcher=self.launcher,
                                    cgroup=self._cgroup(record.instance_id),
                                    base_tree=self._base_tree(record.image_key,
                                                              record.storage))
        finally:
            if roots:
                volumes.release_all(disk)

    # -- volumes ---------------------------------------------------------------------
    async def attach_volume(self, instance_id: str, *, block_device: BlockDevice,
                            connection: ConnectionInfo) -> None:
        self._record(instance_id)  # GuestNotFound before waiting for the lock
        async with self._lock(instance_id):
            record = self._record(instance_id)
            await asyncio.to_thread(self._attach, record, block_device, connection)

    def _attach(self, record: GuestRecord, block_device: BlockDevice,
                connection: ConnectionInfo) -> None:
        if block_device.is_root:
            raise VolumeError("a root volume is attached when the guest is spawned")
        attached = record.attached()
        check_volume(attached, block_device, connection)
        if is_alive(record):
            volumes.attach(self.disks[record.instance_id], block_device, connection,
                           self.volumes_dir)
        elif not (self.volumes_dir / connection.checked_file_name()).is_file():
            raise VolumeError(f"the file of volume {block_device.volume_id} is missing")
        attached[block_device.volume_id] = (block_device, connection)
        record.set_attached(attached)
        self.store.save(record)
        logger.info("volume %s attached to %s at %s", block_device.volume_id,
                    record.instance_id, block_device.mount_name)

    async def detach_volume(self, instance_id: str, *, volume_id: str) -> None:
        self._record(instance_id)  # GuestNotFound before waiting for the lock
        async with self._lock(instance_id):
            record = self._record(instance_id)
            await asyncio.to_thread(self._detach, record, volume_id)

    def _detach(self, record: GuestRecord, volume_id: str) -> None:
        attached = record.attached()
        if volume_id not in attached:
            return
        block_device, connection = attached[volume_id]
        if block_device.is_root:
            raise VolumeError(f"volume {volume_id} is the guest's root")
        volumes.detach(self.disks[record.instance_id], block_device,
                       connection.checked_file_name())
        del attached[volume_id]
        record.set_attached(attached)
        self.store.save(record)
        logger.info("volume %s detached from %s", volume_id, record.instance_id)

    def attached_volumes(self, instance_id: str) -> list[BlockDevice]:
        return [bdm for bdm, _ in self._record(instance_id).attached().values()]

    async def rescue(self, instance_id: str, *, image: Path | None) -> None:
        self._record(instance_id)  # GuestNotFound before waiting for the lock
        async with self._lock(instance_id):
            # Read again under the lock: a destroy and respawn of the same id may have run
            # while this waited, and the old record must not be stopped or started.
            record = self._record(instance_id)
            key = record.image_key
            if image is None and not key:
                raise SpawnError("a guest booted from a volume is rescued from an image")
            if image is not None:
                key = self.images.key_for("", image)
                await asyncio.to_thread(self.images.tree, key, image)
            await asyncio.to_thread(self._stop, record, 10.0)
            record.rescue_key = key
            await asyncio.to_thread(self._start, record)

    async def unrescue(self, instance_id: str) -> None:
        self._record(instance_id)  # GuestNotFound before waiting for the lock
        async with self._lock(instance_id):
            # Read again under the lock: a destroy and respawn of the same id may have run
            # while this waited, and the old record must not be stopped or started.
            record = self._record(instance_id)
            await asyncio.to_thread(self._stop, record, 10.0)
            record.rescue_key = ""
            await asyncio.to_thread(self.disks[instance_id].remove_rescue)
            await asyncio.to_thread(self._start, record)

    # -- console ---------------------------------------------------------------------
    async def get_console_output(self, instance_id: str, *, length: int | None = None) -> str:
        self._record(instance_id)
        log = self.disks[instance_id].console_log
        try:
            text = await asyncio.to_thread(_read_tail, log, CONSOLE_READ_MAX)
        except FileNotFoundError:
            return ""
        if length is None:
            return text
        return "\n".join(text.splitlines()[-length:]) if length > 0 else ""

    def console_command(self, instance_id: str, command: Sequence[str] | None) -> list[str]:
        record = self._record(instance_id)
        if not is_alive(record):
            raise SpawnError(f"guest {instance_id} is not running")
        argv = [sys.executable, "-m", "agents.compute.process.enter", "--pid",
                str(record.pid), "--start-time", record.start_time]
        for procs in self._cgroup(instance_id).procs_files():
            argv += ["--cgroup", procs]
        return [*argv, "--", *command] if command else argv
