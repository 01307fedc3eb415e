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
import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

HEALTH_FILE = Path(os.environ.get("OVERCAST_HOST_HEALTH_FILE", "/run/overcast-host"))
_REPLICA = re.compile(r"-(\d+)$")


def replica_number(name: str) -> int | None:
    """The compose replica number in a container name (``overcast-hypervisor-2.net`` -> 2)."""
    match = _REPLICA.search(name.split(".", 1)[0])
    return int(match.group(1)) if match else None


def _nameserver(resolv_conf: Path = Path("/etc/resolv.conf")) -> str:
    for line in resolv_conf.read_text().splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] == "nameserver":
            return parts[1]
    return "127.0.0.11"


def _encode_name(name: str) -> bytes:
    return b"".join(bytes([len(p)]) + p.encode() for p in name.split(".") if p) + b"\0"


def _read_name(packet: bytes, offset: int) -> tuple[str, int]:
    """A (possibly compressed) domain name at ``offset``; the name and the offset after it."""
    labels, end = [], None
    while True:
        length = packet[offset]
        if length & 0xC0 == 0xC0:  # a pointer to a name earlier in the packet
            end = end if end is not None else offset + 2
            offset = ((length & 0x3F) << 8) | packet[offset + 1]
            continue
        if length == 0:
            return ".".join(labels), (end if end is not None else offset + 1)
        labels.append(packet[offset + 1:offset + 1 + length].decode())
        offset += 1 + length


def reverse_lookup(address: str, *, server: str, port: int = 53, timeout: float = 1.0) -> str:
    """The PTR name of an IPv4 ``address``, asked of the DNS ``server`` directly.

    Not ``socket.gethostbyaddr``: the C library reads /etc/hosts first, where Docker maps
    the address to the container's id, not its name.
    """
    query_id = int.from_bytes(os.urandom(2), "big")
    qname = ".".join(reversed(address.split("."))) + ".in-addr.arpa"
    request = (query_id.to_bytes(2, "big") + b"\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00"
               + _encode_name(qname) + b"\x00\x0c\x00\x01")  # PTR, IN
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        sock.sendto(request, (server, port))
        packet = sock.recv(4096)
    if int.from_bytes(packet[:2], "big") != query_id:
        raise OSError("DNS answer for another query")
    answers = int.from_bytes(packet[6:8], "big")
    _, offset = _read_name(packet, 12)
    offset += 4  # QTYPE, QCLASS
    for _ in range(answers):
        _, offset = _read_name(packet, offset)
        rtype = int.from_bytes(packet[offset:offset + 2], "big")
        rdlength = int.from_bytes(packet[offset + 8:offset + 10], "big")
        offset += 10
        if rtype == 12:
            return _read_name(packet, offset)[0]
        offset += rdlength
    raise OSError(f"no PTR record for {address}")


def own_container_name(*, attempts: int = 20, delay: float = 0.25) -> str:
    """This container's name, from a reverse lookup of its address in Docker's DNS."""
    address = socket.gethostbyname(socket.gethostname())
    server = _nameserver()
    last: Exception | None = None
    for _ in range(attempts):
        try:
            return reverse_lookup(address, server=server)
        except OSError as exc:  # the embedded DNS may not know us for a moment
            last = exc
            time.sleep(delay)
    raise RuntimeError(f"cannot find this container's name by reverse DNS of {address} "
                       f"at {server}: {last}")


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
    with contextlib.suppress(OSError):  # not in a container (a test): no healthcheck to feed
        HEALTH_FILE.write_text(f"OVERCAST_READY_DIR={ready_dir}\n"
                               f"OVERCAST_PROCESSES={len(modules)}\n")
    return {**environ, "OVERCAST_HOST": host, "OVERCAST_STATE_DIR": str(state),
            "PYTHONUNBUFFERED": "1"}


def supervise(modules: list[str], env: dict[str, str], *, grace: float = 10.0) -> int:
    """Run every module; when one exits or a signal comes, stop all; the first exit status."""
    procs = [(m, subprocess.Popen([sys.executable, "-m", m], env=env)) for m in modules]
    stopping = False

    def stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True
        for _, proc in procs:
            if proc.returncode is None:
                proc.send_signal(signum)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        pid, raw = os.wait()
    except ChildProcessError:
        return 0
    status = os.waitstatus_to_exitcode(raw)
    dead = "?"
    for module, proc in procs:
        if proc.pid == pid:
            proc.returncode, dead = status, module
    if not stopping:
        print(f"overcast-host: {dead} exited with status {status}; stopping the host",
              file=sys.stderr, flush=True)
        stop(signal.SIGTERM, None)
    deadline = time.monotonic() + grace
    for _, proc in procs:
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
