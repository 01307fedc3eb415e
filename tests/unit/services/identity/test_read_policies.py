"""Who may read /v3/roles and /v3/domains: Keystone's default policies, not any token."""
from __future__ import annotations

import pytest

from overcast.context import RequestContext
from overcast.errors import Forbidden
from services.identity import policy

V3 = "/identity/v3"


def _forbidden(resp, action: str) -> None:
    assert resp.status_code == 403, resp.text
    assert resp.json()["error"] == {
        "code": 403, "title": "Forbidden",
        "message": f"You are not authorized to perform the requested action: identity:{action}."}


@pytest.fixture
def member_role_id(client, h, admin_token) -> str:
    return client.get(f"{V3}/roles?name=member", headers=h.auth(admin_token)).json()[
        "roles"][0]["id"]


def test_member_could_list_roles(client, h, demo_token):
    _forbidden(client.get(f"{V3}/roles", headers=h.auth(demo_token)), "list_roles")


def test_member_could_show_a_role(client, h, demo_token, member_role_id):
    _forbidden(client.get(f"{V3}/roles/{member_role_id}", headers=h.auth(demo_token)),
               "get_role")


def test_member_refused_a_missing_role_the_same_way_as_an_existing_one(client, h, demo_token):
    _forbidden(client.get(f"{V3}/roles/nonexistent", headers=h.auth(demo_token)), "get_role")


def test_admin_still_lists_and_shows_roles(client, h, admin_token, member_role_id):
    names = {r["name"] for r in client.get(f"{V3}/roles", headers=h.auth(admin_token)).json()[
        "roles"]}
    assert {"admin", "member", "reader"} <= names
    assert client.get(f"{V3}/roles/{member_role_id}",
                      headers=h.auth(admin_token)).status_code == 200
    assert client.get(f"{V3}/roles/nonexistent", headers=h.auth(admin_token)).status_code == 404


def test_project_scoped_member_could_list_domains(client, h, demo_token):
    _forbidden(client.get(f"{V3}/domains", headers=h.auth(demo_token)), "list_domains")


def test_unscoped_member_could_list_and_show_domains(client, h):
    token = h.token("demo", h.DEMO_PASSWORD)
    _forbidden(client.get(f"{V3}/domains", headers=h.auth(token)), "list_domains")
    _forbidden(client.get(f"{V3}/domains/default", headers=h.auth(token)), "get_domain")


def test_domain_scoped_reader_lists_only_its_domain(client, h, admin_token):
    other = client.post(f"{V3}/domains", headers=h.auth(admin_token),
                        json={"domain": {"name": "elsewhere"}}).json()["domain"]
    token = h.token("demo", h.DEMO_PASSWORD, domain="default")
    resp = client.get(f"{V3}/domains", headers=h.auth(token))
    assert [d["id"] for d in resp.json()["domains"]] == ["default"]
    assert client.get(f"{V3}/domains/default", headers=h.auth(token)).status_code == 200
    _forbidden(client.get(f"{V3}/domains/{other['id']}", headers=h.auth(token)), "get_domain")


def test_member_reads_its_own_projects_domain_only(client, h, demo_token, admin_token):
    other = client.post(f"{V3}/domains", headers=h.auth(admin_token),
                        json={"domain": {"name": "elsewhere"}}).json()["domain"]
    assert client.get(f"{V3}/domains/default", headers=h.auth(demo_token)).json()[
        "domain"]["name"] == "Default"
    _forbidden(client.get(f"{V3}/domains/{other['id']}", headers=h.auth(demo_token)),
               "get_domain")
    _forbidden(client.get(f"{V3}/domains/nonexistent", headers=h.auth(demo_token)),
               "get_domain")
    assert client.get(f"{V3}/domains/nonexistent",
                      headers=h.auth(admin_token)).status_code == 404


def _ctx(*roles: str, project: str | None = None, domain: str | None = None) -> RequestContext:
    return RequestContext(user_id="u", project_id=project, domain_id=domain, roles=roles)


def test_domain_manager_lists_roles_and_sees_only_the_roles_it_may_assign():
    manager = _ctx("manager", "member", "reader", domain="d")
    policy.enforce_list_roles(manager)
    policy.enforce_get_role(manager, "member")
    with pytest.raises(Forbidden):
        policy.enforce_get_role(manager, "admin")
    with pytest.raises(Forbidden):
        policy.enforce_list_roles(_ctx("manager", project="p", domain="d"))


def test_domain_scoped_token_without_a_reader_role_may_not_list_domains():
    with pytest.raises(Forbidden):
        policy.domains_visible_in_list(_ctx("observer", domain="d"))
    assert policy.domains_visible_in_list(_ctx("member", domain="d")) == "d"
    assert policy.domains_visible_in_list(_ctx("admin", project="p", domain="d")) is None


def test_system_reader_reads_every_role_and_domain():
    system_reader = RequestContext(user_id="u", roles=("reader",), system_scope="all")
    policy.enforce_list_roles(system_reader)
    policy.enforce_get_role(system_reader, "admin")
    assert policy.domains_visible_in_list(system_reader) is None
    policy.enforce_get_domain(system_reader, "any-domain")


def test_system_reader_lists_roles_and_domains_over_rest(client, h, admin_token, demo_token,
                                                        member_role_id):
    demo_id = client.get(f"{V3}/auth/tokens", headers=h.auth(demo_token, demo_token)
                         ).json()["token"]["user"]["id"]
    reader = client.get(f"{V3}/roles?name=reader", headers=h.auth(admin_token)).json()[
        "roles"][0]["id"]
    assert client.put(f"{V3}/system/users/{demo_id}/roles/{reader}",
                      headers=h.auth(admin_token)).status_code == 204
    token = h.token("demo", h.DEMO_PASSWORD, system=True)
    assert client.get(f"{V3}/roles", headers=h.auth(token)).status_code == 200
    assert client.get(f"{V3}/roles/{member_role_id}", headers=h.auth(token)).status_code == 200
    assert client.get(f"{V3}/domains", headers=h.auth(token)).json()["domains"][0]["id"] == \
        "default"
    assert client.get(f"{V3}/domains/default", headers=h.auth(token)).status_code == 200
    # Still only a reader: writing roles stays the admin's.
    assert client.post(f"{V3}/roles", headers=h.auth(token),
                       json={"role": {"name": "sneaky"}}).status_code == 403
