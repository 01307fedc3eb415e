"""The Swift API v1 as a raw ASGI application: routing, authentication, /info, /auth/v1.0.

Routes: ``/v1/<account>[/<container>[/<object>]]``, ``/info``, ``/auth/v1.0`` (tempauth),
``/healthcheck``. Errors are Swift's: plain bodies and the right status, never a traceback.
"""
from __future__ import annotations

import logging
from typing import Any

import orjson

from overcast import context
from overcast.context import RequestContext
from overcast.swift import limits
from services.objectstore import constraints
from services.objectstore.access import AccessControl
from services.objectstore.auth import Authenticator
from services.objectstore.containers import ContainerController
from services.objectstore.http import HTTPError, Receive, Request, Response, Send, send_response
from services.objectstore.objects import ObjectController
from services.objectstore.proxy import Proxy

logger = logging.getLogger(__name__)

ALLOWED = {"account": ("GET", "HEAD", "POST"),
           "container": ("GET", "HEAD", "PUT", "POST", "DELETE"),
           "object": ("GET", "HEAD", "PUT", "POST", "DELETE")}


def swift_info(proxy: Proxy) -> dict[str, Any]:
    return {
        "swift": {"version": "2.38.0-overcast", "max_file_size": limits.MAX_FILE_SIZE,
                  "max_meta_name_length": limits.MAX_META_NAME_LENGTH,
                  "max_meta_value_length": limits.MAX_META_VALUE_LENGTH,
                  "max_meta_count": limits.MAX_META_COUNT,
                  "max_meta_overall_size": limits.MAX_META_OVERALL_SIZE,
                  "max_header_size": limits.MAX_HEADER_SIZE,
                  "max_object_name_length": limits.MAX_OBJECT_NAME_LENGTH,
                  "container_listing_limit": limits.CONTAINER_LISTING_LIMIT,
                  "account_listing_limit": limits.ACCOUNT_LISTING_LIMIT,
                  "max_account_name_length": limits.MAX_ACCOUNT_NAME_LENGTH,
                  "max_container_name_length": limits.MAX_CONTAINER_NAME_LENGTH,
                  "extra_header_count": limits.EXTRA_HEADER_COUNT,
                  "policies": [{"name": name, "default": name == constraints.DEFAULT_POLICY}
                               for name in constraints.POLICIES],
                  "strict_cors_mode": True},
        "slo": {"max_manifest_segments": limits.SLO_MAX_MANIFEST_SEGMENTS,
                "max_manifest_size": limits.SLO_MAX_MANIFEST_SIZE,
                "min_segment_size": limits.SLO_MIN_SEGMENT_SIZE},
        "dlo": {"max_segments": 10000},
        "tempauth": {"account_acls": False},
        "keystoneauth": {},
        "ring": {"replicas": proxy.nodes.ring.replicas,
                 "part_power": proxy.nodes.ring.part_power},
    }


class SwiftApp:
    """The ASGI callable."""

    def __init__(self, proxy: Proxy, auth: Authenticator, *, public_url: str = "") -> None:
        self.proxy = proxy
        self.auth = auth
        self.access = AccessControl(auth, proxy)
        self.public_url = public_url.rstrip("/")
        self.objects = ObjectController(proxy)
        self.containers = ContainerController(proxy)

    async def __call__(self, scope: dict, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        req = Request(scope, receive)
        try:
            response = await self.dispatch(req)
        except HTTPError as exc:
            response = exc.response()
        except Exception:
            logger.exception("unexpected error in %s %s", req.method, req.path)
            response = HTTPError(500).response()
        response.headers["X-Trans-Id"] = req.trans_id
        response.headers["X-Openstack-Request-Id"] = req.trans_id
        try:
            await send_response(send, response, head=req.method == "HEAD")
        except ConnectionAbortedError as exc:
            logger.warning("response to %s %s cut short: %s", req.method, req.path, exc)

    async def dispatch(self, req: Request) -> Response:
        path = req.path
        if path.startswith("/v1/"):
            return await self.storage(req)
        if path in ("/auth/v1.0", "/auth/v1.0/", "/v1.0", "/v1.0/"):
            return self.tempauth(req)
        if path in ("/info", "/info/"):
            if req.method not in ("GET", "HEAD"):
                raise HTTPError(405, headers={"Allow": "GET, HEAD"})
            return Response(200, {"Content-Type": "application/json; charset=utf-8"},
                            orjson.dumps(swift_info(self.proxy)))
        if path == "/healthcheck":
            return Response(200, {"Content-Type": "text/plain"}, b"OK")
        raise HTTPError(404)

    def tempauth(self, req: Request) -> Response:
        user = req.header("x-auth-user") or req.header("x-storage-user")
        key = req.header("x-auth-key") or req.header("x-storage-pass")
        token, account, ttl = self.auth.tempauth(user, key)
        base = self.public_url or f"http://{req.header('host', 'localhost:8080')}"
        url = f"{base}/v1/{account}"
        return Response(200, {"X-Storage-Url": url, "X-Auth-Token": token,
                              "X-Storage-Token": token, "X-Auth-Token-Expires": str(ttl),
                              "Content-Type": "text/plain; charset=UTF-8"})

    async def storage(self, req: Request) -> Response:
        parts = req.path[4:].split("/", 2)
        account = parts[0]
        container = parts[1] if len(parts) > 1 and parts[1] else None
        obj = parts[2] if len(parts) > 2 and parts[2] else None
        if not account:
            raise HTTPError(412, "Invalid path")
        if container is None and len(parts) > 2 and parts[2]:
            raise HTTPError(412, "Invalid path")
        kind = "object" if obj else "container" if container else "account"
        if req.method not in ALLOWED[kind]:
            if req.method in ("PUT", "DELETE") and kind == "account":
                raise HTTPError(405, headers={"Allow": ", ".join(ALLOWED[kind])})
            if req.method == "OPTIONS":
                return Response(200, {"Allow": ", ".join(ALLOWED[kind])})
            raise HTTPError(405, headers={"Allow": ", ".join(ALLOWED[kind])})
        for name in (account, container, obj):
            if name:
                # As Swift's proxy does before any auth, so no bad name reaches a lookup.
                constraints.check_utf8(name, "name")
        token = req.header("x-auth-token") or req.header("x-storage-token")
        # No token at all is an anonymous request, which only a referrer ACL can let in.
        identity = await self.auth.identify(token) if token else None
        req.owner = await self.access.check(req, identity, account, container, obj)
        req.ctx = (identity.context(req.trans_id) if identity is not None
                   else RequestContext(request_id=req.trans_id))
        bound = context.bind(req.ctx)
        try:
            constraints.check_names(account, container, obj)
            if obj is not None:
                assert container is not None
                handler = {"GET": self.objects.get, "HEAD": self.objects.get,
                           "PUT": self.objects.put, "POST": self.objects.post,
                           "DELETE": self.objects.delete}[req.method]
                return await handler(req, account, container, obj)
            if container is not None:
                if req.method in ("GET", "HEAD"):
                    return await self.containers.get(req, account, container)
                handler = {"PUT": self.containers.put, "POST": self.containers.post,
                           "DELETE": self.containers.delete}[req.method]
                return await handler(req, account, container)
            if req.method in ("GET", "HEAD"):
                return await self.containers.get(req, account, None)
            return await self.containers.post(req, account, None)
        finally:
            context.reset(bound)
