"""The compute agent's AMQP contract: topic ``compute``, one queue per host.

Versions: 1.0 initial (build_and_run_instance, power_action, terminate_instance, list_guests).
1.1 guest_action (pause, unpause, suspend, resume, rescue, unrescue, createImage, shelve,
shelveOffload, unshelve in place: a cast the
host answers with the conductor's guest_action_done) and get_console_output (a call);
build_and_run_instance takes ``reuse_disk``, ``delete_image``, ``respawn`` and ``stopped``
(sent only when set);
rebuild_instance (the disk made anew from the image) and drop_guest (a confirmed move's
source forgets the guest it kept). The move actions of guest_action: moveOut (the source
stops the guest and answers how its disk travels), dropMovedGuest and revertResize.
The instance a build carries is an ``InstancePayload``: the fields of the 1.0 dict that a host
reads to build a guest (id, name, owner, flavor, image, key, user data, metadata, zone, launch
index, ports), under the same keys, so the version stays. The conductor's bookkeeping fields
(states, fault, tags, timestamps, tried hosts) no longer travel; a host that needs one gets it
added to the payload in a minor version.
1.2 get_diagnostics (a call): the running guest's ``GuestDiagnostics``, Conflict when the
host runs no such guest or it is not running, NotSupported when its driver cannot measure.
1.3 volumes: attach_volume (a cast with the mapping's ``BlockDevice``; the host reports the
conductor's volume_attached or volume_attach_failed) and detach_volume (a cast; the host
reports volume_detached). An ``InstancePayload`` carries ``block_device_mapping``: the host
attaches those volumes on every build (also respawns, rebuilds, moves, unshelves and
evacuations), and boots from the root volume when there is one; a build or rebuild whose
instance has volumes is sent as 1.3, so a host too old to attach them refuses it.
"""
from __future__ import annotations

from agents.compute.contract import (
    CRASHED,
    NOSTATE,
    PAUSED,
    RUNNING,
    SHUTDOWN,
    BlockDevice,
    FlavorSpec,
    InstancePayload,
)
from agents.compute.driver import GuestDiagnostics
from overcast.bus import RpcClient
from overcast.context import RequestContext

__all__ = ["CRASHED", "NOSTATE", "PAUSED", "RUNNING", "SHUTDOWN", "BlockDevice",
           "ComputeAgentAPI", "FlavorSpec", "GuestDiagnostics", "InstancePayload"]


def _build_version(instance: InstancePayload, version: str) -> str:
    """A build of an instance with volumes needs a host that attaches them (1.3)."""
    return "1.3" if instance.block_device_mapping else version


class ComputeAgentAPI(RpcClient):
    topic = "compute"

    async def build_and_run_instance(self, ctx: RequestContext, *, host: str,
                                     instance: InstancePayload,
                                     reuse_disk: bool = False,
                                     delete_image: str | None = None,
                                     respawn: bool = False, stopped: bool = False) -> None:
        """Spawn ``instance`` on ``host`` (keeping an existing disk of it with
        ``reuse_disk``; deleting the image ``delete_image`` once it runs; with ``respawn``
        restarting an existing guest on its own disk with the payload's flavor; powering it
        off before reporting with ``stopped``); the host reports back to the conductor."""
        if reuse_disk or delete_image or respawn or stopped:
            await self.cast(ctx, "build_and_run_instance", server=host,
                            version=_build_version(instance, "1.1"),
                            instance=instance.to_wire(), reuse_disk=reuse_disk,
                            delete_image=delete_image, respawn=respawn, stopped=stopped)
            return
        await self.cast(ctx, "build_and_run_instance", server=host,
                        version=_build_version(instance, "1.0"), instance=instance.to_wire())

    async def power_action(self, ctx: RequestContext, *, host: str, instance_id: str,
                           action: str, hard: bool = False) -> None:
        await self.cast(ctx, "power_action", server=host, instance_id=instance_id,
                        action=action, hard=hard)

    async def terminate_instance(self, ctx: RequestContext, *, host: str, instance_id: str
                                 ) -> None:
        await self.cast(ctx, "terminate_instance", server=host, instance_id=instance_id)

    async def list_guests(self, ctx: RequestContext, *, host: str,
                          timeout: float | None = None) -> list[dict]:
        """The guests the host's driver is running now: its own view, not the database's."""
        return await self.call(ctx, "list_guests", server=host, timeout=timeout)

    async def guest_action(self, ctx: RequestContext, *, host: str, instance_id: str,
                           action: str, image_id: str | None = None) -> None:
        """Do ``action`` to the guest on ``host``; ``image_id`` is the snapshot's image for
        createImage, the rescue image for rescue. The host reports guest_action_done."""
        await self.cast(ctx, "guest_action", server=host, version="1.1",
                        instance_id=instance_id, action=action, image_id=image_id)

    async def rebuild_instance(self, ctx: RequestContext, *, host: str,
                               instance: InstancePayload, stopped: bool = False) -> None:
        """Destroy the guest and its disk, and build it anew from ``instance.image_ref``
        (left off when ``stopped``); reported as a build (instance_built or build_failed)."""
        await self.cast(ctx, "rebuild_instance", server=host,
                        version=_build_version(instance, "1.1"), instance=instance.to_wire(),
                        stopped=stopped)

    async def drop_guest(self, ctx: RequestContext, *, host: str, instance_id: str,
                         image_id: str | None = None) -> None:
        """Forget the guest kept on a move's source (confirmed), deleting ``image_id``."""
        await self.cast(ctx, "drop_guest", server=host, version="1.1",
                        instance_id=instance_id, image_id=image_id)

    async def get_console_output(self, ctx: RequestContext, *, host: str, instance_id: str,
                                 length: int | None = None,
                                 timeout: float | None = None) -> str:
        """The guest's console log: the last ``length`` lines, or all of it."""
        return await self.call(ctx, "get_console_output", server=host, version="1.1",
                               timeout=timeout, instance_id=instance_id, length=length)

    async def get_diagnostics(self, ctx: RequestContext, *, host: str, instance_id: str,
                              timeout: float | None = None) -> GuestDiagnostics:
        """The running guest's figures now, measured by ``host``'s driver. 1.2."""
        return GuestDiagnostics.from_wire(await self.call(
            ctx, "get_diagnostics", server=host, version="1.2", timeout=timeout,
            instance_id=instance_id))

    async def attach_volume(self, ctx: RequestContext, *, host: str, instance_id: str,
                            block_device: BlockDevice) -> None:
        """Attach the volume of ``block_device`` to the guest on ``host`` (under the user's
        context: the host completes the attachment with the volume service); the host
        reports volume_attached, or volume_attach_failed with the mount undone. 1.3."""
        await self.cast(ctx, "attach_volume", server=host, version="1.3",
                        instance_id=instance_id, block_device=block_device.to_wire())

    async def detach_volume(self, ctx: RequestContext, *, host: str, instance_id: str,
                            volume_id: str, attachment_id: str) -> None:
        """Unmount the volume from the guest on ``host`` and delete its attachment; the host
        reports volume_detached. 1.3."""
        await self.cast(ctx, "detach_volume", server=host, version="1.3",
                        instance_id=instance_id, volume_id=volume_id,
                        attachment_id=attachment_id)
