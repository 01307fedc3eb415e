"""Who may send which request to an account: owners, project readers, container ACLs."""
from __future__ import annotations

import pytest

from overcast.keystone import Identity
from services.objectstore.access import AccessControl
from services.objectstore.auth import Authenticator
from services.objectstore.http import HTTPError, Request

ACCOUNT = "AUTH_demo"


class ContainerInfo:
    """Answers ``container_info`` as the proxy does, from a dict of ACL headers."""

    def __init__(self, **acls: str) -> None:
        self.acls = acls
        self.asked = 0

    async def container_info(self, ctx, account, container):
        self.asked += 1
        return {"metadata": {k.replace("_", "-"): [v, "1"] for k, v in self.acls.items()}}


def request(method: str, **headers: str) -> Request:
    scope = {"method": method, "path": "/v1/AUTH_demo/c/o",
             "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()]}
    return Request(scope, receive=None)  # type: ignore[arg-type]


def user(project_id: str, *roles: str, reseller: bool = False) -> Identity:
    roles += ("ResellerAdmin",) if reseller else ()
    return Identity(user_id="uid", user_name="alice", project_id=project_id,
                    roles=frozenset(roles), expires=1e12)


def access(**acls: str) -> AccessControl:
    return AccessControl(Authenticator(), ContainerInfo(**acls))  # type: ignore[arg-type]


async def test_operator_and_reseller_own_the_account_without_reading_acls():
    control = access()
    assert await control.check(request("DELETE"), user("demo", "member"), ACCOUNT, "c", None)
    assert await control.check(request("POST"), user("other", reseller=True), ACCOUNT,
                               None, None)
    assert control.proxy.asked == 0


async def test_reader_of_the_project_reads_but_does_not_own():
    control = access()
    assert not await control.check(request("GET"), user("demo", "reader"), ACCOUNT, "c", "o")
    with pytest.raises(HTTPError) as info:
        await control.check(request("PUT"), user("demo", "reader"), ACCOUNT, "c", "o")
    assert info.value.status == 403


@pytest.mark.parametrize(("method", "obj", "allowed"), [
    ("GET", "o", True), ("HEAD", None, True), ("PUT", "o", False), ("POST", None, False)])
async def test_read_acl_grants_reads_only(method, obj, allowed):
    control = access(X_Container_Read="other:uid")
    call = control.check(request(method), user("other", "member"), ACCOUNT, "c", obj)
    if allowed:
        assert await call is False
    else:
        with pytest.raises(HTTPError) as info:
            await call
        assert info.value.status == 403


@pytest.mark.parametrize(("method", "obj", "allowed"), [
    ("PUT", "o", True), ("DELETE", "o", True), ("POST", "o", True), ("GET", "o", False),
    ("POST", None, False), ("PUT", None, False), ("DELETE", None, False)])
async def test_write_acl_grants_object_writes_never_the_container(method, obj, allowed):
    control = access(X_Container_Write="other:*")
    call = control.check(request(method), user("other", "member"), ACCOUNT, "c", obj)
    if allowed:
        assert await call is False
    else:
        with pytest.raises(HTTPError):
            await call


async def test_anonymous_request_is_401_unless_a_referrer_acl_allows():
    with pytest.raises(HTTPError) as info:
        await access().check(request("GET"), None, ACCOUNT, "c", "o")
    assert info.value.status == 401
    assert await access(X_Container_Read=".r:*").check(request("GET"), None, ACCOUNT, "c",
                                                      "o") is False
    with pytest.raises(HTTPError) as info:
        await access(X_Container_Read=".r:*").check(request("GET"), None, ACCOUNT, None, None)
    assert info.value.status == 401
