"""Identity (``/identity/v3``): token requests, users, projects, domains, roles, grants and
list queries. Updates go to resources the suite made, never to the admin's own."""
from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz import strategies as s
from tests.fuzz.invariants import check, listed_ids
from tests.fuzz.target import examples

API = "/identity/v3"


@pytest.fixture(scope="module")
def own(target):
    """A domain, project and user the suite made, for updates and grants."""
    made = {}
    for kind, body in (("domain", {"name": "fuzz-domain"}),
                       ("project", {"name": "fuzz-project"}),
                       ("user", {"name": "fuzz-user", "password": "fuzz-secret-1"})):
        response = target.request("POST", f"{API}/{kind}s", json={kind: body})
        assert response.status_code == 201, response.text
        made[kind] = response.json()[kind]["id"]
    return made


IDS = st.one_of(st.sampled_from(["default"]), s.UUIDS, s.TEXT)
PASSWORD_USER = st.fixed_dictionaries({}, optional={
    "name": st.sampled_from(["admin", "demo", "nobody"]), "id": IDS,
    "password": s.TEXT, "domain": st.fixed_dictionaries({}, optional={"id": IDS,
                                                                      "name": s.TEXT})})
SCOPES = st.one_of(st.none(), st.sampled_from(["unscoped"]), st.fixed_dictionaries({}, optional={
    "project": st.fixed_dictionaries({}, optional={"name": s.TEXT, "id": IDS, "domain":
                                                   st.fixed_dictionaries({"id": IDS})}),
    "domain": st.fixed_dictionaries({}, optional={"id": IDS, "name": s.TEXT}),
    "system": st.fixed_dictionaries({}, optional={"all": s.JSON})}))
AUTH = s.shaped("auth", {
    "identity": st.fixed_dictionaries({"methods": s.hostile(st.lists(st.sampled_from(
        ["password", "token", "application_credential", "totp"]), max_size=2))}, optional={
        "password": st.fixed_dictionaries({}, optional={"user": s.hostile(PASSWORD_USER)}),
        "token": st.fixed_dictionaries({}, optional={"id": s.TEXT})}),
    "scope": SCOPES}, required=("identity",))


@examples(80)
@given(body=AUTH, token=s.TOKENS, nocatalog=st.booleans())
def test_token_requests(target, body, token, nocatalog):
    path = f"{API}/auth/tokens" + ("?nocatalog" if nocatalog else "")
    check(target, target.request("POST", path, json=body, token=token))
    for method in ("GET", "HEAD"):
        check(target, target.request(method, f"{API}/auth/tokens", token=token,
                                     headers={"X-Subject-Token": "gAAAA-bogus"}))


FIELDS = {
    "users": ("user", {"name": st.text(min_size=1, max_size=20), "password": s.TEXT,
                       "domain_id": IDS, "default_project_id": IDS, "enabled": st.booleans(),
                       "email": s.TEXT, "description": s.TEXT, "options": s.JSON}),
    "projects": ("project", {"name": st.text(min_size=1, max_size=20), "domain_id": IDS,
                             "parent_id": IDS, "enabled": st.booleans(),
                             "is_domain": st.booleans(), "description": s.TEXT,
                             "tags": st.lists(s.TEXT, max_size=2)}),
    "domains": ("domain", {"name": st.text(min_size=1, max_size=20), "enabled": st.booleans(),
                           "description": s.TEXT}),
    "roles": ("role", {"name": st.text(min_size=1, max_size=20), "domain_id": IDS,
                       "description": s.TEXT}),
    "services": ("service", {"type": s.TEXT, "name": s.TEXT, "enabled": st.booleans()}),
    "endpoints": ("endpoint", {"service_id": IDS, "interface": st.sampled_from(
        ["public", "internal", "admin", "bogus"]), "url": s.TEXT, "region_id": IDS,
        "enabled": st.booleans()}),
}


@examples(100)
@given(collection=st.sampled_from(sorted(FIELDS)), data=st.data(),
       token=st.sampled_from(["admin", "admin", "member", "unscoped", "none"]))
def test_create_update_delete(target, own, collection, data, token):
    singular, fields = FIELDS[collection]
    body = data.draw(s.shaped(singular, fields, required=("name",)), label="body")
    # drawn before any request: what the cloud answers must not change what is drawn
    update = data.draw(s.shaped(singular, fields), label="update")
    own_update = data.draw(s.shaped(singular, fields), label="own update")
    path = f"{API}/{collection}"
    before = listed_ids(target, path, collection)
    response = target.request("POST", path, json=body, token=token)
    check(target, response)
    after = listed_ids(target, path, collection)
    if response.status_code >= 400:
        assert after <= before, f"a refused create left {collection} behind: {after - before}"
    for item_id in after - before:
        check(target, target.request("PATCH", f"{path}/{item_id}", json=update, token=token))
        if collection in ("domains", "projects"):  # a domain must be disabled to go
            target.request("PATCH", f"{path}/{item_id}", json={singular: {"enabled": False}})
        check(target, target.request("DELETE", f"{path}/{item_id}"))
    # the suite's own resources take updates of any shape, from any token
    if collection in ("users", "projects", "domains"):
        check(target, target.request("PATCH", f"{path}/{own[singular]}", json=own_update,
                                     token=token))


@examples(30)
@given(body=s.shaped("user", {"password": s.TEXT, "original_password": s.TEXT}),
       token=s.TOKENS)
def test_password_change(target, own, body, token):
    check(target, target.request("POST", f"{API}/users/{own['user']}/password", json=body,
                                 token=token))


@examples(60)
@given(method=st.sampled_from(["PUT", "HEAD", "DELETE", "GET"]), role=s.PATH_SEGMENTS,
       owner=st.sampled_from(["projects", "domains"]), token=s.TOKENS,
       query=s.query(["user.id", "group.id", "role.id", "scope.project.id",
                      "scope.domain.id", "effective", "include_names", "include_subtree"]))
def test_grants_and_assignments(target, own, method, role, owner, token, query):
    scope = own["project"] if owner == "projects" else own["domain"]
    path = f"{API}/{owner}/{scope}/users/{own['user']}/roles/{role}"
    check(target, target.request(method, path, token=token))
    check(target, target.request("GET", f"{API}/role_assignments?{query}", token=token))


LISTS = ["/users", "/projects", "/domains", "/roles", "/services", "/endpoints", "/regions",
         "/auth/catalog", "/auth/projects", "/auth/domains", "", "/../"]
LIST_QUERY = ["name", "domain_id", "enabled", "parent_id", "is_domain", "limit", "marker",
              "type", "interface", "service_id", "tags", "tags-any", "not-tags"]


@examples(100)
@given(path=st.sampled_from(LISTS), query=s.query(LIST_QUERY), token=s.TOKENS)
def test_list_queries(target, path, query, token):
    check(target, target.request("GET", f"{API}{path}?{query}", token=token))
