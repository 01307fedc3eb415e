"""The ``object-proxy`` process: wiring of the ring, the node client, auth and the HTTP
server (the Swift API on port 8080)."""
from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

from agents.storage.client import StorageClient
from overcast.bus import Bus
from overcast.config import CommonConfig
from overcast.http import HttpServer
from overcast.keystone import RevocationSubscriber
from overcast.periodic import PeriodicTask
from overcast.ring import RingHolder
from overcast.service import Service
from services.objectstore.app import SwiftApp
from services.objectstore.auth import Authenticator
from services.objectstore.nodes import ErrorLimiter, Nodes
from services.objectstore.proxy import Proxy, ProxySettings

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class ObjectProxyConfig(CommonConfig):
    host: str = "object-proxy"
    listen: str = "127.0.0.1"
    port: int = 8080
    # The URL clients reach this proxy at (storage URLs); empty: from the Host header.
    public_url: str = ""
    # Empty: state_dir/object.ring.
    ring_path: str = ""
    # Keystone's base URL ("http://127.0.0.1:8770/identity"); empty disables Keystone auth.
    auth_url: str = ""
    # Tempauth users, "account:user:key[:.admin],..."; empty disables /auth/v1.0.
    tempauth_users: str = ""
    node_timeout: float = 10.0
    post_quorum_timeout: float = 0.5
    error_limit: int = 3
    error_suppression_interval: float = 10.0
    token_cache_ttl: float = 300.0
    container_cache_ttl: float = 30.0

    def ring_file(self) -> Path:
        return Path(self.ring_path) if self.ring_path else Path(self.state_dir, "object.ring")


class ObjectProxyService(Service):
    name = "object-proxy"

    def __init__(self, cfg: ObjectProxyConfig) -> None:
        super().__init__(cfg)
        self.cfg: ObjectProxyConfig = cfg
        self.http: HttpServer | None = None
        self.tasks: list[PeriodicTask] = []
        self.revocations: RevocationSubscriber | None = None

    async def start(self) -> None:
        cfg = self.cfg
        self.ring = RingHolder(cfg.ring_file())
        self.client = StorageClient(timeout=cfg.node_timeout)
        nodes = Nodes(self.ring, self.client, ErrorLimiter(
            limit=cfg.error_limit, interval=cfg.error_suppression_interval))
        self.proxy = Proxy(nodes, ProxySettings(post_quorum_timeout=cfg.post_quorum_timeout,
                                                container_cache_ttl=cfg.container_cache_ttl))
        self.auth = Authenticator(identity_url=cfg.auth_url,
                                  tempauth_users=cfg.tempauth_users,
                                  cache_ttl=cfg.token_cache_ttl)
        if self.auth.cache is not None:
            # Keystone validations are cached only while revocations reach us on the bus.
            self.revocations = RevocationSubscriber(
                Bus(cfg.transport_url, name=f"object-proxy.{cfg.host}",
                    signing_key=cfg.bus_signing_key, default_timeout=cfg.rpc_timeout),
                self.auth.cache)
            self.revocations.start()
        app = SwiftApp(self.proxy, self.auth, public_url=cfg.public_url)
        self.http = HttpServer(app, host=cfg.listen, port=cfg.port)
        await self.http.start()
        self.tasks = [PeriodicTask("ring-reload", self.ring.run_once, interval=1.0)]
        for task in self.tasks:
            task.start()
        logger.info("Swift API on %s:%s (ring version %s)", cfg.listen, cfg.port,
                    self.ring.ring.version)

    async def stop(self) -> None:
        for task in self.tasks:
            await task.stop()
        if self.http is not None:
            await self.http.stop()
        if self.revocations is not None:
            await self.revocations.stop()
        await self.auth.close()
        await self.client.close()
