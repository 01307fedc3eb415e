"""Credentials of a local cloud, and the ``clouds.yaml`` the stock clients read."""
from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

import yaml

# Each secret of a cloud, and how a new one is made.
_SECRETS = {"admin_password": lambda: secrets.token_urlsafe(12),
            "demo_password": lambda: secrets.token_urlsafe(12),
            "rabbitmq_password": lambda: secrets.token_urlsafe(24),
            "bus_signing_key": lambda: secrets.token_urlsafe(32)}


def load_or_create_secrets(state_dir: Path) -> dict[str, str]:
    """The cloud's secrets (admin and demo passwords, broker password, bus signing key),
    generated once and kept (mode 0600) in the state dir. A secrets file from before a
    secret existed gets it added and is rewritten, so an upgraded cloud keeps its
    passwords."""
    path = state_dir / "secrets.json"
    values = json.loads(path.read_text()) if path.exists() else {}
    missing = {name: make() for name, make in _SECRETS.items() if name not in values}
    if missing:
        values.update(missing)
        state_dir.mkdir(parents=True, exist_ok=True)
        write_private(path, json.dumps(values))
    return values


def write_private(path: Path, text: str) -> None:
    """Replace ``path`` with ``text``, readable by this user only (mode 0600); a crash leaves
    the old file or the new one whole, never a truncated secret."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def clouds_yaml(*, auth_url: str, passwords: dict[str, str], prefix: str = "overcast"
                ) -> str:
    """Clouds ``<prefix>-admin`` and ``<prefix>-demo`` (project-scoped), and
    ``<prefix>-system``: the admin user with a system-scoped token, for the identity admin
    API as Keystone's system administrators use it."""
    def entry(user: str, scope: dict[str, str]) -> dict[str, object]:
        return {"auth": {"auth_url": auth_url, "username": user,
                         "password": passwords[f"{user}_password"],
                         "user_domain_name": "Default", **scope},
                "region_name": "RegionOne", "interface": "public", "identity_api_version": 3}

    project_scope = {"project_domain_name": "Default"}
    clouds = {
        f"{prefix}-admin": entry("admin", {"project_name": "admin", **project_scope}),
        f"{prefix}-demo": entry("demo", {"project_name": "demo", **project_scope}),
        f"{prefix}-system": entry("admin", {"system_scope": "all"}),
    }
    return yaml.safe_dump({"clouds": clouds}, sort_keys=False)


def write_clouds_yaml(path: Path, text: str) -> None:
    """``clouds.yaml`` holds the passwords: written as every other secret is."""
    write_private(path, text)
