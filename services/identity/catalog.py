"""The service catalog: services, their endpoints, and regions."""
from __future__ import annotations

import logging
import threading
from typing import Any

from sqlalchemy import select

from overcast.db import Database
from services.identity.dbutil import get_or_404
from services.identity.models import Endpoint, Region, Service
from services.identity.validation import INTERFACES

logger = logging.getLogger(__name__)

# The service name registered for each service type (DevStack's, except that volumev3 is
# plain "cinder": there is only one block storage API here).
SERVICE_NAMES = {
    "identity": "keystone",
    "compute": "nova",
    "image": "glance",
    "network": "neutron",
    "volumev3": "cinder",
    "block-storage": "cinder",
    "object-store": "swift",
    "placement": "placement",
}


class CatalogStore:
    """Services and endpoints, and the catalog document tokens carry (kept in memory and
    rebuilt after every change made through this store)."""

    def __init__(self, db: Database, *, region: str) -> None:
        self._db = db
        self.region = region
        self._lock = threading.Lock()
        self._catalog: list[dict[str, Any]] | None = None

    def _changed(self) -> None:
        with self._lock:
            self._catalog = None

    def register_endpoint(self, service_type: str, url: str) -> Service:
        """Make ``url`` the public, internal and admin endpoint of ``service_type`` in this
        store's region, creating the service (named as DevStack names it) if needed."""
        name = SERVICE_NAMES.get(service_type, service_type)
        with self._db.session() as s:
            if s.get(Region, self.region) is None:
                s.add(Region(id=self.region, description=""))
            service = s.scalar(select(Service).where(Service.type == service_type)
                               .order_by(Service.id).limit(1))
            if service is None:
                service = Service(type=service_type, name=name, description="", enabled=True)
                s.add(service)
                s.flush()
            existing = {e.interface: e for e in s.scalars(select(Endpoint).where(
                Endpoint.service_id == service.id, Endpoint.region_id == self.region))}
            for interface in INTERFACES:
                endpoint = existing.get(interface)
                if endpoint is None:
                    s.add(Endpoint(service_id=service.id, interface=interface,
                                   region_id=self.region, url=url, enabled=True))
                elif endpoint.url != url:
                    endpoint.url = url
        self._changed()
        logger.info("registered %s endpoint %s", service_type, url)
        return service

    def catalog(self, *, project_id: str | None = None,
                user_id: str | None = None) -> list[dict[str, Any]]:
        """The catalog as Keystone puts it in tokens: enabled services with their enabled
        endpoints.

        Endpoint URLs may hold ``%(project_id)s`` / ``$(project_id)s`` (also ``tenant_id``
        and ``user_id``), as Swift's ``AUTH_%(project_id)s`` does; they are filled in from
        the token, and an endpoint whose template cannot be filled is left out, as Keystone
        does.
        """
        cached = self._catalog
        if cached is None:
            cached = self._build()
            with self._lock:
                self._catalog = cached
        if not any(_is_template(e["url"]) for svc in cached for e in svc["endpoints"]):
            return cached
        values = {k: val for k, val in (("project_id", project_id), ("tenant_id", project_id),
                                        ("user_id", user_id)) if val is not None}
        return [{**svc, "endpoints": [filled for e in svc["endpoints"]
                                      if (filled := _fill(e, values)) is not None]}
                for svc in cached]

    def _build(self) -> list[dict[str, Any]]:
        with self._db.session() as s:
            services = list(s.scalars(select(Service).where(Service.enabled.is_(True))
                                      .order_by(Service.type)))
            endpoints = list(s.scalars(select(Endpoint).where(Endpoint.enabled.is_(True))
                                       .order_by(Endpoint.interface)))
        by_service: dict[str, list[dict[str, Any]]] = {}
        for e in endpoints:
            by_service.setdefault(e.service_id, []).append(
                {"id": e.id, "interface": e.interface, "region": e.region_id,
                 "region_id": e.region_id, "url": e.url})
        return [{"endpoints": by_service.get(svc.id, []), "id": svc.id, "type": svc.type,
                 "name": svc.name} for svc in services]

    # -- services -----------------------------------------------------------------------

    def list_services(self, *, type: str | None = None,
                      name: str | None = None) -> list[Service]:
        query = select(Service).order_by(Service.type, Service.id)
        if type is not None:
            query = query.where(Service.type == type)
        if name is not None:
            query = query.where(Service.name == name)
        with self._db.session() as s:
            return list(s.scalars(query))

    def get_service(self, service_id: str) -> Service:
        with self._db.session() as s:
            return get_or_404(s, Service, service_id, "service")

    def create_service(self, *, type: str, name: str | None = None,
                       description: str = "", enabled: bool = True) -> Service:
        with self._db.session() as s:
            service = Service(type=type, name=name or SERVICE_NAMES.get(type, type),
                              description=description, enabled=enabled)
            s.add(service)
        self._changed()
        return service

    def delete_service(self, service_id: str) -> None:
        """Delete the service and its endpoints."""
        with self._db.session() as s:
            s.delete(get_or_404(s, Service, service_id, "service"))
        self._changed()

    # -- endpoints ----------------------------------------------------------------------

    def list_endpoints(self, *, service_id: str | None = None, interface: str | None = None,
                       region_id: str | None = None) -> list[Endpoint]:
        query = select(Endpoint).order_by(Endpoint.service_id, Endpoint.interface)
        if service_id is not None:
            query = query.where(Endpoint.service_id == service_id)
        if interface is not None:
            query = query.where(Endpoint.interface == interface)
        if region_id is not None:
            query = query.where(Endpoint.region_id == region_id)
        with self._db.session() as s:
            return list(s.scalars(query))

    def get_endpoint(self, endpoint_id: str) -> Endpoint:
        with self._db.session() as s:
            return get_or_404(s, Endpoint, endpoint_id, "endpoint")

    def create_endpoint(self, *, service_id: str, interface: str, url: str,
                        region_id: str | None = None, enabled: bool = True) -> Endpoint:
        """A new endpoint; ``NotFound`` for an unknown service or region."""
        with self._db.session() as s:
            get_or_404(s, Service, service_id, "service")
            if region_id is not None:
                get_or_404(s, Region, region_id, "region")
            endpoint = Endpoint(service_id=service_id, interface=interface, url=url,
                                region_id=region_id, enabled=enabled)
            s.add(endpoint)
        self._changed()
        return endpoint

    def delete_endpoint(self, endpoint_id: str) -> None:
        with self._db.session() as s:
            s.delete(get_or_404(s, Endpoint, endpoint_id, "endpoint"))
        self._changed()

    # -- regions ------------------------------------------------------------------------

    def list_regions(self) -> list[Region]:
        with self._db.session() as s:
            return list(s.scalars(select(Region).order_by(Region.id)))

    def get_region(self, region_id: str) -> Region:
        with self._db.session() as s:
            return get_or_404(s, Region, region_id, "region")


def _is_template(url: str) -> bool:
    return "%(" in url or "$(" in url


def _fill(endpoint: dict[str, Any], values: dict[str, str]) -> dict[str, Any] | None:
    """The endpoint with its URL template filled in, or None if a value is missing."""
    url = endpoint["url"]
    if not _is_template(url):
        return endpoint
    try:
        return {**endpoint, "url": url.replace("$(", "%(") % values}
    except (KeyError, ValueError, TypeError):
        return None
