"""The server list's ``?name=`` filter: Nova's regular expressions, in linear time."""
from __future__ import annotations

import threading

import pytest

from overcast import errors
from tests.unit.services.conductor.twins import CTX, wait_status
from tests.unit.services.conductor.twins import boot_request as request


async def _named(conductor, *names: str) -> None:
    for name in names:
        [inst] = await conductor.create_servers(CTX, request=request(name=name))
        await wait_status(conductor, inst["id"], "ACTIVE")


async def test_the_name_filter_is_a_regular_expression(conductor):
    await _named(conductor, "web-1", "web-2", "db-1")
    listed = conductor.queries.list_servers(CTX, filters={"name": "^web-[0-9]$"})
    assert sorted(s["name"] for s in listed) == ["web-1", "web-2"]
    assert [s["name"] for s in conductor.queries.list_servers(CTX, filters={"name": "db"})] \
        == ["db-1"]


async def test_a_backtracking_bomb_cannot_stall_the_conductor(conductor):
    """``(a+)+$`` against ``aaa…a!`` once took 0.38 s at 22 characters, doubling with each."""
    await _named(conductor, "a" * 60 + "!")
    answers: list = []
    query = threading.Thread(target=lambda: answers.append(
        conductor.queries.list_servers(CTX, filters={"name": "(a+)+$"})), daemon=True)
    query.start()
    query.join(10)  # a backtracking engine needs about 2^60 steps here
    assert not query.is_alive(), "the name filter backtracked"
    assert answers == [[]]


@pytest.mark.parametrize("pattern", ["(unclosed", r"(a)\1", "(?=look)ahead", "x" * 256])
def test_a_pattern_re2_refuses_or_too_long_is_a_bad_request(conductor, pattern):
    with pytest.raises(errors.BadRequest):
        conductor.queries.list_servers(CTX, filters={"name": pattern})
