"""The upload handshake between ``ImageClient`` and ``ImageServicer``.

An upload is one client-streaming call. The client sends the image id alone and waits: the
service checks the caller (owner or admin), the image's state and formats, claims it
(``saving``), and only then sends initial metadata ``UPLOAD_READY``. A refusal ends the call
before that, so it is answered while the client is not writing and no image data has moved.

grpc.aio has a race this guards against: when the service ends a call while a client write
is in flight, the failed write replaces the status the service sent with INTERNAL ("Internal
error from Core"), and a refused upload would surface as a 500. Writes only start after
``UPLOAD_READY``; for a service that ends the call mid-stream (say, the size cap),
``StatusKeeper`` keeps the status the call reported first.
"""
from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable
from typing import Any, TypeVar

import grpc

from overcast import errors
from protos.overcast.image.v1 import image_pb2 as pb

UPLOAD_READY = ("x-overcast-upload", "ready")

# Bytes per upload message; well under the gRPC message limit.
UPLOAD_CHUNK = 256 * 1024

T = TypeVar("T")


class _CallEnded(Exception):
    """The service ended the call while the client still had data to send."""


class SourceError(Exception):
    """Reading the upload's data failed; ``__cause__`` is what the data source raised."""


def _settled(status_accessor: Awaitable[T]) -> T | None:
    """The value of ``call.code()`` / ``call.details()`` on a call that is done.

    On a finished call these return without suspending, so they can be read inside a done
    callback, before grpc has a chance to overwrite the status.
    """
    steps = status_accessor.__await__()
    try:
        next(steps)
    except StopIteration as finished:
        return finished.value
    steps.close()
    return None


class StatusKeeper:
    """Remembers the first status ``call`` reports, which is the one the service sent."""

    def __init__(self, call: grpc.aio.Call) -> None:
        self.code: grpc.StatusCode | None = None
        self.details: str = ""
        self.ended = asyncio.Event()
        call.add_done_callback(self._record)

    def _record(self, call: grpc.aio.Call) -> None:
        self.code = _settled(call.code())
        self.details = _settled(call.details()) or ""
        self.ended.set()

    def real_error(self, exc: grpc.aio.AioRpcError) -> grpc.aio.AioRpcError:
        """``exc``, or the error the service sent when grpc replaced it with INTERNAL."""
        if (exc.code() is grpc.StatusCode.INTERNAL and self.code is not None
                and self.code not in (grpc.StatusCode.OK, grpc.StatusCode.INTERNAL)):
            return grpc.aio.AioRpcError(self.code, exc.initial_metadata(),
                                        exc.trailing_metadata(), details=self.details)
        return exc


async def _accepted(call: Any) -> bool:
    """Wait for the service's answer to the offer: True once it accepts the data."""
    metadata = await call.initial_metadata()
    return any((key, value) == UPLOAD_READY for key, value in metadata or ())


async def _write(call: Any, message: pb.UploadImageRequest) -> None:
    if call.done():
        raise _CallEnded
    try:
        await call.write(message)
    except (grpc.aio.AioRpcError, asyncio.InvalidStateError):
        raise _CallEnded from None


async def _next_chunk(chunks: AsyncIterator[bytes]) -> bytes | None:
    """The next chunk, None at the end; a failure of the source is a ``SourceError``."""
    try:
        return await anext(chunks)
    except StopAsyncIteration:
        return None
    except Exception as exc:
        raise SourceError(str(exc)) from exc


async def send_upload(call: Any, *, image_id: str, chunks: AsyncIterator[bytes],
                      accept_timeout: float) -> pb.UploadImageResponse:
    """Run the handshake on a fresh ``UploadImage`` call and send ``chunks``; the response.

    Raises the call's ``AioRpcError`` (with the status the service sent) when it refuses or
    fails the upload, and ``errors.ServiceUnavailable`` when the service neither accepts nor
    refuses within ``accept_timeout``. ``chunks`` is not read before the service accepts. If
    reading it raises (``SourceError``), or this coroutine is cancelled, the call is cancelled
    and the error propagates.
    """
    keeper = StatusKeeper(call)
    try:
        await _write(call, pb.UploadImageRequest(image_id=image_id))
        async def answered() -> bool:
            if await _accepted(call):
                return True
            await keeper.ended.wait()  # a refusal: its status follows the metadata
            return False

        try:
            accepted = await asyncio.wait_for(answered(), accept_timeout)
        except TimeoutError:
            # Neither a go-ahead nor a refusal: a service that does not speak this handshake.
            call.cancel()
            raise errors.ServiceUnavailable(
                f"The image service did not accept the upload of {image_id}.") from None
        if accepted:
            chunks = aiter(chunks)
            while (chunk := await _next_chunk(chunks)) is not None:
                for start in range(0, len(chunk), UPLOAD_CHUNK):
                    await _write(call, pb.UploadImageRequest(
                        chunk=chunk[start:start + UPLOAD_CHUNK]))
            await call.done_writing()
    except _CallEnded:
        pass  # the call's status says why
    except BaseException:
        call.cancel()
        raise
    try:
        return await call
    except grpc.aio.AioRpcError as exc:
        raise keeper.real_error(exc) from None
