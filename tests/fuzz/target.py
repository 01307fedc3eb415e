"""What the properties send requests to: the test cloud's loopback URLs, its tokens, one HTTP
client, and the suite's Hypothesis settings."""
from __future__ import annotations

import dataclasses
import json as _json
import os
from typing import Any

import httpx
from hypothesis import HealthCheck, Phase, settings

from overcast.testing.cloud import TestCloud

_NO_BODY: Any = object()

# Every property: a fixed number of examples, a fixed seed and no example database, so CI
# replays the same requests on every run; the deadline bounds one example (the request and
# the checks after it) on a busy machine.
# OVERCAST_FUZZ_SHRINK=0 skips shrinking (quicker while hunting, rougher examples).
_PHASES = tuple(Phase) if os.environ.get("OVERCAST_FUZZ_SHRINK", "1") != "0" else (
    Phase.explicit, Phase.reuse, Phase.generate)
FUZZ = settings(max_examples=40, deadline=20_000, derandomize=True, database=None,
                print_blob=False, phases=_PHASES,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.filter_too_much])


# OVERCAST_FUZZ_SCALE=N runs N times as many examples (a longer hunt; CI keeps 1).
_SCALE = float(os.environ.get("OVERCAST_FUZZ_SCALE", "1"))


def examples(count: int) -> settings:
    """The suite's settings with ``count`` examples (times ``OVERCAST_FUZZ_SCALE``)."""
    return settings(FUZZ, max_examples=max(1, round(count * _SCALE)))


@dataclasses.dataclass(repr=False)
class Cloud:
    """A running test cloud as the fuzzer sees it."""

    api_url: str          # identity, compute, image and network, each under its prefix
    object_url: str       # the Swift proxy
    volume_url: str       # the volume service (Cinder's /volume/v3) on its own port
    # "admin", "member", "unscoped", "garbage", "non-ascii" (raw UTF-8 bytes), "none"
    tokens: dict[str, str | bytes | None]
    projects: dict[str, str]       # "admin", "member" -> project id
    user_ids: dict[str, str]
    http: httpx.Client

    def __repr__(self) -> str:  # falsifying examples print it: no tokens there
        return f"Cloud({self.api_url}, {self.object_url}, {self.volume_url})"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        """How Hypothesis prints a falsifying example (else it lists every field, the
        tokens too)."""
        printer.text(repr(self))

    def url(self, path: str) -> str:
        """The absolute URL of ``path`` (``/v1/...`` and ``/info`` go to the Swift proxy,
        ``/volume...`` to the volume service)."""
        if path.startswith(("/v1", "/info", "/healthcheck", "/auth/v1.0")):
            return self.object_url + path
        if path.startswith("/volume"):
            return self.volume_url + path
        return self.api_url + path

    def request(self, method: str, path: str, *, token: str | None = "admin",
                headers: dict[str, Any] | None = None, json: Any = _NO_BODY,
                **kwargs: Any) -> httpx.Response:
        """Send one request; ``token`` names one of ``tokens`` (None: no X-Auth-Token).
        ``json`` is sent ASCII-escaped, so a lone surrogate travels as ``\\ud800``."""
        sent = dict(headers or {})
        if json is not _NO_BODY:
            kwargs["content"] = _json.dumps(json).encode()
            sent.setdefault("Content-Type", "application/json")
        value = self.tokens.get(token) if token else None
        if value is not None:
            sent.setdefault("X-Auth-Token", value)
        try:
            return self.http.request(method, self.url(path), headers=sent, **kwargs)
        except httpx.TransportError as exc:
            # A dropped connection is how a crashed handler shows: a failure, never a skip.
            raise AssertionError(f"{method} {path}: the connection failed: {exc!r}") from exc

    def close(self) -> None:
        self.http.close()


def _unscoped_token(api_url: str, name: str, password: str) -> str:
    body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": name, "domain": {"id": "default"}, "password": password}}}}}
    response = httpx.post(f"{api_url}/identity/v3/auth/tokens", json=body, timeout=30)
    response.raise_for_status()
    return response.headers["X-Subject-Token"]


def connect(test_cloud: TestCloud) -> Cloud:
    """Log in as the cloud's admin and demo users; only loopback URLs of this cloud."""
    api_url, object_url = test_cloud.cloud.api_url, test_cloud.cloud.object_url
    volume_url = test_cloud.volume_url
    assert all(url.startswith("http://127.0.0.1:") for url in (api_url, object_url, volume_url))
    tokens: dict[str, str | bytes | None] = {"none": None, "garbage": "gAAAAA-not-a-token",
                                             "non-ascii": "tökén-☃".encode()}
    projects, users = {}, {}
    for role, cloud in (("admin", "overcast-admin"), ("member", "overcast-demo")):
        conn = test_cloud.connect(cloud)
        tokens[role] = conn.auth_token
        projects[role] = conn.current_project_id
        users[role] = conn.current_user_id
        conn.close()
    tokens["unscoped"] = _unscoped_token(api_url, "demo", test_cloud.passwords["demo_password"])
    return Cloud(api_url=api_url, object_url=object_url, volume_url=volume_url,
                 tokens=tokens, projects=projects,
                 user_ids=users, http=httpx.Client(timeout=60))
