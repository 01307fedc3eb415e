"""Block device mappings: an instance's volumes as the conductor records them (Nova's
``block_device_mapping`` rows, kept as a JSON list on the instance), and the rules a boot
request's ``block_device_mapping_v2`` must follow (Nova's ``_validate_bdm``).

A mapping is a dict:

- ``volume_id``; ``attachment_id``: the volume service's attachment for this instance (None
  until the volume is reserved: a volume made at build time gets it then);
- ``device_name`` ("/dev/vdb"; the root volume is "/dev/vda"), ``boot_index`` (0 for the
  root volume, else None), ``source_type`` (volume, image or blank: what the volume was
  made from), ``destination_type`` ("volume"), ``delete_on_termination``, ``volume_size``
  (GiB), ``image_id`` (the image a volume is or was made from), ``tag``;
- ``status``: ``reserved`` (the next host that builds the guest attaches it: at boot, and
  for an offloaded instance), ``attaching`` (compute.attach_volume sent to ``host``, which
  answers volume_attached or volume_attach_failed), ``attached``, ``detaching``
  (compute.detach_volume sent to ``host``, which answers volume_detached);
- ``host``: where the attach or detach was sent; ``updated_at`` (ISO) and ``retried``: when
  its status last changed and whether the sweeper resent its cast; ``attached_at``.

Every function returns new lists and dicts (a JSON column only sees a new value).
"""
from __future__ import annotations

import re
import uuid
from collections.abc import Iterable

from overcast import errors
from overcast.clock import iso, utcnow
from overcast.errors import excerpt
from services.conductor.contract import BlockDeviceRequest, BootRequest

RESERVED = "reserved"
ATTACHING = "attaching"
ATTACHED = "attached"
DETACHING = "detaching"

ROOT_DEVICE = "/dev/vda"
# Nova's match_device (nova/block_device.py), which its API schema uses for ``device``.
DEVICE = re.compile(r"(^/dev/x?[a-z]?d?)([a-z]+)[0-9]*$")
_PREFIX = re.compile(r"^/dev/(x?v|s|h)d")
_DIGITS = re.compile(r"\d+")

_INVALID = "Block Device Mapping is Invalid"


def of(instance: object) -> list[dict]:
    """The mappings of an instance row or ``instance_dict`` (none in an old database)."""
    value = (instance.get("block_device_mapping") if isinstance(instance, dict)
             else getattr(instance, "block_device_mapping", None))
    return [dict(item) for item in value or ()]


def find(mappings: Iterable[dict], volume_id: str) -> dict | None:
    return next((m for m in mappings if m["volume_id"] == volume_id), None)


def root(mappings: Iterable[dict]) -> dict | None:
    """The volume the instance boots from, or None when it boots from its image."""
    return next((m for m in mappings if m.get("boot_index") == 0), None)


def is_volume_backed(instance: object) -> bool:
    return root(of(instance)) is not None


def for_host(mappings: Iterable[dict]) -> list[dict]:
    """What a host building the guest attaches: every reserved volume not being detached."""
    return [m for m in mappings if m.get("attachment_id") and m["status"] != DETACHING]


def changed(mappings: Iterable[dict], volume_id: str, **changes: object) -> list[dict]:
    """``mappings`` with ``changes`` made to the one of ``volume_id`` (stamped now)."""
    return [{**m, **changes, "updated_at": iso(utcnow())} if m["volume_id"] == volume_id
            else dict(m) for m in mappings]


def without(mappings: Iterable[dict], volume_id: str) -> list[dict]:
    return [dict(m) for m in mappings if m["volume_id"] != volume_id]


def built_on(mappings: Iterable[dict], host: str) -> list[dict]:
    """After ``host`` built the guest with ``for_host(mappings)``: those are attached there."""
    now = iso(utcnow())
    carried = {m["volume_id"] for m in for_host(mappings)}
    return [{**m, "status": ATTACHED, "host": host, "retried": False, "updated_at": now,
             "attached_at": m.get("attached_at") or now} if m["volume_id"] in carried
            else dict(m) for m in mappings]


def new_mapping(*, volume_id: str, device_name: str, attachment_id: str | None = None,
                status: str = RESERVED, boot_index: int | None = None,
                source_type: str = "volume", delete_on_termination: bool = False,
                volume_size: int | None = None, image_id: str | None = None,
                tag: str | None = None, host: str | None = None) -> dict:
    return {"volume_id": volume_id, "attachment_id": attachment_id,
            "device_name": device_name, "boot_index": boot_index,
            "source_type": source_type, "destination_type": "volume",
            "delete_on_termination": delete_on_termination, "volume_size": volume_size,
            "image_id": image_id, "tag": tag, "status": status, "host": host,
            "retried": False, "attached_at": None, "updated_at": iso(utcnow())}


# -- device names -------------------------------------------------------------------------


def normal_device(name: str) -> str:
    """``name`` with its ``/dev/`` (Nova's prepend_dev); 400 unless Nova's pattern matches."""
    full = name if name.startswith("/dev/") else "/dev/" + name
    if not DEVICE.match(full):
        raise errors.BadRequest(f"The supplied device path ({excerpt(name)}) is invalid.")
    return full


def _letters(device_name: str) -> str:
    return _DIGITS.sub("", _PREFIX.sub("", device_name).removeprefix("/dev/"))


def _letter(index: int) -> str:
    """a, b, ..., z, aa, ab, ... (Nova's generate_device_letter)."""
    name = ""
    while index >= 0:
        name = chr(ord("a") + index % 26) + name
        index = index // 26 - 1
    return name


def next_device(mappings: Iterable[dict]) -> str:
    """The first free /dev/vdX after the root /dev/vda, as Nova's get_next_device_name."""
    used = {_letters(ROOT_DEVICE)} | {_letters(m["device_name"]) for m in mappings
                                      if m.get("device_name")}
    index = 0
    while _letter(index) in used:
        index += 1
    return f"/dev/vd{_letter(index)}"


def checked_free(mappings: Iterable[dict], device: str, *, volume_backed: bool) -> str:
    """``device`` (normalised) if no other volume, nor an image-backed root, uses it;
    Conflict (Nova's DevicePathInUse) otherwise."""
    device = normal_device(device)
    taken = {_letters(m["device_name"]) for m in mappings if m.get("device_name")}
    if not volume_backed:
        taken.add(_letters(ROOT_DEVICE))
    if _letters(device) in taken:
        raise errors.Conflict(f"The supplied device path ({device}) is in use.")
    return device


# -- a boot request's mappings ------------------------------------------------------------


def _bad(details: str) -> errors.BadRequest:
    return errors.BadRequest(f"{_INVALID}: {details}")


def _checked_item(item: BlockDeviceRequest, *, image_ref: str) -> BlockDeviceRequest | None:
    """The item if it names a volume, None for the image's own root disk; 400 otherwise."""
    source, destination = item.source_type, item.destination_type
    if source not in ("volume", "image", "blank", "snapshot"):
        raise _bad(f"source_type {excerpt(source)} is not one of volume, image, snapshot, "
                   "blank.")
    if destination not in ("volume", "local"):
        raise _bad(f"destination_type {excerpt(destination)} is not one of local, volume.")
    if source == "blank" and item.uuid:
        raise _bad("Invalid device UUID.")
    if source != "blank" and not item.uuid:
        raise _bad("Missing device UUID.")
    if source == "image" and destination == "local":
        if image_ref and item.boot_index == 0:
            return None  # the image's own root disk, which a client may list: booted as ever
        raise _bad("Mapping image to local is not supported.")
    if destination == "local":
        raise _bad("local block devices (ephemeral and swap disks) are not supported by "
                   "this cloud.")
    if source == "snapshot":
        raise _bad("volumes made from volume snapshots are not supported by this cloud.")
    if source == "image" and not item.volume_size:
        raise errors.BadRequest("Images with destination_type 'volume' need to have a "
                                "non-zero size specified")
    if source == "blank" and not item.volume_size:
        raise errors.BadRequest("Blank volumes (source: 'blank', dest: 'volume') need to "
                                "have non-zero size")
    return item


def _boot_index(item: BlockDeviceRequest) -> int | None:
    return item.boot_index if item.boot_index is not None and item.boot_index >= 0 else None


def requested(request: BootRequest) -> list[dict]:
    """The mappings ``request`` asks for, as templates (``volume_id`` None for the volumes a
    build makes), in Nova's rules: one volume each; boot indexes 0, 1, ... with exactly one
    0 unless the request boots from an image; distinct device names that are not the
    image's root; an existing volume for one instance only. BadRequest otherwise."""
    items = [checked for item in request.block_device_mapping
             if (checked := _checked_item(item, image_ref=request.image_ref)) is not None]
    if not items:
        if not request.image_ref:
            raise errors.BadRequest("Missing imageRef attribute")
        return []
    indexes = sorted(i for item in items if (i := _boot_index(item)) is not None)
    if request.image_ref:  # the image is the root, boot index 0
        indexes = [-1 if i == 0 else i for i in indexes]  # a second root is refused
        indexes.insert(0, 0)
    if indexes != list(range(len(indexes))) or not indexes:
        raise _bad("Boot sequence for the instance and image/block device mapping "
                   "combination is not valid.")
    if (request.min_count > 1 or request.max_count > 1) and any(
            item.source_type == "volume" for item in items):
        raise errors.BadRequest("Cannot attach one or more volumes to multiple instances")
    volume_ids = [item.uuid for item in items if item.source_type == "volume"]
    if len(set(volume_ids)) != len(volume_ids):
        raise _bad("a volume can be mapped only once.")
    templates: list[dict] = []
    for item in sorted(items, key=lambda i: (_boot_index(i) is None, _boot_index(i) or 0)):
        root_item = _boot_index(item) == 0
        device = item.device_name
        if device is not None:
            device = normal_device(device)
            if request.image_ref and _letters(device) == _letters(ROOT_DEVICE):
                raise errors.BadRequest("The volume cannot be assigned the same device name "
                                        "as the root device vda")
            if any(_letters(device) == _letters(t["device_name"]) for t in templates):
                raise errors.BadRequest(f"The supplied device path ({device}) is in use.")
        elif root_item:
            device = ROOT_DEVICE
        else:
            device = next_device(templates)
        templates.append(new_mapping(
            volume_id=item.uuid if item.source_type == "volume" else None,
            device_name=device, boot_index=_boot_index(item),
            source_type=item.source_type, delete_on_termination=item.delete_on_termination,
            volume_size=item.volume_size,
            image_id=item.uuid if item.source_type == "image" else None, tag=item.tag))
    return templates


def for_instance(templates: Iterable[dict]) -> list[dict]:
    """One instance's mappings from ``requested``'s templates: each volume the build makes
    gets its own id now, so a repeated create makes no second volume."""
    return [{**t, "volume_id": t["volume_id"] or str(uuid.uuid4())} for t in templates]
