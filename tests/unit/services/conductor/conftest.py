"""The ``conductor`` fixture: a ConductorManager on SQLite with in-memory peers and two
enabled hosts (h1, h2) of 8 vCPUs and 4 GiB each; volumes made by builds are ready at the
first look, which comes after 10 ms."""
from __future__ import annotations

import pytest

from overcast.db import Database
from services.conductor.hosts import HostTracker
from services.conductor.manager import ConductorManager
from services.conductor.models import Base
from services.conductor.peers import Peers
from services.conductor.resources import ComputeResources
from services.conductor.tasks.build import BuildLimits
from services.scheduler import models as sched_models
from tests.unit.services.conductor.twins import (
    ComputeTwin,
    NetworkTwin,
    SchedulerTwin,
    VolumeTwin,
)


@pytest.fixture
async def conductor(tmp_path):
    db = Database(f"sqlite:///{tmp_path}/c.db", Base.metadata)
    sdb = Database(f"sqlite:///{tmp_path}/s.db", sched_models.Base.metadata)
    hosts = HostTracker(db, service_down_time=60)
    resources = ComputeResources(db)
    resources.seed_flavors()
    peers = Peers(scheduler=SchedulerTwin(sdb), compute=ComputeTwin(), network=NetworkTwin(),
                  volume=VolumeTwin())
    events = []

    async def notify(ctx, event_type, payload):
        events.append(event_type)

    manager = ConductorManager(db, hosts=hosts, resources=resources, peers=peers,
                               notify=notify, limits=BuildLimits(build_timeout=5,
                                                                  volume_poll=0.01))
    peers.compute.conductor = manager
    for host in ("h1", "h2"):
        hosts.report_state(host=host, binary="nova-compute", topic="compute")
        peers.scheduler.manager.update_inventory(host=host, zone="nova", vcpus=8,
                                                 memory_mb=4096, disk_gb=100)
    manager.events = events
    yield manager
    await manager.close()
    db.close()
    sdb.close()
