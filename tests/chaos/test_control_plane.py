"""Chaos on the control plane: the conductor, scheduler and api killed while boots are in
flight, and RabbitMQ restarted. No server stays in BUILD, and none the API accepted is lost."""
from __future__ import annotations

import concurrent.futures
import time

from overcast.cli import local
from overcast.testing import wait_until
from overcast.testing.stack import HOSTS, back_in_pool


def _boot_many(conn, prefix, count, *, deadline):
    """Boot one server at a time until ``count`` were accepted or time runs out; the ids the
    API acknowledged (202) are returned, the refusals (5xx while a service is down) counted."""
    image = conn.image.find_image("cirros")
    accepted, refused = [], 0
    index = 0
    while len(accepted) < count and time.monotonic() < deadline:
        try:
            server = conn.compute.create_server(name=f"{prefix}-{index}", image_id=image.id,
                                                flavor_id="1", networks="auto")
            accepted.append(server.id)
        except Exception:  # noqa: BLE001 - a refused request is allowed; a lost one is not
            refused += 1
            time.sleep(0.2)
        index += 1
    return accepted, refused


def _settle(conn, ids, timeout=180):
    def done():
        servers = {s.id: s for s in conn.compute.servers(details=True)}
        if any(i not in servers for i in ids):
            missing = [i for i in ids if i not in servers]
            raise AssertionError(f"accepted servers lost: {missing}")
        states = {i: servers[i] for i in ids}
        return None if any(s.status == "BUILD" for s in states.values()) else states
    return wait_until(done, timeout=timeout, interval=1)


def test_kill_conductor_scheduler_api_during_boots(cloud, conn, watch):
    for host in HOSTS:
        watch.wait(host, back_in_pool, timeout=60)
    deadline = time.monotonic() + 90
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        booting = pool.submit(_boot_many, cloud.connect(), "flight", 30, deadline=deadline)
        for target in ("conductor", "scheduler", "api"):
            time.sleep(2)
            cloud.kill(target)
            time.sleep(1)
            cloud.start(target)
        accepted, refused = booting.result()
    cloud.wait_api()
    assert len(accepted) >= 10, (len(accepted), refused)
    final = _settle(cloud.connect(), accepted)
    for server in final.values():
        assert server.status in ("ACTIVE", "ERROR"), (server.id, server.status)
        if server.status == "ERROR":
            assert server.fault and server.fault.get("message")
    for server_id in accepted:
        cloud.connect().compute.delete_server(server_id)


def test_rabbitmq_restart_services_reconnect_and_boot(cloud, conn, watch):
    # guest/guest is back, as in a rabbitmq-data volume from an older stack: a start deletes it.
    cloud.rabbitmqctl("add_user", "guest", "guest")
    cloud.rabbitmqctl("set_permissions", "-p", "overcast", "guest", ".*", ".*", ".*")
    cloud.restart("rabbitmq")
    cloud.wait_api()
    for host in HOSTS:
        watch.wait(host, back_in_pool, timeout=120)
    fresh = cloud.connect()
    image = fresh.image.find_image("cirros")
    fresh.compute.create_server(name="after-restart", image_id=image.id, flavor_id="1",
                                networks="auto", min_count=3, max_count=3)
    servers = wait_until(lambda: (s := [x for x in fresh.compute.servers(details=True)
                                        if x.name.startswith("after-restart")])
                         and all(x.status != "BUILD" for x in s) and s, timeout=60)
    assert {s.status for s in servers} == {"ACTIVE"}
    assert not local.broker_reachable(
        f"amqp://guest:guest@127.0.0.1:{cloud.stack.amqp_port}/overcast", timeout=3)
