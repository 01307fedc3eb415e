"""Bad input gets OpenStack's error format and a 4xx, and creates nothing."""
from __future__ import annotations

import base64
import json
import uuid

import httpx
import pytest


@pytest.fixture(scope="module")
def api(admin):
    return admin.endpoint_for("compute").rstrip("/"), {"X-Auth-Token": admin.auth_token}


@pytest.fixture(scope="module")
def boot_body(admin):
    image = admin.image.find_image("cirros")
    return {"server": {"name": "bad-input", "imageRef": image.id, "flavorRef": "1",
                       "networks": "auto"}}


def _count(admin):
    return len(list(admin.compute.servers(all_projects=True)))


def _post(api, body, raw=None):
    endpoint, headers = api
    if raw is not None:
        return httpx.post(f"{endpoint}/servers", content=raw,
                          headers={**headers, "Content-Type": "application/json"})
    return httpx.post(f"{endpoint}/servers", json=body, headers=headers)


def _with(body, **changes):
    copy = json.loads(json.dumps(body))
    copy["server"].update(changes)
    return copy


@pytest.mark.parametrize("case, status, key", [
    ("malformed json", 400, "badRequest"),
    ("unknown flavor", 400, "badRequest"),
    ("unknown image", 400, "badRequest"),
    ("name too long", 400, "badRequest"),
    ("bad image uuid", 400, "badRequest"),
    ("bad network uuid", 400, "badRequest"),
    ("unknown network", 400, "badRequest"),
    ("bad user data", 400, "badRequest"),
    ("unknown key", 400, "badRequest"),
    ("missing server", 400, "badRequest"),
])
def test_bad_boot_requests(admin, api, boot_body, case, status, key):
    before = _count(admin)
    bodies = {
        "unknown flavor": _with(boot_body, flavorRef="no-such-flavor"),
        "unknown image": _with(boot_body, imageRef=str(uuid.uuid4())),
        "name too long": _with(boot_body, name="x" * 256),
        "bad image uuid": _with(boot_body, imageRef="not-a-uuid"),
        "bad network uuid": _with(boot_body, networks=[{"uuid": "nope"}]),
        "unknown network": _with(boot_body, networks=[{"uuid": str(uuid.uuid4())}]),
        "bad user data": _with(boot_body, user_data="%%% not base64"),
        "unknown key": _with(boot_body, key_name="no-such-key"),
        "missing server": {"servers": {}},
    }
    if case == "malformed json":
        response = _post(api, None, raw=b'{"server": {"name": ')
    else:
        response = _post(api, bodies[case])
    assert response.status_code == status, response.text
    body = response.json()
    assert body[key]["code"] == status and body[key]["message"]
    assert _count(admin) == before


def test_quota_exceeded_creates_nothing(admin, api, boot_body):
    endpoint, headers = api
    project = admin.current_project_id
    httpx.put(f"{endpoint}/os-quota-sets/{project}", headers=headers,
              json={"quota_set": {"instances": 2}}).raise_for_status()
    try:
        before = _count(admin)
        response = _post(api, _with(boot_body, min_count=3, max_count=3))
        assert response.status_code == 403, response.text
        assert "Quota exceeded for instances" in response.json()["forbidden"]["message"]
        assert _count(admin) == before
    finally:
        httpx.put(f"{endpoint}/os-quota-sets/{project}", headers=headers,
                  json={"quota_set": {"instances": 10}}).raise_for_status()


def test_bad_server_id_is_404(api):
    endpoint, headers = api
    response = httpx.get(f"{endpoint}/servers/not-a-uuid", headers=headers)
    assert response.status_code == 404
    assert response.json()["itemNotFound"]["code"] == 404


def test_unsupported_microversion_is_406(api):
    endpoint, headers = api
    response = httpx.get(f"{endpoint}/servers", headers={
        **headers, "OpenStack-API-Version": "compute 2.999"})
    assert response.status_code == 406


def test_missing_forged_and_revoked_tokens_are_401(admin, cloud):
    endpoint = admin.endpoint_for("compute").rstrip("/")
    assert httpx.get(f"{endpoint}/servers").status_code == 401
    token = admin.auth_token
    head, _, sig = token.rpartition(".")
    forged = head + "." + ("A" if sig[0] != "A" else "B") + sig[1:]
    response = httpx.get(f"{endpoint}/servers", headers={"X-Auth-Token": forged})
    assert response.status_code == 401
    assert response.json()["unauthorized"]["code"] == 401
    payload = json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))
    assert payload  # the token body is signed JSON, so tampering with it must fail too
    tampered = base64.urlsafe_b64encode(
        json.dumps({**payload, "roles": ["admin", "member"]}).encode()).decode().rstrip("=")
    response = httpx.get(f"{endpoint}/servers", headers={"X-Auth-Token": tampered + "." + sig})
    assert response.status_code == 401

    identity = admin.endpoint_for("identity").rstrip("/")
    fresh = httpx.post(f"{identity}/v3/auth/tokens", json={"auth": {
        "identity": {"methods": ["password"], "password": {"user": {
            "name": "demo", "domain": {"id": "default"},
            "password": cloud.passwords["demo_password"]}}},
        "scope": {"project": {"name": "demo", "domain": {"id": "default"}}}}})
    assert fresh.status_code == 201
    subject = fresh.headers["X-Subject-Token"]
    assert httpx.get(f"{endpoint}/servers", headers={"X-Auth-Token": subject}).status_code == 200
    revoked = httpx.delete(f"{identity}/v3/auth/tokens",
                           headers={"X-Auth-Token": subject, "X-Subject-Token": subject})
    assert revoked.status_code == 204
    assert httpx.get(f"{endpoint}/servers", headers={"X-Auth-Token": subject}).status_code == 401
