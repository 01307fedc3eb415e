"""The ``Range`` header of an image download, as Glance reads it: one byte range
(``bytes=a-b``, ``bytes=a-`` or the suffix ``bytes=-n``), 400 for several ranges, 416 for a
header that does not parse or a range that starts past the end of the data."""
from __future__ import annotations

import dataclasses
import re

from overcast import errors

_SINGLE_RANGE = re.compile(r"\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*", re.IGNORECASE)


class RangeNotSatisfiable(errors.OvercastError):
    """The requested range cannot be served from this image's data."""

    code = 416
    title = "requestedRangeNotSatisfiable"


@dataclasses.dataclass(frozen=True)
class ByteRange:
    """A range as asked for: ``first`` to ``last`` inclusive (``last`` None: to the end), or
    the last ``suffix`` bytes when ``first`` is None."""

    first: int | None
    last: int | None = None
    suffix: int | None = None

    def resolve(self, size: int) -> tuple[int, int]:
        """(offset, length) of the bytes to send from data of ``size`` bytes; a range that
        ends past the data is cut at its end, one that starts past it is ``RangeNotSatisfiable``."""
        if self.first is None:
            suffix = self.suffix or 0
            if suffix == 0 or size == 0:
                raise RangeNotSatisfiable("Invalid Range header.")
            offset = max(0, size - suffix)
            return offset, size - offset
        if self.first >= size:
            raise RangeNotSatisfiable(
                "Invalid start position in Range header. Start position MUST be in the "
                f"inclusive range [0, {max(size - 1, 0)}].")
        end = size if self.last is None else min(self.last + 1, size)
        return self.first, end - self.first


def parse_range(header: str) -> ByteRange:
    """The one range in a ``Range`` header; ``BadRequest`` for several, and
    ``RangeNotSatisfiable`` for a header that is not one byte range."""
    if "," in header:
        raise errors.BadRequest("Requests with multiple ranges are not supported in Glance. "
                                "You may make multiple single-range requests instead.")
    match = _SINGLE_RANGE.fullmatch(header)
    if match is None:
        raise RangeNotSatisfiable("Invalid Range header.")
    first_text, last_text = match.groups()
    try:
        first = int(first_text) if first_text else None
        last = int(last_text) if last_text else None
    except ValueError:  # more digits than int() reads: far past the end of any image
        raise RangeNotSatisfiable("Invalid Range header.") from None
    if first is None:
        if last is None:
            raise RangeNotSatisfiable("Invalid Range header.")
        return ByteRange(first=None, suffix=last)
    if last is not None and last < first:
        raise RangeNotSatisfiable("Invalid Range header.")
    return ByteRange(first=first, last=last)


def content_range(offset: int, length: int, size: int) -> str:
    """The ``Content-Range`` of a 206 carrying ``length`` bytes from ``offset``."""
    return f"bytes {offset}-{offset + length - 1}/{size}"
