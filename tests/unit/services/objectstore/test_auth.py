"""Token checks of the proxy: hostile token bytes, what a Keystone validation lets in (only
project-scoped tokens: accounts belong to projects), tempauth roles."""
from __future__ import annotations

import json

import httpx
import pytest

from overcast.keystone import KeystoneValidator
from services.objectstore.auth import Authenticator, is_reseller, is_token_shaped
from services.objectstore.http import HTTPError

PROJECT_TOKEN = {
    "expires_at": "2099-01-01T00:00:00.000000Z", "issued_at": "2026-01-01T00:00:00.5Z",
    "audit_ids": ["own", "parent"], "roles": [{"id": "r", "name": "member"}],
    "user": {"id": "uid", "name": "alice", "domain": {"id": "default"}},
    "project": {"id": "pid", "name": "team", "domain": {"id": "other"}}}


def keystone_answering(token_body: dict | None, *, status: int = 200) -> Authenticator:
    """An authenticator whose Keystone answers every validation with ``token_body``."""
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, content=json.dumps({"token": token_body}))

    auth = Authenticator(identity_url="http://identity")
    auth.keystone = KeystoneValidator("http://identity",
                                      transport=httpx.MockTransport(answer))
    return auth


@pytest.mark.parametrize("token", ["caf\xe9", "\u0442\u043e\u043a\u0435\u043d",
                                   "tok\x00en", "a b\n", "x" * 9000])
async def test_non_ascii_or_control_token_is_401_without_asking_keystone(token):
    auth = Authenticator(identity_url="http://127.0.0.1:1/identity")
    with pytest.raises(HTTPError) as info:
        await auth.identify(token)
    assert info.value.status == 401
    assert auth.keystone is not None and auth.keystone._http is None  # nothing was sent


def test_keystone_tokens_are_token_shaped():
    assert is_token_shaped("gAAAAABk-_x.y~z=")
    assert not is_token_shaped("")


async def test_validation_answer_carries_what_revocation_and_acls_need():
    identity = await keystone_answering(PROJECT_TOKEN).identify("tok")
    assert identity.audit_ids == ("own", "parent")
    assert identity.issued_at == pytest.approx(1767225600.5)
    assert (identity.project_name, identity.project_domain_id) == ("team", "other")
    assert identity.user_domain_id == "default"


@pytest.mark.parametrize("scope", [{}, {"domain": {"id": "default", "name": "Default"}},
                                   {"system": {"all": True}}])
async def test_token_without_a_project_is_401(scope):
    body = {k: v for k, v in PROJECT_TOKEN.items() if k != "project"} | scope
    with pytest.raises(HTTPError) as info:
        await keystone_answering(body).identify("tok")
    assert info.value.status == 401


async def test_token_keystone_refuses_is_401_and_keystone_down_is_503():
    with pytest.raises(HTTPError) as info:
        await keystone_answering(None, status=404).identify("tok")
    assert info.value.status == 401
    with pytest.raises(HTTPError) as info:
        await Authenticator(identity_url="http://127.0.0.1:1/identity").identify("tok")
    assert info.value.status == 503


async def test_without_keystone_only_tempauth_tokens_pass():
    auth = Authenticator(tempauth_users="acct:boss:k:.reseller_admin,acct:op:k2:.admin")
    with pytest.raises(HTTPError) as info:
        await auth.identify("gAAAAAB-keystone-token")
    assert info.value.status == 401
    boss, account, _ = auth.tempauth("acct:boss", "k")
    op, _, _ = auth.tempauth("acct:op", "k2")
    assert account == "AUTH_acct"
    assert is_reseller(await auth.identify(boss))
    assert not is_reseller(await auth.identify(op))
    assert auth.owns(await auth.identify(boss), "AUTH_someone_else")
    assert not auth.owns(await auth.identify(op), "AUTH_someone_else")
