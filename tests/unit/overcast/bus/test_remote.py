"""Errors across the bus: the caller raises the nearest class it knows, never a bare dict."""
from __future__ import annotations

import orjson
import pytest

from overcast import errors
from overcast.bus import envelope, remote


class InstanceLocked(errors.Conflict):
    """A service's own subclass, which no caller knows by name."""


class _Mixin:
    pass


class PortInUse(_Mixin, errors.Conflict):
    pass


def _round_trip(error: BaseException) -> Exception:
    reply = orjson.loads(envelope.encode_reply(error=error))
    return remote.from_wire(reply["error"])


def test_a_known_class_comes_back_as_itself_with_its_details():
    raised = _round_trip(errors.NotFound("no such server", server_id="s-1"))
    assert type(raised) is errors.NotFound
    assert raised.message == "no such server"
    assert raised.details == {"server_id": "s-1"}
    assert "error_type" not in raised.details


def test_a_subclass_comes_back_as_its_nearest_known_ancestor():
    raised = _round_trip(InstanceLocked("locked", instance_id="i-1"))
    assert type(raised) is errors.Conflict
    assert raised.message == "locked"
    assert raised.details == {"instance_id": "i-1", "error_type": "InstanceLocked"}


def test_a_mixin_before_the_known_base_is_skipped():
    assert type(_round_trip(PortInUse("in use"))) is errors.Conflict


def test_a_subclass_of_a_subclass_keeps_the_most_specific_known_class():
    class OverQuota(errors.QuotaExceeded):
        pass

    raised = _round_trip(OverQuota("cores"))
    assert type(raised) is errors.QuotaExceeded
    assert isinstance(raised, errors.Forbidden)


def test_the_bus_own_version_error_is_known():
    raised = _round_trip(remote.UnsupportedVersion("speaks 1.0, not 2.0"))
    assert type(raised) is remote.UnsupportedVersion
    assert isinstance(raised, errors.BadRequest)


def test_an_unexpected_error_comes_back_as_remote_error():
    raised = _round_trip(KeyError("flavor"))
    assert isinstance(raised, remote.RemoteError)
    assert raised.exc_type == "KeyError"
    assert "flavor" in raised.message


def test_an_error_from_an_older_peer_without_ancestors_is_still_typed():
    raised = remote.from_wire({"type": "Forbidden", "message": "nope"})
    assert type(raised) is errors.Forbidden
    assert isinstance(remote.from_wire({"type": "Weird"}), remote.RemoteError)


def test_what_travels_is_plain_json():
    wire = remote.to_wire(InstanceLocked("locked"))
    assert wire["type"] == "InstanceLocked"
    assert wire["ancestors"][:3] == ["InstanceLocked", "Conflict", "OvercastError"]
    assert orjson.loads(orjson.dumps(wire)) == wire


@pytest.mark.parametrize("cls", sorted(errors.BY_NAME.values(), key=lambda c: c.__name__))
def test_every_shared_error_survives_the_trip(cls):
    raised = _round_trip(cls("message"))
    assert type(raised) is cls and raised.message == "message"
