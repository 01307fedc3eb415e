"""The revocation subscription: an event drops the cached tokens it matches, a malformed one is
ignored, and a lost bus connection empties the cache and keeps it off until it is back."""
from __future__ import annotations

from overcast.keystone.events import REVOCATION_EVENT_TYPE, RevocationEvent
from overcast.keystone.revocations import RevocationSubscriber
from overcast.keystone.tokens import Identity, TokenCache


class UnconnectedBus:
    """Only what the subscriber touches before and after connecting (no broker here)."""

    def __init__(self) -> None:
        self.on_disconnect: list = []
        self.on_reconnect: list = []


def cached(cache: TokenCache, token: str, audit_id: str) -> None:
    cache.put(token, Identity(user_id="u", user_name="u", project_id="p",
                              roles=frozenset({"member"}), expires=1e12,
                              audit_ids=(audit_id,), issued_at=1.0),
              generation=cache.generation)


async def test_event_drops_the_matching_cached_token():
    cache = TokenCache()
    cache.resume()
    cached(cache, "t1", "a1")
    cached(cache, "t2", "a2")
    subscriber = RevocationSubscriber(UnconnectedBus(), cache)
    await subscriber.on_event({"event_type": REVOCATION_EVENT_TYPE, "payload":
                               RevocationEvent(audit_id="a1", issued_before=1.0).to_wire()})
    assert cache.get("t1") is None
    assert cache.get("t2") is not None


async def test_malformed_event_is_ignored():
    cache = TokenCache()
    cache.resume()
    cached(cache, "t1", "a1")
    subscriber = RevocationSubscriber(UnconnectedBus(), cache)
    await subscriber.on_event({"payload": "nonsense"})
    await subscriber.on_event(["not", "a", "notification"])
    await subscriber.on_event({"payload": {"audit_id": "a1"}})  # no issued_before
    assert cache.get("t1") is not None


async def test_lost_bus_empties_the_cache_until_it_is_back():
    cache = TokenCache()
    cache.resume()
    cached(cache, "t1", "a1")
    subscriber = RevocationSubscriber(UnconnectedBus(), cache)
    subscriber._on_disconnect()
    assert cache.get("t1") is None
    cached(cache, "t2", "a2")
    assert cache.get("t2") is None
    await subscriber._on_reconnect()
    cached(cache, "t3", "a3")
    assert cache.get("t3") is not None
