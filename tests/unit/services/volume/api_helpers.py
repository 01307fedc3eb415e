"""The Block Storage API in a test: the volume app over an httpx ASGI transport, tokens
checked by a small validator of our own."""
from __future__ import annotations

from typing import Any

import httpx

from overcast import errors
from overcast.context import RequestContext
from tests.unit.services.volume.conftest import ADMIN, DEMO, OTHER

TOKENS = {"demo-token": DEMO, "other-token": OTHER, "admin-token": ADMIN}
V3 = "/volume/v3"


class FakeValidator:
    """Known tokens -> their contexts; anything else is refused (as KeystoneValidator's
    ``authenticate``, awaited)."""

    async def authenticate(self, token: str, *, request_id: str) -> RequestContext:
        ctx = TOKENS.get(token)
        if ctx is None:
            raise errors.Unauthorized("The request you have made requires authentication.")
        return RequestContext(request_id=request_id, user_id=ctx.user_id,
                              project_id=ctx.project_id, roles=ctx.roles)


def auth(token: str = "demo-token", version: str | None = None) -> dict[str, str]:
    headers = {"X-Auth-Token": token}
    if version:
        headers["OpenStack-API-Version"] = f"volume {version}"
    return headers


DEMO_H, OTHER_H, ADMIN_H = auth("demo-token"), auth("other-token"), auth("admin-token")


def fault(response: httpx.Response, code: int, title: str, message: str | None = None
          ) -> str:
    """The message of Cinder's fault document ``{title: {"code", "message"}}``."""
    assert response.status_code == code, response.text
    body: dict[str, Any] = response.json()
    assert list(body) == [title], body
    assert body[title]["code"] == code
    if message is not None:
        assert body[title]["message"] == message, body[title]["message"]
    return body[title]["message"]
