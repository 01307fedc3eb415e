"""A grpc.aio server with an interceptor that maps domain errors and binds the request context.

The context travels in the call's metadata. A server given the cloud's ``Signer`` (the image
service) believes it only when it is signed: an HMAC by the same key as the bus's, over the
context and a short expiry, so a process that reaches the port cannot claim an admin's roles.
A server without one (the storage nodes, which as Swift's trust their storage network and
give a context no authority) takes the context for its request ids and logs only.
"""
from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc
import orjson

from overcast import context, errors
from overcast.bus.signing import EXPIRES_HEADER, SIGNATURE_HEADER, BadSignature, Route, Signer
from overcast.context import RequestContext

logger = logging.getLogger(__name__)

CONTEXT_KEY = "x-overcast-context"
CONTEXT_SIGNATURE_KEY = "x-overcast-context-signature"
CONTEXT_EXPIRES_KEY = "x-overcast-context-expires"
# What a signed context is bound to, so a signature made for the bus never passes here.
CONTEXT_ROUTE = Route(exchange="grpc", routing_key="request-context")

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


def verify_context(metadata: Any, signer: Signer) -> None:
    """Return if the call's context is signed by ``signer``'s key and fresh; raise
    ``BadSignature`` saying why not (a call with no context is refused too)."""
    values = {key: value for key, value in metadata or ()
              if key in (CONTEXT_KEY, CONTEXT_SIGNATURE_KEY, CONTEXT_EXPIRES_KEY)}
    body = values.get(CONTEXT_KEY)
    if not isinstance(body, str):
        raise BadSignature("the call carries no request context")
    signer.verify(body.encode(), CONTEXT_ROUTE, {
        SIGNATURE_HEADER: values.get(CONTEXT_SIGNATURE_KEY),
        EXPIRES_HEADER: values.get(CONTEXT_EXPIRES_KEY)})


def request_context(servicer_context: grpc.aio.ServicerContext) -> RequestContext:
    """The caller's request context, as sent in the call's metadata."""
    return context_from_metadata(servicer_context.invocation_metadata())


async def _abort_for(exc: Exception, servicer_context: grpc.aio.ServicerContext) -> None:
    if isinstance(exc, errors.OvercastError):
        status = STATUS_FOR_CODE.get(exc.code, grpc.StatusCode.INTERNAL)
        await servicer_context.abort(status, f"{type(exc).__name__}: {exc.message}")
    logger.exception("unexpected error in a gRPC handler")
    await servicer_context.abort(grpc.StatusCode.INTERNAL, "internal error")


async def _refuse_unsigned(signer: Signer | None, method: str,
                           servicer_context: grpc.aio.ServicerContext) -> None:
    """Abort the call (PERMISSION_DENIED) unless its context verifies, when a signer is set."""
    if signer is None:
        return
    try:
        verify_context(servicer_context.invocation_metadata(), signer)
    except BadSignature as exc:
        logger.warning("refused a gRPC call to %s: %s", method, exc)
        await servicer_context.abort(grpc.StatusCode.PERMISSION_DENIED,
                                     "Forbidden: the request context is not signed by this "
                                     "cloud")


def _wrap_unary(behavior: Callable, signer: Signer | None, method: str) -> Callable:
    async def wrapper(request: Any, servicer_context: grpc.aio.ServicerContext) -> Any:
        await _refuse_unsigned(signer, method, servicer_context)
        token = context.bind(request_context(servicer_context))
        try:
            return await behavior(request, servicer_context)
        except Exception as exc:  # noqa: BLE001 - every error becomes a status the client can read
            await _abort_for(exc, servicer_context)
        finally:
            context.reset(token)
    return wrapper


def _wrap_stream(behavior: Callable, signer: Signer | None, method: str) -> Callable:
    async def wrapper(request: Any, servicer_context: grpc.aio.ServicerContext
                      ) -> AsyncIterator[Any]:
        await _refuse_unsigned(signer, method, servicer_context)
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
    """Turns domain errors raised by servicers into status codes; binds the context for logs;
    with a ``signer``, refuses a call whose context is not signed by the cloud's key."""

    def __init__(self, signer: Signer | None = None) -> None:
        self.signer = signer

    async def intercept_service(
            self, continuation: Callable[[grpc.HandlerCallDetails],
                                         Awaitable[grpc.RpcMethodHandler | None]],
            handler_call_details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler | None:
        handler = await continuation(handler_call_details)
        if handler is None:
            return None
        signer, method = self.signer, handler_call_details.method
        if handler.unary_unary:
            return grpc.unary_unary_rpc_method_handler(
                _wrap_unary(handler.unary_unary, signer, method), handler.request_deserializer,
                handler.response_serializer)
        if handler.stream_unary:
            return grpc.stream_unary_rpc_method_handler(
                _wrap_unary(handler.stream_unary, signer, method), handler.request_deserializer,
                handler.response_serializer)
        if handler.unary_stream:
            return grpc.unary_stream_rpc_method_handler(
                _wrap_stream(handler.unary_stream, signer, method), handler.request_deserializer,
                handler.response_serializer)
        return grpc.stream_stream_rpc_method_handler(
            _wrap_stream(handler.stream_stream, signer, method), handler.request_deserializer,
            handler.response_serializer)


class GrpcServer:
    """Serves registered servicers on ``address``; ``stop`` lets calls in flight finish."""

    def __init__(self, address: str, *, signer: Signer | None = None,
                 max_message_mb: int = 16) -> None:
        options = [("grpc.max_receive_message_length", max_message_mb << 20),
                   ("grpc.max_send_message_length", max_message_mb << 20)]
        self.server = grpc.aio.server(interceptors=[DomainErrorInterceptor(signer)],
                                      options=options)
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
