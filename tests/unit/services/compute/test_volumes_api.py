"""``/servers/{id}/os-volume_attachments`` and the volumes a server shows: Nova's bodies by
microversion, its schema's refusals, and what reaches the conductor."""
from __future__ import annotations

import pytest

from overcast import errors
from tests.unit.services.compute.compute_twins import MEMBER, auth

VOL = "6f1c8a52-0d4e-4a7b-9a51-3f2b8c1d0e01"
VOL2 = "6f1c8a52-0d4e-4a7b-9a51-3f2b8c1d0e02"


def _url(server_id: str, volume_id: str | None = None) -> str:
    url = f"/compute/v2.1/servers/{server_id}/os-volume_attachments"
    return f"{url}/{volume_id}" if volume_id else url


def _mapping(volume_id: str, **changes) -> dict:
    return {"volume_id": volume_id, "attachment_id": f"att-{volume_id[-2:]}",
            "device_name": "/dev/vdb", "boot_index": None, "tag": None, "status": "attached",
            "delete_on_termination": False, **changes}


def _with_volumes(conductor, **changes) -> dict:
    return conductor.add_server(MEMBER, status="ACTIVE", vm_state="active", task_state=None,
                                block_device_mapping=[
                                    _mapping(VOL, tag="db"),
                                    _mapping(VOL2, device_name="/dev/vdc",
                                             delete_on_termination=True),
                                    _mapping("not-made-yet", attachment_id=None)],
                                **changes)


async def test_the_list_shows_novas_fields_for_the_microversion(http, conductor):
    server = _with_volumes(conductor)
    old = (await http.get(_url(server["id"]), headers=auth())).json()["volumeAttachments"]
    assert old == [{"id": VOL, "volumeId": VOL, "serverId": server["id"], "device": "/dev/vdb"},
                   {"id": VOL2, "volumeId": VOL2, "serverId": server["id"],
                    "device": "/dev/vdc"}]
    new = (await http.get(_url(server["id"]), headers=auth(version="2.79"))).json()
    assert [(a["tag"], a["delete_on_termination"]) for a in new["volumeAttachments"]] == [
        ("db", False), (None, True)]
    page = await http.get(_url(server["id"]) + "?limit=1&offset=1", headers=auth())
    assert [a["id"] for a in page.json()["volumeAttachments"]] == [VOL2]
    response = await http.get(_url(server["id"]) + "?sort=x", headers=auth(version="2.75"))
    assert response.status_code == 400


async def test_show_one_attachment_or_404(http, conductor):
    server = _with_volumes(conductor)
    response = await http.get(_url(server["id"], VOL2), headers=auth(version="2.70"))
    assert response.json() == {"volumeAttachment": {
        "id": VOL2, "volumeId": VOL2, "serverId": server["id"], "device": "/dev/vdc",
        "tag": None}}
    missing = await http.get(_url(server["id"], "nope"), headers=auth())
    assert missing.status_code == 404
    assert "is not attached to volume nope" in missing.json()["itemNotFound"]["message"]
    theirs = await http.get(_url(server["id"]), headers=auth("other"))
    assert theirs.status_code == 404


async def test_attach_answers_the_attachment_with_its_device(http, conductor):
    server = conductor.add_server(MEMBER, vm_state="active", task_state=None)
    response = await http.post(_url(server["id"]), headers=auth(version="2.79"), json={
        "volumeAttachment": {"volumeId": VOL, "tag": "logs", "delete_on_termination": "yes"}})
    assert response.status_code == 200, response.text
    assert response.json() == {"volumeAttachment": {
        "id": VOL, "serverId": server["id"], "volumeId": VOL, "device": "/dev/vdb",
        "tag": "logs", "delete_on_termination": True}}
    assert conductor.asked("attach_volume") == [{
        "instance_id": server["id"], "volume_id": VOL, "device": None, "tag": "logs",
        "delete_on_termination": True}]
    plain = await http.post(_url(server["id"]), headers=auth(), json={
        "volumeAttachment": {"volumeId": VOL2, "device": "/dev/vdd"}})
    assert plain.json()["volumeAttachment"] == {"id": VOL2, "serverId": server["id"],
                                                "volumeId": VOL2, "device": "/dev/vdd"}


@pytest.mark.parametrize("version, body, message", [
    (None, {}, "'volumeAttachment' is a required property"),
    (None, {"volumeAttachment": {}}, "'volumeId' is a required property"),
    (None, {"volumeAttachment": {"volumeId": "vol-1"}}, "is not a 'uuid'"),
    (None, {"volumeAttachment": {"volumeId": VOL, "device": "vdb"}}, "device"),
    (None, {"volumeAttachment": {"volumeId": VOL, "device": 3}}, "device"),
    ("2.48", {"volumeAttachment": {"volumeId": VOL, "tag": "t"}}, "Additional properties"),
    ("2.49", {"volumeAttachment": {"volumeId": VOL, "tag": "a/b"}}, "Tags are"),
    ("2.78", {"volumeAttachment": {"volumeId": VOL, "delete_on_termination": True}},
     "Additional properties"),
    ("2.79", {"volumeAttachment": {"volumeId": VOL, "delete_on_termination": "maybe"}},
     "is not a boolean"),
    (None, {"volumeAttachment": {"volumeId": VOL}, "extra": 1}, "Additional properties"),
])
async def test_bad_attach_bodies_are_400_and_reach_no_conductor(http, conductor, version,
                                                                body, message):
    server = conductor.add_server(MEMBER)
    response = await http.post(_url(server["id"]), headers=auth(version=version), json=body)
    assert response.status_code == 400, response.text
    assert message in response.json()["badRequest"]["message"]
    assert conductor.asked("attach_volume") == []


@pytest.mark.parametrize("refusal, code", [
    (errors.Conflict("Instance x is locked"), 409),
    (errors.BadRequest("Invalid volume: Volume is not available"), 400),
    (errors.NotFound(f"Volume {VOL} could not be found."), 404),
])
async def test_the_conductors_refusals_pass_through(http, conductor, refusal, code):
    server = conductor.add_server(MEMBER)
    conductor.volume_refusal = refusal
    response = await http.post(_url(server["id"]), headers=auth(),
                               json={"volumeAttachment": {"volumeId": VOL}})
    assert response.status_code == code
    assert refusal.message in response.text


async def test_a_shelved_server_takes_volumes_from_2_20(http, conductor):
    server = conductor.add_server(MEMBER, vm_state="shelved_offloaded", host=None,
                                  block_device_mapping=[_mapping(VOL)])
    body = {"volumeAttachment": {"volumeId": VOL2}}
    old = await http.post(_url(server["id"]), headers=auth(version="2.19"), json=body)
    assert old.status_code == 409
    assert "Cannot 'attach_volume' instance" in old.json()["conflictingRequest"]["message"]
    gone = await http.delete(_url(server["id"], VOL), headers=auth(version="2.19"))
    assert gone.status_code == 409
    assert conductor.asked("attach_volume") == conductor.asked("detach_volume") == []
    assert (await http.post(_url(server["id"]), headers=auth(version="2.20"),
                            json=body)).status_code == 200
    assert (await http.delete(_url(server["id"], VOL), headers=auth(version="2.20"))
            ).status_code == 202


async def test_detach_is_202_or_the_conductors_404(http, conductor):
    server = _with_volumes(conductor)
    response = await http.delete(_url(server["id"], VOL), headers=auth())
    assert response.status_code == 202
    assert conductor.asked("detach_volume") == [{"instance_id": server["id"],
                                                 "volume_id": VOL}]
    missing = await http.delete(_url(server["id"], "nope"), headers=auth())
    assert missing.status_code == 404


async def test_swap_is_refused_as_nova_refuses_it_when_no_volume_migrates(http, conductor):
    server = _with_volumes(conductor)
    body = {"volumeAttachment": {"volumeId": VOL2}}
    member = await http.put(_url(server["id"], VOL), headers=auth(), json=body)
    assert member.status_code == 403
    assert "os-volumes-attachments:swap" in member.json()["forbidden"]["message"]
    admin = await http.put(_url(server["id"], VOL), headers=auth("admin"), json=body)
    assert admin.status_code == 409
    assert admin.json()["conflictingRequest"]["message"] == (
        f"volume {VOL} is not migrating; this API should only be called by Cinder")
    bad = await http.put(_url(server["id"], VOL), headers=auth("admin"),
                         json={"volumeAttachment": {"volumeId": VOL2, "device": "/dev/vdb"}})
    assert bad.status_code == 400


async def test_a_server_shows_its_volumes_and_no_image_when_volume_backed(http, conductor):
    server = conductor.add_server(MEMBER, image_ref="", block_device_mapping=[
        _mapping(VOL, device_name="/dev/vda", boot_index=0, delete_on_termination=True),
        _mapping(VOL2), _mapping("not-made-yet", attachment_id=None)])
    url = f"/compute/v2.1/servers/{server['id']}"
    old = (await http.get(url, headers=auth())).json()["server"]
    assert old["os-extended-volumes:volumes_attached"] == [{"id": VOL}, {"id": VOL2}]
    assert old["image"] == ""
    new = (await http.get(url, headers=auth(version="2.3"))).json()["server"]
    assert new["os-extended-volumes:volumes_attached"] == [
        {"id": VOL, "delete_on_termination": True},
        {"id": VOL2, "delete_on_termination": False}]
    listed = (await http.get("/compute/v2.1/servers/detail", headers=auth())).json()
    assert listed["servers"][0]["os-extended-volumes:volumes_attached"][0] == {"id": VOL}
