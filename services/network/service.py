"""AMQP entry points of the network service (topic ``network``), for the compute service.

Wiring only: each handler passes its arguments to ``NetworkManager``. The api process serves
it with ``RpcServer(bus, topic="network", server=None, endpoint=NetworkEndpoint(manager))``.
Every handler is idempotent, as at-least-once delivery requires.
"""
from __future__ import annotations

from typing import Any

from overcast.bus import rpc
from overcast.context import RequestContext
from services.network.manager import NetworkManager


class NetworkEndpoint:
    """Version 1.2 of the ``network`` topic; see ``rpcapi.NetworkAPI`` for the contract."""

    def __init__(self, manager: NetworkManager) -> None:
        self.manager = manager

    @rpc(version="1.1")
    async def allocate_for_instance(self, ctx: RequestContext, *, instance_id: str,
                                    project_id: str, requested_networks: Any,
                                    security_groups: list[str] | None = None,
                                    host: str | None = None) -> list[dict[str, Any]]:
        return await self.manager.allocate_for_instance(
            ctx, instance_id=instance_id, project_id=project_id,
            requested_networks=requested_networks, security_groups=security_groups, host=host)

    @rpc(version="1.2")
    async def validate_networks(self, ctx: RequestContext, *, project_id: str,
                                requested_networks: Any,
                                security_groups: list[str] | None = None) -> None:
        await self.manager.validate_networks(ctx, project_id=project_id,
                                             requested_networks=requested_networks,
                                             security_groups=security_groups)

    @rpc(version="1.0")
    async def deallocate_for_instance(self, ctx: RequestContext, *, instance_id: str) -> None:
        await self.manager.deallocate_for_instance(ctx, instance_id=instance_id)

    @rpc(version="1.0")
    async def get_instance_nw_info(self, ctx: RequestContext, *,
                                   instance_id: str) -> list[dict[str, Any]]:
        return await self.manager.get_instance_nw_info(ctx, instance_id=instance_id)

    @rpc(version="1.0")
    async def bind_ports(self, ctx: RequestContext, *, instance_id: str,
                         host: str) -> list[dict[str, Any]]:
        return await self.manager.bind_ports(ctx, instance_id=instance_id, host=host)
