"""The Block Storage API's security review, route by route: every route takes only a
project-scoped token, the project in a path must be the token's (unless an admin's), admin-only
routes and actions refuse members before any lookup, ``all_tenants`` shows a member nothing of
other projects, and no record's metadata grows without bound."""
from __future__ import annotations

import re

import pytest

from overcast.context import RequestContext
from services.volume import validation as check
from services.volume.api import build_app
from tests.unit.services.volume import api_helpers
from tests.unit.services.volume.api_helpers import (
    ADMIN_H,
    DEMO_H,
    OTHER_H,
    V3,
    FakeValidator,
    auth,
    fault,
)

# Tokens with no project: unscoped, domain-scoped (an admin's, even) and system-scoped.
NO_PROJECT = {
    "unscoped-token": RequestContext(user_id="demo-user", roles=("member",)),
    "domain-admin-token": RequestContext(user_id="admin-user", domain_id="default",
                                         roles=("admin", "member")),
    "system-admin-token": RequestContext(user_id="admin-user", system_scope="all",
                                         roles=("admin", "member")),
}
ADMIN_ONLY = {
    ("POST", "/types"), ("PUT", "/types/{type_id}"), ("DELETE", "/types/{type_id}"),
    ("POST", "/types/{type_id}/extra_specs"), ("PUT", "/types/{type_id}/extra_specs/{key}"),
    ("DELETE", "/types/{type_id}/extra_specs/{key}"), ("PUT", "/os-quota-sets/{target_id}"),
    ("DELETE", "/os-quota-sets/{target_id}"), ("GET", "/os-services"),
    ("PUT", "/os-services/{action}"), ("GET", "/scheduler-stats/get_pools"),
}


@pytest.fixture(autouse=True)
def _tokens_without_a_project(monkeypatch):
    monkeypatch.setattr(api_helpers, "TOKENS", {**api_helpers.TOKENS, **NO_PROJECT})


def _routes() -> list[tuple[str, str]]:
    """Every (method, path) the app serves under ``/volume/v3`` without the project (its
    OpenAPI document lists every route)."""
    app = build_app(_NoManager(), authenticator=FakeValidator())
    return sorted((method.upper(), path.removeprefix(V3))
                  for path, methods in app.openapi()["paths"].items()
                  if path.startswith(f"{V3}/") and path != f"{V3}/"
                  and not path.startswith(f"{V3}/{{project_id}}")
                  for method in methods)


class _NoManager:
    """Enough of a manager to build the app's routes (never called)."""

    def __getattr__(self, name: str) -> object:
        return self


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "x", path)


ROUTES = _routes()


def test_every_route_is_listed_and_the_admin_only_ones_exist():
    assert len(ROUTES) > 40
    assert set(ROUTES) >= ADMIN_ONLY


@pytest.mark.parametrize(("method", "path"), ROUTES)
@pytest.mark.parametrize("token", sorted(NO_PROJECT))
async def test_a_token_without_a_project_is_refused_on_every_route(client, method, path,
                                                                   token):
    response = await client.request(method, f"{V3}{_concrete(path)}", json={},
                                    headers=auth(token, "3.67"))
    fault(response, 403, "forbidden")


@pytest.mark.parametrize(("method", "path"), ROUTES)
async def test_another_projects_path_is_refused_to_a_member_on_every_route(client, method,
                                                                         path):
    response = await client.request(method, f"{V3}/other{_concrete(path)}", json={},
                                    headers=auth("demo-token", "3.67"))
    fault(response, 403, "forbidden")


@pytest.mark.parametrize(("method", "path"), sorted(ADMIN_ONLY))
async def test_admin_only_routes_refuse_members_before_any_lookup(client, method, path):
    for prefix in (V3, f"{V3}/demo"):
        response = await client.request(method, f"{prefix}{_concrete(path)}", json={},
                                        headers=auth("demo-token", "3.67"))
        fault(response, 403, "forbidden")


async def _volume(client, headers=DEMO_H) -> str:
    made = await client.post(f"{V3}/volumes", headers=headers,
                             json={"volume": {"size": 1, "name": "mine"}})
    assert made.status_code == 202, made.text
    return made.json()["volume"]["id"]


@pytest.mark.parametrize("action", [{"os-reset_status": {"status": "error"}},
                                    {"os-force_delete": {}}])
async def test_admin_actions_refuse_a_member_on_its_own_volume(client, manager, action):
    volume_id = await _volume(client)
    await manager.drain()
    fault(await client.post(f"{V3}/volumes/{volume_id}/action", json=action,
                            headers=DEMO_H), 403, "forbidden")
    fault(await client.delete(f"{V3}/volumes/{volume_id}?force=true", headers=DEMO_H), 403,
          "forbidden")
    shown = await client.get(f"{V3}/volumes/{volume_id}", headers=DEMO_H)
    assert shown.json()["volume"]["status"] == "available"


async def test_all_tenants_and_project_id_show_a_member_only_its_own(client, manager):
    mine, theirs = await _volume(client), await _volume(client, OTHER_H)
    await manager.drain()
    for query in ("all_tenants=1", "all_tenants=1&project_id=other", "project_id=other"):
        for kind in ("volumes", "volumes/detail"):
            listed = await client.get(f"{V3}/{kind}?{query}", headers=DEMO_H)
            shown = [v["id"] for v in listed.json()["volumes"]]
            # project_id is a filter on the member's own: it finds nothing of another's
            assert shown == ([] if "project_id" in query else [mine]), query
    everything = await client.get(f"{V3}/volumes?all_tenants=1", headers=ADMIN_H)
    assert {mine, theirs} <= {v["id"] for v in everything.json()["volumes"]}


async def test_a_marker_of_another_projects_volume_tells_nothing(client, manager):
    await _volume(client)
    theirs = await _volume(client, OTHER_H)
    await manager.drain()
    response = await client.get(f"{V3}/volumes?marker={theirs}", headers=DEMO_H)
    assert response.status_code in (400, 404), response.text
    assert "mine" not in response.text


# -- metadata that grows without bound ------------------------------------------------------

def _items(count: int, prefix: str = "k") -> dict[str, str]:
    return {f"{prefix}{n}": "v" for n in range(count)}


async def test_metadata_items_are_bounded_in_one_request_and_across_merges(client, manager):
    limit = check.MAX_METADATA_ITEMS
    before = await client.get(f"{V3}/volumes", headers=DEMO_H)
    fault(await client.post(f"{V3}/volumes", headers=DEMO_H, json={"volume": {
        "size": 1, "metadata": _items(limit + 1)}}), 400, "badRequest")
    assert (await client.get(f"{V3}/volumes", headers=DEMO_H)).json() == before.json()

    volume_id = await _volume(client)
    await manager.drain()
    path = f"{V3}/volumes/{volume_id}/metadata"
    assert (await client.put(path, headers=DEMO_H,
                             json={"metadata": _items(limit)})).status_code == 200
    # One more, by a merge, by a single key, or as image metadata on top of as many.
    message = fault(await client.post(path, headers=DEMO_H, json={"metadata": _items(1, "x")}),
                    400, "badRequest")
    assert f"exceeds {limit}" in message
    fault(await client.put(f"{path}/x0", headers=DEMO_H, json={"meta": {"x0": "v"}}), 400,
          "badRequest")
    assert (await client.get(path, headers=DEMO_H)).json()["metadata"] == _items(limit)
    # Replacing the whole set with as many is fine, and a merge of existing keys too.
    assert (await client.post(path, headers=DEMO_H,
                              json={"metadata": {"k0": "w"}})).status_code == 200
    action = f"{V3}/volumes/{volume_id}/action"
    assert (await client.post(action, headers=DEMO_H, json={"os-set_image_metadata": {
        "metadata": _items(limit, "i")}})).status_code == 200
    fault(await client.post(action, headers=DEMO_H, json={"os-set_image_metadata": {
        "metadata": {"one-more": "v"}}}), 400, "badRequest")


async def test_snapshot_metadata_is_bounded_across_merges(client, manager):
    limit = check.MAX_METADATA_ITEMS
    volume_id = await _volume(client)
    await manager.drain()
    made = await client.post(f"{V3}/snapshots", headers=DEMO_H, json={"snapshot": {
        "volume_id": volume_id, "metadata": _items(limit)}})
    assert made.status_code == 202, made.text
    path = f"{V3}/snapshots/{made.json()['snapshot']['id']}/metadata"
    fault(await client.post(path, headers=DEMO_H, json={"metadata": {"x": "v"}}), 400,
          "badRequest")
    assert (await client.get(path, headers=DEMO_H)).json()["metadata"] == _items(limit)
    fault(await client.post(f"{V3}/snapshots", headers=DEMO_H, json={"snapshot": {
        "volume_id": volume_id, "metadata": _items(limit + 1)}}), 400, "badRequest")


async def test_a_volume_wedged_by_its_owner_is_freed_by_an_admin_reset(client, manager):
    """A member's own attachment with a connector and an instance only Nova may delete (409
    for users, admins too); an admin's reset to ``detached`` drops it, as Cinder's does."""
    volume_id = await _volume(client)
    await manager.drain()
    made = await client.post(f"{V3}/attachments", headers=auth("demo-token", "3.54"), json={
        "attachment": {"volume_uuid": volume_id, "instance_uuid": "no-such-server",
                       "connector": {"host": "nowhere"}}})
    assert made.status_code == 200, made.text
    attachment = f"{V3}/attachments/{made.json()['attachment']['id']}"
    for token in ("demo-token", "admin-token"):
        fault(await client.delete(attachment, headers=auth(token, "3.54")), 409,
              "conflictingRequest")
    fault(await client.delete(f"{V3}/volumes/{volume_id}", headers=DEMO_H), 400, "badRequest")

    reset = await client.post(f"{V3}/volumes/{volume_id}/action", headers=ADMIN_H, json={
        "os-reset_status": {"status": "available", "attach_status": "detached"}})
    assert reset.status_code == 202, reset.text
    fault(await client.get(attachment, headers=auth("demo-token", "3.54")), 404, "itemNotFound")
    shown = (await client.get(f"{V3}/volumes/{volume_id}", headers=DEMO_H)).json()["volume"]
    assert (shown["status"], shown["attachments"]) == ("available", [])
    assert (await client.delete(f"{V3}/volumes/{volume_id}", headers=DEMO_H)).status_code == 202
