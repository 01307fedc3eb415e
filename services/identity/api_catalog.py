"""/v3/services, /v3/endpoints and /v3/regions."""
from __future__ import annotations

from fastapi import APIRouter, Request, Response

from overcast.errors import BadRequest
from overcast.rest.auth import AnyScopeAdminContext, AnyScopeContext
from services.identity import validation as v
from services.identity.api_common import JsonBody, Urls, query
from services.identity.manager import IdentityManager
from services.identity.views import (
    collection,
    endpoint_view,
    json_response,
    no_content,
    region_view,
    service_view,
)


def build_router(manager: IdentityManager, *, prefix: str) -> APIRouter:
    """The catalog administration routes (admin only, except reading regions)."""
    router = APIRouter()
    urls = Urls(prefix)
    catalog = manager.catalog

    @router.get("/v3/services")
    def list_services(request: Request, ctx: AnyScopeAdminContext) -> Response:
        base = urls.v3(request)
        found = catalog.list_services(type=query(request, "type"), name=query(request, "name"))
        return json_response(collection(request, "services",
                                        [service_view(s, base) for s in found]))

    @router.get("/v3/services/{service_id}")
    def show_service(request: Request, service_id: str, ctx: AnyScopeAdminContext) -> Response:
        return json_response({"service": service_view(catalog.get_service(service_id),
                                                      urls.v3(request))})

    @router.post("/v3/services")
    def create_service(request: Request, body: JsonBody, ctx: AnyScopeAdminContext) -> Response:
        data = v.member(body, "service")
        service_type = v.name(data, field="type", max_length=255) or ""
        enabled = v.boolean(data, "enabled")
        service = catalog.create_service(
            type=service_type, name=v.name(data, max_length=255, required=False),
            description=v.text(data, "description") or "", enabled=enabled is not False)
        return json_response({"service": service_view(service, urls.v3(request))},
                             status=201)

    @router.delete("/v3/services/{service_id}")
    def delete_service(service_id: str, ctx: AnyScopeAdminContext) -> Response:
        catalog.delete_service(service_id)
        return no_content()

    @router.get("/v3/endpoints")
    def list_endpoints(request: Request, ctx: AnyScopeAdminContext) -> Response:
        base = urls.v3(request)
        found = catalog.list_endpoints(service_id=query(request, "service_id"),
                                       interface=query(request, "interface"),
                                       region_id=query(request, "region_id"))
        return json_response(collection(request, "endpoints",
                                        [endpoint_view(e, base) for e in found]))

    @router.get("/v3/endpoints/{endpoint_id}")
    def show_endpoint(request: Request, endpoint_id: str, ctx: AnyScopeAdminContext) -> Response:
        return json_response({"endpoint": endpoint_view(catalog.get_endpoint(endpoint_id),
                                                        urls.v3(request))})

    @router.post("/v3/endpoints")
    def create_endpoint(request: Request, body: JsonBody, ctx: AnyScopeAdminContext) -> Response:
        data = v.member(body, "endpoint")
        service_id = v.text(data, "service_id", max_length=v.ID_MAX)
        if service_id is None:
            raise BadRequest("Invalid input for field 'service_id': a value is required")
        region_id = v.text(data, "region_id", max_length=255) or \
            v.text(data, "region", max_length=255)
        endpoint = catalog.create_endpoint(
            service_id=service_id, interface=v.interface(data), url=v.url(data),
            region_id=region_id, enabled=v.boolean(data, "enabled") is not False)
        return json_response({"endpoint": endpoint_view(endpoint, urls.v3(request))},
                             status=201)

    @router.delete("/v3/endpoints/{endpoint_id}")
    def delete_endpoint(endpoint_id: str, ctx: AnyScopeAdminContext) -> Response:
        catalog.delete_endpoint(endpoint_id)
        return no_content()

    @router.get("/v3/regions")
    def list_regions(request: Request, ctx: AnyScopeContext) -> Response:
        base = urls.v3(request)
        return json_response(collection(request, "regions",
                                        [region_view(r, base) for r in catalog.list_regions()]))

    @router.get("/v3/regions/{region_id}")
    def show_region(request: Request, region_id: str, ctx: AnyScopeContext) -> Response:
        return json_response({"region": region_view(catalog.get_region(region_id),
                                                    urls.v3(request))})

    return router
