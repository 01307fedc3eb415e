"""AMQP entry points of the network service (topic ``network``), for the compute service.

Wiring only: each handler passes its arguments to ``NetworkManager``. The api process serves
it with ``RpcServer(bus, topic="network", server=None, endpoint=NetworkEndpoint(manager))``.
Every handler is idempotent, as at-least-once delivery requires.
"""
from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any, ParamSpec, TypeVar

from overcast import errors
from overcast.bus import rpc
from overcast.context import RequestContext
from services.network.manager import NetworkManager

P = ParamSpec("P")
R = TypeVar("R")


def portable(error: errors.OvercastError) -> errors.OvercastError:
    """The same error as one of the classes every service knows (``errors.BY_NAME``), so it is
    raised again by type on the caller's side; the specific name stays in ``error_type``."""
    for cls in type(error).__mro__:
        if errors.BY_NAME.get(cls.__name__) is cls:
            break
    else:  # pragma: no cover - every domain error derives from OvercastError
        cls = errors.OvercastError
    if cls is type(error):
        return error
    details = {"error_type": type(error).__name__, **error.details}
    return cls(error.message, **details)


def _bus_errors(method: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    @functools.wraps(method)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await method(*args, **kwargs)
        except errors.OvercastError as error:
            raise portable(error) from None
    return wrapper


class NetworkEndpoint:
    """Version 1.1 of the ``network`` topic; see ``rpcapi.NetworkAPI`` for the contract."""

    def __init__(self, manager: NetworkManager) -> None:
        self.manager = manager

    @rpc(version="1.1")
    @_bus_errors
    async def allocate_for_instance(self, ctx: RequestContext, *, instance_id: str,
                                    project_id: str, requested_networks: Any,
                                    security_groups: list[str] | None = None,
                                    host: str | None = None) -> list[dict[str, Any]]:
        return await self.manager.allocate_for_instance(
            ctx, instance_id=instance_id, project_id=project_id,
            requested_networks=requested_networks, security_groups=security_groups, host=host)

    @rpc(version="1.0")
    @_bus_errors
    async def validate_networks(self, ctx: RequestContext, *, project_id: str,
                                requested_networks: Any) -> None:
        await self.manager.validate_networks(ctx, project_id=project_id,
                                             requested_networks=requested_networks)

    @rpc(version="1.0")
    @_bus_errors
    async def deallocate_for_instance(self, ctx: RequestContext, *, instance_id: str) -> None:
        await self.manager.deallocate_for_instance(ctx, instance_id=instance_id)

    @rpc(version="1.0")
    @_bus_errors
    async def get_instance_nw_info(self, ctx: RequestContext, *,
                                   instance_id: str) -> list[dict[str, Any]]:
        return await self.manager.get_instance_nw_info(ctx, instance_id=instance_id)

    @rpc(version="1.0")
    @_bus_errors
    async def bind_ports(self, ctx: RequestContext, *, instance_id: str,
                         host: str) -> list[dict[str, Any]]:
        return await self.manager.bind_ports(ctx, instance_id=instance_id, host=host)
