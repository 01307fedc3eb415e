"""The scheduler's AMQP contract; other services import only this.

Versions: 1.0 initial (select_destination, release, update_inventory, usage). The spec of
select_destination is a ``RequestSpec`` (its wire form is the JSON object the 1.0 dict was).
"""
from __future__ import annotations

from overcast.bus import RpcClient
from overcast.context import RequestContext
from services.scheduler.contract import RequestSpec

__all__ = ["RequestSpec", "SchedulerAPI"]


class SchedulerAPI(RpcClient):
    topic = "scheduler"

    async def select_destination(self, ctx: RequestContext, *, spec: RequestSpec,
                                 host_status: dict[str, dict], timeout: float | None = None
                                 ) -> str:
        """Choose a host for one instance and claim its resources there."""
        return await self.call(ctx, "select_destination", spec=spec.to_wire(),
                               host_status=host_status, timeout=timeout)

    async def release(self, ctx: RequestContext, *, instance_id: str) -> None:
        """Drop the instance's claim (durable cast; idempotent)."""
        await self.cast(ctx, "release", instance_id=instance_id)

    async def update_inventory(self, ctx: RequestContext, *, host: str, inventory: dict) -> None:
        await self.bus.cast(ctx, self.topic, "update_inventory", durable=False, ttl=30,
                            host=host, inventory=inventory)

    async def usage(self, ctx: RequestContext) -> dict[str, dict]:
        return await self.call(ctx, "usage")
