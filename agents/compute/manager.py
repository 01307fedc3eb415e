"""What a compute host does with its guests. Imports no transport.

Every handler is idempotent (messages can arrive twice) and reports its outcome to the
conductor, which owns the instance records.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import logging
from pathlib import Path
from typing import Any

from agents.compute import moves
from agents.compute.contract import NOSTATE, RUNNING, InstancePayload
from agents.compute.driver import LOCAL, SHARED, ComputeDriver, GuestNotFound
from agents.compute.guest_actions import GuestActionHandlers
from agents.compute.images import ImageCache
from agents.compute.volumes import VolumeHandlers
from overcast import errors
from overcast.clock import utcnow
from overcast.context import RequestContext

logger = logging.getLogger(__name__)
# Every this many power-sync passes, states other than RUNNING are reported again.
RESEND_EVERY = 30

DISK_STORAGE_SPEC = "overcast:disk_storage"  # a flavor's extra spec: local or shared


class ComputeManager(GuestActionHandlers, VolumeHandlers):
    def __init__(self, *, host: str, driver: ComputeDriver, conductor: Any,
                 images: Any = None, work_dir: Path | None = None,
                 default_storage: str = LOCAL, volumes: Any = None) -> None:
        self.host = host
        self.driver = driver
        self.conductor = conductor
        self.images = images  # an ImageClient (snapshots); None where no image service is
        self.volumes = volumes  # a VolumeAPI; None where no volume service is
        self.work_dir = work_dir or Path(".")
        self.cache = ImageCache(self.work_dir / "images", images) if images else None
        self.default_storage = default_storage
        # The power state last reported to the conductor, per guest (see sync_power_states).
        self.reported: dict[str, int] = {}
        self._sync_passes = 0
        # self_fence and reconcile take turns: a reconcile never clears a fence half made.
        self._fence_lock = asyncio.Lock()
        self.fenced_at: dt.datetime | None = None
        # Instances deleted while a build for them may still be queued: never spawn those.
        self._terminated: set[str] = set()
        # Guests this host stopped because it lost the bus (see ``self_fence``).
        self.fenced_guests: set[str] | None = None
        self.reconciled_at: dt.datetime | None = None

    def storage_for(self, instance: InstancePayload) -> str:
        """Where the guest's disk lives: the flavor's ``overcast:disk_storage``, or this
        host's default."""
        return instance.flavor.extra_specs.get(DISK_STORAGE_SPEC) or self.default_storage

    async def image_for(self, ctx: RequestContext, image_ref: str) -> Path | None:
        """The cached image file a spawn needs (None when the driver needs no image)."""
        if not self.driver.needs_image:
            return None
        if self.cache is None:
            raise errors.ServiceUnavailable("this host has no image service to fetch from")
        return await self.cache.fetch(ctx, image_ref)

    async def build_and_run_instance(self, ctx: RequestContext, *,
                                     instance: InstancePayload,
                                     reuse_disk: bool = False,
                                     delete_image: str | None = None,
                                     respawn: bool = False, stopped: bool = False) -> None:
        """Spawn the guest (keeping an existing disk of it with ``reuse_disk``, as an
        evacuation onto shared storage does) and report ``instance_built`` with whether the
        disk was reused, or ``build_failed``. A guest already running is not spawned again.
        ``delete_image`` (an unshelve's shelved image, a move's temporary one) is deleted
        from the image service and this host's cache once the guest runs. ``respawn`` (a
        resize on the same host, or its revert) restarts an existing guest on its own disk
        with the instance's flavor. ``stopped`` (a stopped server rebuilt or resized) powers
        the new guest off before reporting, as Nova leaves such a server SHUTOFF.

        The instance's volumes are attached to this host first (``connect_volumes``) and
        mounted by the driver before the guest starts; a guest booted from a volume needs
        no image. A failure anywhere (the volume service's too) leaves no guest and no
        mount, and is reported as ``build_failed``."""
        instance_id = instance.id
        if instance_id in self._terminated:
            return
        if self.fenced_guests is not None:
            # This host stopped its guests because its heartbeats stopped getting through:
            # the conductor may be evacuating them. Start nothing until it is back.
            await self.conductor.build_failed(ctx, instance_id=instance_id, host=self.host,
                                              reason=f"host {self.host} is fenced")
            return
        if respawn:
            await self.driver.destroy(instance_id, keep_disk=True)
            reuse_disk = True
        try:
            self.driver.get_info(instance_id)
            already_running = True
        except GuestNotFound:
            already_running = False
        disk_reused = reuse_disk
        if not already_running:
            try:
                block_devices = await self.connect_volumes(ctx, instance)
                image = None if instance.root_volume else \
                    await self.image_for(ctx, instance.image_ref)
                result = await self.driver.spawn(
                    instance, image=image, network_info=list(instance.network_info),
                    storage=self.storage_for(instance), reuse_disk=reuse_disk,
                    block_devices=block_devices)
                disk_reused = result.disk_reused
                await self.complete_attachments(ctx, instance.block_device_mapping)
            except Exception as exc:  # noqa: BLE001 - any spawn failure is reported
                reason = exc.message if isinstance(exc, errors.OvercastError) else str(exc)
                logger.warning("spawn of %s failed: %s", instance_id, reason)
                await self.driver.destroy(instance_id, keep_disk=reuse_disk)
                await self.conductor.build_failed(ctx, instance_id=instance_id,
                                                  host=self.host, reason=reason)
                return
            logger.info("spawned %s", instance_id)
        elif instance.block_device_mapping:
            # A build delivered again (this host died between spawning and completing): the
            # guest runs with its volumes mounted; complete them, which is idempotent.
            try:
                await self.complete_attachments(ctx, instance.block_device_mapping)
            except Exception as exc:  # noqa: BLE001 - the guest runs; the sweeper settles it
                logger.warning("completing the volumes of running %s failed: %s",
                               instance_id, exc)
        if stopped:
            await self.driver.power_off(instance_id)
        power_state = self._power_state(instance_id)
        self.reported[instance_id] = power_state
        await self.conductor.instance_built(ctx, instance_id=instance_id, host=self.host,
                                            power_state=power_state, disk_reused=disk_reused)
        if delete_image:
            await self.forget_image(ctx, delete_image)

    async def rebuild_instance(self, ctx: RequestContext, *, instance: InstancePayload,
                               stopped: bool = False) -> None:
        """Rebuild: the guest and its disk are made anew from ``instance.image_ref`` on this
        host (and left off when ``stopped``); reported as a build is."""
        await self.driver.destroy(instance.id)
        self.reported.pop(instance.id, None)
        await self.build_and_run_instance(ctx, instance=instance, stopped=stopped)

    async def drop_guest(self, ctx: RequestContext, *, instance_id: str,
                         image_id: str | None = None) -> None:
        """A move away from here was confirmed: forget the guest kept for a revert."""
        await moves.drop_source_guest(self, ctx, instance_id=instance_id, image_id=image_id)

    async def forget_image(self, ctx: RequestContext, image_id: str) -> None:
        """Delete an image this host no longer needs, from the image service and the cache;
        one already gone is no error."""
        if self.cache is not None:
            self.cache.remove(image_id)
        if self.images is None:
            return
        try:
            await self.images.delete_image(ctx, image_id)
        except errors.NotFound:
            pass
        except Exception as exc:  # noqa: BLE001 - a leftover image must not fail the guest
            logger.warning("could not delete image %s: %s", image_id, exc)

    async def power_action(self, ctx: RequestContext, *, instance_id: str, action: str,
                           hard: bool = False) -> None:
        error = None
        try:
            if action == "stop":
                await self.driver.power_off(instance_id)
            elif action == "start":
                await self.driver.power_on(instance_id)
            elif action == "reboot":
                await self.driver.reboot(instance_id, hard=hard)
            else:
                error = f"unknown power action {action}"
        except GuestNotFound:
            error = f"guest {instance_id} is not on {self.host}"
        except Exception as exc:  # noqa: BLE001 - reported to the conductor
            error = str(exc)
        try:
            power_state = self.driver.get_info(instance_id).power_state
        except GuestNotFound:
            power_state = NOSTATE
        self.reported[instance_id] = power_state
        await self.conductor.instance_power_changed(
            ctx, instance_id=instance_id, host=self.host, action=action,
            power_state=power_state, error=error)

    def _power_state(self, instance_id: str) -> int:
        try:
            return self.driver.get_info(instance_id).power_state
        except GuestNotFound:
            return NOSTATE

    async def sync_power_states(self, ctx: RequestContext) -> int:
        """One pass of Nova's ``_sync_power_states``: report each guest whose power state
        differs from the one last reported; returns how many were reported. Nothing while
        self-fenced: those guests were stopped on purpose and ``reconcile`` restarts them."""
        if self.fenced_guests is not None:
            return 0
        self._sync_passes += 1
        if self._sync_passes % RESEND_EVERY == 0:
            # Repeat what is not running: a report the conductor found stale is not lost.
            self.reported = {k: v for k, v in self.reported.items() if v == RUNNING}
        observed_at = utcnow().isoformat()
        changed = [g for g in self.driver.list_guests()
                   if self.reported.get(g.instance_id) != g.power_state]
        for guest in changed:
            await self.conductor.power_state_changed(
                ctx, instance_id=guest.instance_id, host=self.host,
                power_state=guest.power_state, observed_at=observed_at)
            self.reported[guest.instance_id] = guest.power_state
        return len(changed)

    async def terminate_instance(self, ctx: RequestContext, *, instance_id: str) -> None:
        self._terminated.add(instance_id)
        await self.driver.destroy(instance_id)
        self.reported.pop(instance_id, None)
        logger.info("destroyed %s", instance_id)
        await self.conductor.instance_destroyed(ctx, instance_id=instance_id, host=self.host)

    def list_guests(self) -> list[dict]:
        return [g.__dict__ for g in self.driver.list_guests()]

    async def self_fence(self) -> None:
        """Stop every guest: this host lost the bus, so they may be rebuilt elsewhere.

        Runs before the conductor's failure detector can declare the host down, so no guest
        ever runs on two hosts: the guests are killed at once (no grace) and together.
        ``reconcile`` undoes it for guests that did not move; the two never interleave.
        """
        async with self._fence_lock:
            if self.fenced_guests is not None:
                return
            self.fenced_at = utcnow()
            # Every guest, not only those RUNNING now: one being spawned, rebooted or
            # unrescued shows SHUTDOWN for a moment and would run once that step ends. The
            # driver's per-guest lock makes each power_off wait for such a step. Reconcile
            # starts again only those the conductor still places here and wants running.
            guests = [g.instance_id for g in self.driver.list_guests()]
            self.fenced_guests = set(guests)
            await asyncio.gather(*(self.driver.power_off(instance_id, grace=0)
                                   for instance_id in guests))
        logger.warning("lost the message bus: fenced myself, stopped %d guest(s)",
                       len(guests))

    async def reconcile(self, ctx: RequestContext, *, timeout: float | None = None,
                        start_up: bool = False) -> list[str]:
        """Match the guests to the conductor's records; returns the ids destroyed.

        Guests the conductor no longer places here (deleted, or evacuated while this host
        was away) are destroyed. Guests it wants running are started with ``power_on``:
        at ``start_up`` (the driver's ``init_host`` starts none), and those stopped by
        ``self_fence``. A guest that stopped on its own while the host was up is left to
        ``sync_power_states``, as Nova leaves it.
        """
        asked_at = utcnow()
        placed = {p["id"]: p["running"] for p in await self.conductor.placements_on_host(
            ctx, host=self.host, timeout=timeout)}
        async with self._fence_lock:
            if self.fenced_at is not None and self.fenced_at > asked_at:
                return []  # fenced after the conductor answered: that answer cannot undo it
            return await self._apply_placements(placed, asked_at, start_up=start_up)

    async def _apply_placements(self, placed: dict[str, bool], asked_at: dt.datetime, *,
                                start_up: bool) -> list[str]:
        guests = self.driver.list_guests()
        stale = [g for g in guests if g.instance_id not in placed]
        for guest in stale:
            # A shared disk is kept: the instance may have moved, or failed to move, to a
            # host that has not taken the disk over yet; this host cannot tell (a disk that
            # nobody uses any more is left behind rather than a live one deleted).
            await self.driver.destroy(guest.instance_id, keep_disk=guest.storage == SHARED)
            self.reported.pop(guest.instance_id, None)
            logger.info("destroyed stale guest %s", guest.instance_id)
        candidates = {g.instance_id for g in guests if g.power_state != RUNNING} \
            if start_up else (self.fenced_guests or set())
        started = [i for i in candidates if placed.get(i)]
        for instance_id in started:
            try:
                await self.driver.power_on(instance_id)
            except Exception as exc:  # noqa: BLE001 - one guest (a volume gone) stops no other
                logger.warning("could not start %s again: %s", instance_id, exc)
        if start_up:
            # What the conductor last heard of each guest is what it is now.
            self.reported = {g.instance_id: g.power_state for g in self.driver.list_guests()}
        if self.fenced_guests is not None or started:
            logger.warning("reconciled: %d guest(s) started, %d destroyed", len(started),
                           len(stale))
        self.fenced_guests = None
        self.fenced_at = None
        self.reconciled_at = asked_at
        return [g.instance_id for g in stale]

    def node_report(self) -> dict:
        """This host's resources and usage, for the hypervisor records."""
        res = self.driver.host_resources()
        guests = self.driver.list_guests()
        return {"hypervisor_type": self.driver.hypervisor_type, "host_ip": res["host_ip"],
                "vcpus": res["vcpus"], "memory_mb": res["memory_mb"],
                "local_gb": res["local_gb"], "running_vms": len(guests),
                "vcpus_used": sum(g.vcpus for g in guests),
                "memory_mb_used": sum(g.memory_mb for g in guests),
                "local_gb_used": sum(g.disk_gb for g in guests)}
