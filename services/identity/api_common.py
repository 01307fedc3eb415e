"""What the identity routers share: body parsing, URLs and the simple policy checks."""
from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request

from overcast.context import RequestContext
from overcast.errors import BadRequest, Forbidden
from overcast.rest.body import decode_json
from services.identity.views import identity_url

POLICY_DENIED = "You are not authorized to perform the requested action."


async def json_body(request: Request) -> Any:
    """The request's JSON document; ``BadRequest`` when it is missing, malformed or not
    valid Unicode."""
    raw = await request.body()
    if not raw.strip():
        raise BadRequest("The request body is empty; a JSON document is required.")
    return decode_json(raw)


JsonBody = Annotated[Any, Depends(json_body)]


class Urls:
    """Builds absolute v3 URLs from the request, for links."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    def v3(self, request: Request) -> str:
        return identity_url(request, self.prefix) + "/v3"


def query(request: Request, key: str) -> str | None:
    """A query parameter, or None when it is absent or empty."""
    return request.query_params.get(key) or None


def enabled_filter(request: Request) -> bool | None:
    """Keystone's ``enabled`` list filter: absent means any, "0"/"false" disabled, else
    enabled."""
    value = request.query_params.get("enabled")
    if value is None:
        return None
    return value.lower() not in ("0", "false", "no")


def require_admin_or_self(ctx: RequestContext, user_id: str) -> None:
    """``Forbidden`` unless the caller is an admin or is the user ``user_id``."""
    if not ctx.is_admin and ctx.user_id != user_id:
        raise Forbidden(POLICY_DENIED)


def extra_attributes(data: dict[str, Any], known: frozenset[str]) -> dict[str, Any]:
    """The attributes Keystone keeps as given (``email`` and the like)."""
    return {k: v for k, v in data.items() if k not in known}
