"""Server diagnostics (Nova's ``os-server-diagnostics``): a guest's real figures, measured
by its host. Admin only, as Nova's default policy; imports no transport.
"""
from __future__ import annotations

from overcast import errors
from overcast.context import RequestContext
from services.conductor.peers import Peers
from services.conductor.queries import Queries

POLICY = "os_compute_api:os-server-diagnostics"


class Diagnostics:
    def __init__(self, *, queries: Queries, peers: Peers) -> None:
        self.queries = queries
        self.peers = peers

    async def get(self, ctx: RequestContext, *, instance_id: str) -> dict:
        """The instance's ``GuestDiagnostics`` in wire form, from its host: NotFound unless
        ``ctx`` may see it, Forbidden unless ``ctx`` is an admin, Conflict when it has no
        host or its guest is not running, NotSupported when the host's driver cannot
        measure guests."""
        inst = self.queries.visible(ctx, instance_id)
        if not ctx.is_admin:
            raise errors.Forbidden(f"Policy doesn't allow {POLICY} to be performed.")
        if not inst["host"]:
            raise errors.Conflict(f"Instance {instance_id} is not ready")
        found = await self.peers.compute.get_diagnostics(ctx, host=inst["host"],
                                                         instance_id=instance_id)
        return found.to_wire()
