"""Microversions of the Block Storage API (``OpenStack-API-Version: volume 3.x``), negotiated
as Cinder's ``Request.set_api_version_request`` does: no header is 3.0, ``latest`` is the
maximum, a malformed one 400 and one outside 3.0 to ``MAX_VERSION`` 406. The version is
answered back in the same header, errors included.

3.67 is the highest this service implements in full: the fields and behaviours up to it
that concern what exists here (volumes, snapshots, backups, types, attachments, quotas,
services), among them 3.27/3.44 attachments, 3.45 ``count``, 3.63 ``volume_type_id``, 3.65
``consumes_quota``, 3.66 snapshots of in-use volumes without ``force`` and 3.67 URLs without
a project id. Groups, clusters, messages, transfers and manage/unmanage are not implemented.
"""
from __future__ import annotations

import re
from typing import Annotated

from fastapi import Depends, Request

from overcast import errors
from overcast.errors import excerpt
from overcast.rest.routing import add_response_header

MIN_VERSION = (3, 0)
MAX_VERSION = (3, 67)
HEADER = "OpenStack-API-Version"
SERVICE = "volume"
_VERSION = re.compile(r"^([1-9]\d*)\.([1-9]\d*|0)$")

NEW_ATTACH = (3, 27)
NEW_ATTACH_COMPLETION = (3, 44)
ATTACHMENT_CREATE_MODE_ARG = (3, 54)
BACKUP_UPDATE = (3, 9)
BACKUP_PROJECT = (3, 18)
BACKUP_METADATA = (3, 43)
BACKUP_PROJECT_USER_ID = (3, 56)
SNAPSHOT_LIST_USER_ID = (3, 41)
GROUP_VOLUME = (3, 13)
GROUP_SNAPSHOTS = (3, 14)
VOLUME_SUMMARY = (3, 12)
VOLUME_SUMMARY_METADATA = (3, 36)
VOLUME_DETAIL_PROVIDER_ID = (3, 21)
SUPPORT_COUNT_INFO = (3, 45)
VOLUME_SHARED_TARGETS_AND_SERVICE_FIELDS = (3, 48)
VOLUME_CLUSTER_NAME = (3, 61)
DEFAULT_TYPE_OVERRIDES = (3, 62)
VOLUME_TYPE_ID_IN_VOLUME_DETAIL = (3, 63)
USE_QUOTA = (3, 65)
SNAPSHOT_IN_USE = (3, 66)
CLUSTER_SUPPORT = (3, 7)


class VersionNotAcceptable(errors.OvercastError):
    """The requested microversion is outside the supported range."""

    code = 406
    title = "notAcceptable"


class VersionNotFoundForMethod(errors.NotFound):
    """The route exists only at other microversions (Cinder: 404)."""


def text(version: tuple[int, int]) -> str:
    return f"{version[0]}.{version[1]}"


def _requested(request: Request) -> str | None:
    header = request.headers.get(HEADER)
    if header is None:
        return None
    for item in header.split(","):
        service, _, value = item.strip().partition(" ")
        if service.lower() == SERVICE:
            return value.strip()
    return ""


def negotiate(request: Request) -> tuple[int, int]:
    """The microversion of this request (3.0 when none is asked for)."""
    value = _requested(request)
    if value is None:
        version = MIN_VERSION
    elif value == "":
        raise errors.BadRequest("API version None is not supported on this method.")
    elif value.lower() == "latest":
        version = MAX_VERSION
    else:
        match = _VERSION.match(value)
        if match is None:
            raise errors.BadRequest(f"API Version String {excerpt(value)} is of invalid "
                                    "format. Must be of format MajorNum.MinorNum.")
        version = (int(match.group(1)), int(match.group(2)))
        if not MIN_VERSION <= version <= MAX_VERSION:
            raise VersionNotAcceptable(
                f"Version {excerpt(value)} is not supported by the API. Minimum is "
                f"{text(MIN_VERSION)} and maximum is {text(MAX_VERSION)}.")
    request.state.microversion = version
    add_response_header(request, HEADER, f"{SERVICE} {text(version)}")
    add_response_header(request, "Vary", HEADER)
    return version


Version = Annotated[tuple[int, int], Depends(negotiate)]


def require(mv: tuple[int, int], minimum: tuple[int, int]) -> None:
    """404 for a route that needs ``minimum`` at a lower version, as Cinder answers."""
    if mv < minimum:
        raise VersionNotFoundForMethod(f"API version {text(mv)} is not supported on this "
                                       "method.")
