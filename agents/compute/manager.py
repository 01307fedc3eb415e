"""What a compute host does with its guests. Imports no transport.

Every handler is idempotent (messages can arrive twice) and reports its outcome to the
conductor, which owns the instance records.
"""
from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from agents.compute.contract import NOSTATE, RUNNING, InstancePayload
from agents.compute.driver import ComputeDriver, GuestNotFound
from overcast.clock import utcnow
from overcast.context import RequestContext

logger = logging.getLogger(__name__)


class ComputeManager:
    def __init__(self, *, host: str, driver: ComputeDriver, conductor: Any) -> None:
        self.host = host
        self.driver = driver
        self.conductor = conductor
        # Instances deleted while a build for them may still be queued: never spawn those.
        self._terminated: set[str] = set()
        # Guests this host stopped because it lost the bus (see ``self_fence``).
        self.fenced_guests: set[str] | None = None
        self.reconciled_at: dt.datetime | None = None

    async def build_and_run_instance(self, ctx: RequestContext, *,
                                     instance: InstancePayload) -> None:
        instance_id = instance.id
        if instance_id in self._terminated:
            return
        try:
            self.driver.get_info(instance_id)
            already_running = True
        except GuestNotFound:
            already_running = False
        if not already_running:
            try:
                await self.driver.spawn(instance, image=None,
                                        network_info=list(instance.network_info))
            except Exception as exc:  # noqa: BLE001 - any spawn failure is reported
                logger.warning("spawn of %s failed: %s", instance_id, exc)
                await self.driver.destroy(instance_id)
                await self.conductor.build_failed(ctx, instance_id=instance_id,
                                                  host=self.host, reason=str(exc))
                return
            logger.info("spawned %s", instance_id)
        await self.conductor.instance_built(ctx, instance_id=instance_id, host=self.host,
                                            power_state=RUNNING)

    async def power_action(self, ctx: RequestContext, *, instance_id: str, action: str,
                           hard: bool = False) -> None:
        error = None
        try:
            if action == "stop":
                await self.driver.power_off(instance_id)
            elif action == "start":
                await self.driver.power_on(instance_id)
            elif action == "reboot":
                await self.driver.reboot(instance_id, hard=hard)
            else:
                error = f"unknown power action {action}"
        except GuestNotFound:
            error = f"guest {instance_id} is not on {self.host}"
        except Exception as exc:  # noqa: BLE001 - reported to the conductor
            error = str(exc)
        try:
            power_state = self.driver.get_info(instance_id).power_state
        except GuestNotFound:
            power_state = NOSTATE
        await self.conductor.instance_power_changed(
            ctx, instance_id=instance_id, host=self.host, action=action,
            power_state=power_state, error=error)

    async def terminate_instance(self, ctx: RequestContext, *, instance_id: str) -> None:
        self._terminated.add(instance_id)
        await self.driver.destroy(instance_id)
        logger.info("destroyed %s", instance_id)
        await self.conductor.instance_destroyed(ctx, instance_id=instance_id, host=self.host)

    def list_guests(self) -> list[dict]:
        return [g.__dict__ for g in self.driver.list_guests()]

    async def self_fence(self) -> None:
        """Stop every running guest: this host lost the bus, so they may be rebuilt elsewhere.

        Runs before the conductor's failure detector can declare the host down, so no guest
        ever runs on two hosts. ``reconcile`` undoes it for guests that did not move.
        """
        if self.fenced_guests is not None:
            return
        self.fenced_guests = set()
        for guest in self.driver.list_guests():
            if guest.power_state == RUNNING:
                await self.driver.power_off(guest.instance_id)
                self.fenced_guests.add(guest.instance_id)
        logger.warning("lost the message bus: fenced myself, stopped %d guest(s)",
                       len(self.fenced_guests))

    async def reconcile(self, ctx: RequestContext, *, timeout: float | None = None
                        ) -> list[str]:
        """Match the guests to the conductor's records; returns the ids destroyed.

        Guests the conductor no longer places here (deleted, or evacuated while this host
        was away) are destroyed; guests stopped by ``self_fence`` that still belong here are
        started again.
        """
        asked_at = utcnow()
        expected = set(await self.conductor.instances_on_host(ctx, host=self.host,
                                                              timeout=timeout))
        stale = [g.instance_id for g in self.driver.list_guests()
                 if g.instance_id not in expected]
        for instance_id in stale:
            await self.driver.destroy(instance_id)
            logger.info("destroyed stale guest %s", instance_id)
        for instance_id in (self.fenced_guests or set()) & expected:
            await self.driver.power_on(instance_id)
        if self.fenced_guests is not None:
            logger.warning("back on the bus: %d guest(s) restarted, %d destroyed",
                           len(self.fenced_guests & expected), len(stale))
        self.fenced_guests = None
        self.reconciled_at = asked_at
        return stale

    def node_report(self) -> dict:
        """This host's resources and usage, for the hypervisor records."""
        res = self.driver.host_resources()
        guests = self.driver.list_guests()
        return {"hypervisor_type": self.driver.hypervisor_type, "host_ip": res["host_ip"],
                "vcpus": res["vcpus"], "memory_mb": res["memory_mb"],
                "local_gb": res["local_gb"], "running_vms": len(guests),
                "vcpus_used": sum(g.vcpus for g in guests),
                "memory_mb_used": sum(g.memory_mb for g in guests),
                "local_gb_used": sum(g.disk_gb for g in guests)}
