"""The conductor's part of server diagnostics: who may ask, and which servers a host is
asked about (in-memory hosts, no broker)."""
from __future__ import annotations

import pytest

from overcast import errors
from overcast.context import RequestContext
from tests.unit.services.conductor.twins import CTX, wait_status
from tests.unit.services.conductor.twins import boot_request as request

ADMIN = RequestContext.admin()
OTHER = RequestContext(user_id="u2", project_id="p2", roles=("member",))


async def _active(conductor) -> str:
    [inst] = await conductor.create_servers(CTX, request=request())
    await wait_status(conductor, inst["id"], "ACTIVE")
    return inst["id"]


async def test_an_admin_gets_the_hosts_figures(conductor):
    instance_id = await _active(conductor)
    found = await conductor.diagnostics.get(ADMIN, instance_id=instance_id)
    assert found["state"] == "running" and found["driver"] == "fake"
    assert found["memory_max_mb"] == 512 and found["num_disks"] == 1


async def test_the_owner_is_forbidden_and_another_project_sees_nothing(conductor):
    instance_id = await _active(conductor)
    with pytest.raises(errors.Forbidden, match="os-server-diagnostics"):
        await conductor.diagnostics.get(CTX, instance_id=instance_id)
    with pytest.raises(errors.NotFound):
        await conductor.diagnostics.get(OTHER, instance_id=instance_id)
    with pytest.raises(errors.NotFound):
        await conductor.diagnostics.get(ADMIN, instance_id="no-such-server")


async def test_a_server_without_a_host_is_a_conflict(conductor):
    instance_id = await _active(conductor)
    with conductor.store.edit(instance_id) as (_session, inst):
        inst.host = None
    with pytest.raises(errors.Conflict, match="is not ready"):
        await conductor.diagnostics.get(ADMIN, instance_id=instance_id)
