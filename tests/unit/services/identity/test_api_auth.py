"""POST/GET/HEAD/DELETE /v3/auth/tokens and the rest of /v3/auth, through the api app."""
from __future__ import annotations

import datetime
import re

import pytest

TOKENS = "/identity/v3/auth/tokens"
ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
AUTH_REQUIRED = "The request you have made requires authentication."


def test_versions_document_is_300_with_absolute_v3_link(client):
    for path in ("/identity", "/identity/"):
        resp = client.get(path)
        assert resp.status_code == 300
        (v3,) = resp.json()["versions"]["values"]
        assert v3["id"] == "v3.14" and v3["status"] == "stable"
        assert v3["links"] == [{"rel": "self", "href": "http://testserver/identity/v3/"}]
    for path in ("/identity/v3", "/identity/v3/"):
        resp = client.get(path)
        assert resp.status_code == 200
        version = resp.json()["version"]
        assert version["id"] == "v3.14"
        assert version["media-types"][0]["type"] == "application/vnd.openstack.identity-v3+json"


def test_password_auth_with_project_scope(client, h, manager):
    resp = client.post(TOKENS, json=h.password_body("admin", h.ADMIN_PASSWORD, project="admin"))
    assert resp.status_code == 201
    assert resp.headers["X-Subject-Token"]
    token = resp.json()["token"]
    assert token["methods"] == ["password"]
    assert token["user"]["name"] == "admin"
    assert token["user"]["domain"] == {"id": "default", "name": "Default"}
    assert token["user"]["password_expires_at"] is None
    assert token["project"]["name"] == "admin"
    assert token["project"]["domain"] == {"id": "default", "name": "Default"}
    assert token["is_domain"] is False
    assert sorted(r["name"] for r in token["roles"]) == ["admin", "member", "reader"]
    assert all(set(r) == {"id", "name"} for r in token["roles"])
    assert len(token["audit_ids"]) == 1
    assert ISO.match(token["issued_at"]) and ISO.match(token["expires_at"])
    issued = datetime.datetime.fromisoformat(token["issued_at"].replace("Z", "+00:00"))
    expires = datetime.datetime.fromisoformat(token["expires_at"].replace("Z", "+00:00"))
    assert (expires - issued).total_seconds() == manager.token_ttl
    types = {svc["type"]: svc for svc in token["catalog"]}
    assert set(types) == set(h.ENDPOINTS)
    assert types["compute"]["name"] == "nova" and types["identity"]["name"] == "keystone"
    endpoints = types["compute"]["endpoints"]
    assert {e["interface"] for e in endpoints} == {"public", "internal", "admin"}
    assert all(e["url"] == h.ENDPOINTS["compute"] and e["region"] == "RegionOne"
               and e["region_id"] == "RegionOne" and e["id"] for e in endpoints)


def test_auth_by_user_id_and_project_id(client, h, manager):
    admin = manager.users.find_user(name="admin", domain_id="default")
    project = manager.resources.find_project(name="admin", domain_id="default")
    body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "id": admin.id, "password": h.ADMIN_PASSWORD}}},
        "scope": {"project": {"id": project.id}}}}
    resp = client.post(TOKENS + "?nocatalog", json=body)
    assert resp.status_code == 201
    assert resp.json()["token"]["project"]["id"] == project.id
    assert "catalog" not in resp.json()["token"]


def test_unscoped_token_has_no_roles_or_catalog(client, h):
    resp = client.post(TOKENS, json=h.password_body("demo", h.DEMO_PASSWORD))
    assert resp.status_code == 201
    token = resp.json()["token"]
    assert "project" not in token and "roles" not in token and "catalog" not in token


def test_domain_scoped_token(client, h):
    resp = client.post(TOKENS, json=h.password_body("admin", h.ADMIN_PASSWORD,
                                                   domain="default"))
    assert resp.status_code == 201
    token = resp.json()["token"]
    assert token["domain"] == {"id": "default", "name": "Default"}
    assert "admin" in {r["name"] for r in token["roles"]}


@pytest.mark.parametrize("user,password,project", [
    ("admin", "wrong", "admin"),
    ("nobody", "whatever", "admin"),
    ("demo", "demo-secret", "admin"),      # demo holds no role on the admin project
    ("demo", "demo-secret", "no-such-project"),
])
def test_bad_credentials_or_scope_are_401(client, h, user, password, project):
    resp = client.post(TOKENS, json=h.password_body(user, password, project=project))
    assert resp.status_code == 401
    assert resp.json()["error"]["code"] == 401
    assert "WWW-Authenticate" in resp.headers


@pytest.mark.parametrize("raw", [b"{not json", b"", b"[]", b'{"auth": 3}',
                                 b'{"auth": {"identity": {"methods": []}}}',
                                 b'{"auth": {"identity": {"methods": ["password"]}}}',
                                 b'{"auth": {"identity": {"methods": ["password"], "password":'
                                 b' {"user": {"name": "admin", "password": "x"}}}}}'])
def test_malformed_auth_requests_are_400_in_keystone_format(client, raw):
    resp = client.post(TOKENS, content=raw, headers={"Content-Type": "application/json"})
    assert resp.status_code == 400
    error = resp.json()["error"]
    assert error["code"] == 400 and error["title"] == "Bad Request" and error["message"]


def test_unsupported_method_is_401(client):
    body = {"auth": {"identity": {"methods": ["totp"], "totp": {}}}}
    assert client.post(TOKENS, json=body).status_code == 401


def test_validate_check_and_revoke(client, h, admin_token, demo_token):
    resp = client.get(TOKENS, headers=h.auth(admin_token, demo_token))
    assert resp.status_code == 200
    assert resp.headers["X-Subject-Token"] == demo_token
    assert resp.json()["token"]["user"]["name"] == "demo"
    assert client.head(TOKENS, headers=h.auth(admin_token, demo_token)).status_code == 200
    # A user may validate their own token, not someone else's.
    assert client.get(TOKENS, headers=h.auth(demo_token, demo_token)).status_code == 200
    assert client.get(TOKENS, headers=h.auth(demo_token, admin_token)).status_code == 403

    assert client.delete(TOKENS, headers=h.auth(demo_token, demo_token)).status_code == 204
    assert client.get("/identity/v3/auth/projects", headers=h.auth(demo_token)).status_code \
        == 401
    resp = client.get(TOKENS, headers=h.auth(admin_token, demo_token))
    assert resp.status_code == 404 and resp.json()["error"]["code"] == 404
    assert client.head(TOKENS, headers=h.auth(admin_token, demo_token)).status_code == 404
    assert client.delete(TOKENS, headers=h.auth(admin_token, demo_token)).status_code == 404


def test_revocation_survives_restart(client, h, demo_token, make_manager, client_for):
    assert client.delete(TOKENS, headers=h.auth(demo_token, demo_token)).status_code == 204
    restarted = client_for(make_manager())
    assert restarted.get("/identity/v3/auth/projects",
                         headers=h.auth(demo_token)).status_code == 401


def test_missing_or_garbage_tokens_are_401(client, h):
    assert client.get("/identity/v3/auth/projects").status_code == 401
    resp = client.get("/identity/v3/auth/projects", headers=h.auth("garbage"))
    assert resp.status_code == 401
    assert resp.json() == {"error": {"code": 401, "title": "Unauthorized",
                                     "message": AUTH_REQUIRED}}


def test_forged_signature_is_401(client, h, demo_token):
    body, _, sig = demo_token.partition(".")
    flipped = sig[:10] + ("A" if sig[10] != "A" else "B") + sig[11:]
    resp = client.get("/identity/v3/auth/projects", headers=h.auth(body + "." + flipped))
    assert resp.status_code == 401


def test_token_from_another_key_is_401(client, h, make_manager, client_for, tmp_path):
    # Same database (same users), different signing key.
    other = client_for(make_manager(key_dir=tmp_path / "other-keys"))
    foreign = other.post(TOKENS, json=h.password_body("demo", h.DEMO_PASSWORD,
                                                      project="demo"))
    assert foreign.status_code == 201
    resp = client.get("/identity/v3/auth/projects",
                      headers=h.auth(foreign.headers["X-Subject-Token"]))
    assert resp.status_code == 401


def test_expired_token_is_401_and_404_on_validate(client, h, clock, admin_token, demo_token,
                                                  manager):
    clock.advance(manager.token_ttl - 1)
    assert client.get("/identity/v3/auth/projects", headers=h.auth(demo_token)).status_code \
        == 200
    fresh_admin = h.token("admin", h.ADMIN_PASSWORD, project="admin")
    clock.advance(2)
    assert client.get("/identity/v3/auth/projects", headers=h.auth(demo_token)).status_code \
        == 401
    assert client.get(TOKENS, headers=h.auth(fresh_admin, demo_token)).status_code == 404


def test_keys_persist_across_restart(client, h, demo_token, make_manager, client_for):
    second = client_for(make_manager())
    resp = second.get("/identity/v3/auth/projects", headers=h.auth(demo_token))
    assert resp.status_code == 200
    assert [p["name"] for p in resp.json()["projects"]] == ["demo"]


def test_rescope_with_token_method(client, h, manager):
    unscoped = h.token("admin", h.ADMIN_PASSWORD)
    body = {"auth": {"identity": {"methods": ["token"], "token": {"id": unscoped}},
                     "scope": {"project": {"name": "demo", "domain": {"id": "default"}}}}}
    # admin holds no role on demo yet
    assert client.post(TOKENS, json=body).status_code == 401
    body["auth"]["scope"] = {"project": {"name": "admin", "domain": {"id": "default"}}}
    resp = client.post(TOKENS, json=body)
    assert resp.status_code == 201
    token = resp.json()["token"]
    assert token["methods"] == ["token", "password"]
    parent = manager.validate_token(unscoped)
    assert token["audit_ids"][1] == parent.audit_ids[0]
    rescoped = resp.headers["X-Subject-Token"]
    # Revoking the parent revokes the token rescoped from it.
    assert client.delete(TOKENS, headers=h.auth(unscoped, unscoped)).status_code == 204
    assert client.get("/identity/v3/auth/catalog", headers=h.auth(rescoped)).status_code == 401


def test_default_project_scopes_an_unscoped_request(client, h, admin_token):
    projects = client.get("/identity/v3/projects?name=demo", headers=h.auth(admin_token))
    demo_project = projects.json()["projects"][0]["id"]
    demo_user = client.get("/identity/v3/users?name=demo", headers=h.auth(admin_token))
    user_id = demo_user.json()["users"][0]["id"]
    resp = client.patch(f"/identity/v3/users/{user_id}", headers=h.auth(admin_token),
                        json={"user": {"default_project_id": demo_project}})
    assert resp.status_code == 200
    resp = client.post(TOKENS, json=h.password_body("demo", h.DEMO_PASSWORD))
    assert resp.json()["token"]["project"]["id"] == demo_project
    body = h.password_body("demo", h.DEMO_PASSWORD)
    body["auth"]["scope"] = "unscoped"
    assert "project" not in client.post(TOKENS, json=body).json()["token"]


def test_auth_catalog_projects_domains(client, h, demo_token):
    resp = client.get("/identity/v3/auth/catalog", headers=h.auth(demo_token))
    assert resp.status_code == 200
    assert {s["type"] for s in resp.json()["catalog"]} == set(h.ENDPOINTS)
    assert resp.json()["links"]["next"] is None
    resp = client.get("/identity/v3/auth/projects", headers=h.auth(demo_token))
    assert [p["name"] for p in resp.json()["projects"]] == ["demo"]
    resp = client.get("/identity/v3/auth/domains", headers=h.auth(demo_token))
    assert [d["id"] for d in resp.json()["domains"]] == ["default"]
    unscoped = h.token("demo", h.DEMO_PASSWORD)
    assert client.get("/identity/v3/auth/catalog", headers=h.auth(unscoped)).status_code \
        == 403


def test_authenticate_returns_request_context(manager, demo_token):
    ctx = manager.authenticate(demo_token, request_id="req-42")
    assert ctx.request_id == "req-42"
    assert ctx.user_name == "demo" and ctx.project_name == "demo"
    assert ctx.domain_id == "default"
    assert set(ctx.roles) == {"member", "reader"} and not ctx.is_admin
    assert ctx.user_id and ctx.project_id
