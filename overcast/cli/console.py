"""``overcast console SERVER [-- CMD...]``: a guest's serial console from the terminal.

It logs in as a cloud of clouds.yaml (``--os-cloud``/``OS_CLOUD``, default
``overcast-demo``; the file as openstacksdk finds it, or ``--clouds-yaml``), finds the server
by name or id, asks for a serial console URL and opens its websocket
(``services/compute/console_proxy.py`` describes the frames). Without a command it attaches
this terminal to the guest's login shell (raw mode, restored on exit, resizes passed on);
with one it runs it, prints its stdout and stderr and exits with its exit status. Stdin is
passed on in both cases; its end is the session's end of input.
"""
from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import sys
import termios
import threading
import tty
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlencode

import orjson
import typer

if TYPE_CHECKING:  # openstacksdk is slow to import: only the command itself loads it
    from openstack.connection import Connection

CHANNEL_STDOUT = 1
CHANNEL_STDERR = 2
# Typed on an attached terminal, leaves the console (as virsh console's escape).
ESCAPE = b"\x1d"  # Ctrl-]
# What the command exits with when the session gave no status (refused, lost).
FAILED = 1


def _connection(cloud: str, clouds_file: Path | None) -> Connection:
    import openstack
    from openstack import config

    if clouds_file is None:
        return openstack.connect(cloud=cloud)
    region = config.OpenStackConfig(config_files=[str(clouds_file)]).get_one(cloud=cloud)
    return openstack.connection.Connection(config=region)


def console_url(cloud: str, clouds_file: Path | None, server: str) -> str:
    """A serial console websocket URL for ``server`` (a name or an id)."""
    conn = _connection(cloud, clouds_file)
    try:
        found = conn.compute.find_server(server, ignore_missing=False)
        return conn.compute.create_console(found, console_type="serial")["url"]
    finally:
        conn.close()


def session_url(url: str, *, command: list[str] | None, use_tty: bool, rows: int, cols: int
                ) -> str:
    params: dict[str, str] = {}
    if command:
        params["command"] = orjson.dumps(command).decode()
    if use_tty != (not command):
        params["tty"] = "1" if use_tty else "0"
    if use_tty and rows and cols:
        params.update(rows=str(rows), cols=str(cols))
    return f"{url}&{urlencode(params)}" if params else url


@contextlib.contextmanager
def raw_terminal(fd: int) -> Iterator[None]:
    """The terminal ``fd`` in raw mode, restored however the block ends."""
    saved = termios.tcgetattr(fd)
    try:
        tty.setraw(fd)
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


def _read_stdin(loop: asyncio.AbstractEventLoop, queue: asyncio.Queue[bytes | str]) -> None:
    """Stdin to ``queue`` from a daemon thread (stdin may be a file, which epoll refuses);
    b"" at its end."""
    fd = sys.stdin.fileno()
    while True:
        try:
            data = os.read(fd, 65536)
        except OSError:
            data = b""
        try:
            loop.call_soon_threadsafe(queue.put_nowait, data)
        except RuntimeError:
            return  # the session is over and its loop closed
        if not data:
            return


async def run_session(url: str, *, channels: bool, resizes: bool, escape: bool = False
                      ) -> int:
    """Relay this process's stdio to the console websocket at ``url``; the exit status.
    With ``escape``, typing ``ESCAPE`` leaves the console."""
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

    loop = asyncio.get_running_loop()
    # Stdin bytes (b"" at its end) and control messages (text), in the order they happen.
    stdin: asyncio.Queue[bytes | str] = asyncio.Queue()
    status: int | None = None
    left = False
    try:
        websocket = await connect(url, max_size=None, open_timeout=30,
                                  subprotocols=["binary"])
    except InvalidStatus as exc:
        sys.stderr.write(f"console refused (HTTP {exc.response.status_code}): the token is "
                         "invalid or expired, or the request was bad\n")
        return FAILED
    except (OSError, TimeoutError, InvalidHandshake) as exc:
        sys.stderr.write(f"cannot reach the console at {url.partition('?')[0]}: {exc}\n")
        return FAILED
    async with websocket:
        if resizes:
            def resized() -> None:
                size = shutil.get_terminal_size()
                stdin.put_nowait(orjson.dumps(
                    {"resize": {"rows": size.lines, "cols": size.columns}}).decode())
            loop.add_signal_handler(signal.SIGWINCH, resized)
        threading.Thread(target=_read_stdin, args=(loop, stdin), daemon=True).start()

        async def send_stdin() -> None:
            nonlocal left
            with contextlib.suppress(ConnectionClosed):
                while data := await stdin.get():
                    if escape and isinstance(data, bytes) and ESCAPE in data:
                        if data.partition(ESCAPE)[0]:
                            await websocket.send(data.partition(ESCAPE)[0])
                        left = True
                        await websocket.close()
                        return
                    await websocket.send(data)
                await websocket.send(orjson.dumps({"eof": True}).decode())

        sender = loop.create_task(send_stdin())
        try:
            async for frame in websocket:
                if isinstance(frame, str):
                    with contextlib.suppress(orjson.JSONDecodeError, AttributeError):
                        status = orjson.loads(frame).get("exit_status")
                    continue
                out, data = sys.stdout.buffer, frame
                if channels and frame:
                    out = sys.stderr.buffer if frame[0] == CHANNEL_STDERR else out
                    data = frame[1:]
                out.write(data)
                out.flush()
        except ConnectionClosed:
            pass
        finally:
            sender.cancel()
            if resizes:
                loop.remove_signal_handler(signal.SIGWINCH)
        if left:
            sys.stderr.write("\r\nLeft the console.\r\n")
            return 0
        if status is None:
            reason = websocket.close_reason or "the connection was lost"
            sys.stderr.write(f"\r\nconsole closed without an exit status: {reason}\n")
    return FAILED if not isinstance(status, int) else status


def console(server: str = typer.Argument(..., help="The server's name or id."),
            command: list[str] | None = typer.Argument(
                None, help="The command to run in the guest, after --; none: attach this "
                "terminal to its login shell."),
            os_cloud: str = typer.Option("overcast-demo", "--os-cloud", envvar="OS_CLOUD",
                                         help="The cloud of clouds.yaml to log in as."),
            clouds_file: Path | None = typer.Option(
                None, "--clouds-yaml", envvar="OS_CLIENT_CONFIG_FILE",
                help="clouds.yaml (default: where openstacksdk looks, ./clouds.yaml first)."),
            use_tty: bool | None = typer.Option(
                None, "--tty/--no-tty", "-t/-T",
                help="Run under a terminal (default: with no command only).")) -> None:
    """Open a guest's serial console, or run one command in the guest."""
    try:
        url = console_url(os_cloud, clouds_file, server)
    except Exception as exc:  # noqa: BLE001 - the SDK's errors are many; each is shown
        sys.stderr.write(f"overcast console: {exc}\n")
        raise typer.Exit(FAILED) from None
    want_tty = not command if use_tty is None else use_tty
    interactive = want_tty and sys.stdin.isatty()
    size = shutil.get_terminal_size()
    url = session_url(url, command=command or None, use_tty=want_tty, rows=size.lines,
                      cols=size.columns)
    session = run_session(url, channels=bool(command), resizes=interactive,
                          escape=interactive)
    if interactive:
        sys.stderr.write(f"Connected to the console of {server} (Ctrl-] leaves it).\n")
        with raw_terminal(sys.stdin.fileno()):
            status = asyncio.run(session)
    else:
        status = asyncio.run(session)
    raise typer.Exit(status)
