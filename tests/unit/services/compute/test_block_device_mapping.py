"""``POST /servers`` with block device mappings: what stock clients send to boot from a
volume, Nova's schema refusals, and the request the conductor gets."""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

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


_SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(), st.sampled_from([2**64, 10**100, 1e308]),
    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=12),
    st.sampled_from(["volume", "image", "blank", "local", "0", "-1", VOL, IMAGE_ID,
                     "/dev/vdb", "true"]))
_KEYS = st.sampled_from(["uuid", "source_type", "destination_type", "boot_index",
                         "volume_size", "device_name", "delete_on_termination", "tag",
                         "no_device", "volume_type", "x"])
JSON = st.recursive(_SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(_KEYS, inner, max_size=6)), max_leaves=12)


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(mappings=JSON, image_ref=st.sampled_from([None, "", IMAGE_ID]),
       version=st.sampled_from([None, "2.42", "2.79"]))
async def test_no_mapping_is_a_server_error(http, conductor, mappings, image_ref, version):
    body = _boot(block_device_mapping_v2=mappings)
    if image_ref is not None:
        body["server"]["imageRef"] = image_ref
    response = await http.post(SERVERS, headers=auth(version=version), json=body)
    assert response.status_code in (202, 400), response.text
