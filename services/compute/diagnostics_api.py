"""Server diagnostics (Nova's ``os-server-diagnostics``): ``GET /servers/{id}/diagnostics``.

Admin only (403 for a member, after a 404 for a server the caller cannot see); 409 when the
server has no host or its guest is not running; 501 when the host's driver cannot measure
guests. From microversion 2.48 the answer is Nova's standardized document (``standard``);
before it, the free-form dict of libvirt's keys (``legacy``), which leaves out the figures
the host could not measure.
"""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from overcast import errors
from overcast.errors import excerpt
from overcast.rest.auth import Context
from overcast.rest.routing import JSONRoute
from services.compute import validation as check
from services.compute.microversion import Version
from services.conductor.rpcapi import GuestDiagnostics

STANDARDIZED = (2, 48)
KIB_PER_MIB = 1024


def standard(diag: GuestDiagnostics) -> dict:
    """The 2.48 document. ``cpu_details`` has one entry for the whole guest, with ``id``
    null, since a guest's CPU time is counted over all its vCPUs together."""
    cpus = [] if diag.cpu_time_ns is None else [
        {"id": None, "time": diag.cpu_time_ns, "utilisation": None}]
    disks = [{"read_bytes": diag.disk_read_bytes, "read_requests": diag.disk_read_requests,
              "write_bytes": diag.disk_write_bytes,
              "write_requests": diag.disk_write_requests, "errors_count": diag.disk_errors}
             for _ in range(min(diag.num_disks, 1))]
    return {"state": diag.state, "driver": diag.driver, "hypervisor": diag.hypervisor,
            "hypervisor_os": diag.hypervisor_os, "uptime": diag.uptime,
            "config_drive": diag.config_drive, "num_cpus": diag.num_cpus,
            "num_disks": diag.num_disks, "num_nics": diag.num_nics,
            "memory_details": {"maximum": diag.memory_max_mb, "used": diag.memory_used_mb},
            "cpu_details": cpus, "disk_details": disks, "nic_details": []}


def legacy(diag: GuestDiagnostics) -> dict:
    """The free-form dict before 2.48, in libvirt's keys and units (memory in KiB, CPU
    time in nanoseconds, the root disk as ``vda``); a figure not measured is left out."""
    figures: dict[str, Any] = {
        "cpu0_time": diag.cpu_time_ns,
        "memory": _kib(diag.memory_max_mb), "memory-actual": _kib(diag.memory_max_mb),
        "memory-rss": _kib(diag.memory_used_mb)}
    if diag.num_disks:
        figures.update({"vda_read": diag.disk_read_bytes,
                        "vda_read_req": diag.disk_read_requests,
                        "vda_write": diag.disk_write_bytes,
                        "vda_write_req": diag.disk_write_requests,
                        "vda_errors": diag.disk_errors})
    return {key: value for key, value in figures.items() if value is not None}


def _kib(mib: int | None) -> int | None:
    return None if mib is None else mib * KIB_PER_MIB


def build_router(*, conductor: Any) -> APIRouter:
    """``/servers/{id}/diagnostics`` under ``/compute/v2.1``."""
    router = APIRouter(route_class=JSONRoute)

    @router.get("/servers/{server_id}/diagnostics")
    async def get_diagnostics(server_id: str, ctx: Context, mv: Version) -> dict:
        if not check.is_uuid(server_id):
            raise errors.NotFound(f"Instance {excerpt(server_id)} could not be found.")
        diag = await conductor.get_server_diagnostics(ctx, instance_id=server_id)
        return standard(diag) if mv >= STANDARDIZED else legacy(diag)

    return router
