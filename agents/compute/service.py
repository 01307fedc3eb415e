"""The compute agent process: AMQP entry points, heartbeats and inventory reports."""
from __future__ import annotations

import asyncio
import dataclasses
import logging
import socket
import time
from pathlib import Path

from agents.compute.console_server import ConsoleEndpoint
from agents.compute.contract import BlockDevice, InstancePayload
from agents.compute.driver import LOCAL, STORAGE_KINDS, ComputeDriver
from agents.compute.fake import FakeDriver
from agents.compute.manager import ComputeManager
from overcast.bus import Bus, RpcServer, rpc
from overcast.bus.signing import Signer
from overcast.config import CommonConfig
from overcast.context import RequestContext
from overcast.periodic import PeriodicTask
from overcast.service import Service
from services.conductor.rpcapi import ConductorAPI
from services.image.client import ImageClient
from services.scheduler.rpcapi import SchedulerAPI
from services.volume.rpcapi import VolumeAPI

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class ComputeConfig(CommonConfig):
    host: str = "hypervisor-1"
    zone: str = "nova"
    driver: str = "fake"
    report_interval: float = 1.0
    # Stop the guests when no heartbeat got through for this long. It must be shorter than
    # the conductor's service_down_time, so guests stop before they are rebuilt elsewhere.
    fence_window: float = 2.0
    reconcile_interval: float = 10.0
    # How often each guest's true power state is compared with what was last reported.
    power_sync_interval: float = 1.0
    # The image service's gRPC address: snapshots are uploaded there.
    image_target: str = "127.0.0.1:9292"
    # Where a guest's disk lives when its flavor does not say (overcast:disk_storage).
    disk_storage: str = LOCAL
    inventory_interval: float = 30.0
    # What the host offers; 0: the driver's own figure (the machine's for ``process``, a
    # large host for ``fake``).
    vcpus: int = 0
    memory_mb: int = 0
    disk_gb: int = 0
    # The storage every hypervisor mounts, for ``shared`` disks; empty: <state>/shared.
    shared_dir: str = ""
    # The volume service's files, shared with it and every hypervisor; empty: <state>/volumes.
    volumes_dir: str = ""
    cpu_allocation_ratio: float = 16.0
    ram_allocation_ratio: float = 1.5
    disk_allocation_ratio: float = 1.0
    # The console port (ConsoleService over gRPC): port 0 takes a free one; the address
    # heartbeats report is console_advertise, or this with the host's name for a wildcard.
    console_listen: str = "127.0.0.1:0"
    console_advertise: str = ""
    fake_spawn_delay: float = 0.0
    fake_fail_spawn: bool = False


def host_address() -> str:
    """This machine's address (a container's on the cloud network), for the hypervisor
    record; loopback when the name does not resolve."""
    try:
        return socket.gethostbyname(socket.gethostname())
    except OSError:
        return "127.0.0.1"


def volumes_dir(cfg: ComputeConfig) -> Path:
    """Where this host finds the volumes' files (the volume service's ``volumes_dir``)."""
    return Path(cfg.volumes_dir or cfg.state_path("volumes"))


def make_driver(cfg: ComputeConfig) -> ComputeDriver:
    if cfg.disk_storage not in STORAGE_KINDS:
        raise ValueError(f"disk_storage must be one of {', '.join(STORAGE_KINDS)}, "
                         f"not {cfg.disk_storage!r}")
    if cfg.driver == "fake":
        return FakeDriver(state_file=cfg.state_path("compute", cfg.host, "fake-guests.json"),
                          vcpus=cfg.vcpus or 64, memory_mb=cfg.memory_mb or 131072,
                          local_gb=cfg.disk_gb or 2000,
                          spawn_delay=cfg.fake_spawn_delay, fail_spawn=cfg.fake_fail_spawn)
    if cfg.driver == "process":
        from agents.compute.process import ProcessDriver  # needs root; imported only here
        return ProcessDriver(state_dir=cfg.state_path("compute", cfg.host, "process"),
                             shared_dir=Path(cfg.shared_dir or cfg.state_path("shared")),
                             volumes_dir=volumes_dir(cfg),
                             host_ip=host_address(), vcpus=cfg.vcpus or None,
                             memory_mb=cfg.memory_mb or None, local_gb=cfg.disk_gb or None)
    raise ValueError(f"unknown compute driver {cfg.driver!r}")


class ComputeService(Service):
    name = "compute"

    def __init__(self, cfg: ComputeConfig) -> None:
        super().__init__(cfg)
        self.cfg: ComputeConfig = cfg
        self._beats = 0
        self._last_beat_ok = time.monotonic()
        self._reconciling = asyncio.Lock()
        self._reconcile_task: asyncio.Task | None = None
        self.console_address = ""  # where the console port is reached, once it listens
        self._guests_started = False  # the first reconcile that got through starts guests

    async def start(self) -> None:
        cfg = self.cfg
        self.bus = Bus(cfg.transport_url, name=f"compute.{cfg.host}",
                       signing_key=cfg.bus_signing_key,
                       default_timeout=cfg.rpc_timeout)
        await self.bus.connect()
        self.conductor = ConductorAPI(self.bus)
        self.scheduler = SchedulerAPI(self.bus)
        self.volumes = VolumeAPI(self.bus)
        driver = make_driver(cfg)
        await driver.init_host(cfg.host)
        self.images = ImageClient(cfg.image_target, signer=Signer(cfg.bus_signing_key),
                                  timeout=cfg.rpc_timeout)
        self.manager = ComputeManager(host=cfg.host, driver=driver, conductor=self.conductor,
                                      images=self.images,
                                      work_dir=cfg.state_path("compute", cfg.host),
                                      default_storage=cfg.disk_storage,
                                      volumes=self.volumes)
        self.console = ConsoleEndpoint(listen=cfg.console_listen, host=cfg.host, driver=driver,
                                       signing_key=cfg.bus_signing_key,
                                       advertise=cfg.console_advertise)
        await self.console.start()
        self.console_address = self.console.address
        await self._report_inventory()
        # Before serving or reporting up: destroy what was deleted or evacuated meanwhile.
        await self._reconcile(timeout=cfg.rpc_timeout)
        self.server = RpcServer(self.bus, topic="compute", server=cfg.host, endpoint=self)
        await self.server.start()
        self._last_beat_ok = time.monotonic()
        self.periodic = [
            PeriodicTask("heartbeat", self._heartbeat, interval=cfg.report_interval),
            PeriodicTask("watchdog", self._watchdog, interval=min(0.25, cfg.report_interval)),
            PeriodicTask("reconcile", self._periodic_reconcile, interval=cfg.reconcile_interval,
                         initial_delay=cfg.reconcile_interval),
            PeriodicTask("power_sync", self._sync_power_states,
                         interval=cfg.power_sync_interval),
            PeriodicTask("inventory", self._report_inventory,
                         interval=cfg.inventory_interval, initial_delay=cfg.inventory_interval),
        ]
        for task in self.periodic:
            task.start()

    async def stop(self) -> None:
        for task in self.periodic:
            await task.stop()
        if self._reconcile_task is not None:
            self._reconcile_task.cancel()
        await self.server.stop()
        await self.console.stop()
        # This process is the host: its guests go with it (mounts and cgroups released,
        # disks kept). At the next start the conductor's answer says which to start again.
        await self.manager.driver.cleanup_host()
        await self.images.close()
        await self.bus.close()

    async def _reconcile(self, timeout: float | None = None) -> None:
        """Match the guests to the conductor's records, one pass at a time. Once running,
        the answer is waited for only a few heartbeats' time: a reply lost in a broker
        restart must not hold anything up for the whole RPC timeout."""
        async with self._reconciling:
            try:
                await self.manager.reconcile(
                    RequestContext.admin(),
                    timeout=timeout or max(5.0, 5 * self.cfg.report_interval),
                    start_up=not self._guests_started)
                self._guests_started = True
            except Exception as exc:  # noqa: BLE001 - the conductor may not be up yet
                logger.warning("could not reconcile guests with the conductor: %s", exc)

    async def _periodic_reconcile(self) -> None:
        # While self-fenced, only a heartbeat that got through may undo the fence (see
        # _heartbeat): the conductor may be about to rebuild these guests elsewhere.
        if self.manager.fenced_guests is not None and not self._beating():
            return
        await self._reconcile()

    async def _sync_power_states(self) -> None:
        """Report the guests whose power state changed on their own (crashed, stopped)."""
        if not self._guests_started:
            return  # the start-up reconcile decides first which guests run
        await self.manager.sync_power_states(RequestContext.admin())

    def _beating(self) -> bool:
        return time.monotonic() - self._last_beat_ok <= self.cfg.fence_window

    def _reconcile_soon(self) -> None:
        """Start a reconcile beside the heartbeats, which must never wait for one."""
        if self._reconcile_task is None or self._reconcile_task.done():
            self._reconcile_task = asyncio.get_running_loop().create_task(self._reconcile())

    async def _watchdog(self) -> None:
        """Fence this host when its heartbeats stopped getting through (lost bus, pause)."""
        if not self._beating():
            await self.manager.self_fence()

    async def _heartbeat(self) -> None:
        # A long gap means this process was frozen or cut off: fence before anything else.
        await self._watchdog()
        # Send the node's usage every tenth beat; the beat itself stays tiny.
        node = self.manager.node_report() if self._beats % 10 == 0 else None
        if node is not None:
            node["console_address"] = self.console_address
        self._beats += 1
        reconciled = self.manager.reconciled_at
        try:
            await self.conductor.report_state(
                RequestContext.admin(), host=self.cfg.host, binary="nova-compute",
                topic="compute", zone=self.cfg.zone, node=node,
                reconciled_at=reconciled.isoformat() if reconciled else None,
                ttl=max(2.0, 3 * self.cfg.report_interval),
                timeout=max(0.5, self.cfg.report_interval))
        except Exception as exc:  # noqa: BLE001 - the watchdog acts on lasting failures
            logger.warning("heartbeat did not get through: %s", exc or type(exc).__name__)
            return
        self._last_beat_ok = time.monotonic()
        if self.manager.fenced_guests is not None:
            self._reconcile_soon()

    async def _report_inventory(self) -> None:
        res = self.manager.driver.host_resources()
        await self.scheduler.update_inventory(RequestContext.admin(), host=self.cfg.host,
                                              inventory={
            "zone": self.cfg.zone, "vcpus": res["vcpus"], "memory_mb": res["memory_mb"],
            "disk_gb": res["local_gb"], "cpu_allocation_ratio": self.cfg.cpu_allocation_ratio,
            "ram_allocation_ratio": self.cfg.ram_allocation_ratio,
            "disk_allocation_ratio": self.cfg.disk_allocation_ratio})

    @rpc()
    async def build_and_run_instance(self, ctx: RequestContext, *, instance: dict,
                                     reuse_disk: bool = False,
                                     delete_image: str | None = None,
                                     respawn: bool = False, stopped: bool = False) -> None:
        await self.manager.build_and_run_instance(
            ctx, instance=InstancePayload.from_wire(instance), reuse_disk=reuse_disk,
            delete_image=delete_image, respawn=respawn, stopped=stopped)

    @rpc()
    async def power_action(self, ctx: RequestContext, *, instance_id: str, action: str,
                           hard: bool = False) -> None:
        await self.manager.power_action(ctx, instance_id=instance_id, action=action, hard=hard)

    @rpc()
    async def terminate_instance(self, ctx: RequestContext, *, instance_id: str) -> None:
        await self.manager.terminate_instance(ctx, instance_id=instance_id)

    @rpc()
    async def list_guests(self, ctx: RequestContext) -> list[dict]:
        return self.manager.list_guests()

    @rpc("1.1")
    async def guest_action(self, ctx: RequestContext, *, instance_id: str, action: str,
                           image_id: str | None = None) -> None:
        await self.manager.guest_action(ctx, instance_id=instance_id, action=action,
                                        image_id=image_id)

    @rpc("1.1")
    async def rebuild_instance(self, ctx: RequestContext, *, instance: dict,
                               stopped: bool = False) -> None:
        await self.manager.rebuild_instance(ctx, instance=InstancePayload.from_wire(instance),
                                            stopped=stopped)

    @rpc("1.1")
    async def drop_guest(self, ctx: RequestContext, *, instance_id: str,
                         image_id: str | None = None) -> None:
        await self.manager.drop_guest(ctx, instance_id=instance_id, image_id=image_id)

    @rpc("1.1")
    async def get_console_output(self, ctx: RequestContext, *, instance_id: str,
                                 length: int | None = None) -> str:
        return await self.manager.get_console_output(ctx, instance_id=instance_id,
                                                     length=length)

    @rpc("1.2")
    async def get_diagnostics(self, ctx: RequestContext, *, instance_id: str) -> dict:
        return await self.manager.get_diagnostics(ctx, instance_id=instance_id)

    @rpc("1.3")
    async def attach_volume(self, ctx: RequestContext, *, instance_id: str,
                            block_device: dict) -> None:
        await self.manager.attach_volume(ctx, instance_id=instance_id,
                                         block_device=BlockDevice.from_wire(block_device))

    @rpc("1.3")
    async def detach_volume(self, ctx: RequestContext, *, instance_id: str, volume_id: str,
                            attachment_id: str) -> None:
        await self.manager.detach_volume(ctx, instance_id=instance_id, volume_id=volume_id,
                                         attachment_id=attachment_id)
