"""The conductor process: AMQP entry points around the managers; wiring only."""
from __future__ import annotations

import dataclasses
import logging

from agents.compute.rpcapi import ComputeAgentAPI
from overcast import errors
from overcast.bus import Bus, RpcServer, rpc
from overcast.config import CommonConfig
from overcast.context import RequestContext
from overcast.db import Database, sqlite_url
from overcast.periodic import PeriodicTask
from overcast.service import Service
from services.conductor.action_endpoints import ActionEndpoints
from services.conductor.contract import BootRequest
from services.conductor.detector import FailureDetector
from services.conductor.hosts import HostTracker
from services.conductor.manager import ConductorManager
from services.conductor.models import Base
from services.conductor.peers import Peers
from services.conductor.resources import DEFAULT_QUOTAS, ComputeResources
from services.conductor.tasks.build import BuildLimits
from services.network.rpcapi import NetworkAPI
from services.scheduler.rpcapi import SchedulerAPI
from services.volume.rpcapi import VolumeAPI

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class ConductorConfig(CommonConfig):
    host: str = "conductor"
    db_url: str = ""
    service_down_time: float = 3.0
    report_interval: float = 1.0
    max_build_attempts: int = 3
    build_timeout: float = 180.0
    recovery_interval: float = 5.0
    detector_interval: float = 0.25
    auto_evacuate: bool = True
    console_token_ttl: float = 600.0  # seconds a console URL's token stays valid (Nova's)


def _require_admin(ctx: RequestContext) -> None:
    if not ctx.is_admin:
        raise errors.Forbidden("Policy doesn't allow this operation to be performed.")


class ConductorService(ActionEndpoints, Service):
    name = "conductor"

    def __init__(self, cfg: ConductorConfig) -> None:
        super().__init__(cfg)
        self.cfg: ConductorConfig = cfg

    async def start(self) -> None:
        cfg = self.cfg
        self.db = Database(cfg.db_url or sqlite_url(cfg.state_path("conductor", "compute.db")),
                           Base.metadata)
        self.bus = Bus(cfg.transport_url, name=f"conductor.{cfg.host}",
                       signing_key=cfg.bus_signing_key,
                       default_timeout=cfg.rpc_timeout)
        await self.bus.connect()
        self.hosts = HostTracker(self.db, service_down_time=cfg.service_down_time)
        self.resources = ComputeResources(self.db)
        self.resources.seed_flavors()
        peers = Peers(scheduler=SchedulerAPI(self.bus), compute=ComputeAgentAPI(self.bus),
                      network=NetworkAPI(self.bus), volume=VolumeAPI(self.bus))
        self.manager = ConductorManager(
            self.db, hosts=self.hosts, resources=self.resources, peers=peers,
            notify=self._notify, limits=BuildLimits(max_attempts=cfg.max_build_attempts,
                                                    build_timeout=cfg.build_timeout),
            console_token_ttl=cfg.console_token_ttl)
        self.server = RpcServer(self.bus, topic="conductor", server=cfg.host, endpoint=self)
        await self.server.start()
        self.detector = FailureDetector(
            self.hosts, consumers=lambda host: self.bus.consumer_count("compute", host),
            backlog=lambda: self.bus.message_count("conductor"),
            on_down=self.manager.evacuator.host_down, interval=cfg.detector_interval,
            report_interval=cfg.report_interval, auto_evacuate=cfg.auto_evacuate)
        self.bus.on_reconnect.append(self._on_reconnect)
        self.periodic = [
            PeriodicTask("heartbeat", self._heartbeat, interval=cfg.report_interval),
            PeriodicTask("recover_stuck", self.manager.recovery.recover_stuck,
                         interval=cfg.recovery_interval),
            PeriodicTask("failure_detector", self.detector.run_once,
                         interval=cfg.detector_interval),
            PeriodicTask("stuck_volumes", self.manager.volumes.sweep,
                         interval=cfg.recovery_interval),
        ]
        for task in self.periodic:
            task.start()

    async def stop(self) -> None:
        for task in self.periodic:
            await task.stop()
        await self.server.stop()
        await self.manager.close()
        await self.bus.close()
        self.db.close()

    async def _on_reconnect(self) -> None:
        # Heartbeats sent while we were away were never read: judge nobody for a while.
        self.detector.hold_off()

    async def _heartbeat(self) -> None:
        self.hosts.report_state(host=self.cfg.host, binary="nova-conductor", topic="conductor")

    async def _notify(self, ctx: RequestContext, event_type: str, payload: dict) -> None:
        """Emit a notification; losing one must never fail the work it reports."""
        try:
            await self.bus.notify(ctx, event_type, payload,
                                  publisher_id=f"conductor.{self.cfg.host}")
        except Exception as exc:  # noqa: BLE001 - a lost notification must not fail the work
            logger.warning("could not emit %s: %s", event_type, exc)

    # -- reports from services and hosts ----------------------------------------------------

    @rpc("1.1")
    async def report_state(self, ctx: RequestContext, *, host: str, binary: str, topic: str,
                           zone: str = "nova", node: dict | None = None,
                           reconciled_at: str | None = None) -> None:
        self.hosts.report_state(host=host, binary=binary, topic=topic, zone=zone, node=node,
                                reconciled_at=reconciled_at)
        if node:
            self.manager.consoles.record_address(host, node.get("console_address"))

    @rpc()
    async def instance_built(self, ctx: RequestContext, *, instance_id: str, host: str,
                             power_state: int, disk_reused: bool = False) -> None:
        await self.manager.builds.instance_built(ctx, instance_id=instance_id, host=host,
                                                 power_state=power_state,
                                                 disk_reused=disk_reused)

    @rpc()
    async def build_failed(self, ctx: RequestContext, *, instance_id: str, host: str,
                           reason: str) -> None:
        await self.manager.build_failed(ctx, instance_id=instance_id, host=host, reason=reason)

    @rpc()
    async def instance_power_changed(self, ctx: RequestContext, *, instance_id: str, host: str,
                                     action: str, power_state: int,
                                     error: str | None = None) -> None:
        await self.manager.builds.instance_power_changed(
            ctx, instance_id=instance_id, host=host, action=action, power_state=power_state,
            error=error)

    @rpc()
    async def instance_destroyed(self, ctx: RequestContext, *, instance_id: str, host: str
                                 ) -> None:
        await self.manager.builds.instance_destroyed(ctx, instance_id=instance_id, host=host)

    @rpc()
    async def instances_on_host(self, ctx: RequestContext, *, host: str,
                                detail: bool = False) -> list[str] | list[dict]:
        if detail:  # 1.3
            return self.manager.queries.placements_on_host(host)
        return self.manager.queries.instances_on_host(host)

    # -- servers ---------------------------------------------------------------------------

    @rpc()
    async def create_servers(self, ctx: RequestContext, *, request: dict) -> list[dict]:
        return await self.manager.create_servers(ctx, request=BootRequest.from_wire(request))

    @rpc()
    async def get_server(self, ctx: RequestContext, *, instance_id: str) -> dict:
        return self.manager.queries.get_server(ctx, instance_id)

    @rpc()
    async def list_servers(self, ctx: RequestContext, *, filters: dict) -> list[dict]:
        return self.manager.queries.list_servers(ctx, filters=filters)

    @rpc()
    async def delete_server(self, ctx: RequestContext, *, instance_id: str) -> dict:
        return await self.manager.operations.delete_server(ctx, instance_id=instance_id)

    @rpc()
    async def power_action(self, ctx: RequestContext, *, instance_id: str, action: str,
                           hard: bool = False) -> None:
        await self.manager.operations.power_action(ctx, instance_id=instance_id,
                                                   action=action, hard=hard)

    @rpc()
    async def update_server(self, ctx: RequestContext, *, instance_id: str, changes: dict
                            ) -> dict:
        return self.manager.operations.update_server(ctx, instance_id=instance_id,
                                                     changes=changes)

    @rpc()
    async def set_metadata(self, ctx: RequestContext, *, instance_id: str, metadata: dict,
                           replace: bool) -> dict:
        return self.manager.operations.set_metadata(ctx, instance_id=instance_id,
                                                    metadata=metadata, replace=replace)

    @rpc()
    async def delete_metadata(self, ctx: RequestContext, *, instance_id: str, key: str) -> None:
        self.manager.operations.delete_metadata(ctx, instance_id=instance_id, key=key)

    @rpc()
    async def list_actions(self, ctx: RequestContext, *, instance_id: str) -> list[dict]:
        return self.manager.queries.list_actions(ctx, instance_id=instance_id)

    @rpc()
    async def get_action(self, ctx: RequestContext, *, instance_id: str, request_id: str
                         ) -> dict:
        return self.manager.queries.get_action(ctx, instance_id=instance_id,
                                               request_id=request_id)

    @rpc("1.1")
    async def evacuate_server(self, ctx: RequestContext, *, instance_id: str,
                              host: str | None = None) -> None:
        _require_admin(ctx)
        await self.manager.evacuator.evacuate_server(ctx, instance_id=instance_id, host=host)

    @rpc("1.1")
    async def list_migrations(self, ctx: RequestContext, *, filters: dict) -> list[dict]:
        _require_admin(ctx)
        return self.manager.queries.list_migrations(filters=filters)

    # -- consoles --------------------------------------------------------------------------

    @rpc("1.4")
    async def create_console_token(self, ctx: RequestContext, *, instance_id: str,
                                   console_type: str) -> dict:
        return self.manager.consoles.create(ctx, instance_id=instance_id,
                                            console_type=console_type).to_wire()

    @rpc("1.4")
    async def validate_console_token(self, ctx: RequestContext, *, token: str,
                                     console_type: str) -> dict:
        _require_admin(ctx)  # the api's console proxy, on its own behalf
        return self.manager.consoles.validate(token, console_type=console_type).to_wire()

    @rpc("1.5")
    async def get_server_diagnostics(self, ctx: RequestContext, *, instance_id: str) -> dict:
        return await self.manager.diagnostics.get(ctx, instance_id=instance_id)

    # -- flavors, key pairs, quotas, server groups ------------------------------------------

    @rpc()
    async def list_flavors(self, ctx: RequestContext, *, is_public: bool | None = True
                           ) -> list[dict]:
        return self.resources.list_flavors(ctx, is_public=is_public)

    @rpc()
    async def get_flavor(self, ctx: RequestContext, *, flavor_id: str) -> dict:
        return self.resources.get_flavor(ctx, flavor_id)

    @rpc()
    async def create_flavor(self, ctx: RequestContext, *, flavor: dict) -> dict:
        _require_admin(ctx)
        return self.resources.create_flavor(ctx, flavor=flavor)

    @rpc()
    async def delete_flavor(self, ctx: RequestContext, *, flavor_id: str) -> None:
        _require_admin(ctx)
        self.resources.delete_flavor(ctx, flavor_id)

    @rpc(version="1.2")
    async def create_keypair(self, ctx: RequestContext, *, name: str, public_key: str | None,
                             key_type: str = "ssh", user_id: str | None = None) -> dict:
        return self.resources.create_keypair(ctx, name=name, public_key=public_key,
                                             key_type=key_type, user_id=user_id)

    @rpc()
    async def list_keypairs(self, ctx: RequestContext, *, user_id: str | None = None
                            ) -> list[dict]:
        return self.resources.list_keypairs(ctx, user_id=user_id)

    @rpc()
    async def get_keypair(self, ctx: RequestContext, *, name: str, user_id: str | None = None
                          ) -> dict:
        return self.resources.get_keypair(ctx, name, user_id=user_id)

    @rpc()
    async def delete_keypair(self, ctx: RequestContext, *, name: str,
                             user_id: str | None = None) -> None:
        self.resources.delete_keypair(ctx, name, user_id=user_id)

    @rpc()
    async def get_quotas(self, ctx: RequestContext, *, project_id: str) -> dict:
        if not ctx.is_admin and project_id != ctx.project_id:
            raise errors.Forbidden("Policy doesn't allow this operation to be performed.")
        return {"limits": self.resources.quota_limits(project_id),
                "usage": self.manager.admission.usage(project_id),
                "defaults": dict(DEFAULT_QUOTAS)}

    @rpc()
    async def update_quotas(self, ctx: RequestContext, *, project_id: str, values: dict) -> dict:
        _require_admin(ctx)
        return self.resources.update_quotas(ctx, project_id, values)

    @rpc()
    async def create_group(self, ctx: RequestContext, *, name: str, policy: str,
                           rules: dict | None = None) -> dict:
        return self.resources.create_group(ctx, name=name, policy=policy, rules=rules)

    @rpc()
    async def get_group(self, ctx: RequestContext, *, group_id: str) -> dict:
        return self.resources.get_group(ctx, group_id)

    @rpc()
    async def list_groups(self, ctx: RequestContext, *, all_projects: bool = False
                          ) -> list[dict]:
        return self.resources.list_groups(ctx, all_projects=all_projects)

    @rpc()
    async def delete_group(self, ctx: RequestContext, *, group_id: str) -> None:
        self.resources.delete_group(ctx, group_id)

    # -- services and hypervisors (admin) ------------------------------------------------------

    @rpc()
    async def list_services(self, ctx: RequestContext, *, binary: str | None = None,
                            host: str | None = None) -> list[dict]:
        _require_admin(ctx)
        return self.hosts.list_services(binary=binary, host=host)

    @rpc()
    async def update_service(self, ctx: RequestContext, *, service_id: str,
                             disabled: bool | None = None, disabled_reason: str | None = None,
                             forced_down: bool | None = None) -> dict:
        _require_admin(ctx)
        return self.hosts.update_service(service_id, disabled=disabled,
                                         disabled_reason=disabled_reason,
                                         forced_down=forced_down)

    @rpc()
    async def delete_service(self, ctx: RequestContext, *, service_id: str) -> None:
        _require_admin(ctx)
        self.hosts.delete_service(service_id)

    @rpc()
    async def list_hypervisors(self, ctx: RequestContext) -> list[dict]:
        _require_admin(ctx)
        return self.hosts.hypervisors()

    @rpc()
    async def availability_zones(self, ctx: RequestContext) -> dict[str, list[str]]:
        return self.hosts.zones()
