"""The revocation notifier publishes events handed to it from any thread, in order, and
keeps an event it could not publish until the bus takes it."""
from __future__ import annotations

import threading

from overcast.bus import ConnectionLost
from overcast.testing import eventually
from services.identity import notifier
from services.identity.contract import REVOCATION_EVENT_TYPE, RevocationEvent


class RecordingBus:
    """Stands in for the bus's ``notify``; refuses the first ``failures`` attempts."""

    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.sent: list[tuple[str, dict, str]] = []

    async def notify(self, ctx, event_type, payload, *, publisher_id, priority="INFO"):
        if self.failures:
            self.failures -= 1
            raise ConnectionLost("the message bus is not reachable")
        self.sent.append((event_type, payload, publisher_id))


async def test_events_from_worker_threads_are_published_in_order():
    bus = RecordingBus()
    publisher = notifier.RevocationNotifier(bus, publisher_id="identity.api")
    await publisher.start()
    events = [RevocationEvent(audit_id=f"a{i}", issued_before=float(i)) for i in range(5)]
    worker = threading.Thread(target=lambda: [publisher.submit(e) for e in events])
    worker.start()
    worker.join()
    await eventually(lambda: len(bus.sent) == 5, timeout=5)
    assert [RevocationEvent.from_wire(p) for _, p, _ in bus.sent] == events
    assert {t for t, _, _ in bus.sent} == {REVOCATION_EVENT_TYPE}
    await publisher.stop()


async def test_event_is_kept_until_the_bus_takes_it(monkeypatch):
    monkeypatch.setattr(notifier, "RETRY_INTERVAL", 0.01)
    bus = RecordingBus(failures=3)
    publisher = notifier.RevocationNotifier(bus, publisher_id="identity.api")
    await publisher.start()
    publisher.submit(RevocationEvent(user_id="u1", issued_before=1.0))
    await eventually(lambda: bus.sent, timeout=5)
    assert bus.failures == 0
    assert bus.sent[0][1]["user_id"] == "u1"
    await publisher.stop()
