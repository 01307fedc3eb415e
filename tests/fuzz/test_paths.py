"""Random paths and methods under every API root, with every kind of token."""
from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz import strategies as s
from tests.fuzz.invariants import check
from tests.fuzz.target import examples

ROOTS = ["/identity", "/identity/v3", "/compute", "/compute/v2.1", "/image", "/image/v2",
         "/network", "/network/v2.0", "/v1", "/v1/AUTH_{admin}", "/v1/AUTH_{member}",
         "/info", "/"]


@examples(200)
@given(root=st.sampled_from(ROOTS), segments=st.lists(s.PATH_SEGMENTS, max_size=4),
       method=s.METHODS, token=s.TOKENS, body=st.none() | s.JSON, query=s.query(
           ["limit", "marker", "format", "name", "all_tenants", "fields", "sort_key"]))
def test_random_paths_and_methods(target, root, segments, method, token, body, query):
    path = root.format(**target.projects)
    path = "/".join([path.rstrip("/"), *segments]) if segments else path
    content = None if body is None else json.dumps(body).encode()
    response = target.request(method, f"{path}?{query}" if query else path, token=token,
                              content=content,
                              headers={"Content-Type": "application/json"} if content else {})
    check(target, response)
