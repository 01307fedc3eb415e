"""Chaos with volumes: the volume service killed during a storm of attaches and detaches, and
a hypervisor killed under a guest with a volume attached and under a guest booted from one.

What the cloud says is checked against what its nodes hold: the volume service's attachments
against Nova's, each volume's data read from the volume service container's own copy of its
file with ``debugfs`` (nothing mounted), the mounts read in each hypervisor container's
``/proc/mounts``, and what a guest sees through ``overcast console``.
"""
from __future__ import annotations

import concurrent.futures
import contextlib
import logging
import random
import threading
import time
from collections import Counter
from collections.abc import Iterator

import pytest

from overcast.testing import wait_until
from overcast.testing.stack import HOSTS, back_in_pool, down
from tests.chaos.test_guests import console
from tests.chaos.test_hosts import _wait_moved_off

logger = logging.getLogger(__name__)

# The shared `volumes` docker volume, where the volume service keeps volume-<id> files.
VOLUMES_DIR = "/var/lib/overcast-volumes"
SETTLED = ("available", "in-use")

STORM_GUESTS = 3
STORM_VOLUMES = 4
STORM_WORKERS = 4
STORM_REQUESTS = 40     # the storm stops after this many requests...
STORM_SECONDS = 120     # ...or this long, whichever comes first
KILL_AFTER = 12         # requests sent before the volume service is killed
# It is started again once a request has failed for want of it (5xx): an attach waits for
# the volume service (its reservation) as long as an RPC call may wait, so by then the calls
# sent early in the outage have expired in the queue, and those sent late are still there.


# -- looking at the cloud and its nodes --------------------------------------------------------

def _volume_status(conn, volume_id: str, status: str, *, timeout: float = 60):
    def reached():
        volume = conn.block_storage.get_volume(volume_id)
        assert "error" not in volume.status, volume
        return volume if volume.status == status else None
    return wait_until(reached, timeout=timeout, interval=0.2,
                      message=lambda: f"volume {volume_id} never became {status}: "
                                      f"{conn.block_storage.get_volume(volume_id).status}")


def _mount_name(attachment) -> str:
    """Where a volume attached as ``/dev/vdX`` appears in its guest (docs/volumes.md)."""
    return f"/mnt/volumes/{attachment.device.rsplit('/', 1)[-1]}"


def _marker_on_node(cloud, volume_id: str) -> str:
    """``/marker`` of the volume, read by ``debugfs`` from the volume service container's own
    copy of its file, without mounting it."""
    code, (out, err) = cloud.container("volume").exec_run(
        ["debugfs", "-R", "cat /marker", f"{VOLUMES_DIR}/volume-{volume_id}"], demux=True)
    assert code == 0, (volume_id, code, out, err)
    return (out or b"").decode(errors="replace").strip()


def _mounted_volumes(cloud, host: str) -> list[str]:
    """The volume files mounted in ``host``'s container now: the backing file of each loop
    device in its ``/proc/mounts`` (loop devices are the kernel's, so every container sees
    them all in /sys; which are mounted is the container's own)."""
    code, (out, err) = cloud.container(host).exec_run(["sh", "-c", (
        "for dev in $(awk '$1 ~ /^\\/dev\\/loop/ {print $1}' /proc/mounts); do "
        "cat /sys/block/${dev#/dev/}/loop/backing_file; done")], demux=True)
    assert code == 0, (host, code, out, err)
    names = [line.rsplit("/", 1)[-1] for line in (out or b"").decode().split()]
    return sorted(name for name in names if name.startswith("volume-"))


def _hosts_mounting(cloud, volume_id: str) -> list[str]:
    return [host for host in HOSTS if f"volume-{volume_id}" in _mounted_volumes(cloud, host)]


def _all_hosts_in_pool(watch) -> None:
    """Every host up, enabled and not fenced (a test before may have killed one)."""
    for host in HOSTS:
        watch.wait(host, back_in_pool, timeout=90)


def _disagreements(cloud, conn, server_hosts: dict[str, str], volume_ids: list[str]
                   ) -> list[str]:
    """Whatever is not settled or not consistent: a volume in a transient state, an
    attachment of the volume service that Nova does not list (or the reverse), a volume
    attached twice, or a volume mounted on a host other than its guest's. Empty when all is
    well."""
    problems = []
    volumes = {v: conn.block_storage.get_volume(v) for v in volume_ids}
    cinder = set()
    for volume in volumes.values():
        if volume.status not in SETTLED:
            problems.append(f"{volume.id} is {volume.status}")
        pairs = [(a["server_id"], volume.id) for a in volume.attachments]
        if len(pairs) != (1 if volume.status == "in-use" else 0):
            problems.append(f"{volume.id} ({volume.status}) has attachments {pairs}")
        cinder.update(pairs)
    nova = {(server, a.volume_id) for server in server_hosts
            for a in conn.compute.volume_attachments(server) if a.volume_id in volumes}
    if cinder != nova:
        problems.append(f"volume service only: {sorted(cinder - nova)}; "
                        f"Nova only: {sorted(nova - cinder)}")
    where = {v: [] for v in volumes}
    for host in HOSTS:
        for name in _mounted_volumes(cloud, host):
            volume_id = name.removeprefix("volume-")
            if volume_id in where:
                where[volume_id].append(host)
    expected = {v: [] for v in volumes}
    for server, volume_id in cinder:
        expected[volume_id].append(server_hosts[server])
    if where != expected:
        problems.append(f"mounted on {where}, expected on {expected}")
    return problems


# -- making things ---------------------------------------------------------------------------

@contextlib.contextmanager
def _only(conn, host: str) -> Iterator[None]:
    """New servers land on ``host``: every other compute service disabled meanwhile."""
    others = [s for s in conn.compute.services()
              if s.binary == "nova-compute" and s.host != host]
    for service in others:
        conn.compute.disable_service(service, service.host, service.binary)
    try:
        yield
    finally:
        for service in others:
            conn.compute.enable_service(service, service.host, service.binary)


def _boot(conn, names: list[str], **attrs) -> list:
    """Boot cirros guests without networks (or as ``attrs`` say); ACTIVE."""
    image = conn.image.find_image("cirros")
    if "block_device_mapping" not in attrs:
        attrs["image_id"] = image.id
    servers = [conn.compute.create_server(name=name, flavor_id="1", networks="none", **attrs)
               for name in names]
    return [conn.compute.wait_for_server(server, status="ACTIVE", wait=90)
            for server in servers]


@pytest.fixture
def make_volume(conn):
    """``make_volume(name)``: a new 1 GiB volume, ``available``. At the end the test's
    servers are deleted and its volumes with them."""
    made: list[str] = []

    def make(name: str):
        volume = conn.block_storage.create_volume(size=1, name=name)
        made.append(volume.id)
        return _volume_status(conn, volume.id, "available", timeout=30)

    yield make
    for server in conn.compute.servers():
        conn.compute.delete_server(server)
    wait_until(lambda: not list(conn.compute.servers()), timeout=60,
               message="servers left behind by the test were not deleted")
    for volume_id in made:
        _volume_status(conn, volume_id, "available", timeout=60)
        conn.block_storage.delete_volume(volume_id)
    wait_until(lambda: not any(conn.block_storage.find_volume(v) for v in made), timeout=60,
               message="volumes left behind by the test were not deleted")


# -- the storm -------------------------------------------------------------------------------

class Storm:
    """Threads sending attach and detach requests through openstacksdk, each guessing where a
    volume is from the answers so far; several may pick the same volume at once. Refusals
    (and 5xx while a service is down) are allowed and counted: the storm checks nothing, the
    test checks what is left."""

    def __init__(self, cloud, servers: list[str], volumes: list[str], *, requests: int,
                 seconds: float) -> None:
        self.cloud = cloud
        self.servers = servers
        self.volumes = volumes
        self.requests = requests
        self.deadline = time.monotonic() + seconds
        self.lock = threading.Lock()
        self.sent = 0
        self.failed = 0  # requests answered 5xx, or not at all
        self.outcomes: Counter[str] = Counter()
        self.believed: dict[str, str | None] = dict.fromkeys(volumes)

    def over(self) -> bool:
        return self.sent >= self.requests or time.monotonic() > self.deadline

    def run(self, seed: int) -> None:
        conn = self.cloud.connect()
        rng = random.Random(seed)
        try:
            while True:
                with self.lock:
                    if self.over():
                        return
                    self.sent += 1
                    volume = rng.choice(self.volumes)
                    server = self.believed[volume]
                self._send(conn, rng, volume, server)
        finally:
            conn.close()

    def _send(self, conn, rng: random.Random, volume: str, server: str | None) -> None:
        verb = "attach" if server is None else "detach"
        try:
            if server is None:
                server = rng.choice(self.servers)
                conn.compute.create_volume_attachment(server, volume_id=volume)
            else:
                conn.compute.delete_volume_attachment(server, volume, ignore_missing=False)
                server = None
            outcome = f"{verb} accepted"
        except Exception as exc:  # noqa: BLE001 - a refused request is allowed
            status = getattr(exc, "status_code", None)
            outcome = f"{verb} refused ({status or type(exc).__name__})"
            failed = status is None or status >= 500
            server = self._ask(conn, volume)
        else:
            failed = False
        with self.lock:
            self.believed[volume] = server
            self.outcomes[outcome] += 1
            self.failed += failed

    def _ask(self, conn, volume: str) -> str | None:
        """Where the volume service says the volume is (None while it cannot say)."""
        try:
            attachments = conn.block_storage.get_volume(volume).attachments
        except Exception:  # noqa: BLE001 - the volume service may be the one down
            return None
        return attachments[0]["server_id"] if attachments else None


def test_volume_service_killed_during_attach_detach_storm(cloud, conn, watch, make_volume):
    _all_hosts_in_pool(watch)
    servers = _boot(conn, [f"storm-{n}" for n in range(STORM_GUESTS)])
    hosts = {server.id: server.compute_host for server in servers}
    volumes = [make_volume(f"storm-{n}") for n in range(STORM_VOLUMES)]
    markers = {volume.id: f"marker-{volume.id}" for volume in volumes}

    # A marker in each volume, written in a guest (attach, write, detach).
    writes: dict[str, list[str]] = {server.id: [] for server in servers}
    for index, volume in enumerate(volumes):
        server = servers[index % len(servers)]
        attachment = conn.compute.create_volume_attachment(server, volume_id=volume.id)
        writes[server.id].append(f"echo {markers[volume.id]} > {_mount_name(attachment)}"
                                 "/marker")
    for volume in volumes:
        _volume_status(conn, volume.id, "in-use")
    for server_id, commands in writes.items():
        if commands:
            console(cloud, server_id, "sh", "-c", " && ".join([*commands, "sync"]))
    for index, volume in enumerate(volumes):
        conn.compute.delete_volume_attachment(servers[index % len(servers)], volume.id)
    for volume in volumes:
        _volume_status(conn, volume.id, "available")
        assert _marker_on_node(cloud, volume.id) == markers[volume.id]

    storm = Storm(cloud, list(hosts), list(markers), requests=STORM_REQUESTS,
                  seconds=STORM_SECONDS)
    with concurrent.futures.ThreadPoolExecutor(max_workers=STORM_WORKERS) as pool:
        workers = [pool.submit(storm.run, seed) for seed in range(STORM_WORKERS)]
        wait_until(lambda: storm.sent >= KILL_AFTER or storm.over(), timeout=STORM_SECONDS)
        cloud.kill("volume")
        killed = time.monotonic()
        failed = storm.failed
        try:
            wait_until(lambda: storm.failed > failed or storm.over(), timeout=STORM_SECONDS)
        finally:
            cloud.start("volume")
        logger.info("volume service down %.1fs", time.monotonic() - killed)
        cloud.wait_volume(timeout=180)
        for worker in workers:
            worker.result()
    logger.info("storm: %s", dict(storm.outcomes))
    # Refusals are allowed (a volume busy elsewhere, a host slow to report), but the storm
    # must have attached and detached something.
    assert storm.outcomes["attach accepted"] and storm.outcomes["detach accepted"], \
        storm.outcomes

    # Every volume settles (available or in-use), the volume service and Nova agree on what
    # is attached where, nothing is attached twice, and each in-use volume is mounted on its
    # guest's host only.
    last: list[str] = []

    def consistent() -> bool:
        last[:] = _disagreements(cloud, conn, hosts, list(markers))
        return not last
    wait_until(consistent, timeout=90, interval=1,
               message=lambda: f"after the storm ({dict(storm.outcomes)}): {last}")
    logger.info("after the storm: %s", {v: conn.block_storage.get_volume(v).status
                                         for v in markers})
    # No data lost: each marker is still in its volume's file on the volume service's node.
    for volume_id, marker in markers.items():
        assert _marker_on_node(cloud, volume_id) == marker
    # A guest holding a volume reads its marker where Nova says the volume is.
    for server_id in hosts:
        attached = {a.volume_id: _mount_name(a) for a in conn.compute.volume_attachments(
            server_id)}
        if attached:
            seen = console(cloud, server_id, "cat", *(f"{m}/marker" for m in attached.values()))
            assert seen.split() == [markers[v] for v in attached], (server_id, attached)
    # And nothing is stuck: every attached volume detaches.
    for volume_id in markers:
        for attachment in conn.block_storage.get_volume(volume_id).attachments:
            conn.compute.delete_volume_attachment(attachment["server_id"], volume_id,
                                                  ignore_missing=False)
    for volume_id in markers:
        _volume_status(conn, volume_id, "available")


# -- hosts killed under volumes --------------------------------------------------------------

def _evacuated(cloud, conn, watch, victim: str, server) -> str:
    """Kill ``victim`` and wait for ``server`` to run elsewhere; its new host."""
    cloud.kill(victim)
    try:
        watch.wait(victim, down, timeout=10)
        moved = _wait_moved_off(conn, server.name, victim, timeout=90)
    finally:
        cloud.start(victim)
    assert set(moved) == {server.id}
    return moved[server.id].compute_host


def _attached_on(conn, volume_id: str, server_id: str, host: str):
    """The volume once the volume service has it in-use by ``server_id`` on ``host``."""
    def there():
        volume = conn.block_storage.get_volume(volume_id)
        where = [(a["server_id"], a["host_name"]) for a in volume.attachments]
        return volume if volume.status == "in-use" and where == [(server_id, host)] else None
    return wait_until(there, timeout=30, interval=0.2, message=lambda: (
        f"volume {volume_id} not in-use on {host}: "
        f"{conn.block_storage.get_volume(volume_id).attachments}"))


def _mounted_only_on(cloud, watch, volume_id: str, host: str, victim: str) -> None:
    """Once ``victim`` is back, ``volume_id`` is mounted on ``host`` and nowhere else."""
    watch.wait(victim, back_in_pool, timeout=90)
    assert f"volume-{volume_id}" not in _mounted_volumes(cloud, victim)
    assert _hosts_mounting(cloud, volume_id) == [host]


def test_killed_host_guest_comes_back_with_its_volume_and_data(cloud, conn, watch,
                                                               make_volume):
    _all_hosts_in_pool(watch)
    victim = HOSTS[0]
    with _only(conn, victim):
        [server] = _boot(conn, ["vol-evacuee"])
    assert server.compute_host == victim
    volume = make_volume("outlives-its-host")
    attachment = conn.compute.create_volume_attachment(server, volume_id=volume.id)
    mount = _mount_name(attachment)
    _volume_status(conn, volume.id, "in-use")
    console(cloud, server.id, "sh", "-c", f"echo kept-{volume.id} > {mount}/note; sync")
    assert _hosts_mounting(cloud, volume.id) == [victim]

    host = _evacuated(cloud, conn, watch, victim, server)
    _attached_on(conn, volume.id, server.id, host)
    assert [(a.volume_id, a.device) for a in conn.compute.volume_attachments(server)] == [
        (volume.id, attachment.device)]
    assert console(cloud, server.id, "cat", f"{mount}/note").strip() == f"kept-{volume.id}"
    _mounted_only_on(cloud, watch, volume.id, host, victim)


def test_killed_host_volume_backed_guest_comes_back_with_its_root(cloud, conn, watch):
    _all_hosts_in_pool(watch)
    victim = HOSTS[1]
    image = conn.image.find_image("cirros")
    with _only(conn, victim):
        [server] = _boot(conn, ["vol-root-evacuee"], block_device_mapping=[{
            "boot_index": 0, "uuid": image.id, "source_type": "image",
            "destination_type": "volume", "volume_size": 1, "delete_on_termination": True}])
    assert server.compute_host == victim
    [root] = [a.volume_id for a in conn.compute.volume_attachments(server)]
    console(cloud, server.id, "sh", "-c", f"echo root-{server.id} > /root/note; sync")
    assert _hosts_mounting(cloud, root) == [victim]

    host = _evacuated(cloud, conn, watch, victim, server)
    _attached_on(conn, root, server.id, host)
    assert console(cloud, server.id, "cat", "/root/note").strip() == f"root-{server.id}"
    actions = conn.compute.get(f"/servers/{server.id}/os-instance-actions").json()
    assert all("rebuilt" not in (a["message"] or "") for a in actions["instanceActions"])
    _mounted_only_on(cloud, watch, root, host, victim)
