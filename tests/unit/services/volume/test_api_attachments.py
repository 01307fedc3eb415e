"""/attachments over REST (3.27+, os-complete 3.44+), the same flow the compute side drives
over RPC."""
from __future__ import annotations

from tests.unit.services.volume.api_helpers import DEMO_H, OTHER_H, V3, auth, fault
from tests.unit.services.volume.conftest import DEMO
from tests.unit.services.volume.helpers import counts, status, volume

H = auth(version="3.44")
CONNECTOR = {"host": "hypervisor-1", "mountpoint": "/dev/vdb", "initiator": "iqn.x",
             "platform": "x86_64", "os_type": "linux", "multipath": False}


async def test_attach_flow_over_rest(client, manager):
    made = await volume(manager, DEMO)
    response = await client.post(f"{V3}/attachments", headers=H, json={"attachment": {
        "volume_uuid": made["id"], "instance_uuid": "vm-1", "connector": CONNECTOR}})
    assert response.status_code == 200, response.text
    attachment = response.json()["attachment"]
    assert (attachment["status"], attachment["instance"], attachment["volume_id"]) == (
        "attaching", "vm-1", made["id"])
    info = attachment["connection_info"]
    assert (info["driver_volume_type"], info["file_name"]) == ("overcast_file",
                                                               f"volume-{made['id']}")
    assert attachment["attach_mode"] == "rw" and attachment["attached_at"] == ""
    completed = await client.post(f"{V3}/attachments/{attachment['id']}/action", headers=H,
                                  json={"os-complete": {}})
    assert completed.status_code == 204
    assert status(manager, made["id"]) == "in-use"
    shown = (await client.get(f"{V3}/attachments/{attachment['id']}",
                              headers=H)).json()["attachment"]
    assert shown["status"] == "attached" and shown["attached_at"]
    listed = (await client.get(f"{V3}/attachments", headers=H,
                               params={"volume_id": made["id"]})).json()["attachments"]
    assert listed == [{"id": attachment["id"], "status": "attached", "instance": "vm-1",
                       "volume_id": made["id"]}]
    # Attaching an in-use volume to another server is refused, and adds nothing.
    fault(await client.post(f"{V3}/attachments", headers=H, json={"attachment": {
        "volume_uuid": made["id"], "instance_uuid": "vm-2"}}), 400, "badRequest",
        f"Invalid volume: Volume {made['id']} status must be available or downloading to "
        "reserve, but the current status is in-use.")
    assert counts(manager)["attachments"] == 1
    # A user detaching behind Nova's back would free a volume a guest still has mounted.
    fault(await client.delete(f"{V3}/attachments/{attachment['id']}", headers=H), 409,
          "conflictingRequest", "ConflictNovaUsingAttachment: Detach volume from instance "
                                "vm-1 using the Compute API")
    assert status(manager, made["id"]) == "in-use"


async def test_a_reservation_is_deleted_over_rest(client, manager):
    made = await volume(manager, DEMO)
    reserved = (await client.post(f"{V3}/attachments", headers=H, json={"attachment": {
        "volume_uuid": made["id"], "instance_uuid": "vm-1"}})).json()["attachment"]
    deleted = await client.delete(f"{V3}/attachments/{reserved['id']}", headers=H)
    assert deleted.status_code == 200 and deleted.json() == {"attachments": []}
    assert status(manager, made["id"]) == "available"


async def test_reserve_then_update(client, manager):
    made = await volume(manager, DEMO)
    reserved = (await client.post(f"{V3}/attachments", headers=H, json={"attachment": {
        "volume_uuid": made["id"], "instance_uuid": "vm-1"}})).json()["attachment"]
    assert reserved["status"] == "reserved" and reserved["connection_info"] == {}
    updated = await client.put(f"{V3}/attachments/{reserved['id']}", headers=H,
                               json={"attachment": {"connector": CONNECTOR}})
    assert updated.json()["attachment"]["status"] == "attaching"
    fault(await client.put(f"{V3}/attachments/{reserved['id']}", headers=H,
                           json={"attachment": {"connector": {"ip": "1.2.3.4"}}}), 400,
          "badRequest")


async def test_versions_and_isolation(client, manager):
    made = await volume(manager, DEMO)
    fault(await client.get(f"{V3}/attachments", headers=DEMO_H), 404, "itemNotFound",
          "API version 3.0 is not supported on this method.")
    reserved = (await client.post(f"{V3}/attachments", headers=auth(version="3.27"), json={
        "attachment": {"volume_uuid": made["id"], "instance_uuid": "vm"}})).json()
    attachment_id = reserved["attachment"]["id"]
    fault(await client.post(f"{V3}/attachments/{attachment_id}/action",
                            headers=auth(version="3.27"), json={"os-complete": {}}), 404,
          "itemNotFound")
    other = {**OTHER_H, "OpenStack-API-Version": "volume 3.44"}
    fault(await client.get(f"{V3}/attachments/{attachment_id}", headers=other), 404,
          "itemNotFound")
    fault(await client.delete(f"{V3}/attachments/{attachment_id}", headers=other), 404,
          "itemNotFound")
    fault(await client.post(f"{V3}/attachments", headers=other, json={"attachment": {
        "volume_uuid": made["id"], "instance_uuid": "vm-x"}}), 404, "itemNotFound",
        f"Volume {made['id']} could not be found.")
    assert (await client.get(f"{V3}/attachments", headers=other)).json() == {
        "attachments": []}
    assert status(manager, made["id"]) == "reserved"
