"""The conductor's AMQP contract; the API, the scheduler and compute agents import only this.

Versions: 1.0 initial. 1.1 report_state carries ``reconciled_at``; evacuate_server,
list_migrations. 1.2 create_keypair takes ``user_id`` (an admin's; sent only when given).
1.3 server actions done in place on the host: guest_action (pause, unpause, suspend, resume,
rescue, unrescue, createImage, shelve, shelveOffload), unshelve_server, rebuild_server,
resize_server (a cold migration without a flavor), confirm_resize, revert_resize,
lock_server, unlock_server, get_console_output; from hosts: guest_action_done (with
``result``), power_state_changed, and instances_on_host(detail=True), which answers
``[{"id", "running"}]`` so a restarted host knows which guests to start; instance_built
carries ``disk_reused``; update_flavor_extra_specs (``overcast:disk_storage`` is local or
shared).
1.4 create_console_token, validate_console_token (console access; a compute host's node
report may carry ``console_address``, which older conductors ignore).
1.5 get_server_diagnostics (admin only; a call the conductor passes on to the guest's host,
compute agent RPC 1.2).
1.6 volumes: from the API attach_volume (answers the mapping) and detach_volume (calls);
from compute hosts volume_attached, volume_attach_failed and volume_detached (durable
casts); create_servers' request may carry ``block_device_mapping``; a server's record
carries its ``block_device_mapping`` (``services/conductor/block_devices.py``).
The request of create_servers is a ``BootRequest`` (its wire form is the JSON object the 1.0
dict was, so the version stays).
"""
from __future__ import annotations

from agents.compute.rpcapi import GuestDiagnostics
from overcast.bus import RpcClient
from overcast.context import RequestContext
from services.conductor.contract import (
    BlockDeviceRequest,
    BootRequest,
    ConsoleConnection,
    ConsoleToken,
    ImageRequirements,
)

__all__ = ["BlockDeviceRequest", "BootRequest", "ConductorAPI", "ConsoleConnection", "ConsoleToken",
           "GuestDiagnostics", "ImageRequirements"]


class ConductorAPI(RpcClient):
    topic = "conductor"

    # -- from every service: heartbeats (not persisted; stale ones expire) ---------------

    async def report_state(self, ctx: RequestContext, *, host: str, binary: str, topic: str,
                           zone: str = "nova", node: dict | None = None,
                           reconciled_at: str | None = None, ttl: float = 5.0,
                           timeout: float | None = None) -> None:
        """A heartbeat: not persisted, and dropped by the broker once older than ``ttl``."""
        args = {"reconciled_at": reconciled_at} if reconciled_at else {}
        await self.bus.cast(ctx, self.topic, "report_state", durable=False, ttl=ttl,
                            timeout=timeout, version="1.1" if args else "1.0",
                            host=host, binary=binary, topic=topic, zone=zone, node=node, **args)

    # -- from compute agents: durable reports -------------------------------------------

    async def instance_built(self, ctx: RequestContext, *, instance_id: str, host: str,
                             power_state: int, disk_reused: bool = False) -> None:
        """The guest runs on ``host``; ``disk_reused`` (1.3) says whether an existing disk
        was kept or the disk made anew from the image."""
        await self.cast(ctx, "instance_built", version="1.3", instance_id=instance_id,
                        host=host, power_state=power_state, disk_reused=disk_reused)

    async def build_failed(self, ctx: RequestContext, *, instance_id: str, host: str,
                           reason: str) -> None:
        await self.cast(ctx, "build_failed", instance_id=instance_id, host=host, reason=reason)

    async def instance_power_changed(self, ctx: RequestContext, *, instance_id: str, host: str,
                                     action: str, power_state: int, error: str | None = None
                                     ) -> None:
        await self.cast(ctx, "instance_power_changed", instance_id=instance_id, host=host,
                        action=action, power_state=power_state, error=error)

    async def instance_destroyed(self, ctx: RequestContext, *, instance_id: str, host: str
                                 ) -> None:
        await self.cast(ctx, "instance_destroyed", instance_id=instance_id, host=host)

    async def volume_attached(self, ctx: RequestContext, *, instance_id: str, volume_id: str,
                              host: str) -> None:
        """``host`` mounted the volume (compute.attach_volume done). 1.6."""
        await self.cast(ctx, "volume_attached", version="1.6", instance_id=instance_id,
                        volume_id=volume_id, host=host)

    async def volume_attach_failed(self, ctx: RequestContext, *, instance_id: str,
                                   volume_id: str, host: str, reason: str) -> None:
        """``host`` could not attach the volume (and left nothing mounted). 1.6."""
        await self.cast(ctx, "volume_attach_failed", version="1.6", instance_id=instance_id,
                        volume_id=volume_id, host=host, reason=reason)

    async def volume_detached(self, ctx: RequestContext, *, instance_id: str, volume_id: str,
                              host: str) -> None:
        """``host`` unmounted the volume and deleted its attachment. 1.6."""
        await self.cast(ctx, "volume_detached", version="1.6", instance_id=instance_id,
                        volume_id=volume_id, host=host)

    async def instances_on_host(self, ctx: RequestContext, *, host: str,
                                timeout: float | None = None) -> list[str]:
        """Ids of the instances the conductor places on ``host`` (for a host's own sync)."""
        return await self.call(ctx, "instances_on_host", host=host, timeout=timeout)

    async def placements_on_host(self, ctx: RequestContext, *, host: str,
                                 timeout: float | None = None) -> list[dict]:
        """The instances the conductor places on ``host``, each ``{"id", "running"}``
        (``running``: the conductor wants its guest running). 1.3."""
        return await self.call(ctx, "instances_on_host", version="1.3", host=host,
                               detail=True, timeout=timeout)

    async def guest_action_done(self, ctx: RequestContext, *, instance_id: str, host: str,
                                action: str, power_state: int, error: str | None = None,
                                result: dict | None = None) -> None:
        """``host`` finished a ``guest_action`` (``error`` set if it failed; ``result`` what
        it answers, for moveOut how the disk travels). 1.3."""
        await self.cast(ctx, "guest_action_done", version="1.3", instance_id=instance_id,
                        host=host, action=action, power_state=power_state, error=error,
                        result=result)

    async def power_state_changed(self, ctx: RequestContext, *, instance_id: str, host: str,
                                  power_state: int, observed_at: str | None = None) -> None:
        """The guest's power state changed with no action asked (the host's sync), as seen at
        ``observed_at`` (ISO time; a report older than the instance's last change is
        stale). 1.3."""
        await self.cast(ctx, "power_state_changed", version="1.3", instance_id=instance_id,
                        host=host, power_state=power_state, observed_at=observed_at)

    # -- from the API --------------------------------------------------------------------
    async def create_servers(self, ctx: RequestContext, *, request: BootRequest) -> list[dict]:
        """Record new instances in BUILD (validated, quota-checked); building goes on after.
        A request with block devices needs a 1.6 conductor (an older one would drop them)."""
        return await self.call(ctx, "create_servers",
                               version="1.6" if request.block_device_mapping else "1.0",
                               request=request.to_wire())

    async def get_server(self, ctx: RequestContext, *, instance_id: str) -> dict:
        return await self.call(ctx, "get_server", instance_id=instance_id)

    async def list_servers(self, ctx: RequestContext, *, filters: dict) -> list[dict]:
        return await self.call(ctx, "list_servers", filters=filters)

    async def delete_server(self, ctx: RequestContext, *, instance_id: str) -> dict | None:
        """Start the delete; ``{"shelved_image_id"}`` (1.3 conductors) names the shelved
        snapshot the caller should delete too (None when there is none)."""
        return await self.call(ctx, "delete_server", instance_id=instance_id)

    async def power_action(
            self, ctx: RequestContext, *, instance_id: str,
            action: str,
            hard: bool = False
    ) -> None:
        """Start a stop, start or reboot."""
        await self.call(ctx, "power_action", instance_id=instance_id, action=action, hard=hard)

    async def guest_action(self, ctx: RequestContext, *, instance_id: str, action: str,
                           image_id: str | None = None,
                           rescue_image_ref: str | None = None) -> None:
        """Start pause, unpause, suspend, resume, rescue, unrescue, createImage or shelve
        (whose image record ``image_id`` the API made), shelveOffload, or unshelve of a
        server still on its host. 1.3."""
        await self.call(ctx, "guest_action", version="1.3", instance_id=instance_id,
                        action=action, image_id=image_id, rescue_image_ref=rescue_image_ref)

    async def unshelve_server(self, ctx: RequestContext, *, instance_id: str,
                              availability_zone: str | None = None) -> None:
        """Unshelve: in place, or scheduled anew (in ``availability_zone``). 1.3."""
        await self.call(ctx, "unshelve_server", version="1.3", instance_id=instance_id,
                        availability_zone=availability_zone)

    async def rebuild_server(self, ctx: RequestContext, *, instance_id: str, image_ref: str,
                             name: str | None = None, metadata: dict | None = None) -> dict:
        """Rebuild from ``image_ref`` (same id, same host); the server, in REBUILD. 1.3."""
        return await self.call(ctx, "rebuild_server", version="1.3", instance_id=instance_id,
                               image_ref=image_ref, name=name, metadata=metadata)

    async def resize_server(self, ctx: RequestContext, *, instance_id: str,
                            flavor_id: str | None = None, host: str | None = None) -> None:
        """Resize to ``flavor_id``, or cold-migrate when it is None (admin; to ``host`` if
        given). 1.3."""
        await self.call(ctx, "resize_server", version="1.3", instance_id=instance_id,
                        flavor_id=flavor_id, host=host)

    async def confirm_resize(self, ctx: RequestContext, *, instance_id: str) -> None:
        await self.call(ctx, "confirm_resize", version="1.3", instance_id=instance_id)

    async def revert_resize(self, ctx: RequestContext, *, instance_id: str) -> None:
        await self.call(ctx, "revert_resize", version="1.3", instance_id=instance_id)

    async def lock_server(self, ctx: RequestContext, *, instance_id: str,
                          reason: str | None = None) -> None:
        await self.call(ctx, "lock_server", version="1.3", instance_id=instance_id,
                        reason=reason)

    async def unlock_server(self, ctx: RequestContext, *, instance_id: str) -> None:
        await self.call(ctx, "unlock_server", version="1.3", instance_id=instance_id)

    async def get_console_output(self, ctx: RequestContext, *, instance_id: str,
                                 length: int | None = None) -> str:
        """The guest's console log, from its host. 1.3."""
        return await self.call(ctx, "get_console_output", version="1.3",
                               instance_id=instance_id, length=length)

    async def update_server(
            self, ctx: RequestContext, *, instance_id: str,
            changes: dict
    ) -> dict:
        return await self.call(ctx, "update_server", instance_id=instance_id, changes=changes)

    async def set_metadata(
            self, ctx: RequestContext, *, instance_id: str,
            metadata: dict,
            replace: bool
    ) -> dict:
        return await self.call(ctx, "set_metadata", instance_id=instance_id, metadata=metadata,
                               replace=replace)

    async def delete_metadata(self, ctx: RequestContext, *, instance_id: str, key: str) -> None:
        await self.call(ctx, "delete_metadata", instance_id=instance_id, key=key)

    async def list_actions(self, ctx: RequestContext, *, instance_id: str) -> list[dict]:
        return await self.call(ctx, "list_actions", instance_id=instance_id)

    async def get_action(self, ctx: RequestContext, *, instance_id: str, request_id: str) -> dict:
        return await self.call(ctx, "get_action", instance_id=instance_id, request_id=request_id)

    async def list_flavors(
            self, ctx: RequestContext, *, is_public: bool | None = True
    ) -> list[dict]:
        return await self.call(ctx, "list_flavors", is_public=is_public)

    async def get_flavor(self, ctx: RequestContext, *, flavor_id: str) -> dict:
        return await self.call(ctx, "get_flavor", flavor_id=flavor_id)

    async def create_flavor(self, ctx: RequestContext, *, flavor: dict) -> dict:
        return await self.call(ctx, "create_flavor", flavor=flavor)

    async def update_flavor_extra_specs(self, ctx: RequestContext, *, flavor_id: str,
                                        set_specs: dict, remove: str | None = None
                                        ) -> dict:
        """Merge ``set_specs`` into a flavor's extra specs, dropping ``remove`` (admin); the
        specs after. 1.3."""
        return await self.call(ctx, "update_flavor_extra_specs", version="1.3",
                               flavor_id=flavor_id, set_specs=set_specs, remove=remove)

    async def delete_flavor(self, ctx: RequestContext, *, flavor_id: str) -> None:
        await self.call(ctx, "delete_flavor", flavor_id=flavor_id)

    async def create_keypair(
            self, ctx: RequestContext, *, name: str,
            public_key: str | None,
            key_type: str = "ssh",
            user_id: str | None = None
    ) -> dict:
        """A key pair for the caller, or (an admin's call) for ``user_id``."""
        if user_id is None:
            return await self.call(ctx, "create_keypair", name=name, public_key=public_key,
                                   key_type=key_type)
        return await self.call(ctx, "create_keypair", version="1.2", name=name,
                               public_key=public_key, key_type=key_type, user_id=user_id)

    async def list_keypairs(
            self, ctx: RequestContext, *, user_id: str | None = None
    ) -> list[dict]:
        return await self.call(ctx, "list_keypairs", user_id=user_id)

    async def get_keypair(
            self, ctx: RequestContext, *, name: str,
            user_id: str | None = None
    ) -> dict:
        return await self.call(ctx, "get_keypair", name=name, user_id=user_id)

    async def delete_keypair(
            self, ctx: RequestContext, *, name: str,
            user_id: str | None = None
    ) -> None:
        await self.call(ctx, "delete_keypair", name=name, user_id=user_id)

    async def get_quotas(self, ctx: RequestContext, *, project_id: str) -> dict:
        """Limits and usage of a project."""
        return await self.call(ctx, "get_quotas", project_id=project_id)

    async def update_quotas(self, ctx: RequestContext, *, project_id: str, values: dict) -> dict:
        return await self.call(ctx, "update_quotas", project_id=project_id, values=values)

    async def create_group(
            self, ctx: RequestContext, *, name: str,
            policy: str,
            rules: dict | None = None
    ) -> dict:
        return await self.call(ctx, "create_group", name=name, policy=policy, rules=rules)

    async def get_group(self, ctx: RequestContext, *, group_id: str) -> dict:
        return await self.call(ctx, "get_group", group_id=group_id)

    async def list_groups(self, ctx: RequestContext, *, all_projects: bool = False) -> list[dict]:
        return await self.call(ctx, "list_groups", all_projects=all_projects)

    async def delete_group(self, ctx: RequestContext, *, group_id: str) -> None:
        await self.call(ctx, "delete_group", group_id=group_id)

    async def list_services(
            self, ctx: RequestContext, *, binary: str | None = None,
            host: str | None = None
    ) -> list[dict]:
        return await self.call(ctx, "list_services", binary=binary, host=host)

    async def update_service(
            self, ctx: RequestContext, *, service_id: str,
            disabled: bool | None = None,
            disabled_reason: str | None = None,
            forced_down: bool | None = None
    ) -> dict:
        return await self.call(ctx, "update_service", service_id=service_id, disabled=disabled,
                               disabled_reason=disabled_reason, forced_down=forced_down)

    async def delete_service(self, ctx: RequestContext, *, service_id: str) -> None:
        await self.call(ctx, "delete_service", service_id=service_id)

    async def list_hypervisors(self, ctx: RequestContext) -> list[dict]:
        return await self.call(ctx, "list_hypervisors")

    async def availability_zones(self, ctx: RequestContext) -> dict[str, list[str]]:
        return await self.call(ctx, "availability_zones")

    async def evacuate_server(self, ctx: RequestContext, *, instance_id: str,
                              host: str | None = None) -> None:
        """Rebuild the instance of a down host elsewhere (admin)."""
        await self.call(ctx, "evacuate_server", version="1.1", instance_id=instance_id,
                        host=host)

    async def list_migrations(self, ctx: RequestContext, *, filters: dict) -> list[dict]:
        return await self.call(ctx, "list_migrations", version="1.1", filters=filters)

    # -- consoles (1.3) ----------------------------------------------------------------------

    async def create_console_token(self, ctx: RequestContext, *, instance_id: str,
                                   console_type: str = "serial") -> ConsoleToken:
        """A token for a console of an instance ``ctx`` may see (NotFound otherwise), which
        must be active on a host that is up (Conflict otherwise)."""
        return ConsoleToken.from_wire(await self.call(
            ctx, "create_console_token", version="1.4", instance_id=instance_id,
            console_type=console_type))

    async def validate_console_token(self, ctx: RequestContext, *, token: str,
                                     console_type: str = "serial") -> ConsoleConnection:
        """What a console token grants (admin: the console proxy); NotFound when it is
        unknown, expired or its console is gone."""
        return ConsoleConnection.from_wire(await self.call(
            ctx, "validate_console_token", version="1.4", token=token,
            console_type=console_type))

    # -- diagnostics (1.5) -------------------------------------------------------------------

    async def get_server_diagnostics(self, ctx: RequestContext, *, instance_id: str
                                     ) -> GuestDiagnostics:
        """The guest's figures, measured by its host now: NotFound unless ``ctx`` may see
        the server, Forbidden unless an admin, Conflict when it has no host or is not
        running, NotSupported when the host's driver cannot measure guests."""
        return GuestDiagnostics.from_wire(await self.call(
            ctx, "get_server_diagnostics", version="1.5", instance_id=instance_id))

    # -- volumes (1.6) -----------------------------------------------------------------------

    async def attach_volume(self, ctx: RequestContext, *, instance_id: str, volume_id: str,
                            device: str | None = None, tag: str | None = None,
                            delete_on_termination: bool = False) -> dict:
        """Attach ``volume_id`` to the instance (as ``device``, else the next free one): the
        mapping recorded (``device_name``, ``status``...). NotFound for a server or volume
        the caller cannot see, BadRequest for a volume that is not available or already
        attached, Conflict for the server's state, a lock or a device in use."""
        return await self.call(ctx, "attach_volume", version="1.6", instance_id=instance_id,
                               volume_id=volume_id, device=device, tag=tag,
                               delete_on_termination=delete_on_termination)

    async def detach_volume(self, ctx: RequestContext, *, instance_id: str, volume_id: str
                            ) -> None:
        """Start detaching ``volume_id``: NotFound when it is not attached, BadRequest for
        the root volume, Conflict for the server's state, a lock or a host that is down."""
        await self.call(ctx, "detach_volume", version="1.6", instance_id=instance_id,
                        volume_id=volume_id)
