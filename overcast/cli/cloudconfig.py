"""Credentials of a local cloud, and the ``clouds.yaml`` the stock clients read."""
from __future__ import annotations

import json
import os
import secrets
from collections.abc import Callable
from pathlib import Path

import yaml

# Every secret of a cloud, with how a new one is made. A key missing from an existing
# secrets file (a cloud made by an older version) is generated and added, and the rest kept.
SECRET_FACTORIES: dict[str, Callable[[], str]] = {
    "admin_password": lambda: secrets.token_urlsafe(12),
    "demo_password": lambda: secrets.token_urlsafe(12),
    "rabbitmq_password": lambda: secrets.token_urlsafe(24),
    "bus_signing_key": lambda: secrets.token_urlsafe(32),
}


def load_or_create_secrets(state_dir: Path) -> dict[str, str]:
    """The cloud's passwords and keys (``SECRET_FACTORIES``), generated once and kept (mode
    0600) in the state dir; keys an older file lacks are added to it."""
    path = state_dir / "secrets.json"
    values = json.loads(path.read_text()) if path.exists() else {}
    missing = {key: make() for key, make in SECRET_FACTORIES.items() if key not in values}
    if not missing:
        return values
    values = {**values, **missing}
    state_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(values, handle)
    return values


def clouds_yaml(*, auth_url: str, passwords: dict[str, str], prefix: str = "overcast"
                ) -> str:
    clouds = {}
    for role, user, project in (("admin", "admin", "admin"), ("demo", "demo", "demo")):
        clouds[f"{prefix}-{role}"] = {
            "auth": {"auth_url": auth_url, "username": user,
                     "password": passwords[f"{role}_password"], "project_name": project,
                     "user_domain_name": "Default", "project_domain_name": "Default"},
            "region_name": "RegionOne", "interface": "public", "identity_api_version": 3}
    return yaml.safe_dump({"clouds": clouds}, sort_keys=False)


def write_clouds_yaml(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
