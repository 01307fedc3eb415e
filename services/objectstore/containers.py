"""Account and container requests: listings, usage headers, metadata, create and delete."""
from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from agents.storage.client import NodeError, db_path
from overcast import errors
from overcast.context import RequestContext
from overcast.swift import limits, timestamps
from services.objectstore import constraints
from services.objectstore.acl import ACL_HEADERS, clean_acl
from services.objectstore.formats import TYPES, listing_format, listing_params, render
from services.objectstore.http import HTTPError, Request, Response, http_date, title_case
from services.objectstore.proxy import Proxy

META_PREFIX = {"account": "x-account-meta-", "container": "x-container-meta-"}
REMOVE_PREFIX = {"account": "x-remove-account-meta-", "container": "x-remove-container-meta-"}
# What only the account's owner may see of a container (Swift's swift_owner_headers).
OWNER_HEADERS = ("X-Container-Read", "X-Container-Write", "X-Container-Sync-Key",
                 "X-Container-Sync-To", "X-Container-Meta-Temp-Url-Key",
                 "X-Container-Meta-Temp-Url-Key-2")
CONTAINER_SYSTEM = ("x-container-read", "x-container-write", "x-versions-location",
                    "x-history-location", "x-container-sync-to", "x-container-sync-key")


def metadata_from(req: Request, kind: str, timestamp: str) -> dict[str, list]:
    """Metadata headers of a PUT or POST as ``{header: [value, timestamp]}`` ('' deletes)."""
    meta = {}
    for key, value in req.headers.items():
        if key.startswith(META_PREFIX[kind]) or (kind == "container"
                                                 and key in CONTAINER_SYSTEM):
            meta[title_case(key)] = [value, timestamp]
        elif key.startswith(REMOVE_PREFIX[kind]):
            name = META_PREFIX[kind] + key[len(REMOVE_PREFIX[kind]):]
            meta[title_case(name)] = ["", timestamp]
    return meta


def clean_acls(req: Request) -> None:
    """Rewrite the request's ACL headers in their canonical form; 400 naming the fault."""
    for name in ACL_HEADERS:
        if name in req.headers:
            try:
                req.headers[name] = clean_acl(name, req.headers[name])
            except ValueError as exc:
                raise HTTPError(400, str(exc)) from None


def info_headers(kind: str, info: dict[str, Any]) -> dict[str, str]:
    stamp = info.get("put_timestamp") or info.get("created_at") or timestamps.now()
    headers = {"X-Timestamp": info.get("created_at") or stamp, "X-Put-Timestamp": stamp,
               "Last-Modified": http_date(stamp), "Accept-Ranges": "bytes"}
    if kind == "container":
        headers.update({"X-Container-Object-Count": str(info["object_count"]),
                        "X-Container-Bytes-Used": str(info["bytes_used"]),
                        "X-Storage-Policy": constraints.DEFAULT_POLICY})
    else:
        headers.update({"X-Account-Container-Count": str(info["container_count"]),
                        "X-Account-Object-Count": str(info["object_count"]),
                        "X-Account-Bytes-Used": str(info["bytes_used"])})
    for key, (value, _) in (info.get("metadata") or {}).items():
        if value:
            headers[key] = value
    return headers


async def list_all(proxy: Proxy, ctx: RequestContext, account: str, container: str, *,
                   prefix: str = "") -> list[dict[str, Any]]:
    """Every object row of a container under ``prefix`` (all pages)."""
    rows: list[dict[str, Any]] = []
    marker = ""
    while True:
        _, entries = await _list(proxy, ctx, account, container, prefix=prefix, marker=marker,
                                 limit=limits.CONTAINER_LISTING_LIMIT)
        rows.extend(e for e in entries if isinstance(e, dict))
        if len(entries) < limits.CONTAINER_LISTING_LIMIT:
            return rows
        marker = rows[-1]["name"]


async def _list(proxy: Proxy, ctx: RequestContext, account: str, container: str,
                **params: Any) -> tuple[dict[str, Any], list[Any]]:
    part = proxy.nodes.ring.get_part(account, container)
    path = db_path(account, container, part)
    found, outcomes = await proxy.nodes.first(
        part, lambda address: proxy.client.list_db(ctx, address, path, **params),
        not_found=errors.NotFound)
    if found is None:
        if not outcomes or all(isinstance(o, NodeError) for o in outcomes):
            raise HTTPError(503)
        raise HTTPError(404)
    return found


class ContainerController:
    def __init__(self, proxy: Proxy) -> None:
        self.proxy = proxy

    # -- reads -------------------------------------------------------------------------------

    async def get(self, req: Request, account: str, container: str | None) -> Response:
        kind = "container" if container else "account"
        limit = limits.CONTAINER_LISTING_LIMIT if container else limits.ACCOUNT_LISTING_LIMIT
        params = listing_params(req, limit)
        fmt = listing_format(req)
        if req.method == "HEAD":
            params["limit"] = 0
        info, entries = await _list(self.proxy, req.ctx, account, container or "", **params)
        headers = info_headers(kind, info)
        if not req.owner:
            for name in OWNER_HEADERS:
                headers.pop(name, None)
        headers["Content-Type"] = TYPES[fmt]
        if req.method == "HEAD":
            return Response(204, headers)
        body = render(fmt, kind, container or account, entries)
        if not entries and fmt == "plain":
            return Response(204, headers)
        return Response(200, headers, body)

    # -- writes ------------------------------------------------------------------------------

    async def _write(self, req: Request, account: str, container: str,
                     call: Callable[[str, Any], Awaitable[Any]]) -> list[Any]:
        part = self.proxy.nodes.ring.get_part(account, container)
        path = db_path(account, container, part)
        return await self.proxy.nodes.write_all(
            part, lambda i, dev: call(dev.address, path), quorum=self.proxy.quorum)

    async def put(self, req: Request, account: str, container: str) -> Response:
        constraints.check_metadata(req, "container")
        constraints.check_storage_policy(req)
        clean_acls(req)
        timestamp = timestamps.now()
        metadata = metadata_from(req, "container", timestamp)
        outcomes = await self._write(req, account, container, lambda address, path:
                                     self.proxy.client.put_db(req.ctx, address, path,
                                                              timestamp=timestamp,
                                                              metadata=metadata))
        self.proxy.forget_container(account, container)
        answers = [o for o in outcomes if not isinstance(o, Exception)]
        if len(answers) < self.proxy.quorum:
            raise HTTPError(503)
        return Response(201 if any(answers) else 202,
                        {"Content-Type": "text/html; charset=UTF-8"})

    async def post(self, req: Request, account: str, container: str | None) -> Response:
        kind = "container" if container else "account"
        constraints.check_metadata(req, kind)
        if container:
            clean_acls(req)
        metadata = metadata_from(req, kind, timestamps.now())
        outcomes = await self._write(req, account, container or "", lambda address, path:
                                     self.proxy.client.post_db(req.ctx, address, path,
                                                               metadata=metadata))
        self.proxy.forget_container(account, container or "")
        answers = [o for o in outcomes if not isinstance(o, Exception)]
        if len(answers) >= self.proxy.quorum or (answers and kind == "container"):
            return Response(204, {"Content-Type": "text/html; charset=UTF-8"})
        if any(isinstance(o, errors.NotFound) for o in outcomes):
            raise HTTPError(404)
        raise HTTPError(503)

    async def delete(self, req: Request, account: str, container: str) -> Response:
        timestamp = timestamps.now()
        outcomes = await self._write(req, account, container, lambda address, path:
                                     self.proxy.client.delete_db(req.ctx, address, path,
                                                                 timestamp=timestamp))
        self.proxy.forget_container(account, container)
        if any(isinstance(o, errors.Conflict) for o in outcomes):
            raise HTTPError(409)
        answers = [o for o in outcomes if not isinstance(o, Exception)]
        if answers:
            return Response(204, {"Content-Type": "text/html; charset=UTF-8"})
        if any(isinstance(o, errors.NotFound) for o in outcomes):
            raise HTTPError(404)
        raise HTTPError(503)
