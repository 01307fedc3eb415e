"""``GET /servers/{id}/diagnostics``: Nova's two formats, the policy and the errors."""
from __future__ import annotations

import uuid

import pytest

from overcast import errors
from services.compute.diagnostics_api import legacy, standard
from services.conductor.rpcapi import GuestDiagnostics
from tests.unit.services.compute.compute_twins import ADMIN, MEMBER, OTHER, auth

MEASURED = GuestDiagnostics(
    state="running", driver="process", hypervisor="process", hypervisor_os="debian",
    uptime=42, config_drive=True, num_cpus=2, num_disks=1, num_nics=0, memory_max_mb=128,
    memory_used_mb=9, cpu_time_ns=1_500_000_000, disk_write_bytes=5_000_000)
STANDARD_KEYS = {"state", "driver", "hypervisor", "hypervisor_os", "uptime", "config_drive",
                 "num_cpus", "num_disks", "num_nics", "memory_details", "cpu_details",
                 "disk_details", "nic_details"}


def test_standard_view_has_novas_fields_and_nulls_for_what_was_not_measured():
    view = standard(MEASURED)
    assert set(view) == STANDARD_KEYS
    assert view["memory_details"] == {"maximum": 128, "used": 9}
    assert view["cpu_details"] == [{"id": None, "time": 1_500_000_000, "utilisation": None}]
    assert view["disk_details"] == [{"read_bytes": None, "read_requests": None,
                                     "write_bytes": 5_000_000, "write_requests": None,
                                     "errors_count": None}]
    assert (view["nic_details"], view["num_nics"], view["config_drive"]) == ([], 0, True)
    unmeasured = standard(GuestDiagnostics(state="running", driver="process", num_disks=1))
    assert unmeasured["cpu_details"] == []
    assert unmeasured["memory_details"] == {"maximum": None, "used": None}


def test_legacy_view_uses_libvirts_keys_and_leaves_out_the_unmeasured():
    assert legacy(MEASURED) == {"cpu0_time": 1_500_000_000, "memory": 128 * 1024,
                                "memory-actual": 128 * 1024, "memory-rss": 9 * 1024,
                                "vda_write": 5_000_000}
    assert legacy(GuestDiagnostics(state="running", driver="fake")) == {}


async def _server(conductor, owner=MEMBER) -> str:
    return conductor.add_server(owner, status="ACTIVE", vm_state="active")["id"]


@pytest.mark.parametrize(("version", "view"), [("2.48", standard), ("2.79", standard),
                                               ("2.47", legacy), (None, legacy)])
async def test_admin_gets_the_format_of_the_microversion(http, conductor, version, view):
    server_id = await _server(conductor)
    conductor.diagnostics = MEASURED
    response = await http.get(f"/compute/v2.1/servers/{server_id}/diagnostics",
                              headers=auth("admin", version))
    assert response.status_code == 200, response.text
    assert response.json() == view(MEASURED)
    assert conductor.asked("get_server_diagnostics") == [{"instance_id": server_id}]


async def test_a_member_is_refused_403_and_an_invisible_server_is_404(http, conductor):
    server_id = await _server(conductor)
    own = await http.get(f"/compute/v2.1/servers/{server_id}/diagnostics",
                         headers=auth("member", "2.48"))
    assert own.status_code == 403
    assert "os-server-diagnostics" in own.json()["forbidden"]["message"]
    other = await http.get(f"/compute/v2.1/servers/{server_id}/diagnostics",
                           headers=auth("other", "2.48"))
    assert other.status_code == 404 and "itemNotFound" in other.json()
    for missing in (str(uuid.uuid4()), "not-a-uuid"):
        response = await http.get(f"/compute/v2.1/servers/{missing}/diagnostics",
                                  headers=auth("admin", "2.48"))
        assert response.status_code == 404 and "itemNotFound" in response.json()
    assert OTHER.project_id != MEMBER.project_id and ADMIN.is_admin


@pytest.mark.parametrize(("error", "code", "title"), [
    (errors.Conflict("Instance x is not ready"), 409, "conflictingRequest"),
    (errors.NotSupported("The requested functionality is not supported."), 501,
     "notImplemented")])
async def test_host_refusals_keep_novas_codes(http, conductor, error, code, title):
    server_id = await _server(conductor)
    conductor.diagnostics = error
    response = await http.get(f"/compute/v2.1/servers/{server_id}/diagnostics",
                              headers=auth("admin", "2.48"))
    assert response.status_code == code
    assert response.json() == {title: {"code": code, "message": error.message}}
