"""bootstrap() and register_endpoint()."""
from __future__ import annotations

from sqlalchemy import func, select

from services.identity.auth_request import parse_auth_request
from services.identity.models import Domain, Endpoint, Project, Role, RoleAssignment, Service, User

COUNTED = (Domain, Project, User, Role, RoleAssignment, Service, Endpoint)


def counts(manager):
    with manager.db.session() as s:
        return {m.__name__: s.scalar(select(func.count()).select_from(m)) for m in COUNTED}


def password_request(user, password, project=None):
    body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": user, "domain": {"id": "default"}, "password": password}}}}}
    if project:
        body["auth"]["scope"] = {"project": {"name": project, "domain": {"id": "default"}}}
    return parse_auth_request(body)


def test_bootstrap_creates_the_cloud(manager, h):
    assert counts(manager) == {"Domain": 1, "Project": 2, "User": 2, "Role": 3,
                               "RoleAssignment": 5, "Service": 4, "Endpoint": 12}
    domain = manager.resources.get_domain("default")
    assert domain.name == "Default"
    _, data = manager.issue_token(password_request("admin", h.ADMIN_PASSWORD, "admin"))
    assert set(data.role_names) == {"admin", "member", "reader"}
    _, data = manager.issue_token(password_request("demo", h.DEMO_PASSWORD, "demo"))
    assert set(data.role_names) == {"member", "reader"}


def test_bootstrap_is_idempotent_and_updates(manager, make_manager, h):
    before = counts(manager)
    manager.bootstrap(admin_password=h.ADMIN_PASSWORD, demo_password=h.DEMO_PASSWORD,
                      endpoints=h.ENDPOINTS)
    assert counts(manager) == before

    # A restart with new settings: new passwords and a moved compute endpoint.
    restarted = make_manager()
    moved = {**h.ENDPOINTS, "compute": "http://elsewhere:8774/compute/v2.1"}
    restarted.bootstrap(admin_password="new-admin", demo_password="new-demo", endpoints=moved)
    assert counts(restarted) == before
    _, _data = restarted.issue_token(password_request("admin", "new-admin", "admin"))
    urls = {e["url"] for svc in restarted.catalog.catalog() if svc["type"] == "compute"
            for e in svc["endpoints"]}
    assert urls == {moved["compute"]}


def test_register_endpoint_with_project_template(manager, h):
    manager.register_endpoint("object-store", "http://swift:8080/v1/AUTH_%(project_id)s")
    _, data = manager.issue_token(password_request("demo", h.DEMO_PASSWORD, "demo"))
    catalog = manager.catalog.catalog(project_id=data.project_id, user_id=data.user_id)
    swift = next(svc for svc in catalog if svc["type"] == "object-store")
    assert swift["name"] == "swift"
    assert {e["url"] for e in swift["endpoints"]} == {
        f"http://swift:8080/v1/AUTH_{data.project_id}"}
    # Without a project the templated endpoint cannot be filled and is left out.
    unscoped = manager.catalog.catalog()
    assert next(svc for svc in unscoped if svc["type"] == "object-store")["endpoints"] == []
