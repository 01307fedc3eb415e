"""An object storage cluster as real processes: storage nodes and the proxy on loopback.

Probe tests kill nodes (SIGKILL), run a daemon pass on one node (``once``, as Swift's probe
tests do), and look at each node's own state through its gRPC API or its directory.
"""
from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx

from agents.storage.client import RemoteState, StorageClient, object_path
from overcast.cli import local
from overcast.ring import Ring
from overcast.testing import wait_until
from overcast.testing.cloud import free_port
from overcast.testing.objects import object_files

USER, KEY = "test:tester", "testing"
ACCOUNT = "AUTH_test"


class ObjectCluster:
    def __init__(self, state_dir: Path, *, nodes: int, node_env: dict[str, str],
                 proxy_env: dict[str, str], ring_nodes: int | None = None) -> None:
        self.cloud = local.LocalCloud(state_dir=state_dir, hosts=0, storage_nodes=nodes,
                                      object_port=free_port(),
                                      storage_ports=tuple(free_port() for _ in range(nodes)))
        self.node_env = node_env
        self.proxy_env = proxy_env
        self.names = [f"storage-{i}" for i in range(1, nodes + 1)]
        self.ring_nodes = nodes if ring_nodes is None else ring_nodes

    # -- processes ---------------------------------------------------------------------------

    def env_of(self, name: str) -> dict[str, str]:
        _module, env = self.cloud.processes()[name]
        env = dict(env)
        if name == "object-proxy":
            env.pop("OVERCAST_OBJECT_PROXY_AUTH_URL", None)
            env.update(self.proxy_env)
        else:
            env.update(self.node_env)
        return env

    def start(self, name: str) -> None:
        module, _ = self.cloud.processes()[name]
        ready = self.ready_file(name)
        ready.unlink(missing_ok=True)
        local.start_process(self.cloud, name, module, self.env_of(name))
        wait_until(ready.exists, timeout=30, message=f"{name} did not become ready:\n"
                   + self.log(name)[-2000:])

    def ready_file(self, name: str) -> Path:
        return self.cloud.run_dir() / f"{name}.{name}.ready"

    def start_all(self) -> None:
        import dataclasses
        dataclasses.replace(self.cloud, storage_nodes=self.ring_nodes).ensure_ring()
        for name in self.names:
            self.start(name)
        self.start("object-proxy")

    def kill(self, name: str) -> None:
        local.stop_process(self.cloud, name, sig=signal.SIGKILL, timeout=5)
        self.ready_file(name).unlink(missing_ok=True)

    def stop_all(self) -> None:
        local.stop_all(self.cloud)

    def alive(self, name: str) -> bool:
        pid = local.read_pids(self.cloud).get(name)
        return pid is not None and local.pid_alive(pid)

    def once(self, name: str, *daemons: str, timeout: float = 120) -> None:
        """One pass of daemons on ``name``'s data (python -m agents.storage once ...)."""
        env = {**os.environ, "OVERCAST_STATE_DIR": str(self.cloud.state_dir),
               **self.env_of(name)}
        result = subprocess.run([sys.executable, "-m", "agents.storage", "once", *daemons],
                                env=env, capture_output=True, text=True, timeout=timeout,
                                cwd=str(Path(__file__).parents[3]))
        if result.returncode != 0:
            raise AssertionError(f"once {daemons} on {name} failed:\n{result.stderr[-3000:]}")

    def log(self, name: str) -> str:
        path = self.cloud.log_dir() / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    # -- clients -----------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return self.cloud.object_url

    @property
    def auth_url(self) -> str:
        return f"{self.url}/auth/v1.0"

    def token(self) -> str:
        response = httpx.get(self.auth_url, headers={"X-Auth-User": USER, "X-Auth-Key": KEY})
        response.raise_for_status()
        return response.headers["X-Auth-Token"]

    def swift(self):
        import swiftclient
        return swiftclient.Connection(authurl=self.auth_url, user=USER, key=KEY, retries=0,
                                      timeout=60)

    # -- each node's own view ----------------------------------------------------------------

    def ring(self) -> Ring:
        return Ring.load(self.cloud.ring_path())

    def address(self, name: str) -> str:
        dev = self.ring().device_by_name(name)
        assert dev is not None
        return dev.address

    def primaries(self, container: str, obj: str) -> list[str]:
        return [d.name for d in self.ring().get_nodes(ACCOUNT, container, obj)[1]]

    def handoffs(self, container: str, obj: str) -> list[str]:
        ring = self.ring()
        return [d.name for d in ring.get_more_nodes(ring.get_part(ACCOUNT, container, obj))]

    def states(self, names: list[str], container: str, obj: str) -> dict[str, RemoteState]:
        """Each node's own state of an object, asked over its gRPC API."""
        part = self.ring().get_part(ACCOUNT, container, obj)
        path = object_path(ACCOUNT, container, obj, part)

        async def ask() -> dict[str, RemoteState]:
            client = StorageClient(timeout=5)
            try:
                answers = await asyncio.gather(*(client.head_object(None, self.address(n),
                                                                    path) for n in names))
            finally:
                await client.close()
            return dict(zip(names, answers, strict=True))

        return asyncio.run(ask())

    def replica_map(self, container: str, names: list[str]) -> dict[str, dict[str, str]]:
        """For each object name, ``{node: etag}`` of the nodes holding it live (every node
        of the ring is asked, over gRPC)."""
        ring = self.ring()
        nodes = [d.name for d in ring.devices.values()]

        async def ask() -> dict[str, dict[str, str]]:
            client = StorageClient(timeout=10)
            sem = asyncio.Semaphore(64)
            found: dict[str, dict[str, str]] = {n: {} for n in names}

            async def one(node: str, obj: str) -> None:
                path = object_path(ACCOUNT, container, obj, ring.get_part(ACCOUNT, container,
                                                                          obj))
                async with sem:
                    state = await client.head_object(None, self.address(node), path)
                if state.exists:
                    found[obj][node] = state.etag

            try:
                await asyncio.gather(*(one(node, obj) for node in nodes for obj in names))
            finally:
                await client.close()
            return found

        return asyncio.run(ask())

    def data_files(self, name: str, container: str, obj: str) -> list[Path]:
        """The object's files in ``name``'s own directory."""
        return object_files(self.cloud.state_dir / "storage" / name, self.ring(), ACCOUNT,
                            container, obj)

    def holders(self, container: str, obj: str) -> list[str]:
        """The nodes, primaries or handoffs, with files of the object in their directory."""
        return [n for n in self.names if self.data_files(n, container, obj)]

    def settle(self, container: str, obj: str) -> None:
        """Make every primary hold the object, as a test that goes on to break one replica
        needs.

        A PUT answers at quorum: the last replica's write may still be in flight, have been
        dropped as too slow, or have gone to a handoff while a primary was error-limited.
        One replicator pass on each node holding files (``once``) pushes them to every
        primary (and takes them off the handoffs); then each primary's own directory is
        checked."""
        primaries = self.primaries(container, obj)
        for name in self.holders(container, obj):
            self.once(name, "replicator")
        wait_until(lambda: all(self.data_files(n, container, obj) for n in primaries),
                   timeout=10, message=f"{container}/{obj} did not reach every primary")


@contextlib.contextmanager
def object_cluster(*, nodes: int = 3, node_env: dict[str, str] | None = None,
                   proxy_env: dict[str, str] | None = None,
                   ring_nodes: int | None = None) -> Iterator[ObjectCluster]:
    """A running cluster of ``nodes`` storage nodes (the first ``ring_nodes`` in the ring)
    and the proxy, in a temporary directory; every process is stopped and the directory
    removed afterwards."""
    state_dir = Path(tempfile.mkdtemp(prefix="overcast-objects-"))
    cluster = ObjectCluster(state_dir, nodes=nodes, node_env=node_env or {},
                            proxy_env=proxy_env or {}, ring_nodes=ring_nodes)
    try:
        cluster.start_all()
        yield cluster
    except BaseException:
        for name in [*cluster.names, "object-proxy"]:
            tail = cluster.log(name)[-3000:]
            if "Traceback" in tail or "ERROR" in tail:
                print(f"--- {name}.log (tail) ---\n{tail}")
        raise
    finally:
        cluster.stop_all()
        shutil.rmtree(state_dir, ignore_errors=True)
