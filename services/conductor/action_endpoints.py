"""The conductor's AMQP entry points for server actions done in place on a host (RPC 1.3)
and for volumes (RPC 1.6); ``service.ConductorService`` takes them in, so its module stays
wiring of one size."""
from __future__ import annotations

from typing import Any

from overcast import errors
from overcast.bus import rpc
from overcast.context import RequestContext
from services.conductor import flavor_specs


class ActionEndpoints:
    """Mixed into the conductor service; ``self.manager`` is its ``ConductorManager``."""

    manager: Any
    resources: Any

    @rpc("1.3")
    async def update_flavor_extra_specs(self, ctx: RequestContext, *, flavor_id: str,
                                        set_specs: dict, remove: str | None = None) -> dict:
        if not ctx.is_admin:
            raise errors.Forbidden("Policy doesn't allow "
                                   "os_compute_api:os-flavor-extra-specs:create to be "
                                   "performed.")
        return self.resources.update_extra_specs(
            ctx, flavor_id, set_specs=flavor_specs.checked(set_specs), remove=remove)

    @rpc("1.3")
    async def guest_action(self, ctx: RequestContext, *, instance_id: str, action: str,
                           image_id: str | None = None,
                           rescue_image_ref: str | None = None) -> None:
        await self.manager.guests.start(ctx, instance_id=instance_id, action=action,
                                        image_id=image_id, rescue_image_ref=rescue_image_ref)

    @rpc("1.3")
    async def unshelve_server(self, ctx: RequestContext, *, instance_id: str,
                              availability_zone: str | None = None) -> None:
        await self.manager.shelver.unshelve(ctx, instance_id=instance_id,
                                            availability_zone=availability_zone)

    @rpc("1.3")
    async def rebuild_server(self, ctx: RequestContext, *, instance_id: str, image_ref: str,
                             name: str | None = None, metadata: dict | None = None) -> dict:
        return await self.manager.rebuilder.rebuild(ctx, instance_id=instance_id,
                                                    image_ref=image_ref, name=name,
                                                    metadata=metadata)

    @rpc("1.3")
    async def resize_server(self, ctx: RequestContext, *, instance_id: str,
                            flavor_id: str | None = None, host: str | None = None) -> None:
        if flavor_id is None and not ctx.is_admin:
            raise errors.Forbidden("Policy doesn't allow os_compute_api:os-migrate-server:"
                                   "migrate to be performed.")
        await self.manager.resizer.start(ctx, instance_id=instance_id, flavor_id=flavor_id,
                                         host=host)

    @rpc("1.3")
    async def confirm_resize(self, ctx: RequestContext, *, instance_id: str) -> None:
        await self.manager.resizer.confirm(ctx, instance_id=instance_id)

    @rpc("1.3")
    async def revert_resize(self, ctx: RequestContext, *, instance_id: str) -> None:
        await self.manager.resizer.revert(ctx, instance_id=instance_id)

    @rpc("1.3")
    async def guest_action_done(self, ctx: RequestContext, *, instance_id: str, host: str,
                                action: str, power_state: int,
                                error: str | None = None, result: dict | None = None
                                ) -> None:
        await self.manager.guests.action_done(ctx, instance_id=instance_id, host=host,
                                              action=action, power_state=power_state,
                                              error=error, result=result)

    @rpc("1.3")
    async def power_state_changed(self, ctx: RequestContext, *, instance_id: str, host: str,
                                  power_state: int, observed_at: str | None = None) -> None:
        await self.manager.guests.power_state_changed(ctx, instance_id=instance_id, host=host,
                                                      power_state=power_state,
                                                      observed_at=observed_at)

    @rpc("1.3")
    async def lock_server(self, ctx: RequestContext, *, instance_id: str,
                          reason: str | None = None) -> None:
        self.manager.guests.lock(ctx, instance_id=instance_id, reason=reason)

    @rpc("1.3")
    async def unlock_server(self, ctx: RequestContext, *, instance_id: str) -> None:
        self.manager.guests.unlock(ctx, instance_id=instance_id)

    @rpc("1.3")
    async def get_console_output(self, ctx: RequestContext, *, instance_id: str,
                                 length: int | None = None) -> str:
        return await self.manager.guests.console_output(ctx, instance_id=instance_id,
                                                        length=length)

    # -- volumes (1.6) ---------------------------------------------------------------------

    @rpc("1.6")
    async def attach_volume(self, ctx: RequestContext, *, instance_id: str, volume_id: str,
                            device: str | None = None, tag: str | None = None,
                            delete_on_termination: bool = False) -> dict:
        return await self.manager.volumes.attach(
            ctx, instance_id=instance_id, volume_id=volume_id, device=device, tag=tag,
            delete_on_termination=delete_on_termination)

    @rpc("1.6")
    async def detach_volume(self, ctx: RequestContext, *, instance_id: str, volume_id: str
                            ) -> None:
        await self.manager.volumes.detach(ctx, instance_id=instance_id, volume_id=volume_id)

    @rpc("1.6")
    async def volume_attached(self, ctx: RequestContext, *, instance_id: str, volume_id: str,
                              host: str) -> None:
        await self.manager.volumes.attached(ctx, instance_id=instance_id, volume_id=volume_id,
                                            host=host)

    @rpc("1.6")
    async def volume_attach_failed(self, ctx: RequestContext, *, instance_id: str,
                                   volume_id: str, host: str, reason: str) -> None:
        await self.manager.volumes.attach_failed(ctx, instance_id=instance_id,
                                                 volume_id=volume_id, host=host, reason=reason)

    @rpc("1.6")
    async def volume_detached(self, ctx: RequestContext, *, instance_id: str, volume_id: str,
                              host: str) -> None:
        await self.manager.volumes.detached(ctx, instance_id=instance_id, volume_id=volume_id,
                                            host=host)
