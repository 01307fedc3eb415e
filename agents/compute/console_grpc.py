"""The ``overcast.console.v1.ConsoleService`` servicer: translation between the gRPC stream
and the console manager. The server's interceptor refuses calls whose context the cloud's
key did not sign, and maps domain errors to status codes.
"""
from __future__ import annotations

from collections.abc import AsyncIterator

import grpc

from agents.compute.console_contract import (
    END_OF_INPUT,
    RESIZE,
    STDERR,
    STDIN,
    ConsoleInput,
    ConsoleRequest,
    Exited,
    Opened,
)
from agents.compute.consoles import ConsoleManager
from overcast import errors
from protos.overcast.console.v1 import console_pb2 as pb
from protos.overcast.console.v1 import console_pb2_grpc


def request_from_proto(message: pb.OpenSession) -> ConsoleRequest:
    return ConsoleRequest(instance_id=message.instance_id, command=tuple(message.command),
                          tty=message.tty, rows=message.size.rows, cols=message.size.cols)


async def _inputs(requests: AsyncIterator[pb.AttachRequest]) -> AsyncIterator[ConsoleInput]:
    async for message in requests:
        kind = message.WhichOneof("event")
        if kind == "stdin":
            yield ConsoleInput(STDIN, data=message.stdin)
        elif kind == "resize":
            yield ConsoleInput(RESIZE, rows=message.resize.rows, cols=message.resize.cols)
        elif kind == "close_stdin":
            yield ConsoleInput(END_OF_INPUT)


class ConsoleServicer(console_pb2_grpc.ConsoleServiceServicer):
    def __init__(self, manager: ConsoleManager) -> None:
        self.manager = manager

    async def Attach(self, request_iterator: AsyncIterator[pb.AttachRequest],
                     context: grpc.aio.ServicerContext) -> AsyncIterator[pb.AttachResponse]:
        # The call is accepted (its context verified): the client may send its first
        # message now. Before this, its write could race a refusal (see the proto).
        await context.send_initial_metadata(())
        first = await anext(aiter(request_iterator), None)
        if first is None or first.WhichOneof("event") != "open":
            raise errors.BadRequest("The first console message must open the session.")
        async for event in self.manager.attach(request_from_proto(first.open),
                                               _inputs(request_iterator)):
            if isinstance(event, Opened):
                yield pb.AttachResponse(opened=pb.Opened())
            elif isinstance(event, Exited):
                yield pb.AttachResponse(exited=pb.Exited(status=event.status))
            elif event.stream == STDERR:
                yield pb.AttachResponse(stderr=event.data)
            else:
                yield pb.AttachResponse(stdout=event.data)
