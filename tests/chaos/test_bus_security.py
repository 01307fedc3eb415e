"""The stack's bus is its own: the broker takes only the cloud's generated credentials, its
port is published only when asked for (on loopback), and no container shows a secret.

What broke: the compose RabbitMQ accepted guest/guest on the host's 127.0.0.1:5673, the port
was always published, and the api's passwords were in its environment (``docker inspect``).
"""
from __future__ import annotations

import json
from urllib.parse import urlsplit

from overcast.cli import cloudconfig, compose, local


def guest_url(cloud) -> str:
    return f"amqp://guest:guest@127.0.0.1:{cloud.stack.amqp_port}/"


def test_the_broker_refuses_guest_and_unknown_users_and_takes_the_clouds_own(cloud):
    port = cloud.stack.amqp_port
    assert urlsplit(cloud.bus_url).username == "overcast"
    assert local.broker_reachable(cloud.bus_url)
    assert not local.broker_reachable(guest_url(cloud), timeout=3)
    assert not local.broker_reachable(f"amqp://guest:guest@127.0.0.1:{port}/overcast",
                                      timeout=3)
    assert not local.broker_reachable(f"amqp://mallory:guest@127.0.0.1:{port}/overcast",
                                      timeout=3)
    users = cloud.rabbitmqctl("-q", "list_users")
    assert "guest" not in users.split()


def test_no_secret_in_docker_inspect_of_any_container(cloud):
    values = list(cloudconfig.load_or_create_secrets(cloud.stack.state_dir).values())
    containers = cloud.client.containers.list(
        all=True, filters={"label": f"com.docker.compose.project={cloud.project}"})
    assert len(containers) >= 10
    for container in containers:
        seen = json.dumps({"env": container.attrs["Config"].get("Env"),
                           "cmd": container.attrs["Config"].get("Cmd"),
                           "entrypoint": container.attrs["Config"].get("Entrypoint"),
                           "args": container.attrs.get("Args"),
                           "labels": container.attrs["Config"].get("Labels")})
        leaked = [value[:4] + "..." for value in values if value in seen]
        assert not leaked, f"{container.name} shows secrets in docker inspect: {leaked}"


def test_the_bus_port_is_published_on_loopback_only_and_not_by_default(cloud):
    ports = cloud.container("rabbitmq").attrs["NetworkSettings"]["Ports"]["5672/tcp"]
    assert [(p["HostIp"], int(p["HostPort"])) for p in ports] == [
        ("127.0.0.1", cloud.stack.amqp_port)]  # the test cloud asks for it
    unpublished = compose.ComposeCloud(state_dir=cloud.stack.state_dir,
                                       project=cloud.project)
    config = json.loads(unpublished.compose("config", "--format", "json",
                                            capture=True).stdout)
    assert not config["services"]["rabbitmq"].get("ports")
