"""Object storage against hostile and careless users (issue 8): revoked tokens stop working at
once, container ACLs are enforced as Swift's keystoneauth does, and bad input is a 4xx.

A real process-mode cloud (api, conductor, scheduler, image, the object proxy and three storage
nodes) on its own vhost of the host's RabbitMQ.
"""
from __future__ import annotations

import secrets
import shutil
import subprocess
import time

import httpx
import pytest
import swiftclient
from swiftclient.exceptions import ClientException

from overcast.testing import wait_until
from overcast.testing.cloud import running_cloud

# The promise: a revoked token is refused by every API within a second.
REVOCATION_DEADLINE = 1.0


@pytest.fixture(scope="module")
def cloud():
    with running_cloud(hosts=1, storage_nodes=3) as test_cloud:
        yield test_cloud


class Keystone:
    """Just enough of the identity API, as an admin, to make users and revoke tokens."""

    def __init__(self, cloud) -> None:
        self.url = f"{cloud.cloud.api_url}/identity/v3"
        self.http = httpx.Client(timeout=10.0)
        self.admin_token = self.token("admin", cloud.passwords["admin_password"], "admin")

    def token(self, user: str, password: str, project: str) -> str:
        response = self.http.post(f"{self.url}/auth/tokens", json={"auth": {
            "identity": {"methods": ["password"], "password": {"user": {
                "name": user, "domain": {"id": "default"}, "password": password}}},
            "scope": {"project": {"name": project, "domain": {"id": "default"}}}}})
        assert response.status_code == 201, response.text
        return response.headers["X-Subject-Token"]

    def request(self, method: str, path: str, **kwargs) -> httpx.Response:
        response = self.http.request(method, f"{self.url}{path}",
                                     headers={"X-Auth-Token": self.admin_token}, **kwargs)
        assert response.status_code < 300, response.text
        return response

    def lookup(self, kind: str, name: str) -> str:
        return self.request("GET", f"/{kind}?name={name}").json()[kind][0]["id"]

    def member_of(self, project: str, *, role: str = "member") -> tuple[str, str]:
        """A new user with ``role`` on ``project``: (name, password)."""
        name, password = f"user-{secrets.token_hex(4)}", secrets.token_urlsafe(12)
        user_id = self.request("POST", "/users", json={"user": {
            "name": name, "password": password, "domain_id": "default"}}).json()["user"]["id"]
        self.request("PUT", f"/projects/{self.lookup('projects', project)}/users/{user_id}"
                            f"/roles/{self.lookup('roles', role)}")
        return name, password

    def user_id(self, name: str) -> str:
        return self.lookup("users", name)

    def revoke(self, token: str) -> None:
        response = self.http.delete(f"{self.url}/auth/tokens", headers={
            "X-Auth-Token": self.admin_token, "X-Subject-Token": token})
        assert response.status_code == 204, response.text


@pytest.fixture(scope="module")
def keystone(cloud):
    return Keystone(cloud)


def swift_as(cloud, user: str, password: str, project: str) -> swiftclient.Connection:
    return swiftclient.Connection(
        authurl=f"{cloud.cloud.api_url}/identity/v3", user=user, key=password,
        auth_version="3", retries=0,
        os_options={"project_name": project, "user_domain_id": "default",
                    "project_domain_id": "default"})


def preauth(url: str, token: str) -> swiftclient.Connection:
    """A client holding only a token (after a 401 swiftclient forgets it, so one per call)."""
    return swiftclient.Connection(preauthurl=url, preauthtoken=token, retries=0)


def status_of(call) -> int:
    try:
        call()
    except ClientException as exc:
        return exc.http_status
    return 200


def refused_within(deadline: float, call) -> float:
    """Seconds until ``call`` was refused with 401, failing if that took past ``deadline``."""
    start = time.monotonic()
    status = wait_until(lambda: status_of(call) == 401, timeout=deadline, interval=0.02,
                        message=lambda: "the revoked token was still accepted")
    assert status
    return time.monotonic() - start


# -- revocation --------------------------------------------------------------------------------

def test_revoked_token_refused_while_client_streams_from_object_storage(cloud, keystone):
    name, password = keystone.member_of("demo")
    owner = swift_as(cloud, name, password, "demo")
    owner.put_container("stream")
    owner.put_object("stream", "big", b"x" * (4 << 20))
    url, token = owner.get_auth()
    # Used before the revocation, so the proxy holds its validation in cache (which it does
    # only once subscribed to revocations).
    wait_until(lambda: "subscribed to token revocations" in cloud.log("object-proxy"))
    assert preauth(url, token).head_object("stream", "big")["content-length"] == str(4 << 20)
    _, body = preauth(url, token).get_object("stream", "big", resp_chunk_size=64 << 10)
    first = next(body)
    keystone.revoke(token)
    # The download under way finishes (Swift checks a token per request, not per chunk)...
    assert len(first) + sum(len(chunk) for chunk in body) == 4 << 20
    # ...and the next request is refused within a second (the measure: from the
    # next request, which starts once the download has drained).
    refused_within(REVOCATION_DEADLINE, lambda: preauth(url, token).get_object("stream", "big"))
    assert status_of(lambda: preauth(url, token).put_object("stream", "more", b"y")) == 401
    # Refused because the event dropped the cached validation, not for want of a cache.
    assert "dropped 1 cached token(s) revoked by identity" in cloud.log("object-proxy")


@pytest.mark.parametrize("change", ["disabled", "password_changed"])
def test_token_of_user_refused_on_object_storage_once_user_is(cloud, keystone, change):
    name, password = keystone.member_of("demo")
    owner = swift_as(cloud, name, password, "demo")
    owner.put_container(f"user-{change}")
    url, token = owner.get_auth()
    assert status_of(lambda: preauth(url, token).head_container(f"user-{change}")) == 200
    patch = {"enabled": False} if change == "disabled" else {"password": "a-new-one-42"}
    keystone.request("PATCH", f"/users/{keystone.user_id(name)}", json={"user": patch})
    refused_within(REVOCATION_DEADLINE,
                   lambda: preauth(url, token).head_container(f"user-{change}"))


def close_broker_connection(cloud, connection_name: str) -> None:
    """Make the broker drop the connection of one process of this test's cloud (its own
    vhost only), as a network cut or a broker restart would."""
    ctl = shutil.which("rabbitmqctl") or "/usr/sbin/rabbitmqctl"
    vhost = cloud.cloud.transport_url.rsplit("/", 1)[1]
    listed = subprocess.run([ctl, "-q", "list_connections", "vhost", "pid",
                             "client_properties"], capture_output=True, text=True,
                            check=True, timeout=30).stdout
    pids = [line.split("\t")[1] for line in listed.splitlines()
             if line.startswith(f"{vhost}\t")
             and f'{{"connection_name","{connection_name}' in line]
    assert pids, f"no connection {connection_name} on {vhost}"
    for pid in pids:
        subprocess.run([ctl, "-q", "close_connection", pid, "test: cut off"],
                       capture_output=True, check=True, timeout=30)


def test_proxy_cut_off_from_the_bus_does_not_serve_a_token_revoked_meanwhile(cloud,
                                                                             keystone):
    name, password = keystone.member_of("demo")
    owner = swift_as(cloud, name, password, "demo")
    owner.put_container("outage")
    url, token = owner.get_auth()
    wait_until(lambda: "subscribed to token revocations" in cloud.log("object-proxy"))
    assert status_of(lambda: preauth(url, token).head_container("outage")) == 200
    seen = len(cloud.log("object-proxy"))
    close_broker_connection(cloud, "object-proxy")
    # The event sent now may never reach the proxy; what it had cached is gone already.
    wait_until(lambda: "token cache emptied and off" in cloud.log("object-proxy")[seen:])
    keystone.revoke(token)
    refused_within(REVOCATION_DEADLINE, lambda: preauth(url, token).head_container("outage"))
    wait_until(lambda: "token cache emptied and on again" in cloud.log("object-proxy")[seen:],
               timeout=30)
    assert status_of(lambda: preauth(url, token).head_container("outage")) == 401
    # A new token works as before.
    fresh = swift_as(cloud, name, password, "demo")
    assert fresh.get_auth()[1] != token
    assert status_of(lambda: fresh.head_container("outage")) == 200


# -- container ACLs ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def owner(cloud, keystone):
    """A member of demo, who owns demo's account; and a container with one object."""
    name, password = keystone.member_of("demo")
    conn = swift_as(cloud, name, password, "demo")
    conn.put_container("shared")
    conn.put_object("shared", "doc", b"demo's data")
    return conn


@pytest.fixture(scope="module")
def outsider(cloud, keystone):
    """A user of another project (a reader there, no role at all on demo)."""
    name, password = keystone.member_of("admin", role="reader")
    conn = swift_as(cloud, name, password, "admin")
    conn.get_auth()
    return conn


def acl(owner, **headers: str) -> None:
    owner.post_container("shared", headers={"X-Container-Read": "",
                                            "X-Container-Write": "", **headers})


def outsider_on_demo(owner, outsider) -> swiftclient.Connection:
    """The outsider's token aimed at demo's account."""
    return preauth(owner.get_auth()[0], outsider.get_auth()[1])


def project_and_user(conn: swiftclient.Connection, keystone: Keystone) -> tuple[str, str]:
    body = keystone.http.get(f"{keystone.url}/auth/tokens", headers={
        "X-Auth-Token": keystone.admin_token,
        "X-Subject-Token": conn.get_auth()[1]}).json()["token"]
    return body["project"]["id"], body["user"]["id"]


def test_container_acls_were_not_enforced_no_acl_means_no_access(owner, outsider):
    acl(owner)
    other = outsider_on_demo(owner, outsider)
    assert status_of(lambda: other.get_object("shared", "doc")) == 403
    assert status_of(lambda: other.get_container("shared")) == 403
    assert status_of(lambda: other.put_object("shared", "x", b"x")) == 403


@pytest.mark.parametrize("form", ["ids", "names", "any_project_this_user",
                                  "this_project_any_user"])
def test_container_read_acl_lets_another_project_read_but_not_write(owner, outsider,
                                                                    keystone, form):
    project_id, user_id = project_and_user(outsider, keystone)
    item = {"ids": f"{project_id}:{user_id}",
            "names": f"admin:{outsider.user}",
            "any_project_this_user": f"*:{user_id}",
            "this_project_any_user": f"{project_id}:*"}[form]
    acl(owner, **{"X-Container-Read": item})
    other = outsider_on_demo(owner, outsider)
    assert other.get_object("shared", "doc")[1] == b"demo's data"
    assert [o["name"] for o in other.get_container("shared")[1]] == ["doc"]
    assert status_of(lambda: other.put_object("shared", "x", b"x")) == 403
    assert status_of(lambda: other.delete_object("shared", "doc")) == 403


def test_container_write_acl_lets_another_project_write_objects_only(owner, outsider,
                                                                     keystone):
    project_id, user_id = project_and_user(outsider, keystone)
    acl(owner, **{"X-Container-Write": f"{project_id}:{user_id}"})
    other = outsider_on_demo(owner, outsider)
    other.put_object("shared", "from-outside", b"hello")
    assert owner.get_object("shared", "from-outside")[1] == b"hello"
    other.delete_object("shared", "from-outside")
    # Writing is not reading.
    assert status_of(lambda: other.get_object("shared", "doc")) == 403
    # Never the container itself: its ACLs, its metadata, its existence.
    assert status_of(lambda: other.post_container(
        "shared", headers={"X-Container-Write": "*:*"})) == 403
    assert status_of(lambda: other.post_container(
        "shared", headers={"X-Container-Meta-Owner": "me"})) == 403
    assert status_of(lambda: other.delete_container("shared")) == 403
    assert status_of(lambda: other.put_container("shared")) == 403
    assert "x-container-meta-owner" not in owner.head_container("shared")


def test_large_object_manifest_cannot_reach_containers_its_reader_cannot(owner, outsider,
                                                                         keystone):
    project_id, _ = project_and_user(outsider, keystone)
    owner.put_container("private")
    owner.put_object("private", "secret", b"x" * 2048)
    acl(owner, **{"X-Container-Read": f"{project_id}:*",
                  "X-Container-Write": f"{project_id}:*"})
    other = outsider_on_demo(owner, outsider)
    # A dynamic manifest naming the private container: readable by the owner only.
    other.put_object("shared", "dlo", b"", headers={"X-Object-Manifest": "private/"})
    assert status_of(lambda: other.get_object("shared", "dlo")) == 403
    assert owner.get_object("shared", "dlo")[1] == b"x" * 2048
    # A static manifest cannot even be made of segments the writer may not read.
    manifest = b'[{"path": "/private/secret"}]'
    with pytest.raises(ClientException) as info:
        other.put_object("shared", "slo", manifest,
                         query_string="multipart-manifest=put")
    assert info.value.http_status == 400
    assert "/private/secret, 403 Forbidden" in info.value.http_response_content.decode()
    owner.put_object("shared", "slo", manifest, query_string="multipart-manifest=put")
    assert status_of(lambda: other.get_object("shared", "slo")) == 403
    # Deleting the manifest with its segments spares the segments it may not write.
    other.delete_object("shared", "slo", query_string="multipart-manifest=delete")
    assert owner.get_object("private", "secret")[1] == b"x" * 2048
    owner.delete_object("shared", "dlo")


def test_container_acls_hidden_from_non_owners(owner, outsider, keystone):
    project_id, _ = project_and_user(outsider, keystone)
    acl(owner, **{"X-Container-Read": f"{project_id}:*",
                  "X-Container-Write": f"{project_id}:*"})
    seen = outsider_on_demo(owner, outsider).head_container("shared")
    assert "x-container-read" not in seen
    assert "x-container-write" not in seen
    assert owner.head_container("shared")["x-container-read"] == f"{project_id}:*"


def test_container_read_acl_referrer_allows_anonymous_object_reads(owner):
    url = owner.get_auth()[0]
    acl(owner, **{"X-Container-Read": ".r:*"})
    assert httpx.get(f"{url}/shared/doc").content == b"demo's data"
    # Listing needs .rlistings too; writing is never anonymous.
    assert httpx.get(f"{url}/shared").status_code == 401
    assert httpx.put(f"{url}/shared/anon", content=b"x").status_code == 401
    acl(owner, **{"X-Container-Read": ".r:*,.rlistings"})
    assert httpx.get(f"{url}/shared").text.split() == ["doc"]


def test_container_read_acl_referrer_host_and_refusals(owner):
    url = owner.get_auth()[0]
    acl(owner, **{"X-Container-Read": ".r:.example.com,.r:-evil.example.com"})
    assert httpx.get(f"{url}/shared/doc", headers={
        "Referer": "http://www.example.com/page"}).status_code == 200
    assert httpx.get(f"{url}/shared/doc", headers={
        "Referer": "http://evil.example.com/page"}).status_code == 401
    assert httpx.get(f"{url}/shared/doc").status_code == 401


def test_referrer_in_write_acl_is_400_not_stored(owner):
    with pytest.raises(ClientException) as info:
        owner.post_container("shared", headers={"X-Container-Write": ".r:*"})
    assert info.value.http_status == 400
    assert "Referrers not allowed in write ACL" in info.value.http_response_content.decode()


def test_private_container_stays_private_without_token(owner):
    acl(owner)
    url = owner.get_auth()[0]
    assert httpx.get(f"{url}/shared/doc").status_code == 401
    assert httpx.get(url).status_code == 401


# -- hostile input -----------------------------------------------------------------------------

@pytest.mark.parametrize("token", ["caf\xe9".encode("latin-1"), "токен".encode(),
                                   b"AUTH_tk\xff\xfe"])
def test_non_ascii_auth_token_was_500_is_401(owner, token):
    url = owner.get_auth()[0]
    with httpx.Client() as http:
        response = http.get(f"{url}/shared", headers={"X-Auth-Token": token})
        assert response.status_code == 401
        # The connection survives: the same client is answered again.
        assert http.get(f"{url.split('/v1/')[0]}/healthcheck").status_code == 200


def test_unknown_storage_policy_was_accepted_is_400(owner):
    with pytest.raises(ClientException) as info:
        owner.put_container("gold", headers={"X-Storage-Policy": "gold"})
    assert info.value.http_status == 400
    assert info.value.http_response_content.decode() == "Invalid X-Storage-Policy 'gold'"
    assert status_of(lambda: owner.head_container("gold")) == 404
    # The cloud's own policy, as /info names it (in any case), is fine.
    policy = owner.get_capabilities()["swift"]["policies"][0]["name"]
    owner.put_container("policy-zero", headers={"X-Storage-Policy": policy.lower()})
    assert owner.head_container("policy-zero")["x-storage-policy"] == policy
