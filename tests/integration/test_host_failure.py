"""Host failure in process mode: a killed or frozen hypervisor is detected, fenced and
evacuated; when it comes back it destroys what moved away before it rejoins. Every check
is made on each host's own guest list as well as through the API."""
from __future__ import annotations

import collections
import time

import pytest

from overcast.testing import wait_until
from overcast.testing.cloud import running_cloud


@pytest.fixture(scope="module")
def cloud():
    with running_cloud(hosts=3) as test_cloud:
        yield test_cloud


@pytest.fixture(autouse=True)
def no_servers_left(cloud):
    yield
    conn = cloud.connect()
    for server in conn.compute.servers():
        conn.compute.delete_server(server)
    wait_until(lambda: not list(conn.compute.servers()), timeout=30)


def _servers(conn, prefix):
    return {s.id: s for s in conn.compute.servers(details=True) if s.name.startswith(prefix)}


def _boot_spread(cloud, conn, prefix, count=6):
    image = conn.image.find_image("cirros")
    conn.compute.create_server(name=prefix, image_id=image.id, flavor_id="1", networks="auto",
                               min_count=count, max_count=count)
    return wait_until(lambda: (s := _servers(conn, prefix)) and all(
        x.status == "ACTIVE" for x in s.values()) and s, timeout=60)


def _service(conn, host):
    return next(s for s in conn.compute.services()
                if s.host == host and s.binary == "nova-compute")


def _addresses(server):
    return sorted(a["addr"] for nets in server.addresses.values() for a in nets)


def _assert_single_placement(cloud, conn, prefix, live_hosts):
    """No guest runs on two hosts, and each ACTIVE server runs where the API says."""
    running = cloud.host_guests(hosts=live_hosts, running_only=True)
    where = collections.defaultdict(list)
    for host, ids in running.items():
        assert ids is not None, f"{host} did not answer"
        for instance_id in ids:
            where[instance_id].append(host)
    assert all(len(hosts) == 1 for hosts in where.values()), dict(where)
    for server in _servers(conn, prefix).values():
        if server.status == "ACTIVE":
            assert where[server.id] == [server.compute_host]


def _victim(servers):
    return collections.Counter(s.compute_host for s in servers.values()).most_common(1)[0][0]


def test_killed_host_is_evacuated_and_cleans_up_when_back(cloud):
    conn = cloud.connect()
    before = _boot_spread(cloud, conn, "kill")
    victim = _victim(before)
    moved = {i for i, s in before.items() if s.compute_host == victim}
    killed_at = time.monotonic()
    cloud.kill(victim)
    wait_until(lambda: _service(conn, victim).state == "down", timeout=10)
    detected = time.monotonic() - killed_at
    assert detected < 5, detected
    after = wait_until(lambda: (s := _servers(conn, "kill")) and all(
        x.status == "ACTIVE" and x.compute_host != victim for x in s.values()) and s,
        timeout=30)
    assert set(after) == set(before)
    for server_id in moved:
        assert _addresses(after[server_id]) == _addresses(before[server_id])
        assert after[server_id].name == before[server_id].name
    service = _service(conn, victim)
    assert service.is_forced_down and service.status == "disabled"
    migrations = list(conn.compute.migrations(host=victim))
    assert {m.server_id for m in migrations} >= moved

    live = [h for h in ("hypervisor-1", "hypervisor-2", "hypervisor-3") if h != victim]
    _assert_single_placement(cloud, conn, "kill", live)

    cloud.restart(victim)
    wait_until(lambda: (s := _service(conn, victim)).state == "up" and s.status == "enabled"
               and not s.is_forced_down, timeout=30)
    assert cloud.host_guests(hosts=[victim])[victim] == []
    _assert_single_placement(cloud, conn, "kill", [*live, victim])


def test_frozen_host_is_fenced_and_never_runs_a_moved_guest(cloud):
    conn = cloud.connect()
    before = _boot_spread(cloud, conn, "pause")
    victim = _victim(before)
    moved = {i for i, s in before.items() if s.compute_host == victim}
    cloud.pause(victim)
    try:
        wait_until(lambda: _service(conn, victim).state == "down", timeout=8)
        wait_until(lambda: all(s.status == "ACTIVE" and s.compute_host != victim
                               for s in _servers(conn, "pause").values()), timeout=30)
    finally:
        cloud.unpause(victim)
    # Woken up, the host stops its guests at once and then destroys the moved ones.
    wait_until(lambda: (g := cloud.host_guests(hosts=[victim], timeout=5)[victim]) is not None
               and not (set(g) & moved), timeout=20)
    hosts = ["hypervisor-1", "hypervisor-2", "hypervisor-3"]
    _assert_single_placement(cloud, conn, "pause", hosts)
    wait_until(lambda: (s := _service(conn, victim)).state == "up" and not s.is_forced_down,
               timeout=30)


def test_manual_evacuate_needs_a_down_host(cloud):
    conn = cloud.connect()
    servers = _boot_spread(cloud, conn, "manual", count=1)
    server = next(iter(servers.values()))
    response = conn.compute.post(f"/servers/{server.id}/action", json={"evacuate": {}},
                                 microversion="2.79")
    assert response.status_code == 409
