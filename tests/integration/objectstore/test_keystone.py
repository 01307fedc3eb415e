"""Keystone auth and the stock clients: the catalog lists the object store, the
``openstack`` CLI and swiftclient (auth v3) use ``AUTH_<project_id>`` accounts."""
from __future__ import annotations

import hashlib

import pytest
import swiftclient
from swiftclient.exceptions import ClientException

from overcast.testing.cloud import running_cloud


@pytest.fixture(scope="module")
def cloud():
    with running_cloud(hosts=1, storage_nodes=3) as test_cloud:
        yield test_cloud


def keystone_swift(cloud, user: str) -> swiftclient.Connection:
    return swiftclient.Connection(
        authurl=f"{cloud.cloud.api_url}/identity/v3", user=user,
        key=cloud.passwords[f"{user}_password"], auth_version="3",
        os_options={"project_name": user, "user_domain_id": "default",
                    "project_domain_id": "default"}, retries=0)


def test_openstack_cli_container_and_object(cloud, tmp_path):
    cloud.openstack("container", "create", "photos")
    source = tmp_path / "cat.jpg"
    source.write_bytes(b"meow" * 1000)
    cloud.openstack("object", "create", "photos", str(source), "--name", "cat.jpg")
    listing = cloud.openstack("object", "list", "photos", "-f", "value", "-c", "Name").stdout
    assert "cat.jpg" in listing
    shown = cloud.openstack("object", "show", "photos", "cat.jpg", "-f", "json").stdout
    assert hashlib.md5(b"meow" * 1000).hexdigest() in shown


def test_swiftclient_with_keystone_and_project_isolation(cloud):
    admin = keystone_swift(cloud, "admin")
    demo = keystone_swift(cloud, "demo")
    admin_url, admin_token = admin.get_auth()
    assert admin_url.split("/v1/")[1].startswith("AUTH_")
    demo.put_container("mine")
    demo.put_object("mine", "secret", b"demo data")
    assert demo.get_object("mine", "secret")[1] == b"demo data"
    # Another project's token may not read demo's account.
    demo_url, _ = demo.get_auth()
    other = swiftclient.Connection(preauthurl=demo_url, preauthtoken=admin_token, retries=0)
    with pytest.raises(ClientException) as info:
        other.get_object("mine", "secret")
    assert info.value.http_status == 403
