"""Block storage end to end: a process-mode cloud with real guests (the ``process`` driver),
the volume service and object storage, driven by the stock ``openstack`` CLI, openstacksdk
and python-swiftclient. What a guest sees is read inside the guest, through its console;
what a backup stored is read back through the object store's own API.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from overcast.testing import wait_until
from overcast.testing.cloud import running_cloud

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the process driver needs root")

MOUNT = "/mnt/volumes/vdb"


@pytest.fixture(scope="module")
def vcloud():
    with running_cloud(hosts=2, driver="process", storage_nodes=3) as cloud:
        yield cloud


@pytest.fixture(scope="module")
def conn(vcloud):
    connection = vcloud.connect()
    yield connection
    connection.close()


def cli(cloud, *args: str, cloud_name: str = "overcast-admin") -> dict | list | str:
    """``openstack ARGS -f json`` (when the command prints anything) as parsed JSON."""
    done = cloud.openstack(*args, cloud=cloud_name)
    out = done.stdout.strip()
    return json.loads(out) if out.startswith(("{", "[")) else out


def console(cloud, server_id: str, *command: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "overcast.cli.main", "console", "--os-cloud", "overcast-admin",
         server_id, "--", *command], env=cloud.env, capture_output=True, text=True,
        timeout=60)
    assert done.returncode == 0, (done.returncode, done.stdout, done.stderr)
    return done.stdout


def volume_status(conn, volume_id: str, status: str, *, timeout: float = 60):
    def reached():
        volume = conn.block_storage.get_volume(volume_id)
        assert volume.status not in ("error", "error_extending", "error_restoring"), volume
        return volume if volume.status == status else None
    return wait_until(reached, timeout=timeout, interval=0.2,
                      message=f"volume {volume_id} never became {status}")


def server_status(conn, server_id: str, status: str, *, timeout: float = 90):
    def reached():
        server = conn.compute.get_server(server_id)
        assert server.status != "ERROR", server.fault
        return server if server.status == status else None
    return wait_until(reached, timeout=timeout, interval=0.2,
                      message=f"server {server_id} never became {status}")


def boot(cloud, name: str, *extra: str) -> dict:
    return cli(cloud, "server", "create", "--flavor", "m1.tiny", "--nic", "none", "--wait",
               *extra, name, "-f", "json")


def attached_in_guest(cloud, server_id: str) -> str:
    """The guest's own view of its volume mount (its /proc/mounts line)."""
    return console(cloud, server_id, "sh", "-c", f"grep ' {MOUNT} ' /proc/mounts || true")


def test_the_issue_walkthrough_with_the_stock_cli(vcloud, conn):
    vm1 = boot(vcloud, "vm1", "--image", "cirros")
    vm_b = boot(vcloud, "vm-b", "--image", "cirros")
    data = cli(vcloud, "volume", "create", "--size", "1", "data", "-f", "json")
    volume_status(conn, data["id"], "available", timeout=30)

    # Attach, write inside the guest, detach: the data stays on the volume.
    cli(vcloud, "server", "add", "volume", "vm1", "data")
    volume_status(conn, data["id"], "in-use")
    wait_until(lambda: attached_in_guest(vcloud, vm1["id"]), timeout=30,
               message="the volume never appeared in the guest")
    console(vcloud, vm1["id"], "sh", "-c", f"echo kept > {MOUNT}/note; sync")
    shown = cli(vcloud, "server", "show", "vm1", "-f", "json")
    assert data["id"] in json.dumps(shown["volumes_attached"])
    cli(vcloud, "server", "remove", "volume", "vm1", "data")
    volume_status(conn, data["id"], "available")
    assert not attached_in_guest(vcloud, vm1["id"])

    # Attach to another server: the same data.
    cli(vcloud, "server", "add", "volume", "vm-b", "data")
    volume_status(conn, data["id"], "in-use")
    wait_until(lambda: attached_in_guest(vcloud, vm_b["id"]), timeout=30)
    assert console(vcloud, vm_b["id"], "cat", f"{MOUNT}/note").strip() == "kept"
    cli(vcloud, "server", "remove", "volume", "vm-b", "data")
    volume_status(conn, data["id"], "available")

    # Snapshot -> volume -> attach -> same data.
    snap = cli(vcloud, "volume", "snapshot", "create", "--volume", "data", "snap1",
               "-f", "json")
    wait_until(lambda: conn.block_storage.get_snapshot(snap["id"]).status == "available",
               timeout=30)
    data2 = cli(vcloud, "volume", "create", "--snapshot", "snap1", "data2", "-f", "json")
    volume_status(conn, data2["id"], "available")
    cli(vcloud, "server", "add", "volume", "vm-b", "data2")
    volume_status(conn, data2["id"], "in-use")
    wait_until(lambda: attached_in_guest(vcloud, vm_b["id"]), timeout=30)
    assert console(vcloud, vm_b["id"], "cat", f"{MOUNT}/note").strip() == "kept"
    cli(vcloud, "server", "remove", "volume", "vm-b", "data2")
    volume_status(conn, data2["id"], "available")

    # Backup into the object store -> restore to a new volume -> same data.
    backup = cli(vcloud, "volume", "backup", "create", "--name", "b1", "data", "-f", "json")
    wait_until(lambda: conn.block_storage.get_backup(backup["id"]).status == "available",
               timeout=60, message="the backup never finished")
    cli(vcloud, "volume", "backup", "restore", "b1", "data3")
    data3 = wait_until(lambda: conn.block_storage.find_volume("data3"), timeout=30)
    volume_status(conn, data3.id, "available")
    cli(vcloud, "server", "add", "volume", "vm-b", "data3")
    volume_status(conn, data3.id, "in-use")
    wait_until(lambda: attached_in_guest(vcloud, vm_b["id"]), timeout=30)
    assert console(vcloud, vm_b["id"], "cat", f"{MOUNT}/note").strip() == "kept"
    cli(vcloud, "server", "remove", "volume", "vm-b", "data3")
    volume_status(conn, data3.id, "available")

    # Extend.
    cli(vcloud, "volume", "set", "--size", "2", "data")
    wait_until(lambda: conn.block_storage.get_volume(data["id"]).size == 2, timeout=30)
    volume_status(conn, data["id"], "available")

    # Boot from a bootable volume, and with --boot-from-volume.
    root = cli(vcloud, "volume", "create", "--image", "cirros", "--size", "1", "root1",
               "-f", "json")
    volume_status(conn, root["id"], "available")
    assert conn.block_storage.get_volume(root["id"]).is_bootable
    vm2 = boot(vcloud, "vm2", "--volume", "root1")
    assert console(vcloud, vm2["id"], "hostname").strip() == "vm2"
    assert console(vcloud, vm2["id"], "sh", "-c", "grep ' / ' /proc/mounts").startswith(
        "/dev/loop")
    vm3 = boot(vcloud, "vm3", "--image", "cirros", "--boot-from-volume", "1")
    assert console(vcloud, vm3["id"], "hostname").strip() == "vm3"
    vm3_volumes = conn.compute.get_server(vm3["id"]).attached_volumes
    assert len(vm3_volumes) == 1

    services = cli(vcloud, "volume", "service", "list", "-f", "json")
    states = {s["Binary"]: s["State"] for s in services}
    assert states.items() >= {"cinder-volume": "up", "cinder-backup": "up"}.items(), states
    types = cli(vcloud, "volume", "type", "list", "-f", "json")
    assert "__DEFAULT__" in {t["Name"] for t in types}
    quota = cli(vcloud, "quota", "show", "--volume", "-f", "json")
    assert json.dumps(quota)  # the CLI found the block-storage quota API
    for server in (vm1, vm_b, vm2, vm3):
        conn.compute.delete_server(server["id"])


def test_a_backup_is_chunks_in_the_object_store_and_restores_byte_for_byte(vcloud, conn):
    server = boot(vcloud, "backup-writer", "--image", "cirros")
    volume = conn.block_storage.create_volume(size=1, name="to-back-up")
    volume_status(conn, volume.id, "available")
    conn.compute.create_volume_attachment(server["id"], volume_id=volume.id)
    volume_status(conn, volume.id, "in-use")
    wait_until(lambda: attached_in_guest(vcloud, server["id"]), timeout=30)
    console(vcloud, server["id"], "sh", "-c",
            f"dd if=/dev/urandom of={MOUNT}/blob bs=1024 count=4096 2>/dev/null; sync")
    digest = console(vcloud, server["id"], "busybox", "md5sum", f"{MOUNT}/blob").split()[0]
    conn.compute.delete_volume_attachment(server["id"], volume.id)
    volume_status(conn, volume.id, "available")

    backup = conn.block_storage.create_backup(volume_id=volume.id, name="chunks")
    wait_until(lambda: conn.block_storage.get_backup(backup.id).status == "available",
               timeout=60)
    # The chunks are objects in the project's account, read through Swift's API.
    container = conn.block_storage.get_backup(backup.id).container
    names = [obj.name for obj in conn.object_store.objects(container)]
    chunks = [name for name in names if backup.id in name and "/chunk-" in name]
    assert chunks, names
    first = conn.object_store.download_object(chunks[0], container=container)
    assert len(first) > 0

    conn.block_storage.delete_volume(volume.id)
    wait_until(lambda: conn.block_storage.find_volume(volume.id) is None, timeout=30)
    restore = conn.block_storage.restore_backup(backup.id, name="restored")
    restored_id = restore["volume_id"]
    volume_status(conn, restored_id, "available")
    conn.compute.create_volume_attachment(server["id"], volume_id=restored_id)
    volume_status(conn, restored_id, "in-use")
    wait_until(lambda: attached_in_guest(vcloud, server["id"]), timeout=30)
    restored = console(vcloud, server["id"], "busybox", "md5sum", f"{MOUNT}/blob")
    assert restored.split()[0] == digest
    conn.compute.delete_server(server["id"])
    volume_status(conn, restored_id, "available")


def test_deleting_a_server_frees_its_volumes_with_their_data(vcloud, conn):
    server = boot(vcloud, "short-lived", "--image", "cirros")
    kept = conn.block_storage.create_volume(size=1, name="outlives-its-server")
    doomed = conn.block_storage.create_volume(size=1, name="dies-with-its-server")
    volume_status(conn, kept.id, "available")
    volume_status(conn, doomed.id, "available")
    conn.compute.create_volume_attachment(server["id"], volume_id=kept.id)
    volume_status(conn, kept.id, "in-use")
    wait_until(lambda: attached_in_guest(vcloud, server["id"]), timeout=30)
    console(vcloud, server["id"], "sh", "-c", f"echo survives > {MOUNT}/note; sync")
    # delete_on_termination (microversion 2.79) makes the second volume go with the server.
    conn.compute.post(f"/servers/{server['id']}/os-volume_attachments", json={
        "volumeAttachment": {"volumeId": doomed.id, "delete_on_termination": True}},
        microversion="2.79").raise_for_status()
    volume_status(conn, doomed.id, "in-use")
    conn.compute.delete_server(server["id"])
    volume_status(conn, kept.id, "available")
    wait_until(lambda: conn.block_storage.find_volume(doomed.id) is None, timeout=30,
               message="a delete_on_termination volume outlived its server")

    reader = boot(vcloud, "reader", "--image", "cirros")
    conn.compute.create_volume_attachment(reader["id"], volume_id=kept.id)
    volume_status(conn, kept.id, "in-use")
    wait_until(lambda: attached_in_guest(vcloud, reader["id"]), timeout=30)
    assert console(vcloud, reader["id"], "cat", f"{MOUNT}/note").strip() == "survives"
    conn.compute.delete_server(reader["id"])
    volume_status(conn, kept.id, "available")


def _error(response) -> tuple[int, str, str]:
    """(status, Cinder's or Nova's error key, message) of a refused request."""
    body = response.json()
    (key, detail), = body.items()
    return response.status_code, key, detail["message"]


def test_bad_input_gets_cinder_errors_and_leaves_nothing_half_made(vcloud, conn):
    demo = vcloud.connect("overcast-demo")
    server = boot(vcloud, "bad-input", "--image", "cirros")
    other = boot(vcloud, "bad-input-2", "--image", "cirros")
    volume = conn.block_storage.create_volume(size=1, name="busy")
    volume_status(conn, volume.id, "available")
    conn.compute.create_volume_attachment(server["id"], volume_id=volume.id)
    volume_status(conn, volume.id, "in-use")
    before = sorted(v.id for v in conn.block_storage.volumes(all_projects=True))

    # Attaching an in-use volume to another server: Nova's 400.
    answer = conn.compute.post(f"/servers/{other['id']}/os-volume_attachments",
                               json={"volumeAttachment": {"volumeId": volume.id}})
    assert _error(answer)[:2] == (400, "badRequest")
    # Deleting an attached volume: Cinder's 400.
    answer = conn.block_storage.delete(f"/volumes/{volume.id}")
    assert _error(answer)[:2] == (400, "badRequest")
    # A snapshot of a missing volume: 404.
    answer = conn.block_storage.post("/snapshots", json={"snapshot": {
        "volume_id": "00000000-0000-4000-8000-000000000000", "name": "nothing"}})
    assert _error(answer)[:2] == (404, "itemNotFound")
    # Extending to a smaller size (of an available volume): 400.
    small = conn.block_storage.create_volume(size=2, name="shrink-me")
    volume_status(conn, small.id, "available")
    answer = conn.block_storage.post(f"/volumes/{small.id}/action",
                                     json={"os-extend": {"new_size": 1}})
    assert _error(answer)[:2] == (400, "badRequest")
    assert conn.block_storage.get_volume(small.id).size == 2
    # A volume larger than the quota: 413 overLimit.
    answer = conn.block_storage.post("/volumes", json={"volume": {"size": 100000,
                                                                  "name": "too-big"}})
    assert _error(answer)[:2] == (413, "overLimit")
    assert conn.block_storage.find_volume("too-big") is None
    # Another project's volume: not found, to attach, show, delete or snapshot.
    assert demo.block_storage.get(f"/volumes/{small.id}").status_code == 404
    assert demo.block_storage.delete(f"/volumes/{small.id}").status_code == 404
    assert demo.block_storage.post("/snapshots", json={"snapshot": {
        "volume_id": small.id}}).status_code == 404
    demo_server = boot(vcloud, "demo-server", "--image", "cirros")
    answer = demo.compute.post(f"/servers/{demo_server['id']}/os-volume_attachments",
                               json={"volumeAttachment": {"volumeId": small.id}})
    assert answer.status_code in (400, 404), answer.text
    assert conn.block_storage.get_volume(small.id).status == "available"
    # Nothing half-made: the same volumes, the busy one still attached once.
    after = sorted(v.id for v in conn.block_storage.volumes(all_projects=True))
    assert after == sorted([*before, small.id])
    attachments = conn.block_storage.get_volume(volume.id).attachments
    assert [a["server_id"] for a in attachments] == [server["id"]]
    for item in (server, other, demo_server):
        conn.compute.delete_server(item["id"])
    demo.close()


def test_volume_data_is_a_fixed_size_filesystem(vcloud, conn):
    """A volume is its size: a guest cannot write more than fits, and df says the size."""
    server = boot(vcloud, "filler", "--image", "cirros")
    volume = conn.block_storage.create_volume(size=1, name="fixed")
    volume_status(conn, volume.id, "available")
    conn.compute.create_volume_attachment(server["id"], volume_id=volume.id)
    volume_status(conn, volume.id, "in-use")
    wait_until(lambda: attached_in_guest(vcloud, server["id"]), timeout=30)
    size_kib = int(console(vcloud, server["id"], "sh", "-c",
                           f"df -k {MOUNT} | tail -1").split()[1])
    assert 900 * 1024 < size_kib <= 1024 * 1024
    filled = console(vcloud, server["id"], "sh", "-c",
                     f"dd if=/dev/zero of={MOUNT}/fill bs=1M count=2000 2>&1; true")
    assert "No space left" in filled
    conn.compute.delete_server(server["id"])
    volume_status(conn, volume.id, "available")
