"""The app as a whole: version documents, microversion negotiation, tokens and the project
in the path."""
from __future__ import annotations

import pytest

from tests.unit.services.volume.api_helpers import DEMO_H, OTHER_H, V3, auth, fault


@pytest.mark.parametrize(("path", "code"), [("/volume", 300), ("/volume/", 300),
                                            ("/volume/v3", 200), ("/volume/v3/", 200)])
async def test_version_documents_are_public(client, path, code):
    response = await client.get(path)
    assert response.status_code == code
    [version] = response.json()["versions"]
    assert (version["id"], version["status"], version["min_version"], version["version"]) == (
        "v3.0", "CURRENT", "3.0", "3.67")
    assert {"rel": "self", "href": "http://testserver/volume/v3/"} in version["links"]
    assert version["media-types"][0]["type"] == "application/vnd.openstack.volume+json;" \
                                                "version=3"


async def test_microversions_are_negotiated_and_answered(client):
    plain = await client.get(f"{V3}/volumes", headers=DEMO_H)
    assert plain.headers["OpenStack-API-Version"] == "volume 3.0"
    assert "OpenStack-API-Version" in plain.headers["Vary"]
    latest = await client.get(f"{V3}/volumes", headers=auth(version="latest"))
    assert latest.headers["OpenStack-API-Version"] == "volume 3.67"
    asked = await client.get(f"{V3}/volumes", headers=auth(version="3.50"))
    assert asked.headers["OpenStack-API-Version"] == "volume 3.50"
    fault(await client.get(f"{V3}/volumes", headers=auth(version="3.99")), 406,
          "computeFault", "Version 3.99 is not supported by the API. Minimum is 3.0 and "
                          "maximum is 3.67.")
    fault(await client.get(f"{V3}/volumes", headers=auth(version="2.0")), 406, "computeFault")
    fault(await client.get(f"{V3}/volumes", headers=auth(version="3.x")), 400, "badRequest",
          "API Version String 3.x is of invalid format. Must be of format MajorNum.MinorNum.")
    # An error answers the version too.
    missing = await client.get(f"{V3}/volumes/nope", headers=auth(version="3.60"))
    assert missing.status_code == 404
    assert missing.headers["OpenStack-API-Version"] == "volume 3.60"


async def test_tokens_are_required_and_checked(client):
    fault(await client.get(f"{V3}/volumes"), 401, "unauthorized")
    fault(await client.get(f"{V3}/volumes", headers=auth("forged")), 401, "unauthorized")


async def test_routes_with_and_without_the_project(client):
    made = await client.post(f"{V3}/demo/volumes", headers=DEMO_H,
                             json={"volume": {"size": 1, "name": "a"}})
    assert made.status_code == 202
    volume_id = made.json()["volume"]["id"]
    assert made.json()["volume"]["links"][0]["href"] == \
        f"http://testserver/volume/v3/demo/volumes/{volume_id}"
    bare = await client.get(f"{V3}/volumes/{volume_id}", headers=DEMO_H)
    assert bare.status_code == 200
    assert bare.json()["volume"]["links"] == [
        {"rel": "self", "href": f"http://testserver/volume/v3/volumes/{volume_id}"},
        {"rel": "bookmark", "href": f"http://testserver/volume/volumes/{volume_id}"}]
    fault(await client.get(f"{V3}/other/volumes", headers=DEMO_H), 403, "forbidden")
    fault(await client.get(f"{V3}/demo/volumes/{volume_id}", headers=OTHER_H), 403,
          "forbidden")
    admin = await client.get(f"{V3}/demo/volumes/{volume_id}", headers=auth("admin-token"))
    assert admin.status_code == 200


async def test_unknown_paths_and_methods_are_cinder_faults(client):
    fault(await client.get(f"{V3}/nothing-here", headers=DEMO_H), 404, "itemNotFound")
    fault(await client.patch(f"{V3}/volumes", headers=DEMO_H), 405, "badMethod")


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
async def test_a_trailing_slash_names_nothing(client, method):
    """``/volumes/`` is no route (Cinder: 404), never redirected to the list: an empty id
    names no volume, and a DELETE there must not turn into one of ``/volumes``."""
    for path in (f"{V3}/volumes/", f"{V3}/demo/volumes/", f"{V3}/snapshots/"):
        response = await client.request(method, path, headers=DEMO_H,
                                        json={"volume": {"name": "x"}})
        fault(response, 404, "itemNotFound")
    assert (await client.get(f"{V3}/volumes", headers=DEMO_H)).status_code == 200
