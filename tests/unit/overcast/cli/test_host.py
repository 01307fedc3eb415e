"""overcast-host: host names from the container's name, stale ready files, supervision."""
from __future__ import annotations

import os
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest

from overcast.cli import host

ROOT = Path(host.__file__).resolve().parents[2]


@pytest.mark.parametrize(("name", "number"), [
    ("overcast-hypervisor-2.overcast_cloud", 2),
    ("overcast-hypervisor-12", 12),
    ("myproj-storage-3.net.with.dots", 3),
    ("c986d4aa340c", None),
])
def test_replica_number_comes_from_the_container_name(name, number):
    assert host.replica_number(name) == number


def _ptr_answer(query: bytes, name: str) -> bytes:
    """A DNS answer to ``query`` with one PTR record, its name compressed where it can be."""
    header = query[:2] + b"\x81\x80" + b"\x00\x01\x00\x01\x00\x00\x00\x00"
    question = query[12:]
    rdata = host._encode_name(name)
    answer = b"\xc0\x0c" + struct.pack(">HHIH", 12, 1, 60, len(rdata)) + rdata
    return header + question + answer


@pytest.fixture
def fake_dns():
    """A one-shot DNS server on loopback that names every address like Docker does."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]

    def serve() -> None:
        data, peer = sock.recvfrom(512)
        sock.sendto(_ptr_answer(data, "overcast-hypervisor-2.overcast_cloud"), peer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield port
    sock.close()


def test_reverse_lookup_reads_the_ptr_record(fake_dns):
    assert host.reverse_lookup("172.18.0.7", server="127.0.0.1", port=fake_dns) == \
        "overcast-hypervisor-2.overcast_cloud"


def test_host_name_is_role_and_replica_number(monkeypatch):
    monkeypatch.setattr(host, "own_container_name",
                        lambda: "overcast-hypervisor-3.overcast_cloud")
    assert host.host_name("hypervisor", {}) == "hypervisor-3"
    assert host.host_name("hypervisor", {"OVERCAST_HOST_NAME": "h9"}) == "h9"
    assert host.host_name(None, {"OVERCAST_HOST": "api"}) == "api"


def test_prepare_gives_each_host_its_own_state_and_clears_stale_ready_files(tmp_path,
                                                                           monkeypatch):
    monkeypatch.setattr(host, "HEALTH_FILE", tmp_path / "health")
    monkeypatch.setattr(host, "own_container_name", lambda: "overcast-hypervisor-1.net")
    stale = tmp_path / "hypervisor-1" / "run" / "compute.hypervisor-1.ready"
    stale.parent.mkdir(parents=True)
    stale.write_text("123")
    env = host.prepare("hypervisor", ["agents.compute", "agents.network"],
                       {"OVERCAST_STATE_DIR": str(tmp_path)})
    assert env["OVERCAST_HOST"] == "hypervisor-1"
    assert env["OVERCAST_STATE_DIR"] == str(tmp_path / "hypervisor-1")
    assert not stale.exists()
    assert (tmp_path / "health").read_text() == (
        f"OVERCAST_READY_DIR={tmp_path / 'hypervisor-1' / 'run'}\nOVERCAST_PROCESSES=2\n")


@pytest.fixture
def modules(tmp_path, monkeypatch):
    (tmp_path / "sleeper.py").write_text("import time\ntime.sleep(60)\n")
    (tmp_path / "quitter.py").write_text("import sys, time\ntime.sleep(0.2)\nsys.exit(3)\n")
    return {"PYTHONPATH": str(tmp_path)}


def test_supervise_stops_the_host_when_any_process_dies(modules):
    started = time.monotonic()
    status = host.supervise(["sleeper", "quitter"], modules, grace=5)
    assert status == 3
    assert time.monotonic() - started < 5  # the sleeper was stopped, not waited for


def test_sigterm_stops_every_process_and_exits_cleanly(modules, tmp_path):
    """As docker stop does: SIGTERM to overcast-host, which passes it on and exits 0."""
    env = {**modules, "PATH": os.environ["PATH"], "OVERCAST_HOST": "h1",
           "OVERCAST_STATE_DIR": str(tmp_path / "state"),
           "OVERCAST_HOST_HEALTH_FILE": str(tmp_path / "health")}
    proc = subprocess.Popen([sys.executable, "-m", "overcast.cli.host", "sleeper", "sleeper"],
                            env={**env, "PYTHONPATH": f"{modules['PYTHONPATH']}:{ROOT}"},
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 10
    while len(psutil.Process(proc.pid).children()) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    children = psutil.Process(proc.pid).children()
    assert len(children) == 2
    started = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=10) == 0
    assert time.monotonic() - started < 5
    assert not any(child.is_running() for child in children)
    assert "host h1" in proc.stderr.read()


def test_the_supervisor_needs_only_the_standard_library():
    result = subprocess.run([sys.executable, "-S", "-c", "import sys; "
                             f"sys.path.insert(0, {str(ROOT)!r}); import overcast.cli.host"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
