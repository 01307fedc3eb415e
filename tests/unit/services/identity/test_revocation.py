"""Revocation events: what each one matches, and that every recorded revocation is
announced to the listeners (which publish it for the processes that cache tokens)."""
from __future__ import annotations

import pytest

from services.identity.contract import RevocationEvent

TOKEN = {"audit_ids": ("own", "parent"), "user_id": "u1", "project_id": "p1",
         "issued_at": 100.0}


@pytest.mark.parametrize(("event", "revoked"), [
    (RevocationEvent(audit_id="own", issued_before=100.0), True),
    (RevocationEvent(audit_id="parent", issued_before=50.0), True),
    (RevocationEvent(audit_id="other", issued_before=200.0), False),
    (RevocationEvent(user_id="u1", issued_before=100.0), True),
    (RevocationEvent(user_id="u1", issued_before=99.9), False),
    (RevocationEvent(user_id="u2", issued_before=200.0), False),
    (RevocationEvent(project_id="p1", issued_before=200.0), True),
    (RevocationEvent(project_id="p2", issued_before=200.0), False),
    (RevocationEvent(user_id="u1", project_id="p1", issued_before=200.0), True),
    (RevocationEvent(user_id="u1", project_id="p2", issued_before=200.0), False),
    # An event naming nothing revokes nothing (never every token).
    (RevocationEvent(issued_before=200.0), False),
])
def test_revocation_event_matches(event, revoked):
    assert event.matches(**TOKEN) is revoked


def test_revocation_event_round_trips_the_wire():
    event = RevocationEvent(user_id="u1", project_id="p1", issued_before=12.5)
    assert RevocationEvent.from_wire(event.to_wire()) == event


def test_every_revocation_is_announced(manager, h, demo_token, admin_token, clock):
    heard: list[RevocationEvent] = []
    manager.revocations.add_listener(heard.append)
    data = manager.revoke_token(demo_token)
    assert heard == [RevocationEvent(audit_id=data.audit_ids[0],
                                     issued_before=data.issued_at)]
    demo = manager.users.find_user(name="demo", domain_id="default")
    manager.users.update_user(demo.id, {"enabled": False})
    assert heard[-1] == RevocationEvent(user_id=demo.id, issued_before=clock.now)


def test_a_failing_listener_does_not_undo_the_revocation(manager, demo_token):
    def broken(_event: RevocationEvent) -> None:
        raise RuntimeError("bus exploded")

    manager.revocations.add_listener(broken)
    manager.revoke_token(demo_token)
    with pytest.raises(Exception, match="Could not find token"):
        manager.validate_token(demo_token)
