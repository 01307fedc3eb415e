"""The instance payload (conductor -> compute host) on the wire."""
from __future__ import annotations

import orjson

from agents.compute.contract import FlavorSpec, InstancePayload


def payload() -> InstancePayload:
    return InstancePayload(
        id="i-1", name="vm", project_id="p1", user_id="u1",
        flavor=FlavorSpec(id="1", name="m1.tiny", vcpus=1, ram=512, disk=1,
                          extra_specs={"hw:cpu_policy": "shared"}),
        image_ref="img", key_name="k", key_data="ssh-ed25519 AAAA", user_data="aGk=",
        metadata={"a": "b"}, availability_zone="nova", launch_index=2,
        network_info=({"port_id": "p", "fixed_ips": [{"ip_address": "10.0.0.5"}]},))


def test_round_trip_keeps_every_field():
    sent = payload()
    received = InstancePayload.from_wire(orjson.loads(orjson.dumps(sent.to_wire())))
    assert received == sent
    assert isinstance(received.flavor, FlavorSpec)


def test_a_1_0_agent_finds_what_it_read_from_the_dict():
    wire = orjson.loads(orjson.dumps(payload().to_wire()))
    assert (wire["id"], wire["name"]) == ("i-1", "vm")
    assert {k: wire["flavor"][k] for k in ("vcpus", "ram", "disk")} == {
        "vcpus": 1, "ram": 512, "disk": 1}
    assert wire["network_info"][0]["port_id"] == "p"
