"""The volume service seen from the host: its own service rows (``cinder-volume``,
``cinder-backup``), read from its Cinder API (``GET /volume/v3/os-services``) as admin.

The volume process keeps its heartbeats itself (not the conductor), so ``overcast status``
and the health waits of ``overcast up`` and ``OvercastCloud`` ask it over REST.
"""
from __future__ import annotations

from collections.abc import Mapping

import httpx

# The service that must be up for the cloud to count as healthy: backups (cinder-backup)
# may be down by design, in a cloud without object storage.
REQUIRED_BINARY = "cinder-volume"


def admin_token(client: httpx.Client, identity_url: str, passwords: Mapping[str, str]) -> str:
    """A token of the cloud's admin on the admin project (``identity_url`` ends in /v3)."""
    auth = client.post(f"{identity_url}/auth/tokens", json={"auth": {
        "identity": {"methods": ["password"], "password": {"user": {
            "name": "admin", "domain": {"name": "Default"},
            "password": passwords["admin_password"]}}},
        "scope": {"project": {"name": "admin", "domain": {"name": "Default"}}}}})
    auth.raise_for_status()
    return auth.headers["X-Subject-Token"]


def service_states(*, identity_url: str, volume_url: str, passwords: Mapping[str, str],
                   timeout: float = 5.0) -> list[dict]:
    """The volume service's rows as Cinder shows them (binary, host, zone, status, state,
    updated_at); raises ``httpx.HTTPError`` when the API does not answer them."""
    with httpx.Client(timeout=timeout) as client:
        token = admin_token(client, identity_url, passwords)
        answer = client.get(f"{volume_url}/volume/v3/os-services",
                            headers={"X-Auth-Token": token})
        answer.raise_for_status()
        return answer.json()["services"]


def not_up(services: list[dict]) -> str:
    """Why the volume service does not count as up ("" when its ``cinder-volume`` is up)."""
    states = [s.get("state") for s in services if s.get("binary") == REQUIRED_BINARY]
    if not states:
        return f"the volume service has no {REQUIRED_BINARY} yet"
    if "up" not in states:
        return f"{REQUIRED_BINARY} is {', '.join(sorted(map(str, states)))}"
    return ""


def problem(*, identity_url: str, volume_url: str, passwords: Mapping[str, str]) -> str:
    """"" once the volume API answers and its ``cinder-volume`` is up; else what is wrong."""
    try:
        return not_up(service_states(identity_url=identity_url, volume_url=volume_url,
                                     passwords=passwords))
    except Exception as exc:  # noqa: BLE001 - not up yet, whatever the reason
        return f"volume API: {str(exc) or type(exc).__name__}"
