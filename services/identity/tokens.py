"""Signed, expiring tokens: base64url(JSON payload) + "." + base64url(Ed25519 signature).

The signing key is made on first start and kept in the key directory; every later start (and
every api process sharing that directory) loads the same key, so tokens outlive restarts.
Verification needs no database: the payload says who the token is for, and the signature says
we wrote it. Revocation is checked separately (see ``revocation.py``).
"""
from __future__ import annotations

import base64
import binascii
import dataclasses
import logging
import os
import secrets
import threading
from pathlib import Path
from typing import Any

import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

logger = logging.getLogger(__name__)

KEY_FILE = "token_signing_key.pem"
# Far above any token we issue; refuse to decode anything larger.
MAX_TOKEN_LENGTH = 8192
_PAYLOAD_VERSION = 1


class InvalidToken(Exception):
    """The token is malformed, not signed by our key, or expired."""


def new_audit_id() -> str:
    """A random audit id, 22 url-safe characters like Keystone's."""
    return base64.urlsafe_b64encode(secrets.token_bytes(16)).rstrip(b"=").decode()


@dataclasses.dataclass(frozen=True)
class TokenData:
    """What a token says: whose it is, its scope and roles, and when it is valid.

    ``audit_ids`` holds this token's own audit id first, then the audit id of the token it
    was rescoped from, if any. ``roles`` are (id, name) pairs. A project-scoped token has the
    ``project_*`` fields; a domain-scoped one has ``domain_id``; a system-scoped one has
    ``system_all``; an unscoped one has none of them.
    """

    user_id: str
    user_name: str
    user_domain_id: str
    methods: tuple[str, ...]
    issued_at: float
    expires_at: float
    audit_ids: tuple[str, ...]
    project_id: str | None = None
    project_name: str | None = None
    project_domain_id: str | None = None
    domain_id: str | None = None
    roles: tuple[tuple[str, str], ...] = ()
    system_all: bool = False

    @property
    def role_names(self) -> tuple[str, ...]:
        return tuple(name for _, name in self.roles)

    def to_payload(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["roles"] = [list(pair) for pair in self.roles]
        data["v"] = _PAYLOAD_VERSION
        return data

    @classmethod
    def from_payload(cls, data: dict[str, Any]) -> TokenData:
        """The token data in ``data``; raises ``InvalidToken`` if it is not a payload of ours."""
        try:
            if data.pop("v") != _PAYLOAD_VERSION:
                raise InvalidToken("unknown payload version")
            data["methods"] = tuple(data["methods"])
            data["audit_ids"] = tuple(data["audit_ids"])
            data["roles"] = tuple((str(i), str(n)) for i, n in data["roles"])
            data["issued_at"] = float(data["issued_at"])
            data["expires_at"] = float(data["expires_at"])
            data["system_all"] = data.get("system_all") is True
            return cls(**data)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise InvalidToken("malformed payload") from exc


def _b64encode(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def _b64decode(data: str) -> bytes:
    """Strict, canonical base64url: one token string per payload and signature."""
    raw = base64.b64decode(data + "=" * (-len(data) % 4), altchars=b"-_", validate=True)
    if _b64encode(raw).decode("ascii") != data:
        raise ValueError("non-canonical base64")
    return raw


def load_or_create_key(key_dir: Path) -> Ed25519PrivateKey:
    """The Ed25519 signing key kept in ``key_dir``, made (file mode 0600) if there is none.

    Two processes starting at once agree on one key: the new key is written to a private
    temporary file and hard-linked into place, which fails if another process won the race.
    """
    key_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = key_dir / KEY_FILE
    if not path.exists():
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
        tmp = key_dir / f".{KEY_FILE}.{os.getpid()}.{secrets.token_hex(4)}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(pem)
                f.flush()
                os.fsync(f.fileno())
            try:
                os.link(tmp, path)
                logger.info("created token signing key in %s", key_dir)
            except FileExistsError:
                pass
        finally:
            tmp.unlink(missing_ok=True)
    if path.stat().st_mode & 0o077:
        logger.warning("token signing key %s is readable by others; chmod 600 it", path)
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise RuntimeError(f"{path} does not hold an Ed25519 private key")
    return key


class TokenSigner:
    """Issues tokens and verifies them, remembering recently verified tokens.

    Thread-safe. The cache is bounded (oldest entries leave first) and an entry is only
    used while its token has not expired.
    """

    def __init__(self, key_dir: Path, *, cache_size: int = 4096) -> None:
        self._private = load_or_create_key(key_dir)
        self._public = self._private.public_key()
        self._cache: dict[str, TokenData] = {}
        self._cache_size = cache_size
        self._lock = threading.Lock()

    def issue(self, data: TokenData) -> str:
        """The token string for ``data``."""
        body = _b64encode(orjson.dumps(data.to_payload()))
        return (body + b"." + _b64encode(self._private.sign(body))).decode()

    def verify(self, token: str, *, now: float) -> TokenData:
        """What ``token`` says, if we signed it and it has not expired; else ``InvalidToken``."""
        data = self._cache.get(token)
        if data is None:
            data = self._verify_uncached(token)
            with self._lock:
                if len(self._cache) >= self._cache_size:
                    self._evict(now)
                self._cache[token] = data
        if data.expires_at <= now:
            raise InvalidToken("expired")
        return data

    def _verify_uncached(self, token: str) -> TokenData:
        if not token or len(token) > MAX_TOKEN_LENGTH or token.count(".") != 1:
            raise InvalidToken("malformed token")
        body, _, signature = token.partition(".")
        try:
            self._public.verify(_b64decode(signature), body.encode("ascii"))
            payload = orjson.loads(_b64decode(body))
        except (InvalidSignature, binascii.Error, ValueError, UnicodeError) as exc:
            raise InvalidToken("bad signature or encoding") from exc
        if not isinstance(payload, dict):
            raise InvalidToken("malformed payload")
        return TokenData.from_payload(payload)

    def _evict(self, now: float) -> None:
        """Drop expired entries; if none had expired, drop the oldest quarter. Lock held."""
        expired = [t for t, d in self._cache.items() if d.expires_at <= now]
        if not expired:
            expired = list(self._cache)[: max(1, self._cache_size // 4)]
        for token in expired:
            del self._cache[token]

    def forget(self, token: str) -> None:
        """Drop ``token`` from the cache (it was revoked; it would fail the revocation check
        anyway, this just frees the slot)."""
        with self._lock:
            self._cache.pop(token, None)
