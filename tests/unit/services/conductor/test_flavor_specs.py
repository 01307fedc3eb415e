"""Flavor extra specs: Nova's rules, and overcast:disk_storage kept to local or shared."""
from __future__ import annotations

import pytest

from overcast import errors
from overcast.context import RequestContext
from services.conductor import flavor_specs

ADMIN = RequestContext.admin()


def test_disk_storage_must_be_local_or_shared():
    assert flavor_specs.checked({"overcast:disk_storage": "shared", "hw:cpu": 2}) == {
        "overcast:disk_storage": "shared", "hw:cpu": "2"}
    with pytest.raises(errors.BadRequest, match="must be one of local, shared"):
        flavor_specs.checked({"overcast:disk_storage": "nfs"})


@pytest.mark.parametrize("specs", [[], {"bad/key": "v"}, {"k": None}, {"k": "x" * 256},
                                   {"": "v"}])
def test_ill_formed_specs_are_400(specs):
    with pytest.raises(errors.BadRequest):
        flavor_specs.checked(specs)


async def test_specs_merge_and_remove(conductor):
    resources = conductor.resources
    assert resources.update_extra_specs(ADMIN, "1", set_specs={"a": "1"}) == {"a": "1"}
    assert resources.update_extra_specs(ADMIN, "1", set_specs={"b": "2"}) == {"a": "1",
                                                                             "b": "2"}
    assert resources.get_flavor(ADMIN, "1")["extra_specs"] == {"a": "1", "b": "2"}
    assert resources.update_extra_specs(ADMIN, "1", set_specs={}, remove="a") == {"b": "2"}
    with pytest.raises(errors.NotFound):
        resources.update_extra_specs(ADMIN, "1", set_specs={}, remove="a")
    with pytest.raises(errors.NotFound):
        resources.update_extra_specs(ADMIN, "nope", set_specs={"a": "1"})
