"""Shared helpers of the image service tests (a module name no other test folder uses)."""
from __future__ import annotations

from collections.abc import AsyncIterator

from overcast.context import RequestContext

ADMIN = RequestContext(user_id="admin", project_id="admin-project", roles=("admin", "member"))
ALICE = RequestContext(user_id="alice", project_id="project-a", roles=("member",))
BOB = RequestContext(user_id="bob", project_id="project-b", roles=("member",))
CAROL = RequestContext(user_id="carol", project_id="project-c", roles=("member",))


async def chunks_of(data: bytes, size: int = 100_000) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start:start + size]
