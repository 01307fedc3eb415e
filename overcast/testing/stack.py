"""A whole Overcast cloud in containers for a test suite, on testcontainers.

``OvercastCloud`` is to an OpenStack user what testcontainers' LocalStack module is to an AWS
user: it prepares the compose stack as ``overcast up --compose`` does (images, passwords, ring,
``clouds.yaml``), then starts, waits for and stops it through testcontainers' ``DockerCompose``
(``docker compose up --wait`` on the containers' health checks, then wait strategies for the API,
the hypervisors and the volume service), in a compose project of its own on free ports, so it
runs beside a ``make up`` stack. It breaks the cloud on purpose with the verbs of ``overcast chaos``
(``kill``, ``pause``, ``partition`` ...) and shows each host's own view of its guests.
``up()``/``down()`` (or ``with``) start and remove the whole cloud; ``start(host)`` and
``stop(host)`` act on one host::

    with OvercastCloud() as cloud:
        conn = cloud.connect()                   # openstacksdk, as overcast-admin
        cloud.kill("hypervisor-2")
        cloud.guests()                           # {"hypervisor-1": [...], ...}

``overcast.testing.fixtures.overcast_cloud`` is the same as a session-scoped pytest fixture.
"""
from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

import httpx
from testcontainers.compose import DockerCompose
from testcontainers.core.wait_strategies import HttpWaitStrategy
from testcontainers.core.waiting_utils import WaitStrategy, WaitStrategyTarget

from overcast.cli import compose
from overcast.cli.chaos import ComposeChaos
from overcast.testing.cloud import free_port, guest_lists, sdk_connection

if TYPE_CHECKING:  # the stock clients are test extras, imported when first used
    from openstack.connection import Connection
    from swiftclient.client import Connection as SwiftConnection

HOSTS = ("hypervisor-1", "hypervisor-2", "hypervisor-3")
LOG_LINES_ON_FAILURE = 60


class ComputeHostsUp(WaitStrategy):
    """Ready once the conductor sees every hypervisor of ``stack`` up (heartbeats arrive)."""

    def __init__(self, stack: compose.ComposeCloud, passwords: dict[str, str]) -> None:
        super().__init__()
        self.stack = stack
        self.passwords = passwords
        self.problem = "not asked yet"

    def _all_up(self) -> bool:
        try:
            missing = compose.missing_hosts(self.stack, self.passwords)
        except Exception as exc:  # noqa: BLE001 - the bus or conductor is not up yet
            self.problem = str(exc) or type(exc).__name__
            return False
        self.problem = f"hosts not up: {', '.join(sorted(missing))}"
        return not missing

    def wait_until_ready(self, container: WaitStrategyTarget) -> None:
        if not self._poll(self._all_up):
            raise TimeoutError(f"the conductor did not see every hypervisor up in "
                               f"{self._startup_timeout:.0f}s ({self.problem})")


class VolumeServiceUp(WaitStrategy):
    """Ready once the volume API of ``stack`` answers and its ``cinder-volume`` is up."""

    def __init__(self, stack: compose.ComposeCloud, passwords: dict[str, str]) -> None:
        super().__init__()
        self.stack = stack
        self.passwords = passwords
        self.problem = "not asked yet"

    def _up(self) -> bool:
        self.problem = compose.volume_service_problem(self.stack, self.passwords)
        return not self.problem

    def wait_until_ready(self, container: WaitStrategyTarget) -> None:
        if not self._poll(self._up):
            raise TimeoutError(f"the volume service was not up in "
                               f"{self._startup_timeout:.0f}s ({self.problem})")


class OvercastCloud(ComposeChaos):
    """An Overcast compose stack for tests: start it, break it, look inside, remove it.

    Breaking it takes the verbs of ``overcast chaos`` (from ``ComposeChaos``): ``kill``,
    ``stop``, ``start``, ``restart``, ``pause``, ``unpause``, ``partition`` and ``heal``, each
    with a host or service name (``hypervisor-2``, ``storage-1``, ``conductor``, ``api``,
    ``volume``, ``rabbitmq``).
    """

    def __init__(self, *, hypervisors: int = 3, storage_nodes: int = 3,
                 project: str = "overcast-test", state_dir: Path | None = None,
                 startup_timeout: float = 300.0, pull: bool = False) -> None:
        self.hypervisors = hypervisors
        self.storage_nodes = storage_nodes
        self.startup_timeout = startup_timeout
        self.pull = pull
        self._own_state = state_dir is None
        self.state_dir = state_dir
        self.stack: compose.ComposeCloud | None = None
        self.compose: DockerCompose | None = None
        self.passwords: dict[str, str] = {}
        super().__init__(project)

    # -- lifecycle ------------------------------------------------------------------------

    def up(self) -> OvercastCloud:
        """Prepare and start the stack; return once every container is healthy, the API
        answers, the conductor sees every hypervisor up and the volume service is up."""
        if shutil.which("docker") is None:
            raise RuntimeError("OvercastCloud needs a Docker engine (docker on PATH)")
        if self.state_dir is None:
            self.state_dir = Path(tempfile.mkdtemp(prefix="overcast-cloud-"))
        stack = compose.ComposeCloud(
            state_dir=self.state_dir, hypervisors=self.hypervisors,
            storage_nodes=self.storage_nodes, project=self.project, api_port=free_port(),
            amqp_port=free_port(), object_port=free_port(), volume_port=free_port(),
            publish_bus=True)
        self.stack, self.passwords = compose.prepare(stack, pull=self.pull)
        compose.write_clouds_file(self.stack, self.passwords, self.clouds_file)
        self.compose = DockerCompose(
            context=str(self.stack.compose_file.parent),
            compose_file_name=[str(path) for path in self.stack.compose_files()],
            env_file=str(self.stack.compose_env_file), profiles=self.stack.profiles(),
            wait=True).waiting_for({"api": self._api_answers(),
                                    "conductor": ComputeHostsUp(self.stack, self.passwords)
                                    .with_startup_timeout(self.startup_timeout)
                                    .with_poll_interval(0.3),
                                    "volume": self._volume_up()})
        try:
            self.compose.start()
        except Exception as exc:
            tail = self._log_tail()
            self.down()
            raise RuntimeError(f"the Overcast cloud (compose project {self.project}) did not "
                               f"start: {exc}\n{tail}") from exc
        except BaseException:  # Ctrl-C or a cancelled test: clean up, and say nothing more
            self.down()
            raise
        return self

    def down(self) -> None:
        """Remove the containers, their volumes and network, and the state directory."""
        if self.compose is not None:
            self.compose.stop()
            self.compose = None
        if self._own_state and self.state_dir is not None:
            shutil.rmtree(self.state_dir, ignore_errors=True)
            self.state_dir = None

    def __enter__(self) -> OvercastCloud:
        return self.up()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.down()

    def _api_answers(self, timeout: float | None = None) -> HttpWaitStrategy:
        # A compose service's wait target is 127.0.0.1 and the port as given, so the port is
        # the one the API is published on.
        return (HttpWaitStrategy(self._stack().api_port, "/identity/v3")
                .with_startup_timeout(timeout or self.startup_timeout).with_poll_interval(0.3))

    def _volume_up(self, timeout: float | None = None) -> VolumeServiceUp:
        return (VolumeServiceUp(self._stack(), self.passwords)
                .with_startup_timeout(timeout or self.startup_timeout).with_poll_interval(0.3))

    def _stack(self) -> compose.ComposeCloud:
        if self.stack is None:
            raise RuntimeError("the Overcast cloud is not started")
        return self.stack

    # -- how to reach it ------------------------------------------------------------------

    @property
    def clouds_file(self) -> Path:
        """The stack's ``clouds.yaml`` (clouds ``overcast-admin`` and ``overcast-demo``)."""
        return self._stack().state_dir.resolve() / "clouds.yaml"

    @property
    def api_url(self) -> str:
        return self._stack().api_url

    @property
    def volume_url(self) -> str:
        """The volume service's Cinder API root on the host (``.../volume/v3`` under it)."""
        return self._stack().volume_url

    @property
    def bus_url(self) -> str:
        """The stack's RabbitMQ, published on the host's loopback (a test cloud publishes it,
        ``compose/publish-bus.yml``), as the cloud's own broker user: guest is gone."""
        return self._stack().transport_url

    @property
    def ring_file(self) -> Path:
        return self._stack().ring_file

    @property
    def hosts(self) -> list[str]:
        """The hypervisor hosts: hypervisor-1..N."""
        return self._stack().hosts()

    def connect(self, cloud: str = "overcast-admin") -> Connection:
        """An openstacksdk connection, as ``cloud`` of ``clouds.yaml``."""
        return sdk_connection(self.clouds_file, cloud)

    def swift(self, cloud: str = "overcast-admin") -> SwiftConnection:
        """A python-swiftclient connection to the object store, with a Keystone token and the
        storage URL from the catalog."""
        from swiftclient.client import Connection
        conn = self.connect(cloud)
        return Connection(preauthurl=conn.endpoint_for("object-store"),
                          preauthtoken=conn.auth_token, retries=0)

    def wait_api(self, timeout: float = 90.0) -> None:
        """Return once the API answers again (after its container was killed or restarted)."""
        self._api_answers(timeout).wait_until_ready(self.compose.get_container("api"))

    def wait_volume(self, timeout: float = 90.0) -> None:
        """Return once the volume service is up again (after it was killed or restarted)."""
        self._volume_up(timeout).wait_until_ready(None)

    def logs(self, *services: str) -> str:
        """``docker compose logs`` of ``services`` (all when none are named)."""
        if self.compose is None:
            return ""
        stdout, stderr = self.compose.get_logs(*services)
        return stdout + stderr

    def _log_tail(self) -> str:
        try:
            lines = self.logs().splitlines()
        except Exception as exc:  # noqa: BLE001 - the logs only explain a failure
            return f"(no logs: {exc})"
        return "\n".join(lines[-LOG_LINES_ON_FAILURE:])

    # -- looking inside -------------------------------------------------------------------

    def rabbitmqctl(self, *args: str) -> str:
        """Run ``rabbitmqctl ARGS`` inside the stack's broker container; its output."""
        exit_code, output = self.container("rabbitmq").exec_run(
            ["overcast-rabbitmq", "rabbitmqctl", *args])
        text = output.decode(errors="replace")
        if exit_code:
            raise RuntimeError(f"rabbitmqctl {' '.join(args)} failed ({exit_code}): {text}")
        return text

    def guests(self, hosts: list[str] | tuple[str, ...] | None = None, *,
               running_only: bool = False, timeout: float = 5.0
               ) -> dict[str, list[str] | None]:
        """Each host's own list of its guests' ids, asked over the bus (not the database's
        view); None for a host that does not answer."""
        return guest_lists(self.bus_url, list(hosts or self.hosts), timeout=timeout,
                           signing_key=self.passwords["bus_signing_key"],
                           running_only=running_only)

    def object_files(self, node: str, account: str, container: str, obj: str) -> list[Path]:
        """The files of one object in storage node ``node``'s own directory (read from its
        volume, ``<project>_storage-N``, on the host)."""
        from overcast.ring import Ring
        from overcast.testing.objects import object_files
        volume = self.client.volumes.get(f"{self.project}_{node}")
        return object_files(Path(volume.attrs["Mountpoint"]) / "storage" / node,
                            Ring.load(self.ring_file), account, container, obj)


class ServiceWatch:
    """Polls ``os-services`` cheaply with one token, for timing state changes."""

    def __init__(self, conn: Connection) -> None:
        self.url = conn.endpoint_for("compute").rstrip("/") + "/os-services"
        self.headers = {"X-Auth-Token": conn.auth_token,
                        "OpenStack-API-Version": "compute 2.79"}
        self.client = httpx.Client(timeout=5)

    def computes(self) -> dict[str, dict]:
        response = self.client.get(self.url, headers=self.headers,
                                   params={"binary": "nova-compute"})
        response.raise_for_status()
        return {s["host"]: s for s in response.json()["services"]}

    def wait(self, host: str, predicate: Callable[[dict], bool], *, timeout: float,
             interval: float = 0.05) -> float:
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
