"""Swift's request checks: names, metadata and object creation limits (400/411/413...)."""
from __future__ import annotations

import time

from overcast.swift import limits
from services.objectstore.http import HTTPError, Request

# The storage policies this cloud has (one replicated policy, as a small Swift ships with);
# /info lists them and a container PUT may name only these.
DEFAULT_POLICY = "Policy-0"
POLICIES = (DEFAULT_POLICY,)


def check_utf8(value: str, what: str) -> None:
    if "\x00" in value:
        raise HTTPError(412, "Invalid UTF8 or contains NULL")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise HTTPError(412, "Invalid UTF8 or contains NULL") from None


def check_names(account: str, container: str | None, obj: str | None) -> None:
    for value in (account, container, obj):
        if value:
            check_utf8(value, "name")
    if len(account.encode()) > limits.MAX_ACCOUNT_NAME_LENGTH:
        raise HTTPError(400, f"Account name length of {len(account.encode())} longer than "
                             f"{limits.MAX_ACCOUNT_NAME_LENGTH}")
    if container is not None:
        length = len(container.encode())
        if length > limits.MAX_CONTAINER_NAME_LENGTH:
            raise HTTPError(400, f"Container name length of {length} longer than "
                                 f"{limits.MAX_CONTAINER_NAME_LENGTH}")
    if obj is not None:
        length = len(obj.encode())
        if length > limits.MAX_OBJECT_NAME_LENGTH:
            raise HTTPError(400, f"Object name length of {length} longer than "
                                 f"{limits.MAX_OBJECT_NAME_LENGTH}")


def check_metadata(req: Request, target: str) -> None:
    """Swift's metadata limits for ``X-<target>-Meta-*`` headers."""
    prefix = f"x-{target}-meta-"
    count = size = 0
    for key, value in req.headers.items():
        if not key.startswith(prefix):
            continue
        name = key[len(prefix):]
        if not name:
            raise HTTPError(400, "Metadata name cannot be empty")
        count += 1
        size += len(name) + len(value)
        if len(name) > limits.MAX_META_NAME_LENGTH:
            raise HTTPError(400, f"Metadata name too long: {prefix}{name}")
        if len(value) > limits.MAX_META_VALUE_LENGTH:
            raise HTTPError(400, f"Metadata value longer than {limits.MAX_META_VALUE_LENGTH}:"
                                 f" {prefix}{name}")
        if count > limits.MAX_META_COUNT:
            raise HTTPError(400, f"Too many metadata items; max {limits.MAX_META_COUNT}")
        if size > limits.MAX_META_OVERALL_SIZE:
            raise HTTPError(400, f"Total metadata too large; max "
                                 f"{limits.MAX_META_OVERALL_SIZE}")


def check_object_creation(req: Request) -> int | None:
    """The declared length (None when chunked); raises Swift's errors for a bad PUT."""
    length = req.content_length
    if length is None and not req.chunked:
        raise HTTPError(411)
    if length is not None and length > limits.MAX_FILE_SIZE:
        raise HTTPError(413, "Your request is too large.")
    check_metadata(req, "object")
    return length


def delete_at(req: Request) -> str | None:
    """The X-Delete-At a request asks for (from X-Delete-After too); 400 if bad or past."""
    after = req.header("x-delete-after")
    at = req.header("x-delete-at")
    if after is not None:
        try:
            seconds = int(after)
        except ValueError:
            raise HTTPError(400, "Non-integer X-Delete-After") from None
        if seconds < 0:
            raise HTTPError(400, "X-Delete-After in past")
        return str(int(time.time() + seconds))
    if at is not None:
        try:
            value = int(float(at))
        except ValueError:
            raise HTTPError(400, "Non-integer X-Delete-At") from None
        if value < time.time():
            raise HTTPError(400, "X-Delete-At in past")
        return str(value)
    return None


def check_storage_policy(req: Request) -> None:
    """400 when a container PUT names a storage policy this cloud does not have (Swift
    matches policy names case-insensitively)."""
    name = req.header("x-storage-policy")
    if not name:
        return
    if name.lower() not in {policy.lower() for policy in POLICIES}:
        raise HTTPError(400, f"Invalid X-Storage-Policy '{name}'")
