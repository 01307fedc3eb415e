"""The proxy's shared machinery: finding objects and containers on the nodes, reading object
data as a stream that fails over between replicas, and the container existence cache."""
from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

from agents.storage.client import NodeError, RemoteState, db_path, object_path
from overcast import errors
from overcast.context import RequestContext
from services.objectstore.http import HTTPError
from services.objectstore.nodes import Nodes

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class ProxySettings:
    # Objects up to this size travel in one message each way.
    inline_size: int = 1024 * 1024
    # Bytes per message of streamed uploads.
    put_chunk: int = 1024 * 1024
    post_quorum_timeout: float = 0.5
    container_cache_ttl: float = 30.0


@dataclasses.dataclass(frozen=True)
class Fetched:
    """An object found on a node: its state and, if small, its data."""

    state: RemoteState
    data: bytes | None
    address: str
    part: int
    account: str
    container: str
    obj: str


class Proxy:
    def __init__(self, nodes: Nodes, settings: ProxySettings) -> None:
        self.nodes = nodes
        self.client = nodes.client
        self.settings = settings
        self._containers: dict[tuple[str, str], tuple[float, dict[str, Any]]] = {}

    @property
    def quorum(self) -> int:
        return self.nodes.ring.replicas // 2 + 1

    # -- containers --------------------------------------------------------------------------

    async def container_info(self, ctx: RequestContext, account: str,
                             container: str) -> dict[str, Any] | None:
        """The container's info from a node (cached for a while); None if it is missing."""
        key = (account, container)
        cached = self._containers.get(key)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        part = self.nodes.ring.get_part(account, container)
        path = db_path(account, container, part)
        info, outcomes = await self.nodes.first(
            part, lambda address: self.client.db_info(ctx, address, path),
            accept=lambda i: i["exists"] and not i["deleted"], not_found=errors.NotFound)
        if info is None:
            if outcomes and all(isinstance(o, NodeError) for o in outcomes):
                raise HTTPError(503)
            self._containers.pop(key, None)
            return None
        self._containers[key] = (time.monotonic() + self.settings.container_cache_ttl, info)
        if len(self._containers) > 10_000:
            self._containers.clear()
        return info

    def forget_container(self, account: str, container: str) -> None:
        self._containers.pop((account, container), None)

    def container_targets(self, account: str, container: str) -> list[tuple[str, int]]:
        part, nodes = self.nodes.ring.get_nodes(account, container)
        return [(n.address, part) for n in nodes]

    # -- objects -----------------------------------------------------------------------------

    async def fetch(self, ctx: RequestContext, account: str, container: str,
                    obj: str) -> Fetched | None:
        """The object from the first node that has it; None if none has; 503 if no node
        answered."""
        part = self.nodes.ring.get_part(account, container, obj)
        path = object_path(account, container, obj, part)
        inline = self.settings.inline_size

        async def ask(address: str) -> tuple[str, RemoteState, bytes | None]:
            state, data = await self.client.get_object(ctx, address, path, max_inline=inline)
            return address, state, data

        found, outcomes = await self.nodes.first(part, ask, accept=lambda r: r[1].exists)
        if found is None:
            if outcomes and all(isinstance(o, NodeError) for o in outcomes):
                raise HTTPError(503)
            return None
        address, state, data = found
        return Fetched(state, data, address, part, account, container, obj)

    def read_range(self, ctx: RequestContext, fetched: Fetched, start: int,
                   end: int) -> AsyncIterator[bytes]:
        """Bytes [start, end) of the object; a node failing mid-way is replaced by another
        replica of the same version, from where the first stopped."""
        if fetched.data is not None:
            return _one(fetched.data[start:end])
        return self._stream(ctx, fetched, start, end)

    async def _stream(self, ctx: RequestContext, fetched: Fetched, start: int,
                      end: int) -> AsyncIterator[bytes]:
        path = object_path(fetched.account, fetched.container, fetched.obj, fetched.part)
        position = start
        addresses = [fetched.address] + [d.address for d in self.nodes.read_order(fetched.part)
                                         if d.address != fetched.address]
        for address in addresses:
            if position >= end:
                return
            try:
                _, chunks = await self.client.get_stream(
                    ctx, address, path, offset=position, length=end - position,
                    timestamp=fetched.state.timestamp)
                async for chunk in chunks:
                    position += len(chunk)
                    yield chunk
            except (NodeError, errors.NotFound, errors.Conflict) as exc:
                logger.info("read of %s from %s stopped at %s: %s; trying another replica",
                            fetched.obj, address, position, exc)
                if isinstance(exc, NodeError):
                    self.nodes.limiter.error(address)
                continue
            if position >= end:
                return
        raise ConnectionAbortedError(f"no replica could serve /{fetched.container}/"
                                     f"{fetched.obj} past byte {position}")

    async def read_all(self, ctx: RequestContext, fetched: Fetched, limit: int) -> bytes:
        if fetched.state.size > limit:
            raise HTTPError(413, "Manifest too large.")
        if fetched.data is not None:
            return fetched.data
        parts = [c async for c in self.read_range(ctx, fetched, 0, fetched.state.size)]
        return b"".join(parts)


async def _one(data: bytes) -> AsyncIterator[bytes]:
    yield data
