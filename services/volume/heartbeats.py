"""The service rows ``openstack volume service list`` shows: ``cinder-volume`` (host
``<host>@file``) and ``cinder-backup`` (host ``<host>``), each ``up`` while its last
heartbeat is younger than ``service_down_time``.

The process writes its own heartbeats (``run_once``, every ``report_interval``) only after
checking what each service needs: the backend's directory for volumes, a configured object
store for backups. A broken backend therefore shows as ``down`` within
``service_down_time``, and a stopped process as well.
"""
from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from overcast import errors
from overcast.clock import utcnow
from overcast.context import RequestContext
from overcast.errors import excerpt
from services.volume import access, faults
from services.volume.models import ServiceRecord
from services.volume.shared import Shared

logger = logging.getLogger(__name__)

VOLUME_BINARY = "cinder-volume"
BACKUP_BINARY = "cinder-backup"


def host_matches(host: str, wanted: str) -> bool:
    """Cinder's host filter (``_filter_host``): ``wanted`` names a pool when it has a
    ``#`` (exact match), a backend when it has an ``@`` (that backend's pools too), and
    otherwise a host (its backends and pools too): ``volume`` matches ``volume@file``."""
    if host == wanted:
        return True
    if "#" in wanted:
        return False
    if host.startswith(wanted + "#"):
        return True
    return "@" not in wanted and host.startswith(wanted + "@")


class Heartbeats:
    def __init__(self, shared: Shared) -> None:
        self.shared = shared
        self.db = shared.db
        settings = shared.settings
        self.hosts = {VOLUME_BINARY: settings.volume_host, BACKUP_BINARY: settings.backup_host}
        self.down_after = dt.timedelta(seconds=settings.service_down_time)

    def ensure_rows(self) -> None:
        """Make this process's service rows if they are missing (idempotent)."""
        zone = self.shared.settings.zone
        with self.db.session() as session:
            for binary, host in self.hosts.items():
                row = session.scalar(select(ServiceRecord).where(
                    ServiceRecord.binary == binary, ServiceRecord.host == host))
                if row is None:
                    session.add(ServiceRecord(host=host, binary=binary, topic=binary,
                                              availability_zone=zone))
                else:
                    row.availability_zone = zone

    async def run_once(self) -> None:
        """Check the backend and the backup store; record a heartbeat for each that works."""
        problems: dict[str, str | None] = {}
        try:
            await self.shared.blocking(self.shared.backend.check)
            problems[VOLUME_BINARY] = None
        except Exception as exc:  # noqa: BLE001 - whatever stops the backend working, the service is down
            problems[VOLUME_BINARY] = str(exc) or type(exc).__name__
        problems[BACKUP_BINARY] = None if self.shared.backups is not None else \
            "no object store is configured (object_store_url)"
        now = utcnow()
        with self.db.session() as session:
            for binary, problem in problems.items():
                row = session.scalar(select(ServiceRecord).where(
                    ServiceRecord.binary == binary, ServiceRecord.host == self.hosts[binary]))
                if row is None:
                    continue
                if problem is None:
                    row.heartbeat_at = now
                    row.updated_at = now
                elif row.last_error != problem:
                    logger.warning("%s is not working: %s", binary, problem)
                row.last_error = problem

    def is_up(self, row: ServiceRecord, now: dt.datetime | None = None) -> bool:
        now = now or utcnow()
        return row.heartbeat_at is not None and now - row.heartbeat_at <= self.down_after

    def enabled(self, binary: str) -> bool:
        with self.db.session() as session:
            row = session.scalar(select(ServiceRecord).where(
                ServiceRecord.binary == binary, ServiceRecord.host == self.hosts[binary]))
            return row is not None and not row.disabled

    def list(self, ctx: RequestContext, *, host: str | None = None,
             binary: str | None = None) -> list[dict[str, Any]]:
        access.require_admin(ctx, "volume_extension:services:index")
        now = utcnow()
        with self.db.session() as session:
            query = select(ServiceRecord).order_by(ServiceRecord.id)
            if binary:
                query = query.where(ServiceRecord.binary == binary)
            return [{"binary": r.binary, "host": r.host, "zone": r.availability_zone,
                     "status": "disabled" if r.disabled else "enabled",
                     "state": "up" if self.is_up(r, now) else "down",
                     "updated_at": r.updated_at, "disabled_reason": r.disabled_reason,
                     "frozen": bool(r.frozen)}
                    for r in session.scalars(query) if not host or host_matches(r.host, host)]

    def set_frozen(self, ctx: RequestContext, *, host: object, frozen: bool) -> None:
        """Freeze (or thaw) the cinder-volume service(s) ``host`` names (Cinder's
        freeze_host/thaw_host): 400 when none does, or when it already is (not)
        frozen."""
        access.require_admin(ctx, "volume:freeze_host" if frozen else "volume:thaw_host")
        if not isinstance(host, str) or not 0 < len(host) <= 255:
            raise faults.InvalidInput(f"Invalid host {excerpt(host)}.")
        with self.db.session() as session:
            rows = [r for r in session.scalars(select(ServiceRecord).where(
                ServiceRecord.binary == VOLUME_BINARY)) if host_matches(r.host, host)]
            if not rows:
                raise faults.InvalidInput(f"No service found with host={excerpt(host)}")
            changed = [r for r in rows if bool(r.frozen) != frozen]
            if not changed:
                raise faults.InvalidInput(
                    f"No service could be changed: frozen in {[r.host for r in rows]} must "
                    f"be {not frozen} to {'freeze' if frozen else 'thaw'}.")
            for row in changed:
                row.frozen = frozen
        logger.info("volume backend %s %s", host, "frozen" if frozen else "thawed")


    def set_enabled(self, ctx: RequestContext, *, host: object, binary: object,
                    enabled: bool, reason: object = None) -> dict[str, Any]:
        """Enable or disable a service (Cinder's PUT os-services/enable|disable)."""
        access.require_admin(ctx, "volume_extension:services:update")
        if not isinstance(host, str) or not host:
            raise faults.InvalidInput("Missing required element 'host' in request body.")
        if not isinstance(binary, str) or not binary:
            raise faults.InvalidInput("Missing required element 'binary' in request body.")
        if reason is not None and (not isinstance(reason, str) or len(reason) > 255
                                   or not reason.strip()):
            raise errors.BadRequest(f"Invalid input for field/attribute disabled_reason. "
                                    f"Value: {excerpt(reason)}. It must be a string of 1 to "
                                    "255 characters, not only spaces.")
        with self.db.session() as session:
            row = session.scalar(select(ServiceRecord).where(ServiceRecord.host == host,
                                                             ServiceRecord.binary == binary))
            if row is None:
                raise faults.service_not_found(binary, host)
            row.disabled = not enabled
            row.disabled_reason = None if enabled else reason
        logger.info("%s on %s %s", binary, host, "enabled" if enabled else "disabled")
        return {"host": host, "binary": binary, "status": "enabled" if enabled else "disabled",
                "disabled": not enabled, **({"disabled_reason": reason} if reason else {})}


def assert_not_frozen(session: Session, volume_host: str) -> None:
    """400 while the backend (``volume_host``'s cinder-volume service) is frozen, as
    Cinder's ``assert_not_frozen`` before a deletion or a snapshot."""
    frozen = session.scalar(select(ServiceRecord.frozen).where(
        ServiceRecord.binary == VOLUME_BINARY, ServiceRecord.host == volume_host))
    if frozen:
        raise faults.InvalidInput("Modification operations are not allowed on frozen "
                                  "storage backends.")
