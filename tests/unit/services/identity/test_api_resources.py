"""Domains, projects, users, roles, assignments and catalog administration over REST."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from services.identity.models import User

V3 = "/identity/v3"


def make_user(client, h, token, name, password, project=None):
    body = {"user": {"name": name, "password": password, "email": f"{name}@example.com"}}
    resp = client.post(f"{V3}/users", headers=h.auth(token), json=body)
    assert resp.status_code == 201, resp.text
    user = resp.json()["user"]
    if project is not None:
        role = client.get(f"{V3}/roles?name=member", headers=h.auth(token)).json()["roles"][0]
        resp = client.put(f"{V3}/projects/{project}/users/{user['id']}/roles/{role['id']}",
                          headers=h.auth(token))
        assert resp.status_code == 204
    return user


def make_project(client, h, token, name):
    resp = client.post(f"{V3}/projects", headers=h.auth(token), json={"project": {"name": name}})
    assert resp.status_code == 201, resp.text
    return resp.json()["project"]


@pytest.mark.parametrize("method,path,body", [
    ("GET", "/users", None),
    ("POST", "/users", {"user": {"name": "x"}}),
    ("POST", "/projects", {"project": {"name": "x"}}),
    ("POST", "/roles", {"role": {"name": "x"}}),
    ("POST", "/domains", {"domain": {"name": "x"}}),
    ("GET", "/services", None),
    ("GET", "/endpoints", None),
    ("GET", "/role_assignments", None),
])
def test_member_is_forbidden_on_admin_apis(client, h, demo_token, method, path, body):
    resp = client.request(method, V3 + path, headers=h.auth(demo_token), json=body)
    assert resp.status_code == 403
    assert resp.json()["error"]["code"] == 403


def test_member_sees_only_own_projects(client, h, demo_token, admin_token):
    resp = client.get(f"{V3}/projects", headers=h.auth(demo_token))
    assert resp.status_code == 200
    assert [p["name"] for p in resp.json()["projects"]] == ["demo"]
    assert resp.json()["links"] == {"self": "http://testserver/identity/v3/projects",
                                    "next": None, "previous": None}
    admin_view = client.get(f"{V3}/projects", headers=h.auth(admin_token)).json()["projects"]
    assert {p["name"] for p in admin_view} == {"admin", "demo"}
    admin_project = next(p for p in admin_view if p["name"] == "admin")
    assert client.get(f"{V3}/projects/{admin_project['id']}",
                      headers=h.auth(demo_token)).status_code == 403
    me = h.client.get(f"{V3}/auth/tokens", headers=h.auth(demo_token, demo_token))
    user_id = me.json()["token"]["user"]["id"]
    resp = client.get(f"{V3}/users/{user_id}/projects", headers=h.auth(demo_token))
    assert [p["name"] for p in resp.json()["projects"]] == ["demo"]
    assert client.get(f"{V3}/users/{user_id}", headers=h.auth(demo_token)).status_code == 200
    admin_id = client.get(f"{V3}/users?name=admin",
                          headers=h.auth(admin_token)).json()["users"][0]["id"]
    assert client.get(f"{V3}/users/{admin_id}", headers=h.auth(demo_token)).status_code == 403
    resp = client.get(f"{V3}/role_assignments?user.id={user_id}", headers=h.auth(demo_token))
    assert resp.status_code == 200 and len(resp.json()["role_assignments"]) == 2
    resp = client.get(f"{V3}/domains", headers=h.auth(demo_token))
    assert [d["id"] for d in resp.json()["domains"]] == ["default"]


def test_project_lifecycle(client, h, admin_token):
    project = make_project(client, h, admin_token, "web")
    assert project["domain_id"] == "default" and project["enabled"] is True
    assert project["links"]["self"].endswith(f"/identity/v3/projects/{project['id']}")
    dup = client.post(f"{V3}/projects", headers=h.auth(admin_token),
                      json={"project": {"name": "web"}})
    assert dup.status_code == 409 and dup.json()["error"]["code"] == 409
    resp = client.patch(f"{V3}/projects/{project['id']}", headers=h.auth(admin_token),
                        json={"project": {"description": "frontends", "tags": ["a"]}})
    assert resp.status_code == 200
    assert resp.json()["project"]["description"] == "frontends"
    assert resp.json()["project"]["tags"] == ["a"]
    resp = client.get(f"{V3}/projects?name=web", headers=h.auth(admin_token))
    assert [p["id"] for p in resp.json()["projects"]] == [project["id"]]
    assert client.delete(f"{V3}/projects/{project['id']}",
                         headers=h.auth(admin_token)).status_code == 204
    for method in ("GET", "PATCH", "DELETE"):
        resp = client.request(method, f"{V3}/projects/{project['id']}",
                              headers=h.auth(admin_token), json={"project": {"name": "z"}})
        assert resp.status_code == 404, method
        assert resp.json()["error"]["title"] == "Not Found"


@pytest.mark.parametrize("name,status", [("p" * 64, 201), ("p" * 65, 400), ("", 400),
                                         ("   ", 400), (7, 400)])
def test_project_name_limits(client, h, admin_token, name, status):
    resp = client.post(f"{V3}/projects", headers=h.auth(admin_token),
                       json={"project": {"name": name}})
    assert resp.status_code == status


@pytest.mark.parametrize("body", [{"project": "x"}, {"nope": {}}, [1]])
def test_project_body_shape_errors_are_400(client, h, admin_token, body):
    resp = client.post(f"{V3}/projects", headers=h.auth(admin_token), json=body)
    assert resp.status_code == 400
    assert resp.json()["error"]["code"] == 400


def test_project_unknown_domain_is_404(client, h, admin_token):
    resp = client.post(f"{V3}/projects", headers=h.auth(admin_token),
                       json={"project": {"name": "x", "domain_id": "nope"}})
    assert resp.status_code == 404


def test_user_lifecycle_and_password_storage(client, h, admin_token, manager, tmp_path):
    project = make_project(client, h, admin_token, "team")
    user = make_user(client, h, admin_token, "carol", "c4rol-pw-XYZ", project=project["id"])
    assert "password" not in user and user["email"] == "carol@example.com"
    assert user["password_expires_at"] is None
    with manager.db.session() as s:
        stored = s.scalar(select(User.password_hash).where(User.name == "carol"))
    assert stored.startswith("scrypt$") and "c4rol-pw-XYZ" not in stored
    for path in tmp_path.glob("identity.db*"):
        assert b"c4rol-pw-XYZ" not in path.read_bytes()

    token = h.token("carol", "c4rol-pw-XYZ", project="team")
    dup = client.post(f"{V3}/users", headers=h.auth(admin_token),
                      json={"user": {"name": "carol"}})
    assert dup.status_code == 409
    long_name = client.post(f"{V3}/users", headers=h.auth(admin_token),
                            json={"user": {"name": "u" * 256}})
    assert long_name.status_code == 400

    # Disabling the user revokes their tokens and stops new ones.
    resp = client.patch(f"{V3}/users/{user['id']}", headers=h.auth(admin_token),
                        json={"user": {"enabled": False}})
    assert resp.status_code == 200 and resp.json()["user"]["enabled"] is False
    assert client.get(f"{V3}/auth/projects", headers=h.auth(token)).status_code == 401
    resp = client.post(f"{V3}/auth/tokens", json=h.password_body("carol", "c4rol-pw-XYZ"))
    assert resp.status_code == 401
    assert client.delete(f"{V3}/users/{user['id']}",
                         headers=h.auth(admin_token)).status_code == 204
    assert client.get(f"{V3}/users/{user['id']}", headers=h.auth(admin_token)).status_code \
        == 404


def test_password_change(client, h, admin_token):
    user = make_user(client, h, admin_token, "dave", "old-pw")
    token = h.token("dave", "old-pw")
    path = f"{V3}/users/{user['id']}/password"
    wrong = client.post(path, json={"user": {"password": "new-pw",
                                             "original_password": "nope"}})
    assert wrong.status_code == 401
    assert client.post(path, json={"user": {"password": "new-pw"}}).status_code == 400
    ok = client.post(path, headers=h.auth(token),
                     json={"user": {"password": "new-pw", "original_password": "old-pw"}})
    assert ok.status_code == 204
    assert client.get(f"{V3}/auth/projects", headers=h.auth(token)).status_code == 401
    assert client.post(f"{V3}/auth/tokens",
                       json=h.password_body("dave", "old-pw")).status_code == 401
    h.token("dave", "new-pw")


def test_role_assignments(client, h, admin_token):
    project = make_project(client, h, admin_token, "ops")
    user = make_user(client, h, admin_token, "erin", "erin-pw")
    roles = client.get(f"{V3}/roles", headers=h.auth(admin_token)).json()
    by_name = {r["name"]: r for r in roles["roles"]}
    assert set(by_name) == {"admin", "member", "reader"}
    assert roles["links"]["self"] == "http://testserver/identity/v3/roles"
    grant = f"{V3}/projects/{project['id']}/users/{user['id']}/roles/{by_name['reader']['id']}"

    assert client.head(grant, headers=h.auth(admin_token)).status_code == 404
    assert client.put(grant, headers=h.auth(admin_token)).status_code == 204
    assert client.put(grant, headers=h.auth(admin_token)).status_code == 204  # idempotent
    assert client.head(grant, headers=h.auth(admin_token)).status_code == 204
    listed = client.get(f"{V3}/projects/{project['id']}/users/{user['id']}/roles",
                        headers=h.auth(admin_token))
    assert [r["name"] for r in listed.json()["roles"]] == ["reader"]

    resp = client.get(f"{V3}/role_assignments?user.id={user['id']}"
                      f"&scope.project.id={project['id']}&include_names",
                      headers=h.auth(admin_token))
    (assignment,) = resp.json()["role_assignments"]
    assert assignment["role"] == {"id": by_name["reader"]["id"], "name": "reader"}
    assert assignment["user"]["name"] == "erin"
    assert assignment["user"]["domain"] == {"id": "default", "name": "Default"}
    assert assignment["scope"]["project"]["name"] == "ops"
    assert assignment["links"]["assignment"].endswith(grant.removeprefix("/identity"))
    resp = client.get(f"{V3}/role_assignments?role.id={by_name['admin']['id']}",
                      headers=h.auth(admin_token))
    # only admin holds admin: on the admin project and, as bootstrap grants, on the system
    scopes = [a["scope"] for a in resp.json()["role_assignments"]]
    assert len(scopes) == 2 and {"system": {"all": True}} in scopes
    assert "name" not in resp.json()["role_assignments"][0]["role"]
    resp = client.get(f"{V3}/role_assignments?group.id=g1", headers=h.auth(admin_token))
    assert resp.json()["role_assignments"] == []

    token = h.token("erin", "erin-pw", project="ops")
    assert client.delete(grant, headers=h.auth(admin_token)).status_code == 204
    assert client.delete(grant, headers=h.auth(admin_token)).status_code == 404
    assert client.head(grant, headers=h.auth(admin_token)).status_code == 404
    # Losing the role revokes the tokens that carried it, and no new one is issued.
    assert client.get(f"{V3}/auth/projects", headers=h.auth(token)).status_code == 401
    resp = client.post(f"{V3}/auth/tokens", json=h.password_body("erin", "erin-pw",
                                                                 project="ops"))
    assert resp.status_code == 401
    missing = f"{V3}/projects/{project['id']}/users/nobody/roles/{by_name['reader']['id']}"
    assert client.put(missing, headers=h.auth(admin_token)).status_code == 404


def test_roles_create_conflict_delete(client, h, admin_token):
    resp = client.post(f"{V3}/roles", headers=h.auth(admin_token),
                       json={"role": {"name": "auditor"}})
    assert resp.status_code == 201
    role = resp.json()["role"]
    assert client.post(f"{V3}/roles", headers=h.auth(admin_token),
                       json={"role": {"name": "auditor"}}).status_code == 409
    assert client.get(f"{V3}/roles/{role['id']}", headers=h.auth(admin_token)).json()[
        "role"]["name"] == "auditor"
    assert client.delete(f"{V3}/roles/{role['id']}",
                         headers=h.auth(admin_token)).status_code == 204
    assert client.get(f"{V3}/roles/{role['id']}",
                      headers=h.auth(admin_token)).status_code == 404


def test_disabling_or_deleting_a_project_revokes_its_tokens(client, h, admin_token):
    project = make_project(client, h, admin_token, "tmp")
    make_user(client, h, admin_token, "fred", "fred-pw", project=project["id"])
    token = h.token("fred", "fred-pw", project="tmp")
    client.patch(f"{V3}/projects/{project['id']}", headers=h.auth(admin_token),
                 json={"project": {"enabled": False}})
    assert client.get(f"{V3}/auth/projects", headers=h.auth(token)).status_code == 401
    resp = client.post(f"{V3}/auth/tokens", json=h.password_body("fred", "fred-pw",
                                                                 project="tmp"))
    assert resp.status_code == 401


def test_domains(client, h, admin_token):
    resp = client.post(f"{V3}/domains", headers=h.auth(admin_token),
                       json={"domain": {"name": "corp", "description": "Corp"}})
    assert resp.status_code == 201
    domain = resp.json()["domain"]
    assert client.post(f"{V3}/domains", headers=h.auth(admin_token),
                       json={"domain": {"name": "corp"}}).status_code == 409
    names = {d["name"] for d in client.get(f"{V3}/domains",
                                           headers=h.auth(admin_token)).json()["domains"]}
    assert names == {"Default", "corp"}
    resp = client.delete(f"{V3}/domains/{domain['id']}", headers=h.auth(admin_token))
    assert resp.status_code == 403   # still enabled
    client.patch(f"{V3}/domains/{domain['id']}", headers=h.auth(admin_token),
                 json={"domain": {"enabled": False}})
    assert client.delete(f"{V3}/domains/{domain['id']}",
                         headers=h.auth(admin_token)).status_code == 204
    assert client.get(f"{V3}/domains/{domain['id']}",
                      headers=h.auth(admin_token)).status_code == 404


def test_catalog_admin_apis(client, h, admin_token, demo_token):
    services = client.get(f"{V3}/services", headers=h.auth(admin_token)).json()
    assert {s["type"]: s["name"] for s in services["services"]} == {
        "identity": "keystone", "compute": "nova", "image": "glance", "network": "neutron"}
    endpoints = client.get(f"{V3}/endpoints?interface=public",
                           headers=h.auth(admin_token)).json()["endpoints"]
    assert sorted(e["url"] for e in endpoints) == sorted(h.ENDPOINTS.values())
    assert all(e["region_id"] == "RegionOne" and e["service_id"] for e in endpoints)
    regions = client.get(f"{V3}/regions", headers=h.auth(demo_token)).json()
    assert [r["id"] for r in regions["regions"]] == ["RegionOne"]
