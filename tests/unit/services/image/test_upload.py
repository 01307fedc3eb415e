"""The upload handshake on the client side, against a twin of a grpc.aio stream-unary call."""
from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import grpc
import pytest

from overcast import errors
from protos.overcast.image.v1 import image_pb2 as pb
from services.image.upload import UPLOAD_READY, SourceError, StatusKeeper, send_upload


class CallTwin:
    """Behaves as a grpc.aio ``StreamUnaryCall`` in the reader/writer style.

    ``accept`` says whether the service sends ``UPLOAD_READY``; a refusal ends the call with
    ``refusal`` as soon as the image id is written.
    """

    def __init__(self, *, accept: bool, refusal: grpc.StatusCode = grpc.StatusCode.OK) -> None:
        self.accept = accept
        self.refusal = refusal
        self.written: list[pb.UploadImageRequest] = []
        self.half_closed = self.cancelled = False
        self.status: tuple[grpc.StatusCode, str] | None = None
        self._callbacks: list[Callable[[CallTwin], None]] = []

    def finish(self, code: grpc.StatusCode, details: str) -> None:
        first = self.status is None
        self.status = (code, details)
        if first:
            for callback in self._callbacks:
                callback(self)

    def add_done_callback(self, callback: Callable[[CallTwin], None]) -> None:
        self._callbacks.append(callback)

    def done(self) -> bool:
        return self.status is not None

    async def code(self) -> grpc.StatusCode:
        return self.status[0]

    async def details(self) -> str:
        return self.status[1]

    async def write(self, message: pb.UploadImageRequest) -> None:
        self.written.append(message)
        if len(self.written) == 1 and not self.accept:
            self.finish(self.refusal, "Forbidden: not yours")

    async def initial_metadata(self) -> tuple:
        return (UPLOAD_READY,) if self.accept else ()

    async def done_writing(self) -> None:
        self.half_closed = True
        self.finish(grpc.StatusCode.OK, "")

    def cancel(self) -> bool:
        self.cancelled = True
        return True

    def __await__(self):
        async def outcome() -> pb.UploadImageResponse:
            code, details = self.status
            if code is not grpc.StatusCode.OK:
                raise grpc.aio.AioRpcError(code, grpc.aio.Metadata(), grpc.aio.Metadata(),
                                           details=details)
            return pb.UploadImageResponse()
        return outcome().__await__()


def _data(reads: list[int], *pieces: bytes) -> AsyncIterator[bytes]:
    async def chunks() -> AsyncIterator[bytes]:
        for piece in pieces:
            reads.append(len(piece))
            yield piece
    return chunks()


async def test_a_refusal_before_the_go_ahead_reads_no_data_and_raises_its_status():
    call, reads = CallTwin(accept=False, refusal=grpc.StatusCode.PERMISSION_DENIED), []
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await send_upload(call, image_id="i-1", chunks=_data(reads, b"abc"), accept_timeout=5)
    assert raised.value.code() is grpc.StatusCode.PERMISSION_DENIED
    assert reads == [] and [m.image_id for m in call.written] == ["i-1"]


async def test_an_accepted_upload_sends_the_id_then_the_data_then_half_closes():
    call, reads = CallTwin(accept=True), []
    await send_upload(call, image_id="i-1", chunks=_data(reads, b"ab", b"", b"cd"),
                      accept_timeout=5)
    assert call.written[0].image_id == "i-1"
    assert b"".join(m.chunk for m in call.written[1:]) == b"abcd" and call.half_closed


async def test_a_failing_source_cancels_the_call_and_propagates():
    async def broken() -> AsyncIterator[bytes]:
        yield b"ab"
        raise OSError("disk gone")

    call = CallTwin(accept=True)
    with pytest.raises(SourceError) as raised:
        await send_upload(call, image_id="i-1", chunks=broken(), accept_timeout=5)
    assert isinstance(raised.value.__cause__, OSError) and "disk gone" in str(raised.value)
    assert call.cancelled and not call.half_closed


class NoGoAheadCallTwin(CallTwin):
    """A service that answers the offer without a go-ahead and keeps the call open (one that
    does not speak the handshake)."""

    async def write(self, message: pb.UploadImageRequest) -> None:
        self.written.append(message)


class SilentCallTwin(NoGoAheadCallTwin):
    """A service that never answers the offer (initial metadata never comes)."""

    async def initial_metadata(self) -> tuple:
        await asyncio.Event().wait()
        return ()


@pytest.mark.parametrize("twin", [SilentCallTwin, NoGoAheadCallTwin])
async def test_a_service_that_neither_accepts_nor_refuses_is_unavailable_not_a_hang(twin):
    call, reads = twin(accept=False), []
    with pytest.raises(errors.ServiceUnavailable):
        await asyncio.wait_for(send_upload(call, image_id="i-1", chunks=_data(reads, b"abc"),
                                           accept_timeout=0.2), timeout=10)
    assert call.cancelled and reads == [] and not call.half_closed


def test_the_status_the_service_sent_wins_over_grpcs_internal_error():
    call = CallTwin(accept=True)
    keeper = StatusKeeper(call)
    call.finish(grpc.StatusCode.RESOURCE_EXHAUSTED, "PayloadTooLarge: over the cap")
    # What grpc.aio does when a write meets the ended call: it overwrites the status.
    call.status = (grpc.StatusCode.INTERNAL, "Internal error from Core")
    internal = grpc.aio.AioRpcError(grpc.StatusCode.INTERNAL, grpc.aio.Metadata(),
                                    grpc.aio.Metadata(), details="Internal error from Core")
    real = keeper.real_error(internal)
    assert real.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
    assert real.details() == "PayloadTooLarge: over the cap"


def test_a_real_internal_error_is_kept():
    call = CallTwin(accept=True)
    keeper = StatusKeeper(call)
    call.finish(grpc.StatusCode.INTERNAL, "internal error")
    error = grpc.aio.AioRpcError(grpc.StatusCode.INTERNAL, grpc.aio.Metadata(),
                                 grpc.aio.Metadata(), details="internal error")
    assert keeper.real_error(error) is error
