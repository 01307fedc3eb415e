"""A whole local cloud for tests and benchmarks: its own state dir, ports and broker vhost."""
from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from overcast.cli import cloudconfig, local
from overcast.cli.broker import HostBroker, transport_url

if TYPE_CHECKING:  # the stock clients are test extras, imported when first used
    from openstack.connection import Connection


def guest_lists(transport_url: str, hosts: list[str], *, signing_key: str,
                timeout: float = 10.0, running_only: bool = False
                ) -> dict[str, list[str] | None]:
    """Ask each compute host over the bus (signing with the cloud's ``signing_key``) which
    guests its driver runs now: the host's own view, not the database's. None for a host
    that does not answer."""
    import asyncio

    from agents.compute.rpcapi import ComputeAgentAPI
    from overcast.bus import Bus
    from overcast.context import RequestContext

    async def ask() -> dict[str, list[str] | None]:
        bus = Bus(transport_url, name="test-probe", default_timeout=timeout,
                  signing_key=signing_key)
        await bus.connect(timeout=timeout)
        try:
            api = ComputeAgentAPI(bus)
            answers = await asyncio.gather(*(
                api.list_guests(RequestContext.admin(), host=h, timeout=timeout)
                for h in hosts), return_exceptions=True)
            return {h: None if isinstance(a, BaseException) else sorted(
                g["instance_id"] for g in a if not running_only or g["power_state"] == 1)
                for h, a in zip(hosts, answers, strict=True)}
        finally:
            await bus.close()

    return asyncio.run(ask())


def sdk_connection(clouds_file: Path, cloud: str) -> Connection:
    """An openstacksdk connection as ``cloud`` of ``clouds_file`` (never the environment)."""
    from openstack import config, connection
    region = config.OpenStackConfig(config_files=[str(clouds_file)],
                                    load_envvars=False).get_one(cloud=cloud)
    return connection.Connection(config=region)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class TestCloud:
    """A running local cloud; ``env`` makes the stock clients talk to it."""

    __test__ = False  # not a pytest class

    def __init__(self, cloud: local.LocalCloud, clouds_file: Path, passwords: dict) -> None:
        self.cloud = cloud
        self.clouds_file = clouds_file
        self.passwords = passwords

    @property
    def volume_url(self) -> str:
        """The volume service's Cinder API root (``.../volume/v3`` is under it)."""
        return self.cloud.volume_url

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "OS_CLIENT_CONFIG_FILE": str(self.clouds_file),
                "OS_CLOUD": "overcast-admin"}

    def connect(self, cloud: str = "overcast-admin") -> Connection:
        return sdk_connection(self.clouds_file, cloud)

    def openstack(self, *args: str, cloud: str = "overcast-admin", check: bool = True,
                  timeout: float = 120) -> subprocess.CompletedProcess:
        """Run the stock ``openstack`` CLI against this cloud."""
        cli = shutil.which("openstack") or str(Path(os.sys.executable).parent / "openstack")
        env = {**self.env, "OS_CLOUD": cloud}
        result = subprocess.run([cli, *args], env=env, capture_output=True, text=True,
                                timeout=timeout)
        if check and result.returncode != 0:
            raise AssertionError(f"openstack {' '.join(args)} failed ({result.returncode}):\n"
                                 f"{result.stdout}\n{result.stderr}")
        return result

    def restart(self, name: str) -> None:
        """Start a process of the cloud again (after a test stopped or killed it)."""
        module, env = self.cloud.processes()[name]
        extra = self._extra_env().get(name, {})
        local.start_process(self.cloud, name, module, {**env, **extra})

    def _extra_env(self) -> dict[str, dict[str, str]]:
        return {"api": self.cloud.api_password_env(self.passwords)}

    def host_guests(self, timeout: float = 10.0, *, hosts: list[str] | None = None,
                    running_only: bool = False) -> dict[str, list[str] | None]:
        """Each compute host's own list of its guests (see ``guest_lists``)."""
        names = hosts or [n for n in self.cloud.processes() if n.startswith("hypervisor-")]
        return guest_lists(self.cloud.transport_url, names, timeout=timeout,
                           signing_key=self.cloud.bus_signing_key(), running_only=running_only)

    def kill(self, name: str) -> None:
        """SIGKILL one process of the cloud, as a crash would."""
        local.stop_process(self.cloud, name, sig=signal.SIGKILL, timeout=5)

    def pause(self, name: str) -> None:
        """Freeze a process (SIGSTOP): its sockets stay open, it just stops answering."""
        os.kill(local.read_pids(self.cloud)[name], signal.SIGSTOP)

    def unpause(self, name: str) -> None:
        os.kill(local.read_pids(self.cloud)[name], signal.SIGCONT)

    def log(self, name: str) -> str:
        path = self.cloud.log_dir() / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""


DEFAULT_BROKER_URL = "amqp://guest:guest@127.0.0.1:5672/"


@contextlib.contextmanager
def session_broker(url: str = DEFAULT_BROKER_URL, *, broker: HostBroker | None = None
                   ) -> Iterator[str]:
    """The host's RabbitMQ at ``url`` for a test session: started (on loopback only) when none
    answers, and stopped at the end if it was not running before, whoever started it in
    between. A broker that was already running is left alone."""
    was_running = local.broker_reachable(url)
    if not was_running:
        local.ensure_broker(url, broker=broker)
    try:
        yield url
    finally:
        if not was_running:
            (broker or HostBroker()).stop()


@contextlib.contextmanager
def running_cloud(*, hosts: int = 3, base_url: str = DEFAULT_BROKER_URL,
                  env: dict[str, dict[str, str]] | None = None, keep: bool = False,
                  extra_env: dict[str, str] | None = None,
                  storage_nodes: int = 0, driver: str = "fake") -> Iterator[TestCloud]:
    """Start a cloud in a temporary directory on a fresh vhost; stop and remove it after.

    Its hypervisors run the ``fake`` driver unless ``driver`` says ``process`` (real guests).
    """
    local.ensure_broker(base_url)
    state_dir = Path(tempfile.mkdtemp(prefix="overcast-test-"))
    passwords = cloudconfig.load_or_create_secrets(state_dir)
    # Its own vhost and its own user, allowed on that vhost only, rather than guest.
    vhost = f"overcast-test-{secrets.token_hex(4)}"
    local.ensure_vhost(vhost, user=vhost, password=passwords["rabbitmq_password"])
    base = urlsplit(base_url)
    bus_url = transport_url(password=passwords["rabbitmq_password"],
                            host=base.hostname or "127.0.0.1", port=base.port or 5672,
                            user=vhost, vhost=vhost)
    cloud = local.LocalCloud(state_dir=state_dir, transport_url=bus_url,
                             api_port=free_port(), image_port=free_port(),
                             volume_port=free_port(), hosts=hosts,
                             extra_env=tuple((extra_env or {}).items()),
                             storage_nodes=storage_nodes, compute_driver=driver,
                             object_port=free_port() if storage_nodes else 8080,
                             storage_ports=tuple(free_port() for _ in range(storage_nodes)))
    clouds_file = state_dir / "clouds.yaml"
    cloudconfig.write_clouds_yaml(clouds_file, cloudconfig.clouds_yaml(
        auth_url=f"{cloud.api_url}/identity/v3", passwords=passwords))
    test_cloud = TestCloud(cloud, clouds_file, passwords)
    merged = test_cloud._extra_env()
    for name, values in (env or {}).items():
        merged[name] = {**merged.get(name, {}), **values}
    try:
        local.start_all(cloud, env=merged)
        local.wait_healthy(cloud, timeout=90)
        yield test_cloud
    except BaseException:
        for name in cloud.processes():
            tail = test_cloud.log(name)[-3000:]
            if "Traceback" in tail or "ERROR" in tail:
                print(f"--- {name}.log (tail) ---\n{tail}")  # noqa: T201 - shown with the failing test
        raise
    finally:
        local.stop_all(cloud)
        local.remove_vhost(vhost, user=vhost)
        if not keep:
            shutil.rmtree(state_dir, ignore_errors=True)
