"""The cloud's secrets file: generated once, completed when a secret is added, kept private."""
from __future__ import annotations

import json
import stat

from overcast.cli import cloudconfig


def _mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_cloud_gets_every_secret_in_a_private_file(tmp_path):
    values = cloudconfig.load_or_create_secrets(tmp_path)
    assert set(values) >= {"admin_password", "demo_password", "rabbitmq_password",
                           "bus_signing_key"}
    assert len(values["rabbitmq_password"]) >= 32
    assert len(values["bus_signing_key"]) >= 40
    assert _mode(tmp_path / "secrets.json") == 0o600
    assert cloudconfig.load_or_create_secrets(tmp_path) == values


def test_a_secrets_file_without_bus_key_or_broker_password_gets_them_keeps_the_rest(tmp_path):
    path = tmp_path / "secrets.json"
    path.write_text(json.dumps({"admin_password": "a", "demo_password": "d"}))
    path.chmod(0o644)
    values = cloudconfig.load_or_create_secrets(tmp_path)
    assert values["admin_password"] == "a"
    assert values["demo_password"] == "d"
    assert values["bus_signing_key"]
    assert values["rabbitmq_password"]
    assert json.loads(path.read_text()) == values
    assert _mode(path) == 0o600

