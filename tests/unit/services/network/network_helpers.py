"""Shared test helpers for the network service (contexts, a fake authenticator, builders)."""
from __future__ import annotations

from typing import ClassVar

from overcast import errors
from overcast.context import RequestContext
from services.network.manager import NetworkManager

ADMIN_PROJECT = "p-admin"
DEMO_PROJECT = "p-demo"
OTHER_PROJECT = "p-other"

ADMIN = RequestContext(user_id="u-admin", project_id=ADMIN_PROJECT, roles=("admin", "member"))
DEMO = RequestContext(user_id="u-demo", project_id=DEMO_PROJECT, roles=("member",))
OTHER = RequestContext(user_id="u-other", project_id=OTHER_PROJECT, roles=("member",))


class FakeAuthenticator:
    """Tokens are fixed strings mapped to contexts."""

    tokens: ClassVar[dict[str, RequestContext]] = {
        "admin-token": ADMIN, "demo-token": DEMO, "other-token": OTHER}

    def authenticate(self, token: str, *, request_id: str) -> RequestContext:
        if token not in self.tokens:
            raise errors.Unauthorized("The request you have made requires authentication.")
        return self.tokens[token]


def auth(token: str) -> dict[str, str]:
    return {"X-Auth-Token": token}


async def make_net(manager: NetworkManager, ctx: RequestContext, name: str,
                   cidr: str | None = None, **extra) -> tuple[dict, dict | None]:
    """A network, and a subnet on it when ``cidr`` is given."""
    net = await manager.create_network(ctx, {"name": name, **extra})
    subnet = None
    if cidr:
        subnet = await manager.create_subnet(ctx, {"network_id": net["id"], "cidr": cidr,
                                                   "ip_version": 4, "name": f"{name}-subnet"})
    return net, subnet
