"""Token signing, the signing key on disk, and password hashing."""
from __future__ import annotations

import base64
import stat

import pytest

from overcast.errors import Unauthorized
from services.identity.auth_request import parse_auth_request
from services.identity.passwords import hash_password, verify_password
from services.identity.tokens import KEY_FILE, InvalidToken, TokenData, TokenSigner, new_audit_id

NOW = 1_800_000_000.0


def sample(**overrides: object) -> TokenData:
    fields: dict = {"user_id": "u1", "user_name": "alice", "user_domain_id": "default",
                        "methods": ("password",), "issued_at": NOW, "expires_at": NOW + 60,
                        "audit_ids": (new_audit_id(),), "project_id": "p1", "project_name": "proj",
                        "project_domain_id": "default", "roles": (("r1", "member"),)}
    fields.update(overrides)
    return TokenData(**fields)


def test_token_round_trip(tmp_path):
    signer = TokenSigner(tmp_path)
    data = sample()
    token = signer.issue(data)
    body, _, sig = token.partition(".")
    assert body and sig and set(token) <= set(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.")
    assert signer.verify(token, now=NOW) == data
    # A second verification is answered from the cache, and still checks expiry.
    assert signer.verify(token, now=NOW + 59) == data
    with pytest.raises(InvalidToken):
        signer.verify(token, now=NOW + 60)


def test_key_file_is_private_and_reused(tmp_path):
    token = TokenSigner(tmp_path).issue(sample())
    key_file = tmp_path / KEY_FILE
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert b"PRIVATE KEY" in key_file.read_bytes()
    assert TokenSigner(tmp_path).verify(token, now=NOW).user_id == "u1"


def test_flipped_signature_is_rejected(tmp_path):
    signer = TokenSigner(tmp_path)
    body, _, sig = signer.issue(sample()).partition(".")
    raw = bytearray(base64.urlsafe_b64decode(sig + "=="))
    raw[0] ^= 0x01
    forged = body + "." + base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()
    with pytest.raises(InvalidToken):
        signer.verify(forged, now=NOW)


def test_edited_payload_is_rejected(tmp_path):
    signer = TokenSigner(tmp_path)
    body, _, sig = signer.issue(sample()).partition(".")
    payload = base64.urlsafe_b64decode(body + "==").replace(b'"member"', b'"admin"')
    forged = base64.urlsafe_b64encode(payload).rstrip(b"=").decode() + "." + sig
    with pytest.raises(InvalidToken):
        signer.verify(forged, now=NOW)


def test_token_signed_by_another_key_is_rejected(tmp_path):
    theirs = TokenSigner(tmp_path / "theirs").issue(sample())
    with pytest.raises(InvalidToken):
        TokenSigner(tmp_path / "ours").verify(theirs, now=NOW)


@pytest.mark.parametrize("garbage", ["", "abc", "a.b", "a.b.c", "..", "é.é", "x" * 10000,
                                     "eyJ2IjoxfQ.AAAA"])
def test_garbage_is_rejected(tmp_path, garbage):
    with pytest.raises(InvalidToken):
        TokenSigner(tmp_path).verify(garbage, now=NOW)


def test_non_canonical_encodings_of_a_valid_token_are_rejected(tmp_path):
    signer = TokenSigner(tmp_path)
    token = signer.issue(sample())
    with pytest.raises(InvalidToken):
        signer.verify(token + "=", now=NOW)
    with pytest.raises(InvalidToken):
        signer.verify(token.replace("-", "+").replace("_", "/") + "A", now=NOW)


def test_cache_stays_bounded(tmp_path):
    signer = TokenSigner(tmp_path, cache_size=8)
    tokens = [signer.issue(sample(user_id=f"u{i}")) for i in range(50)]
    for token in tokens:
        signer.verify(token, now=NOW)
    assert len(signer._cache) <= 8
    assert signer.verify(tokens[0], now=NOW).user_id == "u0"


def test_password_hash_is_salted_and_verifies():
    first, second = hash_password("s3cret"), hash_password("s3cret")
    assert first != second and "s3cret" not in first
    assert first.startswith("scrypt$")
    assert verify_password("s3cret", first)
    assert not verify_password("S3cret", first)
    assert not verify_password("s3cret", None)
    assert not verify_password("s3cret", "not-a-hash")
    assert not verify_password("x" * 5000, first)


def test_manager_rejects_forged_and_foreign_tokens(make_manager, tmp_path):
    ours = make_manager()
    ours.bootstrap(admin_password="a", demo_password="d", endpoints={})
    theirs = make_manager(key_dir=tmp_path / "other-keys")
    request = parse_auth_request({"auth": {"identity": {"methods": ["password"], "password": {
        "user": {"name": "admin", "domain": {"id": "default"}, "password": "a"}}}}})
    foreign, _ = theirs.issue_token(request)
    with pytest.raises(Unauthorized):
        ours.authenticate(foreign, request_id="req-1")
    own, _ = ours.issue_token(request)
    assert ours.authenticate(own, request_id="req-1").user_name == "admin"
