"""The admin's views of the hosts this service runs on (Cinder's deprecated ``os-hosts``
extension) and which backend host a ``/capabilities/{host}`` request names.

There is one backend (``<volume_host>``, the file backend) holding every volume, and the
backup service's host; their rows are the heartbeats' service rows.
"""
from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import select

from overcast import errors
from overcast.context import RequestContext
from overcast.errors import excerpt
from services.volume import access
from services.volume.heartbeats import VOLUME_BINARY, Heartbeats, host_matches
from services.volume.models import Snapshot, Volume
from services.volume.shared import Shared


class Hosts:
    def __init__(self, shared: Shared, heartbeats: Heartbeats) -> None:
        self.shared = shared
        self.db = shared.db
        self.heartbeats = heartbeats

    def list(self, ctx: RequestContext, *, zone: str | None = None) -> list[dict[str, Any]]:
        """Every enabled service's host (Cinder lists no disabled one), in ``zone`` when
        given: its name, service, zone, whether it is heard from (``available``) and
        enabled, and when it last reported."""
        access.require_admin(ctx, "volume_extension:hosts")
        return [{"host_name": row["host"], "service": row["binary"], "zone": row["zone"],
                 "service-status": "available" if row["state"] == "up" else "unavailable",
                 "service-state": row["status"], "last-update": row["updated_at"]}
                for row in self.heartbeats.list(ctx)
                if row["status"] == "enabled" and (not zone or row["zone"] == zone)]

    def usage(self, ctx: RequestContext, host: str) -> list[dict[str, str]]:
        """What the volume service on ``host`` holds: the total, then each project's volume
        and snapshot counts and GiB (as strings, as Cinder answers). 404 unless ``host`` is
        an enabled cinder-volume host."""
        access.require_admin(ctx, "volume_extension:hosts")
        if not any(r["binary"] == VOLUME_BINARY and r["host"] == host
                   and r["status"] == "enabled" for r in self.heartbeats.list(ctx)):
            raise errors.NotFound(f"Host {excerpt(host)} could not be found.")
        counts: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
        with self.db.session() as session:
            for project, size in session.execute(select(Volume.project_id, Volume.size)):
                counts[project][0] += 1
                counts[project][1] += size
            for project, size in session.execute(select(Snapshot.project_id,
                                                        Snapshot.volume_size)):
                counts[project][2] += 1
                counts[project][3] += size
        total = [sum(c[i] for c in counts.values()) for i in range(4)]
        rows = [("(total)", total), *sorted(counts.items())]
        return [{"host": host, "project": project, "volume_count": str(c[0]),
                 "total_volume_gb": str(c[1]), "snapshot_count": str(c[2]),
                 "total_snapshot_gb": str(c[3])} for project, c in rows]

    def volume_host(self, ctx: RequestContext, wanted: str) -> str:
        """The cinder-volume host ``wanted`` names (a host names its backends, as Cinder's
        host filter): the one ``/capabilities/{host}`` describes. 404 when none."""
        access.require_admin(ctx, "volume_extension:capabilities")
        for row in self.heartbeats.list(ctx, binary=VOLUME_BINARY):
            if host_matches(row["host"], wanted):
                return row["host"]
        raise errors.NotFound(f"Can't find service: {excerpt(wanted)}")
