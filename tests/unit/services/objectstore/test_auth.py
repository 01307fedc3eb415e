"""Token checks of the proxy that need no Keystone: hostile token bytes, what a validation
answer is read as."""
from __future__ import annotations

import pytest

from services.objectstore.auth import Authenticator, is_token_shaped
from services.objectstore.http import HTTPError


@pytest.mark.parametrize("token", ["caf\xe9", "\u0442\u043e\u043a\u0435\u043d",
                                   "tok\x00en", "a b\n", "x" * 9000])
async def test_non_ascii_or_control_token_is_401_without_asking_keystone(token):
    auth = Authenticator(identity_url="http://127.0.0.1:1/identity")
    with pytest.raises(HTTPError) as info:
        await auth.identify(token)
    assert info.value.status == 401
    assert auth._http is None  # nothing was sent anywhere


def test_keystone_tokens_are_token_shaped():
    assert is_token_shaped("gAAAAABk-_x.y~z=")
    assert not is_token_shaped("")


def test_validation_answer_carries_what_revocation_and_acls_need():
    auth = Authenticator(identity_url="http://identity")
    identity = auth._identity({
        "expires_at": "2099-01-01T00:00:00.000000Z", "issued_at": "2026-01-01T00:00:00.5Z",
        "audit_ids": ["own", "parent"], "roles": [{"name": "member"}],
        "user": {"id": "uid", "name": "alice", "domain": {"id": "default"}},
        "project": {"id": "pid", "name": "team", "domain": {"id": "other"}}})
    assert identity is not None
    assert identity.audit_ids == ("own", "parent")
    assert identity.issued_at == pytest.approx(1767225600.5)
    assert (identity.project_name, identity.project_domain_id) == ("team", "other")
    assert identity.user_domain_id == "default"


def test_unscoped_validation_answer_is_no_identity():
    assert Authenticator()._identity({"user": {"id": "u"}}) is None
