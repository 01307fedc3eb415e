"""Who may send this request: account owners, project readers, and container ACLs.

Follows Swift's keystoneauth: a ``ResellerAdmin`` or an operator of the account's project owns
the account; a reader of that project may GET and HEAD; anyone else, with a token or without,
gets only what the container's ACL grants: ``X-Container-Read`` for GET and HEAD of the
container (listing) and its objects, ``X-Container-Write`` for PUT, POST and DELETE of its
objects. Account requests, and container PUT, POST and DELETE (its ACLs and metadata), are
for owners only. A refusal is 401 without a token and 403 with one.

Large objects are checked segment container by segment container (``ObjectsGate``), as
Swift's subrequests are, so a manifest cannot reach objects its reader could not.
"""
from __future__ import annotations

from collections.abc import Awaitable, Callable

from overcast.context import RequestContext
from overcast.keystone import Identity
from services.objectstore.acl import acl_allows
from services.objectstore.auth import READ_METHODS, Authenticator
from services.objectstore.http import HTTPError, Request
from services.objectstore.proxy import Proxy

# May the requester read (write=False) or write the objects of this container?
ObjectsGate = Callable[..., Awaitable[bool]]


class AccessControl:
    def __init__(self, auth: Authenticator, proxy: Proxy) -> None:
        self.auth = auth
        self.proxy = proxy

    async def check(self, req: Request, identity: Identity | None, account: str,
                    container: str | None, obj: str | None) -> bool:
        """Whether the requester owns ``account``; raise 401 or 403 if it may not send
        ``req`` at all. Sets ``req.objects_gate`` for the segments of large objects."""
        write = req.method not in READ_METHODS

        async def gate(segment_container: str, *, write: bool) -> bool:
            return await self._may_use_objects(req, identity, account, segment_container,
                                               write=write)

        req.objects_gate = gate
        if identity is not None:
            if self.auth.owns(identity, account):
                return True
            if self.auth.reads_own(identity, account, req.method):
                return False
        if container is not None and (obj is not None or not write) and \
                await self._acl_allows(req, identity, account, container, write=write,
                                       is_object=obj is not None):
            return False
        raise HTTPError(401 if identity is None else 403)

    async def _may_use_objects(self, req: Request, identity: Identity | None, account: str,
                               container: str, *, write: bool) -> bool:
        if identity is not None:
            if self.auth.owns(identity, account):
                return True
            if not write and self.auth.reads_own(identity, account, "GET"):
                return True
        return await self._acl_allows(req, identity, account, container, write=write,
                                      is_object=True)

    async def _acl_allows(self, req: Request, identity: Identity | None, account: str,
                          container: str, *, write: bool, is_object: bool) -> bool:
        header = "X-Container-Write" if write else "X-Container-Read"
        ctx = (identity.context(req.trans_id) if identity is not None
               else RequestContext(request_id=req.trans_id))
        info = await self.proxy.container_info(ctx, account, container)
        acl = (info or {}).get("metadata", {}).get(header, ["", ""])[0]
        own_account = (identity is not None
                       and account == f"{self.auth.prefix}{identity.project_id}")
        return bool(acl) and acl_allows(acl, identity=identity, own_account=own_account,
                                        is_object=is_object, referrer=req.header("referer"),
                                        write=write)
