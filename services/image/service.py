"""The ``image`` process: wiring of its database, store, manager and gRPC server."""
from __future__ import annotations

import contextlib
import dataclasses
import logging
import tempfile
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

from sqlalchemy import select

from overcast import errors
from overcast.bus.signing import Signer
from overcast.config import CommonConfig
from overcast.context import RequestContext
from overcast.db import Database, sqlite_url
from overcast.grpc import GrpcServer
from overcast.service import Service
from services.image import cirros
from services.image.grpc_api import ImageServicer, register
from services.image.manager import ImageManager
from services.image.models import Base, Image
from services.image.store import CHUNK_SIZE, FileStore

logger = logging.getLogger(__name__)

CIRROS_ID = str(uuid.uuid5(uuid.NAMESPACE_URL, "overcast:image:cirros"))


@dataclasses.dataclass(frozen=True)
class ImageConfig(CommonConfig):
    listen: str = "127.0.0.1:9292"
    # Empty: a SQLite file under state_dir/image/.
    db_url: str = ""
    # Empty: state_dir/image/store.
    store_dir: str = ""
    # Glance's image_size_cap: 1 TiB.
    image_size_cap: int = 1 << 40
    # Register the default busybox image at first start.
    default_image: bool = True


class ImageService(Service):
    name = "image"

    def __init__(self, cfg: ImageConfig) -> None:
        super().__init__(cfg)
        self.cfg: ImageConfig = cfg
        self.db: Database | None = None
        self.manager: ImageManager | None = None
        self.grpc: GrpcServer | None = None

    async def start(self) -> None:
        db_url = self.cfg.db_url or sqlite_url(self.cfg.state_path("image", "image.db"))
        store_dir = Path(self.cfg.store_dir or self.cfg.state_path("image", "store"))
        self.db = Database(db_url, Base.metadata)
        self.manager = ImageManager(self.db, FileStore(store_dir),
                                    max_image_size=self.cfg.image_size_cap)
        self.manager.recover()
        if self.cfg.default_image:
            await register_default_image(self.manager)
        # The image service believes a caller's context only when the cloud's key signed it.
        self.grpc = GrpcServer(self.cfg.listen, signer=Signer(self.cfg.bus_signing_key))
        self.grpc.add(register, ImageServicer(self.manager))
        await self.grpc.start()

    async def stop(self) -> None:
        if self.grpc is not None:
            await self.grpc.stop()
        if self.db is not None:
            self.db.close()

    @property
    def port(self) -> int | None:
        """The bound gRPC port (useful with ``listen`` on port 0)."""
        return self.grpc.port if self.grpc else None


async def _file_chunks(path: Path) -> AsyncIterator[bytes]:
    with open(path, "rb") as fh:  # noqa: ASYNC230 - a local file: 64 KiB reads from the page cache cost less than a thread hop
        while chunk := fh.read(CHUNK_SIZE):
            yield chunk


async def register_default_image(manager: ImageManager) -> str:
    """Make sure the public ``cirros`` image is active; its id. Idempotent."""
    ctx = RequestContext.admin()
    with manager.db.session() as session:
        active = session.scalars(select(Image.id).where(
            Image.name == cirros.NAME, Image.status == "active")).first()
    if active:
        return active
    with contextlib.suppress(errors.NotFound):  # a leftover of an interrupted first start
        await manager.delete_image(ctx, CIRROS_ID)
    with tempfile.TemporaryDirectory(prefix="overcast-cirros-") as tmp:
        archive = cirros.build_rootfs(Path(tmp, "rootfs.tar.gz"))
        await manager.create_image(ctx, {
            "id": CIRROS_ID, "name": cirros.NAME, "visibility": "public",
            "disk_format": "raw", "container_format": "bare", "owner": None,
            **cirros.PROPERTIES})
        image = await manager.upload(ctx, CIRROS_ID, _file_chunks(archive))
    logger.info("default image %s registered (%s bytes)", CIRROS_ID, image["size"])
    return CIRROS_ID
