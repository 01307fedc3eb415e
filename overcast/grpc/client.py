"""Client channels whose calls carry the request context and raise domain errors."""
from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

import grpc
import orjson
from google.protobuf.message import Message

from overcast import errors
from overcast.bus.signing import EXPIRES_HEADER, SIGNATURE_HEADER, Signer
from overcast.context import RequestContext
from overcast.grpc.server import (
    CONTEXT_EXPIRES_KEY,
    CONTEXT_KEY,
    CONTEXT_ROUTE,
    CONTEXT_SIGNATURE_KEY,
)

_ERROR_FOR_STATUS = {
    grpc.StatusCode.INVALID_ARGUMENT: errors.BadRequest,
    grpc.StatusCode.UNAUTHENTICATED: errors.Unauthorized,
    grpc.StatusCode.PERMISSION_DENIED: errors.Forbidden,
    grpc.StatusCode.NOT_FOUND: errors.NotFound,
    grpc.StatusCode.FAILED_PRECONDITION: errors.Conflict,
    grpc.StatusCode.RESOURCE_EXHAUSTED: errors.PayloadTooLarge,
    grpc.StatusCode.UNAVAILABLE: errors.ServiceUnavailable,
    grpc.StatusCode.DEADLINE_EXCEEDED: errors.ServiceUnavailable,
}


# A signed context is checked when the call starts, so it need only outlive the trip there.
CONTEXT_TTL = 60.0


def metadata_for(ctx: RequestContext, signer: Signer | None = None
                 ) -> tuple[tuple[str, str], ...]:
    """Call metadata that carries ``ctx`` to the server, signed when ``signer`` is given (a
    server that checks contexts refuses an unsigned one)."""
    body = orjson.dumps(ctx.to_dict())
    if signer is None:
        return ((CONTEXT_KEY, body.decode()),)
    headers = signer.headers(body, CONTEXT_ROUTE, expires=time.time() + CONTEXT_TTL)
    return ((CONTEXT_KEY, body.decode()),
            (CONTEXT_SIGNATURE_KEY, headers[SIGNATURE_HEADER]),
            (CONTEXT_EXPIRES_KEY, headers[EXPIRES_HEADER]))


def as_domain_error(exc: grpc.aio.AioRpcError) -> Exception:
    """The domain error a failed call stands for."""
    cls = _ERROR_FOR_STATUS.get(exc.code())
    if cls is None:
        return errors.OvercastError(exc.details() or "remote error")
    details = exc.details() or ""
    prefix, _, message = details.partition(": ")
    specific = errors.BY_NAME.get(prefix)
    if specific is not None and issubclass(specific, cls):
        return specific(message)
    return cls(message or details)


class ErrorMappingInterceptor(grpc.aio.UnaryUnaryClientInterceptor):
    """Raises domain errors (NotFound, Conflict, ...) instead of raw ``AioRpcError``."""

    async def intercept_unary_unary(
            self, continuation: Callable[[grpc.aio.ClientCallDetails, Message],
                                         Awaitable[grpc.aio.UnaryUnaryCall]],
            client_call_details: grpc.aio.ClientCallDetails,
            request: Message) -> grpc.aio.UnaryUnaryCall:
        call = await continuation(client_call_details, request)
        try:
            await call
        except grpc.aio.AioRpcError as exc:
            raise as_domain_error(exc) from None
        return call


def channel(target: str, *, max_message_mb: int = 16) -> grpc.aio.Channel:
    """An insecure channel to ``target``; callers pass ``timeout=`` (a deadline) on each call."""
    options = [("grpc.max_receive_message_length", max_message_mb << 20),
               ("grpc.max_send_message_length", max_message_mb << 20),
               ("grpc.keepalive_time_ms", 10_000)]
    return grpc.aio.insecure_channel(target, options=options,
                                     interceptors=[ErrorMappingInterceptor()])
