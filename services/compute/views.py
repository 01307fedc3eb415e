"""How compute records look in the API, by microversion."""
from __future__ import annotations

import hashlib

from overcast.context import RequestContext

Microversion = tuple[int, int]


def _link(base: str, kind: str, ident: str) -> list[dict]:
    return [{"rel": "self", "href": f"{base}/compute/v2.1/{kind}/{ident}"},
            {"rel": "bookmark", "href": f"{base}/compute/{kind}/{ident}"}]


def host_id(project_id: str, host: str | None) -> str:
    """Nova's per-project opaque host id, so tenants can tell co-located servers apart."""
    if not host:
        return ""
    return hashlib.sha224((project_id + host).encode()).hexdigest()


def addresses(items: list[dict]) -> dict[str, list[dict]]:
    """Nova's ``addresses``: per network, each address with its version, type and MAC."""
    result: dict[str, list[dict]] = {}
    for item in items:
        result.setdefault(item["network"], []).append({
            "version": 6 if ":" in item["ip"] else 4, "addr": item["ip"],
            "OS-EXT-IPS:type": item["type"], "OS-EXT-IPS-MAC:mac_addr": item["mac"]})
    return result


def flavor_in_server(flavor: dict, base: str, mv: Microversion) -> dict:
    if mv >= (2, 47):
        return {"vcpus": flavor["vcpus"], "ram": flavor["ram"], "disk": flavor["disk"],
                "ephemeral": flavor.get("ephemeral", 0), "swap": flavor.get("swap", 0),
                "original_name": flavor["name"], "extra_specs": flavor.get("extra_specs", {})}
    return {"id": flavor["id"], "links": [{"rel": "bookmark",
                                           "href": f"{base}/compute/flavors/{flavor['id']}"}]}


def server_brief(inst: dict, base: str) -> dict:
    return {"id": inst["id"], "name": inst["name"], "links": _link(base, "servers", inst["id"])}


def attached_volumes(inst: dict) -> list[dict]:
    """The server's volume mappings that name a volume (a volume its build has not made yet
    names none), in the order they were made."""
    return [m for m in inst.get("block_device_mapping") or () if m.get("attachment_id")]


def volumes_attached(inst: dict, mv: Microversion) -> list[dict]:
    """Nova's ``os-extended-volumes:volumes_attached``: each volume's id, and from 2.3
    whether it is deleted with the server."""
    return [{"id": m["volume_id"], **({"delete_on_termination": m["delete_on_termination"]}
                                      if mv >= (2, 3) else {})}
            for m in attached_volumes(inst)]


def volume_attachment(mapping: dict, server_id: str, mv: Microversion) -> dict:
    """One ``volumeAttachment`` as Nova shows it (the volume's id is the attachment's)."""
    view = {"id": mapping["volume_id"], "volumeId": mapping["volume_id"],
            "serverId": server_id}
    if mapping.get("device_name"):
        view["device"] = mapping["device_name"]
    if mv >= (2, 70):
        view["tag"] = mapping.get("tag")
    if mv >= (2, 79):
        view["delete_on_termination"] = mapping["delete_on_termination"]
    return view


def server(inst: dict, base: str, mv: Microversion, ctx: RequestContext) -> dict:
    """A server in full, as ``GET /servers/{id}`` shows it at microversion ``mv``."""
    status = inst["status"]
    view = {
        "id": inst["id"], "name": inst["name"], "status": status,
        "tenant_id": inst["project_id"], "user_id": inst["user_id"],
        "metadata": inst["metadata"], "hostId": host_id(inst["project_id"], inst["host"]),
        "image": ({"id": inst["image_ref"], "links": [{"rel": "bookmark", "href":
                   f"{base}/compute/images/{inst['image_ref']}"}]} if inst["image_ref"] else ""),
        "flavor": flavor_in_server(inst["flavor"], base, mv),
        "created": _z(inst["created_at"]), "updated": _z(inst["updated_at"]),
        "addresses": addresses(inst["addresses"]),
        "accessIPv4": "", "accessIPv6": "", "links": _link(base, "servers", inst["id"]),
        "OS-DCF:diskConfig": "MANUAL", "progress": 100 if status == "ACTIVE" else 0,
        "OS-EXT-AZ:availability_zone": inst["availability_zone"] or "nova",
        "config_drive": "", "key_name": inst["key_name"],
        "OS-SRV-USG:launched_at": _plain(inst["launched_at"]),
        "OS-SRV-USG:terminated_at": _plain(inst["terminated_at"]),
        "OS-EXT-STS:task_state": inst["task_state"], "OS-EXT-STS:vm_state": inst["vm_state"],
        "OS-EXT-STS:power_state": inst["power_state"],
        "os-extended-volumes:volumes_attached": volumes_attached(inst, mv),
        "security_groups": [{"name": g} for g in inst["security_groups"]],
    }
    if ctx.is_admin:
        view.update({"OS-EXT-SRV-ATTR:host": inst["host"],
                     "OS-EXT-SRV-ATTR:hypervisor_hostname": inst["host"],
                     "OS-EXT-SRV-ATTR:instance_name": f"instance-{inst['id'][:8]}"})
        if mv >= (2, 3):
            view.update({"OS-EXT-SRV-ATTR:reservation_id": inst["reservation_id"],
                         "OS-EXT-SRV-ATTR:launch_index": inst["launch_index"],
                         "OS-EXT-SRV-ATTR:hostname": inst["name"],
                         "OS-EXT-SRV-ATTR:kernel_id": "", "OS-EXT-SRV-ATTR:ramdisk_id": "",
                         "OS-EXT-SRV-ATTR:root_device_name": "/dev/vda",
                         "OS-EXT-SRV-ATTR:user_data": inst["user_data"]})
    if inst["fault"] and status in ("ERROR", "DELETED"):
        fault = dict(inst["fault"])
        if not ctx.is_admin:
            fault.pop("details", None)
        view["fault"] = fault
    if mv >= (2, 9):
        view["locked"] = inst["locked"]
    if mv >= (2, 19):
        view["description"] = inst["description"]
    if mv >= (2, 26):
        view["tags"] = inst["tags"]
    if mv >= (2, 63):
        view["trusted_image_certificates"] = None
    if mv >= (2, 73):
        view["locked_reason"] = inst.get("locked_reason")
    return view


def flavor(item: dict, base: str, mv: Microversion) -> dict:
    view = {"id": item["id"], "name": item["name"], "ram": item["ram"], "disk": item["disk"],
            "vcpus": item["vcpus"], "OS-FLV-EXT-DATA:ephemeral": item["ephemeral"],
            "OS-FLV-DISABLED:disabled": item["disabled"],
            "swap": item["swap"] if (item["swap"] or mv >= (2, 75)) else "",
            "rxtx_factor": item["rxtx_factor"], "os-flavor-access:is_public": item["is_public"],
            "links": _link(base, "flavors", item["id"])}
    if mv >= (2, 55):
        view["description"] = item["description"]
    if mv >= (2, 61):
        view["extra_specs"] = item["extra_specs"]
    return view


def keypair(item: dict, mv: Microversion, *, detail: bool) -> dict:
    view = {"name": item["name"], "public_key": item["public_key"],
            "fingerprint": item["fingerprint"]}
    if mv >= (2, 2):
        view["type"] = item["type"]
    if detail:
        view.update({"user_id": item["user_id"], "id": item["id"],
                     "created_at": item["created_at"], "deleted": False, "deleted_at": None,
                     "updated_at": None})
    if "private_key" in item:
        view["private_key"] = item["private_key"]
    return view


def server_group(item: dict, mv: Microversion) -> dict:
    view = {"id": item["id"], "name": item["name"], "members": item["members"],
            "metadata": {}}
    if mv >= (2, 64):
        view.update(policy=item["policy"], rules=item["rules"])
        view.pop("metadata")
    else:
        view["policies"] = [item["policy"]]
    if mv >= (2, 13):
        view.update(project_id=item["project_id"], user_id=item["user_id"])
    return view


def _z(value: str | None) -> str | None:
    """Nova's timestamps: second precision with a Z."""
    return value[:19] + "Z" if value else None


def _plain(value: str | None) -> str | None:
    return value[:26] if value else None
