"""Hostile input shaped like OpenStack's: JSON values, request bodies with the right keys and
wrong values, query strings, header values and URL paths."""
from __future__ import annotations

import string
import uuid
from typing import Any
from urllib.parse import quote

from hypothesis import strategies as st

# Numbers that overflow 32 and 64 bits, SQLite's integers and C doubles.
HUGE_NUMBERS = st.sampled_from([2**31, 2**31 - 1, -(2**31) - 1, 2**63, 2**64, -(2**64),
                                10**100, 1e308, -1e308, 1.5, -0.0, 0, -1])

# Lone surrogates once were a 500 (the bus cannot encode them); the REST edge's JSON decoding
# (overcast/rest/body.py) now refuses them for every API.
SURROGATES = ["\ud800", "a\udfffb"]

ODD_STRINGS = st.sampled_from([
    *SURROGATES, "", " ", "\x00", "\u202e", "💥", "../../etc/passwd", "%00", "%",
    "null", "true", "0", "-1", "1e999", "NaN", "' OR '1'='1", "*", "(a+)+$", "[", "\\",
    "a" * 256, "x" * 5000, "\n\r\t", "<script>", "ÿ", "İ", "\ufeff", "default",
])

TEXT = st.one_of(ODD_STRINGS, st.text(max_size=40),
                 # every code point, lone surrogates too
                 st.text(st.characters(), max_size=10))

SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), HUGE_NUMBERS, HUGE_NUMBERS,
                    st.floats(allow_nan=False, allow_infinity=False), TEXT, ODD_STRINGS)

# Any JSON value, nested a few levels.
JSON = st.recursive(SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(TEXT, inner, max_size=3)), max_leaves=8)

UUIDS = st.one_of(st.uuids().map(str), st.just(str(uuid.UUID(int=0))))


def ints(low: int, high: int) -> st.SearchStrategy[int | float]:
    """Whole numbers from ``low`` to ``high``, and the right type just out of range: one
    past each end, past 32 and 64 bits, a float."""
    valid = st.integers(low, high)
    return st.one_of(valid, valid, valid, valid, st.sampled_from([low - 1, high + 1]),
                     HUGE_NUMBERS)


def hostile(valid: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly ``valid``'s values, else any JSON value (wrong types, huge, odd, nested)."""
    return st.one_of(valid, valid, JSON)


@st.composite
def _fields(draw: st.DrawFn, fields: dict[str, st.SearchStrategy[Any]],
            required: tuple[str, ...]) -> dict[str, Any]:
    body = {key: draw(valid, label=key) for key, valid in fields.items()
            if key in required or draw(st.booleans(), label=f"has {key}")}
    # One or two fields at a time go wrong (a wrong type, a huge number, an odd string, a
    # nesting, or missing), so the rest of the body is valid enough to reach deep checks.
    broken = st.lists(st.sampled_from(sorted(fields)), min_size=1, max_size=2, unique=True)
    for key in draw(st.one_of(broken, broken, broken, st.just([])),
                    label="broken fields") if fields else ():
        if key in body and draw(st.booleans(), label=f"drop {key}"):
            del body[key]
        else:
            body[key] = draw(st.one_of(HUGE_NUMBERS, ODD_STRINGS, JSON), label=f"bad {key}")
    body.update(draw(st.dictionaries(TEXT, JSON, max_size=1), label="unknown keys"))
    return body


def shaped(resource: str | None, fields: dict[str, st.SearchStrategy[Any]], *,
           required: tuple[str, ...] = ()) -> st.SearchStrategy[Any]:
    """A body ``{resource: {...}}`` (or the bare dict when ``resource`` is None) with
    ``fields``' keys (``required`` ones always, the others or not) and valid values, except
    one or two gone wrong; now and then any JSON value instead of the whole body."""
    inner = _fields(fields, required)
    body = inner if resource is None else inner.map(lambda b: {resource: b})
    return st.one_of(body, body, body, JSON)


def _encoded(text: str) -> str:
    return quote(text.encode("utf-8", "surrogatepass"), safe="")


RAW_ESCAPES = st.lists(st.integers(0, 255), min_size=1, max_size=4).map(
    lambda bs: "".join(f"%{b:02X}" for b in bs))

QUERY_VALUES = st.one_of(
    TEXT.map(_encoded), HUGE_NUMBERS.map(str), RAW_ESCAPES, UUIDS,
    st.sampled_from(["asc", "desc", "true", "false", "True", "1", "-1", "0", "2**64",
                     "18446744073709551616", "1e3", "name", "id", "created_at", "ACTIVE",
                     "2024-01-01T00:00:00Z", "not-a-date", "in:a,b", "gte:1", "lt:",
                     "json", "xml", "plain"]))


def query(names: list[str]) -> st.SearchStrategy[str]:
    """A query string over ``names`` (and an odd name now and then), values hostile; repeated
    keys allowed."""
    key = st.one_of(st.sampled_from(names), st.sampled_from(names),
                    TEXT.map(_encoded))
    pairs = st.lists(st.tuples(key, QUERY_VALUES), max_size=4)
    return pairs.map(lambda ps: "&".join(f"{k}={v}" for k, v in ps))


# Header values as the wire carries them: visible ASCII, spaces and obs-text bytes.
HEADER_BYTES = st.binary(max_size=40).map(
    lambda b: bytes(c for c in b if 0x20 <= c <= 0x7E or c >= 0x80).strip())
HEADER_VALUES = st.one_of(
    st.text(string.printable.strip() + " ", max_size=40).map(lambda s: s.strip()),
    HUGE_NUMBERS.map(str), HEADER_BYTES,
    st.sampled_from(["", "0", "-1", "abc", "1e3", "18446744073709551616", "bytes=0-",
                     "bytes=-0", "bytes=5-1", "bytes=0-0,1-1", "*", "compute 2.1",
                     "compute latest", "compute 2.999", "compute 3.0", "image 2.5",
                     "Policy-0", "Policy-9", "text/plain", "application/json"]))

PATH_SEGMENTS = st.one_of(
    st.sampled_from(["", ".", "..", "%2e%2e", "detail", "action", "os-keypairs", "servers",
                     "images", "networks", "users", "projects", "file", "members", "tags",
                     "metadata", "v2.0", "v2", "v3", "v2.1", "%00", "%FF", "%ED%A0%80",
                     "a" * 300, "AUTH_x", "%2F", "~", "'"]),
    UUIDS, TEXT.map(_encoded), RAW_ESCAPES)

METHODS = st.sampled_from(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS",
                           "COPY", "TRACE"])

TOKENS = st.sampled_from(["admin", "member", "unscoped", "garbage", "none"])
