"""Who may use which account: Keystone tokens, and a tempauth-style ``/auth/v1.0``.

Keystone: the account of project P is ``AUTH_<P>``. A token is validated with Keystone
(``GET /v3/auth/tokens``, the token checking itself) and the answer cached until it expires
or ``cache_ttl`` passes, but only while revocation events reach this process
(``tokens.TokenCache``). Members of the project with an operator role (admin, member,
swiftoperator) own its account and may do anything there; a reader only GET and HEAD. A
``ResellerAdmin`` may use every account. Anyone else gets what the container's ACLs grant
(``acl.py``).

Tempauth (for test tools such as swift-bench): users configured as
``account:user:key[:.admin|.reseller_admin]``; ``GET /auth/v1.0`` with ``X-Auth-User`` and
``X-Auth-Key`` answers a token (``AUTH_tk...``) and the storage URL of ``AUTH_<account>``.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import hmac
import logging
import secrets
import time
from typing import Any

import httpx

from services.objectstore.http import HTTPError
from services.objectstore.tokens import DEFAULT_DOMAIN, Identity, TokenCache

logger = logging.getLogger(__name__)

OPERATOR_ROLES = frozenset({"admin", "member", "swiftoperator", "_member_"})
READER_ROLES = frozenset({"reader"})
RESELLER_ROLE = "resellerAdmin"
READ_METHODS = frozenset({"GET", "HEAD"})
MAX_TOKEN_LENGTH = 8192


@dataclasses.dataclass(frozen=True)
class TempUser:
    account: str
    user: str
    key: str
    groups: frozenset[str]


def parse_tempauth_users(spec: str) -> dict[str, TempUser]:
    """``"acct:user:key[:group...],..."`` -> {"acct:user": TempUser}."""
    users = {}
    for item in filter(None, (s.strip() for s in spec.split(","))):
        parts = item.split(":")
        if len(parts) < 3:
            raise ValueError(f"bad tempauth user {item.split(':')[0]!r}: want acct:user:key")
        account, user, key, *groups = parts
        users[f"{account}:{user}"] = TempUser(account, user, key, frozenset(groups))
    return users


class Authenticator:
    def __init__(self, *, identity_url: str = "", tempauth_users: str = "",
                 reseller_prefix: str = "AUTH_", token_life: int = 86400,
                 cache_ttl: float = 300.0) -> None:
        self.identity_url = identity_url.rstrip("/")
        self.users = parse_tempauth_users(tempauth_users)
        self.prefix = reseller_prefix
        self.token_life = token_life
        self.cache_ttl = cache_ttl
        self._temp_tokens: dict[str, Identity] = {}
        self.cache = TokenCache()
        self._http: httpx.AsyncClient | None = None

    async def close(self) -> None:
        if self._http is not None:
            await self._http.aclose()

    # -- tempauth ----------------------------------------------------------------------------

    def tempauth(self, user: str | None, key: str | None) -> tuple[str, str, int]:
        """(token, account, seconds left) for a tempauth user; 401 otherwise."""
        found = self.users.get(user or "")
        if found is None or not hmac.compare_digest(found.key.encode(), (key or "").encode()):
            raise HTTPError(401)
        token = "AUTH_tk" + secrets.token_hex(16)
        groups = found.groups
        roles = frozenset({"admin"} if ".admin" in groups or ".reseller_admin" in groups
                          else {"reader"})
        self._temp_tokens[token] = Identity(
            user_id=f"{found.account}:{found.user}", user_name=found.user,
            project_id=found.account, roles=roles, expires=time.time() + self.token_life,
            reseller=".reseller_admin" in groups)
        if len(self._temp_tokens) > 100_000:
            now = time.time()
            self._temp_tokens = {t: i for t, i in self._temp_tokens.items() if i.expires > now}
        return token, f"{self.prefix}{found.account}", self.token_life

    # -- validation --------------------------------------------------------------------------

    async def identify(self, token: str) -> Identity:
        """The identity of a token; 401 when it is invalid, expired or revoked."""
        if not is_token_shaped(token):
            raise HTTPError(401)
        now = time.time()
        if token.startswith("AUTH_tk"):
            identity = self._temp_tokens.get(token)
            if identity is None or identity.expires < now:
                raise HTTPError(401)
            return identity
        cached = self.cache.get(token, now=now)
        if cached is not None:
            return cached
        if self.cache.refused(token, now=now):
            raise HTTPError(401)
        generation = self.cache.generation
        identity = await self._keystone(token)
        if identity is None:
            self.cache.refuse(token, now=now)
            raise HTTPError(401)
        self.cache.put(token, identity, generation=generation)
        return identity

    async def _keystone(self, token: str) -> Identity | None:
        if not self.identity_url:
            return None
        if self._http is None:
            self._http = httpx.AsyncClient(timeout=10.0)
        try:
            response = await self._http.get(
                f"{self.identity_url}/v3/auth/tokens?nocatalog",
                headers={"X-Auth-Token": token, "X-Subject-Token": token})
        except httpx.HTTPError as exc:
            logger.warning("identity service unreachable: %s", exc)
            raise HTTPError(503) from None
        if response.status_code != 200:
            return None
        return self._identity(response.json()["token"])

    def _identity(self, body: dict[str, Any]) -> Identity | None:
        project = body.get("project") or {}
        if not project.get("id"):
            return None
        roles = frozenset(r["name"] for r in body.get("roles") or [])
        expires = time.time() + self.cache_ttl
        if body.get("expires_at"):
            expires = min(expires, _timestamp(body["expires_at"], default=expires))
        user = body.get("user") or {}
        return Identity(user_id=user.get("id", ""), user_name=user.get("name", ""),
                        project_id=project["id"], roles=roles, expires=expires,
                        reseller=RESELLER_ROLE.lower() in {r.lower() for r in roles},
                        project_name=project.get("name", ""),
                        user_domain_id=(user.get("domain") or {}).get("id", DEFAULT_DOMAIN),
                        project_domain_id=(project.get("domain") or {}).get(
                            "id", DEFAULT_DOMAIN),
                        audit_ids=tuple(body.get("audit_ids") or ()),
                        issued_at=_timestamp(body.get("issued_at") or "", default=0.0))

    def owns(self, identity: Identity, account: str) -> bool:
        """Whether ``identity`` may do anything in ``account``, ACLs and metadata included."""
        return identity.reseller or (account == f"{self.prefix}{identity.project_id}"
                                     and bool(identity.roles & OPERATOR_ROLES))

    def reads_own(self, identity: Identity, account: str, method: str) -> bool:
        """Whether ``identity`` is a reader of ``account`` sending a read."""
        return (method in READ_METHODS and bool(identity.roles & READER_ROLES)
                and account == f"{self.prefix}{identity.project_id}")


def is_token_shaped(token: str) -> bool:
    """Whether ``token`` could be a token at all: Keystone and tempauth tokens are printable
    ASCII, and anything else (such as a header of Latin-1 bytes) is refused before it is sent
    anywhere."""
    return bool(token) and len(token) <= MAX_TOKEN_LENGTH and token.isascii() \
        and token.isprintable()


def _timestamp(value: str, *, default: float) -> float:
    try:
        return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return default
