"""A host's part in moving a guest (resize, cold migration) and in rebuilding it.

The source host stops the guest and keeps it until the move is confirmed (then it is
destroyed) or reverted (then it is started again); stopped, it holds no volume mount, so the
destination can mount the same files. A local disk travels through the image
service as a temporary snapshot image, which the destination boots from; a shared disk stays
where it is, and the destination spawns with ``reuse_disk``. Imports no transport.
"""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from agents.compute.contract import SHUTDOWN
from agents.compute.driver import SHARED
from agents.compute.snapshots import ROOTFS_PROPERTY, snapshot_to_image
from overcast import errors
from overcast.context import RequestContext

if TYPE_CHECKING:
    from agents.compute.manager import ComputeManager

logger = logging.getLogger(__name__)


async def move_out(manager: ComputeManager, ctx: RequestContext, instance_id: str,
                   image_id: str | None) -> dict:
    """Stop the guest (kept here until confirm or revert) and make its disk reachable from
    the destination: ``{"storage": "shared"}``, or ``{"storage": "local", "image_id"}`` for
    the temporary image its local disk was snapshotted into."""
    driver = manager.driver
    guest = driver.get_info(instance_id)
    if guest.power_state != SHUTDOWN:
        await driver.power_off(instance_id)
    if guest.storage == SHARED:
        return {"storage": SHARED}
    if manager.images is None:
        raise errors.ServiceUnavailable("this host has no image service to move a disk with")
    name = f"{guest.name}-move-{instance_id[:8]}"
    # A repeated message finds the image the first one made (and snapshot_to_image leaves
    # one that is no longer queued alone), so a move never leaves two images behind.
    found = (await manager.images.list_images(
        ctx, filters={"name": name, "instance_uuid": instance_id}))["images"]
    image = found[0] if found else await manager.images.create_image(ctx, {
        "name": name, "disk_format": "raw", "container_format": "bare",
        "visibility": "private", "image_type": "snapshot", "instance_uuid": instance_id,
        ROOTFS_PROPERTY: "tar"})
    await snapshot_to_image(ctx, driver=driver, images=manager.images,
                            instance_id=instance_id, image_id=image["id"],
                            workdir=manager.work_dir / "snapshots")
    return {"storage": "local", "image_id": image["id"]}


async def drop_moved_guest(manager: ComputeManager, ctx: RequestContext, instance_id: str,
                           image_id: str | None) -> None:
    """Destroy the guest a reverted move had made here (a shared disk is kept: it is the
    source's), and the temporary image it was booted from."""
    try:
        shared = manager.driver.get_info(instance_id).storage == SHARED
    except Exception:  # noqa: BLE001 - already gone: nothing to keep
        shared = False
    await manager.driver.destroy(instance_id, keep_disk=shared)
    manager.reported.pop(instance_id, None)
    if image_id:
        await manager.forget_image(ctx, image_id)


async def revert_here(manager: ComputeManager, ctx: RequestContext, instance_id: str,
                      image_id: str | None) -> None:
    """The move was reverted: start the guest this host kept, its volumes attached here
    again (the destination has released them: it dropped its guest first)."""
    await manager.reattach_here(ctx, instance_id,
                                lambda: manager.driver.power_on(instance_id))


async def drop_source_guest(manager: ComputeManager, ctx: RequestContext, *,
                            instance_id: str, image_id: str | None) -> None:
    """The move was confirmed: forget the guest this host kept (a shared disk stays: the
    destination uses it) and the temporary image, if any. Idempotent."""
    try:
        shared = manager.driver.get_info(instance_id).storage == SHARED
    except Exception:  # noqa: BLE001 - already gone
        shared = True
    await manager.driver.destroy(instance_id, keep_disk=shared)
    manager.reported.pop(instance_id, None)
    if image_id:
        await manager.forget_image(ctx, image_id)
    logger.info("moved guest %s forgotten here", instance_id)


ACTIONS: dict[str, Any] = {"moveOut": move_out, "dropMovedGuest": drop_moved_guest,
                           "revertResize": revert_here}
