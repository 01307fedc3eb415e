"""The config drive: an instance's metadata as files, laid out as Nova's config drive is.

``openstack/latest/meta_data.json`` and ``openstack/latest/user_data`` are what cloud-init
and other guest tools read; ``overcast/`` holds the same facts as flat files so that the
guest's shell init needs no JSON parser. The driver mounts the directory read-only at
``/mnt/config`` inside the guest.
"""
from __future__ import annotations

import base64
import binascii
import json
import re
import shutil
from pathlib import Path

from agents.compute.contract import InstancePayload

MOUNT_POINT = "/mnt/config"


def hostname_for(instance: InstancePayload) -> str:
    """The guest's hostname from its display name, sanitised as Nova does (RFC 952 letters,
    digits and hyphens, at most 63 characters), or ``server-<id>`` when nothing is left."""
    name = re.sub(r"[^a-z0-9.-]+", "-", instance.name.lower()).replace(".", "-")
    name = name.strip("-")[:63].strip("-")
    return name or f"server-{instance.id}"[:63]


def decode_user_data(user_data: str | None) -> bytes | None:
    """User data as Nova receives it (base64) decoded; raises ValueError when it is not."""
    if not user_data:
        return None
    try:
        return base64.b64decode(user_data, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("user_data is not valid base64") from None


def meta_data(instance: InstancePayload) -> dict:
    keys = {instance.key_name: instance.key_data} if instance.key_name and \
        instance.key_data else {}
    return {
        "uuid": instance.id,
        "name": instance.name,
        "hostname": hostname_for(instance),
        "launch_index": instance.launch_index,
        "availability_zone": instance.availability_zone,
        "project_id": instance.project_id,
        "meta": dict(instance.metadata),
        "public_keys": keys,
        "keys": [{"name": name, "type": "ssh", "data": data} for name, data in keys.items()],
        "devices": [],
    }


def write(path: Path, instance: InstancePayload) -> Path:
    """Write the config drive of ``instance`` into the directory ``path`` (replacing what
    was there) and return ``path``. Raises ValueError for user data that is not base64."""
    user_data = decode_user_data(instance.user_data)
    meta = meta_data(instance)
    if path.exists():
        shutil.rmtree(path)
    latest = path / "openstack" / "latest"
    latest.mkdir(parents=True)
    (latest / "meta_data.json").write_text(json.dumps(meta, indent=2, sort_keys=True))
    (latest / "network_data.json").write_text(json.dumps(
        {"links": [], "networks": [], "services": []}))
    flat = path / "overcast"
    flat.mkdir()
    (flat / "hostname").write_text(meta["hostname"] + "\n")
    (flat / "instance_id").write_text(instance.id + "\n")
    (flat / "authorized_keys").write_text(
        "".join(f"{key.strip()}\n" for key in meta["public_keys"].values()))
    if user_data is not None:
        (latest / "user_data").write_bytes(user_data)
    for item in path.rglob("*"):
        item.chmod(0o755 if item.is_dir() else 0o644)
    path.chmod(0o755)
    return path
