"""Block storage (``/volume/v3`` on the volume service's own port) and Nova's volume APIs
(``os-volume_attachments``, ``block_device_mapping_v2``): volumes, snapshots, backups, types,
quotas, attachments, actions, metadata and list queries, as admin, as a member and without a
usable token.

After every request, besides the suite's invariants: a refused request left nothing (no new
volume, snapshot, backup or attachment listed, no quota usage grown), a member's request on
the admin's resources changed nothing of them, and no answer to a member names a resource of
the admin's project it did not ask about. Whatever an example made is deleted before the
next one (``settle``), so the examples never run out of quota.
"""
from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from overcast.testing import wait_until
from tests.fuzz import strategies as s
from tests.fuzz.invariants import check
from tests.fuzz.target import Cloud, examples

API = "/volume/v3"
NOVA = "/compute/v2.1"
LATEST = {"OpenStack-API-Version": "volume 3.67"}
KINDS = ("volumes", "snapshots", "backups", "attachments")
# Room for every example (the fuzzer's own quota changes are undone to this).
ROOMY = {"volumes": 200, "snapshots": 200, "gigabytes": 2000, "backups": 100,
         "backup_gigabytes": 2000}
_VERSIONS = st.sampled_from(["volume 3.0", "volume 3.27", "volume 3.44", "volume 3.55",
                             "volume 3.67", "volume latest", "volume 3.68", "volume 2.0"])
# A header that names no ``volume`` version is Cinder's 400 ("API version None is not
# supported on this method"): now and then only.
MICROVERSIONS = st.one_of(st.none(), st.none(), st.none(), _VERSIONS, _VERSIONS,
                          s.HEADER_VALUES)
# Mostly the two users whose requests may do something; now and then no usable token.
TOKENS = st.sampled_from(["admin", "admin", "member", "member", "member", "unscoped",
                          "garbage", "none"])
BUSY = ("creating", "deleting", "extending", "backing-up", "restoring-backup", "restoring",
        "attaching", "detaching", "downloading")


def slow(count: int) -> settings:
    """The suite's settings with ``count`` examples and room for the work an example waits
    for (volumes made and deleted, backups, attaches) on a loaded machine."""
    return settings(examples(count), deadline=240_000)


def _headers(microversion: str | None) -> dict[str, str]:
    return {} if microversion is None else {"OpenStack-API-Version": microversion}


def observed(target: Cloud, response, label: str = "") -> None:
    """The suite's invariants, and the answer counted in Hypothesis' statistics (run with
    ``--hypothesis-show-statistics`` to see how many requests got past the checks)."""
    event(f"{label or response.request.method} -> {response.status_code}")
    check(target, response)


# -- what exists now ----------------------------------------------------------------------

def _listed(target: Cloud, kind: str) -> set[str]:
    response = target.request("GET", f"{API}/{kind}?all_tenants=1&limit=1000",
                              headers=LATEST)
    assert response.status_code == 200, response.text
    return {item["id"] for item in response.json()[kind]}


def _usage(target: Cloud, project: str) -> dict[str, int]:
    response = target.request("GET", f"{API}/os-quota-sets/{project}?usage=true")
    assert response.status_code == 200, response.text
    return {name: value["in_use"] for name, value in response.json()["quota_set"].items()
            if isinstance(value, dict)}


def state(target: Cloud) -> dict[str, Any]:
    """Every volume, snapshot, backup and attachment of every project, and the usage of the
    admin's and the member's projects."""
    found: dict[str, Any] = {kind: _listed(target, kind) for kind in KINDS}
    for who, project in target.projects.items():
        found[f"usage:{who}"] = _usage(target, project)
    return found


def assert_nothing_made(before: dict[str, Any], after: dict[str, Any], response) -> None:
    """A refused request made nothing: no new resource listed, no quota usage grown
    (earlier examples' deletions may still be shrinking them)."""
    for kind in KINDS:
        assert after[kind] <= before[kind], (
            f"a refused {response.request.method} {response.request.url.path} "
            f"({response.status_code}) left {kind} behind: {after[kind] - before[kind]}")
    for key, used in after.items():
        if key.startswith("usage:"):
            grown = {k: (before[key].get(k, 0), v) for k, v in used.items()
                     if v > before[key].get(k, 0)}
            assert not grown, (f"a refused {response.request.method} "
                               f"{response.request.url.path} ({response.status_code}) grew "
                               f"{key}: {grown}")


def _show(target: Cloud, kind: str, rid: str) -> dict | None:
    response = target.request("GET", f"{API}/{kind}/{rid}", headers=LATEST)
    if response.status_code == 404:
        return None
    assert response.status_code == 200, response.text
    return next(iter(response.json().values()))


def _settled(target: Cloud, kind: str, rid: str) -> dict | None:
    """The resource once no work is under way on it (None: gone)."""
    def done():
        item = _show(target, kind, rid)
        return ("gone", None) if item is None else (
            None if item.get("status") in BUSY else ("here", item))
    return wait_until(done, timeout=90, interval=0.1,
                      message=f"{kind} {rid} stayed busy")[1]


def settle(target: Cloud, before: dict[str, Any]) -> None:
    """Delete what was made since ``before`` (attachments, backups, snapshots, volumes), and
    wait until what could be deleted is gone."""
    after = {kind: _listed(target, kind) for kind in KINDS}
    for attachment_id in after["attachments"] - before["attachments"]:
        target.request("DELETE", f"{API}/attachments/{attachment_id}", headers=LATEST)
    going: list[tuple[str, str]] = []
    for kind in ("backups", "snapshots", "volumes"):
        for rid in after[kind] - before[kind]:
            item = _settled(target, kind, rid)
            if item is None:
                continue
            path = f"{API}/{kind}/{rid}" + ("?cascade=true" if kind == "volumes" else "")
            response = target.request("DELETE", path, headers=LATEST)
            if response.status_code >= 400 and item["status"].startswith("error"):
                target.request("POST", f"{API}/{kind}/{rid}/action",
                               json={"os-reset_status": {"status": "available"}})
                response = target.request("DELETE", path, headers=LATEST)
            if response.status_code < 400:
                going.append((kind, rid))
    for kind, rid in going:
        wait_until(lambda k=kind, r=rid: _show(target, k, r) is None, timeout=90,
                   interval=0.1, message=f"{kind} {rid} was not deleted")


def assert_no_leak(target: Cloud, response, secrets: set[str]) -> None:
    """An answer to a member names none of ``secrets`` (the admin's ids) it did not ask
    about."""
    asked = str(response.request.url) + response.request.content.decode("utf-8", "replace")
    leaked = [rid for rid in secrets if rid in response.text and rid not in asked]
    assert not leaked, f"the member was shown the admin's {leaked}: {response.text[:300]}"


# -- the resources examples act on ----------------------------------------------------------

class Resources:
    """One available volume, snapshot and backup per project (made again when an example
    deleted or broke them), and the admin's ids a member must never see."""

    def __init__(self, target: Cloud) -> None:
        self.target = target
        self.made: dict[tuple[str, str], str] = {}
        self.admin_ids: set[str] = set()

    def _make(self, who: str, kind: str, body: dict) -> str:
        response = self.target.request("POST", f"{API}/{kind}", json=body, token=who,
                                        headers=LATEST)
        assert response.status_code in (200, 202), response.text
        rid = next(iter(response.json().values()))["id"]
        item = _settled(self.target, kind, rid)
        assert item is not None and item["status"] == "available", item
        if who == "admin":
            self.admin_ids.add(rid)
        return rid

    def _usable(self, who: str, kind: str) -> str | None:
        rid = self.made.get((who, kind))
        item = _show(self.target, kind, rid) if rid else None
        if item is None or item["status"] != "available" or item.get("attachments"):
            return None
        return rid

    def volume(self, who: str) -> str:
        rid = self._usable(who, "volumes")
        if rid is None:
            rid = self.made[(who, "volumes")] = self._make(
                who, "volumes", {"volume": {"size": 1, "name": f"fuzz-{who}"}})
        return rid

    def snapshot(self, who: str) -> str:
        rid = self._usable(who, "snapshots")
        if rid is None:
            rid = self.made[(who, "snapshots")] = self._make(
                who, "snapshots", {"snapshot": {"volume_id": self.volume(who),
                                                "name": f"fuzz-{who}"}})
        return rid

    def backup(self, who: str) -> str:
        rid = self._usable(who, "backups")
        if rid is None:
            rid = self.made[(who, "backups")] = self._make(
                who, "backups", {"backup": {"volume_id": self.volume(who),
                                            "name": f"fuzz-{who}"}})
        return rid

    def view(self, kind: str, rid: str) -> dict | None:
        """What a member's request must not change of the admin's resource."""
        item = _show(self.target, kind, rid)
        if item is None:
            return None
        return {k: v for k, v in item.items() if k not in ("updated_at", "links")}


@pytest.fixture(scope="module")
def res(target):
    roomy(target)
    resources = Resources(target)
    for who in ("admin", "member"):
        resources.snapshot(who)
        resources.backup(who)
    return resources


@pytest.fixture(scope="module")
def image_id(target):
    images = target.request("GET", "/image/v2/images?name=cirros").json()["images"]
    return images[0]["id"]


# Valid names and metadata (``s.shaped`` breaks one or two fields with hostile values).
NAME = st.text(st.characters(blacklist_categories=("Cs",)), max_size=30)
META = st.dictionaries(st.text(st.characters(blacklist_categories=("Cs",)), min_size=1,
                               max_size=20), NAME, max_size=3)

IDS = ("member-volume", "admin-volume", "member-snapshot", "admin-snapshot",
       "member-backup", "admin-backup", "random", "hostile")
# What a snapshot, backup or attachment is made of: mostly the member's own volume.
SOURCES = ("member-volume",) * 4 + IDS


def body_of(data: st.DataObject, resource: str, fields: dict[str, Any], *,
            required: tuple[str, ...] = ()) -> Any:
    """Half the time a well-formed body (``required`` fields and some of the others, all
    valid), so that requests get past the checks; else ``s.shaped``'s hostile one."""
    if data.draw(st.booleans(), label=f"well-formed {resource}"):
        valid = {k: v for k, v in fields.items() if k not in required}
        return {resource: data.draw(st.fixed_dictionaries(
            {k: fields[k] for k in required}, optional=valid), label=resource)}
    return data.draw(s.shaped(resource, fields, required=required), label=resource)


def an_id(res: Resources, name: str, data: st.DataObject) -> Any:
    """The id ``name`` stands for (made on demand), a random UUID, or any JSON value."""
    if name == "random":
        return str(uuid.uuid4())
    if name == "hostile":
        return data.draw(s.JSON, label="hostile id")
    who, kind = name.split("-")
    return getattr(res, kind)(who)


def protect(res: Resources, token: str, names: tuple[str, ...]):
    """Before/after views of the admin's resources among ``names`` when a member acts."""
    if token == "admin":
        return []
    watched = []
    for name in names:
        if name.startswith("admin-"):
            kind = name.split("-")[1] + "s"
            rid = getattr(res, kind[:-1])("admin")
            watched.append((kind, rid, res.view(kind, rid)))
    return watched


def assert_protected(res: Resources, watched) -> None:
    for kind, rid, seen in watched:
        assert res.view(kind, rid) == seen, f"a member's request changed the admin's {kind} {rid}"


# -- volumes --------------------------------------------------------------------------------

VOLUME_FIELDS = {
    "size": s.ints(1, 2), "name": NAME, "description": NAME, "display_name": NAME,
    "metadata": META, "volume_type": st.just("__DEFAULT__"),
    "availability_zone": st.just("nova"), "multiattach": st.just(False),
    "scheduler_hints": s.JSON,
}
# Fields Cinder takes that this cloud refuses (400): now and then, one of them.
UNSUPPORTED = {"backup_id": s.UUIDS, "consistencygroup_id": s.UUIDS, "group_id": s.UUIDS}


@slow(50)
@given(data=st.data(), token=TOKENS,
       source=st.sampled_from(["none", "none", "none", "snapshot_id", "source_volid",
                               "imageRef"]),
       source_id=st.sampled_from(("member-volume", "member-snapshot") * 2 + IDS),
       project_path=st.booleans(), microversion=MICROVERSIONS)
def test_volume_create(target, res, image_id, data, token, source, source_id, project_path,
                       microversion):
    body = body_of(data, "volume", {**VOLUME_FIELDS, "size": st.integers(1, 2)},
                   required=("size",))
    if isinstance(body, dict) and isinstance(body.get("volume"), dict):
        body["volume"].update(data.draw(st.one_of(*[st.just({})] * 9, st.fixed_dictionaries(
            {}, optional=UNSUPPORTED)), label="unsupported"))
    if isinstance(body, dict) and isinstance(body.get("volume"), dict) and source != "none":
        body["volume"][source] = (image_id if source == "imageRef" and source_id == "random"
                                  else an_id(res, source_id, data))
    watched = protect(res, token, (source_id,))
    prefix = f"{API}/{target.projects.get(token, 'x')}" if project_path else API
    before = state(target)
    response = target.request("POST", f"{prefix}/volumes", json=body, token=token,
                              headers=_headers(microversion))
    observed(target, response)
    after = state(target)
    if response.status_code >= 400:
        assert_nothing_made(before, after, response)
    if token == "member":
        assert_no_leak(target, response, res.admin_ids)
    assert_protected(res, watched)
    settle(target, before)


ACTIONS = {
    "os-extend": st.fixed_dictionaries({"new_size": s.ints(1, 3)}),
    "os-set_bootable": st.fixed_dictionaries({"bootable": s.hostile(st.booleans())}),
    "os-update_readonly_flag": st.fixed_dictionaries({"readonly": s.hostile(st.booleans())}),
    "os-reset_status": st.fixed_dictionaries({}, optional={
        "status": st.sampled_from(["available", "error", "in-use", "bogus"]),
        "attach_status": st.sampled_from(["detached", "attached", "bogus"])}),
    "os-force_delete": st.none(),
    "os-set_image_metadata": st.fixed_dictionaries({"metadata": META}),
    "os-unset_image_metadata": st.fixed_dictionaries({"key": s.TEXT}),
    "os-show_image_metadata": st.none(),
    "os-attach": s.JSON, "os-detach": s.JSON, "os-retype": s.JSON,
    "os-volume_upload_image": s.JSON, "os-migrate_volume": s.JSON,
}
VOLUME_ROUTES = [("PUT", ""), ("DELETE", ""), ("GET", ""), ("GET", "/metadata"),
                 ("POST", "/metadata"), ("PUT", "/metadata"), ("GET", "/metadata/{key}"),
                 ("PUT", "/metadata/{key}"), ("DELETE", "/metadata/{key}"),
                 ("POST", "/action"), ("POST", "/action"), ("POST", "/action")]


@slow(80)
@given(data=st.data(), route=st.sampled_from(VOLUME_ROUTES),
       owner=st.sampled_from(["member", "member", "admin"]),
       token=st.sampled_from(["admin", "member", "member", "unscoped", "garbage"]),
       key=st.one_of(st.just("a"), s.PATH_SEGMENTS), query=s.query(["cascade", "force"]),
       microversion=MICROVERSIONS)
def test_volume_routes(target, res, data, route, owner, token, key, query, microversion):
    method, suffix = route
    volume_id = res.volume(owner)
    if suffix == "/action":
        action = data.draw(st.sampled_from(sorted(ACTIONS)), label="action")
        args = data.draw(s.hostile(ACTIONS[action]), label="args")
        body = data.draw(st.one_of(st.just({action: args}), st.just({action: args}), s.JSON),
                         label="body")
    elif suffix.startswith("/metadata"):
        meta = st.one_of(META, st.dictionaries(s.TEXT, s.TEXT, max_size=4))
        body = data.draw(st.one_of(st.builds(lambda m: {"metadata": m}, meta),
                                   st.just({"meta": {key: "v"}}), s.JSON), label="body")
    else:
        body = data.draw(s.shaped("volume", {"name": NAME, "description": NAME,
                                             "metadata": META}),
                         label="body")
    watched = protect(res, token, (f"{owner}-volume",))
    before = state(target)
    path = f"{API}/volumes/{volume_id}{suffix.format(key=key)}"
    response = target.request(method, f"{path}?{query}", json=body, token=token,
                              headers=_headers(microversion))
    label = next(iter(body)) if suffix == "/action" and isinstance(body, dict) and body else ""
    observed(target, response, f"{method} {suffix} {label}")
    after = state(target)
    if response.status_code >= 400:
        assert_nothing_made(before, after, response)
    if token == "member":
        assert_no_leak(target, response, res.admin_ids)
    assert_protected(res, watched)
    settle(target, before)


# -- snapshots and backups ------------------------------------------------------------------

@slow(50)
@given(data=st.data(), volume=st.sampled_from(SOURCES),
       token=st.sampled_from(["admin", "member", "member", "unscoped"]),
       route=st.sampled_from(["create", "create", "update", "delete", "metadata", "action"]),
       snapshot=st.sampled_from(["member-snapshot", "member-snapshot", "admin-snapshot"]),
       microversion=MICROVERSIONS)
def test_snapshots(target, res, data, volume, token, route, snapshot, microversion):
    headers = _headers(microversion)
    if route == "create":
        body = body_of(data, "snapshot", {
            "volume_id": st.just(an_id(res, volume, data)), "name": NAME,
            "description": NAME, "force": st.booleans(), "metadata": META},
            required=("volume_id",))
        method, path, names = "POST", f"{API}/snapshots", (volume,)
    else:
        snapshot_id = an_id(res, snapshot, data)
        names = (snapshot,)
        method, suffix, fields = {
            "update": ("PUT", "", {"name": NAME, "description": NAME}),
            "delete": ("DELETE", "", {}),
            "metadata": (data.draw(st.sampled_from(["POST", "PUT", "GET"]), label="method"),
                         "/metadata", {"a": NAME, "b": NAME}),
            "action": ("POST", "/action", {}),
        }[route]
        path = f"{API}/snapshots/{snapshot_id}{suffix}"
        if route == "action":
            body = data.draw(st.one_of(st.fixed_dictionaries({"os-reset_status": s.hostile(
                st.fixed_dictionaries({"status": st.sampled_from(["available", "error",
                                                                  "bogus"])}))}),
                st.just({"os-force_delete": {}}), s.JSON), label="body")
        else:
            body = data.draw(s.shaped("metadata" if route == "metadata" else "snapshot",
                                      fields), label="body")
    watched = protect(res, token, names)
    before = state(target)
    response = target.request(method, path, json=body, token=token, headers=headers)
    observed(target, response)
    after = state(target)
    if response.status_code >= 400:
        assert_nothing_made(before, after, response)
    if token == "member":
        assert_no_leak(target, response, res.admin_ids)
    assert_protected(res, watched)
    settle(target, before)


@slow(30)
@given(data=st.data(), volume=st.sampled_from(SOURCES),
       token=st.sampled_from(["admin", "member", "member", "unscoped"]),
       route=st.sampled_from(["create", "create", "restore", "restore", "update", "delete",
                              "action"]),
       backup=st.sampled_from(["member-backup", "member-backup", "admin-backup"]),
       microversion=MICROVERSIONS)
def test_backups(target, res, data, volume, token, route, backup, microversion):
    headers = _headers(microversion)
    if route == "create":
        body = body_of(data, "backup", {
            "volume_id": st.just(an_id(res, volume, data)), "name": NAME,
            "description": NAME, "container": st.sampled_from(["fuzz-backups", "volumebackups"]),
            "incremental": st.booleans(), "force": st.booleans(),
            "snapshot_id": st.sampled_from([None, None, "x"]),
            "availability_zone": st.just("nova"), "metadata": META},
            required=("volume_id",))
        method, path, names = "POST", f"{API}/backups", (volume,)
    else:
        backup_id = an_id(res, backup, data)
        names = (backup, volume) if route == "restore" else (backup,)
        if route == "restore":
            body = data.draw(s.shaped("restore", {
                "volume_id": st.just(an_id(res, volume, data)), "name": NAME}), label="body")
            method, path = "POST", f"{API}/backups/{backup_id}/restore"
        elif route == "action":
            body = data.draw(st.one_of(st.fixed_dictionaries({"os-reset_status": s.hostile(
                st.fixed_dictionaries({"status": st.sampled_from(["available", "error"])}))}),
                st.just({"os-force_delete": {}}), s.JSON), label="body")
            method, path = "POST", f"{API}/backups/{backup_id}/action"
        else:
            body = data.draw(s.shaped("backup", {"name": NAME, "description": NAME,
                                                 "metadata": META}),
                             label="body")
            method, path = ("PUT" if route == "update" else "DELETE",
                            f"{API}/backups/{backup_id}")
    watched = protect(res, token, names)
    before = state(target)
    response = target.request(method, path, json=body, token=token, headers=headers)
    observed(target, response)
    after = state(target)
    if response.status_code >= 400:
        assert_nothing_made(before, after, response)
    if token == "member":
        assert_no_leak(target, response, res.admin_ids)
    # a restore runs on after the answer: let it finish before comparing
    for kind, rid, _ in watched:
        _settled(target, kind, rid)
    assert_protected(res, watched)
    settle(target, before)


# -- attachments (3.27+) --------------------------------------------------------------------

CONNECTOR = st.fixed_dictionaries({}, optional={
    "host": s.hostile(st.just("fuzz-host")), "mountpoint": s.hostile(st.just("/dev/vdb")),
    "instance_id": s.UUIDS, "initiator": s.TEXT, "platform": s.TEXT})


@slow(50)
@given(data=st.data(), volume=st.sampled_from(SOURCES),
       token=st.sampled_from(["admin", "member", "member", "unscoped"]),
       then=st.sampled_from(["nothing", "update", "complete", "delete", "show"]),
       microversion=st.one_of(st.sampled_from(["volume 3.27", "volume 3.44", "volume 3.54",
                                               "volume 3.67"]), MICROVERSIONS))
def test_attachments(target, res, data, volume, token, then, microversion):
    headers = _headers(microversion)
    fields = {"volume_uuid": st.just(an_id(res, volume, data)),
              "instance_uuid": st.one_of(st.none(), s.UUIDS, s.TEXT),
              "connector": st.one_of(st.none(), CONNECTOR, s.JSON),
              "mode": st.sampled_from(["rw", "ro", "null", "wx"])}
    if data.draw(st.booleans(), label="well formed"):  # so that some get past the checks
        headers = {"OpenStack-API-Version": "volume 3.54"}
        body = {"attachment": data.draw(st.fixed_dictionaries(
            {"volume_uuid": fields["volume_uuid"]}, optional={
                "instance_uuid": s.UUIDS, "mode": st.sampled_from(["rw", "ro"]),
                "connector": st.fixed_dictionaries({"host": st.just("fuzz-host")}, optional={
                    "mountpoint": st.just("/dev/vdb")})}), label="body")}
    else:
        body = data.draw(s.shaped("attachment", fields, required=("volume_uuid",)),
                         label="body")
    watched = protect(res, token, (volume,))
    before = state(target)
    response = target.request("POST", f"{API}/attachments", json=body, token=token,
                              headers=headers)
    observed(target, response)
    responses = [response]
    if response.status_code == 200 and then != "nothing":
        attachment_id = response.json()["attachment"]["id"]
        method, suffix, follow = {
            "update": ("PUT", "", {"attachment": {"connector": data.draw(
                s.hostile(CONNECTOR), label="connector")}}),
            "complete": ("POST", "/action", data.draw(s.hostile(st.just(
                {"os-complete": None})), label="complete")),
            "delete": ("DELETE", "", None), "show": ("GET", "", None)}[then]
        responses.append(target.request(method, f"{API}/attachments/{attachment_id}{suffix}",
                                        json=follow, token=token, headers=headers))
        check(target, responses[-1])
    after = state(target)
    if response.status_code >= 400:
        assert_nothing_made(before, after, response)
    if token == "member":
        for answer in responses:
            assert_no_leak(target, answer, res.admin_ids)
    assert_protected(res, watched)
    _release_attachments(target, before)
    settle(target, before)


def _release_attachments(target: Cloud, before: dict[str, Any]) -> None:
    """Delete the attachments an example made; one with a connector and an instance only Nova
    may delete (409 for users, admins too), so an admin frees its volume as Cinder's admins
    do (``os-reset_status`` to ``detached`` drops its attachments)."""
    for attachment_id in _listed(target, "attachments") - before["attachments"]:
        path = f"{API}/attachments/{attachment_id}"
        shown = target.request("GET", path, headers=LATEST)
        response = target.request("DELETE", path, headers=LATEST)
        assert response.status_code in (200, 404, 409), response.text
        if response.status_code == 409:
            volume_id = shown.json()["attachment"]["volume_id"]
            reset = target.request("POST", f"{API}/volumes/{volume_id}/action", json={
                "os-reset_status": {"status": "available", "attach_status": "detached"}})
            assert reset.status_code == 202, reset.text
            assert target.request("GET", path, headers=LATEST).status_code == 404


# -- types and quotas -----------------------------------------------------------------------

@slow(40)
@given(body=s.shaped("volume_type", {
    "name": st.text(min_size=1, max_size=20), "description": NAME,
    "os-volume-type-access:is_public": st.booleans(), "is_public": s.hostile(st.booleans()),
    "extra_specs": META}, required=("name",)),
    then=st.sampled_from(["update", "specs", "spec", "delete"]),
    then_body=s.JSON, token=st.sampled_from(["admin", "admin", "member", "unscoped"]),
    microversion=MICROVERSIONS)
def test_types(target, body, then, then_body, token, microversion):
    headers = _headers(microversion)
    listed = lambda: {t["id"] for t in target.request(  # noqa: E731
        "GET", f"{API}/types?is_public=none").json()["volume_types"]}
    before = listed()
    response = target.request("POST", f"{API}/types", json=body, token=token, headers=headers)
    observed(target, response)
    made = listed() - before
    if response.status_code >= 400:
        assert not made, f"a refused type create left {made}"
    if token != "admin":
        assert response.status_code >= 400, response.text
    for type_id in made:
        method, suffix = {"update": ("PUT", ""), "specs": ("POST", "/extra_specs"),
                          "spec": ("PUT", "/extra_specs/a"), "delete": ("DELETE", "")}[then]
        check(target, target.request(method, f"{API}/types/{type_id}{suffix}",
                                     json=then_body, token=token, headers=headers))
        check(target, target.request("GET", f"{API}/types/{type_id}/extra_specs",
                                     token=token, headers=headers))
        target.request("DELETE", f"{API}/types/{type_id}")
    assert listed() == before


QUOTAS = ["volumes", "snapshots", "gigabytes", "backups", "backup_gigabytes",
          "per_volume_gigabytes", "groups", "volumes___DEFAULT__", "gigabytes___DEFAULT__",
          "snapshots___DEFAULT__", "bogus"]


@slow(40)
@given(body=s.shaped("quota_set", {name: s.ints(-1, 300) for name in QUOTAS}),
       project=st.one_of(st.sampled_from(["member", "member", "admin", "bogus"]), s.UUIDS),
       suffix=st.sampled_from(["", "/defaults", "?usage=true", "?usage=bogus"]),
       method=st.sampled_from(["PUT", "PUT", "DELETE", "GET"]),
       token=st.sampled_from(["admin", "member", "member", "unscoped", "none"]),
       microversion=MICROVERSIONS)
def test_quota_sets(target, res, body, project, suffix, method, token, microversion):
    project_id = target.projects.get(project, project)
    path = f"{API}/os-quota-sets/{project_id}"
    headers = _headers(microversion)
    before = {p: target.request("GET", f"{API}/os-quota-sets/{p}").json()
              for p in target.projects.values()}
    response = target.request(method, path, json=body, token=token, headers=headers)
    observed(target, response)
    if token != "admin" and method != "GET":
        assert response.status_code >= 400, response.text
        assert {p: target.request("GET", f"{API}/os-quota-sets/{p}").json()
                for p in target.projects.values()} == before
    answer = target.request("GET", f"{path}{suffix}", token=token, headers=headers)
    check(target, answer)
    if token == "member" and project_id != target.projects["member"]:
        assert answer.status_code >= 400, answer.text
    check(target, target.request("GET", f"{API}/limits", token=token, headers=headers))
    roomy(target)  # room again for the other examples


def roomy(target: Cloud) -> None:
    """Every project's quotas back to ``ROOMY`` (per-type limits dropped)."""
    for project in target.projects.values():
        assert target.request("DELETE", f"{API}/os-quota-sets/{project}").status_code == 200
        response = target.request("PUT", f"{API}/os-quota-sets/{project}",
                                  json={"quota_set": ROOMY})
        assert response.status_code == 200, response.text


# -- lists, and random paths ----------------------------------------------------------------

LISTS = ["/volumes", "/volumes/detail", "/snapshots", "/snapshots/detail", "/backups",
         "/backups/detail", "/attachments", "/attachments/detail", "/types", "/types/default",
         "/limits", "/extensions", "/os-availability-zone", "/os-services",
         "/scheduler-stats/get_pools", "/os-quota-sets/{member}", "/os-quota-sets/{admin}",
         "/os-quota-sets/{member}/defaults", ""]
LIST_QUERY = ["limit", "marker", "sort", "sort_key", "sort_dir", "offset", "with_count",
              "all_tenants", "name", "name~", "status", "bootable", "metadata", "project_id",
              "size", "id", "volume_id", "instance_id", "availability_zone", "is_public",
              "detail", "usage", "host", "binary", "container"]


@slow(150)
@given(data=st.data(), path=st.sampled_from(LISTS), query=s.query(LIST_QUERY),
       project=st.sampled_from(["", "", "member", "admin", "bogus"]),
       token=st.sampled_from(["admin", "member", "member", "unscoped", "garbage", "none",
                              "non-ascii"]),
       microversion=MICROVERSIONS)
def test_list_queries(target, res, data, path, query, project, token, microversion):
    marker = data.draw(st.sampled_from(sorted(res.admin_ids | {
        res.volume("member"), res.snapshot("member"), res.backup("member")})), label="marker")
    query = data.draw(st.sampled_from([query, f"{query}&marker={marker}",
                                       f"{query}&all_tenants=1&project_id="
                                       f"{target.projects['admin']}"]), label="query")
    prefix = API + (f"/{target.projects.get(project, project)}" if project else "")
    response = target.request("GET", f"{prefix}{path.format(**target.projects)}?{query}",
                              token=token, headers=_headers(microversion))
    observed(target, response)
    if token == "member":
        assert_no_leak(target, response, res.admin_ids)


ROOTS = ["/volume", "/volume/v3", "/volume/v3/{member}", "/volume/v3/{admin}",
         "/volume/v3/{member}/volumes", "/volume/v3/volumes/{volume}",
         "/volume/v3/snapshots/{snapshot}", "/volume/v3/backups/{backup}"]


@slow(100)
@given(root=st.sampled_from(ROOTS), segments=st.lists(s.PATH_SEGMENTS, max_size=3),
       method=s.METHODS, token=s.TOKENS, body=st.none() | s.JSON,
       query=s.query(["limit", "marker", "all_tenants", "sort", "cascade", "force"]))
def test_random_paths_and_methods(target, res, root, segments, method, token, body, query):
    path = root.format(**target.projects, volume=res.volume("member"),
                       snapshot=res.snapshot("member"), backup=res.backup("member"))
    path = "/".join([path.rstrip("/"), *segments]) if segments else path
    before = state(target)
    content = None if body is None else json.dumps(body).encode()
    response = target.request(method, f"{path}?{query}" if query else path, token=token,
                              content=content,
                              headers={"Content-Type": "application/json"} if content else {})
    observed(target, response)
    if response.status_code >= 400:
        assert_nothing_made(before, state(target), response)
    if token == "member":
        assert_no_leak(target, response, res.admin_ids)
    settle(target, before)


# -- Nova: a server's volumes and booting from volumes --------------------------------------

def _server(target: Cloud, who: str, image_id: str) -> str:
    body = {"server": {"name": f"fuzz-volumes-{who}", "imageRef": image_id, "flavorRef": "1",
                       "networks": "none"}}
    response = target.request("POST", f"{NOVA}/servers", json=body, token=who,
                              headers={"OpenStack-API-Version": "compute 2.37"})
    assert response.status_code == 202, response.text
    sid = response.json()["server"]["id"]
    wait_until(lambda: target.request("GET", f"{NOVA}/servers/{sid}", token=who).json()
               ["server"]["status"] == "ACTIVE", timeout=60)
    return sid


@pytest.fixture(scope="module")
def servers(target, image_id):
    made = {who: _server(target, who, image_id) for who in ("admin", "member")}
    yield made
    for who, sid in made.items():
        target.request("DELETE", f"{NOVA}/servers/{sid}", token=who)


def _attached(target: Cloud, server_id: str) -> list[str]:
    response = target.request("GET", f"{NOVA}/servers/{server_id}/os-volume_attachments")
    assert response.status_code == 200, response.text
    return sorted(a["volumeId"] for a in response.json()["volumeAttachments"])


def _detach_all(target: Cloud, server_id: str, keep: list[str]) -> None:
    """Detach what an example attached, and wait until the volumes are free again."""
    for volume_id in set(_attached(target, server_id)) - set(keep):
        wait_until(lambda v=volume_id: _show(target, "volumes", v)["status"] != "attaching",
                   timeout=60, message=f"volume {volume_id} stayed attaching")
        target.request("DELETE", f"{NOVA}/servers/{server_id}/os-volume_attachments/"
                                 f"{volume_id}")
        wait_until(lambda v=volume_id: v not in _attached(target, server_id), timeout=60,
                   interval=0.1, message=f"volume {volume_id} was never detached")
        wait_until(lambda v=volume_id: (_show(target, "volumes", v) or {}).get("status")
                   in (None, "available"), timeout=60, interval=0.1,
                   message=f"volume {volume_id} was never freed")


NOVA_MICROVERSIONS = st.one_of(st.none(), s.HEADER_VALUES, st.sampled_from(
    ["compute 2.1", "compute 2.49", "compute 2.70", "compute 2.79", "compute latest"]))


@slow(50)
@given(data=st.data(), volume=st.sampled_from(["member-volume", "member-volume",
                                               "admin-volume", "random", "hostile"]),
       server=st.sampled_from(["member", "member", "admin", "random"]),
       method=st.sampled_from(["POST", "POST", "GET", "PUT", "DELETE"]),
       token=st.sampled_from(["admin", "member", "member", "unscoped"]),
       microversion=NOVA_MICROVERSIONS)
def test_server_volume_attachments(target, res, servers, data, volume, server, method, token,
                                   microversion):
    server_id = servers.get(server) or str(uuid.uuid4())
    volume_id = an_id(res, volume, data)
    if data.draw(st.booleans(), label="well formed"):  # so that some get past the checks
        microversion = "compute 2.79"
        body = {"volumeAttachment": data.draw(st.fixed_dictionaries(
            {"volumeId": st.just(volume_id)}, optional={
                "device": st.sampled_from(["/dev/vdc", "/dev/vdd"]),
                "tag": st.sampled_from(["data", "t-1"]),
                "delete_on_termination": st.just(False)}), label="body")}
    else:
        body = data.draw(s.shaped("volumeAttachment", {
            "volumeId": st.just(volume_id), "device": st.one_of(
                st.none(), st.sampled_from(["/dev/vdb", "/dev/vda", "vdc", "/dev/sdz1",
                                            "/etc"]), s.TEXT),
            "tag": s.TEXT, "delete_on_termination": s.hostile(st.booleans())},
            required=("volumeId",)), label="body")
    path = f"{NOVA}/servers/{server_id}/os-volume_attachments"
    if method != "POST":
        path = f"{path}/{volume_id if isinstance(volume_id, str) else 'x'}"
    kept = {who: _attached(target, sid) for who, sid in servers.items()}
    watched = protect(res, token, (volume,))
    before = state(target)
    response = target.request(method, path, json=body, token=token,
                              headers=_headers(microversion))
    observed(target, response)
    if response.status_code >= 400:
        assert_nothing_made(before, state(target), response)
        assert {who: _attached(target, sid) for who, sid in servers.items()} == kept
    if token == "member" and server == "admin":
        assert response.status_code >= 400, "a member reached the admin's server"
    assert_protected(res, watched)
    for who, sid in servers.items():
        _detach_all(target, sid, kept[who])
    settle(target, before)


BDM = st.fixed_dictionaries({}, optional={
    "source_type": s.hostile(st.sampled_from(["volume", "image", "blank", "snapshot"])),
    "destination_type": s.hostile(st.sampled_from(["volume", "local"])),
    "boot_index": s.hostile(st.sampled_from([0, 1, -1, None, "0"])),
    "volume_size": s.ints(1, 2), "delete_on_termination": s.hostile(st.booleans()),
    "device_name": st.sampled_from(["/dev/vda", "/dev/vdb", "vdc", "/etc/passwd"]),
    "tag": s.TEXT, "no_device": st.booleans(), "guest_format": s.TEXT,
    "volume_type": s.TEXT, "disk_bus": s.TEXT})


@slow(50)
@given(data=st.data(), token=st.sampled_from(["admin", "member", "member", "unscoped"]),
       with_image=st.booleans(), legacy=st.booleans(), microversion=NOVA_MICROVERSIONS)
def test_boot_from_volume(target, res, image_id, data, token, with_image, legacy,
                          microversion):
    watched = []
    template = data.draw(st.sampled_from(["fuzzed", "fuzzed", "blank", "image", "volume"]),
                         label="template")
    if template == "fuzzed":
        items = data.draw(st.lists(BDM, min_size=1, max_size=3), label="items")
        for item in items:
            name = data.draw(st.sampled_from(["member-volume", "admin-volume", "random",
                                              "image", "hostile"]), label="uuid")
            item["uuid"] = image_id if name == "image" else an_id(res, name, data)
            watched += protect(res, token, (name,))
    else:  # well formed, so that some boots get past the checks
        delete = data.draw(st.booleans(), label="delete_on_termination")
        with_image = template != "image"
        items = [{"source_type": template, "destination_type": "volume",
                  "delete_on_termination": delete,
                  **({"volume_size": 1} if template != "volume" else {}),
                  **({"uuid": image_id, "boot_index": 0} if template == "image" else {}),
                  **({"uuid": res.volume("member" if token != "admin" else "admin")}
                     if template == "volume" else {})}]
    server: dict[str, Any] = {"name": "fuzz-bfv", "flavorRef": "1", "networks": "none"}
    if with_image:
        server["imageRef"] = image_id
    if legacy:
        server["block_device_mapping"] = [
            {"volume_id": i.get("uuid"), **{k: v for k, v in i.items() if k in (
                "device_name", "delete_on_termination", "volume_size")}} for i in items]
    else:
        server["block_device_mapping_v2"] = items
    body = data.draw(st.one_of(st.just({"server": server}), st.just({"server": server}),
                               s.JSON), label="body")
    lister = token if token in ("admin", "member") else "admin"
    servers_before = {s_["id"] for s_ in target.request(
        "GET", f"{NOVA}/servers", token=lister).json()["servers"]}
    before = state(target)
    response = target.request("POST", f"{NOVA}/servers", json=body, token=token,
                              headers=_headers(microversion))
    observed(target, response)
    servers_after = {s_["id"] for s_ in target.request(
        "GET", f"{NOVA}/servers", token=lister).json()["servers"]}
    if response.status_code >= 400:
        assert servers_after <= servers_before, "a refused boot left a server behind"
        assert_nothing_made(before, state(target), response)
    for sid in servers_after - servers_before:
        wait_until(lambda i=sid: target.request("GET", f"{NOVA}/servers/{i}", token=lister)
                   .json()["server"]["status"] in ("ACTIVE", "ERROR"), timeout=90,
                   message=f"server {sid} never finished its build")
        target.request("DELETE", f"{NOVA}/servers/{sid}", token=lister)
        wait_until(lambda i=sid: target.request("GET", f"{NOVA}/servers/{i}", token=lister)
                   .status_code == 404, timeout=90, message=f"server {sid} was not deleted")
    # A deleted server frees the volumes its build made (by a durable cast, once it is gone).
    for volume_id in _listed(target, "volumes") - before["volumes"]:
        wait_until(lambda v=volume_id: (_show(target, "volumes", v) or {}).get("status")
                   not in ("reserved", "attaching", "in-use", "detaching"), timeout=60,
                   interval=0.1, message=f"volume {volume_id} stayed attached to no server")
    assert_protected(res, watched)
    settle(target, before)
