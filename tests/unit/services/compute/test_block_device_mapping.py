"""``POST /servers`` with block device mappings: what stock clients send to boot from a
volume, Nova's schema refusals, and the request the conductor gets."""
from __future__ import annotations

import pytest

from services.conductor.rpcapi import BlockDeviceRequest, ImageRequirements
from tests.unit.services.compute.compute_twins import DISK_IMAGE_ID, IMAGE_ID, auth

SERVERS = "/compute/v2.1/servers"
VOL = "6f1c8a52-0d4e-4a7b-9a51-3f2b8c1d0e01"


def _boot(**server: object) -> dict:
    return {"server": {"name": "vm", "flavorRef": "1", **server}}


async def _created(http, conductor, body: dict, version: str | None = None):
    response = await http.post(SERVERS, headers=auth(version=version), json=body)
    assert response.status_code == 202, response.text
    [call] = conductor.asked("create_servers")
    return call["request"]


async def test_openstack_server_create_volume_boots_from_it_with_no_image(http, conductor):
    # openstack server create --volume data2 --flavor 1 vm
    request = await _created(http, conductor, _boot(block_device_mapping_v2=[
        {"uuid": VOL, "boot_index": "0", "source_type": "volume",
         "destination_type": "volume"}]))
    assert request.image_ref == "" and request.image == ImageRequirements()
    assert request.block_device_mapping == (BlockDeviceRequest(
        source_type="volume", destination_type="volume", uuid=VOL, boot_index=0),)


async def test_boot_from_volume_makes_the_root_from_the_image(http, conductor):
    # openstack server create --image cirros --boot-from-volume 1 vm
    request = await _created(http, conductor, _boot(imageRef="", block_device_mapping_v2=[
        {"uuid": IMAGE_ID, "boot_index": 0, "source_type": "image",
         "destination_type": "volume", "volume_size": 1, "delete_on_termination": "true"}]))
    assert request.image_ref == ""
    assert request.image == ImageRequirements(min_ram=64, min_disk=1)
    [device] = request.block_device_mapping
    assert (device.source_type, device.uuid, device.volume_size) == ("image", IMAGE_ID, 1)
    assert device.delete_on_termination is True


async def test_an_image_boot_can_attach_data_volumes_with_tags(http, conductor):
    request = await _created(http, conductor, _boot(imageRef=IMAGE_ID, block_device_mapping_v2=[
        {"uuid": IMAGE_ID, "boot_index": 0, "source_type": "image",
         "destination_type": "local"},
        {"uuid": VOL, "source_type": "volume", "destination_type": "volume",
         "boot_index": -1, "device_name": "/dev/vdb", "tag": "data"},
        {"no_device": True, "device_name": "vdc"}]), version="2.42")
    assert request.image_ref == IMAGE_ID
    assert [(d.source_type, d.uuid, d.tag) for d in request.block_device_mapping] == [
        ("image", IMAGE_ID, None), ("volume", VOL, "data")]


async def test_the_legacy_syntax_maps_a_volume_at_vda_as_the_root(http, conductor):
    request = await _created(http, conductor, _boot(block_device_mapping=[
        {"volume_id": VOL, "device_name": "vda", "delete_on_termination": False}]))
    assert request.block_device_mapping == (BlockDeviceRequest(
        source_type="volume", uuid=VOL, boot_index=0, device_name="vda"),)


def _v2(**item: object) -> dict:
    return _boot(block_device_mapping_v2=[{"uuid": VOL, "source_type": "volume",
                                           "destination_type": "volume", "boot_index": 0,
                                           **item}])


@pytest.mark.parametrize("version, body, message", [
    (None, _boot(), "Missing imageRef attribute"),
    (None, _boot(block_device_mapping=[{"volume_id": VOL}],
                 block_device_mapping_v2=[{"uuid": VOL, "source_type": "volume"}]),
     "Using different block_device_mapping syntaxes is not allowed"),
    (None, _boot(block_device_mapping_v2={"uuid": VOL}), "must be a list of objects"),
    (None, _v2(source_type="disk"), "source_type"),
    (None, _v2(destination_type="remote"), "destination_type"),
    (None, _v2(boot_index="first"), "boot_index"),
    (None, _v2(volume_size=0), "volume_size"),
    (None, _v2(volume_size=True), "volume_size"),
    (None, _v2(uuid="a b"), "uuid"),
    (None, _v2(device_name="/dev/vd b"), "device_name"),
    (None, _v2(delete_on_termination="maybe"), "is not a boolean"),
    (None, _v2(colour="red"), "Additional properties are not allowed"),
    ("2.41", _v2(tag="t"), "Additional properties are not allowed"),
    ("2.66", _v2(volume_type="fast"), "Additional properties are not allowed"),
    ("2.67", _v2(volume_type="fast"), "volume_type is not supported"),
    (None, _boot(block_device_mapping_v2=[{"uuid": VOL}]), "Some required fields"),
    (None, _boot(block_device_mapping_v2=[
        {"uuid": "6a3f1e48-8f8e-4d55-a6c2-0a8a3a1c1b6e", "source_type": "image",
         "destination_type": "volume", "boot_index": 0, "volume_size": 1}]),
     "Block Device Mapping is Invalid: failed to get image"),
    (None, _boot(block_device_mapping_v2=[
        {"uuid": DISK_IMAGE_ID, "source_type": "image", "destination_type": "volume",
         "boot_index": 0, "volume_size": 1}]), "is not a root filesystem archive"),
])
async def test_bad_mappings_are_400_and_reach_no_conductor(http, conductor, version, body,
                                                           message):
    response = await http.post(SERVERS, headers=auth(version=version), json=body)
    assert response.status_code == 400, response.text
    assert message in response.json()["badRequest"]["message"]
    assert conductor.asked("create_servers") == []
