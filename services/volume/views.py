"""Records as Cinder's v3 API shows them (``cinder/api/v3/views``, the extensions' extra
attributes), field for field, by microversion and by who asks."""
from __future__ import annotations

import dataclasses
import datetime as dt
import urllib.parse
from collections.abc import Mapping, Sequence
from typing import Any

from overcast.clock import iso
from overcast.context import RequestContext
from services.volume import microversion as mv
from services.volume import paging


def when(value: dt.datetime | None) -> str | None:
    """Cinder's timestamps: ISO 8601 with microseconds, no zone."""
    return iso(value)


@dataclasses.dataclass(frozen=True)
class Links:
    """The URLs of one request's answers: ``root`` is ``http://host:8776/volume``;
    ``project`` the project id the request's path named ("" when it named none, 3.67)."""

    root: str
    project: str = ""
    query: tuple[tuple[str, str], ...] = ()

    def _join(self, *parts: str) -> str:
        return "/".join(p.strip("/") for p in parts if p)

    def resource(self, collection: str, item_id: str) -> list[dict[str, str]]:
        return [{"rel": "self", "href": self._join(self.root, "v3", self.project, collection,
                                                   item_id)},
                {"rel": "bookmark", "href": self._join(self.root, self.project, collection,
                                                       item_id)}]

    def collection(self, collection: str, items: Sequence[Mapping[str, Any]]
                   ) -> list[dict[str, str]]:
        """Cinder's ``next`` link: given when a full page came back (``limit`` items, or
        ``osapi_max_limit`` without a limit). (Cinder compares the limit with the total
        count when ``with_count`` is asked, which links past the last page; not here.)"""
        params = dict(self.query)
        try:
            limit = min(int(params.get("limit", paging.MAX_LIMIT)), paging.MAX_LIMIT)
        except ValueError:
            limit = paging.MAX_LIMIT
        if not items or limit > len(items):
            return []
        params["marker"] = str(items[-1]["id"])
        href = self._join(self.root, "v3", self.project, collection)
        return [{"rel": "next", "href": f"{href}?{urllib.parse.urlencode(params)}"}]


# -- volumes ------------------------------------------------------------------------------


def _volume_attachments(record: Mapping[str, Any], ctx: RequestContext) -> list[dict]:
    return [{"id": record["id"], "attachment_id": a["id"], "volume_id": record["id"],
             "server_id": a["instance_id"],
             "host_name": a["attached_host"] if ctx.is_admin else None,
             "device": a["mountpoint"], "attached_at": when(a["attach_time"])}
            for a in record["attachments"] if a["status"] == "attached"]


VISIBLE_ADMIN = ("readonly", "attached_mode")


def volume_summary(record: Mapping[str, Any], links: Links) -> dict[str, Any]:
    return {"id": record["id"], "name": record["name"],
            "links": links.resource("volumes", record["id"])}


def volume_detail(record: Mapping[str, Any], *, links: Links, version: tuple[int, int],
                  ctx: RequestContext, host: str, extended: bool = True) -> dict[str, Any]:
    """Cinder's detailed volume view. ``extended`` (show and the detailed list) adds what
    Cinder's API extensions add to those two answers only, never to create or update:
    the project (``os-vol-tenant-attr``), and for admins the host and the migration
    attributes (``os-vol-host-attr``, ``os-vol-mig-status-attr``), and the image metadata
    of a volume made from an image (``os-vol-image-meta``)."""
    view: dict[str, Any] = {
        "id": record["id"], "status": record["status"], "size": record["size"],
        "availability_zone": record["availability_zone"],
        "created_at": when(record["created_at"]), "updated_at": when(record["updated_at"]),
        "name": record["name"], "description": record["description"],
        "volume_type": record["volume_type"], "snapshot_id": record["snapshot_id"],
        "source_volid": record["source_volid"],
        # The admin metadata users may see is shown among the metadata, over it (Cinder's
        # add_visible_admin_metadata).
        "metadata": {**record["metadata"], **{
            k: v for k, v in record.get("admin_metadata", {}).items() if k in VISIBLE_ADMIN}},
        "links": links.resource("volumes", record["id"]), "user_id": record["user_id"],
        "bootable": str(record["bootable"]).lower(), "encrypted": False,
        "replication_status": "disabled", "consistencygroup_id": None, "multiattach": False,
        "attachments": _volume_attachments(record, ctx),
    }
    if ctx.is_admin:
        view["migration_status"] = None
    if extended:
        view["os-vol-tenant-attr:tenant_id"] = record["project_id"]
        if ctx.is_admin:
            view["os-vol-host-attr:host"] = f"{host}#file"
            view["os-vol-mig-status-attr:migstat"] = None
            view["os-vol-mig-status-attr:name_id"] = None
        if record["image_metadata"]:
            view["volume_image_metadata"] = record["image_metadata"]
    if version >= mv.GROUP_VOLUME:
        view["group_id"] = None
    if ctx.is_admin and version >= mv.VOLUME_DETAIL_PROVIDER_ID:
        view["provider_id"] = None
    if version >= mv.VOLUME_SHARED_TARGETS_AND_SERVICE_FIELDS:
        view["shared_targets"] = False
        view["service_uuid"] = None
    if ctx.is_admin and version >= mv.VOLUME_CLUSTER_NAME:
        view["cluster_name"] = None
    if version >= mv.VOLUME_TYPE_ID_IN_VOLUME_DETAIL:
        view["volume_type_id"] = record["volume_type_id"]
    if version >= mv.USE_QUOTA:
        view["consumes_quota"] = True
    return view


# -- snapshots ----------------------------------------------------------------------------


def snapshot_view(record: Mapping[str, Any], *, version: tuple[int, int],
                  detail: bool = True, extended: bool = True) -> dict[str, Any]:
    """A snapshot as Cinder answers it: the summary (plain list), or the v3 detail (the
    rest), to which show and the detailed list (``extended``), not create or update, add
    the extended-snapshot-attributes extension's project and progress."""
    view: dict[str, Any] = {
        "id": record["id"], "created_at": when(record["created_at"]),
        "updated_at": when(record["updated_at"]), "name": record["name"],
        "description": record["description"], "volume_id": record["volume_id"],
        "status": record["status"], "size": record["size"], "metadata": record["metadata"],
    }
    if not detail:
        return view
    if extended:
        view["os-extended-snapshot-attributes:project_id"] = record["project_id"]
        view["os-extended-snapshot-attributes:progress"] = record["progress"]
    if version >= mv.GROUP_SNAPSHOTS:
        view["group_snapshot_id"] = None
    if version >= mv.SNAPSHOT_LIST_USER_ID:
        view["user_id"] = record["user_id"]
    if version >= mv.USE_QUOTA:
        view["consumes_quota"] = True
    return view


# -- backups ------------------------------------------------------------------------------


def backup_summary(record: Mapping[str, Any], links: Links) -> dict[str, Any]:
    return {"id": record["id"], "name": record["name"],
            "links": links.resource("backups", record["id"])}


def backup_detail(record: Mapping[str, Any], *, links: Links, version: tuple[int, int],
                  ctx: RequestContext) -> dict[str, Any]:
    view: dict[str, Any] = {
        "id": record["id"], "status": record["status"], "size": record["size"],
        "object_count": record["object_count"],
        "availability_zone": record["availability_zone"], "container": record["container"],
        "created_at": when(record["created_at"]), "updated_at": when(record["updated_at"]),
        "name": record["name"], "description": record["description"],
        "fail_reason": record["fail_reason"], "volume_id": record["volume_id"],
        "links": links.resource("backups", record["id"]),
        "is_incremental": record["is_incremental"],
        "has_dependent_backups": record["has_dependent_backups"],
        "snapshot_id": record["snapshot_id"],
        "data_timestamp": when(record["data_timestamp"]),
    }
    if version >= mv.BACKUP_PROJECT and ctx.is_admin:
        view["os-backup-project-attr:project_id"] = record["project_id"]
    if version >= mv.BACKUP_METADATA:
        view["metadata"] = record["metadata"]
    if version >= mv.BACKUP_PROJECT_USER_ID and ctx.is_admin:
        view["user_id"] = record["user_id"]
    return view


# -- types, attachments, services ---------------------------------------------------------


def type_view(record: Mapping[str, Any], ctx: RequestContext, *, answer: str = "show"
              ) -> dict[str, Any]:
    """A volume type as Cinder answers it. ``show`` (show, default and list: the v3 view)
    adds ``qos_specs_id`` for admins and the type-access extension's
    ``os-volume-type-access:is_public``; ``create`` (the types-manage controller's v2 view)
    has the latter only, ``update`` neither."""
    view = {"id": record["id"], "name": record["name"], "is_public": record["is_public"],
            "extra_specs": record["extra_specs"], "description": record["description"]}
    if answer in ("show", "create"):
        view["os-volume-type-access:is_public"] = record["is_public"]
    if answer == "show" and ctx.is_admin:
        view["qos_specs_id"] = None
    return view


def attachment_summary(record: Mapping[str, Any]) -> dict[str, Any]:
    return {"id": record["id"], "status": record["status"],
            "instance": record["instance_id"], "volume_id": record["volume_id"]}


def attachment_detail(record: Mapping[str, Any]) -> dict[str, Any]:
    view = attachment_summary(record)
    view.update(attached_at=when(record["attach_time"]) or "",
                detached_at=when(record["detach_time"]) or "",
                attach_mode=record["attach_mode"],
                connection_info=record["connection_info"])
    return view


# The extra specs a volume type may set for the file backend (Cinder's standard
# capabilities it supports): its files are sparse. No compression, QoS or replication.
BACKEND_PROPERTIES = {"thin_provisioning": {"title": "Thin Provisioning",
                                            "description": "Sets thin provisioning.",
                                            "type": "boolean"}}


def capabilities_view(stats: Mapping[str, Any], host: str) -> dict[str, Any]:
    """Cinder's capabilities view of a backend: its stats and its standard properties."""
    return {"namespace": f"OS::Storage::Capabilities::{host}",
            "vendor_name": stats["vendor_name"],
            "volume_backend_name": stats["volume_backend_name"], "pool_name": None,
            "driver_version": stats["driver_version"],
            "storage_protocol": stats["storage_protocol"], "display_name": None,
            "description": None, "visibility": None, "replication_targets": [],
            "properties": BACKEND_PROPERTIES}


def service_view(record: Mapping[str, Any], *, version: tuple[int, int]) -> dict[str, Any]:
    view = {"binary": record["binary"], "host": record["host"], "zone": record["zone"],
            "status": record["status"], "state": record["state"],
            "updated_at": when(record["updated_at"]),
            "disabled_reason": record["disabled_reason"]}
    if version >= mv.CLUSTER_SUPPORT:
        view["cluster"] = None
    if record["binary"] == "cinder-volume":
        view.update(replication_status="disabled", active_backend_id=None,
                    frozen=bool(record.get("frozen")))
    return view
