"""Serial consoles end to end on the shared process-mode cloud (fake hypervisors): the stock
``openstack console url show --serial``, ``overcast console`` running a command in the fake
guest, and the refusals (forged and expired tokens, another project's server, a stopped
server, an unsigned gRPC call straight to an agent's console port)."""
from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import grpc
import httpx
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from overcast.bus.signing import Signer
from overcast.context import RequestContext
from overcast.grpc.client import metadata_for
from overcast.testing import wait_until
from protos.overcast.console.v1 import console_pb2 as pb
from protos.overcast.console.v1 import console_pb2_grpc
from tests.integration.conftest import CONSOLE_TOKEN_TTL

pytestmark = pytest.mark.integration

MV = {"OpenStack-API-Version": "compute 2.79"}


def _overcast() -> str:
    return shutil.which("overcast") or str(Path(sys.executable).parent / "overcast")


def _boot(conn, name: str):
    server = conn.compute.create_server(
        name=name, image_id=conn.image.find_image("cirros").id,
        flavor_id=conn.compute.find_flavor("m1.tiny").id, networks="auto")
    return conn.compute.wait_for_server(server, wait=60)


@pytest.fixture(scope="module")
def vm(demo):
    server = _boot(demo, "console-vm")
    yield server
    demo.compute.delete_server(server)


def _compute(conn) -> str:
    return conn.endpoint_for("compute").rstrip("/")


def _remote_console(conn, server_id: str, body: dict | None = None,
                    headers: dict | None = None) -> httpx.Response:
    return httpx.post(f"{_compute(conn)}/servers/{server_id}/remote-consoles",
                      headers={"X-Auth-Token": conn.auth_token, **MV, **(headers or {})},
                      json=body or {"remote_console": {"protocol": "serial", "type": "serial"}},
                      timeout=30)


def _conductor_db(cloud) -> sqlite3.Connection:
    return sqlite3.connect(cloud.cloud.state_dir / "conductor" / "compute.db", timeout=30)


def _tokens_of(cloud, instance_id: str) -> int:
    with contextlib.closing(_conductor_db(cloud)) as db:
        return db.execute("SELECT count(*) FROM console_auth_tokens WHERE instance_id = ?",
                          (instance_id,)).fetchone()[0]


def test_openstack_console_url_show_serial_gives_a_websocket_url(cloud, vm):
    result = cloud.openstack("console", "url", "show", "--serial", vm.name, "-f", "json",
                             cloud="overcast-demo")
    console = json.loads(result.stdout)
    assert console["type"] == "serial" and console["protocol"] == "serial"
    url = urlsplit(console["url"])
    assert (url.scheme, url.netloc, url.path) == (
        "ws", f"{cloud.cloud.bind}:{cloud.cloud.api_port}", "/compute/serial")
    assert len(parse_qs(url.query)["token"][0]) >= 40


def test_overcast_console_runs_a_command_in_the_fake_guest(cloud, vm):
    command = ["sh", "-c", "echo hello > /root/note; hostname; df -h /", "two words"]
    result = subprocess.run([_overcast(), "console", vm.name, "--", *command],
                            env={**cloud.env, "OS_CLOUD": "overcast-demo"},
                            stdin=subprocess.DEVNULL, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    # The fake guest is a record: its console prints, it never runs a host shell.
    assert result.stdout.splitlines() == ["fake guest console-vm", *command]


def test_overcast_console_without_a_command_attaches_to_the_login_shell(cloud, vm):
    result = subprocess.run([_overcast(), "console", vm.id],
                            env={**cloud.env, "OS_CLOUD": "overcast-demo"},
                            stdin=subprocess.DEVNULL, capture_output=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.replace(b"\r\n", b"\n") == b"fake guest console-vm\n(login shell)\n"


def test_the_legacy_action_gives_a_url_too(demo, vm):
    response = httpx.post(f"{_compute(demo)}/servers/{vm.id}/action",
                          headers={"X-Auth-Token": demo.auth_token},
                          json={"os-getSerialConsole": {"type": "serial"}}, timeout=30)
    assert response.status_code == 200, response.text
    assert response.json()["console"]["type"] == "serial"
    assert response.json()["console"]["url"].startswith("ws://")


def _refused(url: str) -> int:
    try:
        with connect(url, open_timeout=20):
            pass
    except InvalidStatus as exc:
        return exc.response.status_code
    return 101


def test_forged_and_expired_tokens_are_refused(cloud, demo, vm):
    base = f"ws://{cloud.cloud.bind}:{cloud.cloud.api_port}/compute/serial"
    assert _refused(f"{base}?token=forged-{'x' * 40}") == 403
    assert _refused(base) == 403
    url = _remote_console(demo, vm.id).json()["remote_console"]["url"]
    issued = time.monotonic()
    with connect(url, open_timeout=20) as websocket:  # fresh: accepted, and it works
        frames = [websocket.recv(timeout=20)]
        while not isinstance(frames[-1], str):
            frames.append(websocket.recv(timeout=20))
        assert json.loads(frames[-1]) == {"exit_status": 0}
    assert time.monotonic() - issued < CONSOLE_TOKEN_TTL, "too slow to see the token work"
    wait_until(lambda: _refused(url) == 403, timeout=CONSOLE_TOKEN_TTL + 30, interval=0.5,
               message="the expired token was still accepted")
    token = parse_qs(urlsplit(url).query)["token"][0]
    for name in ("api", "conductor", "hypervisor-1", "hypervisor-2"):
        assert token not in cloud.log(name), f"{name} logged a console token"


def test_bad_console_requests_are_400s_as_nova_says(demo, vm):
    for body, message in (
            ({"remote_console": {"protocol": "vnc", "type": "novnc"}},
             "Unavailable console type novnc."),
            ({"remote_console": {"protocol": "serial", "type": "novnc"}},
             "Unavailable console type novnc."),
            ({"remote_console": {"protocol": "foo", "type": "serial"}}, "is not one of"),
            ({"remote_console": {"protocol": "serial"}}, "'type' is a required property"),
            ({"remote_console": "serial"}, "is a required property")):
        response = _remote_console(demo, vm.id, body)
        assert response.status_code == 400, (body, response.text)
        assert message in response.json()["badRequest"]["message"]
    assert _remote_console(demo, vm.id, headers={
        "OpenStack-API-Version": "compute 2.5"}).status_code == 404
    url = _remote_console(demo, vm.id).json()["remote_console"]["url"]
    assert _refused(url + "&command=not-json") == 403
    assert _refused(url + "&command=%5B%5D") == 403  # an empty argv


def test_another_projects_server_is_not_found_and_gets_no_token(cloud, admin, demo):
    server = _boot(admin, "admin-console-vm")
    try:
        response = _remote_console(demo, server.id)
        assert response.status_code == 404, response.text
        assert "itemNotFound" in response.json()
        legacy = httpx.post(f"{_compute(demo)}/servers/{server.id}/action",
                            headers={"X-Auth-Token": demo.auth_token},
                            json={"os-getSerialConsole": {"type": "serial"}}, timeout=30)
        assert legacy.status_code == 404, legacy.text
        assert _tokens_of(cloud, server.id) == 0
        assert _remote_console(admin, server.id).status_code == 200  # its owner gets one
        assert _tokens_of(cloud, server.id) == 1
    finally:
        admin.compute.delete_server(server)


def test_a_stopped_server_gets_409(demo):
    server = _boot(demo, "stopped-console-vm")
    try:
        demo.compute.stop_server(server)
        demo.compute.wait_for_server(server, status="SHUTOFF", wait=60)
        response = _remote_console(demo, server.id)
        assert response.status_code == 409, response.text
        assert "vm_state stopped" in response.json()["conflictingRequest"]["message"]
    finally:
        demo.compute.delete_server(server)


def _console_address(cloud, admin, server_id: str) -> str:
    host = admin.compute.get_server(server_id).compute_host
    with contextlib.closing(_conductor_db(cloud)) as db:
        return db.execute("SELECT address FROM console_addresses WHERE host = ?",
                          (host,)).fetchone()[0]


async def _attach(address: str, instance_id: str, metadata) -> tuple[bytes, int | None]:
    """One Attach call as any process on the host could make it."""
    async with grpc.aio.insecure_channel(address) as channel:
        call = console_pb2_grpc.ConsoleServiceStub(channel).Attach(metadata=metadata,
                                                                   timeout=20)
        # As the contract says: write after the go-ahead (a write racing a refusal would
        # read as INTERNAL, not as the refusal it is).
        await call.initial_metadata()
        if not call.done():
            await call.write(pb.AttachRequest(open=pb.OpenSession(
                instance_id=instance_id, command=["id"], tty=False)))
        out, status = b"", None
        while (message := await call.read()) is not grpc.aio.EOF:
            kind = message.WhichOneof("event")
            if kind == "opened":
                await call.done_writing()
            elif kind == "exited":
                status = message.exited.status
            else:
                out += message.stdout
        return out, status


def test_an_unsigned_attach_straight_to_the_agent_is_refused(cloud, admin, vm):
    address = _console_address(cloud, admin, vm.id)
    ctx = RequestContext.admin()
    for metadata in ((), metadata_for(ctx), metadata_for(ctx, Signer("not-the-cloud-key"))):
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            asyncio.run(_attach(address, vm.id, metadata))
        assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
    # The same call signed with the cloud's key is served: the port is live.
    out, status = asyncio.run(_attach(address, vm.id, metadata_for(
        ctx, Signer(cloud.cloud.bus_signing_key()))))
    assert (out, status) == (b"fake guest console-vm\nid\n", 0)


def _read_available(fd: int, timeout: float) -> bytes:
    import select
    out = b""
    while select.select([fd], [], [], timeout)[0]:
        try:
            chunk = os.read(fd, 65536)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
        timeout = 0.2
    return out


def test_overcast_console_on_a_terminal_goes_raw_and_restores_it(cloud, vm):
    import fcntl
    import struct
    import termios
    master, slave = os.openpty()
    try:
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 132, 0, 0))
        before = termios.tcgetattr(slave)
        process = subprocess.Popen([_overcast(), "console", vm.name],
                                   env={**cloud.env, "OS_CLOUD": "overcast-demo"},
                                   stdin=slave, stdout=slave, stderr=slave,
                                   start_new_session=True)
        output = b""
        deadline = time.monotonic() + 60
        while process.poll() is None:
            assert time.monotonic() < deadline, f"overcast console hung: {output!r}"
            output += _read_available(master, 0.2)
        output += _read_available(master, 0.5)
        assert process.returncode == 0, output
        assert b"fake guest console-vm" in output and b"(login shell)" in output
        assert termios.tcgetattr(slave) == before  # raw mode was undone
    finally:
        os.close(master)
        os.close(slave)
