from __future__ import annotations

import asyncio

import pytest

from overcast import errors
from overcast.db import Database
from services.scheduler.contract import RequestSpec
from services.scheduler.manager import SchedulerManager
from services.scheduler.models import Base


@pytest.fixture
def db(tmp_path):
    database = Database(f"sqlite:///{tmp_path}/s.db", Base.metadata)
    yield database
    database.close()


def make(db, hosts=("h1", "h2"), memory_mb=2048, zone="nova"):
    manager = SchedulerManager(db)
    for host in hosts:
        manager.update_inventory(host=host, zone=zone, vcpus=64, memory_mb=memory_mb,
                                 disk_gb=100, ram_allocation_ratio=1.0, cpu_allocation_ratio=1.0)
    return manager


def up(*hosts, disabled=()):
    return {h: {"up": True, "disabled": h in disabled} for h in hosts}


def spec(instance_id, ram=512, **kw):
    return RequestSpec(instance_id=instance_id, vcpus=1, memory_mb=ram, disk_gb=1, **kw)


def test_spreads_by_free_ram(db):
    manager = make(db)
    first = manager.select_destination(spec("a"), up("h1", "h2"))
    second = manager.select_destination(spec("b"), up("h1", "h2"))
    assert {first, second} == {"h1", "h2"}


def test_down_and_disabled_hosts_are_filtered(db):
    manager = make(db, hosts=("h1", "h2", "h3"))
    status = up("h1", "h2", disabled=("h2",))
    status["h3"] = {"up": False, "disabled": False}
    hosts = {manager.select_destination(spec(str(i)), status) for i in range(3)}
    assert hosts == {"h1"}


def test_capacity_is_never_overcommitted(db):
    manager = make(db, hosts=("h1",), memory_mb=2048)
    placed = [manager.select_destination(spec(str(i)), up("h1")) for i in range(4)]
    assert placed == ["h1"] * 4
    with pytest.raises(errors.NoValidHost) as exc:
        manager.select_destination(spec("x"), up("h1"))
    assert "RamFilter" in exc.value.message


async def test_fifty_concurrent_claims_never_overcommit(db):
    manager = make(db, hosts=("h1", "h2"), memory_mb=512 * 10)

    async def boot(i):
        await asyncio.sleep(0)
        try:
            return manager.select_destination(spec(f"i{i}"), up("h1", "h2"))
        except errors.NoValidHost:
            return None

    results = await asyncio.gather(*(boot(i) for i in range(50)))
    placed = [r for r in results if r]
    assert len(placed) == 20
    assert placed.count("h1") == placed.count("h2") == 10
    assert all(h.free_ram_mb >= 0 for h in manager.hosts.values())


def test_claim_is_idempotent_and_survives_restart(db):
    manager = make(db)
    host = manager.select_destination(spec("a"), up("h1", "h2"))
    assert manager.select_destination(spec("a"), up("h1", "h2")) == host
    reloaded = SchedulerManager(db)
    assert reloaded.hosts[host].memory_mb_used == 512
    assert reloaded.release("a") is True
    assert reloaded.release("a") is False
    assert reloaded.hosts[host].memory_mb_used == 0


def test_reschedule_moves_the_claim(db):
    manager = make(db)
    first = manager.select_destination(spec("a"), up("h1", "h2"))
    second = manager.select_destination(spec("a", ignore_hosts=(first,)),
                                        up("h1", "h2"))
    assert second != first
    assert manager.hosts[first].memory_mb_used == 0
    assert manager.hosts[second].memory_mb_used == 512


def test_server_group_policies(db):
    manager = make(db, hosts=("h1", "h2", "h3"))
    status = up("h1", "h2", "h3")
    anti = [manager.select_destination(
        spec(f"a{i}", group_policy="anti-affinity",
             group_members=tuple(f"a{j}" for j in range(i + 1))), status)
        for i in range(3)]
    assert len(set(anti)) == 3
    with pytest.raises(errors.NoValidHost):
        manager.select_destination(spec("a3", group_policy="anti-affinity",
                                        group_members=("a0", "a1", "a2", "a3")),
                                   status)
    first = manager.select_destination(spec("b0", group_policy="affinity"), status)
    others = {manager.select_destination(spec(f"b{i}", group_policy="affinity",
                                              group_members=("b0", f"b{i}")), status)
              for i in range(1, 3)}
    assert others == {first}


def test_availability_zone_filter(db):
    manager = make(db, hosts=("h1",), zone="az1")
    manager.update_inventory(host="h2", zone="az2", vcpus=4, memory_mb=2048, disk_gb=100)
    assert manager.select_destination(spec("a", availability_zone="az2"),
                                      up("h1", "h2")) == "h2"


def test_no_hosts_explains(db):
    manager = SchedulerManager(db)
    with pytest.raises(errors.NoValidHost, match="no compute hosts"):
        manager.select_destination(spec("a"), {})
