"""Twins for the REST plumbing tests: a token validator and an httpx client on an app."""
from __future__ import annotations

from overcast import errors
from overcast.context import RequestContext

MEMBER = RequestContext(user_id="u-member", project_id="p-1", roles=("member",))
ADMIN = RequestContext(user_id="u-admin", project_id="p-admin", roles=("admin", "member"))
# Unscoped and domain-scoped tokens carry no project.
UNSCOPED = RequestContext(user_id="u-member", roles=())
DOMAIN_ADMIN = RequestContext(user_id="u-admin", domain_id="default", roles=("admin",))


class TokenValidatorTwin:
    """Tokens are names: "member", "admin", "unscoped" and "domain-admin"; any other token is
    refused."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, str]] = []

    def authenticate(self, token: str, *, request_id: str) -> RequestContext:
        self.asked.append((token, request_id))
        known = {"member": MEMBER, "admin": ADMIN, "unscoped": UNSCOPED,
                 "domain-admin": DOMAIN_ADMIN}
        if token not in known:
            raise errors.Unauthorized("The request you have made requires authentication.")
        return RequestContext(**{**known[token].to_dict(), "roles": known[token].roles,
                                 "request_id": request_id})
