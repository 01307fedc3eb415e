"""Bounded work at the REST edge, against a running cloud: body limits, invalid Unicode,
list limits, and the compute holes of issue 8 (security groups, ?user_id=, ?tenant_id=)."""
from __future__ import annotations

import io
import uuid

import httpx
import openstack.exceptions
import orjson
import pytest

TOO_LARGE = "Request is too large. Larger than max_request_body_size (114688)."


def _url(conn, service: str, path: str) -> str:
    return conn.endpoint_for(service).rstrip("/") + path


def _headers(conn, **extra: str) -> dict[str, str]:
    return {"X-Auth-Token": conn.auth_token, **extra}


@pytest.mark.parametrize(("service", "path", "find"), [
    ("compute", "/servers", lambda b: b["overLimit"]),
    ("network", "/v2.0/networks", lambda b: b["NeutronError"]),
    ("image", "/v2/images", lambda b: b),
])
def test_a_body_over_112_kib_gets_a_short_413_instead_of_a_400_that_echoes_it(
        admin, service, path, find):
    name = "x" * (1024 * 1024)
    body = orjson.dumps({"server": {"name": name}, "network": {"name": name}, "name": name})
    response = httpx.post(_url(admin, service, path), content=body,
                          headers=_headers(admin, **{"Content-Type": "application/json"}))
    assert response.status_code == 413, response.text[:300]
    assert find(response.json())["message"] == TOO_LARGE
    assert len(response.content) < 500


def test_a_chunked_body_over_the_limit_is_refused_while_it_is_read(admin):
    def chunks():
        yield b'{"network": {"name": "'
        for _ in range(64):
            yield b"y" * 16384
        yield b'"}}'
    response = httpx.post(_url(admin, "network", "/v2.0/networks"), content=chunks(),
                          headers=_headers(admin, **{"Content-Type": "application/json"}))
    assert response.status_code == 413
    assert response.json()["NeutronError"]["message"] == TOO_LARGE


def test_an_image_upload_over_the_body_limit_still_streams(admin):
    data = bytes(range(256)) * 2048  # 512 KiB, well over the API body limit
    image = admin.image.create_image(name=f"big-{uuid.uuid4().hex[:6]}", disk_format="raw",
                                     container_format="bare", data=io.BytesIO(data))
    try:
        assert admin.image.get_image(image).size == len(data)
    finally:
        admin.image.delete_image(image)


@pytest.mark.parametrize(("service", "path", "body", "find"), [
    ("compute", "/servers", b'{"server": {"name": "\\ud800", "imageRef": "x", '
                            b'"flavorRef": "1"}}', lambda b: b["badRequest"]),
    ("compute", "/os-keypairs", b'{"keypair": {"name": "\\ud800"}}',
     lambda b: b["badRequest"]),
    ("network", "/v2.0/networks", b'{"network": {"name": "\\udc00"}}',
     lambda b: b["NeutronError"]),
    ("image", "/v2/images", b'{"name": "\\ud800"}', lambda b: b),
    ("identity", "/v3/projects", b'{"project": {"name": "\\ud800"}}', lambda b: b["error"]),
])
def test_a_lone_surrogate_is_400_in_every_apis_format_not_a_500(admin, service, path, body,
                                                                 find):
    response = httpx.post(_url(admin, service, path), content=body,
                          headers=_headers(admin, **{"Content-Type": "application/json"}))
    assert response.status_code == 400, response.text
    assert "Unicode" in find(response.json())["message"]


@pytest.mark.parametrize(("value", "status"), [
    ("18446744073709551616", 200), ("9" * 5000, 200), ("-1", 400), ("abc", 400),
    ("1.5", 400),
])
def test_network_list_limit_of_any_size_or_shape_is_not_a_5xx(admin, value, status):
    response = httpx.get(_url(admin, "network", f"/v2.0/networks?limit={value}"),
                         headers=_headers(admin))
    assert response.status_code == status, response.text[:300]
    if status == 400:
        assert len(response.json()["NeutronError"]["message"]) < 120


def _boot(conn, **server):
    image = conn.image.find_image("cirros")
    return conn.compute.create_server(name=f"sg-{uuid.uuid4().hex[:6]}", image_id=image.id,
                                      flavor_id="1", networks="auto", **server)


def test_server_create_with_a_security_group_that_does_not_exist_is_400(demo):
    before = {s.id for s in demo.compute.servers()}
    with pytest.raises(openstack.exceptions.BadRequestException,
                       match="Security group no-such-group not found"):
        _boot(demo, security_groups=[{"name": "no-such-group"}])
    assert {s.id for s in demo.compute.servers()} == before


def test_server_create_with_another_projects_security_group_is_400(admin, demo):
    theirs = admin.network.create_security_group(name=f"admins-{uuid.uuid4().hex[:6]}")
    try:
        for ref in (theirs.name, theirs.id):
            with pytest.raises(openstack.exceptions.BadRequestException):
                _boot(demo, security_groups=[{"name": ref}])
    finally:
        admin.network.delete_security_group(theirs)


@pytest.mark.parametrize("path", ["/os-keypairs?user_id={other}",
                                  "/os-keypairs/somekey?user_id={other}"])
def test_keypairs_user_id_of_another_user_is_403_for_a_member(admin, demo, path):
    other = admin.current_user_id
    response = httpx.get(_url(demo, "compute", path.format(other=other)),
                         headers=_headers(demo, **{"OpenStack-API-Version": "compute 2.10"}))
    assert response.status_code == 403, response.text
    assert "os_compute_api:os-keypairs:" in response.json()["forbidden"]["message"]


def test_keypairs_user_id_lets_an_admin_list_that_users_keys(admin, demo):
    name = f"k-{uuid.uuid4().hex[:6]}"
    demo.compute.create_keypair(name=name)
    try:
        response = httpx.get(
            _url(admin, "compute", f"/os-keypairs?user_id={demo.current_user_id}"),
            headers=_headers(admin, **{"OpenStack-API-Version": "compute 2.10"}))
        assert response.status_code == 200
        assert name in {k["keypair"]["name"] for k in response.json()["keypairs"]}
    finally:
        demo.compute.delete_keypair(name)


def test_limits_tenant_id_is_403_for_a_member_and_served_for_an_admin(admin, demo):
    path = f"/limits?tenant_id={admin.current_project_id}"
    refused = httpx.get(_url(demo, "compute", path), headers=_headers(demo))
    assert refused.status_code == 403
    assert refused.json()["forbidden"]["message"] == (
        "Policy doesn't allow os_compute_api:limits:other_project to be performed.")
    # Give demo a limit of its own, so an ignored tenant_id (admin's own limits) shows.
    quota_url = _url(admin, "compute", f"/os-quota-sets/{demo.current_project_id}")
    before = httpx.get(quota_url, headers=_headers(admin)).json()["quota_set"]["instances"]
    httpx.put(quota_url, headers=_headers(admin),
              json={"quota_set": {"instances": 17}}).raise_for_status()
    try:
        served = httpx.get(_url(admin, "compute",
                                f"/limits?tenant_id={demo.current_project_id}"),
                           headers=_headers(admin))
        own = httpx.get(_url(admin, "compute", "/limits"), headers=_headers(admin))
    finally:
        httpx.put(quota_url, headers=_headers(admin),
                  json={"quota_set": {"instances": before}}).raise_for_status()
    assert served.status_code == 200
    assert served.json()["limits"]["absolute"]["maxTotalInstances"] == 17
    assert own.json()["limits"]["absolute"]["maxTotalInstances"] != 17


def test_keypair_create_with_user_id_is_403_for_a_member_and_theirs_from_an_admin(admin, demo):
    name = f"k-{uuid.uuid4().hex[:6]}"
    body = {"keypair": {"name": name, "user_id": admin.current_user_id}}
    version = {"OpenStack-API-Version": "compute 2.10"}
    refused = httpx.post(_url(demo, "compute", "/os-keypairs"), json=body,
                         headers=_headers(demo, **version))
    assert refused.status_code == 403
    assert admin.compute.find_keypair(name) is None
    body["keypair"]["user_id"] = demo.current_user_id
    made = httpx.post(_url(admin, "compute", "/os-keypairs"), json=body,
                      headers=_headers(admin, **version))
    assert made.status_code == 201, made.text
    try:
        assert made.json()["keypair"]["user_id"] == demo.current_user_id
        assert demo.compute.find_keypair(name) is not None
        assert admin.compute.find_keypair(name) is None
    finally:
        demo.compute.delete_keypair(name)
