"""Object storage: the ring and the Swift-compatible proxy (``object-proxy``)."""
