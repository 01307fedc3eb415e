"""Placement and scheduling logic. Imports no transport.

All state changes happen in synchronous code with no await between filtering and claiming,
so two requests on the same event loop can never both take the last free slot of a host.
"""
from __future__ import annotations

import logging
from collections.abc import Mapping

from sqlalchemy import delete, select

from overcast import errors
from overcast.db import Database
from services.scheduler import filters as flt
from services.scheduler.contract import RequestSpec
from services.scheduler.models import Allocation, Inventory, utcnow

logger = logging.getLogger(__name__)


class SchedulerManager:
    def __init__(self, db: Database, *, enabled_filters: Mapping[str, flt.Filter] | None = None
                 ) -> None:
        self.db = db
        self.filters = dict(enabled_filters or flt.DEFAULT_FILTERS)
        self.hosts: dict[str, flt.HostState] = {}
        self.allocations: dict[str, Allocation] = {}
        self._load()

    def _load(self) -> None:
        with self.db.session() as session:
            for inv in session.scalars(select(Inventory)):
                self.hosts[inv.host] = self._host_from(inv)
            for alloc in session.scalars(select(Allocation)):
                self.allocations[alloc.instance_id] = alloc
                self._use(alloc, sign=1)

    @staticmethod
    def _host_from(inv: Inventory) -> flt.HostState:
        return flt.HostState(
            host=inv.host, zone=inv.zone, vcpus=inv.vcpus, memory_mb=inv.memory_mb,
            disk_gb=inv.disk_gb, cpu_allocation_ratio=inv.cpu_allocation_ratio,
            ram_allocation_ratio=inv.ram_allocation_ratio,
            disk_allocation_ratio=inv.disk_allocation_ratio,
            reserved_memory_mb=inv.reserved_memory_mb)

    def _use(self, alloc: Allocation, *, sign: int) -> None:
        host = self.hosts.get(alloc.host)
        if host is None:
            return
        host.vcpus_used += sign * alloc.vcpus
        host.memory_mb_used += sign * alloc.memory_mb
        host.disk_gb_used += sign * alloc.disk_gb
        if sign > 0:
            host.instances.add(alloc.instance_id)
        else:
            host.instances.discard(alloc.instance_id)

    # -- inventory ------------------------------------------------------------------------

    def update_inventory(self, *, host: str, zone: str, vcpus: int, memory_mb: int,
                         disk_gb: int, cpu_allocation_ratio: float = 16.0,
                         ram_allocation_ratio: float = 1.5, disk_allocation_ratio: float = 1.0,
                         reserved_memory_mb: int = 0) -> None:
        """Record what ``host`` offers; usage already claimed on it is kept."""
        values = {"zone": zone, "vcpus": vcpus, "memory_mb": memory_mb, "disk_gb": disk_gb,
                      "cpu_allocation_ratio": cpu_allocation_ratio,
                      "ram_allocation_ratio": ram_allocation_ratio,
                      "disk_allocation_ratio": disk_allocation_ratio,
                      "reserved_memory_mb": reserved_memory_mb}
        current = self.hosts.get(host)
        if current is not None and all(getattr(current, k) == v for k, v in values.items()):
            return
        with self.db.session() as session:
            inv = session.get(Inventory, host) or Inventory(host=host)
            for key, value in values.items():
                setattr(inv, key, value)
            inv.updated_at = utcnow()
            session.add(inv)
        state = flt.HostState(host=host, **values)
        if current is not None:
            state.vcpus_used, state.memory_mb_used = current.vcpus_used, current.memory_mb_used
            state.disk_gb_used, state.instances = current.disk_gb_used, current.instances
        self.hosts[host] = state
        logger.info("inventory of %s: %s vcpus, %s MB, %s GB", host, vcpus, memory_mb, disk_gb)

    # -- scheduling -----------------------------------------------------------------------

    def select_destination(self, spec: RequestSpec,
                           host_status: Mapping[str, Mapping[str, bool]]) -> str:
        """Pick a host for ``spec`` and claim its resources there, atomically.

        ``host_status`` maps host -> {"up", "disabled"} as the conductor sees the services.
        A repeated request for an instance that already holds a claim on an acceptable host
        returns that host, so retries never claim twice. Raises ``NoValidHost``.
        """
        existing = self.allocations.get(spec.instance_id)
        if existing is not None:
            if existing.host not in spec.ignore_hosts:
                return existing.host
            self.release(spec.instance_id)
        request = flt.FilterRequest(spec=spec, group_hosts=self.hosts_of(
            [m for m in spec.group_members if m != spec.instance_id]))
        candidates = []
        for host in self.hosts.values():
            status = host_status.get(host.host)
            host.up = bool(status and status.get("up"))
            host.disabled = bool(not status or status.get("disabled"))
            if all(check(host, request) for check in self.filters.values()):
                candidates.append(host)
        if not candidates:
            raise errors.NoValidHost(self._explain(request))
        weights = flt.ram_weigher(candidates)
        chosen = max(candidates, key=lambda h: (weights[h.host], -len(h.instances), h.host))
        self._claim(spec, chosen.host)
        return chosen.host

    def _explain(self, request: flt.FilterRequest) -> str:
        if not self.hosts:
            return "No valid host was found. There are no compute hosts."
        reasons = []
        for name, check in self.filters.items():
            if not any(check(h, request) for h in self.hosts.values()):
                reasons.append(name)
        detail = f" Filters that rejected every host: {', '.join(reasons)}." if reasons else ""
        return f"No valid host was found. There are not enough hosts available.{detail}"

    def _claim(self, spec: RequestSpec, host: str) -> None:
        alloc = Allocation(instance_id=spec.instance_id, host=host, vcpus=spec.vcpus,
                           memory_mb=spec.memory_mb, disk_gb=spec.disk_gb)
        with self.db.session() as session:
            session.merge(alloc)
        self.allocations[spec.instance_id] = alloc
        self._use(alloc, sign=1)

    def release(self, instance_id: str) -> bool:
        """Drop the claim of ``instance_id``; True if there was one. Idempotent."""
        alloc = self.allocations.pop(instance_id, None)
        with self.db.session() as session:
            session.execute(delete(Allocation).where(Allocation.instance_id == instance_id))
        if alloc is None:
            return False
        self._use(alloc, sign=-1)
        return True

    def hosts_of(self, instance_ids: list[str]) -> frozenset[str]:
        return frozenset(a.host for i in instance_ids if (a := self.allocations.get(i)))

    def usage(self) -> dict[str, dict]:
        """Per host: inventory, ratios and usage, for the hypervisor APIs."""
        return {h.host: {"zone": h.zone, "vcpus": h.vcpus, "memory_mb": h.memory_mb,
                         "disk_gb": h.disk_gb, "vcpus_used": h.vcpus_used,
                         "memory_mb_used": h.memory_mb_used, "disk_gb_used": h.disk_gb_used,
                         "instances": len(h.instances)} for h in self.hosts.values()}
