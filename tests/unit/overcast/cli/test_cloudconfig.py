"""The cloud's secrets: generated once, kept private, and completed for older clouds."""
from __future__ import annotations

import json

from overcast.cli import cloudconfig


def test_secrets_are_generated_once_and_kept_private(tmp_path):
    first = cloudconfig.load_or_create_secrets(tmp_path)
    assert set(first) == {"admin_password", "demo_password", "rabbitmq_password",
                          "bus_signing_key"}
    assert cloudconfig.load_or_create_secrets(tmp_path) == first
    assert (tmp_path / "secrets.json").stat().st_mode & 0o777 == 0o600


def test_a_secrets_file_of_an_older_cloud_gets_the_missing_keys(tmp_path):
    (tmp_path / "secrets.json").write_text(json.dumps(
        {"admin_password": "old-admin", "demo_password": "old-demo"}))
    values = cloudconfig.load_or_create_secrets(tmp_path)
    assert values["admin_password"] == "old-admin"
    assert values["demo_password"] == "old-demo"
    assert len(values["rabbitmq_password"]) >= 24
    assert len(values["bus_signing_key"]) >= 32
    assert json.loads((tmp_path / "secrets.json").read_text()) == values
