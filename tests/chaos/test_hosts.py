"""Chaos on the compose stack: hypervisor containers killed, paused and cut off.

Each test asserts on the hosts' own guest lists (asked over the bus), not only on the API.
"""
from __future__ import annotations

import collections

from overcast.testing import wait_until
from overcast.testing.stack import HOSTS, back_in_pool, down


def _servers(conn, prefix):
    return {s.id: s for s in conn.compute.servers(details=True) if s.name.startswith(prefix)}


def _addresses(server):
    return sorted(a["addr"] for nets in server.addresses.values() for a in nets)


def _boot_on(conn, host, prefix, count):
    """Boot ``count`` servers that all land on ``host`` (the other hosts briefly disabled)."""
    others = [s for s in conn.compute.services()
              if s.binary == "nova-compute" and s.host != host]
    for service in others:
        conn.compute.disable_service(service, service.host, service.binary)
    try:
        image = conn.image.find_image("cirros")
        conn.compute.create_server(name=prefix, image_id=image.id, flavor_id="1",
                                   networks="auto", min_count=count, max_count=count)
        return wait_until(lambda: (s := _servers(conn, prefix)) and len(s) == count and all(
            x.status == "ACTIVE" for x in s.values()) and s, timeout=60)
    finally:
        for service in others:
            conn.compute.enable_service(service, service.host, service.binary)


def _wait_moved_off(conn, prefix, victim, *, timeout):
    """Every ``prefix`` server ACTIVE on a host other than ``victim``; on timeout, say where
    each one stands (status, host, task state, fault) so a failure explains itself."""
    def moved():
        servers = _servers(conn, prefix)
        return servers if servers and all(x.status == "ACTIVE" and x.compute_host != victim
                                          for x in servers.values()) else None

    def where():
        states = [(x.id[:8], x.status, x.compute_host, x.task_state,
                   (x.fault or {}).get("message")) for x in _servers(conn, prefix).values()]
        return f"not evacuated from {victim} in {timeout}s: {states}"
    return wait_until(moved, timeout=timeout, message=where)


def assert_no_guest_on_two_hosts(cloud, conn, prefix):
    """Every server runs on exactly one host (by the hosts' own lists): the API's host."""
    lists = cloud.guests(running_only=True)
    where = collections.defaultdict(list)
    for host, ids in lists.items():
        assert ids is not None, f"{host} did not answer"
        for instance_id in ids:
            where[instance_id].append(host)
    for server in _servers(conn, prefix).values():
        assert server.status == "ACTIVE", (server.id, server.status)
        assert where[server.id] == [server.compute_host], (server.id, where[server.id])


def test_killed_hypervisor_is_evacuated_same_ids_and_ips(cloud, conn, watch):
    victim = HOSTS[1]
    before = _boot_on(conn, victim, "kill", 6)
    cloud.kill(victim)
    try:
        watch.wait(victim, down, timeout=10)
        after = _wait_moved_off(conn, "kill", victim, timeout=30)
    finally:
        cloud.start(victim)
    assert set(after) == set(before)
    for server_id, server in before.items():
        assert _addresses(after[server_id]) == _addresses(server)
    watch.wait(victim, back_in_pool, timeout=90)
    assert cloud.guests([victim])[victim] == []
    assert_no_guest_on_two_hosts(cloud, conn, "kill")


def test_paused_hypervisor_is_detected_and_never_runs_a_moved_guest(cloud, conn, watch):
    victim = HOSTS[2]
    before = _boot_on(conn, victim, "pause", 3)
    cloud.pause(victim)
    try:
        watch.wait(victim, down, timeout=8)
        _wait_moved_off(conn, "pause", victim, timeout=30)
    finally:
        cloud.unpause(victim)
    watch.wait(victim, back_in_pool, timeout=60)
    assert not set(cloud.guests([victim])[victim]) & set(before)
    assert_no_guest_on_two_hosts(cloud, conn, "pause")


def test_partitioned_hypervisor_is_fenced_no_duplicates_after_heal(cloud, conn, watch):
    victim = HOSTS[0]
    before = _boot_on(conn, victim, "part", 3)
    cloud.partition(victim)
    try:
        watch.wait(victim, down, timeout=10)
        _wait_moved_off(conn, "part", victim, timeout=30)
        service = watch.computes()[victim]
        assert service["forced_down"] and service["status"] == "disabled"
    finally:
        cloud.heal(victim)
    watch.wait(victim, back_in_pool, timeout=90)
    assert not set(cloud.guests([victim])[victim]) & set(before)
    assert_no_guest_on_two_hosts(cloud, conn, "part")


def test_no_host_reported_down_while_every_core_is_busy(cloud, conn, watch):
    """A CPU hog on each core for a minute: no healthy host may be marked down or fenced.
    (bench/failover.py runs the same for ten minutes.)"""
    from bench.failover import false_positive_run
    for host in HOSTS:
        watch.wait(host, back_in_pool, timeout=60)
    result = false_positive_run(watch, seconds=60)
    assert result["false_down_reports"] == 0, result["reports"]
