"""The evacuator against a twin of the build task: it fences, claims, and drives each move
through the ``Builds`` interface alone."""
from __future__ import annotations

import inspect
import uuid

import pytest

from overcast import errors
from overcast.context import RequestContext
from overcast.db import Database
from services.conductor import actions, states
from services.conductor.hosts import HostTracker
from services.conductor.instances import InstanceStore, instance_dict
from services.conductor.models import Base, Instance
from services.conductor.queries import Queries
from services.conductor.tasks.build import BuildLimits, BuildTask
from services.conductor.tasks.evacuate import EVENT_SCHEDULE, Builds, Evacuator

ADMIN = RequestContext(user_id="admin", project_id="p0", roles=("admin",))
FLAVOR = {"id": "1", "name": "m1.tiny", "vcpus": 1, "ram": 512, "disk": 1}


class BuildsTwin:
    """Records what the evacuator asks; ``run`` keeps the work for the test to step."""

    limits = BuildLimits(max_attempts=2)

    def __init__(self) -> None:
        self.reuse_disk: list[bool] = []
        self.calls: list[tuple] = []
        self.work: list = []
        self.destination: str | None = "h2"
        self.network_error: errors.OvercastError | None = None

    def run(self, instance_id, work, *, action, event):
        self.calls.append(("run", instance_id, action, event))
        self.work.append(work)

    async def step(self) -> None:
        """Run the work handed over so far (and what it hands over in turn)."""
        while self.work:
            await self.work.pop(0)

    async def select_host(self, ctx, instance_id, spec, started, *, action, event):
        self.calls.append(("select_host", instance_id, spec))
        return self.destination

    async def bind_ports(self, ctx, instance_id, *, host, project_id, requested_networks,
                         security_groups):
        self.calls.append(("allocate_network", instance_id, host))
        if self.network_error is not None:
            raise self.network_error
        with self.store.edit(instance_id) as (_session, row):
            if row is None or row.host != host:
                return None
            row.network_info = [{"port_id": "p-" + instance_id}]
            return instance_dict(row)

    async def send_to_host(self, ctx, *, host, instance, reuse_disk=False, delete_image=None,
                           respawn=False, stopped=False):
        self.calls.append(("send_to_host", instance["id"], host))
        self.reuse_disk.append(reuse_disk)

    async def release(self, ctx, instance_id):
        self.calls.append(("release", instance_id))

    async def set_error(self, ctx, instance_id, message, *, action, event, code=500,
                        host=None):
        self.calls.append(("set_error", instance_id, message))

    async def build_failed(self, ctx, *, instance_id, host, reason):
        self.calls.append(("build_failed", instance_id, host))

    async def finish_delete(self, ctx, instance_id):
        self.calls.append(("finish_delete", instance_id))

    def names(self) -> list[str]:
        return [c[0] for c in self.calls]

    def specs(self) -> list:
        return [c[2] for c in self.calls if c[0] == "select_host"]


@pytest.fixture
def world(tmp_path):
    db = Database(f"sqlite:///{tmp_path}/c.db", Base.metadata)
    hosts = HostTracker(db, service_down_time=60)
    for host in ("h1", "h2"):
        hosts.report_state(host=host, binary="nova-compute", topic="compute")
    store = InstanceStore(db)
    builds = BuildsTwin()
    builds.store = store
    evacuator: Evacuator = Evacuator(store=store, hosts=hosts, builds=builds)
    yield evacuator, builds, Queries(db, store=store)
    for work in builds.work:  # handed over but never stepped
        work.close()
    db.close()


def add_instance(evacuator: Evacuator, *, host: str = "h1", vm_state: str = states.ACTIVE,
                 task_state: str | None = None) -> str:
    instance_id = str(uuid.uuid4())
    with evacuator.store.create() as (session, added):
        inst = Instance(id=instance_id, name="vm", project_id="p1", user_id="u1",
                        flavor=FLAVOR, host=host, vm_state=vm_state, task_state=task_state,
                        tried_hosts=[host], requested_networks="auto",
                        security_groups=["default"])
        session.add(inst)
        session.flush()
        actions.start_action(session, ADMIN, instance_id=instance_id, action="create")
        added.append(inst)
    return instance_id


async def moved_to_h2(evacuator: Evacuator, builds: BuildsTwin) -> str:
    """An instance of h1, evacuated to h2 after h1 went down; the calls so far forgotten."""
    moving = add_instance(evacuator)
    await evacuator.host_down("h1")
    await builds.step()
    builds.calls.clear()
    return moving


@pytest.mark.parametrize("builds", [BuildTask, BuildsTwin], ids=["BuildTask", "twin"])
def test_the_build_task_and_its_twin_offer_what_the_evacuator_asks_for(builds):
    # Names and parameters, so the twin cannot drift from the interface the real task meets.
    asked = {name for name, member in vars(Builds).items()
             if callable(member) and not name.startswith("_")}
    for name in asked:
        wanted = inspect.signature(getattr(Builds, name)).parameters
        offered = inspect.signature(getattr(builds, name)).parameters
        assert list(offered) == list(wanted), name
    assert "limits" in Builds.__annotations__
    assert hasattr(builds, "limits") or "limits" in builds.__dataclass_fields__


async def test_host_down_fences_claims_then_moves_each_instance(world):
    evacuator, builds, queries = world
    moving = add_instance(evacuator)
    building = add_instance(evacuator, vm_state=states.BUILDING, task_state=states.SPAWNING)
    deleting = add_instance(evacuator, task_state=states.DELETING)
    elsewhere = add_instance(evacuator, host="h2")
    assert await evacuator.host_down("h1") == [moving]
    assert evacuator.store.get(moving)["task_state"] == states.REBUILDING
    assert ("finish_delete", deleting) in builds.calls
    assert ("build_failed", building, "h1") in builds.calls
    assert ("run", moving, "evacuate", EVENT_SCHEDULE) in builds.calls
    assert queries.instances_on_host("h1") == [building, deleting]
    await builds.step()
    [spec] = builds.specs()
    assert spec.ignore_hosts == ("h1",) and spec.force_hosts == ()
    assert builds.calls[-2:] == [("allocate_network", moving, "h2"),
                                 ("send_to_host", moving, "h2")]
    inst = evacuator.store.get(moving)
    assert inst["host"] == "h2" and inst["network_info"] == [{"port_id": "p-" + moving}]
    assert all(c[1] != elsewhere for c in builds.calls)
    [migration] = queries.list_migrations(filters={})
    assert (migration["source_compute"], migration["dest_compute"]) == ("h1", "h2")
    # The same failure detected again moves nothing.
    assert await evacuator.host_down("h1") == []


async def test_no_destination_ends_the_migration_in_error(world):
    evacuator, builds, queries = world
    add_instance(evacuator)
    builds.destination = None
    await evacuator.host_down("h1")
    await builds.step()
    assert "send_to_host" not in builds.names()
    assert queries.list_migrations(filters={})[0]["status"] == "error"


async def test_a_port_binding_failure_sets_error(world):
    evacuator, builds, queries = world
    moving = add_instance(evacuator)
    builds.network_error = errors.Conflict("port in use")
    await evacuator.host_down("h1")
    await builds.step()
    assert ("set_error", moving, "Port binding failed: port in use") in builds.calls
    assert queries.list_migrations(filters={})[0]["status"] == "error"


async def test_a_failed_rebuild_is_retried_within_the_attempt_bound(world):
    evacuator, builds, _ = world
    moving = await moved_to_h2(evacuator, builds)
    await evacuator.spawn_failed(ADMIN, instance_id=moving, host="h2", reason="boom")
    assert builds.names() == ["run"]
    await builds.step()
    [spec] = builds.specs()
    assert spec.ignore_hosts == ("h1", "h2")
    builds.calls.clear()
    # Tried h1 (the source), h2 and now h2 again: past the bound of 2 it gives up.
    await evacuator.spawn_failed(ADMIN, instance_id=moving, host="h2", reason="boom again")
    assert builds.names() == ["release", "set_error"]
    assert "boom again" in builds.calls[-1][2]


async def test_by_hand_the_source_must_be_down_and_the_target_another_host(world):
    evacuator, builds, _ = world
    moving = add_instance(evacuator)
    with pytest.raises(errors.Conflict, match="still in use"):
        await evacuator.evacuate_server(ADMIN, instance_id=moving)
    evacuator.hosts.fence("h1")
    with pytest.raises(errors.BadRequest, match="same one"):
        await evacuator.evacuate_server(ADMIN, instance_id=moving, host="h1")
    await evacuator.evacuate_server(ADMIN, instance_id=moving, host="h2")
    with pytest.raises(errors.Conflict):
        await evacuator.evacuate_server(ADMIN, instance_id=moving, host="h2")
    await builds.step()
    [spec] = builds.specs()
    assert spec.force_hosts == ("h2",)


async def test_resume_after_a_restart_resends_or_reschedules(world):
    evacuator, builds, _ = world
    moving = await moved_to_h2(evacuator, builds)
    await evacuator.resume(moving, idle=0, grace=30)
    assert builds.calls == []
    await evacuator.resume(moving, idle=60, grace=30)
    assert builds.calls == [("send_to_host", moving, "h2")]
    evacuator.hosts.fence("h2")  # the destination is down too: schedule again
    builds.calls.clear()
    await evacuator.resume(moving, idle=60, grace=30)
    assert builds.names() == ["run"]
