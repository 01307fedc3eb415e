"""The serial console proxy (nova-serialproxy's role) in the api process: a websocket that
relays a console session of a compute agent's console port.

``GET /compute/serial?token=T`` (a websocket upgrade). ``T`` is a console token from
``remote-consoles``/``os-getSerialConsole``; the conductor says what it grants. An unknown,
expired or voided token is refused before the upgrade (HTTP 403); so are a bad option and a
browser ``Origin`` of another host than the one asked.
The subprotocol ``binary`` is accepted when offered (as websockify's clients offer it).

Frames from the client: binary frames are the session's stdin. A text frame is a control
message when it is one of ``{"resize": {"rows": R, "cols": C}}`` and ``{"eof": true}`` (end
of stdin); any other text frame is stdin too (its UTF-8), for plain text clients.

Without options the session is the guest's login shell under a terminal, and every binary
frame the server sends is raw terminal output, as a serial console's.

Overcast extension, a one-shot command: ``&command=["sh","-c","..."]`` (a JSON array of
strings, URL-encoded) runs that argv in the guest instead, with pipes (add ``&tty=1`` for a
terminal). Its output frames then start with one channel byte, 1 for stdout and 2 for stderr
(as Kubernetes' ``channel.k8s.io``), followed by the bytes. ``&rows=R&cols=C`` size the
terminal at the start.

However the session ends, the last frame is the text frame ``{"exit_status": N}`` (N = 128
+ signal for a killed process) and the server closes with code 1000 and reason
``exit_status=N``. When the session cannot be opened (the guest is gone or stopped, the
host unreachable) the server closes with code 1011 and the reason. The client closing the
websocket ends the session: its processes are killed.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

import orjson
from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from agents.compute.console_client import ConsoleClient
from agents.compute.console_contract import (
    END_OF_INPUT,
    RESIZE,
    STDERR,
    STDIN,
    ConsoleInput,
    ConsoleRequest,
    Exited,
)
from overcast import context, errors
from overcast.bus.signing import Signer
from overcast.context import RequestContext

logger = logging.getLogger(__name__)

SERIAL = "serial"
CHANNEL_STDOUT = b"\x01"
CHANNEL_STDERR = b"\x02"
MAX_COMMAND_CHARS = 64 * 1024
# A policy violation: the refusal of the handshake (Starlette answers it with HTTP 403).
POLICY_VIOLATION = 1008
INTERNAL_ERROR = 1011


def session_request(instance_id: str, params: Any) -> ConsoleRequest:
    """The session the query ``params`` ask for; BadRequest for a bad option."""
    raw = params.get("command")
    command: tuple[str, ...] = ()
    if raw is not None:
        if len(raw) > MAX_COMMAND_CHARS:
            raise errors.BadRequest("The console command is too long.")
        try:
            parsed = orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise errors.BadRequest("command must be a JSON array of strings") from None
        if not isinstance(parsed, list) or not parsed \
                or not all(isinstance(arg, str) for arg in parsed):
            raise errors.BadRequest("command must be a non-empty JSON array of strings")
        command = tuple(parsed)
    tty = params.get("tty")
    sizes = []
    for name in ("rows", "cols"):
        value = params.get(name, "0")
        if not value.isdigit() or len(value) > 5:
            raise errors.BadRequest(f"{name} must be a whole number")
        sizes.append(int(value))
    request = ConsoleRequest(
        instance_id=instance_id, command=command,
        tty=(not command) if tty is None else tty.lower() in ("1", "true", "yes", "on"),
        rows=sizes[0], cols=sizes[1])
    request.check()
    return request


def same_origin(headers: Any) -> bool:
    """Whether a browser's ``Origin`` (if any: other clients send none) names the host the
    request came to, as nova's console proxies check, so that a page elsewhere cannot open
    a console with a token it got hold of."""
    origin = headers.get("origin")
    if not origin:
        return True
    try:
        return urlsplit(origin).hostname == urlsplit(f"//{headers.get('host', '')}").hostname
    except ValueError:
        return False


def control_input(text: str) -> ConsoleInput | None:
    """The control message of a text frame, or None for one that is not."""
    try:
        message = orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(message, dict):
        return None
    if message.get("eof") is True:
        return ConsoleInput(END_OF_INPUT)
    size = message.get("resize")
    if isinstance(size, dict):
        rows, cols = size.get("rows"), size.get("cols")
        if isinstance(rows, int) and isinstance(cols, int) and 0 < rows <= 10_000 \
                and 0 < cols <= 10_000:
            return ConsoleInput(RESIZE, rows=rows, cols=cols)
    return None


class SerialProxy:
    """Relays websockets to console ports; ``conductor`` redeems tokens, ``signer`` signs
    the contexts the console ports check."""

    def __init__(self, *, conductor: Any, signer: Signer) -> None:
        self.conductor = conductor
        self.signer = signer

    async def serve(self, websocket: WebSocket) -> None:
        params = websocket.query_params
        service = RequestContext.admin()
        context.bind(service)
        if not same_origin(websocket.headers):
            logger.warning("refused a console websocket from origin %.100s",
                           websocket.headers.get("origin"))
            await websocket.close(code=POLICY_VIOLATION)
            return
        try:
            grant = await self.conductor.validate_console_token(
                service, token=params.get("token") or "", console_type=SERIAL)
            request = session_request(grant.instance_id, params)
        except errors.OvercastError as exc:
            # The token is never logged: only that it was refused, and why.
            logger.warning("refused a console websocket: %s", exc.message)
            await websocket.close(code=POLICY_VIOLATION)
            return
        except Exception as exc:  # noqa: BLE001 - the conductor unreachable: refused too
            logger.warning("could not check a console token: %s", exc or type(exc).__name__)
            await websocket.close(code=POLICY_VIOLATION)
            return
        offered = websocket.scope.get("subprotocols") or []
        await websocket.accept(subprotocol="binary" if "binary" in offered else None)
        ctx = RequestContext(request_id=service.request_id, user_id=grant.user_id,
                             project_id=grant.project_id)
        logger.info("console of %s on %s opened", grant.instance_id, grant.host)
        inputs: asyncio.Queue[ConsoleInput | None] = asyncio.Queue(maxsize=64)
        events = ConsoleClient(grant.address, signer=self.signer).attach(
            ctx, request, _drain(inputs))
        receiving = asyncio.get_running_loop().create_task(_receive(websocket, inputs))
        sending = asyncio.get_running_loop().create_task(
            _send(websocket, events, channels=bool(request.command)))
        try:
            await asyncio.wait((receiving, sending), return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (receiving, sending):
                task.cancel()
            await asyncio.gather(receiving, sending, return_exceptions=True)
            with contextlib.suppress(Exception):
                await events.aclose()
            with contextlib.suppress(Exception):
                await websocket.close()
        logger.info("console of %s on %s closed", grant.instance_id, grant.host)


async def _drain(queue: asyncio.Queue[ConsoleInput | None]) -> AsyncIterator[ConsoleInput]:
    while (item := await queue.get()) is not None:
        yield item


async def _receive(websocket: WebSocket, inputs: asyncio.Queue[ConsoleInput | None]) -> None:
    """Client frames to session input, until the client goes away."""
    with contextlib.suppress(WebSocketDisconnect):
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            if message.get("bytes"):
                await inputs.put(ConsoleInput(STDIN, data=message["bytes"]))
            elif message.get("text"):
                text = message["text"]
                await inputs.put(control_input(text) or ConsoleInput(
                    STDIN, data=text.encode("utf-8", "surrogateescape")))


async def _send(websocket: WebSocket, events: Any, *, channels: bool) -> None:
    """Session output to client frames; the exit status last, then the close."""
    try:
        async for event in events:
            if isinstance(event, Exited):
                await websocket.send_text(orjson.dumps({"exit_status": event.status}).decode())
                await websocket.close(code=1000, reason=f"exit_status={event.status}")
                return
            prefix = b""
            if channels:
                prefix = CHANNEL_STDERR if event.stream == STDERR else CHANNEL_STDOUT
            await websocket.send_bytes(prefix + event.data)
    except errors.OvercastError as exc:
        logger.warning("console session failed: %s", exc.message)
        # A close reason holds at most 123 bytes.
        reason = exc.message.encode()[:120].decode(errors="ignore")
        await websocket.close(code=INTERNAL_ERROR, reason=reason)


def build_router(proxy: SerialProxy) -> APIRouter:
    """The websocket route, mounted under ``/compute``."""
    router = APIRouter()

    @router.websocket("/serial")
    async def serial(websocket: WebSocket) -> None:
        await proxy.serve(websocket)

    return router
