"""Server diagnostics end to end on the shared cloud (fake hypervisors): openstacksdk and
the stock ``openstack`` CLI read them through the api, the conductor and the guest's host;
a member is refused and a stopped server is a conflict."""
from __future__ import annotations

import json

import openstack.exceptions
import pytest

from overcast.testing import wait_until


@pytest.fixture(scope="module")
def server(demo):
    image = demo.image.find_image("cirros")
    made = demo.compute.create_server(name="diag-vm", image_id=image.id, flavor_id="1",
                                      networks="none")
    demo.compute.wait_for_server(made, interval=0.1, wait=60)
    yield made.id
    demo.compute.delete_server(made.id)
    wait_until(lambda: demo.compute.find_server(made.id) is None, timeout=30)


def test_an_admin_reads_the_guests_figures_with_the_sdk_and_the_cli(cloud, admin, demo,
                                                                      server):
    flavor = demo.compute.get_flavor("1")
    diag = admin.compute.get_server_diagnostics(server)
    assert (diag.state, diag.driver, diag.num_cpus, diag.num_disks, diag.num_nics) == (
        "running", "fake", flavor.vcpus, 1, 0)
    assert diag.memory_details == {"maximum": flavor.ram, "used": 0}
    assert diag.disk_details == [{"read_bytes": 0, "read_requests": 0, "write_bytes": 0,
                                  "write_requests": 0, "errors_count": 0}]
    assert diag.nic_details == []
    shown = json.loads(cloud.openstack("server", "show", "--diagnostics", server,
                                       "-f", "json", cloud="overcast-admin").stdout)
    # The CLI asks at the newest microversion both sides speak: the standardized form.
    assert shown["memory_details"] == {"maximum": flavor.ram, "used": 0}, shown
    assert (shown["state"], shown["driver"]) == ("running", "fake"), shown
    legacy = admin.compute.get(f"/servers/{server}/diagnostics", microversion="2.47").json()
    assert legacy["memory"] == flavor.ram * 1024 and legacy["cpu0_time"] == 0, legacy


def test_a_member_is_refused_and_a_stopped_server_is_a_conflict(admin, demo, server):
    with pytest.raises(openstack.exceptions.ForbiddenException):
        demo.compute.get_server_diagnostics(server)
    demo.compute.stop_server(server)
    wait_until(lambda: demo.compute.get_server(server).status == "SHUTOFF", timeout=30)
    try:
        response = admin.compute.get(f"/servers/{server}/diagnostics",
                                     microversion="2.48")
        assert response.status_code == 409, response.text
        assert "power state shutdown" in response.json()["conflictingRequest"]["message"]
    finally:
        demo.compute.start_server(server)
        wait_until(lambda: demo.compute.get_server(server).status == "ACTIVE", timeout=30)
