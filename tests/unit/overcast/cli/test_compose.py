"""What the compose stack is told: its project, ports and size, as compose variables, and its
secrets, as files for Compose ``secrets:``."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from overcast.cli import compose
from services.api.service import ApiConfig, catalog_endpoints


def test_variables_name_the_project_ports_and_size(tmp_path):
    cloud = compose.ComposeCloud(state_dir=tmp_path, project="overcast-test", hypervisors=5,
                                 api_port=18770, amqp_port=15673, object_port=18080,
                                 volume_port=18776)
    assert cloud.variables() == {
        "COMPOSE_PROJECT_NAME": "overcast-test",
        "OVERCAST_COMPOSE_DIR": str(compose.COMPOSE_FILE.parent.resolve()),
        "OVERCAST_SECRETS_DIR": str(tmp_path.resolve() / "secrets"),
        "OVERCAST_API_PORT": "18770", "OVERCAST_AMQP_PORT": "15673",
        "OVERCAST_HYPERVISORS": "5", "OVERCAST_OBJECT_STORAGE": "1",
        "OVERCAST_OBJECT_PORT": "18080", "OVERCAST_VOLUME_PORT": "18776",
        "OVERCAST_BACKUP_STORE_URL": "http://object-proxy:8080/v1/AUTH_%(project_id)s",
        "OVERCAST_RING_DIR": str(tmp_path.resolve() / "ring")}
    assert cloud.profiles() == []
    assert cloud.identity_url == "http://127.0.0.1:18770/identity/v3"
    assert cloud.volume_url == "http://127.0.0.1:18776"


def test_no_object_storage_and_a_fourth_storage_node():
    assert compose.ComposeCloud(storage_nodes=0).variables()["OVERCAST_OBJECT_STORAGE"] == "0"
    assert compose.ComposeCloud(storage_nodes=4).profiles() == ["storage-4"]


@pytest.mark.parametrize("nodes", [1, 2, 5])
def test_storage_nodes_are_none_or_one_per_replica(nodes):
    with pytest.raises(ValueError, match="storage nodes"):
        compose.ComposeCloud(storage_nodes=nodes)


def _prepare(tmp_path, monkeypatch, **kw):
    monkeypatch.setattr(compose, "ensure_plugin", lambda **_: None)
    monkeypatch.setattr(compose.images, "ensure_images", lambda **_: [])
    return compose.prepare(compose.ComposeCloud(state_dir=tmp_path, **kw), say=print)


def test_prepare_writes_secret_files_ring_and_env_file_privately(tmp_path, monkeypatch):
    cloud, secrets = _prepare(tmp_path, monkeypatch)
    assert cloud.ring_file.exists()
    files = {path.name: path for path in cloud.secrets_dir.iterdir()}
    assert set(files) == {"transport_url", "bus_signing_key", "admin_password",
                          "demo_password", "rabbitmq_definitions"}
    assert files["admin_password"].read_text() == secrets["admin_password"] + "\n"
    assert files["bus_signing_key"].read_text() == secrets["bus_signing_key"] + "\n"
    assert files["transport_url"].read_text() == (
        f"amqp://overcast:{secrets['rabbitmq_password']}@rabbitmq:5672/overcast\n")
    lines = Path(cloud.compose_env_file).read_text().splitlines()
    assert lines == [f"{key}={value}" for key, value in cloud.variables().items()]
    assert cloud.secrets_dir.stat().st_mode & 0o777 == 0o700
    for path in (*files.values(), cloud.compose_env_file):
        assert path.stat().st_mode & 0o777 == 0o600


def test_the_broker_definitions_hold_a_hash_not_the_password(tmp_path, monkeypatch):
    cloud, secrets = _prepare(tmp_path, monkeypatch)
    text = (cloud.secrets_dir / "rabbitmq_definitions").read_text()
    assert secrets["rabbitmq_password"] not in text
    definitions = json.loads(text)
    assert [u["name"] for u in definitions["users"]] == ["overcast"]
    assert definitions["permissions"] == [{"user": "overcast", "vhost": "overcast",
                                           "configure": ".*", "write": ".*", "read": ".*"}]


def test_an_api_env_file_from_an_older_version_is_removed(tmp_path, monkeypatch):
    (tmp_path / "api.env").write_text("OVERCAST_API_ADMIN_PASSWORD=old\n")
    _prepare(tmp_path, monkeypatch)
    assert not (tmp_path / "api.env").exists()


def test_the_host_tools_use_the_clouds_broker_user_not_guest(tmp_path, monkeypatch):
    cloud, secrets = _prepare(tmp_path, monkeypatch, amqp_port=15673)
    assert cloud.transport_url == (
        f"amqp://overcast:{secrets['rabbitmq_password']}@127.0.0.1:15673/overcast")


def _compose_yaml(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def test_the_bus_port_is_not_published_by_default():
    assert compose.ComposeCloud().compose_files() == [compose.COMPOSE_FILE]
    assert "ports" not in _compose_yaml(compose.COMPOSE_FILE)["services"]["rabbitmq"]


def test_the_bus_port_is_published_on_loopback_only_when_asked():
    assert compose.ComposeCloud(publish_bus=True).compose_files() == [
        compose.COMPOSE_FILE, compose.PUBLISH_BUS_FILE]
    ports = _compose_yaml(compose.PUBLISH_BUS_FILE)["services"]["rabbitmq"]["ports"]
    assert ports == ["127.0.0.1:${OVERCAST_AMQP_PORT:-5673}:5672"]


def test_no_secret_is_passed_in_an_environment_variable():
    """Service passwords were visible with docker inspect (an api.env ``env_file``)."""
    stack = _compose_yaml(compose.COMPOSE_FILE)
    for name, service in stack["services"].items():
        assert "env_file" not in service, name
        environment = service.get("environment") or {}
        for key in environment:
            assert not key.endswith(("PASSWORD", "TRANSPORT_URL", "SIGNING_KEY")), (name, key)
    assert set(stack["secrets"]) == set(compose.secret_files(
        {"rabbitmq_password": "p", "bus_signing_key": "k", "admin_password": "a",
         "demo_password": "d"}))


def _interpolated(value: str, variables: dict[str, str]) -> str:
    """``value`` with compose's ``${NAME:-default}`` (default when unset or empty) and
    ``${NAME-default}`` (default when unset) replaced as compose would."""
    def one(match: re.Match) -> str:
        name, colon, default = match.groups()
        given = variables.get(name)
        return default if given is None or (colon and not given) else given
    return re.sub(r"\$\{(\w+)(:?)-([^}]*)\}", one, value)


def test_the_volume_service_serves_cinder_on_its_port_with_the_shared_volumes():
    services = _compose_yaml(compose.COMPOSE_FILE)["services"]
    volume = services["volume"]
    assert volume["command"] == ["services.volume"]
    assert volume["ports"] == ["127.0.0.1:${OVERCAST_VOLUME_PORT:-8776}:8776"]
    env = volume["environment"]
    assert (env["OVERCAST_VOLUME_LISTEN"], env["OVERCAST_VOLUME_PORT"]) == ("0.0.0.0", "8776")
    assert env["OVERCAST_VOLUME_AUTH_URL"] == "http://api:8770/identity"
    assert env["OVERCAST_VOLUME_IMAGE_TARGET"] == "image:9292"
    backups = env["OVERCAST_VOLUME_OBJECT_STORE_URL"]
    assert _interpolated(backups, {}) == "http://object-proxy:8080/v1/AUTH_%(project_id)s"
    assert _interpolated(backups, compose.ComposeCloud().variables()) == (
        "http://object-proxy:8080/v1/AUTH_%(project_id)s")
    # No object storage, no proxy: no backup service rather than one that cannot work.
    assert _interpolated(backups, compose.ComposeCloud(storage_nodes=0).variables()) == ""
    assert "volumes:/var/lib/overcast-volumes" in volume["volumes"]
    assert "volume-data:/var/lib/overcast" in volume["volumes"]
    # Without object storage there is no proxy: the volume service must start regardless.
    assert "object-proxy" not in volume["depends_on"]
    # It works on files only: no capability, no device.
    assert not {"cap_add", "devices", "device_cgroup_rules", "privileged"} & set(volume)


def test_every_hypervisor_mounts_the_volumes_and_may_use_loop_devices_only():
    stack = _compose_yaml(compose.COMPOSE_FILE)
    hypervisor = stack["services"]["hypervisor"]
    volumes_dir = stack["services"]["volume"]["environment"]["OVERCAST_VOLUME_VOLUMES_DIR"]
    assert hypervisor["environment"]["OVERCAST_COMPUTE_VOLUMES_DIR"] == volumes_dir
    assert f"volumes:{volumes_dir}" in hypervisor["volumes"]
    assert "volumes" in stack["volumes"]
    assert hypervisor["devices"] == ["/dev/loop-control"]
    assert hypervisor["device_cgroup_rules"] == ["b 7:* rmw"]  # loop's major only
    assert "privileged" not in hypervisor


@pytest.mark.parametrize("storage_nodes", [0, 3])
def test_the_catalog_lists_block_storage_on_the_published_volume_port(storage_nodes):
    variables = compose.ComposeCloud(volume_port=18776, object_port=18080,
                                     storage_nodes=storage_nodes).variables()
    env = _compose_yaml(compose.COMPOSE_FILE)["services"]["api"]["environment"]
    extra = _interpolated(env["OVERCAST_API_EXTRA_ENDPOINTS"], variables)
    endpoints = catalog_endpoints(ApiConfig(extra_endpoints=extra))
    assert endpoints["block-storage"] == "http://127.0.0.1:18776/volume/v3"
    assert endpoints["volumev3"] == "http://127.0.0.1:18776/volume/v3"
    assert endpoints["object-store"] == "http://127.0.0.1:18080/v1/AUTH_%(project_id)s"


def test_ready_waits_for_the_volume_service_too(tmp_path, monkeypatch):
    cloud = compose.ComposeCloud(state_dir=tmp_path)
    monkeypatch.setattr(compose, "missing_hosts", lambda _c, _p: set())
    answers = iter(["volume API: connection refused", "cinder-volume is down", ""])
    asked = []

    def problem(_cloud, _passwords):
        asked.append(1)
        return next(answers)
    monkeypatch.setattr(compose, "volume_service_problem", problem)
    compose.wait_ready(cloud, {"admin_password": "x"}, timeout=10)
    assert len(asked) == 3
    monkeypatch.setattr(compose, "volume_service_problem",
                        lambda _c, _p: "cinder-volume is down")
    with pytest.raises(RuntimeError, match="cinder-volume is down"):
        compose.wait_ready(cloud, {"admin_password": "x"}, timeout=0)
