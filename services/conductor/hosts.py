"""Services and compute hosts: heartbeats, up/down, enable/disable, and hypervisor records."""
from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import select
from sqlalchemy.orm import Session

from overcast import errors
from overcast.clock import iso
from overcast.db import Database
from services.conductor.models import ComputeNode, ServiceRecord, utcnow

logger = logging.getLogger(__name__)

COMPUTE_BINARY = "nova-compute"
_NODE_FIELDS = ("hypervisor_type", "hypervisor_version", "host_ip", "vcpus", "memory_mb",
                "local_gb", "vcpus_used", "memory_mb_used", "local_gb_used", "running_vms")
# Persist a heartbeat's time at most this often; the live value is kept in memory.
_PERSIST_EVERY = dt.timedelta(seconds=5)


class HostTracker:
    """Knows every service's last heartbeat and decides whether it is up."""

    def __init__(self, db: Database, *, service_down_time: float) -> None:
        self.db = db
        self.service_down_time = dt.timedelta(seconds=service_down_time)
        self.last_seen: dict[tuple[str, str], dt.datetime] = {}
        # Hosts whose agent has no consumer on its queue: its connection is gone.
        self.disconnected: dict[str, dt.datetime] = {}
        # When each host last reconciled its guests with the conductor (from heartbeats).
        self.reconciled_at: dict[str, dt.datetime] = {}
        self._computes: list[ServiceRecord] | None = None
        with self.db.session() as session:
            for rec in session.scalars(select(ServiceRecord)):
                if rec.last_seen_up:
                    self.last_seen[(rec.host, rec.binary)] = rec.last_seen_up

    def report_state(self, *, host: str, binary: str, topic: str, zone: str = "nova",
                     node: dict | None = None, reconciled_at: str | None = None,
                     now: dt.datetime | None = None) -> None:
        """Record a heartbeat; creates the service (and compute node) on first contact."""
        now = now or utcnow()
        if reconciled_at:
            self.reconciled_at[host] = dt.datetime.fromisoformat(reconciled_at)
        previous = self.last_seen.get((host, binary))
        self.last_seen[(host, binary)] = now
        if previous is not None and now - previous < _PERSIST_EVERY and node is None:
            return
        self._computes = None
        with self.db.session() as session:
            rec = session.scalar(select(ServiceRecord).where(
                ServiceRecord.host == host, ServiceRecord.binary == binary))
            if rec is None:
                rec = ServiceRecord(host=host, binary=binary, topic=topic, zone=zone)
                session.add(rec)
                logger.info("new service %s on %s", binary, host)
            if previous is None or now - (rec.last_seen_up or previous) >= _PERSIST_EVERY:
                rec.last_seen_up = now
                rec.updated_at = now
            if node is not None:
                self._update_node(session, host, node, now)

    @staticmethod
    def _update_node(session: Session, host: str, node: dict, now: dt.datetime) -> None:
        record = session.scalar(select(ComputeNode).where(ComputeNode.host == host))
        if record is None:
            record = ComputeNode(host=host)
            session.add(record)
        for field in _NODE_FIELDS:
            if field in node:
                setattr(record, field, node[field])
        record.updated_at = now

    def is_up(self, rec: ServiceRecord, now: dt.datetime | None = None) -> bool:
        if rec.forced_down or (rec.binary == COMPUTE_BINARY and rec.host in self.disconnected):
            return False
        seen = self.last_seen.get((rec.host, rec.binary)) or rec.last_seen_up
        return seen is not None and (now or utcnow()) - seen <= self.service_down_time

    def _view(self, rec: ServiceRecord, now: dt.datetime) -> dict:
        seen = self.last_seen.get((rec.host, rec.binary)) or rec.last_seen_up
        return {"id": rec.id, "binary": rec.binary, "host": rec.host,
                "zone": rec.zone if rec.binary == COMPUTE_BINARY else "internal",
                "status": "disabled" if rec.disabled else "enabled",
                "state": "up" if self.is_up(rec, now) else "down",
                "updated_at": iso(seen), "disabled_reason": rec.disabled_reason,
                "forced_down": rec.forced_down}

    def list_services(self, *, binary: str | None = None, host: str | None = None
                      ) -> list[dict]:
        now = utcnow()
        with self.db.session() as session:
            query = select(ServiceRecord).order_by(ServiceRecord.binary, ServiceRecord.host)
            if binary:
                query = query.where(ServiceRecord.binary == binary)
            if host:
                query = query.where(ServiceRecord.host == host)
            return [self._view(rec, now) for rec in session.scalars(query)]

    def update_service(self, service_id: str, *, disabled: bool | None = None,
                       disabled_reason: str | None = None, forced_down: bool | None = None
                       ) -> dict:
        self._computes = None
        with self.db.session() as session:
            rec = session.get(ServiceRecord, service_id)
            if rec is None:
                raise errors.NotFound(f"Service {service_id} could not be found.")
            if disabled is not None:
                rec.disabled = disabled
                rec.disabled_reason = disabled_reason if disabled else None
            if forced_down is not None:
                rec.forced_down = forced_down
            if disabled is False or forced_down is False:
                rec.fenced_at = None
            logger.info("service %s on %s: disabled=%s forced_down=%s", rec.binary, rec.host,
                        rec.disabled, rec.forced_down)
            return self._view(rec, utcnow())

    def delete_service(self, service_id: str) -> None:
        self._computes = None
        with self.db.session() as session:
            rec = session.get(ServiceRecord, service_id)
            if rec is None:
                raise errors.NotFound(f"Service {service_id} could not be found.")
            self.last_seen.pop((rec.host, rec.binary), None)
            node = session.scalar(select(ComputeNode).where(ComputeNode.host == rec.host))
            if node is not None and rec.binary == COMPUTE_BINARY:
                session.delete(node)
            session.delete(rec)

    # -- failure detection -----------------------------------------------------------------

    def set_connected(self, host: str, connected: bool, now: dt.datetime | None = None) -> None:
        """Record what the broker says of the host agent's connection."""
        if connected:
            self.disconnected.pop(host, None)
        elif host not in self.disconnected:
            self.disconnected[host] = now or utcnow()
            logger.warning("compute host %s lost its connection to the bus", host)

    def compute_hosts(self) -> list[dict]:
        """Every compute host with what failure handling needs to know about it."""
        now = utcnow()
        return [{"host": rec.host, "id": rec.id, "up": self.is_up(rec, now),
                 "fenced_at": rec.fenced_at, "forced_down": rec.forced_down}
                for rec in self._compute_records()]

    def _fresh(self, rec: ServiceRecord, now: dt.datetime) -> bool:
        seen = self.last_seen.get((rec.host, rec.binary)) or rec.last_seen_up
        return (seen is not None and now - seen <= self.service_down_time
                and rec.host not in self.disconnected)

    def fence(self, host: str, now: dt.datetime | None = None) -> bool:
        """Force the host down and disable it; False if it was already fenced."""
        now = now or utcnow()
        self._computes = None
        with self.db.session() as session:
            rec = session.scalar(select(ServiceRecord).where(
                ServiceRecord.host == host, ServiceRecord.binary == COMPUTE_BINARY))
            if rec is None or rec.fenced_at is not None:
                return False
            rec.forced_down = True
            rec.disabled = True
            rec.disabled_reason = f"fenced by the conductor: host down at {iso(now)}"
            rec.fenced_at = now
        logger.warning("fenced compute host %s", host)
        return True

    def unfence_if_reconciled(self, host: str) -> bool:
        """Let a fenced host back in once it is alive and has cleaned up after the fence."""
        self._computes = None
        with self.db.session() as session:
            rec = session.scalar(select(ServiceRecord).where(
                ServiceRecord.host == host, ServiceRecord.binary == COMPUTE_BINARY))
            if rec is None or rec.fenced_at is None:
                return False
            reconciled = self.reconciled_at.get(host)
            if not self._fresh(rec, utcnow()) or reconciled is None \
                    or reconciled <= rec.fenced_at:
                return False
            rec.forced_down = False
            rec.disabled = False
            rec.disabled_reason = None
            rec.fenced_at = None
        logger.warning("compute host %s is back and clean; it rejoins the pool", host)
        return True

    def _compute_records(self) -> list[ServiceRecord]:
        """The compute services, read once and kept until this tracker writes again."""
        if self._computes is None:
            with self.db.session() as session:
                self._computes = list(session.scalars(select(ServiceRecord).where(
                    ServiceRecord.binary == COMPUTE_BINARY)))
        return self._computes

    def compute_status(self) -> dict[str, dict[str, bool]]:
        """host -> {"up", "disabled"} for every compute service, as the scheduler needs."""
        now = utcnow()
        return {rec.host: {"up": self.is_up(rec, now), "disabled": rec.disabled}
                for rec in self._compute_records()}

    def compute_is_up(self, host: str) -> bool:
        """Whether the compute service of ``host`` is up now (an unknown host is not)."""
        return self.compute_status().get(host, {}).get("up", False)

    def zones(self) -> dict[str, list[str]]:
        zones: dict[str, list[str]] = {}
        for rec in self._compute_records():
            zones.setdefault(rec.zone, []).append(rec.host)
        return zones

    def hypervisors(self) -> list[dict]:
        """Each compute node with its service's state, in the shape the API renders."""
        now = utcnow()
        with self.db.session() as session:
            services = {rec.host: rec for rec in session.scalars(select(ServiceRecord).where(
                ServiceRecord.binary == COMPUTE_BINARY))}
            result = []
            for node in session.scalars(select(ComputeNode).order_by(ComputeNode.host)):
                rec = services.get(node.host)
                item = {field: getattr(node, field) for field in _NODE_FIELDS}
                item.update(id=node.id, host=node.host,
                            state="up" if rec is not None and self.is_up(rec, now) else "down",
                            status="disabled" if rec is None or rec.disabled else "enabled",
                            service={"id": rec.id if rec else None, "host": node.host,
                                     "disabled_reason": rec.disabled_reason if rec else None})
                result.append(item)
            return result
