"""The volume service's edge against a real cloud: tokens with no project are refused, a
revoked token stops working at once (identity's revocation events reach the volume process
over the bus), and the token a backup moves bytes with is never logged or stored.

A process-mode cloud with object storage (backups go to its Swift API), on its own vhost of
the host's RabbitMQ.
"""
from __future__ import annotations

import time

import httpx
import pytest

from overcast.testing import wait_until
from overcast.testing.cloud import running_cloud

# The promise: a revoked token is refused by every API within a second.
REVOCATION_DEADLINE = 1.0


@pytest.fixture(scope="module")
def cloud():
    with running_cloud(hosts=1, storage_nodes=3) as test_cloud:
        yield test_cloud


def _token(identity: str, password: str, scope: dict | None) -> str:
    body: dict = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": "demo", "domain": {"id": "default"}, "password": password}}}}}
    if scope is not None:
        body["auth"]["scope"] = scope
    response = httpx.post(f"{identity}/auth/tokens", json=body, timeout=30)
    assert response.status_code == 201, response.text
    return response.headers["X-Subject-Token"]


def test_volume_api_tokens_scope_revocation_and_backup_secrets(cloud):
    identity = f"{cloud.cloud.api_url}/identity/v3"
    api = f"{cloud.volume_url}/volume/v3"
    http = httpx.Client(timeout=30)
    password = cloud.passwords["demo_password"]
    project = {"project": {"name": "demo", "domain": {"id": "default"}}}

    # No project, no volumes: unscoped and domain-scoped tokens are 403 (not an empty list).
    for scope in (None, {"domain": {"id": "default"}}):
        response = http.get(f"{api}/volumes",
                            headers={"X-Auth-Token": _token(identity, password, scope)})
        assert response.status_code == 403, response.text
        assert response.json()["forbidden"]["code"] == 403

    # A backup made with a fresh token, which the volume service hands to the object store.
    token = _token(identity, password, project)
    headers = {"X-Auth-Token": token}
    made = http.post(f"{api}/volumes", headers=headers,
                     json={"volume": {"size": 1, "name": "secret-keeper"}})
    assert made.status_code == 202, made.text
    volume_id = made.json()["volume"]["id"]
    wait_until(lambda: http.get(f"{api}/volumes/{volume_id}", headers=headers)
               .json()["volume"]["status"] == "available", timeout=60)
    backup = http.post(f"{api}/backups", headers=headers,
                       json={"backup": {"volume_id": volume_id, "name": "b"}})
    assert backup.status_code == 202, backup.text
    backup_id = backup.json()["backup"]["id"]
    shown = wait_until(lambda: (b := http.get(f"{api}/backups/{backup_id}", headers=headers)
                                .json()["backup"])["status"] in ("available", "error") and b,
                       timeout=90)
    assert shown["status"] == "available", shown
    # The token is in no process's log, and not in the volume service's database.
    for name in cloud.cloud.processes():
        assert token not in cloud.log(name), f"{name}'s log holds the user's token"
    database = cloud.cloud.state_dir / "volume" / "volume.db"
    assert database.is_file() and token.encode() not in database.read_bytes()

    # Revoked: refused at once, although the volume service had cached its validation
    # (it caches only while subscribed to identity's revocation events).
    wait_until(lambda: "subscribed to token revocations" in cloud.log("volume"))
    assert http.get(f"{api}/volumes", headers=headers).status_code == 200
    revoked = http.delete(f"{identity}/auth/tokens",
                          headers={"X-Auth-Token": token, "X-Subject-Token": token})
    assert revoked.status_code == 204
    start = time.monotonic()
    wait_until(lambda: http.get(f"{api}/volumes", headers=headers).status_code == 401,
               timeout=REVOCATION_DEADLINE, interval=0.02,
               message="the revoked token was still accepted by the volume API")
    assert time.monotonic() - start <= REVOCATION_DEADLINE
    assert "dropped 1 cached token(s) revoked by identity" in cloud.log("volume")
    http.close()
