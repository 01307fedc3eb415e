"""Token checks for every protected route, as FastAPI dependencies.

The app holds a ``TokenValidator`` (``app.state.authenticator``), handed in when the process
wires its routers (``overcast.rest.app.rest_app``); this module knows no identity service.
The api process's validator answers at once (it verifies tokens itself); the other REST edges
hand in ``overcast.keystone.KeystoneValidator``, whose answer is awaited (it asks Keystone).

``Context`` and ``AdminContext`` are for project-scoped APIs (compute, image, network): as
OpenStack's default policies do, they refuse a token with no project scope (unscoped or
domain-scoped), so no query ever runs for a ``None`` project. Identity, which serves every
scope, uses ``AnyScopeContext`` and ``AnyScopeAdminContext``.
"""
from __future__ import annotations

import inspect
from collections.abc import Awaitable
from typing import Annotated, Protocol

from fastapi import Depends, Request

from overcast import context, errors
from overcast.context import RequestContext


class TokenValidator(Protocol):
    def authenticate(self, token: str, *, request_id: str
                     ) -> RequestContext | Awaitable[RequestContext]:
        """The context of a valid token (or an awaitable of it); raises ``Unauthorized`` for
        a bad or revoked one."""


async def any_scope_context(request: Request) -> RequestContext:
    """The caller's context from ``X-Auth-Token``, whatever its scope; 401 when missing or
    invalid."""
    token = request.headers.get("x-auth-token")
    if not token:
        raise errors.Unauthorized("The request you have made requires authentication.")
    validator: TokenValidator = request.app.state.authenticator
    answer = validator.authenticate(token, request_id=request.state.request_id)
    ctx = await answer if inspect.isawaitable(answer) else answer
    context.bind(ctx)
    return ctx


def _require_admin(ctx: RequestContext) -> RequestContext:
    if not ctx.is_admin:
        raise errors.Forbidden("Policy doesn't allow this operation to be performed.")
    return ctx


async def any_scope_admin_context(
        ctx: Annotated[RequestContext, Depends(any_scope_context)]) -> RequestContext:
    """As ``any_scope_context``, but 403 unless the caller holds the admin role."""
    return _require_admin(ctx)


async def request_context(ctx: Annotated[RequestContext, Depends(any_scope_context)]
                          ) -> RequestContext:
    """The caller's context for a project-scoped API; 403 for a token with no project."""
    if not ctx.project_id:
        raise errors.Forbidden("This API needs a project-scoped token; this token has no "
                               "project scope.")
    return ctx


async def admin_context(ctx: Annotated[RequestContext, Depends(request_context)]
                        ) -> RequestContext:
    """As ``request_context``, but 403 unless the caller holds the admin role."""
    return _require_admin(ctx)


Context = Annotated[RequestContext, Depends(request_context)]
AdminContext = Annotated[RequestContext, Depends(admin_context)]
AnyScopeContext = Annotated[RequestContext, Depends(any_scope_context)]
AnyScopeAdminContext = Annotated[RequestContext, Depends(any_scope_admin_context)]
