"""The ``process`` virt driver: guests as real, isolated process trees (see driver.py)."""
from __future__ import annotations

from agents.compute.process.driver import ProcessDriver

__all__ = ["ProcessDriver"]
