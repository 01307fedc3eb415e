"""The compute-facing calls: allocate, validate, deallocate, bind, nw info."""
from __future__ import annotations

import pytest

from overcast import errors
from services.network import exceptions as exc
from tests.unit.services.network.network_helpers import (
    ADMIN,
    ADMIN_PROJECT,
    DEMO,
    DEMO_PROJECT,
    OTHER,
    OTHER_PROJECT,
    make_net,
)


async def _net(booted, name: str) -> dict:
    nets = (await booted.list_networks(ADMIN)).items
    return next(n for n in nets if n["name"] == name)


async def _ports_of(manager, instance_id: str) -> list[dict]:
    return [p for p in (await manager.list_ports(ADMIN)).items if p["device_id"] == instance_id]


async def test_auto_picks_the_single_usable_network(booted):
    vifs = await booted.allocate_for_instance(DEMO, instance_id="vm-1", project_id=DEMO_PROJECT,
                                              requested_networks="auto", security_groups=None)
    private = await _net(booted, "private")
    assert len(vifs) == 1
    vif = vifs[0]
    assert vif["network_id"] == private["id"] and vif["network_name"] == "private"
    assert vif["fixed_ips"][0]["ip_address"] == "10.0.0.2"
    assert vif["fixed_ips"][0]["subnet_id"] == private["subnets"][0]
    assert vif["mac_address"].startswith("fa:16:3e:")
    assert (vif["mtu"], vif["network_type"], vif["segmentation_id"]) == (1450, "vxlan", 1000)
    port = await booted.get_port(ADMIN, vif["port_id"])
    assert (port["device_id"], port["device_owner"]) == ("vm-1", "compute:nova")
    assert port["project_id"] == DEMO_PROJECT
    default = (await booted.list_security_groups(DEMO)).items[0]
    assert port["security_groups"] == [default["id"]]


async def test_auto_for_admin_skips_the_external_network(booted):
    vifs = await booted.allocate_for_instance(ADMIN, instance_id="vm-a",
                                              project_id=ADMIN_PROJECT,
                                              requested_networks="auto")
    assert [v["network_name"] for v in vifs] == ["private"]


async def test_auto_with_several_networks_is_ambiguous(booted):
    await make_net(booted, DEMO, "second", "10.20.0.0/24")
    with pytest.raises(errors.Conflict) as caught:
        await booted.allocate_for_instance(DEMO, instance_id="vm-1", project_id=DEMO_PROJECT,
                                           requested_networks="auto")
    assert "More than one possible network found" in caught.value.message
    assert caught.value.details["error_type"] == "NetworkAmbiguous"
    assert await _ports_of(booted, "vm-1") == []


async def test_auto_without_networks_is_400(manager):
    with pytest.raises(errors.BadRequest) as caught:
        await manager.validate_networks(OTHER, project_id=OTHER_PROJECT,
                                        requested_networks="auto")
    assert "Unable to automatically allocate a network" in caught.value.message


async def test_none_allocates_nothing(booted):
    assert await booted.allocate_for_instance(DEMO, instance_id="vm-1",
                                              project_id=DEMO_PROJECT,
                                              requested_networks="none") == []
    assert await _ports_of(booted, "vm-1") == []


async def test_explicit_networks_and_fixed_ip(booted):
    second, _ = await make_net(booted, DEMO, "second", "10.20.0.0/24")
    private = await _net(booted, "private")
    vifs = await booted.allocate_for_instance(
        DEMO, instance_id="vm-1", project_id=DEMO_PROJECT,
        requested_networks=[{"uuid": second["id"], "fixed_ip": "10.20.0.42"},
                            {"uuid": private["id"]}])
    assert [v["network_name"] for v in vifs] == ["second", "private"]
    assert vifs[0]["fixed_ips"][0]["ip_address"] == "10.20.0.42"
    assert [v["port_id"] for v in await booted.get_instance_nw_info(DEMO, instance_id="vm-1")
            ] == [v["port_id"] for v in vifs]


async def test_second_call_returns_the_same_ports(booted):
    private = await _net(booted, "private")
    first = await booted.allocate_for_instance(DEMO, instance_id="vm-1",
                                               project_id=DEMO_PROJECT,
                                               requested_networks=[{"uuid": private["id"]}])
    again = await booted.allocate_for_instance(DEMO, instance_id="vm-1",
                                               project_id=DEMO_PROJECT,
                                               requested_networks=[{"uuid": private["id"]}])
    auto = await booted.allocate_for_instance(DEMO, instance_id="vm-1",
                                              project_id=DEMO_PROJECT, requested_networks="auto")
    assert first == again == auto
    assert len(await _ports_of(booted, "vm-1")) == 1


async def test_failure_leaves_no_ports_behind(booted):
    tiny, _ = await make_net(booted, DEMO, "tiny", "10.30.0.0/30")  # one address: .2
    await booted.create_port(DEMO, {"network_id": tiny["id"]})
    private = await _net(booted, "private")
    before = len((await booted.list_ports(ADMIN)).items)
    with pytest.raises(errors.Conflict) as caught:
        await booted.allocate_for_instance(
            DEMO, instance_id="vm-1", project_id=DEMO_PROJECT,
            requested_networks=[{"uuid": private["id"]}, {"uuid": tiny["id"]}])
    assert caught.value.code == 409
    assert isinstance(caught.value, exc.IpAddressGenerationFailure)
    assert len((await booted.list_ports(ADMIN)).items) == before
    # the address the failed call had taken on "private" is free again
    vifs = await booted.allocate_for_instance(DEMO, instance_id="vm-2",
                                              project_id=DEMO_PROJECT,
                                              requested_networks=[{"uuid": private["id"]}])
    assert vifs[0]["fixed_ips"][0]["ip_address"] == "10.0.0.2"


async def test_existing_port_is_bound_then_only_unbound(booted):
    private = await _net(booted, "private")
    port = await booted.create_port(DEMO, {"network_id": private["id"], "name": "mine"})
    vifs = await booted.allocate_for_instance(DEMO, instance_id="vm-1",
                                              project_id=DEMO_PROJECT,
                                              requested_networks=[{"port": port["id"]}])
    assert vifs[0]["port_id"] == port["id"] and vifs[0]["preserve_on_delete"] is True
    with pytest.raises(errors.Conflict) as caught:
        await booted.validate_networks(DEMO, project_id=DEMO_PROJECT,
                                       requested_networks=[{"port": port["id"]}])
    assert caught.value.details["error_type"] == "PortInUse"
    await booted.deallocate_for_instance(DEMO, instance_id="vm-1")
    kept = await booted.get_port(ADMIN, port["id"])
    assert (kept["device_id"], kept["device_owner"], kept["name"]) == ("", "", "mine")
    assert kept["binding:vif_type"] == "unbound"


async def test_deallocate_deletes_made_ports_and_is_idempotent(booted):
    await booted.allocate_for_instance(DEMO, instance_id="vm-1", project_id=DEMO_PROJECT,
                                       requested_networks="auto")
    await booted.deallocate_for_instance(DEMO, instance_id="vm-1")
    await booted.deallocate_for_instance(DEMO, instance_id="vm-1")
    assert await _ports_of(booted, "vm-1") == []
    assert await booted.get_instance_nw_info(DEMO, instance_id="vm-1") == []


async def test_bind_ports_sets_host_and_active(booted):
    await booted.allocate_for_instance(DEMO, instance_id="vm-1", project_id=DEMO_PROJECT,
                                       requested_networks="auto")
    vifs = await booted.bind_ports(ADMIN, instance_id="vm-1", host="hypervisor-1")
    assert (vifs[0]["host"], vifs[0]["status"], vifs[0]["vif_type"]) == (
        "hypervisor-1", "ACTIVE", "bridge")
    assert vifs[0]["vif_details"]["bridge_name"].startswith("brq")
    moved = await booted.bind_ports(ADMIN, instance_id="vm-1", host="hypervisor-2")
    port = await booted.get_port(ADMIN, moved[0]["port_id"])
    assert (port["binding:host_id"], port["status"]) == ("hypervisor-2", "ACTIVE")
    member_view = await booted.get_port(DEMO, moved[0]["port_id"])
    assert "binding:host_id" not in member_view


@pytest.mark.parametrize("requested, error, nova_type", [
    ([{"uuid": "00000000-0000-0000-0000-000000000000"}], errors.BadRequest, "NetworkNotFound"),
    ([{"uuid": "not-a-uuid"}], errors.BadRequest, "NetworkIdNotFound"),
    ([{"port": "00000000-0000-0000-0000-000000000000"}], errors.BadRequest, "PortNotFound"),
])
async def test_validate_rejects_unknown_things(booted, requested, error, nova_type):
    with pytest.raises(error) as caught:
        await booted.validate_networks(DEMO, project_id=DEMO_PROJECT,
                                       requested_networks=requested)
    assert caught.value.details["error_type"] == nova_type


async def test_validate_hides_other_projects_networks_and_guards_external(booted):
    secret, _ = await make_net(booted, ADMIN, "secret", "10.40.0.0/24")
    public = await _net(booted, "public")
    with pytest.raises(errors.BadRequest):
        await booted.validate_networks(DEMO, project_id=DEMO_PROJECT,
                                       requested_networks=[{"uuid": secret["id"]}])
    with pytest.raises(errors.Forbidden):
        await booted.validate_networks(DEMO, project_id=DEMO_PROJECT,
                                       requested_networks=[{"uuid": public["id"]}])
    await booted.validate_networks(ADMIN, project_id=ADMIN_PROJECT,
                                   requested_networks=[{"uuid": public["id"]}])


async def test_validate_fixed_ip_in_use(booted):
    private = await _net(booted, "private")
    await booted.allocate_for_instance(DEMO, instance_id="vm-1", project_id=DEMO_PROJECT,
                                       requested_networks=[{"uuid": private["id"],
                                                            "fixed_ip": "10.0.0.9"}])
    with pytest.raises(errors.BadRequest) as caught:
        await booted.validate_networks(DEMO, project_id=DEMO_PROJECT, requested_networks=[
            {"uuid": private["id"], "fixed_ip": "10.0.0.9"}])
    assert caught.value.details["error_type"] == "FixedIpAlreadyInUse"


async def test_security_groups_by_name(booted):
    group = await booted.create_security_group(DEMO, {"name": "web"})
    vifs = await booted.allocate_for_instance(DEMO, instance_id="vm-1",
                                              project_id=DEMO_PROJECT,
                                              requested_networks="auto",
                                              security_groups=["web", "default"])
    default = next(g for g in (await booted.list_security_groups(DEMO)).items
                   if g["name"] == "default")
    assert sorted(vifs[0]["security_groups"]) == sorted([group["id"], default["id"]])
    with pytest.raises(errors.BadRequest):
        await booted.allocate_for_instance(DEMO, instance_id="vm-2", project_id=DEMO_PROJECT,
                                           requested_networks="auto",
                                           security_groups=["nope"])


async def test_validate_refuses_a_security_group_that_does_not_exist(booted):
    with pytest.raises(errors.BadRequest) as caught:
        await booted.validate_networks(DEMO, project_id=DEMO_PROJECT,
                                       requested_networks="auto", security_groups=["nope"])
    assert caught.value.details["error_type"] == "SecurityGroupNotFound"
    assert caught.value.message == "Security group nope not found."


async def test_validate_refuses_another_projects_security_group_by_name_or_id(booted):
    theirs = await booted.create_security_group(ADMIN, {"name": "admins-only"})
    for ref in ("admins-only", theirs["id"]):
        with pytest.raises(errors.BadRequest) as caught:
            await booted.validate_networks(DEMO, project_id=DEMO_PROJECT,
                                           requested_networks="auto", security_groups=[ref])
        assert caught.value.details["error_type"] == "SecurityGroupNotFound"


async def test_validate_takes_own_groups_and_default_and_makes_nothing(booted):
    group = await booted.create_security_group(DEMO, {"name": "web"})
    before = (await booted.list_security_groups(ADMIN)).items
    await booted.validate_networks(DEMO, project_id=DEMO_PROJECT, requested_networks="auto",
                                   security_groups=["web", group["id"], "default"])
    assert (await booted.list_security_groups(ADMIN)).items == before
