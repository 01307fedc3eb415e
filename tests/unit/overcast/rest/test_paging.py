"""``?limit=``: the shared page-limit parser every list API uses."""
from __future__ import annotations

import pytest

from overcast import errors
from overcast.rest.paging import page_limit


class Invalid(errors.BadRequest):
    pass


class Negative(errors.BadRequest):
    pass


def _limit(raw: object, maximum: int | None = 1000) -> int:
    return page_limit(raw, maximum=maximum, invalid=lambda q: Invalid(q),
                      negative=lambda q: Negative(q))


@pytest.mark.parametrize(("raw", "expected"), [
    ("0", 0), ("5", 5), ("+5", 5), (" 7 ", 7), ("0005", 5), (5, 5), ("1000", 1000),
    ("1001", 1000), (str(2**64), 1000), ("9" * 5000, 1000), (10**30, 1000),
])
def test_whole_numbers_are_clamped_to_the_maximum(raw, expected):
    assert _limit(raw) == expected


def test_with_no_maximum_a_huge_limit_means_everything():
    assert _limit("9" * 5000, maximum=None) == 2**63 - 1
    assert _limit("25", maximum=None) == 25


@pytest.mark.parametrize("raw", ["-1", "-18446744073709551616", -3])
def test_negative_numbers_get_the_negative_error(raw):
    with pytest.raises(Negative):
        _limit(raw)


@pytest.mark.parametrize("raw", ["", "abc", "1.5", "1e3", "0x10", "\u0665", "--1", True,
                                 None, 1.0, [], "- 1"])
def test_anything_else_is_invalid(raw):
    with pytest.raises(Invalid):
        _limit(raw)


def test_the_error_quotes_only_an_excerpt():
    with pytest.raises(Invalid) as caught:
        _limit("x" * 10_000)
    assert len(caught.value.message) < 60
