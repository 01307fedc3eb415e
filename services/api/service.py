"""The api process: the public REST edge, the identity and network databases, and the
network service's AMQP entry points. Wiring only."""
from __future__ import annotations

import dataclasses
from pathlib import Path

from sqlalchemy import MetaData

from overcast import db as dbutil
from overcast.bus import Bus, RpcServer
from overcast.bus.signing import Signer
from overcast.config import CommonConfig
from overcast.http import HttpServer
from overcast.service import Service
from services.api.app import create_app
from services.compute import api as compute_api
from services.conductor.rpcapi import ConductorAPI
from services.identity import api as identity_api
from services.identity import models as identity_models
from services.identity.manager import IdentityManager
from services.identity.notifier import RevocationNotifier
from services.image import api as image_api
from services.image.client import ImageClient
from services.network import api as network_api
from services.network import models as network_models
from services.network.manager import NetworkManager
from services.network.service import NetworkEndpoint


@dataclasses.dataclass(frozen=True)
class ApiConfig(CommonConfig):
    host: str = "api"
    listen: str = "127.0.0.1"
    port: int = 8770
    public_url: str = "http://127.0.0.1:8770"
    image_target: str = "127.0.0.1:9292"
    identity_db_url: str = ""
    network_db_url: str = ""
    token_ttl: int = 3600
    region: str = "RegionOne"
    # Secrets: read through their _FILE forms, and kept out of the config's repr.
    admin_password: str = dataclasses.field(default="", repr=False)
    demo_password: str = dataclasses.field(default="", repr=False)
    # Extra catalog entries added by later services, "type=url,type=url".
    extra_endpoints: str = ""


def catalog_endpoints(cfg: ApiConfig) -> dict[str, str]:
    base = cfg.public_url.rstrip("/")
    endpoints = {"identity": f"{base}/identity", "compute": f"{base}/compute/v2.1",
                 "image": f"{base}/image", "network": f"{base}/network"}
    for item in filter(None, cfg.extra_endpoints.split(",")):
        kind, _, url = item.partition("=")
        endpoints[kind.strip()] = url.strip()
    return endpoints


class ApiService(Service):
    name = "api"

    def __init__(self, cfg: ApiConfig) -> None:
        super().__init__(cfg)
        self.cfg: ApiConfig = cfg

    def _database(self, url: str, filename: str, metadata: MetaData) -> dbutil.Database:
        return dbutil.Database(url or dbutil.sqlite_url(self.cfg.state_path("api", filename)),
                               metadata)

    async def start(self) -> None:
        cfg = self.cfg
        if not cfg.admin_password or not cfg.demo_password:
            raise SystemExit("OVERCAST_API_ADMIN_PASSWORD_FILE and "
                             "OVERCAST_API_DEMO_PASSWORD_FILE must name files holding the "
                             "bootstrap passwords (overcast up generates them)")
        self.identity_db = self._database(cfg.identity_db_url, "identity.db",
                                          identity_models.Base.metadata)
        self.network_db = self._database(cfg.network_db_url, "network.db",
                                         network_models.Base.metadata)
        self.identity = IdentityManager(self.identity_db, key_dir=Path(cfg.state_dir, "api",
                                                                       "keys"),
                                        token_ttl=cfg.token_ttl, region=cfg.region)
        self.identity.bootstrap(admin_password=cfg.admin_password,
                                demo_password=cfg.demo_password,
                                endpoints=catalog_endpoints(cfg))
        self.network = NetworkManager(self.network_db)
        self.network.bootstrap(
            admin_project_id=self.identity.resources.find_project(
                name="admin", domain_id="default").id,
            demo_project_id=self.identity.resources.find_project(
                name="demo", domain_id="default").id)
        self.bus = Bus(cfg.transport_url, name=f"api.{cfg.host}",
                       signing_key=cfg.bus_signing_key,
                       default_timeout=cfg.rpc_timeout)
        await self.bus.connect()
        self.revocation_notifier = RevocationNotifier(self.bus,
                                                      publisher_id=f"identity.{cfg.host}")
        await self.revocation_notifier.start()
        self.identity.revocations.add_listener(self.revocation_notifier.submit)
        self.network_server = RpcServer(self.bus, topic="network", server=cfg.host,
                                        endpoint=NetworkEndpoint(self.network))
        await self.network_server.start()
        self.images = ImageClient(cfg.image_target, signer=Signer(cfg.bus_signing_key),
                                  timeout=cfg.rpc_timeout)
        app = create_app(authenticator=self.identity, routers=[
            ("/identity", identity_api.build_router(self.identity)),
            # The network service lives in this process, so the compute API asks it
            # directly; other processes use NetworkAPI over the bus.
            ("/compute", compute_api.build_router(conductor=ConductorAPI(self.bus),
                                                  images=self.images, network=self.network,
                                                  console_signer=Signer(cfg.bus_signing_key),
                                                  public_url=cfg.public_url)),
            ("/image", image_api.build_router(self.images)),
            ("/network", network_api.build_router(self.network)),
        ])
        self.http = HttpServer(app, host=cfg.listen, port=cfg.port)
        await self.http.start()

    async def stop(self) -> None:
        await self.http.stop()
        await self.network_server.stop()
        await self.revocation_notifier.stop()
        await self.images.close()
        await self.bus.close()
        self.identity_db.close()
        self.network_db.close()
