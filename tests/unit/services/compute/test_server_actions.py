"""``POST /servers/{id}/action`` for the actions beyond power: what the router checks (with
Nova's wording) and what it asks the conductor and the image service."""
from __future__ import annotations

import pytest

from tests.unit.services.compute.compute_twins import DISK_IMAGE_ID, IMAGE_ID, MEMBER, auth

SERVERS = "/compute/v2.1/servers"


async def _post(http, conductor, body, *, token="member", version=None):
    item = conductor.add_server(MEMBER)
    response = await http.post(f"{SERVERS}/{item['id']}/action",
                               headers=auth(token, version), json=body)
    return item, response


@pytest.mark.parametrize("action", ["pause", "unpause", "suspend", "resume", "unrescue",
                                    "shelveOffload"])
async def test_in_place_actions_are_202(http, conductor, action):
    _item, response = await _post(http, conductor, {action: None})
    assert response.status_code == 202
    assert conductor.asked("guest_action")[0]["action"] == action


@pytest.mark.parametrize("body", [{"pause": {"x": 1}}, {"lock": {"locked_reason": "r"}},
                                  {"os-getConsoleOutput": {"length": -2}},
                                  {"os-getConsoleOutput": {"length": "ten"}},
                                  {"os-getConsoleOutput": {"length": True}},
                                  {"createImage": {}}, {"createImage": {"name": " x"}},
                                  {"rebuild": {}}, {"rebuild": {"imageRef": "nope"}},
                                  {"rebuild": {"imageRef": DISK_IMAGE_ID}},
                                  {"resize": {"flavorRef": None}}, {"unshelve": {"x": 1}},
                                  {"rescue": {"rescue_image_ref": DISK_IMAGE_ID + "0"}}])
async def test_bad_bodies_are_400_and_start_nothing(http, conductor, images, body):
    before = set(images.images)
    _item, response = await _post(http, conductor, body)
    assert response.status_code == 400, response.text
    assert "badRequest" in response.json()
    assert [c for c in conductor.calls if c[0] != "get_server"] == []
    assert set(images.images) == before


async def test_console_output_with_length(http, conductor):
    item, response = await _post(http, conductor, {"os-getConsoleOutput": {"length": "2"}})
    assert response.status_code == 200 and response.json() == {"output": "a\nb\nc"}
    assert conductor.asked("get_console_output") == [{"instance_id": item["id"], "length": 2}]
    await _post(http, conductor, {"os-getConsoleOutput": {"length": -1}})
    assert conductor.asked("get_console_output")[1]["length"] is None


async def test_lock_takes_a_reason_from_2_73(http, conductor):
    item, response = await _post(http, conductor, {"lock": {"locked_reason": "audit"}},
                                 version="2.73")
    assert response.status_code == 202
    assert conductor.asked("lock_server") == [{"instance_id": item["id"], "reason": "audit"}]


async def test_create_image_makes_the_snapshot_record_and_answers_by_microversion(
        http, conductor, images):
    item, old = await _post(http, conductor, {"createImage": {"name": "snap",
                                                              "metadata": {"k": "v"}}})
    assert old.status_code == 202 and old.headers["location"].startswith("http")
    [call] = conductor.asked("guest_action")
    image = images.images[call["image_id"]]
    assert (image["name"], image["image_type"], image["instance_uuid"], image["k"]) == (
        "snap", "snapshot", item["id"], "v")
    assert image["base_image_ref"] == IMAGE_ID and image["owner"] == MEMBER.project_id
    _item, new = await _post(http, conductor, {"createImage": {"name": "snap2"}},
                             version="2.45")
    assert new.status_code == 202 and set(new.json()) == {"image_id"}


async def test_a_refused_snapshot_or_shelve_deletes_its_image(http, conductor, images):
    conductor.refuse_actions = True
    before = set(images.images)
    for body in ({"createImage": {"name": "snap"}}, {"shelve": None}):
        _item, response = await _post(http, conductor, body)
        assert response.status_code == 409
    assert set(images.images) == before


async def test_shelve_names_its_image_after_the_server(http, conductor, images):
    item, response = await _post(http, conductor, {"shelve": None})
    assert response.status_code == 202
    [call] = conductor.asked("guest_action")
    assert images.images[call["image_id"]]["name"] == f"{item['name']}-shelved"


async def test_unshelve_takes_a_zone_from_2_77(http, conductor):
    item, response = await _post(http, conductor, {"unshelve": {"availability_zone": "az2"}},
                                 version="2.77")
    assert response.status_code == 202
    assert conductor.asked("unshelve_server") == [{"instance_id": item["id"],
                                                   "availability_zone": "az2"}]


async def test_rescue_answers_a_password(http, conductor):
    _item, response = await _post(http, conductor, {"rescue": {"adminPass": "pw"}})
    assert response.status_code == 200 and response.json() == {"adminPass": "pw"}


async def test_rebuild_answers_the_server_with_a_password(http, conductor):
    item, response = await _post(http, conductor, {"rebuild": {"imageRef": IMAGE_ID,
                                                               "name": "new"}})
    assert response.status_code == 202
    assert response.json()["server"]["id"] == item["id"] and response.json()["server"][
        "adminPass"]
    assert conductor.asked("rebuild_server")[0]["image_ref"] == IMAGE_ID


async def test_resize_confirm_and_revert(http, conductor):
    item, response = await _post(http, conductor, {"resize": {"flavorRef": "2"}})
    assert response.status_code == 202
    assert conductor.asked("resize_server") == [{"instance_id": item["id"], "flavor_id": "2",
                                                 "host": None}]
    _item, confirmed = await _post(http, conductor, {"confirmResize": None})
    assert confirmed.status_code == 204
    _item, reverted = await _post(http, conductor, {"revertResize": None})
    assert reverted.status_code == 202


async def test_migrate_is_for_admins(http, conductor):
    _item, refused = await _post(http, conductor, {"migrate": None})
    assert refused.status_code == 403 and conductor.asked("resize_server") == []
    item, done = await _post(http, conductor, {"migrate": {"host": "hv-2"}}, token="admin",
                             version="2.56")
    assert done.status_code == 202
    assert conductor.asked("resize_server") == [{"instance_id": item["id"], "flavor_id": None,
                                                 "host": "hv-2"}]
