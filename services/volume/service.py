"""The ``volume`` process (cinder-api, cinder-volume and cinder-backup in one): wiring of its
database, backend, backup store, image client, the Block Storage API on its own port, the
``volume`` RPC topic and its heartbeats."""
from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Any

from overcast.bus import Bus, RpcServer
from overcast.bus.signing import Signer
from overcast.config import CommonConfig, ConfigError
from overcast.db import Database, sqlite_url
from overcast.http import HttpServer
from overcast.keystone import KeystoneValidator, RevocationSubscriber
from overcast.periodic import PeriodicTask
from overcast.rest.auth import TokenValidator
from overcast.service import Service
from services.image.client import ImageClient
from services.volume.api import build_app
from services.volume.endpoints import VolumeEndpoint
from services.volume.images import ImageServiceSource
from services.volume.interfaces import BackupStore, ImageSource, VolumeBackend
from services.volume.manager import VolumeManager
from services.volume.models import Base
from services.volume.quotas import QuotaDefaults
from services.volume.shared import Settings

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class VolumeConfig(CommonConfig):
    host: str = "volume"
    listen: str = "127.0.0.1"
    port: int = 8776
    # The URL clients reach the API at (links, version documents); empty: from each request.
    public_url: str = ""
    # Empty: a SQLite file at state_dir/volume/volume.db.
    db_url: str = ""
    # The directory of volume files, shared with every hypervisor; empty: state_dir/volumes.
    volumes_dir: str = ""
    # The image service's gRPC address (volumes from images).
    image_target: str = "127.0.0.1:9292"
    # Keystone's base URL ("http://127.0.0.1:8770/identity"); tokens are checked with it.
    auth_url: str = ""
    token_cache_ttl: float = 300.0
    # The object store's account URL for a project, for backups
    # ("http://127.0.0.1:8080/v1/AUTH_%(project_id)s"); empty: no backup service.
    object_store_url: str = ""
    report_interval: float = 1.0
    service_down_time: float = 10.0
    availability_zone: str = "nova"
    default_volume_type: str = "__DEFAULT__"
    quota_volumes: int = 10
    quota_gigabytes: int = 1000
    quota_snapshots: int = 10
    quota_backups: int = 10
    quota_backup_gigabytes: int = 1000
    quota_per_volume_gigabytes: int = -1

    def volumes_path(self) -> Path:
        return Path(self.volumes_dir) if self.volumes_dir else Path(self.state_dir, "volumes")

    def quota_defaults(self) -> QuotaDefaults:
        return QuotaDefaults(volumes=self.quota_volumes, gigabytes=self.quota_gigabytes,
                             snapshots=self.quota_snapshots, backups=self.quota_backups,
                             backup_gigabytes=self.quota_backup_gigabytes,
                             per_volume_gigabytes=self.quota_per_volume_gigabytes)

    def settings(self) -> Settings:
        return Settings(zone=self.availability_zone, volume_host=f"{self.host}@file",
                        backup_host=self.host, default_type=self.default_volume_type,
                        service_down_time=self.service_down_time,
                        work_dir=Path(self.state_dir, "volume", "tmp"))


def _file_backend(root: Path) -> VolumeBackend:
    # Imported here so that the rest of the service (and its tests, which hand in a twin)
    # does not depend on the backend's tools being present.
    from services.volume.backend import FileBackend
    root.mkdir(parents=True, exist_ok=True)
    return FileBackend(root)


def _swift_store(url_template: str) -> BackupStore:
    from services.volume.backups import SwiftBackupStore
    return SwiftBackupStore(url_template)


class VolumeService(Service):
    """``backend``, ``backups``, ``images`` and ``validator`` replace the real ones (tests).
    With ``transport_url`` empty the process serves REST only: no RPC topic and no token
    cache (every token is checked with Keystone)."""

    name = "volume"

    def __init__(self, cfg: VolumeConfig, *, backend: VolumeBackend | None = None,
                 backups: BackupStore | None = None, images: ImageSource | None = None,
                 validator: TokenValidator | None = None) -> None:
        super().__init__(cfg)
        self.cfg: VolumeConfig = cfg
        self._backend = backend
        self._backups = backups
        self._images = images
        self._validator = validator
        self.db: Database | None = None
        self.manager: VolumeManager | None = None
        self.app: Any = None
        self.http: HttpServer | None = None
        self.bus: Bus | None = None
        self.rpc: RpcServer | None = None
        self.revocations: RevocationSubscriber | None = None
        self.keystone: KeystoneValidator | None = None
        self.image_client: ImageClient | None = None
        self.heartbeat: PeriodicTask | None = None

    def build(self) -> VolumeManager:
        """The database, the manager (bootstrapped, its unfinished work resumed) and the
        REST app, without serving anything yet."""
        cfg = self.cfg
        validator = self._validator
        if validator is None:
            if not cfg.auth_url:
                raise ConfigError("auth_url (Keystone) is required to check tokens")
            self.keystone = KeystoneValidator(cfg.auth_url, cache_ttl=cfg.token_cache_ttl)
            validator = self.keystone
        images = self._images
        if images is None:
            self.image_client = ImageClient(cfg.image_target,
                                            signer=Signer(cfg.bus_signing_key),
                                            timeout=cfg.rpc_timeout)
            images = ImageServiceSource(self.image_client)
        backups = self._backups
        if backups is None and cfg.object_store_url:
            backups = _swift_store(cfg.object_store_url)
        backend = self._backend or _file_backend(cfg.volumes_path())
        self.db = Database(cfg.db_url or sqlite_url(cfg.state_path("volume", "volume.db")),
                           Base.metadata)
        self.manager = VolumeManager(self.db, backend=backend, settings=cfg.settings(),
                                     quota_defaults=cfg.quota_defaults(), images=images,
                                     backups=backups)
        self.manager.bootstrap()
        self.app = build_app(self.manager, authenticator=validator,
                             public_url=cfg.public_url)
        return self.manager

    async def start(self) -> None:
        cfg = self.cfg
        manager = self.build()
        manager.recover()
        self.heartbeat = PeriodicTask("heartbeat", manager.heartbeats.run_once,
                                      interval=cfg.report_interval)
        await manager.heartbeats.run_once()
        self.heartbeat.start()
        if cfg.transport_url:
            self.bus = Bus(cfg.transport_url, name=f"volume.{cfg.host}",
                           signing_key=cfg.bus_signing_key, default_timeout=cfg.rpc_timeout)
            await self.bus.connect()
            # server None: every volume process consumes the one shared queue "volume".
            self.rpc = RpcServer(self.bus, topic="volume", server=None,
                                 endpoint=VolumeEndpoint(manager))
            await self.rpc.start()
            if self.keystone is not None:
                # Keystone validations are cached only while revocations reach us.
                self.revocations = RevocationSubscriber(
                    Bus(cfg.transport_url, name=f"volume-revocations.{cfg.host}",
                        signing_key=cfg.bus_signing_key, default_timeout=cfg.rpc_timeout),
                    self.keystone.cache)
                self.revocations.start()
        elif self.keystone is not None:
            self.keystone.cache.suspend()  # no revocations reach us: never cache
        self.http = HttpServer(self.app, host=cfg.listen, port=cfg.port)
        await self.http.start()
        logger.info("Block Storage API on %s:%s (volumes in %s)", cfg.listen, cfg.port,
                    cfg.volumes_path())

    async def stop(self) -> None:
        if self.http is not None:
            await self.http.stop()
        if self.rpc is not None:
            await self.rpc.stop()
        if self.heartbeat is not None:
            await self.heartbeat.stop()
        if self.manager is not None:
            await self.manager.close()
        if self.revocations is not None:
            await self.revocations.stop()
        if self.bus is not None:
            await self.bus.close()
        if self.keystone is not None:
            await self.keystone.close()
        closing = getattr(self.manager.shared.backups, "close", None) if self.manager else None
        if closing is not None:
            await closing()
        if self.image_client is not None:
            await self.image_client.close()
        if self.db is not None:
            self.db.close()
