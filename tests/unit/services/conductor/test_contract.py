"""The boot request (API -> conductor) on the wire."""
from __future__ import annotations

from services.conductor.contract import BlockDeviceRequest, BootRequest, ImageRequirements
from tests.unit.services.conductor.twins import over_the_wire


def full_request() -> BootRequest:
    return BootRequest(
        name="web", flavor_id="2", image_ref="img-1",
        image=ImageRequirements(min_ram=256, min_disk=1), key_name="k",
        metadata={"role": "web"}, user_data="aGk=", availability_zone="az1",
        networks=({"uuid": "n1", "fixed_ip": "10.0.0.9"}, {"port": "p1"}),
        security_groups=("default", "web"), min_count=1, max_count=3, group_id="g1",
        description="a server", tags=("a", "b"),
        block_device_mapping=(BlockDeviceRequest(source_type="volume", uuid="v1",
                                                 boot_index=1, delete_on_termination=True),))


def test_round_trip_keeps_every_field():
    request = full_request()
    assert BootRequest.from_wire(over_the_wire(request)) == request


def test_automatic_network_round_trip():
    request = BootRequest(name="vm", flavor_id="1", image_ref="img", networks="none")
    assert BootRequest.from_wire(over_the_wire(request)) == request


def test_wire_form_is_the_1_0_request_object():
    # Senders and receivers of 1.0 exchanged this JSON object; the typed request keeps it
    # (1.6 added block_device_mapping, which a 1.0 receiver ignores).
    assert set(over_the_wire(full_request())) == {
        "name", "flavor_id", "image_ref", "image", "key_name", "metadata", "user_data",
        "availability_zone", "networks", "security_groups", "min_count", "max_count",
        "group_id", "description", "tags", "block_device_mapping"}
    assert over_the_wire(full_request())["block_device_mapping"][0]["uuid"] == "v1"
    assert over_the_wire(full_request())["image"] == {"min_ram": 256, "min_disk": 1}
