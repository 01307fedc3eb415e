"""The admin's host views (os-hosts) and which backend /capabilities/{host} names."""
from __future__ import annotations

import pytest

from overcast import errors
from tests.unit.services.volume.conftest import ADMIN, DEMO, OTHER
from tests.unit.services.volume.helpers import snapshot, volume


async def test_hosts_lists_the_enabled_services_hosts(manager):
    await manager.heartbeats.run_once()
    hosts = manager.hosts.list(ADMIN)
    assert sorted((h["host_name"], h["service"], h["service-status"], h["service-state"])
                  for h in hosts) == [("volume", "cinder-backup", "available", "enabled"),
                                      ("volume@file", "cinder-volume", "available",
                                       "enabled")]
    assert all(h["zone"] == "nova" and h["last-update"] for h in hosts)
    assert manager.hosts.list(ADMIN, zone="elsewhere") == []
    manager.heartbeats.set_enabled(ADMIN, host="volume", binary="cinder-backup",
                                   enabled=False)
    assert [h["host_name"] for h in manager.hosts.list(ADMIN)] == ["volume@file"]
    with pytest.raises(errors.Forbidden):
        manager.hosts.list(DEMO)


async def test_a_volume_hosts_usage_by_project(manager):
    mine = await volume(manager, DEMO, size=2)
    await volume(manager, DEMO, size=3)
    await volume(manager, OTHER, size=1)
    await snapshot(manager, DEMO, mine["id"])
    usage = {r["project"]: r for r in manager.hosts.usage(ADMIN, "volume@file")}
    assert usage["(total)"] == {"host": "volume@file", "project": "(total)",
                                "volume_count": "3", "total_volume_gb": "6",
                                "snapshot_count": "1", "total_snapshot_gb": "2"}
    assert (usage["demo"]["volume_count"], usage["demo"]["total_volume_gb"],
            usage["demo"]["snapshot_count"]) == ("2", "5", "1")
    assert (usage["other"]["volume_count"], usage["other"]["snapshot_count"]) == ("1", "0")
    for not_a_volume_host in ("volume", "nowhere", "volume@file#file"):
        with pytest.raises(errors.NotFound):
            manager.hosts.usage(ADMIN, not_a_volume_host)
    manager.heartbeats.set_enabled(ADMIN, host="volume@file", binary="cinder-volume",
                                   enabled=False)
    with pytest.raises(errors.NotFound):  # a disabled one neither (Cinder: 404)
        manager.hosts.usage(ADMIN, "volume@file")
    with pytest.raises(errors.Forbidden):
        manager.hosts.usage(DEMO, "volume@file")


async def test_capabilities_name_the_backend_by_host_or_backend(manager):
    assert manager.hosts.volume_host(ADMIN, "volume@file") == "volume@file"
    assert manager.hosts.volume_host(ADMIN, "volume") == "volume@file"
    for wrong in ("volume@other", "elsewhere", "volume@file#other"):
        with pytest.raises(errors.NotFound, match="Can't find service"):
            manager.hosts.volume_host(ADMIN, wrong)
    with pytest.raises(errors.Forbidden):
        manager.hosts.volume_host(DEMO, "volume@file")
