"""Client channels whose calls carry the request context and raise domain errors."""
from __future__ import annotations

from collections.abc import Awaitable, Callable

import grpc
import orjson
from google.protobuf.message import Message

from overcast import errors
from overcast.context import RequestContext
from overcast.grpc.server import CONTEXT_KEY

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


def metadata_for(ctx: RequestContext) -> tuple[tuple[str, str], ...]:
    """Call metadata that carries ``ctx`` to the server."""
    return ((CONTEXT_KEY, orjson.dumps(ctx.to_dict()).decode()),)


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
