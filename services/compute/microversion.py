"""Microversion negotiation for the Compute API (``OpenStack-API-Version: compute 2.x``)."""
from __future__ import annotations

import re
from typing import Annotated

from fastapi import Depends, Request

from overcast import errors
from overcast.errors import excerpt
from overcast.rest.routing import add_response_header

MIN_VERSION = (2, 1)
MAX_VERSION = (2, 79)
_VERSION = re.compile(r"^([1-9]\d*)\.([1-9]\d*|0)$")


class VersionNotAcceptable(errors.OvercastError):
    """The requested microversion is outside the supported range."""
    code = 406
    title = "notAcceptable"


def text(version: tuple[int, int]) -> str:
    return f"{version[0]}.{version[1]}"


def _requested(request: Request) -> str | None:
    header = request.headers.get("openstack-api-version")
    if header:
        for item in header.split(","):
            service, _, value = item.strip().partition(" ")
            if service.lower() == "compute":
                return value.strip()
    return request.headers.get("x-openstack-nova-api-version")


def negotiate(request: Request) -> tuple[int, int]:
    """The microversion of this request (2.1 when none is asked for)."""
    value = _requested(request)
    if value is None:
        version = MIN_VERSION
    elif value.lower() == "latest":
        version = MAX_VERSION
    else:
        match = _VERSION.match(value)
        if match is None:
            raise errors.BadRequest(f"API Version String {excerpt(value)} is of invalid format. "
                                    "Must be of format MajorNum.MinorNum.")
        version = (int(match.group(1)), int(match.group(2)))
        if not MIN_VERSION <= version <= MAX_VERSION:
            raise VersionNotAcceptable(
                f"Version {excerpt(value)} is not supported by the API. Minimum is "
                f"{text(MIN_VERSION)} and maximum is {text(MAX_VERSION)}.")
    request.state.microversion = version
    add_response_header(request, "OpenStack-API-Version", f"compute {text(version)}")
    add_response_header(request, "X-OpenStack-Nova-API-Version", text(version))
    add_response_header(request, "Vary", "OpenStack-API-Version, X-OpenStack-Nova-API-Version")
    return version


Version = Annotated[tuple[int, int], Depends(negotiate)]
