"""Every server action end to end on the shared cloud (fake hypervisors), with the stock
``openstack`` CLI and openstacksdk: each reaches its final status, and bad input is refused
with a clear 4xx that leaves no stray image or instance."""
from __future__ import annotations

import json
import tarfile

import pytest

from overcast.testing import wait_until


def _json(test_cloud, *args, **kw):
    return json.loads(test_cloud.openstack(*args, "-f", "json", **kw).stdout)


def _show(test_cloud, server_id, **kw):
    return _json(test_cloud, "server", "show", server_id, **kw)


def _wait_status(test_cloud, server_id, status, timeout=30, **kw):
    wait_until(lambda: _show(test_cloud, server_id, **kw)["status"] == status,
               timeout=timeout)
    return _show(test_cloud, server_id, **kw)


@pytest.fixture(scope="module")
def server(cloud):
    """One demo server for the in-place actions (each test leaves it ACTIVE)."""
    made = _json(cloud, "server", "create", "--image", "cirros", "--flavor", "m1.tiny",
                 "--wait", "actions-vm", cloud="overcast-demo")
    yield made["id"]
    cloud.openstack("server", "delete", "--wait", made["id"], cloud="overcast-demo")


def _events(test_cloud, server_id):
    return [e["Action"] for e in _json(test_cloud, "server", "event", "list", server_id,
                                       cloud="overcast-demo")]


@pytest.mark.parametrize("there, status, back", [
    ("pause", "PAUSED", "unpause"), ("suspend", "SUSPENDED", "resume"),
    ("rescue", "RESCUE", "unrescue")])
def test_an_action_and_its_undo(cloud, server, there, status, back):
    cloud.openstack("server", there, server, cloud="overcast-demo")
    shown = _wait_status(cloud, server, status, cloud="overcast-demo")
    assert shown["OS-EXT-STS:vm_state"] == {"RESCUE": "rescued"}.get(status, status.lower())
    assert shown["OS-EXT-STS:task_state"] is None
    cloud.openstack("server", back, server, cloud="overcast-demo")
    shown = _wait_status(cloud, server, "ACTIVE", cloud="overcast-demo")
    assert shown["OS-EXT-STS:power_state"] in ("Running", 1)
    assert {there, back} <= set(_events(cloud, server))


def test_a_paused_server_refuses_a_second_pause_with_409(cloud, server, demo):
    demo.compute.pause_server(server)
    wait_until(lambda: demo.compute.get_server(server).status == "PAUSED", timeout=30)
    try:
        response = demo.compute.post(f"/servers/{server}/action", json={"pause": None})
        assert response.status_code == 409
        assert f"Cannot 'pause' instance {server} while it is in vm_state paused" \
            in response.text
    finally:
        demo.compute.unpause_server(server)
        wait_until(lambda: demo.compute.get_server(server).status == "ACTIVE", timeout=30)


def test_lock_refuses_the_owner_until_unlocked(cloud, server, demo):
    cloud.openstack("--os-compute-api-version", "2.73", "server", "lock", "--reason", "audit",
                    server, cloud="overcast-demo")
    shown = _json(cloud, "--os-compute-api-version", "2.73", "server", "show", server,
                  cloud="overcast-demo")
    assert shown["locked"] is True and shown["locked_reason"] == "audit"
    try:
        response = demo.compute.post(f"/servers/{server}/action", json={"os-stop": None})
        assert response.status_code == 409
        assert f"Instance {server} is locked" in response.text
    finally:
        cloud.openstack("server", "unlock", server, cloud="overcast-demo")
    assert _show(cloud, server, cloud="overcast-demo")["locked"] is False


def test_console_log_show_with_lines(cloud, server):
    whole = cloud.openstack("console", "log", "show", server, cloud="overcast-demo").stdout
    assert "actions-vm login:" in whole and len(whole.splitlines()) >= 3
    last = cloud.openstack("console", "log", "show", "--lines", "2", server,
                           cloud="overcast-demo").stdout
    assert last.splitlines() == whole.splitlines()[-2:]


def test_console_length_is_validated(server, demo):
    response = demo.compute.post(f"/servers/{server}/action",
                                 json={"os-getConsoleOutput": {"length": "x"}})
    assert response.status_code == 400


def test_server_image_create_uploads_the_guests_root(cloud, server, tmp_path):
    image = _json(cloud, "server", "image", "create", "--name", "actions-snap", "--wait",
                  server, cloud="overcast-demo")
    try:
        shown = _json(cloud, "image", "show", image["id"], cloud="overcast-demo")
        assert shown["status"] == "active"
        properties = shown["properties"]
        assert properties["image_type"] == "snapshot"
        assert properties["instance_uuid"] == server
        assert properties["overcast_rootfs"] == "tar"
        assert shown["owner"] == _show(cloud, server, cloud="overcast-demo")["project_id"]
        target = tmp_path / "snap.tar"
        cloud.openstack("image", "save", "--file", str(target), image["id"],
                        cloud="overcast-demo")
        with tarfile.open(target) as archive:
            assert "etc/hostname" in archive.getnames()
        assert _show(cloud, server, cloud="overcast-demo")["status"] == "ACTIVE"
    finally:
        cloud.openstack("image", "delete", image["id"], cloud="overcast-demo")


def test_image_id_in_the_body_from_2_45(server, demo):
    response = demo.compute.post(f"/servers/{server}/action",
                                 json={"createImage": {"name": "mv-snap"}},
                                 microversion="2.45")
    assert response.status_code == 202, response.text
    image_id = response.json()["image_id"]
    try:
        wait_until(lambda: demo.image.get_image(image_id).status == "active", timeout=30)
        wait_until(lambda: demo.compute.get_server(server).task_state is None, timeout=30)
    finally:
        demo.image.delete_image(image_id)


def _image_names(conn):
    return {i.name for i in conn.image.images()}


def test_snapshot_of_a_missing_server_is_404_and_makes_no_image(demo):
    missing = "6b0b0b9e-58f5-4d69-9e1a-2f4c6f0e2c11"
    before = _image_names(demo)
    response = demo.compute.post(f"/servers/{missing}/action",
                                 json={"createImage": {"name": "ghost-snap"}})
    assert response.status_code == 404
    assert "itemNotFound" in response.text
    assert _image_names(demo) == before


def test_an_action_on_another_projects_server_is_404(cloud, demo):
    """demo's member sees none of admin's servers: every action is 404, and no image."""
    other = _json(cloud, "server", "create", "--image", "cirros", "--flavor", "m1.tiny",
                  "--wait", "admins-vm")["id"]
    try:
        before = _image_names(cloud.connect("overcast-admin"))
        for body in ({"pause": None}, {"lock": None}, {"createImage": {"name": "stolen"}},
                     {"os-getConsoleOutput": {}}, {"rescue": None}):
            response = demo.compute.post(f"/servers/{other}/action", json=body)
            assert response.status_code == 404, (body, response.text)
        assert _image_names(cloud.connect("overcast-admin")) == before
        shown = _show(cloud, other)
        assert (shown["status"], shown["locked"]) == ("ACTIVE", False)
    finally:
        cloud.openstack("server", "delete", "--wait", other)


def test_an_image_that_is_no_root_filesystem_cannot_boot(cloud, demo, tmp_path):
    disk = tmp_path / "disk.qcow2"
    disk.write_bytes(b"QFI\xfb" + b"\x00" * 4096)
    archive = tmp_path / "root.tar"
    with tarfile.open(archive, "w") as tar:
        (tmp_path / "hostname").write_text("rootfs\n")
        tar.add(tmp_path / "hostname", arcname="etc/hostname")
    made = []
    try:
        for name, path, fmt in (("not-a-rootfs", disk, "qcow2"), ("a-rootfs", archive, "raw")):
            made.append(_json(cloud, "image", "create", "--disk-format", fmt, "--file",
                              str(path), name, cloud="overcast-demo")["id"])
        properties = _json(cloud, "image", "show", made[1], cloud="overcast-demo")
        assert properties["properties"]["overcast_rootfs"] == "tar"
        before = {s.id for s in demo.compute.servers()}
        response = demo.compute.post("/servers", json={"server": {
            "name": "wont-boot", "imageRef": made[0], "flavorRef": "1", "networks": "none"}})
        assert response.status_code == 400
        assert (f"Image {made[0]} is not a root filesystem archive; accepted: tar, tar.gz, "
                "tar.xz, tar.bz2") in response.json()["badRequest"]["message"]
        assert {s.id for s in demo.compute.servers()} == before
    finally:
        for image_id in made:
            cloud.openstack("image", "delete", image_id, cloud="overcast-demo")


def test_shelve_offloads_and_unshelve_brings_back_the_same_server(cloud, demo):
    made = _json(cloud, "server", "create", "--image", "cirros", "--flavor", "m1.tiny",
                 "--wait", "shelve-vm", cloud="overcast-demo")
    server_id = made["id"]
    try:
        cloud.openstack("server", "shelve", server_id, cloud="overcast-demo")
        shown = _wait_status(cloud, server_id, "SHELVED_OFFLOADED", cloud="overcast-demo")
        assert shown["OS-EXT-STS:task_state"] is None
        assert server_id not in {s for host in cloud.host_guests().values()
                                 for s in host or []}
        shelved = [i for i in demo.image.images() if i.name == "shelve-vm-shelved"]
        assert len(shelved) == 1 and shelved[0].status == "active"
        response = demo.compute.post(f"/servers/{server_id}/action", json={"shelve": None})
        assert response.status_code == 409
        assert [i.id for i in demo.image.images() if i.name.startswith("shelve-vm")] == [
            shelved[0].id]  # the refused shelve left no second image
        cloud.openstack("server", "unshelve", server_id, cloud="overcast-demo")
        shown = _wait_status(cloud, server_id, "ACTIVE", cloud="overcast-demo")
        assert shown["id"] == server_id
        assert server_id in {s for host in cloud.host_guests().values() for s in host or []}
        wait_until(lambda: not [i for i in demo.image.images()
                                if i.name == "shelve-vm-shelved"], timeout=30)
        assert {"shelve", "unshelve"} <= set(_events(cloud, server_id))
    finally:
        cloud.openstack("server", "delete", "--wait", server_id, cloud="overcast-demo")


def _boot(test_cloud, name, flavor="m1.tiny", cloud="overcast-demo"):
    return _json(test_cloud, "server", "create", "--image", "cirros", "--flavor", flavor,
                 "--wait", name, cloud=cloud)["id"]


def test_rebuild_keeps_the_id_and_host(cloud):
    server_id = _boot(cloud, "rebuild-vm")
    try:
        before = _show(cloud, server_id)
        cloud.openstack("server", "rebuild", "--image", "cirros", "--name", "rebuilt-vm",
                        "--wait", server_id, cloud="overcast-demo")
        after = _show(cloud, server_id)
        assert (after["status"], after["name"]) == ("ACTIVE", "rebuilt-vm")
        assert after["OS-EXT-SRV-ATTR:host"] == before["OS-EXT-SRV-ATTR:host"]
        assert "rebuild" in _events(cloud, server_id)
    finally:
        cloud.openstack("server", "delete", "--wait", server_id, cloud="overcast-demo")


def _migrations(conn, server_id):
    return [m for m in conn.compute.migrations() if m.server_id == server_id]


def test_resize_confirm_and_resize_revert(cloud, admin):
    server_id = _boot(cloud, "resize-vm")
    try:
        source = _show(cloud, server_id)["OS-EXT-SRV-ATTR:host"]
        cloud.openstack("server", "resize", "--flavor", "m1.small", "--wait", server_id,
                        cloud="overcast-demo")
        shown = _wait_status(cloud, server_id, "VERIFY_RESIZE")
        dest = shown["OS-EXT-SRV-ATTR:host"]
        assert dest != source and "m1.small" in str(shown["flavor"])
        cloud.openstack("server", "resize", "confirm", server_id, cloud="overcast-demo")
        shown = _wait_status(cloud, server_id, "ACTIVE")
        assert shown["OS-EXT-SRV-ATTR:host"] == dest
        guests = cloud.host_guests()
        assert server_id in (guests[dest] or []) and server_id not in (guests[source] or [])
        [migration] = _migrations(admin, server_id)
        assert (migration.migration_type, migration.status) == ("resize", "confirmed")

        cloud.openstack("server", "resize", "--flavor", "m1.medium", "--wait", server_id,
                        cloud="overcast-demo")
        shown = _wait_status(cloud, server_id, "VERIFY_RESIZE")
        cloud.openstack("server", "resize", "revert", server_id, cloud="overcast-demo")
        shown = _wait_status(cloud, server_id, "ACTIVE")
        assert shown["OS-EXT-SRV-ATTR:host"] == dest and "m1.small" in str(shown["flavor"])
        wait_until(lambda: all(server_id not in (g or []) for h, g in
                               cloud.host_guests().items() if h != dest), timeout=30)
        assert {m.status for m in _migrations(admin, server_id)} == {"confirmed", "reverted"}
        # No image of the moves is left behind.
        assert not [i for i in admin.image.images() if "-move-" in i.name]
    finally:
        cloud.openstack("server", "delete", "--wait", server_id, cloud="overcast-demo")


def test_resizing_to_a_smaller_disk_is_400(cloud, demo):
    server_id = _boot(cloud, "small-disk-vm", flavor="m1.small")
    try:
        response = demo.compute.post(f"/servers/{server_id}/action",
                                     json={"resize": {"flavorRef": "1"}})
        assert response.status_code == 400
        assert "Resizing to a smaller disk flavor is not allowed." in response.text
        same = demo.compute.post(f"/servers/{server_id}/action",
                                 json={"resize": {"flavorRef": "2"}})
        assert same.status_code == 400
        shown = _show(cloud, server_id)
        assert (shown["status"], shown["OS-EXT-STS:task_state"]) == ("ACTIVE", None)
    finally:
        cloud.openstack("server", "delete", "--wait", server_id, cloud="overcast-demo")


def test_cold_migration_is_admin_only(cloud, demo):
    server_id = _boot(cloud, "migrate-vm")
    try:
        refused = demo.compute.post(f"/servers/{server_id}/action", json={"migrate": None})
        assert refused.status_code == 403
        source = _show(cloud, server_id)["OS-EXT-SRV-ATTR:host"]
        cloud.openstack("server", "migrate", "--wait", server_id)
        shown = _wait_status(cloud, server_id, "VERIFY_RESIZE")
        assert shown["OS-EXT-SRV-ATTR:host"] != source
        cloud.openstack("server", "migrate", "confirm", server_id)
        _wait_status(cloud, server_id, "ACTIVE")
        assert "migrate" in _events(cloud, server_id)
    finally:
        cloud.openstack("server", "delete", "--wait", server_id, cloud="overcast-demo")
