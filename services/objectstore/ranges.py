"""HTTP Range requests as Swift serves them: single ranges, multiple ranges as
multipart/byteranges, and 416 when nothing is satisfiable."""
from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

MAX_RANGES = 50


def parse_range(header: str | None, size: int) -> list[tuple[int, int]] | None:
    """Satisfiable (start, end exclusive) ranges; None to ignore the header (absent or
    malformed: the whole object is sent); [] when none is satisfiable (416)."""
    if not header:
        return None
    unit, _, spec = header.strip().partition("=")
    if unit.strip().lower() != "bytes" or not spec:
        return None
    ranges = []
    for part in spec.split(","):
        part = part.strip()
        if "-" not in part:
            return None
        first, _, last = part.partition("-")
        first, last = first.strip(), last.strip()
        try:
            if not first:
                if not last:
                    return None
                suffix = int(last)
                if suffix < 0:
                    return None
                if suffix == 0:
                    continue
                ranges.append((max(0, size - suffix), size))
                continue
            start = int(first)
            end = int(last) + 1 if last else size
        except ValueError:
            return None
        if start < 0 or (last and end <= start):
            return None
        if start >= size:
            continue
        ranges.append((start, min(end, size)))
    if len(spec.split(",")) > MAX_RANGES:
        return None
    return ranges


def content_range(start: int, end: int, size: int) -> str:
    return f"bytes {start}-{end - 1}/{size}"


def multipart(ranges: list[tuple[int, int]], size: int, content_type: str,
              read: Callable[[int, int], Awaitable[AsyncIterator[bytes]]]
              ) -> tuple[str, int, AsyncIterator[bytes]]:
    """(Content-Type, Content-Length, body) of a multipart/byteranges response."""
    boundary = uuid.uuid4().hex
    heads = [(f"--{boundary}\r\nContent-Type: {content_type}\r\nContent-Range: "
              f"{content_range(s, e, size)}\r\n\r\n").encode() for s, e in ranges]
    tail = f"\r\n--{boundary}--".encode()
    length = sum(len(h) + (e - s) for h, (s, e) in zip(heads, ranges, strict=True)) \
        + 2 * (len(ranges) - 1) + len(tail)

    async def body() -> AsyncIterator[bytes]:
        for index, (head, (start, end)) in enumerate(zip(heads, ranges, strict=True)):
            yield (b"\r\n" if index else b"") + head
            async for chunk in await read(start, end):
                yield chunk
        yield tail

    return f"multipart/byteranges;boundary={boundary}", length, body()
