"""The compute API's own records: flavors, key pairs, quotas and server groups."""
from __future__ import annotations

import pytest

from overcast import errors
from overcast.db import Database
from services.conductor.models import Base
from services.conductor.resources import DEFAULT_QUOTAS, MAX_QUOTA_LIMIT, ComputeResources
from tests.unit.services.conductor.twins import CTX


@pytest.fixture
def resources(tmp_path):
    db = Database(f"sqlite:///{tmp_path}/c.db", Base.metadata)
    yield ComputeResources(db)
    db.close()


@pytest.mark.parametrize("limit", [2**64, 10**100, MAX_QUOTA_LIMIT + 1, -2, True, 1.5, "10",
                                   None, [], {}])
def test_quota_limit_past_a_database_integer_or_not_a_number_is_a_400_not_a_500(
        resources, limit):
    with pytest.raises(errors.BadRequest, match="instances"):
        resources.update_quotas(CTX, "p1", {"cores": 5, "instances": limit})
    assert resources.quota_limits("p1") == {**resources.quota_limits("p0")}  # nothing written
    assert resources.quota_limits("p1")["cores"] == DEFAULT_QUOTAS["cores"]


def test_quota_limits_from_unlimited_to_the_largest_database_integer_are_kept(resources):
    resources.update_quotas(CTX, "p1", {"instances": MAX_QUOTA_LIMIT, "cores": -1})
    assert resources.quota_limits("p1")["instances"] == MAX_QUOTA_LIMIT
    assert resources.quota_limits("p1")["cores"] == -1


@pytest.mark.parametrize("public_key", ["not a key", "ssh-foo AAAA", "ecdsa-sha2-nistp999 AAAA",
                                        "ssh-rsa x", ""])
def test_keypair_with_a_key_type_cryptography_does_not_know_is_a_400_not_a_500(
        resources, public_key):
    with pytest.raises(errors.BadRequest, match="Keypair data is invalid"):
        resources.create_keypair(CTX, name="k", public_key=public_key)
    assert resources.list_keypairs(CTX) == []
