"""Validating Keystone tokens over HTTP, for the REST edges that are not the api process.

The api process verifies tokens itself (it holds identity's key). Every other process with a
REST edge (the object proxy, the volume service) asks Keystone, ``GET /v3/auth/tokens`` with
the token checking itself, and caches the answer in a ``TokenCache`` that a
``RevocationSubscriber`` keeps honest: until it is subscribed, every request is a round trip.
"""
from __future__ import annotations

import datetime as dt
import logging
import time
from typing import Any

import httpx

from overcast import errors
from overcast.context import RequestContext
from overcast.keystone.tokens import DEFAULT_DOMAIN, Identity, TokenCache

logger = logging.getLogger(__name__)

MAX_TOKEN_LENGTH = 8192
AUTH_REQUIRED = "The request you have made requires authentication."
# Keystone's answers that mean "this token is no good" (anything else is Keystone's fault).
REFUSALS = frozenset({400, 401, 403, 404})


class KeystoneValidator:
    """Tokens -> who holds them, asked of Keystone at ``identity_url`` (its base URL, as
    ``http://api:8770/identity``) and cached for at most ``cache_ttl`` seconds.

    It is a ``TokenValidator`` for ``overcast.rest.app.rest_app`` (``authenticate`` is a
    coroutine, which the token dependency awaits). ``transport`` is for tests.
    """

    def __init__(self, identity_url: str, *, cache_ttl: float = 300.0,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.identity_url = identity_url.rstrip("/")
        self.cache_ttl = cache_ttl
        self.cache = TokenCache()
        self._transport = transport
        self._http: httpx.AsyncClient | None = None

    async def close(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    async def authenticate(self, token: str, *, request_id: str) -> RequestContext:
        """The context of a valid token, whatever its scope (only a project-scoped token
        gives a project). ``Unauthorized`` for a malformed, unknown, expired or revoked
        token; ``ServiceUnavailable`` when Keystone cannot be asked."""
        return (await self.identify(token)).context(request_id)

    async def identify(self, token: str) -> Identity:
        """What a valid token says; raises as ``authenticate`` does."""
        if not is_token_shaped(token):
            raise errors.Unauthorized(AUTH_REQUIRED)
        now = time.time()
        cached = self.cache.get(token, now=now)
        if cached is not None:
            return cached
        if self.cache.refused(token, now=now):
            raise errors.Unauthorized(AUTH_REQUIRED)
        generation = self.cache.generation
        identity = await self._ask(token)
        if identity is None:
            self.cache.refuse(token, now=now)
            raise errors.Unauthorized(AUTH_REQUIRED)
        self.cache.put(token, identity, generation=generation)
        return identity

    async def _ask(self, token: str) -> Identity | None:
        """Keystone's word on ``token``: its identity, or None when Keystone refuses it."""
        if self._http is None:
            self._http = httpx.AsyncClient(timeout=10.0, transport=self._transport)
        try:
            response = await self._http.get(
                f"{self.identity_url}/v3/auth/tokens?nocatalog",
                headers={"X-Auth-Token": token, "X-Subject-Token": token})
        except httpx.HTTPError as exc:
            logger.warning("identity service unreachable: %s", exc)
            raise errors.ServiceUnavailable("The identity service is unreachable.") from None
        if response.status_code in REFUSALS:
            return None
        try:
            if response.status_code != 200:
                raise ValueError(f"status {response.status_code}")
            return identity_from_token(response.json()["token"], cache_ttl=self.cache_ttl)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            logger.warning("identity service gave an unusable token validation: %s", exc)
            raise errors.ServiceUnavailable(
                "The identity service could not validate the token.") from None


def identity_from_token(body: dict[str, Any], *, cache_ttl: float,
                        now: float | None = None) -> Identity:
    """The ``Identity`` of a Keystone v3 token document (the value of ``"token"``), trusted
    until its expiry or ``cache_ttl`` seconds from ``now``, whichever is sooner."""
    now = time.time() if now is None else now
    user = body.get("user") or {}
    project = body.get("project") or {}
    domain = body.get("domain") or {}
    system = body.get("system") or {}
    expires = now + cache_ttl
    if body.get("expires_at"):
        expires = min(expires, _timestamp(body["expires_at"], default=expires))
    return Identity(
        user_id=str(user["id"]), user_name=str(user.get("name") or ""),
        project_id=str(project["id"]) if project.get("id") else None,
        roles=frozenset(str(r["name"]) for r in body.get("roles") or ()), expires=expires,
        project_name=str(project.get("name") or ""),
        user_domain_id=str((user.get("domain") or {}).get("id") or DEFAULT_DOMAIN),
        project_domain_id=str((project.get("domain") or {}).get("id") or DEFAULT_DOMAIN),
        domain_id=str(domain["id"]) if not project.get("id") and domain.get("id") else None,
        system_scope="all" if not project.get("id") and system.get("all") else None,
        audit_ids=tuple(str(a) for a in body.get("audit_ids") or ()),
        issued_at=_timestamp(body.get("issued_at") or "", default=0.0))


def is_token_shaped(token: str) -> bool:
    """Whether ``token`` could be a token at all: tokens are printable ASCII, and anything
    else (such as a header of Latin-1 bytes) is refused before it is sent anywhere."""
    return bool(token) and len(token) <= MAX_TOKEN_LENGTH and token.isascii() \
        and token.isprintable()


def _timestamp(value: str, *, default: float) -> float:
    try:
        return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return default
