"""Chaos with real guests: a killed hypervisor's shared disk survives, its local disk does not.

Each guest is a process tree of the ``process`` driver inside a hypervisor container. Data
is written and read through ``overcast console`` (the stock path a user has), and what is
left on the returned host is read from inside its container, not from the API.
"""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from overcast.testing import wait_until
from overcast.testing.stack import HOSTS, back_in_pool, down
from tests.chaos.test_hosts import _wait_moved_off

SHARED_FLAVOR = "chaos.shared"


def console(cloud, server_id: str, *command: str, timeout: float = 60) -> str:
    """Run ``command`` in the guest through ``overcast console``; its output."""
    env = {**os.environ, "OS_CLIENT_CONFIG_FILE": str(cloud.clouds_file)}
    done = subprocess.run(
        [sys.executable, "-m", "overcast.cli.main", "console", "--os-cloud", "overcast-admin",
         server_id, "--", *command], env=env, capture_output=True, text=True,
        timeout=timeout)
    assert done.returncode == 0, (done.returncode, done.stdout, done.stderr)
    return done.stdout


@pytest.fixture
def shared_flavor(conn):
    flavor = conn.compute.find_flavor(SHARED_FLAVOR)
    if flavor is None:
        flavor = conn.compute.create_flavor(name=SHARED_FLAVOR, ram=64, vcpus=1, disk=1)
        conn.compute.create_flavor_extra_specs(flavor, {"overcast:disk_storage": "shared"})
    return flavor


def _boot_on(conn, host, flavors: dict[str, str]) -> dict:
    """Boot one server per ``name: flavor id``, all on ``host`` (the others briefly disabled)."""
    others = [s for s in conn.compute.services()
              if s.binary == "nova-compute" and s.host != host]
    for service in others:
        conn.compute.disable_service(service, service.host, service.binary)
    try:
        image = conn.image.find_image("cirros")
        servers = {name: conn.compute.create_server(name=name, image_id=image.id,
                                                    flavor_id=flavor, networks="none")
                   for name, flavor in flavors.items()}
        return {name: conn.compute.wait_for_server(server, status="ACTIVE", wait=90)
                for name, server in servers.items()}
    finally:
        for service in others:
            conn.compute.enable_service(service, service.host, service.binary)


def _leftovers(cloud, host: str) -> str:
    """Guest processes and guest mounts (overlay roots, disks, netns binds) still on
    ``host``, read inside its container (which has no ps: /proc is read directly)."""
    container = cloud.container(host)
    _code, mounts = container.exec_run(["sh", "-c", (
        "awk '$3 == \"overlay\" || $2 ~ /\\/instances\\// || $2 ~ /\\/netns\\//' "
        "/proc/mounts")])
    _code, procs = container.exec_run(["sh", "-c", (
        "for p in /proc/[0-9]*; do tr '\\0' ' ' < $p/cmdline 2>/dev/null; echo; done "
        "| grep -E '[.]overcast/init|[d]ropbear' || true")])
    return (mounts + procs).decode(errors="replace").strip()


def test_killed_host_keeps_shared_disks_and_rebuilds_local_ones(cloud, conn, watch,
                                                                 shared_flavor):
    victim = HOSTS[2]
    booted = _boot_on(conn, victim, {"guest-shared": shared_flavor.id, "guest-local": "1"})
    shared, local = booted["guest-shared"], booted["guest-local"]
    assert {shared.compute_host, local.compute_host} == {victim}
    for server in (shared, local):
        console(cloud, server.id, "sh", "-c", f"echo kept-{server.id} > /root/note; sync")
    cloud.kill(victim)
    try:
        watch.wait(victim, down, timeout=10)
        moved = _wait_moved_off(conn, "guest-", victim, timeout=90)
    finally:
        cloud.start(victim)
    assert set(moved) == {shared.id, local.id}
    assert console(cloud, shared.id, "cat", "/root/note").strip() == f"kept-{shared.id}"
    out = console(cloud, local.id, "sh", "-c", "cat /root/note 2>/dev/null || echo absent")
    assert out.strip() == "absent"
    # The API says the local disk was rebuilt and its data lost (the evacuate action's
    # message; its event's details from mv 2.84).
    actions = conn.compute.get(f"/servers/{local.id}/os-instance-actions").json()
    evacuate = next(a for a in actions["instanceActions"] if a["action"] == "evacuate")
    assert "rebuilt" in (evacuate["message"] or ""), evacuate
    shared_actions = conn.compute.get(f"/servers/{shared.id}/os-instance-actions").json()
    assert all("rebuilt" not in (a["message"] or "")
               for a in shared_actions["instanceActions"])
    watch.wait(victim, back_in_pool, timeout=90)
    assert cloud.guests([victim])[victim] == []
    wait_until(lambda: _leftovers(cloud, victim) == "", timeout=30,
               message=lambda: f"left behind on {victim}: {_leftovers(cloud, victim)}")
