"""What every part of the manager shares: the database, the backend, the quotas, the
background work and the service's settings; and the records the parts hand out."""
from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from overcast.db import Database
from services.volume.interfaces import BackupStore, ImageSource, VolumeBackend
from services.volume.models import Volume, VolumeType
from services.volume.quotas import Quotas
from services.volume.work import Background

T = TypeVar("T")

DEFAULT_TYPE = "__DEFAULT__"
BACKUP_CONTAINER = "volumebackups"  # Cinder's backup_swift_container


@dataclasses.dataclass(frozen=True, kw_only=True)
class Settings:
    zone: str = "nova"
    # The host cinder-volume reports and volumes show (Cinder's host@backend).
    volume_host: str = "volume@file"
    backup_host: str = "volume"
    default_type: str = DEFAULT_TYPE
    service_down_time: float = 10.0
    # Where images are downloaded to before a volume is made from them.
    work_dir: Path = Path("/tmp")


@dataclasses.dataclass
class Shared:
    db: Database
    backend: VolumeBackend
    quotas: Quotas
    work: Background
    settings: Settings
    images: ImageSource | None = None
    backups: BackupStore | None = None

    async def blocking(self, func: Callable[..., T], *args: Any) -> T:
        """Run a blocking backend call off the event loop."""
        return await asyncio.to_thread(func, *args)


def type_names(session: Session) -> dict[str, str]:
    return dict(session.execute(select(VolumeType.id, VolumeType.name)).all())


def volume_record(volume: Volume, names: dict[str, str]) -> dict[str, Any]:
    """A volume as the views and the RPC endpoints read it (its type's name included)."""
    record = volume.as_dict()
    record["volume_type"] = names.get(volume.volume_type_id)
    return record
