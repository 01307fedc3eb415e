"""The issue's walkthrough, typed as a user would, with the stock ``openstack`` CLI."""
from __future__ import annotations

import json

from overcast.testing import wait_until


def _json(test_cloud, *args, **kw):
    return json.loads(test_cloud.openstack(*args, "-f", "json", **kw).stdout)


def test_token_issue(cloud):
    token = _json(cloud, "token", "issue")
    assert token["project_id"] and token["user_id"] and token["expires"]


def test_default_image_and_flavors(cloud):
    images = _json(cloud, "image", "list")
    assert any(i["Name"] == "cirros" and i["Status"] == "active" for i in images)
    flavors = {f["Name"] for f in _json(cloud, "flavor", "list")}
    assert {"m1.tiny", "m1.small", "m1.medium", "m1.large", "m1.xlarge"} <= flavors


def test_server_lifecycle(cloud, tmp_path):
    key = cloud.openstack("keypair", "create", "walkthrough").stdout
    assert "PRIVATE KEY" in key
    server = _json(cloud, "server", "create", "--image", "cirros", "--flavor", "m1.tiny",
                   "--key-name", "walkthrough", "--wait", "vm1")
    assert server["status"] == "ACTIVE"
    server_id = server["id"]
    try:
        listed = _json(cloud, "server", "list")
        assert any(s["ID"] == server_id and s["Status"] == "ACTIVE" for s in listed)
        shown = _json(cloud, "server", "show", "vm1")
        assert shown["key_name"] == "walkthrough"
        assert "private" in str(shown["addresses"]) and "10.0.0." in str(shown["addresses"])
        assert shown["OS-EXT-SRV-ATTR:host"].startswith("hypervisor-")

        def status_is(expected):
            return lambda: _json(cloud, "server", "show", server_id)["status"] == expected

        cloud.openstack("server", "stop", "vm1")
        wait_until(status_is("SHUTOFF"), timeout=30)
        cloud.openstack("server", "start", "vm1")
        wait_until(status_is("ACTIVE"), timeout=30)
        cloud.openstack("server", "reboot", "--wait", "vm1")
        assert _json(cloud, "server", "show", server_id)["status"] == "ACTIVE"

        events = _json(cloud, "server", "event", "list", "vm1")
        actions = [e["Action"] for e in events]
        for action in ("create", "stop", "start", "reboot"):
            assert action in actions
        create = next(e for e in events if e["Action"] == "create")
        detail = _json(cloud, "server", "event", "show", "vm1", create["Request ID"])
        assert {e["event"] for e in detail["events"]} >= {
            "conductor_schedule_and_build_instances", "compute__do_build_and_run_instance"}
    finally:
        cloud.openstack("server", "delete", "--wait", server_id)
        cloud.openstack("keypair", "delete", "walkthrough")
    missing = cloud.openstack("server", "show", server_id, check=False)
    assert missing.returncode != 0


def test_services_and_hypervisors(cloud):
    services = _json(cloud, "compute", "service", "list")
    computes = [s for s in services if s["Binary"] == "nova-compute"]
    assert len(computes) == 4 and all(s["State"] == "up" for s in computes)
    assert {s["Binary"] for s in services} >= {"nova-conductor", "nova-scheduler"}
    hypervisors = _json(cloud, "hypervisor", "list")
    assert {h["Hypervisor Hostname"] for h in hypervisors} == {
        f"hypervisor-{i}" for i in range(1, 5)}
    stats = _json(cloud, "hypervisor", "stats", "show")
    assert stats["count"] == 4


def test_demo_sees_none_of_admins_servers(cloud):
    server = _json(cloud, "server", "create", "--image", "cirros", "--flavor", "m1.tiny",
                   "--wait", "admin-only")
    try:
        assert _json(cloud, "server", "list", cloud="overcast-demo") == []
    finally:
        cloud.openstack("server", "delete", "--wait", server["id"])
