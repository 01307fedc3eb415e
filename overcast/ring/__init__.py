"""The ring: which storage nodes hold each account, container and object.

``Ring`` answers lookups from a ring file; ``RingBuilder`` creates and changes it;
``RingHolder`` keeps a process's copy fresh when the file changes.
"""
from overcast.ring.builder import RingBuilder, RingError
from overcast.ring.ring import Device, Ring, RingHolder, hash_path

__all__ = ["Device", "Ring", "RingBuilder", "RingError", "RingHolder", "hash_path"]
