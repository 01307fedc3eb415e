"""Swift's request checks in the proxy."""
from __future__ import annotations

import pytest

from services.objectstore import constraints
from services.objectstore.http import HTTPError, Request


def put_with(**headers: str) -> Request:
    scope = {"method": "PUT", "path": "/v1/AUTH_a/c",
             "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()]}
    return Request(scope, receive=None)  # type: ignore[arg-type]


def test_unknown_storage_policy_was_accepted_is_400():
    with pytest.raises(HTTPError) as info:
        constraints.check_storage_policy(put_with(**{"X-Storage-Policy": "gold"}))
    assert (info.value.status, info.value.body) == (400, "Invalid X-Storage-Policy 'gold'")


@pytest.mark.parametrize("name", ["Policy-0", "policy-0", "POLICY-0"])
def test_known_storage_policy_in_any_case_is_fine(name):
    constraints.check_storage_policy(put_with(**{"X-Storage-Policy": name}))


def test_no_storage_policy_means_the_default():
    constraints.check_storage_policy(put_with())
