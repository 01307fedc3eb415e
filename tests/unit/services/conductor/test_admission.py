"""Admission: a boot request is checked whole, against the quota, before anything is written."""
from __future__ import annotations

import pytest

from overcast import errors
from overcast.db import Database
from services.conductor import states
from services.conductor.admission import Admission
from services.conductor.contract import ImageRequirements
from services.conductor.hosts import HostTracker
from services.conductor.instances import InstanceStore
from services.conductor.models import Base
from services.conductor.resources import ComputeResources
from tests.unit.services.conductor.twins import CTX, boot_request


@pytest.fixture
def admission(tmp_path):
    db = Database(f"sqlite:///{tmp_path}/c.db", Base.metadata)
    hosts = HostTracker(db, service_down_time=60)
    hosts.report_state(host="h1", binary="nova-compute", topic="compute", zone="az1")
    resources = ComputeResources(db)
    resources.seed_flavors()
    yield Admission(store=InstanceStore(db), hosts=hosts, resources=resources)
    db.close()


def test_admitted_instances_are_recorded_in_build_with_their_history(admission):
    made = admission.admit(CTX, boot_request(max_count=2, min_count=2))
    assert [i["name"] for i in made] == ["vm-1", "vm-2"]
    assert {(i["vm_state"], i["task_state"]) for i in made} == {
        (states.BUILDING, states.SCHEDULING)}
    assert len({i["reservation_id"] for i in made}) == 1
    assert [i["launch_index"] for i in made] == [0, 1]
    assert made[0]["security_groups"] == ["default"]
    assert admission.usage("p1") == {"instances": 2, "cores": 2, "ram": 1024,
                                     "server_groups": 0}


def test_max_count_falls_back_to_min_count_when_the_quota_is_short(admission):
    made = admission.admit(CTX, boot_request(max_count=12, min_count=3))
    assert len(made) == 3
    with pytest.raises(errors.QuotaExceeded):
        admission.admit(CTX, boot_request(max_count=8, min_count=8))
    assert admission.usage("p1")["instances"] == 3


@pytest.mark.parametrize("bad, error, message", [
    (boot_request(image=ImageRequirements(min_ram=1024)), errors.BadRequest, "memory"),
    (boot_request(image=ImageRequirements(min_disk=5)), errors.BadRequest, "disk"),
    (boot_request(metadata={str(i): "v" for i in range(129)}), errors.QuotaExceeded,
     "metadata_items"),
    (boot_request(group_id="missing"), errors.BadRequest, "server group"),
    (boot_request(availability_zone="az2"), errors.BadRequest, "availability zone"),
])
def test_refused_requests_write_nothing(admission, bad, error, message):
    with pytest.raises(error, match=message):
        admission.admit(CTX, bad)
    assert admission.store.live() == []


def test_a_group_counts_its_members_against_the_quota(admission):
    group = admission.resources.create_group(CTX, name="g", policy="anti-affinity")
    admission.resources.update_quotas(CTX, "p1", {"server_group_members": 3})
    admission.admit(CTX, boot_request(group_id=group["id"], max_count=2, min_count=2))
    with pytest.raises(errors.QuotaExceeded, match="too many servers in group"):
        admission.admit(CTX, boot_request(group_id=group["id"], max_count=2, min_count=2))
    [third] = admission.admit(CTX, boot_request(group_id=group["id"]))
    assert third["server_group_id"] == group["id"]


def test_metadata_items_limit_follows_the_project_quota(admission):
    admission.resources.update_quotas(CTX, "p1", {"metadata_items": 1})
    admission.check_metadata_items("p1", 1)
    with pytest.raises(errors.QuotaExceeded):
        admission.check_metadata_items("p1", 2)
    admission.resources.update_quotas(CTX, "p1", {"metadata_items": -1})
    admission.check_metadata_items("p1", 10_000)
