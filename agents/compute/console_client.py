"""The typed client of a compute agent's console port, as the api's console proxy uses it.

Calls carry the request context signed with the cloud's key: the port refuses any other.
"""
from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import grpc

from agents.compute.console_contract import (
    END_OF_INPUT,
    RESIZE,
    STDERR,
    STDIN,
    STDOUT,
    ConsoleInput,
    ConsoleRequest,
    Exited,
    Output,
)
from overcast.bus.signing import Signer
from overcast.context import RequestContext
from overcast.grpc.client import as_domain_error, metadata_for
from protos.overcast.console.v1 import console_pb2 as pb
from protos.overcast.console.v1 import console_pb2_grpc


def open_message(request: ConsoleRequest) -> pb.AttachRequest:
    return pb.AttachRequest(open=pb.OpenSession(
        instance_id=request.instance_id, command=list(request.command), tty=request.tty,
        size=pb.WindowSize(rows=request.rows, cols=request.cols)))


def input_message(item: ConsoleInput) -> pb.AttachRequest | None:
    if item.kind == STDIN:
        return pb.AttachRequest(stdin=item.data)
    if item.kind == RESIZE:
        return pb.AttachRequest(resize=pb.WindowSize(rows=item.rows, cols=item.cols))
    if item.kind == END_OF_INPUT:
        return pb.AttachRequest(close_stdin=True)
    return None


class ConsoleClient:
    """Console sessions on the agent whose console port is ``address`` ("host:port")."""

    def __init__(self, address: str, *, signer: Signer) -> None:
        self.address = address
        self.signer = signer

    async def attach(self, ctx: RequestContext, request: ConsoleRequest,
                     inputs: AsyncIterator[ConsoleInput]) -> AsyncIterator[Output | Exited]:
        """Open a session and relay it: yields its output and finally ``Exited``. Raises the
        agent's refusal as a domain error (NotFound, Conflict, BadRequest, Forbidden), or
        ServiceUnavailable when the port cannot be reached. Closing this generator ends the
        session (the agent kills its processes)."""
        async with grpc.aio.insecure_channel(self.address) as channel:
            # No deadline: a console stays open as long as it is used. Without
            # wait_for_ready, an agent that is not listening fails the call at once.
            call = console_pb2_grpc.ConsoleServiceStub(channel).Attach(
                metadata=metadata_for(ctx, self.signer), wait_for_ready=False)
            writer: asyncio.Task | None = None
            try:
                # Writes wait for the agent's go-ahead (a write racing a refusal would turn
                # its status into INTERNAL): its initial metadata before ``open``, and
                # ``opened`` before any input. A refusal ends the call first: read says why.
                await call.initial_metadata()
                if not call.done():
                    with contextlib.suppress(asyncio.InvalidStateError):
                        await call.write(open_message(request))
                while True:
                    message = await call.read()
                    if message is grpc.aio.EOF:  # read raised the status had it been an error
                        return
                    kind = message.WhichOneof("event")
                    if kind == "opened":
                        if writer is None:
                            writer = asyncio.get_running_loop().create_task(
                                _write(call, inputs))
                    elif kind == "exited":
                        yield Exited(message.exited.status)
                        return
                    elif kind in (STDOUT, STDERR):
                        yield Output(kind, getattr(message, kind))
            except grpc.aio.AioRpcError as exc:
                raise as_domain_error(exc) from None
            finally:
                call.cancel()
                if writer is not None:
                    writer.cancel()
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await writer


async def _write(call: grpc.aio.StreamStreamCall, inputs: AsyncIterator[ConsoleInput]
                 ) -> None:
    try:
        async for item in inputs:
            message = input_message(item)
            if message is not None:
                await call.write(message)
        await call.done_writing()
    except grpc.aio.AioRpcError:
        return  # the call failed: the reader raises why
    except asyncio.InvalidStateError:
        return  # the call ended while writing
