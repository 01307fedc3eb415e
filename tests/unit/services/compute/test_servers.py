"""``/servers``: what the router checks, what it asks the conductor, and what it shows."""
from __future__ import annotations

import base64

import pytest

from overcast import errors
from services.conductor.rpcapi import BootRequest, ImageRequirements
from tests.unit.services.compute.compute_twins import (
    DISK_IMAGE_ID,
    IMAGE_ID,
    MEMBER,
    OTHER,
    QUEUED_IMAGE_ID,
    auth,
)

SERVERS = "/compute/v2.1/servers"


def _boot(**server: object) -> dict:
    return {"server": {"name": "vm", "imageRef": IMAGE_ID, "flavorRef": "1", **server}}


async def test_create_casts_one_request_and_answers_202_with_location(http, conductor,
                                                                       network):
    user_data = base64.b64encode(b"#!/bin/sh\n").decode()
    response = await http.post(SERVERS, headers=auth(), json={
        **_boot(flavorRef="http://testserver/compute/v2.1/flavors/1", key_name="k",
                metadata={"role": "web"}, user_data=user_data,
                networks=[{"uuid": "3f0e2f9c-5a0b-4c4e-9a59-0f7a1c2b3d4e"}],
                security_groups=[{"name": "web"}], min_count=2, max_count=3),
        "os:scheduler_hints": {"group": "g-1"}})
    assert response.status_code == 202, response.text
    server = response.json()["server"]
    assert response.headers["location"] == f"http://testserver{SERVERS}/{server['id']}"
    assert server["security_groups"] == [{"name": "web"}] and server["adminPass"]
    [request] = [c["request"] for c in conductor.asked("create_servers")]
    assert isinstance(request, BootRequest)
    assert request.flavor_id == "1" and request.image_ref == IMAGE_ID
    assert request.image == ImageRequirements(min_ram=64, min_disk=1)
    assert (request.min_count, request.max_count) == (2, 3)
    assert request.metadata == {"role": "web"} and request.user_data == user_data
    assert request.group_id == "g-1" and request.security_groups == ("web",)
    assert network.validated == [(MEMBER.project_id, [
        {"uuid": "3f0e2f9c-5a0b-4c4e-9a59-0f7a1c2b3d4e"}])]


async def test_create_can_answer_with_the_reservation_id_only(http):
    response = await http.post(SERVERS, headers=auth(), json=_boot(return_reservation_id=True))
    assert response.status_code == 202 and response.json() == {"reservation_id": "r-1"}


@pytest.mark.parametrize(("server", "message"), [
    ({"imageRef": "not-a-uuid"}, "Invalid imageRef provided."),
    ({"imageRef": "6a3f1e48-8f8e-4d55-a6c2-0a8a3a1c1b6e"}, "could not be found"),
    ({"imageRef": QUEUED_IMAGE_ID}, "is not active"),
    ({"imageRef": DISK_IMAGE_ID}, f"Image {DISK_IMAGE_ID} is not a root filesystem archive; "
                                  "accepted: tar, tar.gz, tar.xz, tar.bz2"),
    ({"name": " padded "}, "leading or trailing whitespace"),
    ({"min_count": 3, "max_count": 2}, "min_count must be <= max_count"),
    ({"min_count": 0}, "Value must be >= 1"),
    ({"user_data": "%%%"}, "valid base 64"),
    ({"networks": "everything"}, "networks"),
    ({"metadata": {"k": 1}}, "Invalid metadata value"),
    ({"tags": "web"}, "list of at most 50 tags"),
    ({"tags": ["a/b"]}, "without '/' or ','"),
    ({"tags": [f"t{i}" for i in range(51)]}, "at most 50 tags"),
    ({"security_groups": "default"}, "security_groups"),
    ({"security_groups": [{"nom": "x"}]}, "security_groups"),
    ({"key_name": ["k"]}, "key_name"),
    ({"availability_zone": 3}, "availability_zone"),
])
async def test_bad_boot_requests_are_400_and_reach_no_conductor(http, conductor, server,
                                                                 message):
    response = await http.post(SERVERS, headers=auth(), json=_boot(**server))
    assert response.status_code == 400, response.text
    assert message in response.json()["badRequest"]["message"]
    assert conductor.asked("create_servers") == []


async def test_a_network_the_caller_may_not_use_is_refused_before_the_conductor(
        http, conductor, network):
    network.refuse = errors.BadRequest("Network n-1 could not be found.")
    response = await http.post(SERVERS, headers=auth(), json=_boot())
    assert response.status_code == 400 and conductor.asked("create_servers") == []


async def test_create_needs_a_token_and_a_server_body(http):
    assert (await http.post(SERVERS, json=_boot())).status_code == 401
    response = await http.post(SERVERS, headers=auth(), json={"servr": {}})
    assert response.status_code == 400
    assert "'server' is a required property" in response.json()["badRequest"]["message"]


async def test_list_passes_the_filters_and_shows_briefs(http, conductor):
    mine = conductor.add_server(MEMBER, name="mine")
    conductor.add_server(OTHER, name="theirs")
    response = await http.get(SERVERS + "?name=mine&tenant_id=p-1&limit=5&all_tenants=0",
                              headers=auth())
    assert response.json() == {"servers": [{"id": mine["id"], "name": "mine", "links": [
        {"rel": "self", "href": f"http://testserver{SERVERS}/{mine['id']}"},
        {"rel": "bookmark", "href": f"http://testserver/compute/servers/{mine['id']}"}]}]}
    [filters] = [c["filters"] for c in conductor.asked("list_servers")]
    assert filters == {"name": "mine", "project_id": "p-1", "limit": 5, "all_tenants": False}


async def test_detail_follows_the_microversion_and_hides_admin_fields(http, conductor):
    conductor.add_server(MEMBER, status="ACTIVE")
    old = (await http.get(SERVERS + "/detail", headers=auth())).json()["servers"][0]
    assert "locked" not in old and "description" not in old and old["progress"] == 100
    assert "OS-EXT-SRV-ATTR:host" not in old and old["flavor"]["id"] == "1"
    new = (await http.get(SERVERS + "/detail", headers=auth(version="2.73"))).json()
    server = new["servers"][0]
    assert server["locked"] is False and server["tags"] == [] and server["locked_reason"] is None
    assert server["flavor"]["original_name"] == "m1.f1"
    assert server["addresses"] == {"private": [{
        "version": 4, "addr": "10.0.0.5", "OS-EXT-IPS:type": "fixed",
        "OS-EXT-IPS-MAC:mac_addr": "fa:16:3e:00:00:01"}]}
    assert server["created"] == "2024-01-02T03:04:05Z"


async def test_admins_see_the_host_and_the_fault_details(http, conductor):
    item = conductor.add_server(MEMBER, status="ERROR",
                                fault={"code": 500, "message": "boom", "details": "tb"})
    member = (await http.get(f"{SERVERS}/{item['id']}", headers=auth())).json()["server"]
    assert member["fault"] == {"code": 500, "message": "boom"}
    admin = (await http.get(f"{SERVERS}/{item['id']}", headers=auth("admin", "2.3"))).json()
    assert admin["server"]["OS-EXT-SRV-ATTR:host"] == "hv-1"
    assert admin["server"]["OS-EXT-SRV-ATTR:reservation_id"] == "r-1"
    assert admin["server"]["fault"]["details"] == "tb"


async def test_a_malformed_or_foreign_server_id_is_404(http, conductor):
    assert (await http.get(f"{SERVERS}/nope", headers=auth())).status_code == 404
    assert conductor.asked("get_server") == []  # no conductor call for a non-uuid
    theirs = conductor.add_server(OTHER)
    response = await http.get(f"{SERVERS}/{theirs['id']}", headers=auth())
    assert response.status_code == 404 and "itemNotFound" in response.json()


async def test_update_checks_fields_and_description_needs_2_19(http, conductor):
    item = conductor.add_server(MEMBER)
    url = f"{SERVERS}/{item['id']}"
    renamed = await http.put(url, headers=auth(), json={"server": {"name": "new",
                                                                   "description": "d"}})
    assert renamed.status_code == 200 and renamed.json()["server"]["name"] == "new"
    assert conductor.asked("update_server")[-1]["changes"] == {"name": "new"}
    await http.put(url, headers=auth(version="2.19"), json={"server": {"description": None}})
    assert conductor.asked("update_server")[-1]["changes"] == {"description": None}
    unknown = await http.put(url, headers=auth(), json={"server": {"flavor": "x"}})
    assert unknown.status_code == 400 and "Additional properties" in unknown.text


async def test_delete_is_204(http, conductor):
    item = conductor.add_server(MEMBER)
    response = await http.delete(f"{SERVERS}/{item['id']}", headers=auth())
    assert response.status_code == 204
    assert conductor.asked("delete_server") == [{"instance_id": item["id"]}]


@pytest.mark.parametrize(("body", "expected"), [
    ({"os-stop": None}, {"action": "stop", "hard": False}),
    ({"os-start": None}, {"action": "start", "hard": False}),
    ({"reboot": {"type": "HARD"}}, {"action": "reboot", "hard": True}),
    ({"reboot": {"type": "soft"}}, {"action": "reboot", "hard": False}),
])
async def test_power_actions_are_202(http, conductor, body, expected):
    item = conductor.add_server(MEMBER)
    response = await http.post(f"{SERVERS}/{item['id']}/action", headers=auth(), json=body)
    assert response.status_code == 202
    assert conductor.asked("power_action") == [{"instance_id": item["id"], **expected}]


@pytest.mark.parametrize("body", [{"reboot": {"type": "warm"}}, {"os-stop": None, "x": 1},
                                  {"resize": {}}, []])
async def test_bad_actions_are_400(http, conductor, body):
    item = conductor.add_server(MEMBER)
    response = await http.post(f"{SERVERS}/{item['id']}/action", headers=auth(), json=body)
    assert response.status_code == 400 and conductor.asked("power_action") == []


async def test_evacuate_is_for_admins_and_returns_a_password_before_2_14(http, conductor):
    item = conductor.add_server(MEMBER)
    url = f"{SERVERS}/{item['id']}/action"
    refused = await http.post(url, headers=auth(), json={"evacuate": {}})
    assert refused.status_code == 403
    old = await http.post(url, headers=auth("admin"), json={"evacuate": {"host": "hv-2"}})
    assert old.status_code == 202 and old.json()["adminPass"]
    new = await http.post(url, headers=auth("admin", "2.14"), json={"evacuate": {}})
    assert new.status_code == 202 and new.content == b""
    assert conductor.asked("evacuate_server") == [
        {"instance_id": item["id"], "host": "hv-2"}, {"instance_id": item["id"], "host": None}]
    bad_host = await http.post(url, headers=auth("admin"), json={"evacuate": {"host": 7}})
    assert bad_host.status_code == 400


async def test_metadata_items(http, conductor):
    item = conductor.add_server(MEMBER, metadata={"a": "1"})
    base = f"{SERVERS}/{item['id']}/metadata"
    assert (await http.get(base, headers=auth())).json() == {"metadata": {"a": "1"}}
    merged = await http.post(base, headers=auth(), json={"metadata": {"b": "2"}})
    assert merged.json() == {"metadata": {"a": "1", "b": "2"}}
    replaced = await http.put(base, headers=auth(), json={"metadata": {"c": "3"}})
    assert replaced.json() == {"metadata": {"c": "3"}}
    assert (await http.get(f"{base}/c", headers=auth())).json() == {"meta": {"c": "3"}}
    assert (await http.get(f"{base}/zz", headers=auth())).status_code == 404
    mismatch = await http.put(f"{base}/c", headers=auth(), json={"meta": {"d": "4"}})
    assert mismatch.status_code == 400 and "mismatch" in mismatch.text
    assert (await http.delete(f"{base}/c", headers=auth())).status_code == 204


async def test_instance_actions_follow_the_microversion_and_the_role(http, conductor):
    item = conductor.add_server(MEMBER)
    base = f"{SERVERS}/{item['id']}/os-instance-actions"
    listed = (await http.get(base, headers=auth())).json()["instanceActions"]
    assert "updated_at" not in listed[0]
    assert "updated_at" in (await http.get(base, headers=auth(version="2.58"))).json()[
        "instanceActions"][0]
    member = (await http.get(f"{base}/req-1", headers=auth(version="2.62"))).json()
    assert member["instanceAction"]["events"] == [{"event": "build"}]
    admin = (await http.get(f"{base}/req-1", headers=auth("admin", "2.62"))).json()
    assert admin["instanceAction"]["events"] == [
        {"event": "build", "host": "hv-1", "traceback": "tb"}]


async def test_scheduler_hints_that_are_not_an_object_are_400(http, conductor):
    body = {"server": _boot()["server"], "os:scheduler_hints": "group"}
    response = await http.post(SERVERS, headers=auth(), json=body)
    assert response.status_code == 400, response.text
    assert "os:scheduler_hints" in response.json()["badRequest"]["message"]
    assert conductor.asked("create_servers") == []


async def test_tags_reach_the_conductor_as_given(http, conductor):
    response = await http.post(SERVERS, headers=auth(), json=_boot(tags=["web", "blue"]))
    assert response.status_code == 202, response.text
    [request] = [c["request"] for c in conductor.asked("create_servers")]
    assert request.tags == ("web", "blue")


@pytest.mark.parametrize("limit", [str(2**64), "1" + "0" * 100, "1001"])
async def test_a_huge_list_limit_is_clamped_to_max_limit_not_a_500(http, conductor, limit):
    response = await http.get(SERVERS + f"/detail?limit={limit}", headers=auth())
    assert response.status_code == 200, response.text
    [filters] = [c["filters"] for c in conductor.asked("list_servers")]
    assert filters["limit"] == 1000


def _raw_boot(field: str, raw_json_value: str) -> bytes:
    """A boot body with one field written as raw JSON (a lone surrogate cannot be built with
    ``json=``, which would refuse to encode it)."""
    others = {"name": '"vm"', "imageRef": f'"{IMAGE_ID}"', "flavorRef": '"1"'}
    others[field] = raw_json_value
    return ('{"server": {' + ", ".join(f'"{k}": {v}' for k, v in others.items()) + "}}").encode()


@pytest.mark.parametrize("field, raw", [
    ("name", '"\\ud800"'), ("flavorRef", '"\\ud800"'),
    ("min_count", str(2**64)), ("min_count", "1e308"), ("min_count", "1" + "0" * 100),
    ("max_count", str(2**64)), ("min_count", "true"), ("min_count", '"1.5"'),
])
async def test_inputs_that_once_gave_a_500_are_400(http, conductor, field, raw):
    response = await http.post(SERVERS, headers={**auth(), "Content-Type": "application/json"},
                               content=_raw_boot(field, raw))
    assert response.status_code == 400, response.text
    assert response.json()["badRequest"]["code"] == 400
    assert conductor.asked("create_servers") == []


async def test_a_keypair_named_with_a_lone_surrogate_is_400(http, conductor):
    response = await http.post("/compute/v2.1/os-keypairs",
                               headers={**auth(), "Content-Type": "application/json"},
                               content=b'{"keypair": {"name": "\\ud800"}}')
    assert response.status_code == 400, response.text
    assert conductor.asked("create_keypair") == []


@pytest.mark.parametrize("field, value", [
    ("name", "x" * 100_000), ("name", " " + "x" * 100_000), ("name", ["x" * 100_000]),
    ("flavorRef", "1" * 100_000), ("tags", ["x" * 100_000]),
    ("metadata", {"k" * 50_000: 1}), ("networks", [{"uuid": "x" * 100_000}]),
])
async def test_a_400_quotes_only_an_excerpt_of_a_huge_value(http, field, value):
    body = {"server": {"name": "vm", "imageRef": IMAGE_ID, "flavorRef": "1", field: value}}
    response = await http.post(SERVERS, headers=auth(), json=body)
    assert response.status_code == 400, response.text[:300]
    assert len(response.content) < 500


async def test_a_body_over_112_kib_is_413_not_an_echoed_400(http, conductor):
    body = {"server": {"name": "x" * 200_000, "imageRef": IMAGE_ID, "flavorRef": "1"}}
    response = await http.post(SERVERS, headers=auth(), json=body)
    assert response.status_code == 413
    assert response.json()["overLimit"]["message"] == (
        "Request is too large. Larger than max_request_body_size (114688).")
    assert conductor.asked("create_servers") == []


async def test_an_unknown_action_is_named_only_by_an_excerpt(http):
    response = await http.post(SERVERS + f"/{IMAGE_ID}/action", headers=auth(),
                               json={"y" * 50_000: None})
    assert response.status_code in (400, 404)
    assert len(response.content) < 500


async def test_a_security_group_that_is_not_the_projects_is_refused_before_the_conductor(
        http, conductor, network):
    network.refuse = errors.BadRequest("Security group nope not found.")
    response = await http.post(SERVERS, headers=auth(),
                               json=_boot(security_groups=[{"name": "nope"}]))
    assert response.status_code == 400
    assert response.json()["badRequest"]["message"] == "Security group nope not found."
    assert network.security_groups == ["nope"]
    assert conductor.asked("create_servers") == []
