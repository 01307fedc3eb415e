"""The compute manager's volume handlers with the fake driver and in-memory twins of the
volume service and the conductor (no bus): what each handler asks of the volume service,
what the guest ends with, and what the conductor is told, also when a step fails or a
message comes twice."""
from __future__ import annotations

import pytest

from agents.compute.contract import RUNNING, BlockDevice, FlavorSpec, InstancePayload
from agents.compute.fake import FakeDriver
from agents.compute.manager import ComputeManager
from agents.compute.rpcapi import ComputeAgentAPI
from overcast import errors
from overcast.context import RequestContext
from services.volume.contract import OVERCAST_FILE, ConnectionInfo, Connector

CTX = RequestContext(user_id="u1", project_id="p1", roles=("member",))
VOL_A = "0a0a0a0a-0000-4000-8000-00000000000a"
VOL_B = "0b0b0b0b-0000-4000-8000-00000000000b"
ROOT = "0c0c0c0c-0000-4000-8000-00000000000c"


def bdm(volume_id: str, name: str, *, boot_index: int | None = None) -> BlockDevice:
    return BlockDevice(volume_id=volume_id, attachment_id=f"att-{volume_id[:2]}",
                       device_name=f"/dev/{name}", boot_index=boot_index)


def instance(n: int, *mappings: BlockDevice, image_ref: str = "img") -> InstancePayload:
    return InstancePayload(id=f"i-{n}", name=f"vm{n}", project_id="p1", user_id="u1",
                           flavor=FlavorSpec(id="1", name="m1.tiny", vcpus=1, ram=512, disk=1),
                           image_ref=image_ref, block_device_mapping=mappings)


class VolumeService:
    """The volume service's attachment calls, recorded; ``fail`` names a call that fails
    (``timeout`` for one that does not answer)."""

    def __init__(self) -> None:
        self.calls: list[tuple] = []
        self.fail: dict[str, Exception] = {}

    def _record(self, name: str, *args) -> None:
        self.calls.append((name, *args))
        if name in self.fail:
            raise self.fail[name]

    async def attachment_update(self, ctx, *, attachment_id, connector: Connector):
        assert ctx is CTX  # the user's context, as the message carried it
        self._record("update", attachment_id, connector)
        volume_id = next(v for v in (VOL_A, VOL_B, ROOT) if v.startswith(attachment_id[4:]))
        return ConnectionInfo(driver_volume_type=OVERCAST_FILE, volume_id=volume_id,
                              file_name=f"volume-{volume_id}", attachment_id=attachment_id)

    async def attachment_complete(self, ctx, *, attachment_id):
        self._record("complete", attachment_id)

    async def attachment_delete(self, ctx, *, attachment_id):
        self._record("delete", attachment_id)

    async def attachment_delete_later(self, ctx, *, attachment_id, delete_volume=False):
        self._record("delete_later", attachment_id)

    def names(self) -> list[str]:
        return [call[0] for call in self.calls]


class Conductor:
    def __init__(self) -> None:
        self.reports: list[tuple] = []
        self.placements: list[dict] = []

    async def volume_attached(self, ctx, **kw) -> None:
        self.reports.append(("attached", kw))

    async def volume_attach_failed(self, ctx, **kw) -> None:
        self.reports.append(("attach_failed", kw))

    async def volume_detached(self, ctx, **kw) -> None:
        self.reports.append(("detached", kw))

    async def instance_built(self, ctx, **kw) -> None:
        self.reports.append(("built", kw))

    async def build_failed(self, ctx, **kw) -> None:
        self.reports.append(("build_failed", kw))

    async def instance_destroyed(self, ctx, **kw) -> None:
        self.reports.append(("destroyed", kw))

    async def guest_action_done(self, ctx, **kw) -> None:
        self.reports.append(("done", kw))

    async def placements_on_host(self, ctx, *, host, timeout=None) -> list[dict]:
        return self.placements


@pytest.fixture
async def manager(tmp_path) -> ComputeManager:
    driver = FakeDriver(state_file=tmp_path / "guests.json")
    await driver.init_host("h1")
    made = ComputeManager(host="h1", driver=driver, conductor=Conductor(),
                          volumes=VolumeService(), work_dir=tmp_path / "work")
    await made.build_and_run_instance(CTX, instance=instance(1))
    made.conductor.reports.clear()
    return made


async def test_attach_connects_mounts_completes_and_reports(manager):
    for _ in range(2):  # a duplicate message does the same and ends the same
        await manager.attach_volume(CTX, instance_id="i-1", block_device=bdm(VOL_A, "vdb"))
    assert manager.volumes.calls[:2] == [
        ("update", "att-0a", Connector(host="h1", mountpoint="/dev/vdb", instance_id="i-1")),
        ("complete", "att-0a")]
    assert manager.driver.attached_volumes("i-1") == [bdm(VOL_A, "vdb")]
    assert manager.conductor.reports == [
        ("attached", {"instance_id": "i-1", "volume_id": VOL_A, "host": "h1"})] * 2


async def test_a_failed_completion_undoes_the_mount_and_reports_why(manager):
    manager.volumes.fail["complete"] = errors.ServiceUnavailable("the volume DB is down")
    await manager.attach_volume(CTX, instance_id="i-1", block_device=bdm(VOL_A, "vdb"))
    assert manager.driver.attached_volumes("i-1") == []
    assert manager.conductor.reports == [("attach_failed", {
        "instance_id": "i-1", "volume_id": VOL_A, "host": "h1",
        "reason": "the volume DB is down"})]


async def test_a_device_name_taken_fails_and_leaves_the_other_volume(manager):
    await manager.attach_volume(CTX, instance_id="i-1", block_device=bdm(VOL_A, "vdb"))
    await manager.attach_volume(CTX, instance_id="i-1", block_device=bdm(VOL_B, "vdb"))
    assert manager.driver.attached_volumes("i-1") == [bdm(VOL_A, "vdb")]
    kind, report = manager.conductor.reports[-1]
    assert kind == "attach_failed" and "/dev/vdb is already volume" in report["reason"]


@pytest.mark.parametrize("why", ["missing", "fenced", "deleted"])
async def test_attach_to_a_guest_not_here_asks_nothing_of_the_volume_service(manager, why):
    instance_id = "i-1"
    if why == "missing":
        instance_id = "i-9"
    elif why == "fenced":
        await manager.self_fence()
    else:
        await manager.terminate_instance(CTX, instance_id="i-1")
        manager.conductor.reports.clear()
    await manager.attach_volume(CTX, instance_id=instance_id, block_device=bdm(VOL_A, "vdb"))
    assert manager.volumes.calls == []
    [(kind, report)] = manager.conductor.reports
    assert kind == "attach_failed" and report["reason"]


async def test_detach_unmounts_deletes_the_attachment_and_reports(manager):
    await manager.attach_volume(CTX, instance_id="i-1", block_device=bdm(VOL_A, "vdb"))
    manager.volumes.calls.clear()
    manager.conductor.reports.clear()
    for _ in range(2):
        await manager.detach_volume(CTX, instance_id="i-1", volume_id=VOL_A,
                                    attachment_id="att-0a")
    assert manager.driver.attached_volumes("i-1") == []
    assert manager.volumes.calls == [("delete", "att-0a")] * 2
    assert manager.conductor.reports == [
        ("detached", {"instance_id": "i-1", "volume_id": VOL_A, "host": "h1"})] * 2


async def test_a_detach_whose_delete_fails_queues_it(manager):
    await manager.attach_volume(CTX, instance_id="i-1", block_device=bdm(VOL_A, "vdb"))
    manager.volumes.fail["delete"] = TimeoutError()
    await manager.detach_volume(CTX, instance_id="i-1", volume_id=VOL_A,
                                attachment_id="att-0a")
    assert manager.volumes.names()[-2:] == ["delete", "delete_later"]
    assert manager.conductor.reports[-1][0] == "detached"


async def test_a_detach_from_a_guest_gone_still_frees_the_volume(manager):
    await manager.detach_volume(CTX, instance_id="i-9", volume_id=VOL_A,
                                attachment_id="att-0a")
    assert manager.volumes.calls == [("delete", "att-0a")]
    assert manager.conductor.reports[-1][0] == "detached"


async def test_a_root_volume_is_never_detached(manager):
    await manager.build_and_run_instance(
        CTX, instance=instance(2, bdm(ROOT, "vda", boot_index=0), image_ref=""))
    manager.volumes.calls.clear()
    manager.conductor.reports.clear()
    await manager.detach_volume(CTX, instance_id="i-2", volume_id=ROOT,
                                attachment_id="att-0c")
    assert manager.driver.attached_volumes("i-2") == [bdm(ROOT, "vda", boot_index=0)]
    assert manager.volumes.calls == [] and manager.conductor.reports == []


async def test_a_build_attaches_every_volume_with_this_hosts_connector(manager):
    manager.driver.needs_image = True  # no image cache here: a boot from volume needs none
    built = instance(2, bdm(ROOT, "vda", boot_index=0), bdm(VOL_A, "vdb"), image_ref="")
    await manager.build_and_run_instance(CTX, instance=built)
    assert manager.volumes.calls == [
        ("update", "att-0c", Connector(host="h1", mountpoint="/dev/vda", instance_id="i-2")),
        ("update", "att-0a", Connector(host="h1", mountpoint="/dev/vdb", instance_id="i-2")),
        ("complete", "att-0c"), ("complete", "att-0a")]
    assert manager.driver.attached_volumes("i-2") == list(built.block_device_mapping)
    assert manager.conductor.reports == [("built", {
        "instance_id": "i-2", "host": "h1", "power_state": RUNNING, "disk_reused": True})]


async def test_an_image_backed_build_still_fetches_its_image(manager):
    manager.driver.needs_image = True
    await manager.build_and_run_instance(CTX, instance=instance(2, bdm(VOL_A, "vdb")))
    [(kind, report)] = manager.conductor.reports
    assert kind == "build_failed" and "no image service" in report["reason"]


@pytest.mark.parametrize("failing", ["update", "complete"])
async def test_a_build_whose_volumes_fail_leaves_no_guest(manager, failing):
    manager.volumes.fail[failing] = errors.NotFound("Volume could not be found.")
    await manager.build_and_run_instance(CTX, instance=instance(2, bdm(VOL_A, "vdb")))
    assert [g.instance_id for g in manager.driver.list_guests()] == ["i-1"]
    [(kind, report)] = manager.conductor.reports
    assert (kind, report["reason"]) == ("build_failed", "Volume could not be found.")


async def test_a_build_delivered_again_completes_the_running_guests_volumes(manager):
    built = instance(2, bdm(VOL_A, "vdb"))
    await manager.build_and_run_instance(CTX, instance=built)
    manager.volumes.calls.clear()
    await manager.build_and_run_instance(CTX, instance=built)  # redelivered
    assert manager.volumes.names() == ["complete"]  # not mounted twice, completed again
    assert [kind for kind, _ in manager.conductor.reports] == ["built", "built"]


async def test_a_respawn_attaches_the_volumes_again(manager):
    moved = instance(1, bdm(VOL_A, "vdb"))
    await manager.build_and_run_instance(CTX, instance=moved, respawn=True)
    assert manager.volumes.names() == ["update", "complete"]
    assert manager.driver.attached_volumes("i-1") == [bdm(VOL_A, "vdb")]


async def test_a_reverted_move_attaches_the_kept_guests_volumes_here_again(manager):
    await manager.attach_volume(CTX, instance_id="i-1", block_device=bdm(VOL_A, "vdb"))
    await manager.driver.power_off("i-1")  # moved out: kept here, stopped
    manager.volumes.calls.clear()
    await manager.guest_action(CTX, instance_id="i-1", action="revertResize")
    assert manager.volumes.calls == [
        ("update", "att-0a", Connector(host="h1", mountpoint="/dev/vdb", instance_id="i-1")),
        ("complete", "att-0a")]
    assert manager.conductor.reports[-1][1]["error"] is None
    assert manager.driver.get_info("i-1").power_state == RUNNING


async def test_a_stale_guest_is_destroyed_with_its_volumes(manager):
    await manager.attach_volume(CTX, instance_id="i-1", block_device=bdm(VOL_A, "vdb"))
    manager.conductor.placements = []  # evacuated while this host was away
    assert await manager.reconcile(CTX, start_up=True) == ["i-1"]
    assert manager.driver.volumes == {}


async def test_a_build_with_volumes_needs_a_1_3_host():
    sent = []

    class Bus:
        async def cast(self, ctx, topic, method, *, server, version, **args):
            sent.append((method, version))

    api = ComputeAgentAPI(Bus())
    await api.build_and_run_instance(CTX, host="h1", instance=instance(1))
    await api.build_and_run_instance(CTX, host="h1", instance=instance(1, bdm(VOL_A, "vdb")))
    await api.rebuild_instance(CTX, host="h1", instance=instance(1, bdm(VOL_A, "vdb")))
    await api.attach_volume(CTX, host="h1", instance_id="i-1", block_device=bdm(VOL_A, "vdb"))
    await api.detach_volume(CTX, host="h1", instance_id="i-1", volume_id=VOL_A,
                            attachment_id="att-0a")
    assert sent == [("build_and_run_instance", "1.0"), ("build_and_run_instance", "1.3"),
                    ("rebuild_instance", "1.3"), ("attach_volume", "1.3"),
                    ("detach_volume", "1.3")]
