"""``?limit=`` on list APIs: a whole number, clamped to the API's maximum page size.

Each API keeps its own wording for a bad value (Nova's, Glance's, Neutron's); what they share
is that no value, however large or odd, gets past as anything but a number from 0 to the
maximum, and that none costs more than a few comparisons to refuse.
"""
from __future__ import annotations

from collections.abc import Callable

from overcast import errors

# More digits than any page size needs; int() of a longer string would be wasted work (and
# Python refuses one of over 4300 digits with ValueError).
_MAX_DIGITS = 18


def page_limit(raw: object, *, maximum: int | None,
               invalid: Callable[[str], errors.OvercastError],
               negative: Callable[[str], errors.OvercastError] | None = None) -> int:
    """``raw`` (a query value or a JSON integer) as a page size from 0 to ``maximum``.

    A number over ``maximum`` is clamped to it, as Nova and Glance clamp; with no maximum (as
    Neutron's default) a huge number stands for "everything". ``negative(quoted)`` is raised
    for a negative number (``invalid`` when not given) and ``invalid(quoted)`` for anything
    else that is not a whole number: a fraction, garbage, a boolean. ``quoted`` is an excerpt
    of ``raw`` for the message.
    """
    quoted = errors.excerpt(raw)
    if isinstance(raw, bool) or not isinstance(raw, (int, str)):
        raise invalid(quoted)
    text = str(raw).strip()
    if text.startswith("-") and text[1:].isascii() and text[1:].isdigit():
        raise (negative or invalid)(quoted)
    text = text.removeprefix("+")
    if not (text.isascii() and text.isdigit()):
        raise invalid(quoted)
    digits = text.lstrip("0") or "0"
    ceiling = maximum if maximum is not None else 2**63 - 1
    if len(digits) > _MAX_DIGITS:
        return ceiling
    return min(int(digits), ceiling)
