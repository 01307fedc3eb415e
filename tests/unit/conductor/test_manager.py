"""The conductor's instance lifecycle with in-memory peers (no broker)."""
from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt

import pytest

from overcast import errors
from overcast.context import RequestContext
from overcast.db import Database
from overcast.testing import eventually
from services.conductor.hosts import HostTracker
from services.conductor.manager import ConductorManager
from services.conductor.models import Base
from services.conductor.resources import ComputeResources
from services.scheduler import filters
from services.scheduler import models as sched_models
from services.scheduler.manager import SchedulerManager

CTX = RequestContext(user_id="u1", project_id="p1", roles=("member",))


class SchedulerTwin:
    def __init__(self, db):
        self.manager = SchedulerManager(db)
        self.available = True

    async def select_destination(self, ctx, *, spec, host_status, timeout=None):
        if not self.available:
            raise TimeoutError("scheduler down")
        return self.manager.select_destination(filters.RequestSpec(
            instance_id=spec["instance_id"], vcpus=spec["vcpus"], memory_mb=spec["memory_mb"],
            disk_gb=spec["disk_gb"], ignore_hosts=frozenset(spec.get("ignore_hosts", ())),
            group_policy=spec.get("group_policy"),
            group_hosts=self.manager.hosts_of(spec.get("group_members", []))), host_status)

    async def release(self, ctx, *, instance_id):
        self.manager.release(instance_id)


class ComputeTwin:
    """Answers like a compute host; ``failing`` hosts fail every spawn."""

    def __init__(self):
        self.conductor = None
        self.failing: set[str] = set()
        self.guests: dict[str, set[str]] = {}

    async def build_and_run_instance(self, ctx, *, host, instance):
        if host in self.failing:
            asyncio.get_running_loop().create_task(self.conductor.build_failed(
                ctx, instance_id=instance["id"], host=host, reason="boom"))
            return
        self.guests.setdefault(host, set()).add(instance["id"])
        asyncio.get_running_loop().create_task(self.conductor.instance_built(
            ctx, instance_id=instance["id"], host=host, power_state=1))

    async def power_action(self, ctx, *, host, instance_id, action, hard=False):
        asyncio.get_running_loop().create_task(self.conductor.instance_power_changed(
            ctx, instance_id=instance_id, host=host, action=action,
            power_state=4 if action == "stop" else 1))

    async def terminate_instance(self, ctx, *, host, instance_id):
        self.guests.get(host, set()).discard(instance_id)
        asyncio.get_running_loop().create_task(self.conductor.instance_destroyed(
            ctx, instance_id=instance_id, host=host))


class NetworkTwin:
    def __init__(self):
        self.ports: dict[str, list] = {}

    async def allocate_for_instance(self, ctx, *, instance_id, project_id, requested_networks,
                                    security_groups, host=None):
        self.ports.setdefault(instance_id, [{"port_id": "p-" + instance_id,
                                             "network_id": "n1", "network_name": "private",
                                             "mac_address": "fa:16:3e:00:00:01",
                                             "fixed_ips": [{"ip_address": "10.0.0.5",
                                                            "subnet_id": "s1"}]}])
        return self.ports[instance_id]

    async def bind_ports(self, ctx, *, instance_id, host):
        return None

    async def deallocate_for_instance(self, ctx, *, instance_id):
        self.ports.pop(instance_id, None)


@dataclasses.dataclass
class Peers:
    scheduler: SchedulerTwin
    compute: ComputeTwin
    network: NetworkTwin


@pytest.fixture
async def conductor(tmp_path):
    db = Database(f"sqlite:///{tmp_path}/c.db", Base.metadata)
    sdb = Database(f"sqlite:///{tmp_path}/s.db", sched_models.Base.metadata)
    hosts = HostTracker(db, service_down_time=60)
    resources = ComputeResources(db)
    resources.seed_flavors()
    peers = Peers(SchedulerTwin(sdb), ComputeTwin(), NetworkTwin())
    events = []

    async def notify(ctx, event_type, payload):
        events.append(event_type)

    manager = ConductorManager(db, hosts=hosts, resources=resources, peers=peers,
                               notify=notify, build_timeout=5)
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


def request(**changes):
    return {"name": "vm", "flavor_id": "1", "image_ref": "img", "networks": "auto", **changes}


async def wait_status(manager, instance_id, status):
    await eventually(lambda: manager.get_server(CTX, instance_id)["status"] == status,
                     timeout=5, message=f"{instance_id} never {status}")


async def test_boot_goes_active_with_network_and_notifications(conductor):
    [inst] = conductor.create_servers(CTX, request=request())
    assert inst["status"] == "BUILD"
    await wait_status(conductor, inst["id"], "ACTIVE")
    server = conductor.get_server(CTX, inst["id"])
    assert server["host"] in ("h1", "h2")
    assert server["addresses"] == [{"network": "private", "ip": "10.0.0.5",
                                    "mac": "fa:16:3e:00:00:01", "type": "fixed"}]
    assert "key_data" not in server
    assert "compute.instance.create.end" in conductor.events
    action = conductor.get_action(CTX, instance_id=inst["id"], request_id=CTX.request_id)
    assert {e["event"]: e["result"] for e in action["events"]} == {
        "conductor_schedule_and_build_instances": "Success",
        "compute__do_build_and_run_instance": "Success"}


async def test_refused_requests_create_nothing(conductor):
    for bad, error in ((request(flavor_id="nope"), errors.BadRequest),
                       (request(key_name="missing"), errors.BadRequest),
                       (request(max_count=11, min_count=11), errors.QuotaExceeded),
                       (request(availability_zone="mars"), errors.BadRequest)):
        with pytest.raises(error):
            conductor.create_servers(CTX, request=bad)
    assert conductor.list_servers(CTX, filters={}) == []


async def test_quota_counts_existing_instances(conductor):
    conductor.create_servers(CTX, request=request(max_count=10, min_count=10))
    with pytest.raises(errors.QuotaExceeded, match="already used 10 of 10"):
        conductor.create_servers(CTX, request=request())


async def test_spawn_failure_reschedules_then_errors(conductor):
    conductor.peers.compute.failing = {"h1"}
    made = conductor.create_servers(CTX, request=request(max_count=4, min_count=4))
    for inst in made:
        await wait_status(conductor, inst["id"], "ACTIVE")
        assert conductor.get_server(CTX, inst["id"])["host"] == "h2"
    conductor.peers.compute.failing = {"h1", "h2"}
    [doomed] = conductor.create_servers(CTX, request=request(name="doomed"))
    await wait_status(conductor, doomed["id"], "ERROR")
    fault = conductor.get_server(CTX, doomed["id"])["fault"]
    assert "No valid host" in fault["message"]
    assert not conductor.peers.scheduler.manager.allocations.get(doomed["id"])


async def test_scheduler_outage_is_waited_out(conductor):
    conductor.peers.scheduler.available = False
    [inst] = conductor.create_servers(CTX, request=request())
    await asyncio.sleep(0.3)
    assert conductor.get_server(CTX, inst["id"])["status"] == "BUILD"
    conductor.peers.scheduler.available = True
    await wait_status(conductor, inst["id"], "ACTIVE")


async def test_scheduler_outage_past_deadline_ends_in_error(conductor):
    conductor.peers.scheduler.available = False
    conductor.build_timeout = 0.5
    [inst] = conductor.create_servers(CTX, request=request())
    await wait_status(conductor, inst["id"], "ERROR")
    assert "scheduler did not answer" in conductor.get_server(CTX, inst["id"])["fault"][
        "message"]


async def test_power_actions_and_conflicts(conductor):
    [inst] = conductor.create_servers(CTX, request=request())
    await wait_status(conductor, inst["id"], "ACTIVE")
    await conductor.power_action(CTX, instance_id=inst["id"], action="stop")
    await wait_status(conductor, inst["id"], "SHUTOFF")
    with pytest.raises(errors.Conflict):
        await conductor.power_action(CTX, instance_id=inst["id"], action="stop")
    await conductor.power_action(CTX, instance_id=inst["id"], action="start")
    await wait_status(conductor, inst["id"], "ACTIVE")


async def test_delete_releases_everything(conductor):
    [inst] = conductor.create_servers(CTX, request=request())
    await wait_status(conductor, inst["id"], "ACTIVE")
    await conductor.delete_server(CTX, instance_id=inst["id"])
    await eventually(lambda: conductor.list_servers(CTX, filters={}) == [], timeout=5)
    assert inst["id"] not in conductor.peers.network.ports
    assert inst["id"] not in conductor.peers.scheduler.manager.allocations
    assert all(inst["id"] not in g for g in conductor.peers.compute.guests.values())
    assert [a["action"] for a in conductor.list_actions(CTX, instance_id=inst["id"])] == [
        "delete", "create"]


async def test_other_projects_see_nothing(conductor):
    [inst] = conductor.create_servers(CTX, request=request())
    other = RequestContext(user_id="u2", project_id="p2", roles=("member",))
    with pytest.raises(errors.NotFound):
        conductor.get_server(other, inst["id"])
    assert conductor.list_servers(other, filters={"all_tenants": True}) == []
    admin = RequestContext(user_id="a", project_id="p0", roles=("admin",))
    assert conductor.list_servers(admin, filters={}) == []
    assert len(conductor.list_servers(admin, filters={"all_tenants": True})) == 1


async def test_recovery_restarts_lost_builds(conductor):
    [inst] = conductor.create_servers(CTX, request=request())
    # Simulate a conductor restart: the in-memory build task is gone.
    task = conductor._tasks.get(inst["id"])
    if task:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    await conductor.recover_stuck(spawn_grace=0)
    await wait_status(conductor, inst["id"], "ACTIVE")


async def boot_on(conductor, host, count):
    other = {"h1": "h2", "h2": "h1"}[host]
    svc = next(s for s in conductor.hosts.list_services() if s["host"] == other)
    conductor.hosts.update_service(svc["id"], disabled=True)
    made = conductor.create_servers(CTX, request=request(max_count=count, min_count=count))
    for inst in made:
        await wait_status(conductor, inst["id"], "ACTIVE")
    conductor.hosts.update_service(svc["id"], disabled=False)
    return made


async def test_host_down_fences_then_evacuates_keeping_ids_and_ports(conductor):
    made = await boot_on(conductor, "h1", 3)
    ports_before = {i["id"]: conductor.peers.network.ports[i["id"]] for i in made}
    moved = await conductor.evacuator.host_down("h1")
    assert sorted(moved) == sorted(i["id"] for i in made)
    h1 = next(s for s in conductor.hosts.list_services() if s["host"] == "h1")
    assert h1["forced_down"] and h1["status"] == "disabled"
    assert conductor.instances_on_host("h1") == []
    for inst in made:
        await wait_status(conductor, inst["id"], "ACTIVE")
        server = conductor.get_server(CTX, inst["id"])
        assert server["host"] == "h2" and server["name"] == inst["name"]
        assert conductor.peers.network.ports[inst["id"]] == ports_before[inst["id"]]
    admin = RequestContext(roles=("admin",))
    records = conductor.list_migrations(filters={"host": "h1"})
    assert {(m["source_compute"], m["dest_compute"], m["status"]) for m in records} == {
        ("h1", "h2", "done")}
    assert "evacuate" in [a["action"] for a in conductor.list_actions(
        admin, instance_id=made[0]["id"])]
    # A second detection of the same failure does nothing.
    assert await conductor.evacuator.host_down("h1") == []


async def test_fenced_host_rejoins_only_after_reconciling(conductor):
    await boot_on(conductor, "h1", 1)
    await conductor.evacuator.host_down("h1")
    hosts = conductor.hosts
    hosts.report_state(host="h1", binary="nova-compute", topic="compute")
    assert not hosts.unfence_if_reconciled("h1")
    hosts.report_state(host="h1", binary="nova-compute", topic="compute",
                       reconciled_at=(dt.datetime.utcnow() + dt.timedelta(seconds=1)).isoformat())
    assert hosts.unfence_if_reconciled("h1")
    h1 = next(s for s in hosts.list_services() if s["host"] == "h1")
    assert not h1["forced_down"] and h1["status"] == "enabled" and h1["state"] == "up"


async def test_evacuation_without_capacity_ends_in_error_with_fault(conductor):
    made = await boot_on(conductor, "h1", 1)
    svc = next(s for s in conductor.hosts.list_services() if s["host"] == "h2")
    conductor.hosts.update_service(svc["id"], disabled=True)
    await conductor.evacuator.host_down("h1")
    await wait_status(conductor, made[0]["id"], "ERROR")
    assert "No valid host" in conductor.get_server(CTX, made[0]["id"])["fault"]["message"]
    assert conductor.list_migrations(filters={})[0]["status"] == "error"
