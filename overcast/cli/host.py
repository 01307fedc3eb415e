"""``overcast-host``: the entrypoint of every Overcast container. One container is one host.

It works out the host's name, gives it a state directory with no stale ready files, then runs
the Python modules it is given (``overcast-host --role hypervisor agents.compute
agents.network``): one module is exec'd in place, several are supervised, and when any of
them exits the rest are stopped and the container exits with its status, so the restart
policy restarts the whole host, as a real node reboots.

Host names. A service scaled by ``docker compose --scale hypervisor=3`` has containers
``<project>-hypervisor-1`` … ``-3``, all made from one definition, so the name cannot be set
in the compose file. With ``--role hypervisor`` the container looks itself up instead: it
resolves its own address backwards through Docker's embedded DNS, which answers with the
container's name (``overcast-hypervisor-2.overcast_cloud``), and takes the replica number
from it: host ``hypervisor-2``. So the container ``overcast-hypervisor-2`` is always the host
``hypervisor-2``, across restarts and ``down``/``up``. ``OVERCAST_HOST_NAME`` overrides it.

Health. It writes ``/run/overcast-host`` (the ready directory and how many processes) for
``overcast-healthy``, the healthcheck: healthy once every process wrote its ready file.

This module must import nothing but the standard library: it runs before anything else.
"""
from __future__ import annotations

import argparse
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

HEALTH_FILE = Path("/run/overcast-host")
_REPLICA = re.compile(r"-(\d+)$")


def replica_number(name: str) -> int | None:
    """The compose replica number in a container name (``overcast-hypervisor-2.net`` -> 2)."""
    match = _REPLICA.search(name.split(".", 1)[0])
    return int(match.group(1)) if match else None


def own_container_name(*, attempts: int = 20, delay: float = 0.25) -> str:
    """This container's name, from a reverse lookup of its address in Docker's DNS."""
    address = socket.gethostbyname(socket.gethostname())
    last: Exception | None = None
    for _ in range(attempts):
        try:
            return socket.gethostbyaddr(address)[0]
        except OSError as exc:  # the embedded DNS may not know us for a moment
            last = exc
            time.sleep(delay)
    raise RuntimeError(f"cannot find this container's name by reverse DNS of {address}: "
                       f"{last}")


def host_name(role: str | None, environ: dict[str, str]) -> str:
    """The host name this container's processes report: see the module docstring."""
    if environ.get("OVERCAST_HOST_NAME"):
        return environ["OVERCAST_HOST_NAME"]
    if role:
        container = own_container_name()
        number = replica_number(container)
        if number is None:
            raise RuntimeError(f"container name {container!r} has no replica number")
        return f"{role}-{number}"
    return environ.get("OVERCAST_HOST") or socket.gethostname()


def prepare(role: str | None, modules: list[str], environ: dict[str, str]) -> dict[str, str]:
    """The environment of the host's processes; clears stale ready files, writes health."""
    host = host_name(role, environ)
    state = Path(environ.get("OVERCAST_STATE_DIR", "/var/lib/overcast"))
    # A role's hosts share one volume (like a rack's disks on one NAS); each has its own
    # directory in it, so the host's disk is the same after a restart or down/up.
    if role:
        state = state / host
    ready_dir = state / "run"
    ready_dir.mkdir(parents=True, exist_ok=True)
    # A SIGKILLed process leaves its ready file behind; it must not count as healthy.
    for stale in ready_dir.glob("*.ready"):
        stale.unlink(missing_ok=True)
    try:
        HEALTH_FILE.write_text(f"OVERCAST_READY_DIR={ready_dir}\n"
                               f"OVERCAST_PROCESSES={len(modules)}\n")
    except OSError:  # not in a container (a test): there is no healthcheck to feed
        pass
    return {**environ, "OVERCAST_HOST": host, "OVERCAST_STATE_DIR": str(state),
            "PYTHONUNBUFFERED": "1"}


def supervise(modules: list[str], env: dict[str, str], *, grace: float = 10.0) -> int:
    """Run every module; when one exits or a signal comes, stop all; the first exit status."""
    procs = {m: subprocess.Popen([sys.executable, "-m", m], env=env) for m in modules}
    stopping = False

    def stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True
        for proc in procs.values():
            if proc.poll() is None:
                proc.send_signal(signum)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        pid, raw = os.wait()
    except ChildProcessError:
        return 0
    dead = next((m for m, p in procs.items() if p.pid == pid), "?")
    status = os.waitstatus_to_exitcode(raw)
    for proc in procs.values():
        if proc.pid == pid:
            proc.returncode = status
    if not stopping:
        print(f"overcast-host: {dead} exited with status {status}; stopping the host",
              file=sys.stderr, flush=True)
        stop(signal.SIGTERM, None)
    deadline = time.monotonic() + grace
    for proc in procs.values():
        try:
            proc.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    # A signal asked us to stop: a clean stop. A process that died on its own: a failure,
    # even if it exited 0, since a host's processes are meant to run forever.
    return 0 if stopping and status in (0, -signal.SIGTERM) else (status or 1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="overcast-host", description=__doc__.split("\n\n")[0])
    parser.add_argument("--role", help="name the host <role>-<replica number> (scaled services)")
    parser.add_argument("modules", nargs="+", metavar="MODULE",
                        help="python modules to run, e.g. services.api or agents.compute")
    args = parser.parse_args(argv)
    env = prepare(args.role, args.modules, dict(os.environ))
    print(f"overcast-host: host {env['OVERCAST_HOST']}, state {env['OVERCAST_STATE_DIR']}, "
          f"running {' '.join(args.modules)}", file=sys.stderr, flush=True)
    if len(args.modules) == 1:
        os.execvpe(sys.executable, [sys.executable, "-m", args.modules[0]], env)
    return supervise(args.modules, env)


if __name__ == "__main__":
    sys.exit(main())
