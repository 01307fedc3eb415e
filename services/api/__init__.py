"""The public REST edge: one port, DevStack-style path prefixes, every service's router."""
