"""The token cache: revocation events drop what they match, and nothing is cached
while revocations could be missed."""
from __future__ import annotations

from overcast.keystone.events import RevocationEvent
from overcast.keystone.tokens import Identity, TokenCache


def identity(user_id: str = "u1", project_id: str = "p1", audit_id: str = "a1",
             issued_at: float = 100.0) -> Identity:
    return Identity(user_id=user_id, user_name=user_id, project_id=project_id,
                    roles=frozenset({"member"}), expires=1e12, audit_ids=(audit_id,),
                    issued_at=issued_at)


def live_cache() -> TokenCache:
    cache = TokenCache()
    cache.resume()
    return cache


def test_revocation_event_drops_only_the_matching_tokens():
    cache = live_cache()
    cache.put("t1", identity(audit_id="a1"), generation=cache.generation)
    cache.put("t2", identity(audit_id="a2"), generation=cache.generation)
    cache.put("t3", identity(user_id="u2", audit_id="a3"), generation=cache.generation)
    assert cache.revoke(RevocationEvent(audit_id="a1", issued_before=100.0)) == 1
    assert cache.get("t1") is None
    assert cache.get("t2") is not None
    assert cache.revoke(RevocationEvent(user_id="u1", issued_before=150.0)) == 1
    assert cache.get("t2") is None
    assert cache.get("t3") is not None


def test_token_issued_after_a_subject_revocation_stays():
    cache = live_cache()
    cache.put("new", identity(issued_at=200.0), generation=cache.generation)
    assert cache.revoke(RevocationEvent(user_id="u1", issued_before=150.0)) == 0
    assert cache.get("new") is not None


def test_validation_begun_before_a_revocation_is_not_cached():
    cache = live_cache()
    began = cache.generation
    cache.revoke(RevocationEvent(audit_id="a1", issued_before=100.0))
    cache.put("t1", identity(), generation=began)
    assert cache.get("t1") is None


def test_nothing_is_cached_while_revocations_could_be_missed():
    cache = live_cache()
    cache.put("t1", identity(), generation=cache.generation)
    cache.suspend()
    assert cache.get("t1") is None
    cache.put("t2", identity(), generation=cache.generation)
    assert cache.get("t2") is None
    cache.resume()
    cache.put("t3", identity(), generation=cache.generation)
    assert cache.get("t3") is not None


def test_a_new_cache_is_off_until_subscribed():
    cache = TokenCache()
    cache.put("t1", identity(), generation=cache.generation)
    assert cache.get("t1") is None


def test_expired_validation_is_not_served():
    cache = live_cache()
    cache.put("t1", identity(), generation=cache.generation)
    assert cache.get("t1", now=2e12) is None


def test_refused_tokens_are_remembered_briefly():
    cache = TokenCache(refused_ttl=2.0)
    cache.refuse("bad", now=10.0)
    assert cache.refused("bad", now=11.0)
    assert not cache.refused("bad", now=12.5)
