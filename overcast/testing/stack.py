"""The compose stack (``make up``), driven from chaos tests and benchmarks."""
from __future__ import annotations

import time
from pathlib import Path

import httpx

from overcast.cli.chaos import ComposeChaos
from overcast.testing.cloud import guest_lists

HOSTS = ("hypervisor-1", "hypervisor-2", "hypervisor-3")


class Stack:
    """A running stack: its API (as the stock clients see it), its bus and its containers."""

    def __init__(self, *, clouds_file: Path = Path("clouds.yaml"),
                 bus_url: str = "amqp://guest:guest@127.0.0.1:5673/",
                 project: str = "overcast",
                 ring_file: Path = Path("state/compose/ring/object.ring")) -> None:
        self.clouds_file = clouds_file.resolve()
        self.bus_url = bus_url
        self.project = project
        self.ring_file = ring_file.resolve()
        self.chaos = ComposeChaos(project)

    def connect(self, cloud: str = "overcast-admin"):  # noqa: ANN201
        from openstack import config, connection
        region = config.OpenStackConfig(config_files=[str(self.clouds_file)],
                                        load_envvars=False).get_one(cloud=cloud)
        return connection.Connection(config=region)

    def wait_api(self, timeout: float = 90.0) -> None:
        """Return once the API answers again (after its container was restarted)."""
        import yaml
        clouds = yaml.safe_load(self.clouds_file.read_text())["clouds"]
        url = clouds["overcast-admin"]["auth"]["auth_url"]
        deadline = time.monotonic() + timeout
        while True:
            try:
                if httpx.get(url, timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"the API did not come back in {timeout}s")
            time.sleep(0.5)

    def swift(self, cloud: str = "overcast-admin"):  # noqa: ANN201
        """A python-swiftclient connection to the stack's object store, with a Keystone token
        and the storage URL from the catalog."""
        from swiftclient.client import Connection
        conn = self.connect(cloud)
        return Connection(preauthurl=conn.endpoint_for("object-store"),
                          preauthtoken=conn.auth_token, retries=0)

    def object_files(self, node: str, account: str, container: str, obj: str) -> list[Path]:
        """The files of one object in storage node ``node``'s own directory (read from its
        volume, ``<project>_storage-N``, on the host)."""
        import docker
        from overcast.testing.objects import object_files
        from overcast.ring import Ring
        volume = docker.from_env().volumes.get(f"{self.project}_{node}")
        return object_files(Path(volume.attrs["Mountpoint"]) / "storage" / node,
                            Ring.load(self.ring_file), account, container, obj)

    def guests(self, hosts: list[str] | tuple[str, ...] = HOSTS, *, running_only: bool = False,
               timeout: float = 5.0) -> dict[str, list[str] | None]:
        """Each host's own guest list, asked over the stack's bus."""
        return guest_lists(self.bus_url, list(hosts), timeout=timeout,
                           running_only=running_only)


class ServiceWatch:
    """Polls ``os-services`` cheaply with one token, for timing state changes."""

    def __init__(self, conn) -> None:  # noqa: ANN001
        self.url = conn.endpoint_for("compute").rstrip("/") + "/os-services"
        self.headers = {"X-Auth-Token": conn.auth_token,
                        "OpenStack-API-Version": "compute 2.79"}
        self.client = httpx.Client(timeout=5)

    def computes(self) -> dict[str, dict]:
        response = self.client.get(self.url, headers=self.headers,
                                   params={"binary": "nova-compute"})
        response.raise_for_status()
        return {s["host"]: s for s in response.json()["services"]}

    def wait(self, host: str, predicate, *, timeout: float, interval: float = 0.05  # noqa: ANN001
             ) -> float:
        """Seconds until ``predicate(service)`` holds for ``host``."""
        started = time.monotonic()
        while True:
            try:
                service = self.computes().get(host)
            except httpx.HTTPError:
                service = None
            if service is not None and predicate(service):
                return time.monotonic() - started
            if time.monotonic() - started > timeout:
                raise TimeoutError(f"{host}: condition not met in {timeout}s ({service})")
            time.sleep(interval)


def down(service: dict) -> bool:
    return service["state"] == "down"


def back_in_pool(service: dict) -> bool:
    return (service["state"] == "up" and service["status"] == "enabled"
            and not service["forced_down"])
