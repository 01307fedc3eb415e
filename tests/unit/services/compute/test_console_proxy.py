"""The serial console websocket and the remote-consoles API in a real HTTP server (uvicorn on
loopback), with a conductor twin that grants tokens and a real agent console port behind:
the frames of both modes, the refusals, and a client that goes away gets its session
killed."""
from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from collections.abc import AsyncIterator
from urllib.parse import quote

import httpx
import orjson
import psutil
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from agents.compute.console_server import ConsoleEndpoint
from agents.compute.contract import FlavorSpec, InstancePayload
from agents.compute.fake import FakeDriver
from overcast import errors
from overcast.bus.signing import Signer
from overcast.http import HttpServer
from overcast.rest.app import rest_app
from overcast.testing.cloud import free_port
from services.compute.api import build_router
from services.conductor.contract import ConsoleConnection, ConsoleToken
from tests.unit.services.compute.compute_twins import TokensTwin, auth

KEY = "the-cloud-key"
TOKEN = "t" * 43
SERVER = "11111111-2222-3333-4444-555555555555"
INSTANCE = InstancePayload(id=SERVER, name="vm1", project_id="p1", user_id="u1",
                           flavor=FlavorSpec(id="1", name="m1.tiny", vcpus=1, ram=512, disk=1))


class ScriptDriver(FakeDriver):
    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.script: str | None = None

    def console_command(self, instance_id, command):
        argv = super().console_command(instance_id, command)
        return argv if self.script is None else ["sh", "-c", self.script]


class Conductor:
    """Grants ``TOKEN`` for the console port at ``address``; refuses any other."""

    def __init__(self, address: str) -> None:
        self.address = address
        self.issued: list[str] = []

    async def validate_console_token(self, ctx, *, token: str, console_type: str
                                     ) -> ConsoleConnection:
        assert ctx.is_admin
        if token == "unanswered":
            raise TimeoutError("conductor.validate_console_token did not answer")
        if token != TOKEN or console_type != "serial":
            raise errors.NotFound("The token has expired or is invalid.")
        return ConsoleConnection(instance_id=SERVER, console_type="serial",
                                 host="hypervisor-1", address=self.address,
                                 project_id="p1", user_id="u1")

    async def create_console_token(self, ctx, *, instance_id: str, console_type: str
                                   ) -> ConsoleToken:
        if instance_id != SERVER:
            raise errors.NotFound(f"Instance {instance_id} could not be found.")
        self.issued.append(instance_id)
        return ConsoleToken(token=TOKEN, instance_id=instance_id, console_type=console_type,
                            expires_at="2030-01-01T00:00:00")


@pytest.fixture
async def api(tmp_path) -> AsyncIterator[tuple[str, ScriptDriver, Conductor]]:
    driver = ScriptDriver(state_file=tmp_path / "guests.json")
    await driver.spawn(INSTANCE, image=None, network_info=[])
    console = ConsoleEndpoint(listen="127.0.0.1:0", host="hypervisor-1", driver=driver,
                              signing_key=KEY)
    await console.start()
    conductor = Conductor(console.address)
    port = free_port()
    app = rest_app(authenticator=TokensTwin())
    app.include_router(build_router(conductor=conductor, images=None, network=None,
                                    console_signer=Signer(KEY),
                                    public_url="http://api.example:8770"), prefix="/compute")
    server = HttpServer(app, host="127.0.0.1", port=port)
    await server.start()
    yield f"127.0.0.1:{port}", driver, conductor
    await server.stop()
    await console.stop()


async def _session(url: str, *, send: tuple = ()) -> tuple[list, object]:
    frames = []
    async with connect(url, open_timeout=20) as websocket:
        for item in send:
            await websocket.send(item)
        with contextlib.suppress(ConnectionClosed):  # a close other than 1000
            async for frame in websocket:
                frames.append(frame)
        return frames, websocket.close_reason


async def test_a_command_frames_stdout_and_stderr_by_channel_and_ends_with_its_status(api):
    address, driver, _ = api
    driver.script = "cat; echo oops >&2; exit 5"
    url = (f"ws://{address}/compute/serial?token={TOKEN}&command="
           + quote(orjson.dumps(["ignored"]).decode()))
    frames, reason = await asyncio.wait_for(_session(url, send=(
        b"in\n", orjson.dumps({"eof": True}).decode())), 20)
    assert frames == [b"\x01in\n", b"\x02oops\n", '{"exit_status":5}']
    assert reason == "exit_status=5"


async def test_the_login_shell_is_raw_terminal_bytes(api):
    address, _, _ = api
    frames, reason = await asyncio.wait_for(_session(
        f"ws://{address}/compute/serial?token={TOKEN}&rows=30&cols=90"), 20)
    assert b"".join(f for f in frames if isinstance(f, bytes)) \
        == b"fake guest vm1\r\n(login shell)\r\n"
    assert frames[-1] == '{"exit_status":0}' and reason == "exit_status=0"


@pytest.mark.parametrize("query", [
    "", "?token=forged", "?token=unanswered", f"?token={TOKEN}&command=nope",
    f"?token={TOKEN}&command=%5B1%5D", f"?token={TOKEN}&rows=-3"])
async def test_bad_tokens_and_options_are_refused_at_the_handshake(api, query):
    address, _, _ = api
    with pytest.raises(InvalidStatus) as refused:
        await asyncio.wait_for(_session(f"ws://{address}/compute/serial{query}"), 20)
    assert refused.value.response.status_code == 403


async def test_a_session_the_agent_cannot_open_closes_with_its_reason(api):
    address, driver, _ = api
    await driver.power_off(SERVER)
    frames, reason = await asyncio.wait_for(_session(
        f"ws://{address}/compute/serial?token={TOKEN}"), 20)
    assert frames == [] and "is not running" in reason


async def test_closing_the_websocket_kills_the_session(api, tmp_path):
    address, driver, _ = api
    pidfile = tmp_path / "pid"
    driver.script = f"echo $$ > {pidfile}; echo ready; sleep 300"
    async with connect(f"ws://{address}/compute/serial?token={TOKEN}",
                       open_timeout=20) as websocket:
        seen = b""
        while b"ready" not in seen:
            seen += await asyncio.wait_for(websocket.recv(), 20)
        pid = int(await asyncio.to_thread(pidfile.read_text))
        assert psutil.pid_exists(pid)
    deadline = time.monotonic() + 20
    while psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
        assert time.monotonic() < deadline, "the guest shell outlived its websocket"
        await asyncio.sleep(0.05)


async def test_remote_consoles_answers_a_ws_url_on_the_public_url(api):
    address, _, conductor = api
    async with httpx.AsyncClient(base_url=f"http://{address}/compute/v2.1") as http:
        ok = await http.post(f"/servers/{SERVER}/remote-consoles", headers=auth(
            version="2.6"), json={"remote_console": {"protocol": "serial", "type": "serial"}})
        assert ok.status_code == 200, ok.text
        assert ok.json() == {"remote_console": {
            "protocol": "serial", "type": "serial",
            "url": f"ws://api.example:8770/compute/serial?token={TOKEN}"}}
        legacy = await http.post(f"/servers/{SERVER}/action", headers=auth(version="2.5"),
                                 json={"os-getSerialConsole": {"type": "serial"}})
        assert legacy.status_code == 200, legacy.text
        assert legacy.json()["console"]["type"] == "serial"
        # The action is gone from 2.6, as in Nova; remote-consoles starts there.
        assert (await http.post(f"/servers/{SERVER}/action", headers=auth(version="2.6"),
                                json={"os-getSerialConsole": {"type": "serial"}})
                ).status_code == 404
        assert (await http.post(f"/servers/{SERVER}/remote-consoles", headers=auth(
            version="2.5"), json={"remote_console": {"protocol": "serial",
                                                      "type": "serial"}})).status_code == 404
        for body in ({"remote_console": {"protocol": "mks", "type": "webmks"}},
                     {"remote_console": {"protocol": "serial", "type": "serial", "x": 1}},
                     {"remote_console": {"protocol": 1, "type": "serial"}}, {}, []):
            bad = await http.post(f"/servers/{SERVER}/remote-consoles",
                                  headers=auth(version="2.6"), json=body)
            assert bad.status_code == 400, (body, bad.text)
        mks = await http.post(f"/servers/{SERVER}/remote-consoles", headers=auth(
            version="2.8"), json={"remote_console": {"protocol": "mks", "type": "webmks"}})
        assert mks.status_code == 400
        assert mks.json()["badRequest"]["message"] == "Unavailable console type webmks."
        for args in ({"type": "novnc"}, {}, "serial", {"type": "serial", "x": 1}):
            bad = await http.post(f"/servers/{SERVER}/action", headers=auth(version="2.1"),
                                  json={"os-getSerialConsole": args})
            assert bad.status_code == 400, (args, bad.text)
        missing = await http.post("/servers/not-a-uuid/remote-consoles", headers=auth(
            version="2.6"), json={"remote_console": {"protocol": "serial", "type": "serial"}})
        assert missing.status_code == 404
    assert conductor.issued == [SERVER, SERVER]


async def _cli_session(url: str, stdin: bytes, *, once=None, **options
                       ) -> tuple[int, bytes, bytes]:
    """``overcast console``'s relay (``run_session``) in a process of its own, as the
    command runs it, on ``url`` with ``stdin`` (given once ``once()`` is true)."""
    code = ("import asyncio, sys\n"
            "from overcast.cli.console import run_session\n"
            f"sys.exit(asyncio.run(run_session({url!r}, **{options!r})))\n")
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", code, stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    deadline = time.monotonic() + 30
    while once is not None and not once():
        assert time.monotonic() < deadline, "the session did not start"
        await asyncio.sleep(0.05)
    out, err = await asyncio.wait_for(process.communicate(stdin), 60)
    return process.returncode, out, err


async def test_the_cli_relays_stdin_and_exits_with_the_commands_status(api):
    address, driver, _ = api
    driver.script = "cat; echo to-stderr >&2; exit 3"
    url = (f"ws://{address}/compute/serial?token={TOKEN}&command="
           + quote(orjson.dumps(["x"]).decode()))
    status, out, err = await _cli_session(url, b"hello\n", channels=True, resizes=False)
    assert (status, out, err) == (3, b"hello\n", b"to-stderr\n")


async def test_the_cli_leaves_on_its_escape_and_the_session_ends(api, tmp_path):
    address, driver, _ = api
    pidfile = tmp_path / "pid"
    driver.script = f"echo $$ > {pidfile}; cat"
    status, _, err = await _cli_session(
        f"ws://{address}/compute/serial?token={TOKEN}", b"typed\x1d", channels=False,
        resizes=False, escape=True,
        once=lambda: pidfile.exists() and pidfile.read_text().strip())
    assert status == 0 and b"Left the console." in err
    pid = int(await asyncio.to_thread(pidfile.read_text))
    deadline = time.monotonic() + 20
    while psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
        assert time.monotonic() < deadline, "the session outlived the console"
        await asyncio.sleep(0.05)


async def test_the_cli_says_why_a_refused_console_failed(api):
    address, _, _ = api
    status, _, err = await _cli_session(f"ws://{address}/compute/serial?token=forged",
                                        b"", channels=False, resizes=False)
    assert status == 1 and b"console refused (HTTP 403)" in err


async def test_a_browser_on_another_origin_is_refused(api):
    address, _, _ = api
    url = f"ws://{address}/compute/serial?token={TOKEN}"
    with pytest.raises(InvalidStatus) as refused:
        async with connect(url, origin="http://evil.example", open_timeout=20):
            pass
    assert refused.value.response.status_code == 403
    async with connect(url, origin=f"http://{address}", open_timeout=20) as websocket:
        assert await asyncio.wait_for(websocket.recv(), 20)
