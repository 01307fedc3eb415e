"""Issue 8's smaller holes in identity, image and network, closed as Keystone, Glance and
Neutron close them: through openstacksdk and the ``openstack`` CLI where they can send the
request, raw HTTP where they cannot (an empty password at login, a Range header)."""
from __future__ import annotations

import os
import uuid

import httpx
import openstack.exceptions as sdk_errors
import pytest


def _login(demo, name: str, password: str) -> httpx.Response:
    auth_url = demo.session.auth.auth_url.rstrip("/")
    return httpx.post(f"{auth_url}/auth/tokens", json={"auth": {"identity": {
        "methods": ["password"], "password": {"user": {
            "name": name, "domain": {"id": "default"}, "password": password}}}}})


# -- identity ------------------------------------------------------------------------------


def test_admin_could_create_a_user_with_an_empty_password(admin, demo):
    name = f"blank-{uuid.uuid4().hex[:8]}"
    with pytest.raises(sdk_errors.BadRequestException, match="must not be empty"):
        admin.identity.create_user(name=name, password="", domain_id="default")
    assert admin.identity.find_user(name) is None
    assert _login(demo, name, "").status_code == 401


def test_user_without_a_password_cannot_log_in_with_an_empty_one(admin, demo):
    user = admin.identity.create_user(name=f"nopass-{uuid.uuid4().hex[:8]}",
                                      domain_id="default")
    try:
        response = _login(demo, user.name, "")
        assert response.status_code == 401, response.text
        assert response.json()["error"]["code"] == 401
        with pytest.raises(sdk_errors.BadRequestException):
            admin.identity.update_user(user, password="")
    finally:
        admin.identity.delete_user(user)


def test_member_could_read_roles(demo, admin):
    with pytest.raises(sdk_errors.ForbiddenException, match="identity:list_roles"):
        list(demo.identity.roles())
    member = next(r for r in admin.identity.roles() if r.name == "member")
    with pytest.raises(sdk_errors.ForbiddenException, match="identity:get_role"):
        demo.identity.get_role(member.id)


def test_member_could_list_domains_but_reads_its_projects_domain(demo, cloud):
    with pytest.raises(sdk_errors.ForbiddenException, match="identity:list_domains"):
        list(demo.identity.domains())
    assert demo.identity.get_domain("default").name == "Default"
    denied = cloud.openstack("role", "list", cloud="overcast-demo", check=False)
    assert denied.returncode != 0 and "identity:list_roles" in denied.stderr + denied.stdout


# -- image ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def image_data() -> bytes:
    return os.urandom(300_000)


@pytest.fixture(scope="module")
def demo_image(demo, image_data, tmp_path_factory):
    path = tmp_path_factory.mktemp("image") / "disk.raw"
    path.write_bytes(image_data)
    image = demo.image.create_image(f"ranged-{uuid.uuid4().hex[:8]}", filename=str(path),
                                    disk_format="raw", container_format="bare",
                                    visibility="private", wait=True)
    yield demo.image.get_image(image.id)
    demo.image.delete_image(image, ignore_missing=True)


@pytest.mark.parametrize("visibility", ["private", "community"])
def test_members_could_be_added_to_an_image_that_is_not_shared(demo, admin, visibility):
    image = demo.image.create_image(f"unshared-{uuid.uuid4().hex[:8]}",
                                    disk_format="raw", container_format="bare",
                                    visibility=visibility, allow_duplicates=True)
    try:
        with pytest.raises(sdk_errors.ForbiddenException,
                           match="Not allowed to create members"):
            demo.image.add_member(image, member_id=admin.current_project_id)
        with pytest.raises(sdk_errors.NotFoundException):
            demo.image.get_member(admin.current_project_id, image)
    finally:
        demo.image.delete_image(image)


def _download(demo, image_id: str, range_header: str) -> httpx.Response:
    endpoint = demo.endpoint_for("image").rstrip("/").removesuffix("/v2")
    return httpx.get(f"{endpoint}/v2/images/{image_id}/file",
                     headers={"X-Auth-Token": demo.auth_token, "Range": range_header})


@pytest.mark.parametrize(("header", "start", "end"), [
    ("bytes=0-9", 0, 9), ("bytes=299990-", 299_990, 299_999), ("bytes=-5", 299_995, 299_999),
    ("bytes=100000-199999", 100_000, 199_999)])
def test_image_download_ignored_range(demo, demo_image, image_data, header, start, end):
    response = _download(demo, demo_image.id, header)
    assert response.status_code == 206, response.text
    assert response.headers["Content-Range"] == f"bytes {start}-{end}/{len(image_data)}"
    assert response.content == image_data[start:end + 1]


@pytest.mark.parametrize(("header", "status"), [
    ("bytes=300000-", 416), ("bytes=9-1", 416), ("pages=1-2", 416), ("bytes=0-1,4-5", 400)])
def test_image_download_unsatisfiable_range(demo, demo_image, header, status):
    response = _download(demo, demo_image.id, header)
    assert response.status_code == status, response.text
    assert response.json()["code"] == status and response.json()["message"]


# -- network -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo_network(demo):
    network = demo.network.create_network(name=f"holes-{uuid.uuid4().hex[:8]}")
    yield network
    demo.network.delete_network(network)


@pytest.mark.parametrize(("subnet", "message"), [
    ({"cidr": "127.0.0.0/8"}, "Loopback IP subnet is not supported"),
    ({"cidr": "224.0.0.0/24"}, "Multicast IP subnet is not supported"),
    ({"cidr": "0.0.0.0/0", "enable_dhcp": False}, "0 is not allowed as CIDR prefix length"),
    ({"cidr": "10.77.0.0/24", "ipv6_ra_mode": "slaac"},
     "ipv6_ra_mode is not valid when ip_version is 4"),
    ({"cidr": "10.77.0.0/24", "ipv6_address_mode": "slaac"},
     "ipv6_address_mode is not valid when ip_version is 4"),
])
def test_subnet_accepted_what_neutron_refuses(demo, demo_network, subnet, message):
    with pytest.raises(sdk_errors.BadRequestException, match=message):
        demo.network.create_subnet(network_id=demo_network.id, ip_version=4, **subnet)
    assert list(demo.network.subnets(network_id=demo_network.id)) == []


def test_subnet_cli_refuses_a_loopback_range(cloud, demo_network):
    result = cloud.openstack("subnet", "create", "--network", demo_network.id,
                             "--subnet-range", "127.0.0.0/24", "loopback",
                             cloud="overcast-demo", check=False)
    assert result.returncode != 0
    assert "Loopback IP subnet is not supported" in result.stderr + result.stdout
