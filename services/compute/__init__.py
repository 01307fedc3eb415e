"""The Compute API (Nova v2.1 subset): REST only; the conductor owns the records."""
