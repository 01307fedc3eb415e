"""Object storage (the Swift API of the object proxy): accounts, containers and objects with
hostile names, headers (policies, metadata, ranges, expiry, copies, manifests) and queries."""
from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz import strategies as s
from tests.fuzz.invariants import check
from tests.fuzz.target import examples

HEADER_NAMES = [
    "X-Storage-Policy", "X-Object-Meta-Color", "X-Container-Meta-Color",
    "X-Account-Meta-Color", "X-Remove-Container-Meta-Color", "Range", "X-Delete-At",
    "X-Delete-After", "X-Copy-From", "X-Copy-From-Account", "Destination",
    "Destination-Account", "If-Match", "If-None-Match", "If-Modified-Since",
    "If-Unmodified-Since", "X-Object-Manifest", "Content-Type", "Etag", "X-Container-Read",
    "X-Container-Write", "X-Versions-Location", "X-History-Location", "X-Detect-Content-Type",
    "X-Fresh-Metadata", "X-Static-Large-Object", "X-Newest", "X-Timestamp",
    "X-Container-Meta-Quota-Bytes", "X-Container-Sync-To", "Content-Disposition",
    "Content-Encoding", "X-Object-Meta-" + "m" * 200, "X-Backend-Storage-Policy-Index",
]
POLICY_VALUES = s.HEADER_VALUES   # an unknown X-Storage-Policy once went through unchecked
HEADERS = st.dictionaries(st.sampled_from(HEADER_NAMES), s.HEADER_VALUES, max_size=4).flatmap(
    lambda h: st.builds(lambda p: {**h, **p}, st.fixed_dictionaries(
        {}, optional={"X-Storage-Policy": POLICY_VALUES})) if "X-Storage-Policy" in h
    else st.just(h))
NAMES = st.one_of(st.sampled_from(["fuzz", "fuzz/a", "fuzz-obj", "a" * 1100, "%2F"]),
                  s.PATH_SEGMENTS)
QUERY = s.query(["format", "limit", "marker", "end_marker", "prefix", "delimiter", "path",
                 "reverse", "multipart-manifest", "symlink", "bulk-delete", "extract-archive",
                 "temp_url_sig", "temp_url_expires"])
BODIES = st.one_of(st.none(), st.binary(max_size=64), s.JSON.map(lambda v: json.dumps(v)
                                                                 .encode()))


@pytest.fixture(scope="module")
def account(target):
    """The admin's account, with a container and an object in it."""
    base = f"/v1/AUTH_{target.projects['admin']}"
    assert target.request("PUT", f"{base}/fuzz").status_code in (201, 202)
    assert target.request("PUT", f"{base}/fuzz/fuzz-obj", content=b"0123456789").status_code \
        == 201
    return base


@examples(240)
@given(container=st.one_of(st.none(), NAMES), obj=st.one_of(st.none(), NAMES),
       method=st.sampled_from(["GET", "HEAD", "PUT", "POST", "DELETE", "COPY", "OPTIONS"]),
       headers=HEADERS, query=QUERY, body=BODIES,
       token=st.sampled_from(["admin", "admin", "member", "unscoped", "garbage", "non-ascii",
                             "none"]),
       whose=st.sampled_from(["admin", "admin", "member"]))
def test_swift_requests(target, account, container, obj, method, headers, query, body, token,
                        whose):
    path = f"/v1/AUTH_{target.projects[whose]}"
    if container is not None:
        path += f"/{container}"
        if obj is not None:
            path += f"/{obj}"
    if method == "DELETE" and path in (account, f"{account}/fuzz", f"{account}/fuzz/fuzz-obj"):
        method = "HEAD"  # keep the fixtures for the next examples
    response = target.request(method, f"{path}?{query}" if query else path, token=token,
                              headers=headers, content=body)
    check(target, response)


@examples(60)
@given(manifest=st.one_of(st.lists(st.fixed_dictionaries({}, optional={
    "path": st.one_of(st.just("/fuzz/fuzz-obj"), s.TEXT), "etag": s.TEXT,
    "size_bytes": st.one_of(st.integers(), s.HUGE_NUMBERS), "range": s.TEXT}), max_size=3),
    s.JSON))
def test_static_large_object_manifests(target, account, manifest):
    response = target.request("PUT", f"{account}/fuzz/slo?multipart-manifest=put",
                              json=manifest)
    check(target, response)
    if response.status_code < 300:
        check(target, target.request("GET", f"{account}/fuzz/slo",
                                     headers={"Range": "bytes=2-5"}))


@examples(40)
@given(path=st.sampled_from(["/info", "/healthcheck", "/auth/v1.0"]),
       headers=st.dictionaries(st.sampled_from(["X-Auth-User", "X-Auth-Key", "X-Storage-User",
                                               "X-Storage-Pass"]), s.HEADER_VALUES),
       method=s.METHODS, query=s.query(["swiftinfo_sig", "swiftinfo_expires"]))
def test_info_and_tempauth(target, path, headers, method, query):
    check(target, target.request(method, f"{path}?{query}" if query else path, token=None,
                                 headers=headers))
