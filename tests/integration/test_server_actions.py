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


def _server(conn, server_id):
    return conn.compute.get_server(server_id)


def _wait_status(conn, server_id, status, timeout=30):
    """The server once its status is ``status`` (openstacksdk, polled every 0.1 s)."""
    return wait_until(lambda: (found := _server(conn, server_id)).status == status and found,
                      timeout=timeout, message=lambda: f"{server_id} never {status}: "
                      f"{_server(conn, server_id).status}")


def _boot(conn, name, flavor="1"):
    image = conn.image.find_image("cirros")
    made = conn.compute.create_server(name=name, image_id=image.id, flavor_id=flavor,
                                      networks="none")
    conn.compute.wait_for_server(made, interval=0.1, wait=60)
    return made.id


def _delete(conn, server_id):
    conn.compute.delete_server(server_id)
    wait_until(lambda: conn.compute.find_server(server_id) is None, timeout=30)


def _guests_where(test_cloud, server_id):
    return {host for host, guests in test_cloud.host_guests().items()
            if server_id in (guests or [])}


@pytest.fixture(scope="module")
def server(demo):
    """One demo server for the in-place actions (each test leaves it ACTIVE)."""
    server_id = _boot(demo, "actions-vm")
    yield server_id
    _delete(demo, server_id)


def _events(conn, server_id):
    return [a.action for a in conn.compute.server_actions(server_id)]


@pytest.mark.parametrize("there, status, back", [
    ("pause", "PAUSED", "unpause"), ("suspend", "SUSPENDED", "resume"),
    ("rescue", "RESCUE", "unrescue")])
def test_an_action_and_its_undo(cloud, server, demo, there, status, back):
    cloud.openstack("server", there, server, cloud="overcast-demo")
    shown = _wait_status(demo, server, status)
    assert shown.vm_state == {"RESCUE": "rescued"}.get(status, status.lower())
    assert shown.task_state is None
    cloud.openstack("server", back, server, cloud="overcast-demo")
    shown = _wait_status(demo, server, "ACTIVE")
    assert shown.power_state == 1
    assert {there, back} <= set(_events(demo, server))


def test_a_paused_server_refuses_a_second_pause_with_409(server, demo):
    demo.compute.pause_server(server)
    _wait_status(demo, server, "PAUSED")
    try:
        response = demo.compute.post(f"/servers/{server}/action", json={"pause": None})
        assert response.status_code == 409
        assert f"Cannot 'pause' instance {server} while it is in vm_state paused" \
            in response.text
    finally:
        demo.compute.unpause_server(server)
        _wait_status(demo, server, "ACTIVE")


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
    assert _server(demo, server).is_locked is False


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


def test_server_image_create_uploads_the_guests_root(cloud, server, demo, tmp_path):
    image = _json(cloud, "server", "image", "create", "--name", "actions-snap", "--wait",
                  server, cloud="overcast-demo")
    try:
        shown = _json(cloud, "image", "show", image["id"], cloud="overcast-demo")
        assert shown["status"] == "active"
        properties = shown["properties"]
        assert properties["image_type"] == "snapshot"
        assert properties["instance_uuid"] == server
        assert properties["overcast_rootfs"] == "tar"
        assert shown["owner"] == _server(demo, server).project_id
        target = tmp_path / "snap.tar"
        cloud.openstack("image", "save", "--file", str(target), image["id"],
                        cloud="overcast-demo")
        with tarfile.open(target) as archive:
            assert "etc/hostname" in archive.getnames()
        assert _server(demo, server).status == "ACTIVE"
    finally:
        demo.image.delete_image(image["id"])


def test_image_id_in_the_body_from_2_45(server, demo):
    response = demo.compute.post(f"/servers/{server}/action",
                                 json={"createImage": {"name": "mv-snap"}},
                                 microversion="2.45")
    assert response.status_code == 202, response.text
    image_id = response.json()["image_id"]
    try:
        wait_until(lambda: demo.image.get_image(image_id).status == "active", timeout=30)
        wait_until(lambda: _server(demo, server).task_state is None, timeout=30)
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


def test_an_action_on_another_projects_server_is_404(admin, demo):
    """demo's member sees none of admin's servers: every action is 404, and no image."""
    other = _boot(admin, "admins-vm")
    try:
        before = _image_names(admin)
        for body in ({"pause": None}, {"lock": None}, {"createImage": {"name": "stolen"}},
                     {"os-getConsoleOutput": {}}, {"rescue": None}, {"shelve": None},
                     {"resize": {"flavorRef": "2"}}, {"rebuild": {"imageRef": admin.image.
                                                                  find_image("cirros").id}}):
            response = demo.compute.post(f"/servers/{other}/action", json=body)
            assert response.status_code == 404, (body, response.text)
        assert _image_names(admin) == before
        shown = _server(admin, other)
        assert (shown.status, shown.is_locked, shown.task_state) == ("ACTIVE", False, None)
    finally:
        _delete(admin, other)


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
        assert demo.image.get_image(made[1]).properties["overcast_rootfs"] == "tar"
        before = {s.id for s in demo.compute.servers()}
        response = demo.compute.post("/servers", json={"server": {
            "name": "wont-boot", "imageRef": made[0], "flavorRef": "1", "networks": "none"}})
        assert response.status_code == 400
        assert (f"Image {made[0]} is not a root filesystem archive; accepted: tar, tar.gz, "
                "tar.xz, tar.bz2") in response.json()["badRequest"]["message"]
        assert {s.id for s in demo.compute.servers()} == before
    finally:
        for image_id in made:
            demo.image.delete_image(image_id)


def test_shelve_offloads_and_unshelve_brings_back_the_same_server(cloud, demo):
    server_id = _boot(demo, "shelve-vm")
    try:
        cloud.openstack("server", "shelve", server_id, cloud="overcast-demo")
        shown = _wait_status(demo, server_id, "SHELVED_OFFLOADED")
        assert shown.task_state is None
        assert _guests_where(cloud, server_id) == set()
        shelved = [i for i in demo.image.images() if i.name == "shelve-vm-shelved"]
        assert len(shelved) == 1 and shelved[0].status == "active"
        response = demo.compute.post(f"/servers/{server_id}/action", json={"shelve": None})
        assert response.status_code == 409
        assert [i.id for i in demo.image.images() if i.name.startswith("shelve-vm")] == [
            shelved[0].id]  # the refused shelve left no second image
        cloud.openstack("server", "unshelve", server_id, cloud="overcast-demo")
        assert _wait_status(demo, server_id, "ACTIVE").id == server_id
        assert len(_guests_where(cloud, server_id)) == 1
        wait_until(lambda: not [i for i in demo.image.images()
                                if i.name == "shelve-vm-shelved"], timeout=30)
        assert {"shelve", "unshelve"} <= set(_events(demo, server_id))
    finally:
        _delete(demo, server_id)


def test_deleting_a_shelved_server_deletes_its_snapshot(cloud, demo):
    server_id = _boot(demo, "shelved-then-deleted")
    cloud.openstack("server", "shelve", server_id, cloud="overcast-demo")
    _wait_status(demo, server_id, "SHELVED_OFFLOADED")
    assert "shelved-then-deleted-shelved" in _image_names(demo)
    _delete(demo, server_id)
    assert "shelved-then-deleted-shelved" not in _image_names(demo)


def test_rebuild_keeps_the_id_and_host(cloud, admin, demo):
    server_id = _boot(demo, "rebuild-vm")
    try:
        before = _server(admin, server_id)
        cloud.openstack("server", "rebuild", "--image", "cirros", "--name", "rebuilt-vm",
                        server_id, cloud="overcast-demo")
        wait_until(lambda: "rebuild" in _events(demo, server_id), timeout=10)
        after = _wait_status(admin, server_id, "ACTIVE")
        assert after.name == "rebuilt-vm" and after.compute_host == before.compute_host
        assert _guests_where(cloud, server_id) == {before.compute_host}
    finally:
        _delete(demo, server_id)


def _migrations(conn, server_id):
    return [m for m in conn.compute.migrations() if m.server_id == server_id]


def _flavor_name(server):
    return server.flavor.get("original_name") or server.flavor.get("name")


def test_resize_confirm_and_resize_revert(cloud, admin, demo):
    server_id = _boot(demo, "resize-vm")
    try:
        source = _server(admin, server_id).compute_host
        cloud.openstack("server", "resize", "--flavor", "m1.small", server_id,
                        cloud="overcast-demo")
        shown = _wait_status(admin, server_id, "VERIFY_RESIZE")
        dest = shown.compute_host
        assert dest != source and _flavor_name(shown) == "m1.small"
        cloud.openstack("server", "resize", "confirm", server_id, cloud="overcast-demo")
        assert _wait_status(admin, server_id, "ACTIVE").compute_host == dest
        wait_until(lambda: _guests_where(cloud, server_id) == {dest}, timeout=10)
        [migration] = _migrations(admin, server_id)
        assert (migration.migration_type, migration.status) == ("resize", "confirmed")

        cloud.openstack("server", "resize", "--flavor", "m1.medium", server_id,
                        cloud="overcast-demo")
        _wait_status(admin, server_id, "VERIFY_RESIZE")
        cloud.openstack("server", "resize", "revert", server_id, cloud="overcast-demo")
        shown = _wait_status(admin, server_id, "ACTIVE")
        assert shown.compute_host == dest and _flavor_name(shown) == "m1.small"
        wait_until(lambda: _guests_where(cloud, server_id) == {dest}, timeout=10)
        assert {m.status for m in _migrations(admin, server_id)} == {"confirmed", "reverted"}
        assert not [i for i in admin.image.images() if "-move-" in i.name]
    finally:
        _delete(demo, server_id)


def test_resizing_to_a_smaller_disk_is_400(demo):
    server_id = _boot(demo, "small-disk-vm", flavor="2")
    try:
        response = demo.compute.post(f"/servers/{server_id}/action",
                                     json={"resize": {"flavorRef": "1"}})
        assert response.status_code == 400
        assert "Resizing to a smaller disk flavor is not allowed." in response.text
        same = demo.compute.post(f"/servers/{server_id}/action",
                                 json={"resize": {"flavorRef": "2"}})
        assert same.status_code == 400
        shown = _server(demo, server_id)
        assert (shown.status, shown.task_state) == ("ACTIVE", None)
        assert _events(demo, server_id) == ["create"]
    finally:
        _delete(demo, server_id)


def test_cold_migration_is_admin_only(cloud, admin, demo):
    server_id = _boot(demo, "migrate-vm")
    try:
        refused = demo.compute.post(f"/servers/{server_id}/action", json={"migrate": None})
        assert refused.status_code == 403
        source = _server(admin, server_id).compute_host
        cloud.openstack("server", "migrate", server_id)
        assert _wait_status(admin, server_id, "VERIFY_RESIZE").compute_host != source
        cloud.openstack("server", "migrate", "confirm", server_id)
        _wait_status(admin, server_id, "ACTIVE")
        assert "migrate" in _events(demo, server_id)
        [migration] = _migrations(admin, server_id)
        assert migration.migration_type == "migration"
    finally:
        _delete(demo, server_id)
