"""``overcast.wire``: contract dataclasses survive a JSON round trip unchanged."""
from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import orjson
import pytest

from overcast import errors
from overcast.wire import Wire


@dataclasses.dataclass(frozen=True, kw_only=True)
class Part(Wire):
    size: int
    label: str | None = None


@dataclasses.dataclass(frozen=True, kw_only=True)
class Whole(Wire):
    name: str
    part: Part
    parts: tuple[Part, ...] = ()
    tags: tuple[str, ...] = ()
    choice: str | tuple[Mapping[str, str], ...] = "auto"
    extra: Mapping[str, int] = dataclasses.field(default_factory=dict)
    maybe: Part | None = None


def json_round_trip(value: Wire) -> dict:
    return orjson.loads(orjson.dumps(value.to_wire()))


def test_nested_tuples_and_mappings_come_back_as_they_left():
    whole = Whole(name="w", part=Part(size=1), parts=(Part(size=2, label="b"), Part(size=3)),
                  tags=("x", "y"), choice=({"uuid": "n1"},), extra={"a": 1},
                  maybe=Part(size=4))
    again = Whole.from_wire(json_round_trip(whole))
    assert again == whole
    assert isinstance(again.parts, tuple) and isinstance(again.parts[0], Part)
    assert isinstance(again.choice, tuple)


@pytest.mark.parametrize("choice", ["auto", "none"])
def test_a_union_keeps_the_member_the_value_is(choice):
    whole = Whole(name="w", part=Part(size=1), choice=choice)
    assert Whole.from_wire(json_round_trip(whole)).choice == choice


def test_missing_keys_take_defaults_and_unknown_keys_are_ignored():
    again = Whole.from_wire({"name": "w", "part": {"size": 1}, "added_in_1_1": True,
                             "maybe": None})
    assert again == Whole(name="w", part=Part(size=1))


def test_a_missing_required_field_is_refused():
    with pytest.raises(errors.BadRequest, match="name is required"):
        Whole.from_wire({"part": {"size": 1}})


def test_a_null_means_the_default_where_the_field_does_not_allow_none():
    again = Whole.from_wire({"name": "w", "part": {"size": 1}, "parts": None, "tags": None,
                             "extra": None, "choice": None})
    assert again == Whole(name="w", part=Part(size=1))
    with pytest.raises(errors.BadRequest, match="part is required"):
        Whole.from_wire({"name": "w", "part": None})


@pytest.mark.parametrize("data", [["not", "an", "object"], "w", None])
def test_what_is_not_an_object_is_a_bad_request(data):
    with pytest.raises(errors.BadRequest):
        Whole.from_wire(data)


def test_a_nested_value_of_the_wrong_shape_is_a_bad_request():
    with pytest.raises(errors.BadRequest):
        Whole.from_wire({"name": "w", "part": {"size": 1, "label": "x"}, "parts": [7]})


def test_the_wire_form_is_keyed_by_field_name():
    assert Part(size=1, label="a").to_wire() == {"size": 1, "label": "a"}
