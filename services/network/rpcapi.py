"""The network service's AMQP contract (topic ``network``); other services import only this.

Versions:
    1.0 initial: allocate_for_instance, validate_networks, deallocate_for_instance,
        get_instance_nw_info, bind_ports.
    1.1 allocate_for_instance takes ``host`` and binds the ports there in the same step.
    1.2 validate_networks takes ``security_groups`` and checks they are the project's own.

Every method is a ``call`` (it needs the answer or must know it failed) and every handler is
idempotent, so a caller may retry after a timeout. Errors arrive as ``overcast.errors`` types
whose code is what Nova answers a server create with; ``details["error_type"]`` names the
Nova or Neutron error (NetworkAmbiguous, PortInUse, IpAddressGenerationFailure, ...).

A VIF dict (one per port, in the order requested) has at least ``port_id``, ``network_id``,
``network_name``, ``mac_address``, ``fixed_ips`` ([{"ip_address", "subnet_id", "version",
"cidr", "prefixlen", "gateway_ip", "dns_nameservers", "host_routes"}]), ``mtu``,
``segmentation_id``, ``network_type``, ``physical_network``, ``host``, ``vif_type``,
``vif_details`` (``bridge_name``), ``status``, ``security_groups`` and ``preserve_on_delete``.
"""
from __future__ import annotations

from typing import Any

from overcast.bus import RpcClient
from overcast.context import RequestContext

RequestedNetworks = str | list[dict[str, str]]


class NetworkAPI(RpcClient):
    """Client of ``service.NetworkEndpoint``."""

    topic = "network"

    async def allocate_for_instance(self, ctx: RequestContext, *, instance_id: str,
                                    project_id: str, requested_networks: RequestedNetworks,
                                    security_groups: list[str] | None = None,
                                    host: str | None = None) -> list[dict[str, Any]]:
        """Make (or find again) the instance's ports; VIF dicts in request order.

        ``requested_networks``: "auto" (the one network the project can use), "none", or a
        list of {"uuid": network id, "fixed_ip": optional, "port": optional port id}.
        ``security_groups``: names or ids; None means the project's default group.
        All or nothing: on error no port of this call remains.
        """
        if host is None:
            return await self.call(ctx, "allocate_for_instance", version="1.0",
                                   instance_id=instance_id, project_id=project_id,
                                   requested_networks=requested_networks,
                                   security_groups=security_groups)
        return await self.call(ctx, "allocate_for_instance", version="1.1",
                               instance_id=instance_id, project_id=project_id,
                               requested_networks=requested_networks,
                               security_groups=security_groups, host=host)

    async def validate_networks(self, ctx: RequestContext, *, project_id: str,
                                requested_networks: RequestedNetworks,
                                security_groups: list[str] | None = None) -> None:
        """Raise as Nova's server create would (404-as-400, 409 ambiguous, a security group
        that is not the project's...); change nothing."""
        if security_groups is None:
            await self.call(ctx, "validate_networks", version="1.0", project_id=project_id,
                            requested_networks=requested_networks)
            return
        await self.call(ctx, "validate_networks", version="1.2", project_id=project_id,
                        requested_networks=requested_networks,
                        security_groups=security_groups)

    async def deallocate_for_instance(self, ctx: RequestContext, *, instance_id: str) -> None:
        """Delete the ports made for the instance and unbind the ones it was given."""
        await self.call(ctx, "deallocate_for_instance", version="1.0", instance_id=instance_id)

    async def get_instance_nw_info(self, ctx: RequestContext, *,
                                   instance_id: str) -> list[dict[str, Any]]:
        """The instance's VIF dicts as they are now."""
        return await self.call(ctx, "get_instance_nw_info", version="1.0",
                               instance_id=instance_id)

    async def bind_ports(self, ctx: RequestContext, *, instance_id: str,
                         host: str) -> list[dict[str, Any]]:
        """Bind the instance's ports to ``host`` (build or evacuation); they become ACTIVE."""
        return await self.call(ctx, "bind_ports", version="1.0", instance_id=instance_id,
                               host=host)
