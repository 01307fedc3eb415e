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


def test_the_volume_service_shares_its_volumes_dir_with_every_hypervisor(tmp_path):
    cloud = local.LocalCloud(state_dir=tmp_path, hosts=2, volume_port=18776, api_port=18770,
                             image_port=19292)
    procs = cloud.processes()
    module, env = procs["volume"]
    assert module == "services.volume"
    assert env["OVERCAST_VOLUME_PORT"] == "18776"
    assert env["OVERCAST_VOLUME_PUBLIC_URL"] == "http://127.0.0.1:18776" == cloud.volume_url
    assert env["OVERCAST_VOLUME_AUTH_URL"] == "http://127.0.0.1:18770/identity"
    assert env["OVERCAST_VOLUME_IMAGE_TARGET"] == "127.0.0.1:19292"
    assert env["OVERCAST_VOLUME_VOLUMES_DIR"] == str(tmp_path / "volumes")
    for host in ("hypervisor-1", "hypervisor-2"):
        assert procs[host][1]["OVERCAST_COMPUTE_VOLUMES_DIR"] == str(tmp_path / "volumes")


def _catalog(cloud: local.LocalCloud) -> dict[str, str]:
    from services.api.service import ApiConfig, catalog_endpoints
    extra = cloud.processes()["api"][1]["OVERCAST_API_EXTRA_ENDPOINTS"]
    return catalog_endpoints(ApiConfig(extra_endpoints=extra))


def test_backups_go_to_the_local_proxy_only_when_object_storage_runs(tmp_path):
    plain = local.LocalCloud(state_dir=tmp_path, volume_port=18776)
    assert "OVERCAST_VOLUME_OBJECT_STORE_URL" not in plain.processes()["volume"][1]
    assert _catalog(plain)["block-storage"] == "http://127.0.0.1:18776/volume/v3"
    assert _catalog(plain)["volumev3"] == "http://127.0.0.1:18776/volume/v3"
    assert "object-store" not in _catalog(plain)
    stored = local.LocalCloud(state_dir=tmp_path, storage_nodes=3, object_port=18080)
    assert stored.processes()["volume"][1]["OVERCAST_VOLUME_OBJECT_STORE_URL"] == (
        "http://127.0.0.1:18080/v1/AUTH_%(project_id)s")
    assert _catalog(stored)["object-store"] == "http://127.0.0.1:18080/v1/AUTH_%(project_id)s"
    assert _catalog(stored)["block-storage"] == "http://127.0.0.1:8776/volume/v3"


class Spawned:
    """Records what ``subprocess.Popen`` was asked to start, and answers pids."""

    def __init__(self) -> None:
        self.starts: list[tuple[list[str], dict[str, str]]] = []

    def __call__(self, args, *, env, **_):
        self.starts.append((args, env))
        recorder = type("Proc", (), {})()
        recorder.pid = 999_999_000 + len(self.starts)  # no such process: not alive
        return recorder


def test_a_killed_process_starts_again_as_it_was_started(cloud, monkeypatch):
    spawned = Spawned()
    monkeypatch.setattr(local.subprocess, "Popen", spawned)
    module, env = cloud.processes()["volume"]
    local.start_process(cloud, "volume", module, {**env, "OVERCAST_VOLUME_X": "1"})
    local.stop_process(cloud, "volume")  # already gone: only the pid file goes
    # A chaos tool knows the state dir only: not the ports nor the broker.
    stranger = local.LocalCloud(state_dir=cloud.state_dir)
    pid = local.start_again(stranger, "volume")
    (first_args, first_env), (again_args, again_env) = spawned.starts
    assert again_args == first_args and again_env == first_env
    assert again_env["OVERCAST_VOLUME_X"] == "1"
    assert local.read_pids(cloud)["volume"] == pid
    # The secret files were not rewritten with the stranger's default broker.
    assert Path(again_env["OVERCAST_TRANSPORT_URL_FILE"]).read_text() == cloud.transport_url
    assert stat.S_IMODE(os.stat(local.launch_file(cloud, "volume")).st_mode) == 0o600


def test_start_again_refuses_what_never_ran_or_still_runs(cloud, monkeypatch):
    with pytest.raises(LookupError, match="volume"):
        local.start_again(cloud, "volume")
    spawned = Spawned()
    monkeypatch.setattr(local.subprocess, "Popen", spawned)
    local.start_process(cloud, "volume", "services.volume", {})
    (cloud.run_dir() / "volume.pid").write_text(str(os.getpid()))  # alive
    with pytest.raises(RuntimeError, match="running"):
        local.start_again(cloud, "volume")
    assert len(spawned.starts) == 1


def test_chaos_starts_a_stopped_volume_process_again(cloud, monkeypatch):
    from overcast.cli import chaos
    spawned = Spawned()
    monkeypatch.setattr(local.subprocess, "Popen", spawned)
    module, env = cloud.processes()["volume"]
    local.start_process(cloud, "volume", module, env)
    target = chaos.LocalChaos(cloud.state_dir)
    target.kill("volume")
    assert "volume" not in local.read_pids(cloud)
    target.start("volume")
    assert "volume" in local.read_pids(cloud)
    target.restart("volume")
    assert [args for args, _ in spawned.starts] == [[sys.executable, "-m", module]] * 3
