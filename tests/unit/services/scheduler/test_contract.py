"""The request spec (conductor -> scheduler) on the wire, and what the scheduler makes of it."""
from __future__ import annotations

import orjson
import pytest

from overcast.db import Database
from services.scheduler.contract import RequestSpec
from services.scheduler.manager import SchedulerManager
from services.scheduler.models import Base


def over_the_wire(spec: RequestSpec) -> RequestSpec:
    return RequestSpec.from_wire(orjson.loads(orjson.dumps(spec.to_wire())))


def test_round_trip_keeps_zone_group_and_host_lists():
    spec = RequestSpec(instance_id="i1", vcpus=2, memory_mb=1024, disk_gb=10,
                       availability_zone="az1", group_policy="anti-affinity",
                       group_members=("i0", "i1"), ignore_hosts=("h1",), force_hosts=("h3",))
    assert over_the_wire(spec) == spec


def test_wire_form_is_the_1_0_spec_object():
    wire = RequestSpec(instance_id="i1", vcpus=1, memory_mb=512, disk_gb=1).to_wire()
    assert set(wire) == {"instance_id", "vcpus", "memory_mb", "disk_gb", "availability_zone",
                         "group_policy", "group_members", "ignore_hosts", "force_hosts"}


@pytest.fixture
def scheduler(tmp_path):
    db = Database(f"sqlite:///{tmp_path}/s.db", Base.metadata)
    manager = SchedulerManager(db)
    for host, zone in (("h1", "az1"), ("h2", "az1"), ("h3", "az2")):
        manager.update_inventory(host=host, zone=zone, vcpus=8, memory_mb=4096, disk_gb=100)
    yield manager
    db.close()


STATUS = {h: {"up": True, "disabled": False} for h in ("h1", "h2", "h3")}


def test_zone_and_forced_host_survive_the_wire(scheduler):
    # The twin the conductor's tests used once dropped both; the one type cannot.
    zoned = over_the_wire(RequestSpec(instance_id="a", vcpus=1, memory_mb=512, disk_gb=1,
                                      availability_zone="az2"))
    assert scheduler.select_destination(zoned, STATUS) == "h3"
    forced = over_the_wire(RequestSpec(instance_id="b", vcpus=1, memory_mb=512, disk_gb=1,
                                       force_hosts=("h2",)))
    assert scheduler.select_destination(forced, STATUS) == "h2"


def test_an_anti_affinity_reschedule_avoids_the_tried_host_and_the_group(scheduler):
    def spec(instance_id, *, ignore=()):
        return over_the_wire(RequestSpec(
            instance_id=instance_id, vcpus=1, memory_mb=512, disk_gb=1,
            group_policy="anti-affinity", group_members=("a0", "a1"), ignore_hosts=ignore))

    first = scheduler.select_destination(spec("a0"), STATUS)
    tried = scheduler.select_destination(spec("a1"), STATUS)
    assert tried != first
    moved = scheduler.select_destination(spec("a1", ignore=(tried,)), STATUS)
    assert moved not in (first, tried)
    assert scheduler.allocations["a1"].host == moved
