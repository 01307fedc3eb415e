"""A process-mode cloud hands its processes secrets as files, never in their environment."""
from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

import pytest

from overcast.cli import local, main


@pytest.fixture
def cloud(tmp_path):
    return local.LocalCloud(state_dir=tmp_path, transport_url="amqp://u:s3cret-pw@127.0.0.1/v")


def test_a_process_gets_the_broker_url_and_the_key_as_files(cloud, monkeypatch):
    monkeypatch.setenv("OVERCAST_TRANSPORT_URL", "amqp://guest:guest@elsewhere/")
    monkeypatch.setenv("OVERCAST_API_TRANSPORT_URL", "amqp://guest:guest@elsewhere/")
    monkeypatch.setenv("OVERCAST_BUS_SIGNING_KEY", "an-inherited-key")
    monkeypatch.setenv("OVERCAST_API_ADMIN_PASSWORD", "an-inherited-password")
    monkeypatch.setenv("OVERCAST_LOG_LEVEL", "DEBUG")
    started = {}

    class Recorder:
        pid = 4242

        def __init__(self, args, *, env, **_):
            started.update(env)

    monkeypatch.setattr(local.subprocess, "Popen", Recorder)
    passwords = {"admin_password": "adm-pw", "demo_password": "demo-pw"}
    local.start_process(cloud, "api", "services.api", cloud.api_password_env(passwords))
    leaked = [k for k, v in started.items()
              if any(secret in v for secret in ("s3cret-pw", "adm-pw", "demo-pw",
                                                cloud.bus_signing_key()))]
    assert leaked == []
    # What the caller's environment held must not shadow the files; other settings pass.
    for shadow in ("OVERCAST_TRANSPORT_URL", "OVERCAST_API_TRANSPORT_URL",
                   "OVERCAST_BUS_SIGNING_KEY", "OVERCAST_API_ADMIN_PASSWORD"):
        assert shadow not in started
    assert started["OVERCAST_LOG_LEVEL"] == "DEBUG"
    files = {k: v for k, v in started.items() if k.startswith("OVERCAST_") and k.endswith("_FILE")}
    assert set(files) == {"OVERCAST_TRANSPORT_URL_FILE", "OVERCAST_BUS_SIGNING_KEY_FILE",
                          "OVERCAST_API_ADMIN_PASSWORD_FILE", "OVERCAST_API_DEMO_PASSWORD_FILE"}
    assert Path(files["OVERCAST_TRANSPORT_URL_FILE"]).read_text() == cloud.transport_url
    assert Path(files["OVERCAST_API_ADMIN_PASSWORD_FILE"]).read_text() == "adm-pw"
    for path in files.values():
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_the_printed_clouds_yaml_masks_its_passwords(tmp_path, capsys, monkeypatch):
    text = "clouds:\n  a:\n    auth:\n      username: admin\n      password: hunter2\n"
    monkeypatch.setattr(main.console, "file", sys.stdout)
    main._show_clouds_yaml(tmp_path / "clouds.yaml", text)
    out = capsys.readouterr().out
    assert "hunter2" not in out
    assert "password: <in the file>" in out and "username: admin" in out
