"""The scheduler process: AMQP entry points around ``SchedulerManager``."""
from __future__ import annotations

import dataclasses

from overcast.bus import Bus, RpcServer, rpc
from overcast.config import CommonConfig
from overcast.context import RequestContext
from overcast.db import Database, sqlite_url
from overcast.periodic import PeriodicTask
from overcast.service import Service
from services.conductor.rpcapi import ConductorAPI
from services.scheduler.contract import RequestSpec
from services.scheduler.manager import SchedulerManager
from services.scheduler.models import Base


@dataclasses.dataclass(frozen=True)
class SchedulerConfig(CommonConfig):
    host: str = "scheduler"
    db_url: str = ""
    report_interval: float = 1.0


class SchedulerService(Service):
    name = "scheduler"

    def __init__(self, cfg: SchedulerConfig) -> None:
        super().__init__(cfg)
        self.cfg: SchedulerConfig = cfg

    async def start(self) -> None:
        url = self.cfg.db_url or sqlite_url(self.cfg.state_path("scheduler", "scheduler.db"))
        self.db = Database(url, Base.metadata)
        self.manager = SchedulerManager(self.db)
        self.bus = Bus(self.cfg.transport_url, name=f"scheduler.{self.cfg.host}",
                       signing_key=self.cfg.bus_signing_key,
                       default_timeout=self.cfg.rpc_timeout)
        await self.bus.connect()
        self.conductor = ConductorAPI(self.bus)
        self.server = RpcServer(self.bus, topic="scheduler", server=self.cfg.host,
                                endpoint=self)
        await self.server.start()
        self.heartbeat = PeriodicTask("heartbeat", self._report_state,
                                      interval=self.cfg.report_interval)
        self.heartbeat.start()

    async def stop(self) -> None:
        await self.heartbeat.stop()
        await self.server.stop()
        await self.bus.close()
        self.db.close()

    async def _report_state(self) -> None:
        await self.conductor.report_state(RequestContext.admin(), host=self.cfg.host,
                                          binary="nova-scheduler", topic="scheduler")

    @rpc("1.0")
    async def select_destination(self, ctx: RequestContext, *, spec: dict,
                                 host_status: dict[str, dict]) -> str:
        return self.manager.select_destination(RequestSpec.from_wire(spec), host_status)

    @rpc("1.0")
    async def release(self, ctx: RequestContext, *, instance_id: str) -> bool:
        return self.manager.release(instance_id)

    @rpc("1.0")
    async def update_inventory(self, ctx: RequestContext, *, host: str, inventory: dict) -> None:
        self.manager.update_inventory(host=host, **inventory)

    @rpc("1.0")
    async def usage(self, ctx: RequestContext) -> dict[str, dict]:
        return self.manager.usage()
