"""Keystone token validation for the REST edges that are not the api process.

``KeystoneValidator`` asks Keystone (``GET /v3/auth/tokens``) and caches the answers in its
``TokenCache``, which a ``RevocationSubscriber`` keeps live only while identity's revocation
events (``events.RevocationEvent``) reach the process over the bus.
"""
from __future__ import annotations

from overcast.keystone.events import REVOCATION_EVENT_TYPE, RevocationEvent
from overcast.keystone.revocations import RevocationSubscriber
from overcast.keystone.tokens import DEFAULT_DOMAIN, Identity, TokenCache
from overcast.keystone.validator import KeystoneValidator, is_token_shaped

__all__ = ["DEFAULT_DOMAIN", "REVOCATION_EVENT_TYPE", "Identity", "KeystoneValidator",
           "RevocationEvent", "RevocationSubscriber", "TokenCache", "is_token_shaped"]
