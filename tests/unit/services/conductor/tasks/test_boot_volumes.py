"""Booting from volumes: existing ones reserved at admission (all or nothing), new ones made
by the build before it schedules, the mappings carried to every host that builds the guest,
and released when the server is deleted (in-memory peers, no broker)."""
from __future__ import annotations

import dataclasses

import pytest

from overcast import errors
from overcast.context import RequestContext, new_request_id
from overcast.testing import eventually
from services.conductor import block_devices as bdm
from services.conductor.contract import BlockDeviceRequest, ImageRequirements
from tests.unit.services.conductor.twins import CTX, wait_status
from tests.unit.services.conductor.twins import boot_request as request

IMG = "0c9b4f35-8e3c-4b9a-9d22-1d0d8b1f6a01"


def _ctx() -> RequestContext:
    return dataclasses.replace(CTX, request_id=new_request_id())


def _from_volume(volume_id: str, *more: BlockDeviceRequest, **changes):
    """``openstack server create --volume``: the volume is boot index 0, no image."""
    return request(image_ref="", block_device_mapping=(
        BlockDeviceRequest(source_type="volume", uuid=volume_id, boot_index=0), *more),
        **changes)


def _from_image(size: int = 2, **changes):
    """``openstack server create --image cirros --boot-from-volume 2``."""
    return request(image_ref="", block_device_mapping=(
        BlockDeviceRequest(source_type="image", uuid=IMG, boot_index=0, volume_size=size,
                           delete_on_termination=True),), **changes)


async def test_a_server_boots_from_an_existing_volume_reserved_at_admission(conductor):
    volumes = conductor.peers.volume
    root = volumes.add(bootable=True, size=3, image_id=IMG)
    [inst] = await conductor.create_servers(_ctx(), request=_from_volume(root))
    [mapping] = inst["block_device_mapping"]
    assert mapping["attachment_id"] and volumes.status(root) == "reserved"
    assert (mapping["volume_size"], mapping["image_id"]) == (3, IMG)
    await wait_status(conductor, inst["id"], "ACTIVE")
    [(host, payload)] = conductor.peers.compute.built
    assert payload.image_ref == "" and payload.root_volume.volume_id == root
    assert payload.root_volume.attachment_id == mapping["attachment_id"]
    assert payload.root_volume.device_name == "/dev/vda"
    [spec] = conductor.peers.scheduler.specs
    assert spec.disk_gb == 0  # no root disk on the host
    server = conductor.queries.get_server(CTX, inst["id"])
    assert server["image_ref"] == ""
    assert bdm.find(server["block_device_mapping"], root)["status"] == bdm.ATTACHED
    assert bdm.find(server["block_device_mapping"], root)["host"] == host


async def test_admission_reserves_all_the_volumes_or_none(conductor):
    volumes = conductor.peers.volume
    root, busy = volumes.add(bootable=True), volumes.add(status="in-use")
    with pytest.raises(errors.BadRequest, match="must be available"):
        await conductor.create_servers(_ctx(), request=_from_volume(
            root, BlockDeviceRequest(source_type="volume", uuid=busy)))
    assert volumes.status(root) == "available" and volumes.reserved() == set()
    assert conductor.store.live() == []


@pytest.mark.parametrize("volume, message", [
    ({"bootable": False}, "is not bootable"),
    ({"project_id": "p2", "bootable": True}, "failed to get volume"),
])
async def test_a_root_volume_must_be_bootable_and_the_callers(conductor, volume, message):
    root = conductor.peers.volume.add(**volume)
    with pytest.raises(errors.BadRequest, match=message):
        await conductor.create_servers(_ctx(), request=_from_volume(root))
    assert conductor.peers.volume.reserved() == set() and conductor.store.live() == []


async def test_a_refusal_after_the_reservation_deletes_it(conductor):
    root = conductor.peers.volume.add(bootable=True)
    with pytest.raises(errors.BadRequest, match="Invalid key_name"):
        await conductor.create_servers(_ctx(), request=_from_volume(root, key_name="nope"))
    conductor.resources.update_quotas(CTX, "p1", {"instances": 0})
    with pytest.raises(errors.QuotaExceeded):
        await conductor.create_servers(_ctx(), request=_from_volume(root))
    assert conductor.peers.volume.status(root) == "available"
    assert conductor.peers.volume.reserved() == set()


async def test_the_build_makes_the_root_volume_from_the_image_then_boots(conductor):
    volumes = conductor.peers.volume
    volumes.ready_after = 3
    [inst] = await conductor.create_servers(_ctx(), request=_from_image(size=2))
    [template] = inst["block_device_mapping"]
    assert template["attachment_id"] is None and template["volume_id"]
    await wait_status(conductor, inst["id"], "ACTIVE")
    [made] = volumes.created
    assert (made.id, made.size, made.image_id) == (template["volume_id"], 2, IMG)
    assert volumes.volumes[made.id]["project_id"] == "p1"
    [(_host, payload)] = conductor.peers.compute.built
    assert payload.root_volume.volume_id == made.id
    assert payload.root_volume.attachment_id in volumes.attachments
    await conductor.operations.delete_server(_ctx(), instance_id=inst["id"])
    await eventually(lambda: conductor.store.get(inst["id"]) is None, timeout=5)
    assert volumes.status(made.id) is None  # delete_on_termination


async def test_a_server_deleted_while_its_boot_volume_is_made_leaves_no_volume(conductor):
    volumes = conductor.peers.volume
    volumes.ready_after = 10**6  # the volume stays ``creating``
    [inst] = await conductor.create_servers(_ctx(), request=_from_image())
    [template] = inst["block_device_mapping"]
    await eventually(lambda: volumes.status(template["volume_id"]) == "creating", timeout=5)
    await conductor.operations.delete_server(_ctx(), instance_id=inst["id"])
    await eventually(lambda: conductor.store.get(inst["id"]) is None, timeout=5)
    # Deleted by a durable cast that waits for the creation to end, never refused for it.
    assert volumes.volumes_deleted_later == [template["volume_id"]]
    assert volumes.status(template["volume_id"]) is None


async def test_a_volume_that_is_not_made_fails_the_build_with_the_reason(conductor):
    conductor.peers.volume.fail_creates = True
    [inst] = await conductor.create_servers(_ctx(), request=_from_image())
    await wait_status(conductor, inst["id"], "ERROR")
    fault = conductor.queries.get_server(CTX, inst["id"])["fault"]
    assert "did not finish being created" in fault["message"]
    assert "its status is error" in fault["details"]
    assert conductor.peers.compute.built == [] and conductor.peers.scheduler.specs == []


async def test_a_volume_quota_refusal_fails_the_build_with_its_message(conductor):
    conductor.peers.volume.refuse_creates = errors.QuotaExceeded(
        "VolumeSizeExceedsAvailableQuota: Requested volume or snapshot exceeds allowed "
        "gigabytes quota.")
    [inst] = await conductor.create_servers(_ctx(), request=_from_image())
    await wait_status(conductor, inst["id"], "ERROR")
    fault = conductor.queries.get_server(CTX, inst["id"])["fault"]
    assert fault["code"] == 403 and "gigabytes quota" in fault["message"]


async def test_the_flavor_disk_does_not_limit_a_volume_backed_server(conductor):
    big_image = ImageRequirements(min_disk=5)
    with pytest.raises(errors.BadRequest, match="Flavor's disk is too small"):
        await conductor.create_servers(_ctx(), request=request(image=big_image))
    with pytest.raises(errors.BadRequest, match="Volume is smaller than the minimum size"):
        await conductor.create_servers(_ctx(), request=_from_image(size=2, image=big_image))
    [inst] = await conductor.create_servers(_ctx(), request=_from_image(size=5,
                                                                        image=big_image))
    await wait_status(conductor, inst["id"], "ACTIVE")


async def test_an_evacuated_server_takes_its_volumes_to_the_new_host(conductor):
    volumes = conductor.peers.volume
    root, data = volumes.add(bootable=True), volumes.add()
    [inst] = await conductor.create_servers(_ctx(), request=_from_volume(
        root, BlockDeviceRequest(source_type="volume", uuid=data)))
    await wait_status(conductor, inst["id"], "ACTIVE")
    first = conductor.store.get(inst["id"])
    await conductor.evacuator.host_down(first["host"])
    await eventually(lambda: conductor.store.get(inst["id"])["host"] != first["host"]
                     and conductor.store.get(inst["id"])["task_state"] is None, timeout=5)
    host, payload = conductor.peers.compute.built[-1]
    assert host != first["host"]
    assert [(d.volume_id, d.attachment_id, d.device_name) for d in
            payload.block_device_mapping] == [
        (m["volume_id"], m["attachment_id"], m["device_name"])
        for m in first["block_device_mapping"]]
    assert {m["host"] for m in bdm.of(conductor.store.get(inst["id"]))} == {host}


async def test_a_volume_backed_server_is_not_rebuilt_from_another_image(conductor):
    root = conductor.peers.volume.add(bootable=True, image_id=IMG)
    [inst] = await conductor.create_servers(_ctx(), request=_from_volume(root))
    await wait_status(conductor, inst["id"], "ACTIVE")
    with pytest.raises(errors.BadRequest, match="Unable to rebuild with a different image "
                                                "for a volume-backed server"):
        await conductor.rebuilder.rebuild(_ctx(), instance_id=inst["id"], image_ref="other")
    with pytest.raises(errors.BadRequest, match="Cannot rescue a volume-backed instance"):
        await conductor.guests.start(_ctx(), instance_id=inst["id"], action="rescue")
    assert conductor.store.get(inst["id"])["task_state"] is None
