"""The ``process`` virt driver: guests as real, isolated process trees (see driver.py).

``ProcessDriver`` is imported on first use, so that the small helpers run as programs
(``boot``, ``enter``) start without loading the driver.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from agents.compute.process.driver import ProcessDriver

__all__ = ["ProcessDriver"]


def __getattr__(name: str) -> Any:
    if name == "ProcessDriver":
        from agents.compute.process.driver import ProcessDriver
        return ProcessDriver
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
