"""Block device mappings: device names as Nova picks them, and the rules a boot request's
``block_device_mapping_v2`` follows (Nova's ``_validate_bdm``)."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agents.compute.contract import InstancePayload
from overcast import errors
from services.conductor import block_devices as bdm
from services.conductor.contract import BlockDeviceRequest
from services.conductor.instances import payload_of
from tests.unit.services.conductor.twins import boot_request

VOL = "6f1c8a52-0d4e-4a7b-9a51-3f2b8c1d0e01"
VOL2 = "6f1c8a52-0d4e-4a7b-9a51-3f2b8c1d0e02"
IMG = "0c9b4f35-8e3c-4b9a-9d22-1d0d8b1f6a01"


def _devices(*names: str) -> list[dict]:
    return [bdm.new_mapping(volume_id=f"v{i}", device_name=n) for i, n in enumerate(names)]


@pytest.mark.parametrize("used, wanted", [
    ((), "/dev/vdb"),
    (("/dev/vdb", "/dev/vdc"), "/dev/vdd"),
    (("/dev/vdc",), "/dev/vdb"),
    (("/dev/sdb",), "/dev/vdc"),  # a letter is taken whatever its prefix, as in Nova
    (tuple(f"/dev/vd{chr(c)}" for c in range(ord("b"), ord("z") + 1)), "/dev/vdaa"),
])
def test_the_next_device_is_the_first_free_letter_after_the_root(used, wanted):
    assert bdm.next_device(_devices(*used)) == wanted


def test_a_requested_device_must_be_free_and_valid():
    mappings = _devices("/dev/vdb")
    assert bdm.checked_free(mappings, "vdc", volume_backed=False) == "/dev/vdc"
    with pytest.raises(errors.Conflict, match=r"device path \(/dev/vdb\) is in use"):
        bdm.checked_free(mappings, "/dev/vdb", volume_backed=False)
    with pytest.raises(errors.Conflict, match="in use"):  # the image's root disk
        bdm.checked_free(mappings, "/dev/vda", volume_backed=False)
    with pytest.raises(errors.BadRequest, match=r"device path \(/dev/vd-b\) is invalid"):
        bdm.checked_free(mappings, "/dev/vd-b", volume_backed=False)


def test_booting_from_an_existing_volume_maps_it_as_the_root():
    [root] = bdm.requested(boot_request(image_ref="", block_device_mapping=(
        BlockDeviceRequest(source_type="volume", uuid=VOL, boot_index=0),)))
    assert (root["volume_id"], root["device_name"], root["boot_index"]) == (VOL, "/dev/vda", 0)
    assert root["status"] == bdm.RESERVED and root["attachment_id"] is None


def test_a_volume_from_an_image_gets_its_own_id_for_each_instance():
    templates = bdm.requested(boot_request(image_ref="", max_count=2, block_device_mapping=(
        BlockDeviceRequest(source_type="image", uuid=IMG, boot_index=0, volume_size=2,
                           delete_on_termination=True),)))
    [template] = templates
    assert template["volume_id"] is None and template["image_id"] == IMG
    first, second = bdm.for_instance(templates), bdm.for_instance(templates)
    assert first[0]["volume_id"] != second[0]["volume_id"]
    assert first[0]["volume_size"] == 2 and first[0]["delete_on_termination"]


def test_data_volumes_of_an_image_boot_get_the_next_devices():
    templates = bdm.requested(boot_request(block_device_mapping=(
        BlockDeviceRequest(source_type="image", destination_type="local", uuid=IMG,
                           boot_index=0),  # the image's own root, as some clients list it
        BlockDeviceRequest(source_type="volume", uuid=VOL, boot_index=-1),
        BlockDeviceRequest(source_type="blank", volume_size=1, device_name="vdd"),
        BlockDeviceRequest(source_type="volume", uuid=VOL2))))
    assert [(t["volume_id"], t["device_name"], t["boot_index"]) for t in templates] == [
        (VOL, "/dev/vdb", None), (None, "/dev/vdd", None), (VOL2, "/dev/vdc", None)]
    assert bdm.root(templates) is None


@pytest.mark.parametrize("changes, message", [
    ({"image_ref": "", "block_device_mapping": (
        BlockDeviceRequest(source_type="volume", uuid=VOL),)}, "Boot sequence"),
    ({"image_ref": "", "block_device_mapping": (
        BlockDeviceRequest(source_type="volume", uuid=VOL, boot_index=0),
        BlockDeviceRequest(source_type="volume", uuid=VOL2, boot_index=0))}, "Boot sequence"),
    ({"block_device_mapping": (
        BlockDeviceRequest(source_type="volume", uuid=VOL, boot_index=0),)}, "Boot sequence"),
    ({"image_ref": "", "block_device_mapping": (
        BlockDeviceRequest(source_type="volume", uuid=VOL, boot_index=1),)}, "Boot sequence"),
    ({"max_count": 2, "block_device_mapping": (
        BlockDeviceRequest(source_type="volume", uuid=VOL),)},
     "Cannot attach one or more volumes to multiple instances"),
    ({"image_ref": "", "block_device_mapping": (
        BlockDeviceRequest(source_type="image", uuid=IMG, boot_index=0),)},
     "Images with destination_type 'volume' need to have a non-zero size specified"),
    ({"block_device_mapping": (BlockDeviceRequest(source_type="blank"),)},
     "Blank volumes"),
    ({"block_device_mapping": (BlockDeviceRequest(source_type="blank", uuid=VOL,
                                                  volume_size=1),)}, "Invalid device UUID."),
    ({"block_device_mapping": (BlockDeviceRequest(source_type="volume"),)},
     "Missing device UUID."),
    ({"block_device_mapping": (BlockDeviceRequest(source_type="snapshot", uuid=VOL),)},
     "snapshots are not supported"),
    ({"block_device_mapping": (BlockDeviceRequest(source_type="image", uuid=IMG,
                                                  destination_type="local"),)},
     "Mapping image to local is not supported."),
    ({"block_device_mapping": (BlockDeviceRequest(source_type="blank", volume_size=1,
                                                  destination_type="local"),)},
     "ephemeral and swap"),
    ({"block_device_mapping": (BlockDeviceRequest(source_type="volume", uuid=VOL,
                                                  device_name="/dev/vda"),)},
     "same device name as the root device vda"),
    ({"block_device_mapping": (
        BlockDeviceRequest(source_type="volume", uuid=VOL, device_name="vdb"),
        BlockDeviceRequest(source_type="volume", uuid=VOL2, device_name="/dev/vdb"))},
     r"\(/dev/vdb\) is in use"),
    ({"block_device_mapping": (
        BlockDeviceRequest(source_type="volume", uuid=VOL),
        BlockDeviceRequest(source_type="volume", uuid=VOL))}, "mapped only once"),
    ({"block_device_mapping": (BlockDeviceRequest(source_type="volume", uuid=VOL,
                                                  device_name="/dev/../x"),)}, "is invalid"),
])
def test_bad_mappings_are_refused_with_novas_words(changes, message):
    with pytest.raises(errors.BadRequest, match=message):
        bdm.requested(boot_request(**changes))


def test_a_host_is_sent_the_reserved_volumes_not_being_detached():
    mappings = [
        bdm.new_mapping(volume_id="v1", device_name="/dev/vda", attachment_id="a1",
                        boot_index=0, status=bdm.ATTACHED, tag="root"),
        bdm.new_mapping(volume_id="v2", device_name="/dev/vdb", attachment_id="a2",
                        status=bdm.DETACHING),
        bdm.new_mapping(volume_id="v3", device_name="/dev/vdc"),  # not made yet
        bdm.new_mapping(volume_id="v4", device_name="/dev/vdd", attachment_id="a4",
                        status=bdm.ATTACHING, delete_on_termination=True)]
    instance = {"id": "i1", "name": "vm", "project_id": "p1", "user_id": "u1",
                "flavor": {"id": "1", "name": "m1.tiny", "vcpus": 1, "ram": 512, "disk": 1},
                "block_device_mapping": mappings}
    payload = payload_of(instance)
    assert isinstance(payload, InstancePayload)
    assert [(d.volume_id, d.attachment_id, d.device_name) for d in
            payload.block_device_mapping] == [("v1", "a1", "/dev/vda"), ("v4", "a4", "/dev/vdd")]
    assert payload.root_volume.tag == "root"
    assert payload.block_device_mapping[1].delete_on_termination
    built = bdm.built_on(mappings, "h2")
    assert [(m["status"], m["host"]) for m in built] == [
        (bdm.ATTACHED, "h2"), (bdm.DETACHING, None), (bdm.RESERVED, None), (bdm.ATTACHED, "h2")]


_ITEMS = st.builds(
    BlockDeviceRequest,
    source_type=st.sampled_from(["volume", "image", "blank", "snapshot", "disk"]),
    destination_type=st.sampled_from(["volume", "local", "remote"]),
    uuid=st.one_of(st.none(), st.sampled_from([VOL, VOL2, IMG, ""]), st.text(max_size=5)),
    boot_index=st.one_of(st.none(), st.integers(-2, 3)),
    volume_size=st.one_of(st.none(), st.integers(1, 3)),
    device_name=st.one_of(st.none(), st.sampled_from(["vda", "/dev/vdb", "sdc", "/dev/vd-x",
                                                      "x/y", "/dev/vdb1"])),
    delete_on_termination=st.booleans(), tag=st.one_of(st.none(), st.text(max_size=3)))


@settings(max_examples=300, deadline=None)
@given(items=st.lists(_ITEMS, max_size=4), image_ref=st.sampled_from(["", IMG]),
       count=st.integers(1, 2))
def test_any_mapping_is_taken_or_refused_with_400(items, image_ref, count):
    try:
        templates = bdm.requested(boot_request(image_ref=image_ref, max_count=count,
                                               block_device_mapping=tuple(items)))
    except errors.BadRequest:
        return
    devices = [t["device_name"] for t in templates]
    assert len(set(devices)) == len(devices) and all(bdm.DEVICE.match(d) for d in devices)
    assert [t["boot_index"] for t in templates].count(0) == (0 if image_ref else 1)
    for mapping in bdm.for_instance(templates):
        assert mapping["volume_id"]
