"""A grpc.aio server with an interceptor that maps domain errors and binds the request context."""
from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc
import orjson

from overcast import context, errors
from overcast.context import RequestContext

logger = logging.getLogger(__name__)

CONTEXT_KEY = "x-overcast-context"

STATUS_FOR_CODE = {
    400: grpc.StatusCode.INVALID_ARGUMENT,
    401: grpc.StatusCode.UNAUTHENTICATED,
    403: grpc.StatusCode.PERMISSION_DENIED,
    404: grpc.StatusCode.NOT_FOUND,
    409: grpc.StatusCode.FAILED_PRECONDITION,
    413: grpc.StatusCode.RESOURCE_EXHAUSTED,
    503: grpc.StatusCode.UNAVAILABLE,
}


def context_from_metadata(metadata: Any) -> RequestContext:
    for key, value in metadata or ():
        if key == CONTEXT_KEY:
            return RequestContext.from_dict(orjson.loads(value))
    return RequestContext()


def request_context(servicer_context: grpc.aio.ServicerContext) -> RequestContext:
    """The caller's request context, as sent in the call's metadata."""
    return context_from_metadata(servicer_context.invocation_metadata())


async def _abort_for(exc: Exception, servicer_context: grpc.aio.ServicerContext) -> None:
    if isinstance(exc, errors.OvercastError):
        status = STATUS_FOR_CODE.get(exc.code, grpc.StatusCode.INTERNAL)
        await servicer_context.abort(status, f"{type(exc).__name__}: {exc.message}")
    logger.exception("unexpected error in a gRPC handler")
    await servicer_context.abort(grpc.StatusCode.INTERNAL, "internal error")


def _wrap_unary(behavior: Callable) -> Callable:
    async def wrapper(request: Any, servicer_context: grpc.aio.ServicerContext) -> Any:
        token = context.bind(request_context(servicer_context))
        try:
            return await behavior(request, servicer_context)
        except Exception as exc:  # noqa: BLE001 - every error becomes a status the client can read
            await _abort_for(exc, servicer_context)
        finally:
            context.reset(token)
    return wrapper


def _wrap_stream(behavior: Callable) -> Callable:
    async def wrapper(request: Any, servicer_context: grpc.aio.ServicerContext
                      ) -> AsyncIterator[Any]:
        token = context.bind(request_context(servicer_context))
        try:
            async for item in behavior(request, servicer_context):
                yield item
        except Exception as exc:  # noqa: BLE001 - every error becomes a status the client can read
            await _abort_for(exc, servicer_context)
        finally:
            # A stream the client abandons is closed from another context; the binding
            # dies with the generator then, so there is nothing to reset.
            with contextlib.suppress(ValueError):
                context.reset(token)
    return wrapper


class DomainErrorInterceptor(grpc.aio.ServerInterceptor):
    """Turns domain errors raised by servicers into status codes; binds the context for logs."""

    async def intercept_service(
            self, continuation: Callable[[grpc.HandlerCallDetails],
                                         Awaitable[grpc.RpcMethodHandler | None]],
            handler_call_details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler | None:
        handler = await continuation(handler_call_details)
        if handler is None:
            return None
        if handler.unary_unary:
            return grpc.unary_unary_rpc_method_handler(
                _wrap_unary(handler.unary_unary), handler.request_deserializer,
                handler.response_serializer)
        if handler.stream_unary:
            return grpc.stream_unary_rpc_method_handler(
                _wrap_unary(handler.stream_unary), handler.request_deserializer,
                handler.response_serializer)
        if handler.unary_stream:
            return grpc.unary_stream_rpc_method_handler(
                _wrap_stream(handler.unary_stream), handler.request_deserializer,
                handler.response_serializer)
        return grpc.stream_stream_rpc_method_handler(
            _wrap_stream(handler.stream_stream), handler.request_deserializer,
            handler.response_serializer)


class GrpcServer:
    """Serves registered servicers on ``address``; ``stop`` lets calls in flight finish."""

    def __init__(self, address: str, *, max_message_mb: int = 16) -> None:
        options = [("grpc.max_receive_message_length", max_message_mb << 20),
                   ("grpc.max_send_message_length", max_message_mb << 20)]
        self.server = grpc.aio.server(interceptors=[DomainErrorInterceptor()], options=options)
        self.address = address
        self.port: int | None = None

    def add(self, register: Callable[[Any, grpc.aio.Server], None], servicer: Any) -> None:
        register(servicer, self.server)

    async def start(self) -> None:
        self.port = self.server.add_insecure_port(self.address)
        await self.server.start()
        logger.info("gRPC serving on %s", self.address)

    async def stop(self, grace: float = 5.0) -> None:
        await self.server.stop(grace)
