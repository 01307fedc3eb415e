"""What the manager needs from the physical world, as interfaces: the volume backend
(``backend.FileBackend``), the backup store (``backups.SwiftBackupStore``) and the image
service (``images.ImageSource``). Tests give it in-memory twins of each."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

from overcast.context import RequestContext


class VolumeBackend(Protocol):
    """Files in the volumes directory the hypervisors share (``volume-<id>``,
    ``snapshot-<id>``; ids are UUIDs). Every method blocks (the manager calls them with
    ``asyncio.to_thread``). Creations (``create*``, ``snapshot``) are atomic and idempotent:
    repeating one that finished does nothing. ``extend`` may be repeated; ``delete`` and
    ``delete_snapshot`` of a missing file do nothing. Failures raise the backend's
    ``BackendError`` (``InvalidImage`` for an image that is not a root filesystem archive or
    does not fit); ``check`` raises ``OSError`` when the directory is not usable."""

    def volume_path(self, volume_id: str) -> Path: ...
    def snapshot_path(self, snapshot_id: str) -> Path: ...
    def create(self, volume_id: str, size_gb: int) -> None: ...
    def create_from_image(self, volume_id: str, size_gb: int, image_file: Path) -> None: ...
    def create_from_snapshot(self, volume_id: str, snapshot_id: str, size_gb: int) -> None: ...
    def create_from_volume(self, volume_id: str, source_id: str, size_gb: int) -> None: ...
    def snapshot(self, volume_id: str, snapshot_id: str) -> None: ...
    def extend(self, volume_id: str, size_gb: int) -> None: ...
    def delete(self, volume_id: str) -> None: ...
    def delete_snapshot(self, snapshot_id: str) -> None: ...
    def used_bytes(self, volume_id: str) -> int: ...
    def check(self) -> None: ...


class BackupStore(Protocol):
    """Backups in the object store, moved under the user's token. ``backup`` returns the
    manifest (JSON-able: at least ``size_bytes``, ``chunks``, ``container``,
    ``object_count``, ``bytes_uploaded``), which ``restore`` and ``delete`` take back."""

    async def backup(self, *, token: str, project_id: str, backup_id: str, volume_id: str,
                     source: Path, container: str, parent: dict | None = None) -> dict: ...

    async def restore(self, *, token: str, project_id: str, manifest: dict,
                      target: Path) -> None: ...

    async def delete(self, *, token: str, project_id: str, manifest: dict) -> None: ...

    def check_manifest(self, manifest: object) -> dict:
        """``manifest`` if this store can restore and delete with it (one it wrote, as an
        imported backup record brings back); ``ValueError`` otherwise."""


class ImageSource(Protocol):
    """The image service as the volume service uses it, under the caller's context."""

    async def get_image(self, ctx: RequestContext, image_id: str) -> dict[str, Any]:
        """The image (Glance's fields); NotFound when the caller cannot see it."""

    async def download(self, ctx: RequestContext, image_id: str, target: Path) -> None:
        """Write the image's data into ``target`` whole, or raise."""
