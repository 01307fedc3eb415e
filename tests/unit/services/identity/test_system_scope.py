"""System-scoped tokens (Keystone's ``{"system": {"all": true}}``) and grants on the system."""
from __future__ import annotations

V3 = "/identity/v3"


def _role_id(client, h, token, name):
    roles = client.get(f"{V3}/roles", headers=h.auth(token)).json()["roles"]
    return next(r["id"] for r in roles if r["name"] == name)


def test_bootstrap_admin_gets_a_system_scoped_token_with_roles_and_catalog(client, h):
    resp = client.post(f"{V3}/auth/tokens",
                       json=h.password_body("admin", h.ADMIN_PASSWORD, system=True))
    assert resp.status_code == 201, resp.text
    token = resp.json()["token"]
    assert token["system"] == {"all": True}
    assert "project" not in token and "domain" not in token
    assert [r["name"] for r in token["roles"]] == ["admin"]
    assert {entry["type"] for entry in token["catalog"]} >= {"identity", "compute"}
    subject = resp.headers["X-Subject-Token"]
    validated = client.get(f"{V3}/auth/tokens", headers=h.auth(subject, subject))
    assert validated.json()["token"]["system"] == {"all": True}


def test_a_user_without_a_system_role_gets_401_for_a_system_scope(client, h):
    resp = client.post(f"{V3}/auth/tokens",
                       json=h.password_body("demo", h.DEMO_PASSWORD, system=True))
    assert resp.status_code == 401, resp.text
    assert resp.json()["error"]["code"] == 401


def test_a_system_scope_other_than_all_is_400(client, h):
    body = h.password_body("admin", h.ADMIN_PASSWORD)
    body["auth"]["scope"] = {"system": {"all": False}}
    resp = client.post(f"{V3}/auth/tokens", json=body)
    assert resp.status_code == 400, resp.text


def test_a_system_admin_may_use_the_identity_admin_api(client, h):
    token = h.token("admin", h.ADMIN_PASSWORD, system=True)
    resp = client.post(f"{V3}/projects", headers=h.auth(token),
                       json={"project": {"name": "by-system-admin"}})
    assert resp.status_code == 201, resp.text
    assert client.get(f"{V3}/auth/catalog", headers=h.auth(token)).status_code == 200


def test_system_grants_list_check_revoke_and_assignments(client, h, clock, admin_token,
                                                        demo_token):
    demo_id = client.get(f"{V3}/auth/tokens", headers=h.auth(demo_token, demo_token)
                         ).json()["token"]["user"]["id"]
    reader = _role_id(client, h, admin_token, "reader")
    grant = f"{V3}/system/users/{demo_id}/roles/{reader}"
    assert client.head(grant, headers=h.auth(admin_token)).status_code == 404
    assert client.put(grant, headers=h.auth(demo_token)).status_code == 403
    assert client.put(grant, headers=h.auth(admin_token)).status_code == 204
    assert client.head(grant, headers=h.auth(admin_token)).status_code == 204
    listed = client.get(f"{V3}/system/users/{demo_id}/roles", headers=h.auth(demo_token))
    assert [r["name"] for r in listed.json()["roles"]] == ["reader"]
    assert client.get(f"{V3}/auth/system", headers=h.auth(demo_token)).json()["system"] == [
        {"all": True}]

    system_token = h.token("demo", h.DEMO_PASSWORD, system=True)
    found = client.get(f"{V3}/role_assignments?scope.system=all&user.id={demo_id}",
                       headers=h.auth(admin_token)).json()["role_assignments"]
    assert [(a["role"]["id"], a["scope"]) for a in found] == [(reader,
                                                               {"system": {"all": True}})]
    assert found[0]["links"]["assignment"].endswith(f"/v3/system/users/{demo_id}/roles/{reader}")
    only_projects = client.get(f"{V3}/role_assignments?scope.project.id=x&user.id={demo_id}",
                               headers=h.auth(admin_token)).json()["role_assignments"]
    assert only_projects == []

    assert client.delete(grant, headers=h.auth(admin_token)).status_code == 204
    # The role is gone, and so is every token that could still carry it.
    assert client.get(f"{V3}/auth/tokens", headers=h.auth(system_token)).status_code == 401
    assert client.delete(grant, headers=h.auth(admin_token)).status_code == 404
    clock.advance(1)   # a token issued in the same instant as a revocation is revoked too
    assert client.get(f"{V3}/auth/system",
                      headers=h.auth(h.token("demo", h.DEMO_PASSWORD, project="demo"))
                      ).json()["system"] == []


def test_a_system_scoped_context_has_no_project(manager, h):
    token = h.token("admin", h.ADMIN_PASSWORD, system=True)
    ctx = manager.authenticate(token, request_id="req-1")
    assert ctx.system_scope == "all" and ctx.project_id is None and ctx.is_admin
