"""HMAC signatures on every bus message, so a process that can reach the broker cannot forge
a request context (an admin's roles) or a reply.

Every message carries ``x-overcast-signature``: HMAC-SHA256, keyed by the cloud's
``bus_signing_key``, over the body (method, args and context together, so a signed context
cannot be glued onto other arguments) and over where the message goes and where its answer
goes (exchange, routing key, ``reply_to``, correlation id), so a captured request cannot be
replayed to another queue, nor have its answer redirected to an eavesdropper's queue.

Replay window. A message whose sender knows how long it is worth (a call, which its caller
stops waiting for after its timeout; a cast with a TTL, such as a heartbeat) also carries a
signed ``x-overcast-expires``, and a receiver refuses it once that time has passed (with a
little slack for clocks). A durable cast carries no expiry on purpose: it may wait in its
queue for a host that is down, or be redelivered after a broker restart, and refusing it then
would drop real work; the handlers it reaches are idempotent, so a replay of one repeats work
already done rather than doing new work. Replies bind the caller's reply queue and
correlation id, which identify exactly one pending call.

This authenticates the cloud's processes as a group (anyone holding the key); it does not
hide what a message says from someone who can read the queues.
"""
from __future__ import annotations

import dataclasses
import hashlib
import hmac
import time
from collections.abc import Mapping
from typing import Any

import orjson

from overcast.config import ConfigError

SIGNATURE_HEADER = "x-overcast-signature"
EXPIRES_HEADER = "x-overcast-expires"
_SCHEME = b"overcast-bus-hmac-sha256-v1"
# How far apart two processes' clocks may be before a fresh call looks expired.
CLOCK_SLACK = 5.0


class MissingSigningKey(ConfigError):
    """A process that uses the bus was started without the cloud's signing key."""


class BadSignature(Exception):
    """A message whose signature is missing, malformed, does not verify, or has expired."""


@dataclasses.dataclass(frozen=True, kw_only=True)
class Route:
    """Where a message was sent and where its answer goes: signed along with its body."""

    exchange: str = ""
    routing_key: str = ""
    reply_to: str | None = None
    correlation_id: str | None = None


class Signer:
    """Signs and verifies bus messages with one cloud's key (never logged, never shown)."""

    def __init__(self, key: str | bytes) -> None:
        if not key:
            raise MissingSigningKey(
                "no bus signing key: set OVERCAST_BUS_SIGNING_KEY_FILE to a file holding the "
                "cloud's key (`overcast up` writes it to the state dir), so that this process "
                "neither sends nor accepts unsigned messages")
        self._key = key.encode() if isinstance(key, str) else key

    def __repr__(self) -> str:
        return "Signer(key=<hidden>)"

    def headers(self, body: bytes, route: Route, *, expires: float | None = None
                ) -> dict[str, str]:
        """The headers that make ``body``, sent along ``route``, verifiable."""
        expiry = "" if expires is None else f"{expires:.3f}"
        headers = {SIGNATURE_HEADER: self._mac(body, route, expiry)}
        if expiry:
            headers[EXPIRES_HEADER] = expiry
        return headers

    def verify(self, body: bytes, route: Route, headers: Mapping[str, Any] | None, *,
               now: float | None = None) -> None:
        """Return if ``body`` came along ``route`` signed with this key and is not expired;
        raise ``BadSignature`` saying why not."""
        headers = headers or {}
        signature = _text(headers.get(SIGNATURE_HEADER))
        if not signature:
            raise BadSignature("the message is not signed")
        expiry = _text(headers.get(EXPIRES_HEADER))
        if not hmac.compare_digest(signature.encode(),
                                   self._mac(body, route, expiry).encode()):
            raise BadSignature("the signature does not verify")
        if expiry:
            try:
                expires = float(expiry)
            except ValueError:
                raise BadSignature("the expiry is not a time") from None
            if (time.time() if now is None else now) > expires + CLOCK_SLACK:
                raise BadSignature(f"the message expired at {expires:.3f}")

    def _mac(self, body: bytes, route: Route, expiry: str) -> str:
        # A JSON list keeps the fields apart unambiguously; the body follows as it is sent.
        signed = orjson.dumps([route.exchange or "", route.routing_key or "",
                               route.reply_to or "", route.correlation_id or "", expiry])
        return hmac.new(self._key, b"\n".join((_SCHEME, signed, body)),
                        hashlib.sha256).hexdigest()


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    return "" if value is None else str(value)
