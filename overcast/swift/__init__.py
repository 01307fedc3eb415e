"""What Swift's proxy and its storage nodes agree on: timestamps and the API's limits.

The object proxy (``services/objectstore``) and the storage nodes (``agents/storage``) both
import this package, as Swift's proxy and object servers share ``swift/common``; neither
imports the other's internals.
"""
from __future__ import annotations
