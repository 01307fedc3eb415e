"""Process mode: every service as its own OS process on this host, against a real RabbitMQ."""
from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import httpx

from overcast.bus import Bus
from overcast.cli import cloudconfig, volumes
from overcast.cli.broker import HostBroker
from overcast.context import RequestContext
from services.conductor.rpcapi import ConductorAPI


def ensure_ring(path: Path, devices: list[tuple[str, str]]) -> bool:
    """Write a ring with ``devices`` (name, address), one zone each, unless ``path`` exists
    (an operator may have changed it since). Whether it was written."""
    if path.exists():
        return False
    from overcast.ring import RingBuilder
    path.parent.mkdir(parents=True, exist_ok=True)
    RingBuilder.with_devices([(name, address, None) for name, address in devices]).save(path)
    return True


@dataclasses.dataclass(frozen=True)
class LocalCloud:
    """Where a local cloud keeps its state and which ports and broker it uses."""

    state_dir: Path
    transport_url: str = "amqp://guest:guest@127.0.0.1:5672/"
    api_port: int = 8770
    image_port: int = 9292
    # The volume service's Cinder API (block-storage, volumev3).
    volume_port: int = 8776
    hosts: int = 3
    bind: str = "127.0.0.1"
    extra_env: tuple[tuple[str, str], ...] = ()
    # Object storage: the proxy and this many storage nodes (0: none).
    storage_nodes: int = 0
    object_port: int = 8080
    # gRPC ports of the storage nodes; empty: 6201, 6202, ...
    storage_ports: tuple[int, ...] = ()
    # The hypervisors' virt driver: ``process`` (real guests) as root, else ``fake``
    # (namespaces, mounts and cgroups need root; a fake guest is a record).
    compute_driver: str = dataclasses.field(
        default_factory=lambda: "process" if os.geteuid() == 0 else "fake")

    @property
    def api_url(self) -> str:
        return f"http://{self.bind}:{self.api_port}"

    @property
    def object_url(self) -> str:
        return f"http://{self.bind}:{self.object_port}"

    @property
    def volume_url(self) -> str:
        return f"http://{self.bind}:{self.volume_port}"

    def volumes_dir(self) -> Path:
        """The volumes' backing files, shared by the volume service and every hypervisor."""
        return self.state_dir / "volumes"

    def extra_endpoints(self) -> str:
        """The api's catalog entries for the services it does not serve itself: Cinder (the
        volume process) always, Swift when object storage runs."""
        endpoints = [f"block-storage={self.volume_url}/volume/v3",
                     f"volumev3={self.volume_url}/volume/v3"]
        if self.storage_nodes:
            endpoints.insert(0, f"object-store={self.object_url}/v1/AUTH_%(project_id)s")
        return ",".join(endpoints)

    def ring_path(self) -> Path:
        return self.state_dir / "object.ring"

    def storage_address(self, index: int) -> str:
        port = self.storage_ports[index - 1] if self.storage_ports else 6200 + index
        return f"{self.bind}:{port}"

    def processes(self) -> dict[str, tuple[str, dict[str, str]]]:
        """name -> (python module, environment) for every process of the cloud."""
        procs = {
            "image": ("services.image", {"OVERCAST_IMAGE_LISTEN":
                                         f"{self.bind}:{self.image_port}"}),
            "conductor": ("services.conductor", {}),
            "scheduler": ("services.scheduler", {}),
            "api": ("services.api", {"OVERCAST_API_LISTEN": self.bind,
                                     "OVERCAST_API_PORT": str(self.api_port),
                                     "OVERCAST_API_PUBLIC_URL": self.api_url,
                                     "OVERCAST_API_IMAGE_TARGET":
                                         f"{self.bind}:{self.image_port}",
                                     "OVERCAST_API_EXTRA_ENDPOINTS": self.extra_endpoints()}),
            # Backups go to the local object proxy; without one they fail, the rest works.
            "volume": ("services.volume", {
                "OVERCAST_VOLUME_LISTEN": self.bind,
                "OVERCAST_VOLUME_PORT": str(self.volume_port),
                "OVERCAST_VOLUME_PUBLIC_URL": self.volume_url,
                "OVERCAST_VOLUME_VOLUMES_DIR": str(self.volumes_dir()),
                "OVERCAST_VOLUME_AUTH_URL": f"{self.api_url}/identity",
                "OVERCAST_VOLUME_IMAGE_TARGET": f"{self.bind}:{self.image_port}",
                **({"OVERCAST_VOLUME_OBJECT_STORE_URL":
                    f"{self.object_url}/v1/AUTH_%(project_id)s"} if self.storage_nodes
                   else {})}),
        }
        for index in range(1, self.hosts + 1):
            procs[f"hypervisor-{index}"] = ("agents.compute", {
                "OVERCAST_COMPUTE_HOST": f"hypervisor-{index}",
                "OVERCAST_COMPUTE_DRIVER": self.compute_driver,
                "OVERCAST_COMPUTE_IMAGE_TARGET": f"{self.bind}:{self.image_port}",
                # Every hypervisor of this cloud mounts the same shared storage, and the
                # volume service's files.
                "OVERCAST_COMPUTE_SHARED_DIR": str(self.state_dir / "shared"),
                "OVERCAST_COMPUTE_VOLUMES_DIR": str(self.volumes_dir())})
        if self.storage_nodes:
            procs["object-proxy"] = ("services.objectstore", {
                "OVERCAST_OBJECT_PROXY_LISTEN": self.bind,
                "OVERCAST_OBJECT_PROXY_PORT": str(self.object_port),
                "OVERCAST_OBJECT_PROXY_PUBLIC_URL": self.object_url,
                "OVERCAST_OBJECT_PROXY_AUTH_URL": f"{self.api_url}/identity",
                "OVERCAST_OBJECT_PROXY_TEMPAUTH_USERS": "test:tester:testing:.admin",
                "OVERCAST_OBJECT_PROXY_RING_PATH": str(self.ring_path())})
            for index in range(1, self.storage_nodes + 1):
                procs[f"storage-{index}"] = ("agents.storage", {
                    "OVERCAST_STORAGE_HOST": f"storage-{index}",
                    "OVERCAST_STORAGE_LISTEN": self.storage_address(index),
                    "OVERCAST_STORAGE_RING_PATH": str(self.ring_path())})
        return procs

    def ensure_ring(self) -> None:
        """Write the object ring (a zone per storage node) unless there is one."""
        if self.storage_nodes:
            ensure_ring(self.ring_path(), [(f"storage-{n}", self.storage_address(n))
                                           for n in range(1, self.storage_nodes + 1)])

    def bus_signing_key(self) -> str:
        """The key this cloud's bus messages are signed with (kept with its secrets)."""
        return cloudconfig.load_or_create_secrets(self.state_dir)["bus_signing_key"]

    def signing_key_file(self) -> Path:
        """A file holding the bus signing key (mode 0600), which every process is given as
        OVERCAST_BUS_SIGNING_KEY_FILE: a file, since the environment is readable in /proc."""
        return self.secret_file("bus_signing_key", self.bus_signing_key())

    def secret_file(self, name: str, value: str) -> Path:
        """``value`` in ``secrets/<name>`` of the state dir (directory 0700, file 0600), for a
        process to read through a setting's ``_FILE`` form rather than its environment."""
        directory = self.state_dir / "secrets"
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        path = directory / name
        cloudconfig.write_private(path, value)
        return path

    def api_password_env(self, passwords: dict[str, str]) -> dict[str, str]:
        """The api process's settings for the bootstrap passwords: paths, never values."""
        return {f"OVERCAST_API_{role.upper()}_PASSWORD_FILE":
                str(self.secret_file(f"{role}_password", passwords[f"{role}_password"]))
                for role in ("admin", "demo")}

    def run_dir(self) -> Path:
        return self.state_dir / "run"

    def log_dir(self) -> Path:
        return self.state_dir / "logs"


def broker_reachable(url: str, timeout: float = 3.0) -> bool:
    async def probe() -> bool:
        # The probe sends nothing, so any key will do: it only connects.
        bus = Bus(url, name="overcast-cli.probe", signing_key=secrets.token_bytes(32))
        try:
            await bus.connect(timeout=timeout)
        except Exception:  # noqa: BLE001 - any failure means not reachable
            return False
        await bus.close()
        return True
    return asyncio.run(probe())


def ensure_broker(url: str, *, timeout: float = 90.0,
                  broker: HostBroker | None = None) -> str:
    """Use the broker at ``url``, or start Debian's rabbitmq-server (``broker``, on loopback
    only) if none answers: "running" or "started"."""
    if broker_reachable(url):
        return "running"
    (broker or HostBroker()).start()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if broker_reachable(url):
            return "started"
        time.sleep(1)
    raise RuntimeError(f"RabbitMQ did not start within {timeout:.0f}s")


def ensure_vhost(vhost: str, *, user: str = "guest", password: str | None = None,
                 broker: HostBroker | None = None) -> None:
    """Create a RabbitMQ vhost (so separate clouds never share queues) with rabbitmqctl, and
    give ``user`` (created with ``password`` when one is given) every permission there."""
    ctl = (broker or HostBroker()).ctl
    ctl("-q", "add_vhost", vhost, check=False)
    # The password goes on stdin, never on a command line that ps shows.
    if password is not None and ctl("-q", "add_user", user, stdin=password + "\n",
                                    check=False).returncode:
        ctl("-q", "change_password", user, stdin=password + "\n")
    ctl("-q", "set_permissions", "-p", vhost, user, ".*", ".*", ".*")


def remove_vhost(vhost: str, *, user: str | None = None,
                 broker: HostBroker | None = None) -> None:
    """Delete a vhost made by ``ensure_vhost`` (its queues with it), and its own user."""
    ctl = (broker or HostBroker()).ctl
    ctl("-q", "delete_vhost", vhost, check=False)
    if user is not None:
        ctl("-q", "delete_user", user, check=False)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.split(") ", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def read_pids(cloud: LocalCloud) -> dict[str, int]:
    pids = {}
    for path in sorted(cloud.run_dir().glob("*.pid")):
        try:
            pids[path.stem] = int(path.read_text().strip())
        except ValueError:
            continue
    return pids


def _without_shadows(inherited: Mapping[str, str], given: Mapping[str, str]
                     ) -> dict[str, str]:
    """The caller's environment without the settings that would win over a ``_FILE`` form
    being given (a plain ``OVERCAST_X`` or ``OVERCAST_<SVC>_X`` beats ``OVERCAST_X_FILE``), so
    an inherited secret can neither override the file nor sit in the child's environment."""
    shadowed = {key.removesuffix("_FILE").removeprefix("OVERCAST_")
                for key in given if key.startswith("OVERCAST_") and key.endswith("_FILE")}
    return {key: value for key, value in inherited.items()
            if not (key.startswith("OVERCAST_") and any(
                key == f"OVERCAST_{name}" or key.endswith(f"_{name}") for name in shadowed))}


def start_process(cloud: LocalCloud, name: str, module: str, env: dict[str, str]) -> int:
    cloud.run_dir().mkdir(parents=True, exist_ok=True)
    cloud.log_dir().mkdir(parents=True, exist_ok=True)
    # The broker URL (with its password) and the key go as files: a process's environment
    # can be read in /proc.
    files = {"OVERCAST_TRANSPORT_URL_FILE": str(cloud.secret_file("transport_url",
                                                                  cloud.transport_url)),
             "OVERCAST_BUS_SIGNING_KEY_FILE": str(cloud.signing_key_file())}
    given = {**files, **dict(cloud.extra_env), **env}
    # How it was started, so that ``start_again`` can start it the same way after a kill.
    # Settings only: the secrets are in the files these name (mode 0600 all the same).
    cloudconfig.write_private(launch_file(cloud, name),
                              json.dumps({"module": module, "env": given}))
    return _spawn(cloud, name, module, given)


def launch_file(cloud: LocalCloud, name: str) -> Path:
    return cloud.run_dir() / f"{name}.launch.json"


def start_again(cloud: LocalCloud, name: str) -> int:
    """Start process ``name`` as it was last started (after a kill or stop), with the same
    module and settings; its pid. ``LookupError`` if it never ran under this state dir,
    ``RuntimeError`` if it is running."""
    try:
        launch = json.loads(launch_file(cloud, name).read_text())
    except FileNotFoundError:
        raise LookupError(f"no process {name!r} was started under {cloud.state_dir}") from None
    pid = read_pids(cloud).get(name)
    if pid is not None and pid_alive(pid):
        raise RuntimeError(f"{name} is running (pid {pid})")
    return _spawn(cloud, name, launch["module"], launch["env"])


def _spawn(cloud: LocalCloud, name: str, module: str, given: dict[str, str]) -> int:
    full_env = {**_without_shadows(os.environ, given), "OVERCAST_STATE_DIR": str(cloud.state_dir),
                **given, "PYTHONUNBUFFERED": "1"}
    log = open(cloud.log_dir() / f"{name}.log", "ab")  # noqa: SIM115 - owned by the child
    proc = subprocess.Popen([sys.executable, "-m", module], env=full_env, stdout=log,
                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            start_new_session=True, cwd=str(Path(__file__).parents[2]))
    log.close()
    (cloud.run_dir() / f"{name}.pid").write_text(str(proc.pid))
    return proc.pid


def start_all(cloud: LocalCloud, env: dict[str, dict[str, str]] | None = None) -> dict[str, int]:
    """Start every process that is not already running; returns name -> pid."""
    running = {n: p for n, p in read_pids(cloud).items() if pid_alive(p)}
    cloud.ensure_ring()
    # The volumes' shared storage, as an NFS export would be: the volume service refuses to
    # report itself up without it.
    cloud.volumes_dir().mkdir(mode=0o700, parents=True, exist_ok=True)
    started = {}
    for name, (module, proc_env) in cloud.processes().items():
        if name in running:
            continue
        started[name] = start_process(cloud, name, module, {**proc_env,
                                                             **(env or {}).get(name, {})})
    return {**running, **started}


def stop_process(cloud: LocalCloud, name: str, *, sig: int = signal.SIGTERM,
                 timeout: float = 15.0) -> None:
    pid_file = cloud.run_dir() / f"{name}.pid"
    if not pid_file.exists():
        return
    pid = int(pid_file.read_text().strip())
    if pid_alive(pid):
        os.kill(pid, sig)
        deadline = time.monotonic() + timeout
        while pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if pid_alive(pid):
            os.kill(pid, signal.SIGKILL)
    pid_file.unlink(missing_ok=True)


def stop_all(cloud: LocalCloud) -> list[str]:
    names = list(read_pids(cloud))
    # Agents first, the API last, so that nothing reports into a stopped service.
    order = sorted(names, key=lambda n: (not n.startswith("hypervisor"), n == "api"))
    for name in order:
        stop_process(cloud, name)
    return order


def volume_service_problem(cloud: LocalCloud) -> str:
    """"" once the volume API answers with its ``cinder-volume`` up; else what is wrong."""
    return volumes.problem(identity_url=f"{cloud.api_url}/identity/v3",
                           volume_url=cloud.volume_url,
                           passwords=cloudconfig.load_or_create_secrets(cloud.state_dir))


async def service_states(cloud: LocalCloud, *, timeout: float = 5.0) -> list[dict]:
    """The services as the conductor sees them (state, heartbeat time)."""
    bus = Bus(cloud.transport_url, name="overcast-cli", default_timeout=timeout,
              signing_key=cloud.bus_signing_key())
    await bus.connect(timeout=timeout)
    try:
        return await ConductorAPI(bus).list_services(RequestContext.admin())
    finally:
        await bus.close()


def wait_healthy(cloud: LocalCloud, *, timeout: float = 60.0) -> None:
    """Return once every process is ready, the API answers, every host is up and the volume
    service's ``cinder-volume`` is up."""
    deadline = time.monotonic() + timeout
    expected = set(cloud.processes())
    problem = "starting"
    while time.monotonic() < deadline:
        pids = read_pids(cloud)
        dead = [n for n in expected if n not in pids or not pid_alive(pids[n])]
        if dead:
            raise RuntimeError(f"process(es) exited: {', '.join(sorted(dead))}; see "
                               f"{cloud.log_dir()}")
        ready = {p.name.split(".")[0] for p in cloud.run_dir().glob("*.ready")}
        missing = ({"image", "api", "conductor", "scheduler", "volume"}
                   | {n for n in expected if n == "object-proxy" or n.startswith("storage-")}
                   ) - ready
        if missing:
            problem = f"waiting for {', '.join(sorted(missing))}"
            time.sleep(0.2)
            continue
        try:
            httpx.get(f"{cloud.api_url}/identity/v3", timeout=2).raise_for_status()
            services = asyncio.run(service_states(cloud))
        except Exception as exc:  # noqa: BLE001 - not up yet
            problem = str(exc)
            time.sleep(0.3)
            continue
        up_hosts = {s["host"] for s in services
                    if s["binary"] == "nova-compute" and s["state"] == "up"}
        wanted = {n for n in expected if n.startswith("hypervisor-")}
        problem = (f"hosts not up yet: {', '.join(sorted(wanted - up_hosts))}"
                   if not wanted <= up_hosts else volume_service_problem(cloud))
        if not problem:
            return
        time.sleep(0.3)
    raise RuntimeError(f"the cloud did not become healthy in {timeout:.0f}s ({problem})")
