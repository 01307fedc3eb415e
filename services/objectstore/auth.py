"""Who may use which account: Keystone tokens, and a tempauth-style ``/auth/v1.0``.

Keystone: the account of project P is ``AUTH_<P>``. A token is validated with Keystone by
the core's ``overcast.keystone.KeystoneValidator`` (cached while revocation events reach this
process); only a project-scoped token is let in. Members of the project with an operator role
(admin, member, swiftoperator) own its account and may do anything there; a reader only GET
and HEAD. A ``ResellerAdmin`` may use every account. Anyone else gets what the container's
ACLs grant (``acl.py``).

Tempauth (for test tools such as swift-bench): users configured as
``account:user:key[:.admin|.reseller_admin]``; ``GET /auth/v1.0`` with ``X-Auth-User`` and
``X-Auth-Key`` answers a token (``AUTH_tk...``) and the storage URL of ``AUTH_<account>``.
"""
from __future__ import annotations

import dataclasses
import hmac
import logging
import secrets
import time

from overcast import errors
from overcast.keystone import Identity, KeystoneValidator, TokenCache, is_token_shaped
from services.objectstore.http import HTTPError

logger = logging.getLogger(__name__)

OPERATOR_ROLES = frozenset({"admin", "member", "swiftoperator", "_member_"})
READER_ROLES = frozenset({"reader"})
RESELLER_ROLE = "ResellerAdmin"
READ_METHODS = frozenset({"GET", "HEAD"})


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
    """Tempauth tokens, and Keystone tokens through ``keystone`` (None without Keystone: every
    token but a tempauth one is then refused)."""

    def __init__(self, *, identity_url: str = "", tempauth_users: str = "",
                 reseller_prefix: str = "AUTH_", token_life: int = 86400,
                 cache_ttl: float = 300.0) -> None:
        self.users = parse_tempauth_users(tempauth_users)
        self.prefix = reseller_prefix
        self.token_life = token_life
        self._temp_tokens: dict[str, Identity] = {}
        self.keystone = (KeystoneValidator(identity_url, cache_ttl=cache_ttl)
                         if identity_url else None)

    @property
    def cache(self) -> TokenCache | None:
        """The Keystone validations' cache, for the revocation subscriber."""
        return self.keystone.cache if self.keystone is not None else None

    async def close(self) -> None:
        if self.keystone is not None:
            await self.keystone.close()

    # -- tempauth ----------------------------------------------------------------------------

    def tempauth(self, user: str | None, key: str | None) -> tuple[str, str, int]:
        """(token, account, seconds left) for a tempauth user; 401 otherwise."""
        found = self.users.get(user or "")
        if found is None or not hmac.compare_digest(found.key.encode(), (key or "").encode()):
            raise HTTPError(401)
        token = "AUTH_tk" + secrets.token_hex(16)
        groups = found.groups
        roles = ({"admin", RESELLER_ROLE} if ".reseller_admin" in groups
                 else {"admin"} if ".admin" in groups else {"reader"})
        self._temp_tokens[token] = Identity(
            user_id=f"{found.account}:{found.user}", user_name=found.user,
            project_id=found.account, roles=frozenset(roles),
            expires=time.time() + self.token_life)
        if len(self._temp_tokens) > 100_000:
            now = time.time()
            self._temp_tokens = {t: i for t, i in self._temp_tokens.items() if i.expires > now}
        return token, f"{self.prefix}{found.account}", self.token_life

    # -- validation --------------------------------------------------------------------------

    async def identify(self, token: str) -> Identity:
        """The identity of a token; 401 when it is invalid, expired, revoked or not scoped to
        a project, 503 when Keystone cannot be asked."""
        if not is_token_shaped(token):
            raise HTTPError(401)
        if token.startswith("AUTH_tk"):
            identity = self._temp_tokens.get(token)
            if identity is None or identity.expires < time.time():
                raise HTTPError(401)
            return identity
        if self.keystone is None:
            raise HTTPError(401)
        try:
            identity = await self.keystone.identify(token)
        except errors.Unauthorized:
            raise HTTPError(401) from None
        except errors.ServiceUnavailable:
            raise HTTPError(503) from None
        if not identity.project_id:
            raise HTTPError(401)  # accounts belong to projects: no project, no account
        return identity

    def owns(self, identity: Identity, account: str) -> bool:
        """Whether ``identity`` may do anything in ``account``, ACLs and metadata included."""
        return is_reseller(identity) or (
            account == f"{self.prefix}{identity.project_id}"
            and bool(identity.roles & OPERATOR_ROLES))

    def reads_own(self, identity: Identity, account: str, method: str) -> bool:
        """Whether ``identity`` is a reader of ``account`` sending a read."""
        return (method in READ_METHODS and bool(identity.roles & READER_ROLES)
                and account == f"{self.prefix}{identity.project_id}")


def is_reseller(identity: Identity) -> bool:
    """Whether ``identity`` holds the ``ResellerAdmin`` role (any case): every account."""
    return RESELLER_ROLE.lower() in {role.lower() for role in identity.roles}
