"""Compute (``/compute/v2.1``): server create, update, actions and metadata, key pairs,
flavors, quotas, server groups and list queries, as admin, as a member and without a
usable token."""
from __future__ import annotations

from urllib.parse import quote

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from overcast.testing import wait_until
from tests.fuzz import strategies as s
from tests.fuzz.invariants import check, listed_ids
from tests.fuzz.target import examples

API = "/compute/v2.1"
MICROVERSIONS = st.one_of(st.none(), s.HEADER_VALUES, st.sampled_from(
    ["compute 2.1", "compute 2.37", "compute 2.79", "compute latest", "compute 2.80"]))


def _headers(microversion) -> dict:
    return {} if microversion is None else {"OpenStack-API-Version": microversion}


@pytest.fixture(scope="module")
def image_id(target):
    images = target.request("GET", "/image/v2/images?name=cirros").json()["images"]
    return images[0]["id"]


@pytest.fixture(scope="module")
def server_id(target, image_id):
    """One ACTIVE server of the admin project, for the per-server routes."""
    body = {"server": {"name": "fuzz-target", "imageRef": image_id, "flavorRef": "1",
                       "networks": "none"}}
    response = target.request("POST", f"{API}/servers", json=body,
                              headers={"OpenStack-API-Version": "compute 2.37"})
    assert response.status_code == 202, response.text
    sid = response.json()["server"]["id"]
    wait_until(lambda: target.request("GET", f"{API}/servers/{sid}").json()["server"]
               ["status"] == "ACTIVE", timeout=60)
    return sid


def boot_bodies(image_id: str):
    networks = st.one_of(st.sampled_from(["auto", "none"]), st.lists(st.fixed_dictionaries(
        {}, optional={"uuid": s.hostile(s.UUIDS), "port": s.hostile(s.UUIDS),
                      "fixed_ip": s.hostile(st.ip_addresses().map(str)),
                      "tag": s.TEXT}), max_size=2))
    server = s.shaped("server", {
        "name": st.text(min_size=1, max_size=20), "imageRef": st.just(image_id),
        "flavorRef": st.sampled_from(["1", "2", "42"]), "networks": networks,
        "min_count": s.ints(1, 2), "max_count": s.ints(1, 2),
        "key_name": s.TEXT, "availability_zone": st.sampled_from(["nova", "nowhere"]),
        "security_groups": st.lists(st.fixed_dictionaries({"name": s.TEXT}), max_size=2),
        "metadata": st.dictionaries(s.TEXT, s.TEXT, max_size=3),
        "user_data": st.sampled_from(["aGVsbG8=", "%%%", ""]), "description": s.TEXT,
        "tags": st.lists(s.TEXT, max_size=3), "return_reservation_id": st.booleans(),
        "config_drive": st.booleans(), "accessIPv4": st.ip_addresses(v=4).map(str),
        "block_device_mapping_v2": s.JSON, "adminPass": s.TEXT,
    }, required=("name", "imageRef", "flavorRef", "networks"))
    hints = st.fixed_dictionaries({}, optional={"os:scheduler_hints": s.hostile(
        st.fixed_dictionaries({}, optional={"group": s.UUIDS, "same_host": s.UUIDS}))})
    return st.builds(lambda body, extra: {**body, **extra} if isinstance(body, dict) else body,
                     server, hints)


@examples(80)
@given(data=st.data(), token=st.sampled_from(["admin", "member", "member", "unscoped"]),
       microversion=MICROVERSIONS)
def test_server_create(target, image_id, data, token, microversion):
    body = data.draw(boot_bodies(image_id), label="body")
    lister = token if token != "unscoped" else "admin"
    before = listed_ids(target, f"{API}/servers", "servers", token=lister)
    response = target.request("POST", f"{API}/servers", json=body, token=token,
                              headers=_headers(microversion))
    check(target, response)
    after = listed_ids(target, f"{API}/servers", "servers", token=lister)
    if response.status_code >= 400:
        assert after <= before, f"a refused create left servers behind: {after - before}"
    for sid in after - before:  # bounded work: nothing the fuzzer booted outlives its example
        target.request("DELETE", f"{API}/servers/{sid}", token=lister)


ACTIONS = {
    "os-stop": st.none(), "os-start": st.none(),
    "reboot": st.fixed_dictionaries({"type": s.hostile(st.sampled_from(["SOFT", "HARD"]))}),
    "evacuate": st.fixed_dictionaries({}, optional={"host": s.TEXT, "force": s.JSON,
                                                    "onSharedStorage": s.JSON}),
    "rebuild": st.fixed_dictionaries({"imageRef": s.hostile(s.UUIDS)}),
    "resize": st.fixed_dictionaries({"flavorRef": s.hostile(st.just("2"))}),
    "createImage": st.fixed_dictionaries({"name": s.TEXT}),
    "addSecurityGroup": st.fixed_dictionaries({"name": s.TEXT}),
    "lock": st.none(), "pause": st.none(), "shelve": st.none(), "migrate": s.JSON,
}


@examples(80)
@given(action=st.sampled_from(sorted(ACTIONS)), data=st.data(),
       token=s.TOKENS, microversion=MICROVERSIONS)
def test_server_actions(target, server_id, action, data, token, microversion):
    args = data.draw(s.hostile(ACTIONS[action]), label="args")
    body = data.draw(st.one_of(st.just({action: args}), s.JSON), label="body")
    response = target.request("POST", f"{API}/servers/{server_id}/action", json=body,
                              token=token, headers=_headers(microversion))
    check(target, response)
    if response.status_code == 202 and action in ("os-stop", "reboot", "evacuate"):
        # leave the server ACTIVE for the next example (os-start is idempotent)
        wait_until(lambda: target.request("GET", f"{API}/servers/{server_id}").json()
                   ["server"]["status"] in ("ACTIVE", "SHUTOFF", "ERROR"), timeout=30)
        target.request("POST", f"{API}/servers/{server_id}/action", json={"os-start": None})


@examples(60)
@given(method=st.sampled_from(["GET", "POST", "PUT", "DELETE"]),
       key=st.one_of(st.none(), s.PATH_SEGMENTS), token=s.TOKENS,
       metadata=s.shaped("metadata", {"a": s.TEXT, "b": s.TEXT}),
       update=s.shaped("server", {"name": s.TEXT, "description": s.TEXT,
                                  "accessIPv4": s.TEXT}))
def test_server_metadata_and_update(target, server_id, method, key, token, metadata, update):
    path = f"{API}/servers/{server_id}/metadata"
    if key is not None:
        path = f"{path}/{key}"
        if isinstance(metadata, dict) and "metadata" in metadata:
            metadata = {"meta": metadata["metadata"]}
    check(target, target.request(method, path, json=metadata, token=token))
    check(target, target.request("PUT", f"{API}/servers/{server_id}", json=update,
                                 token=token, headers={"OpenStack-API-Version": "compute 2.19"}))


@examples(60)
@given(body=s.shaped("keypair", {"name": st.text(min_size=1, max_size=20),
                                 "public_key": st.sampled_from(
                                     ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPH fuzz", "ssh-rsa x",
                                      "not a key"]),
                                 "type": st.sampled_from(["ssh", "x509"]),
                                 "user_id": s.UUIDS}, required=("name",)),
       token=s.TOKENS, microversion=MICROVERSIONS, query=s.query(["user_id", "limit", "marker"]))
@example(body={"keypair": {"name": "not-a-key", "public_key": "not a key"}}, token="member",
         microversion=None, query="")  # was a 500: UnsupportedAlgorithm escaped
def test_keypairs(target, body, token, microversion, query):
    headers = _headers(microversion)
    lister = token if token in ("admin", "member") else "admin"
    before = {k["keypair"]["name"] for k in target.request(
        "GET", f"{API}/os-keypairs", token=lister).json()["keypairs"]}
    response = target.request("POST", f"{API}/os-keypairs", json=body, token=token,
                              headers=headers)
    check(target, response)
    after = {k["keypair"]["name"] for k in target.request(
        "GET", f"{API}/os-keypairs", token=lister).json()["keypairs"]}
    if response.status_code >= 400:
        assert after <= before, f"a refused create left key pairs behind: {after - before}"
    for name in after - before:
        path = f"{API}/os-keypairs/{quote(name, safe='')}"
        check(target, target.request("GET", path, token=lister))
        target.request("DELETE", path, token=lister)
    check(target, target.request("GET", f"{API}/os-keypairs?{query}", token=token,
                                 headers=headers))


@examples(60)
@given(body=s.shaped("flavor", {
    "name": st.text(min_size=1, max_size=20), "id": st.one_of(st.none(), s.UUIDS, s.TEXT),
    "vcpus": st.integers(1, 4), "ram": st.integers(1, 4096), "disk": st.integers(0, 10),
    "OS-FLV-EXT-DATA:ephemeral": s.ints(0, 2), "swap": st.one_of(st.just(""),
                                                                        s.ints(0, 2)),
    "rxtx_factor": st.one_of(st.floats(0.1, 10), s.TEXT),
    "os-flavor-access:is_public": st.booleans(),
    "description": s.TEXT}, required=("name", "vcpus", "ram", "disk")),
    token=st.sampled_from(["admin", "admin", "member"]), microversion=MICROVERSIONS)
@example(body={"flavor": {"name": "odd", "vcpus": 1, "ram": 64, "disk": 0,
                          "rxtx_factor": "abc"}}, token="admin", microversion=None)
@example(body={"flavor": {"name": "big", "vcpus": 2**64, "ram": 64, "disk": 0}},
         token="admin", microversion=None)  # both were 500s
def test_flavor_create(target, body, token, microversion):
    before = listed_ids(target, f"{API}/flavors?is_public=none", "flavors")
    response = target.request("POST", f"{API}/flavors", json=body, token=token,
                              headers=_headers(microversion))
    check(target, response)
    after = listed_ids(target, f"{API}/flavors?is_public=none", "flavors")
    if response.status_code >= 400:
        assert after <= before, f"a refused create left flavors behind: {after - before}"
    for flavor_id in after - before:
        check(target, target.request("GET", f"{API}/flavors/{quote(flavor_id, safe='')}"
                                            "/os-extra_specs"))
        target.request("DELETE", f"{API}/flavors/{quote(flavor_id, safe='')}")


QUOTAS = ["instances", "cores", "ram", "key_pairs", "server_groups", "server_group_members",
          "metadata_items", "injected_files", "force"]


@examples(50)
@given(body=s.shaped("quota_set", {name: s.ints(-1, 100) for name in QUOTAS}),
       project=st.one_of(st.sampled_from(["member"]), s.PATH_SEGMENTS),
       suffix=st.sampled_from(["", "/defaults", "/detail"]), token=s.TOKENS,
       query=s.query(["user_id", "tenant_id", "reserved"]))
@example(body={"quota_set": {"instances": 2**64}}, project="member", suffix="",
         token="admin", query="")  # was a 500: the bus could not encode it
def test_quota_sets(target, body, project, suffix, token, query):
    project_id = target.projects.get(project, project)
    path = f"{API}/os-quota-sets/{project_id}"
    response = target.request("PUT", path, json=body, token=token)
    check(target, response)
    check(target, target.request("GET", f"{path}{suffix}?{query}", token=token))
    check(target, target.request("GET", f"{API}/limits?{query}", token=token))
    if response.status_code == 200:  # leave the member room to boot in later examples
        target.request("PUT", path, json={"quota_set": dict.fromkeys(QUOTAS[:-1], 100)})


@examples(50)
@given(body=s.shaped("server_group", {
    "name": st.text(min_size=1, max_size=20),
    "policies": st.lists(st.sampled_from(["affinity", "anti-affinity", "soft-affinity"]),
                         max_size=2),
    "policy": st.sampled_from(["affinity", "anti-affinity", "bogus"]),
    "rules": st.fixed_dictionaries({}, optional={"max_server_per_host": s.ints(1, 3)})},
    required=("name",)), token=s.TOKENS, microversion=MICROVERSIONS)
@example(body={"server_group": {"name": "g", "policy": "anti-affinity",
                                "rules": {"max_server_per_host": 2**64}}},
         token="member", microversion="compute 2.64")  # was a 500 on the bus
def test_server_groups(target, body, token, microversion):
    headers = _headers(microversion)
    lister = token if token in ("admin", "member") else "admin"
    before = listed_ids(target, f"{API}/os-server-groups", "server_groups", token=lister)
    response = target.request("POST", f"{API}/os-server-groups", json=body, token=token,
                              headers=headers)
    check(target, response)
    after = listed_ids(target, f"{API}/os-server-groups", "server_groups", token=lister)
    if response.status_code >= 400:
        assert after <= before, f"a refused create left groups behind: {after - before}"
    for group_id in after - before:
        check(target, target.request("GET", f"{API}/os-server-groups/{group_id}",
                                     token=lister, headers=headers))
        target.request("DELETE", f"{API}/os-server-groups/{group_id}", token=lister)


LISTS = ["/servers", "/servers/detail", "/flavors", "/flavors/detail", "/os-keypairs",
         "/os-server-groups", "/os-services", "/os-hypervisors", "/os-hypervisors/detail",
         "/os-hypervisors/statistics", "/os-migrations", "/os-availability-zone",
         "/os-availability-zone/detail", "/limits", ""]
LIST_QUERY = ["limit", "marker", "name", "status", "all_tenants", "project_id", "tenant_id",
              "sort_key", "sort_dir", "changes-since", "changes-before", "ip", "ip6", "host",
              "flavor", "image", "deleted", "is_public", "minRam", "minDisk", "binary",
              "hypervisor_hostname_pattern", "with_servers", "tags", "tags-any", "not-tags",
              "locked", "user_id", "instance_uuid", "migration_type", "reservation_id"]


@examples(160)
@given(path=st.sampled_from(LISTS), query=s.query(LIST_QUERY), token=s.TOKENS,
       microversion=MICROVERSIONS)
def test_list_queries(target, path, query, token, microversion):
    response = target.request("GET", f"{API}{path}?{query}", token=token,
                              headers=_headers(microversion))
    check(target, response)


@examples(40)
@given(service=st.one_of(st.sampled_from(["enable", "disable", "disable-log-reason",
                                          "force-down"]), s.UUIDS, s.PATH_SEGMENTS),
       body=s.shaped(None, {"status": st.sampled_from(["enabled", "disabled"]),
                            "disabled_reason": s.TEXT, "forced_down": st.booleans(),
                            # never the cloud's own hypervisor: the suite needs it up
                            "host": st.sampled_from(["nohost", "hypervisor-9"]),
                            "binary": st.sampled_from(["nova-compute", "nova-scheduler"])}),
       token=s.TOKENS, microversion=MICROVERSIONS)
@example(service="00000000-0000-0000-0000-000000000000",
         body={"status": "disabled", "disabled_reason": 2**64}, token="admin",
         microversion="compute 2.53")  # was a 500 on the bus
def test_service_updates(target, service, body, token, microversion):
    # a legacy action finds its service by host: never the cloud's own hypervisor
    if isinstance(body, dict) and (body.get("host") is None or isinstance(body["host"], str)):
        body["host"] = "nohost"
    response = target.request("PUT", f"{API}/os-services/{service}", json=body, token=token,
                              headers=_headers(microversion))
    check(target, response)
