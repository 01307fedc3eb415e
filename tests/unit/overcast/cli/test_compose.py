"""What the compose stack is told: its project, ports and size, as compose variables."""
from __future__ import annotations

from pathlib import Path

import pytest

from overcast.cli import compose


def test_variables_name_the_project_ports_and_size(tmp_path):
    cloud = compose.ComposeCloud(state_dir=tmp_path, project="overcast-test", hypervisors=5,
                                 api_port=18770, amqp_port=15673, object_port=18080)
    assert cloud.variables() == {
        "COMPOSE_PROJECT_NAME": "overcast-test",
        "OVERCAST_API_ENV_FILE": str(tmp_path.resolve() / "api.env"),
        "OVERCAST_API_PORT": "18770", "OVERCAST_AMQP_PORT": "15673",
        "OVERCAST_HYPERVISORS": "5", "OVERCAST_OBJECT_STORAGE": "1",
        "OVERCAST_OBJECT_PORT": "18080",
        "OVERCAST_RING_DIR": str(tmp_path.resolve() / "ring")}
    assert cloud.profiles() == []
    assert cloud.identity_url == "http://127.0.0.1:18770/identity/v3"


def test_no_object_storage_and_a_fourth_storage_node():
    assert compose.ComposeCloud(storage_nodes=0).variables()["OVERCAST_OBJECT_STORAGE"] == "0"
    assert compose.ComposeCloud(storage_nodes=4).profiles() == ["storage-4"]


@pytest.mark.parametrize("nodes", [1, 2, 5])
def test_storage_nodes_are_none_or_one_per_replica(nodes):
    with pytest.raises(ValueError, match="storage nodes"):
        compose.ComposeCloud(storage_nodes=nodes)


def test_prepare_writes_passwords_ring_and_env_file_privately(tmp_path, monkeypatch):
    monkeypatch.setattr(compose, "ensure_plugin", lambda **_: None)
    monkeypatch.setattr(compose.images, "ensure_images", lambda **_: [])
    cloud, passwords = compose.prepare(compose.ComposeCloud(state_dir=tmp_path), say=print)
    assert cloud.ring_file.exists()
    assert f"OVERCAST_API_ADMIN_PASSWORD={passwords['admin_password']}" in \
        cloud.env_file.read_text()
    lines = Path(cloud.compose_env_file).read_text().splitlines()
    assert lines == [f"{key}={value}" for key, value in cloud.variables().items()]
    for path in (cloud.env_file, cloud.compose_env_file):
        assert path.stat().st_mode & 0o777 == 0o600
