"""The volume process's wiring: its configuration, the REST API on its own port, heartbeats
into its own database, and a restart that resumes what was in flight (no broker: the
RPC topic is off with an empty transport_url)."""
from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from overcast import config
from overcast.config import ConfigError
from overcast.testing import eventually
from services.volume.service import VolumeConfig, VolumeService
from tests.unit.services.volume.api_helpers import ADMIN_H, DEMO_H, FakeValidator
from tests.unit.services.volume.conftest import ADMIN
from tests.unit.services.volume.twins import TwinBackend, TwinBackupStore, TwinImages


def test_the_configuration_and_its_defaults(tmp_path):
    cfg = config.load(VolumeConfig, "volume", environ={})
    assert (cfg.host, cfg.listen, cfg.port, cfg.image_target) == (
        "volume", "127.0.0.1", 8776, "127.0.0.1:9292")
    assert (cfg.report_interval, cfg.service_down_time, cfg.availability_zone) == (
        1.0, 10.0, "nova")
    assert cfg.volumes_path() == Path("./state/volumes")
    defaults = cfg.quota_defaults()
    assert (defaults.volumes, defaults.gigabytes, defaults.snapshots, defaults.backups,
            defaults.backup_gigabytes, defaults.per_volume_gigabytes) == (
        10, 1000, 10, 10, 1000, -1)
    custom = config.load(VolumeConfig, "volume", environ={
        "OVERCAST_VOLUME_PORT": "9776", "OVERCAST_VOLUME_VOLUMES_DIR": "/srv/volumes",
        "OVERCAST_VOLUME_QUOTA_GIGABYTES": "5"})
    assert (custom.port, custom.volumes_path(), custom.quota_defaults().gigabytes) == (
        9776, Path("/srv/volumes"), 5)
    settings = custom.settings()
    assert (settings.volume_host, settings.backup_host) == ("volume@file", "volume")


def test_tokens_cannot_be_checked_without_keystone(tmp_path):
    cfg = VolumeConfig(state_dir=str(tmp_path), transport_url="")
    service = VolumeService(cfg, backend=TwinBackend(tmp_path), images=TwinImages())
    with pytest.raises(ConfigError, match="auth_url"):
        service.build()


def _service(tmp_path: Path, backend: TwinBackend) -> VolumeService:
    cfg = VolumeConfig(state_dir=str(tmp_path / "state"), port=0, transport_url="",
                       report_interval=0.05, service_down_time=5.0)
    return VolumeService(cfg, backend=backend, backups=TwinBackupStore(), images=TwinImages(),
                         validator=FakeValidator())


def _url(service: VolumeService) -> str:
    port = service.http.server.servers[0].sockets[0].getsockname()[1]
    return f"http://127.0.0.1:{port}"


async def test_the_service_serves_its_api_and_reports_itself_up(tmp_path):
    (tmp_path / "volumes").mkdir()
    service = _service(tmp_path, TwinBackend(tmp_path / "volumes"))
    await service.start()
    try:
        assert (tmp_path / "state" / "volume" / "volume.db").exists()
        async with httpx.AsyncClient(base_url=_url(service)) as http:
            assert (await http.get("/volume/")).status_code == 300
            services = (await http.get("/volume/v3/os-services",
                                       headers=ADMIN_H)).json()["services"]
            assert {(s["binary"], s["state"]) for s in services} == {
                ("cinder-volume", "up"), ("cinder-backup", "up")}
            made = await http.post("/volume/v3/demo/volumes", headers=DEMO_H,
                                   json={"volume": {"size": 1, "name": "data"}})
            assert made.status_code == 202
            volume_id = made.json()["volume"]["id"]

            async def available() -> bool:
                shown = await http.get(f"/volume/v3/volumes/{volume_id}", headers=DEMO_H)
                return shown.json()["volume"]["status"] == "available"

            await eventually(available)
    finally:
        await service.stop()


async def test_a_restarted_service_finishes_what_it_had_started(tmp_path):
    (tmp_path / "volumes").mkdir()
    backend = TwinBackend(tmp_path / "volumes")
    first = _service(tmp_path, backend)
    await first.start()
    hold = backend.switches.hold("create")
    try:
        async with httpx.AsyncClient(base_url=_url(first)) as http:
            made = await http.post("/volume/v3/volumes", headers=DEMO_H,
                                   json={"volume": {"size": 1}})
            volume_id = made.json()["volume"]["id"]
        await asyncio.to_thread(backend.switches.entered["create"].wait, 5)
    finally:
        await first.stop()  # stopped mid-creation
    backend.switches = type(backend.switches)()  # a fresh backend, as after a restart
    hold.set()
    second = _service(tmp_path, backend)
    await second.start()
    try:
        await second.manager.drain()
        assert second.manager.volumes.get(ADMIN, volume_id)["status"] == "available"
    finally:
        await second.stop()
