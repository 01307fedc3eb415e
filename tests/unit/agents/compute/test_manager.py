"""The compute manager with the fake driver and recording stand-ins for the conductor and
the image service (no bus): actions report their outcome, the power sync reports only
changes, the start-up reconcile starts what should run, and a failed snapshot leaves no
image."""
from __future__ import annotations

import asyncio
import tarfile

import pytest

from agents.compute.contract import PAUSED, RUNNING, SHUTDOWN, FlavorSpec, InstancePayload
from agents.compute.fake import FakeDriver
from agents.compute.manager import RESEND_EVERY, ComputeManager
from overcast import errors
from overcast.context import RequestContext

CTX = RequestContext(user_id="u1", project_id="p1", roles=("member",))


def _instance(n: int) -> InstancePayload:
    return InstancePayload(id=f"i-{n}", name=f"vm{n}", project_id="p1", user_id="u1",
                           flavor=FlavorSpec(id="1", name="m1.tiny", vcpus=1, ram=512, disk=1))


class Conductor:
    def __init__(self) -> None:
        self.reports: list[tuple] = []
        self.placements: list[dict] = []

    async def guest_action_done(self, ctx, **kw) -> None:
        self.reports.append(("done", kw))

    async def power_state_changed(self, ctx, **kw) -> None:
        self.reports.append(("power", kw))

    async def instance_built(self, ctx, **kw) -> None:
        self.reports.append(("built", kw))

    async def placements_on_host(self, ctx, *, host, timeout=None) -> list[dict]:
        return self.placements


class Images:
    """Records what a snapshot does to its image; ``fail_upload`` makes the upload fail."""

    def __init__(self) -> None:
        self.properties: dict[str, str] = {}
        self.data = b""
        self.deleted: list[str] = []
        self.fail_upload = False
        self.status = "queued"

        self.made: list[dict] = []

    async def get_image(self, ctx, image_id):
        return {"id": image_id, "status": self.status}

    async def create_image(self, ctx, body):
        self.made.append({"id": f"made-{len(self.made)}", "status": "queued", **body})
        return self.made[-1]

    async def list_images(self, ctx, *, filters):
        return {"images": [i for i in self.made
                           if all(i.get(k) == v for k, v in filters.items())]}

    async def update_image(self, ctx, image_id, changes):
        for change in changes:
            self.properties[change["path"]] = change["value"]

    async def upload(self, ctx, image_id, chunks):
        async for chunk in chunks:
            self.data += chunk
        if self.fail_upload:
            raise errors.ServiceUnavailable("the image store is full")
        self.status = "active"
        return {"id": image_id, "status": "active"}

    async def delete_image(self, ctx, image_id):
        self.deleted.append(image_id)


@pytest.fixture
async def manager(tmp_path):
    driver = FakeDriver(state_file=tmp_path / "guests.json")
    await driver.init_host("h1")
    made = ComputeManager(host="h1", driver=driver, conductor=Conductor(), images=Images(),
                          work_dir=tmp_path / "work")
    await made.build_and_run_instance(CTX, instance=_instance(1))
    made.conductor.reports.clear()
    return made


async def test_pause_reports_done_with_the_new_power_state(manager):
    await manager.guest_action(CTX, instance_id="i-1", action="pause")
    await manager.guest_action(CTX, instance_id="i-1", action="pause")  # a duplicate
    assert [r[1]["power_state"] for r in manager.conductor.reports] == [PAUSED, PAUSED]
    assert all(r[1]["error"] is None for r in manager.conductor.reports)


async def test_an_action_on_a_missing_guest_reports_an_error(manager):
    await manager.guest_action(CTX, instance_id="nope", action="suspend")
    [(_kind, report)] = manager.conductor.reports
    assert "not on h1" in report["error"]


async def test_power_sync_reports_only_changes(manager):
    assert await manager.sync_power_states(CTX) == 0
    await manager.driver.power_off("i-1")  # the guest stopped on its own
    assert await manager.sync_power_states(CTX) == 1
    (kind, report), = manager.conductor.reports
    assert report.pop("observed_at")  # when the host saw it (stale reports are dropped)
    assert (kind, report) == ("power", {"instance_id": "i-1", "host": "h1",
                                        "power_state": SHUTDOWN})
    assert await manager.sync_power_states(CTX) == 0


async def test_power_sync_repeats_what_is_not_running_now_and_then(manager):
    await manager.driver.power_off("i-1")
    assert await manager.sync_power_states(CTX) == 1
    passes = [await manager.sync_power_states(CTX) for _ in range(RESEND_EVERY)]
    assert sum(passes) == 1  # one repeat in RESEND_EVERY passes


async def test_power_sync_is_quiet_while_fenced(manager):
    await manager.self_fence()
    assert await manager.sync_power_states(CTX) == 0


async def test_start_up_reconcile_starts_only_what_should_run(manager):
    await manager.build_and_run_instance(CTX, instance=_instance(2))
    await manager.build_and_run_instance(CTX, instance=_instance(3))
    for guest_id in ("i-1", "i-2", "i-3"):
        await manager.driver.power_off(guest_id)  # the host went down
    manager.conductor.placements = [{"id": "i-1", "running": True},
                                    {"id": "i-2", "running": False}]
    destroyed = await manager.reconcile(CTX, start_up=True)
    assert destroyed == ["i-3"]
    assert manager.driver.get_info("i-1").power_state == RUNNING
    assert manager.driver.get_info("i-2").power_state == SHUTDOWN
    assert await manager.sync_power_states(CTX) == 0  # the start-up state is the baseline


async def test_a_later_reconcile_starts_nothing(manager):
    await manager.driver.power_off("i-1")
    manager.conductor.placements = [{"id": "i-1", "running": True}]
    await manager.reconcile(CTX)
    assert manager.driver.get_info("i-1").power_state == SHUTDOWN


async def test_snapshot_uploads_a_tar_and_marks_its_format(manager, tmp_path):
    await manager.guest_action(CTX, instance_id="i-1", action="createImage", image_id="img")
    assert manager.conductor.reports[-1][1]["error"] is None
    assert manager.images.properties == {"overcast_rootfs": "tar"}
    (tmp_path / "got.tar").write_bytes(manager.images.data)
    with tarfile.open(tmp_path / "got.tar") as archive:
        assert archive.extractfile("etc/hostname").read() == b"vm1\n"
    assert not list((tmp_path / "work" / "snapshots").iterdir())  # no file left behind


async def test_a_failed_snapshot_deletes_the_image_and_reports(manager, tmp_path):
    manager.images.fail_upload = True
    await manager.guest_action(CTX, instance_id="i-1", action="createImage", image_id="img")
    assert manager.images.deleted == ["img"]
    assert "full" in manager.conductor.reports[-1][1]["error"]
    assert not list((tmp_path / "work" / "snapshots").iterdir())


async def test_console_output_of_a_missing_guest_is_not_found(manager):
    with pytest.raises(errors.NotFound):
        await manager.get_console_output(CTX, instance_id="nope")
    assert "vm1 login:" in await manager.get_console_output(CTX, instance_id="i-1",
                                                            length=1)


async def test_the_flavor_chooses_the_disk_storage_else_the_host(manager):
    shared = _instance(9)
    shared = type(shared).from_wire({**shared.to_wire(), "flavor": {
        **shared.flavor.to_wire(), "extra_specs": {"overcast:disk_storage": "shared"}}})
    assert manager.storage_for(shared) == "shared"
    assert manager.storage_for(_instance(8)) == "local"
    await manager.build_and_run_instance(CTX, instance=shared)
    assert manager.driver.get_info("i-9").storage == "shared"
    assert manager.conductor.reports[-1] == ("built", {
        "instance_id": "i-9", "host": "h1", "power_state": RUNNING, "disk_reused": False})


async def test_a_duplicate_snapshot_message_leaves_the_image_alone(manager):
    await manager.guest_action(CTX, instance_id="i-1", action="createImage", image_id="img")
    uploaded = manager.images.data
    await manager.guest_action(CTX, instance_id="i-1", action="createImage", image_id="img")
    assert manager.images.data == uploaded and manager.images.deleted == []
    assert manager.conductor.reports[-1][1]["error"] is None


async def test_moving_out_a_local_disk_snapshots_it_once_and_keeps_the_guest(manager):
    for _ in range(2):  # a duplicate message finds the image the first one made
        await manager.guest_action(CTX, instance_id="i-1", action="moveOut")
    results = [r[1]["result"] for r in manager.conductor.reports]
    assert results == [{"storage": "local", "image_id": "made-0"}] * 2
    assert len(manager.images.made) == 1
    assert manager.images.properties == {"overcast_rootfs": "tar"}
    assert manager.driver.get_info("i-1").power_state == SHUTDOWN  # kept, stopped


async def test_moving_out_a_shared_disk_sends_nothing(manager):
    shared = type(_instance(5)).from_wire({**_instance(5).to_wire(), "flavor": {
        **_instance(5).flavor.to_wire(), "extra_specs": {"overcast:disk_storage": "shared"}}})
    await manager.build_and_run_instance(CTX, instance=shared)
    await manager.guest_action(CTX, instance_id="i-5", action="moveOut")
    assert manager.conductor.reports[-1][1]["result"] == {"storage": "shared"}
    assert manager.images.made == []


async def test_a_respawn_restarts_the_guest_on_its_own_disk(manager):
    await manager.build_and_run_instance(CTX, instance=_instance(1), respawn=True)
    assert manager.conductor.reports[-1][1]["disk_reused"] is True
    assert manager.driver.get_info("i-1").power_state == RUNNING


async def test_a_reconcile_during_a_slow_fence_neither_breaks_it_nor_undoes_it(manager):
    """Real guests take time to stop: a reconcile whose answer came before the fence must
    wait for it and leave it in place (it once cleared the fence half made, and the
    stopped guests were never started again)."""
    release = asyncio.Event()
    in_fence = asyncio.Event()
    stop = manager.driver.power_off

    async def slow_power_off(instance_id, *, grace=10.0):
        assert grace == 0  # a fence kills at once: the conductor evacuates within seconds
        in_fence.set()
        await release.wait()
        await stop(instance_id, grace=grace)

    manager.driver.power_off = slow_power_off
    manager.conductor.placements = [{"id": "i-1", "running": True}]
    asked = asyncio.Event()
    answer = manager.conductor.placements_on_host

    async def answer_then_fence(ctx, **kw):
        placements = await answer(ctx, **kw)
        asked.set()
        await in_fence.wait()  # the fence starts after this answer was given
        return placements

    manager.conductor.placements_on_host = answer_then_fence
    reconciling = asyncio.ensure_future(manager.reconcile(CTX))
    await asked.wait()
    fencing = asyncio.ensure_future(manager.self_fence())
    await in_fence.wait()
    release.set()
    await asyncio.gather(reconciling, fencing)
    assert manager.fenced_guests == {"i-1"}  # still fenced: only a later answer undoes it
    assert manager.driver.get_info("i-1").power_state == SHUTDOWN
    manager.conductor.placements_on_host = answer
    await manager.reconcile(CTX)
    assert manager.fenced_guests is None
    assert manager.driver.get_info("i-1").power_state == RUNNING
