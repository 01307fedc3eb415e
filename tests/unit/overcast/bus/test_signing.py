"""The bus's message signatures: what verifies and what is refused, without a broker."""
from __future__ import annotations

import pytest

from overcast.bus import envelope
from overcast.bus.signing import (
    EXPIRES_HEADER,
    SIGNATURE_HEADER,
    BadSignature,
    MissingSigningKey,
    Route,
    Signer,
)
from overcast.context import RequestContext

KEY = "the-cloud-key"
ROUTE = Route(routing_key="conductor", reply_to="reply.api.1", correlation_id="c-1")
BODY = envelope.Request("list_servers", "1.0", {"all_tenants": True},
                        RequestContext(user_id="u-1", roles=("admin",))).encode()


def test_a_message_signed_with_the_cloud_key_verifies():
    signer = Signer(KEY)
    signer.verify(BODY, ROUTE, signer.headers(BODY, ROUTE))


def test_a_message_without_a_signature_is_refused():
    with pytest.raises(BadSignature, match="not signed"):
        Signer(KEY).verify(BODY, ROUTE, {})
    with pytest.raises(BadSignature, match="not signed"):
        Signer(KEY).verify(BODY, ROUTE, None)


def test_a_message_signed_with_another_key_is_refused():
    headers = Signer("another-cloud-key").headers(BODY, ROUTE)
    with pytest.raises(BadSignature, match="does not verify"):
        Signer(KEY).verify(BODY, ROUTE, headers)


def test_a_tampered_body_is_refused():
    signer = Signer(KEY)
    headers = signer.headers(BODY, ROUTE)
    tampered = BODY.replace(b'"roles":["admin"]', b'"roles":["admin","member"]')
    assert tampered != BODY
    with pytest.raises(BadSignature, match="does not verify"):
        signer.verify(tampered, ROUTE, headers)


@pytest.mark.parametrize("moved", [
    Route(routing_key="compute.hypervisor-1", reply_to="reply.api.1", correlation_id="c-1"),
    Route(routing_key="conductor", reply_to="reply.mallory", correlation_id="c-1"),
    Route(routing_key="conductor", reply_to="reply.api.1", correlation_id="c-2"),
    Route(exchange="conductor_fanout", routing_key="conductor", reply_to="reply.api.1",
          correlation_id="c-1"),
], ids=["other-queue", "answer-redirected", "other-call", "other-exchange"])
def test_a_signed_message_replayed_along_another_route_is_refused(moved):
    signer = Signer(KEY)
    with pytest.raises(BadSignature, match="does not verify"):
        signer.verify(BODY, moved, signer.headers(BODY, ROUTE))


def test_a_tampered_signature_or_expiry_is_refused():
    signer = Signer(KEY)
    headers = signer.headers(BODY, ROUTE, expires=1000.0)
    with pytest.raises(BadSignature, match="does not verify"):
        signer.verify(BODY, ROUTE, {**headers, EXPIRES_HEADER: "9999999999.000"}, now=1000.0)
    flipped = headers[SIGNATURE_HEADER][:-1] + ("0" if headers[SIGNATURE_HEADER][-1] != "0"
                                                else "1")
    with pytest.raises(BadSignature, match="does not verify"):
        signer.verify(BODY, ROUTE, {**headers, SIGNATURE_HEADER: flipped}, now=1000.0)


def test_an_expired_message_is_refused_and_a_fresh_one_is_not():
    signer = Signer(KEY)
    headers = signer.headers(BODY, ROUTE, expires=1000.0)
    signer.verify(BODY, ROUTE, headers, now=1001.0)  # within the clock slack
    with pytest.raises(BadSignature, match="expired"):
        signer.verify(BODY, ROUTE, headers, now=1100.0)


def test_a_message_without_an_expiry_never_expires():
    signer = Signer(KEY)
    signer.verify(BODY, ROUTE, signer.headers(BODY, ROUTE), now=4_000_000_000.0)


def test_headers_arriving_as_bytes_verify():
    signer = Signer(KEY)
    headers = {name: value.encode() for name, value in
               signer.headers(BODY, ROUTE, expires=1000.0).items()}
    signer.verify(BODY, ROUTE, headers, now=1000.0)


def test_a_process_without_a_key_refuses_to_sign_anything():
    with pytest.raises(MissingSigningKey, match="OVERCAST_BUS_SIGNING_KEY_FILE"):
        Signer("")


def test_the_key_never_shows_in_the_signer_or_its_headers():
    signer = Signer(KEY)
    assert KEY not in repr(signer)
    assert all(KEY not in value for value in signer.headers(BODY, ROUTE).values())


def test_the_claimed_sender_of_a_forged_message_is_described_briefly():
    forged = envelope.Request("list_servers", "1.0", {}, RequestContext(
        user_id="x" * 500, roles=("admin",))).encode()
    described = envelope.claimed_sender(forged)
    assert "method=list_servers" in described
    assert "roles=['admin']" in described
    assert len(described) < 600
    assert envelope.claimed_sender(b"\xff not json") == "an unreadable body"
    assert envelope.claimed_sender(b"[1]") == "a body that is not an object"
