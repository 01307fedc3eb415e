"""Token checks for every protected route, as FastAPI dependencies."""
from __future__ import annotations

from typing import Annotated, Protocol

from fastapi import Depends, Request

from overcast import context, errors
from overcast.context import RequestContext


class Authenticator(Protocol):
    def authenticate(self, token: str, *, request_id: str) -> RequestContext:
        """The context of a valid token; raises ``Unauthorized`` for a bad or revoked one."""


async def request_context(request: Request) -> RequestContext:
    """The caller's context from ``X-Auth-Token``; 401 when missing or invalid."""
    token = request.headers.get("x-auth-token")
    if not token:
        raise errors.Unauthorized("The request you have made requires authentication.")
    ctx = request.app.state.authenticator.authenticate(
        token, request_id=request.state.request_id)
    context.bind(ctx)
    return ctx


async def admin_context(ctx: Annotated[RequestContext, Depends(request_context)]
                        ) -> RequestContext:
    """As ``request_context``, but 403 unless the caller holds the admin role."""
    if not ctx.is_admin:
        raise errors.Forbidden("Policy doesn't allow this operation to be performed.")
    return ctx


Context = Annotated[RequestContext, Depends(request_context)]
AdminContext = Annotated[RequestContext, Depends(admin_context)]
