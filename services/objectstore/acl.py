"""Swift's container ACLs (``X-Container-Read``, ``X-Container-Write``) as keystoneauth
reads them.

An ACL is a comma-separated list of items:

- ``.r:<host>`` (read ACLs only): requests whose ``Referer`` is from that host may read
  objects, with no token at all; ``.r:*`` is any referrer, ``.r:.example.com`` a domain,
  ``.r:-host`` refuses a host. Listing the container needs ``.rlistings`` as well.
- ``<project>:<user>``: that user scoped to that project; either side may be ``*``. Ids
  always match; names only for a user and project of the default domain.
- ``<role>``: a user of the account's own project holding that role.
"""
from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import unquote, urlparse

from overcast.keystone import DEFAULT_DOMAIN, Identity

ACL_HEADERS = ("x-container-read", "x-container-write")
LISTINGS = ".rlistings"
REFERRER_DESIGNATORS = (".r", ".ref", ".referer", ".referrer")


def clean_acl(name: str, value: str) -> str:
    """``value`` of ACL header ``name`` in its canonical form; ``ValueError`` saying why
    when it is not a valid ACL."""
    items = []
    for raw in (item.strip() for item in value.split(",")):
        if not raw:
            continue
        first, colon, second = (part.strip() for part in raw.partition(":"))
        if not colon or not first.startswith("."):
            items.append(raw)
            continue
        if first not in REFERRER_DESIGNATORS:
            raise ValueError(f"Unknown designator {first!r} in ACL: {raw!r}")
        if "write" in name.lower():
            raise ValueError(f"Referrers not allowed in write ACL: {raw!r}")
        negate = second.startswith("-")
        if negate:
            second = second[1:].strip()
        if second != "*" and second.startswith("*"):
            second = second[1:].strip()
        if not second or second == ".":
            raise ValueError(f"No host/domain value after referrer designation in ACL: "
                             f"{raw!r}")
        items.append(f".r:{'-' if negate else ''}{second}")
    return ",".join(items)


def parse_acl(value: str | None) -> tuple[list[str], list[str]]:
    """(referrer designations, groups) of a cleaned ACL."""
    referrers: list[str] = []
    groups: list[str] = []
    for item in filter(None, (value or "").split(",")):
        if item.startswith(".r:"):
            referrers.append(item[3:])
        else:
            groups.append(unquote(item))
    return referrers, groups


def referrer_allowed(referrer: str | None, designations: Iterable[str]) -> bool:
    """Whether a request with this ``Referer`` passes the ``.r:`` items, taken in order."""
    allowed = False
    designations = list(designations)
    if not designations:
        return False
    try:
        host = urlparse(referrer or "").hostname or "unknown"
    except ValueError:
        host = "unknown"
    for match in designations:
        negate = match.startswith("-")
        match = match.removeprefix("-")
        if (match == "*" and not negate) or match == host or (
                match.startswith(".") and host.endswith(match)):
            allowed = not negate
    return allowed


def _user_matches(identity: Identity, groups: list[str]) -> bool:
    projects = {identity.project_id, "*"}
    users = {identity.user_id, "*"}
    if (identity.user_domain_id == DEFAULT_DOMAIN
            and identity.project_domain_id == DEFAULT_DOMAIN):
        projects.add(identity.project_name)
        users.add(identity.user_name)
    for group in groups:
        project, colon, user = group.partition(":")
        if colon and project in projects and user in users:
            return True
    return False


def acl_allows(acl: str | None, *, identity: Identity | None, own_account: bool,
               is_object: bool, referrer: str | None, write: bool = False) -> bool:
    """Whether the container ACL ``acl`` lets this requester through (keystoneauth's order:
    project:user items, then referrers, then roles within the account's own project).

    Referrers grant reads only: for a write ACL (``write``) they are ignored, so a write ACL
    stored before ACLs were checked, holding ``.r:*``, opens nothing to anonymous writers."""
    referrers, groups = parse_acl(acl)
    if identity is not None and _user_matches(identity, groups):
        return True
    if not write and referrer_allowed(referrer, referrers):
        return is_object or LISTINGS in groups
    if identity is None or not own_account:
        return False
    wanted = {group.lower() for group in groups if ":" not in group}
    return any(role.lower() in wanted for role in identity.roles)

