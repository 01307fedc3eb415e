"""Faults the foundation must survive: a scheduler killed mid-boot, and spawn failures."""
from __future__ import annotations

import collections

import pytest

from overcast.testing import wait_until
from overcast.testing.cloud import running_cloud


def _boot(conn, name, count=1):
    image = conn.image.find_image("cirros")
    flavor = conn.compute.find_flavor("m1.tiny")
    body = {"name": name, "image_id": image.id, "flavor_id": flavor.id, "networks": "auto"}
    if count > 1:
        body.update(min_count=count, max_count=count)
    conn.compute.create_server(**body)
    # The API answers only after the conductor has recorded every instance.
    assert len(_statuses(conn, name)) == count


def _statuses(conn, prefix):
    return {s.id: s.status for s in conn.compute.servers() if s.name.startswith(prefix)}


def _assert_each_once_on_its_host(cloud, conn, prefix):
    """Every ACTIVE server runs on exactly one host: the one the conductor records."""
    guests = cloud.host_guests()
    where = collections.defaultdict(list)
    for host, ids in guests.items():
        for instance_id in ids:
            where[instance_id].append(host)
    for server in conn.compute.servers(details=True):
        if not server.name.startswith(prefix) or server.status != "ACTIVE":
            continue
        assert where[server.id] == [server.compute_host], (server.id, where[server.id])


def test_scheduler_killed_mid_boot_then_restarted():
    with running_cloud(hosts=2) as cloud:
        conn = cloud.connect()
        cloud.kill("scheduler")
        _boot(conn, "sched-kill", count=4)
        assert set(_statuses(conn, "sched-kill").values()) == {"BUILD"}
        cloud.restart("scheduler")
        final = wait_until(
            lambda: (s := _statuses(conn, "sched-kill")) and "BUILD" not in s.values() and s,
            timeout=60)
        assert set(final.values()) == {"ACTIVE"}, final
        _assert_each_once_on_its_host(cloud, conn, "sched-kill")
        conn.close()


def test_spawn_failure_reschedules_then_errors_with_fault():
    failing = {"hypervisor-1": {"OVERCAST_COMPUTE_FAKE_FAIL_SPAWN": "true"}}
    with running_cloud(hosts=2, env=failing) as cloud:
        conn = cloud.connect()
        _boot(conn, "resched", count=4)
        final = wait_until(
            lambda: (s := _statuses(conn, "resched")) and "BUILD" not in s.values() and s,
            timeout=60)
        assert set(final.values()) == {"ACTIVE"}
        hosts = {s.compute_host for s in conn.compute.servers(details=True)
                 if s.name.startswith("resched")}
        assert hosts == {"hypervisor-2"}
        _assert_each_once_on_its_host(cloud, conn, "resched")

        service = next(s for s in conn.compute.services()
                       if s.host == "hypervisor-2" and s.binary == "nova-compute")
        conn.compute.disable_service(service, service.host, service.binary)
        _boot(conn, "doomed")
        server = wait_until(lambda: next((s for s in conn.compute.servers(details=True)
                                          if s.name == "doomed" and s.status != "BUILD"),
                                         None), timeout=60)
        assert server.status == "ERROR"
        assert "No valid host" in server.fault["message"] or \
            "Exceeded maximum number of retries" in server.fault["message"]
        assert cloud.host_guests()["hypervisor-1"] == []
        conn.close()


@pytest.mark.broker_restart
def test_rabbitmq_restart_services_reconnect_and_boots_work():
    import shutil
    import subprocess

    from overcast.cli import local

    with running_cloud(hosts=2) as cloud:
        conn = cloud.connect()
        _boot(conn, "before")
        wait_until(lambda: set(_statuses(conn, "before").values()) == {"ACTIVE"}, timeout=30)
        ctl = shutil.which("rabbitmqctl") or "/usr/sbin/rabbitmqctl"
        subprocess.run([ctl, "stop"], check=True, capture_output=True, timeout=120)
        assert not local.broker_reachable("amqp://guest:guest@127.0.0.1:5672/", timeout=1)
        local.ensure_broker("amqp://guest:guest@127.0.0.1:5672/")
        local.wait_healthy(cloud.cloud, timeout=90)
        _boot(conn, "after", count=2)
        final = wait_until(
            lambda: (s := _statuses(conn, "after")) and "BUILD" not in s.values() and s,
            timeout=60)
        assert set(final.values()) == {"ACTIVE"}
        _assert_each_once_on_its_host(cloud, conn, "after")
        conn.close()
