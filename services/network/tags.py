"""Tags on networks, subnets, ports and security groups (Neutron's standard-attr-tag)."""
from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from overcast.context import RequestContext
from services.network import attributes
from services.network import exceptions as exc
from services.network.base import ManagerBase

TAGGABLE = ("network", "subnet", "port", "security_group")


class TagsMixin(ManagerBase):
    """Read and replace a resource's tags; only its owner (or an admin) may change them."""

    def _tagged(self, s: Session, ctx: RequestContext, resource: str, resource_id: str,
                *, write: bool = False) -> Any:
        fetch = {"network": self.network, "subnet": self.subnet, "port": self.port,
                 "security_group": self.group}.get(resource)
        if fetch is None:
            raise exc.HTTPNotFound(f"Resource {resource} does not support tags.")
        row = fetch(s, ctx, resource_id)
        if write:
            self.require_owner(ctx, row.project_id, f"update_{resource}:tags")
        return row

    async def get_tags(self, ctx: RequestContext, resource: str,
                       resource_id: str) -> list[str]:
        return self.run(lambda s: list(self._tagged(s, ctx, resource, resource_id).tags or []))

    async def has_tag(self, ctx: RequestContext, resource: str, resource_id: str,
                      tag: str) -> None:
        """Nothing if the resource has ``tag``; 404 TagNotFound otherwise."""
        def work(s: Session) -> None:
            if tag not in (self._tagged(s, ctx, resource, resource_id).tags or []):
                raise exc.TagNotFound(tag=tag, resource=resource, resource_id=resource_id)
        self.run(work)

    async def set_tags(self, ctx: RequestContext, resource: str, resource_id: str,
                       tags: object) -> list[str]:
        """Replace all tags."""
        values = attributes.tags("tags", tags)

        def work(s: Session) -> list[str]:
            row = self._tagged(s, ctx, resource, resource_id, write=True)
            row.tags = values
            row.touch()
            return values
        return self.run(work)

    async def add_tag(self, ctx: RequestContext, resource: str, resource_id: str,
                      tag: str) -> None:
        attributes.tags("tags", [tag])

        def work(s: Session) -> None:
            row = self._tagged(s, ctx, resource, resource_id, write=True)
            if tag not in (row.tags or []):
                row.tags = [*(row.tags or []), tag]
                row.touch()
        self.run(work)

    async def remove_tag(self, ctx: RequestContext, resource: str, resource_id: str,
                         tag: str | None = None) -> None:
        """Remove ``tag`` (404 if absent), or every tag when ``tag`` is None."""
        def work(s: Session) -> None:
            row = self._tagged(s, ctx, resource, resource_id, write=True)
            if tag is not None and tag not in (row.tags or []):
                raise exc.TagNotFound(tag=tag, resource=resource, resource_id=resource_id)
            row.tags = [t for t in row.tags or [] if tag is not None and t != tag]
            row.touch()
        self.run(work)
