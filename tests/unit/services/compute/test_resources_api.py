"""Flavors, key pairs, limits, quotas and server groups, against a conductor twin."""
from __future__ import annotations

import pytest

from tests.unit.services.compute.compute_twins import auth

V21 = "/compute/v2.1"


async def test_flavor_listing_follows_is_public_and_the_microversion(http, conductor):
    public = (await http.get(f"{V21}/flavors", headers=auth())).json()["flavors"]
    assert [f["id"] for f in public] == ["1"] and "description" not in public[0]
    everything = await http.get(f"{V21}/flavors?is_public=none", headers=auth(version="2.55"))
    assert [f["id"] for f in everything.json()["flavors"]] == ["1", "2"]
    assert everything.json()["flavors"][0]["description"] is None
    private = await http.get(f"{V21}/flavors/detail?is_public=false", headers=auth())
    assert [f["id"] for f in private.json()["flavors"]] == ["2"]
    assert [c["is_public"] for c in conductor.asked("list_flavors")] == [True, None, False]


async def test_flavor_detail_and_extra_specs(http):
    old = (await http.get(f"{V21}/flavors/1", headers=auth())).json()["flavor"]
    assert old["swap"] == "" and "extra_specs" not in old and old["ram"] == 512
    assert old["links"][0]["href"] == f"http://testserver{V21}/flavors/1"
    new = (await http.get(f"{V21}/flavors/1", headers=auth(version="2.75"))).json()["flavor"]
    assert new["swap"] == 0 and new["extra_specs"] == {"hw:cpu": "1"}
    specs = await http.get(f"{V21}/flavors/1/os-extra_specs", headers=auth())
    assert specs.json() == {"extra_specs": {"hw:cpu": "1"}}
    assert (await http.get(f"{V21}/flavors/9", headers=auth())).status_code == 404


async def test_creating_a_flavor_is_for_admins_and_checks_numbers(http, conductor):
    body = {"flavor": {"name": "m1.big", "id": "big", "vcpus": 4, "ram": 4096, "disk": 40,
                       "swap": "", "os-flavor-access:is_public": False}}
    assert (await http.post(f"{V21}/flavors", headers=auth(), json=body)).status_code == 403
    made = await http.post(f"{V21}/flavors", headers=auth("admin"), json=body)
    assert made.status_code == 200 and made.json()["flavor"]["id"] == "big"
    [asked] = conductor.asked("create_flavor")
    assert asked["flavor"] == {"name": "m1.big", "id": "big", "description": None, "vcpus": 4,
                               "ram": 4096, "disk": 40, "ephemeral": 0, "swap": 0,
                               "is_public": False, "rxtx_factor": 1.0}
    bad = await http.post(f"{V21}/flavors", headers=auth("admin"),
                          json={"flavor": {"name": "x", "vcpus": 0, "ram": 1}})
    assert bad.status_code == 400 and "vcpus" in bad.json()["badRequest"]["message"]
    deleted = await http.delete(f"{V21}/flavors/big", headers=auth("admin"))
    assert deleted.status_code == 202


async def test_keypair_create_status_and_type_follow_2_2(http, conductor):
    old = await http.post(f"{V21}/os-keypairs", headers=auth(),
                          json={"keypair": {"name": "k", "type": "x509"}})
    assert old.status_code == 200 and "type" not in old.json()["keypair"]
    assert old.json()["keypair"]["private_key"] and old.json()["keypair"]["user_id"]
    new = await http.post(f"{V21}/os-keypairs", headers=auth(version="2.2"),
                          json={"keypair": {"name": "k2", "type": "x509",
                                            "public_key": "ssh-rsa AAA"}})
    assert new.status_code == 201 and new.json()["keypair"]["type"] == "x509"
    assert [c["key_type"] for c in conductor.asked("create_keypair")] == ["ssh", "x509"]
    bad = await http.post(f"{V21}/os-keypairs", headers=auth(version="2.2"),
                          json={"keypair": {"name": "k3", "type": "pgp"}})
    assert bad.status_code == 400


async def test_limits_show_usage_and_drop_fields_by_microversion(http, conductor):
    old = (await http.get(f"{V21}/limits", headers=auth())).json()["limits"]
    assert old["rate"] == [] and old["absolute"]["maxTotalCores"] == 20
    assert old["absolute"]["totalRAMUsed"] == 1024 and old["absolute"]["maxImageMeta"] == 128
    assert old["absolute"]["maxPersonality"] == 5
    new = (await http.get(f"{V21}/limits", headers=auth(version="2.57"))).json()["limits"]
    assert "maxPersonality" not in new["absolute"] and "maxImageMeta" not in new["absolute"]


async def test_limits_tenant_id_from_a_member_is_403_not_silently_ignored(http, conductor):
    asked_before = len(conductor.asked("get_quotas"))
    for project in ("p-9", "p-1"):  # Nova's limits:other_project is admin-only, even for own
        response = await http.get(f"{V21}/limits?tenant_id={project}", headers=auth())
        assert response.status_code == 403
        assert response.json()["forbidden"]["message"] == (
            "Policy doesn't allow os_compute_api:limits:other_project to be performed.")
    assert len(conductor.asked("get_quotas")) == asked_before


async def test_limits_tenant_id_from_an_admin_shows_that_project(http, conductor):
    response = await http.get(f"{V21}/limits?tenant_id=p-9", headers=auth("admin"))
    assert response.status_code == 200
    assert conductor.asked("get_quotas")[-1]["project_id"] == "p-9"


@pytest.mark.parametrize("method, path, action", [
    ("GET", "/os-keypairs", "index"), ("GET", "/os-keypairs/k", "show"),
    ("DELETE", "/os-keypairs/k", "delete"),
])
async def test_keypairs_user_id_from_a_member_is_403_not_silently_ignored(http, conductor,
                                                                          method, path, action):
    response = await http.request(method, f"{V21}{path}?user_id=u-other",
                                  headers=auth(version="2.10"))
    assert response.status_code == 403
    assert response.json()["forbidden"]["message"] == (
        f"Policy doesn't allow os_compute_api:os-keypairs:{action} to be performed.")


async def test_keypairs_user_id_of_oneself_or_before_2_10_is_the_callers_own(http, conductor):
    own = await http.get(f"{V21}/os-keypairs?user_id=u-member", headers=auth(version="2.10"))
    old = await http.get(f"{V21}/os-keypairs?user_id=u-other", headers=auth(version="2.9"))
    assert own.status_code == old.status_code == 200
    assert [c["user_id"] for c in conductor.asked("list_keypairs")] == [None, None]


async def test_keypairs_user_id_from_an_admin_lists_that_users_keys(http, conductor):
    response = await http.get(f"{V21}/os-keypairs?user_id=u-other",
                              headers=auth("admin", version="2.10"))
    assert response.status_code == 200
    assert conductor.asked("list_keypairs")[-1]["user_id"] == "u-other"


async def test_quota_sets(http, conductor):
    shown = (await http.get(f"{V21}/os-quota-sets/p-1", headers=auth())).json()["quota_set"]
    assert shown["id"] == "p-1" and shown["injected_files"] == 5
    detail = await http.get(f"{V21}/os-quota-sets/p-1/detail", headers=auth(version="2.57"))
    assert detail.json()["quota_set"]["cores"] == {"limit": 20, "in_use": 2, "reserved": 0}
    assert "injected_files" not in detail.json()["quota_set"]
    defaults = await http.get(f"{V21}/os-quota-sets/p-1/defaults", headers=auth())
    assert defaults.json()["quota_set"]["instances"] == 10
    body = {"quota_set": {"cores": 40, "force": True}}
    assert (await http.put(f"{V21}/os-quota-sets/p-1", headers=auth(),
                           json=body)).status_code == 403
    updated = await http.put(f"{V21}/os-quota-sets/p-1", headers=auth("admin"), json=body)
    assert updated.json()["quota_set"]["cores"] == 40 and "id" not in updated.json()["quota_set"]
    assert conductor.asked("update_quotas") == [{"project_id": "p-1", "values": {"cores": 40}}]


@pytest.mark.parametrize(("version", "body", "policy"), [
    (None, {"name": "g", "policies": ["anti-affinity"]}, "anti-affinity"),
    ("2.64", {"name": "g", "policy": "affinity", "rules": {}}, "affinity"),
])
async def test_server_groups_take_policies_or_a_policy(http, conductor, version, body, policy):
    response = await http.post(f"{V21}/os-server-groups", headers=auth(version=version),
                               json={"server_group": body})
    assert response.status_code == 200, response.text
    group = response.json()["server_group"]
    if version:
        assert group["policy"] == policy and "metadata" not in group
    else:
        assert group["policies"] == [policy] and group["metadata"] == {}
    assert conductor.asked("create_group")[-1]["policy"] == policy


async def test_server_group_policies_must_be_one(http):
    response = await http.post(f"{V21}/os-server-groups", headers=auth(), json={
        "server_group": {"name": "g", "policies": ["affinity", "anti-affinity"]}})
    assert response.status_code == 400


async def test_keypair_create_for_another_user_is_403_for_a_member(http, conductor):
    response = await http.post(f"{V21}/os-keypairs", headers=auth(version="2.10"),
                               json={"keypair": {"name": "k", "user_id": "u-other"}})
    assert response.status_code == 403
    assert response.json()["forbidden"]["message"] == (
        "Policy doesn't allow os_compute_api:os-keypairs:create to be performed.")
    assert conductor.asked("create_keypair") == []


async def test_keypair_create_for_another_user_by_an_admin_is_theirs(http, conductor):
    response = await http.post(f"{V21}/os-keypairs", headers=auth("admin", version="2.10"),
                               json={"keypair": {"name": "k", "user_id": "u-other"}})
    assert response.status_code == 201
    assert response.json()["keypair"]["user_id"] == "u-other"
    assert conductor.asked("create_keypair")[-1]["user_id"] == "u-other"


@pytest.mark.parametrize("change", [
    {"rxtx_factor": "abc"}, {"rxtx_factor": []}, {"rxtx_factor": 0}, {"rxtx_factor": True},
    {"rxtx_factor": 1e39}, {"vcpus": 2**64}, {"ram": 2**31}, {"disk": 10**100},
    {"swap": 2**63}, {"OS-FLV-EXT-DATA:ephemeral": 1.5}, {"id": 2**64}, {"id": []},
    {"description": 2**64}, {"description": {}},
])
async def test_flavor_rxtx_factor_not_a_number_or_a_number_past_a_db_integer_is_400_not_500(
        http, conductor, change):
    body = {"flavor": {"name": "odd", "vcpus": 1, "ram": 64, "disk": 0, **change}}
    response = await http.post(f"{V21}/flavors", headers=auth("admin"), json=body)
    assert response.status_code == 400, response.text
    assert response.json()["badRequest"]["code"] == 400
    assert conductor.asked("create_flavor") == []


@pytest.mark.parametrize("limit", [2**64, -(2**64), 10**100, 2**31, -2, 1e308, True, "[",
                                   "1" * 40, [], {}])
async def test_quota_limit_past_a_database_integer_or_not_a_number_is_a_400_not_a_500_on_the_bus(
        http, conductor, limit):
    response = await http.put(f"{V21}/os-quota-sets/p-1", headers=auth("admin"),
                              json={"quota_set": {"instances": limit}})
    assert response.status_code == 400, response.text
    assert response.json()["badRequest"]["code"] == 400
    assert conductor.asked("update_quotas") == []


async def test_quota_limits_as_digit_strings_are_taken_as_nova_takes_them(http, conductor):
    response = await http.put(f"{V21}/os-quota-sets/p-1", headers=auth("admin"),
                              json={"quota_set": {"cores": "40", "instances": "-1"}})
    assert response.status_code == 200, response.text
    assert conductor.asked("update_quotas") == [{"project_id": "p-1",
                                                 "values": {"cores": 40, "instances": -1}}]


@pytest.mark.parametrize(("version", "group"), [
    ("2.64", {"policy": "anti-affinity", "rules": {"max_server_per_host": 2**64}}),
    ("2.64", {"policy": "anti-affinity", "rules": {"max_server_per_host": 0}}),
    ("2.64", {"policy": "anti-affinity", "rules": {"other": 1}}),
    ("2.64", {"policy": "anti-affinity", "rules": "x"}),
    ("2.64", {"policy": 2**64}),
    (None, {"policies": [2**64]}),
])
async def test_server_group_policy_or_rules_past_64_bits_are_a_400_not_a_500(
        http, conductor, version, group):
    response = await http.post(f"{V21}/os-server-groups", headers=auth(version=version),
                               json={"server_group": {"name": "g", **group}})
    assert response.status_code == 400, response.text
    assert conductor.asked("create_group") == []


@pytest.mark.parametrize("public_key", [2**64, [], {"k": "v"}])
async def test_keypair_public_key_not_a_string_is_a_400_not_a_500(http, conductor,
                                                                   public_key):
    response = await http.post(f"{V21}/os-keypairs", headers=auth(),
                               json={"keypair": {"name": "k", "public_key": public_key}})
    assert response.status_code == 400, response.text
    assert conductor.asked("create_keypair") == []
