"""Translation between Glance-shaped dicts and the ``overcast.image.v1`` messages.

The server side turns the manager's dicts into messages; the client turns messages back into
the very dicts a Glance v2 REST response carries (properties at the top level, links added).
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from google.protobuf import json_format, struct_pb2, timestamp_pb2

from protos.overcast.image.v1 import image_pb2 as pb
from services.image import fields
from services.image.views import isotime, links

_STATUS = {name: getattr(pb, f"IMAGE_STATUS_{name.upper()}") for name in fields.STATUSES}
_STATUS_NAME = {v: k for k, v in _STATUS.items()}
_VISIBILITY = {name: getattr(pb, f"VISIBILITY_{name.upper()}") for name in fields.VISIBILITIES}
_VISIBILITY_NAME = {v: k for k, v in _VISIBILITY.items()}
_MEMBER = {name: getattr(pb, f"MEMBER_STATUS_{name.upper()}") for name in fields.MEMBER_STATUSES}
_MEMBER_NAME = {v: k for k, v in _MEMBER.items()}
_OP = {"add": pb.CHANGE_OP_ADD, "replace": pb.CHANGE_OP_REPLACE, "remove": pb.CHANGE_OP_REMOVE}
_OP_NAME = {v: k for k, v in _OP.items()}

_OPTIONAL = ("name", "owner", "disk_format", "container_format", "size", "virtual_size",
             "checksum", "os_hash_algo", "os_hash_value")
_PLAIN = ("protected", "os_hidden", "min_disk", "min_ram")
_NOT_PROPERTIES = frozenset(_OPTIONAL + _PLAIN + ("id", "status", "visibility", "created_at",
                                                  "updated_at", "tags", "self", "file",
                                                  "schema"))


def visibility_to_proto(name: str | None) -> int:
    return _VISIBILITY.get(name or "", pb.VISIBILITY_UNSPECIFIED)


def visibility_from_proto(value: int) -> str | None:
    return _VISIBILITY_NAME.get(value)


def member_status_to_proto(name: str) -> int:
    return _MEMBER.get(name, pb.MEMBER_STATUS_UNSPECIFIED)


def member_status_from_proto(value: int) -> str:
    return _MEMBER_NAME.get(value, "")


def _timestamp(text: str | None) -> timestamp_pb2.Timestamp | None:
    if not text:
        return None
    ts = timestamp_pb2.Timestamp()
    ts.FromDatetime(dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ"))
    return ts


def _from_timestamp(msg: pb.Image | pb.Member, field: str) -> str | None:
    if not msg.HasField(field):
        return None
    return isotime(getattr(msg, field).ToDatetime())


def image_to_proto(view: dict[str, Any]) -> pb.Image:
    msg = pb.Image(id=view["id"], status=_STATUS.get(view["status"], 0),
                   visibility=visibility_to_proto(view["visibility"]),
                   tags=view.get("tags") or [],
                   properties={k: v for k, v in view.items() if k not in _NOT_PROPERTIES})
    for key in _OPTIONAL + _PLAIN:
        if view.get(key) is not None:
            setattr(msg, key, view[key])
    for key in ("created_at", "updated_at"):
        ts = _timestamp(view.get(key))
        if ts is not None:
            getattr(msg, key).CopyFrom(ts)
    return msg


def image_from_proto(msg: pb.Image) -> dict[str, Any]:
    """The Glance v2 document of ``msg``."""
    view: dict[str, Any] = dict(msg.properties)
    view.update({key: getattr(msg, key) if msg.HasField(key) else None for key in _OPTIONAL})
    view.update({key: getattr(msg, key) for key in _PLAIN})
    view.update({
        "id": msg.id,
        "status": _STATUS_NAME.get(msg.status, "queued"),
        "visibility": visibility_from_proto(msg.visibility) or "shared",
        "created_at": _from_timestamp(msg, "created_at"),
        "updated_at": _from_timestamp(msg, "updated_at"),
        "tags": list(msg.tags),
    })
    view.update(links(msg.id))
    return view


def member_to_proto(view: dict[str, Any]) -> pb.Member:
    msg = pb.Member(image_id=view["image_id"], member_id=view["member_id"],
                    status=member_status_to_proto(view["status"]))
    for key in ("created_at", "updated_at"):
        ts = _timestamp(view.get(key))
        if ts is not None:
            getattr(msg, key).CopyFrom(ts)
    return msg


def member_from_proto(msg: pb.Member) -> dict[str, Any]:
    return {"image_id": msg.image_id, "member_id": msg.member_id,
            "status": member_status_from_proto(msg.status),
            "created_at": _from_timestamp(msg, "created_at"),
            "updated_at": _from_timestamp(msg, "updated_at"),
            "schema": "/v2/schemas/member"}


def create_request(body: dict[str, Any]) -> pb.CreateImageRequest:
    """A create request from a Glance create body; BadRequest for ill-typed fields."""
    core, properties, tags = fields.split_body(body)
    msg = pb.CreateImageRequest(tags=tags, properties=properties)
    for key, value in core.items():
        if key == "visibility":
            msg.visibility = visibility_to_proto(value)
        elif value is not None:
            setattr(msg, key, value)
    return msg


def create_body(msg: pb.CreateImageRequest) -> dict[str, Any]:
    """The Glance create body a request stands for."""
    body: dict[str, Any] = dict(msg.properties)
    for key in ("id", "name", "owner", "protected", "os_hidden", "disk_format",
                "container_format", "min_disk", "min_ram"):
        if msg.HasField(key):
            body[key] = getattr(msg, key)
    if msg.visibility:
        body["visibility"] = visibility_from_proto(msg.visibility)
    if msg.tags:
        body["tags"] = list(msg.tags)
    return body


def _value_from_proto(value: struct_pb2.Value) -> Any:
    data = json_format.MessageToDict(value)
    # JSON numbers travel as doubles; give integral ones back their integer type.
    if isinstance(data, float) and data.is_integer():
        return int(data)
    return data


def change_to_proto(op: str, path: str, value: Any = None) -> pb.ImageChange:
    msg = pb.ImageChange(op=_OP.get(op, pb.CHANGE_OP_UNSPECIFIED), path=path)
    if op != "remove":
        msg.value.CopyFrom(json_format.ParseDict(value, struct_pb2.Value()))
    return msg


def change_from_proto(msg: pb.ImageChange) -> tuple[str, str, Any]:
    value = _value_from_proto(msg.value) if msg.HasField("value") else None
    return _OP_NAME.get(msg.op, "unspecified"), msg.path, value
