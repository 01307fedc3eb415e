"""Twins of what the compute routers talk to: the conductor's rpcapi, the image client and
the network service, each recording what it was asked. No broker, no gRPC."""
from __future__ import annotations

import uuid
from typing import Any

import orjson

from overcast import errors
from overcast.context import RequestContext
from services.conductor.rpcapi import BootRequest, GuestDiagnostics

MEMBER = RequestContext(user_id="u-member", project_id="p-1", roles=("member",))
OTHER = RequestContext(user_id="u-other", project_id="p-2", roles=("member",))
ADMIN = RequestContext(user_id="u-admin", project_id="p-admin", roles=("admin", "member"))
IMAGE_ID = "0c9b4f35-8e3c-4b9a-9d22-1d0d8b1f6a01"
QUEUED_IMAGE_ID = "7d4f5e2a-3c1b-4a8e-9f0d-2b6c8e1a4d02"
DISK_IMAGE_ID = "5e1a2b3c-4d5e-4f60-8a7b-9c0d1e2f3a04"  # active, but no root filesystem


def auth(token: str = "member", version: str | None = None) -> dict[str, str]:
    """Headers for a request as ``token``, at compute microversion ``version``."""
    headers = {"X-Auth-Token": token}
    if version:
        headers["OpenStack-API-Version"] = f"compute {version}"
    return headers


class TokensTwin:
    """Tokens are the names "member", "other" and "admin"."""

    def authenticate(self, token: str, *, request_id: str) -> RequestContext:
        known = {"member": MEMBER, "other": OTHER, "admin": ADMIN}
        if token not in known:
            raise errors.Unauthorized("The request you have made requires authentication.")
        return RequestContext(**{**known[token].to_dict(), "roles": known[token].roles,
                                 "request_id": request_id})


def flavor_record(flavor_id: str = "1", **overrides: Any) -> dict:
    return {"id": flavor_id, "name": f"m1.f{flavor_id}", "ram": 512, "disk": 1, "vcpus": 1,
            "ephemeral": 0, "swap": 0, "rxtx_factor": 1.0, "is_public": True,
            "disabled": False, "description": None, "extra_specs": {"hw:cpu": "1"},
            **overrides}


def instance_record(ctx: RequestContext, **overrides: Any) -> dict:
    return {"id": str(uuid.uuid4()), "name": "vm", "status": "BUILD",
            "project_id": ctx.project_id, "user_id": ctx.user_id, "metadata": {},
            "host": "hv-1", "image_ref": IMAGE_ID, "flavor": flavor_record(),
            "created_at": "2024-01-02T03:04:05.678901", "updated_at": None,
            "addresses": [{"network": "private", "ip": "10.0.0.5", "type": "fixed",
                           "mac": "fa:16:3e:00:00:01"}],
            "availability_zone": None, "key_name": None, "launched_at": None,
            "terminated_at": None, "task_state": "scheduling", "vm_state": "building",
            "power_state": 0, "security_groups": ["default"], "reservation_id": "r-1",
            "launch_index": 0, "user_data": None, "fault": None, "locked": False,
            "description": None, "tags": [], **overrides}


class ConductorTwin:
    """The subset of ``ConductorAPI`` the compute routers call, over an in-memory dict."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict]] = []
        self.refuse_actions = False  # guest_action answers 409
        self.volume_refusal: Exception | None = None  # attach_volume raises it
        self.diagnostics: GuestDiagnostics | Exception = GuestDiagnostics(
            state="running", driver="fake")
        self.servers: dict[str, dict] = {}
        self.flavors = {"1": flavor_record("1"), "2": flavor_record("2", is_public=False)}
        self.services = [
            {"id": "s-1", "binary": "nova-compute", "host": "hv-1", "zone": "nova",
             "status": "enabled", "state": "up", "updated_at": "2024-01-02T03:04:05",
             "disabled_reason": None, "forced_down": False},
            {"id": "s-2", "binary": "nova-compute", "host": "hv-2", "zone": "az-2",
             "status": "disabled", "state": "down", "updated_at": "2024-01-02T03:04:05",
             "disabled_reason": "maintenance", "forced_down": False}]
        self.nodes = [
            {"id": f"n-{i}", "host": f"hv-{i}", "state": "up", "status": "enabled",
             "vcpus": 4, "memory_mb": 4096, "local_gb": 40, "vcpus_used": i,
             "memory_mb_used": 512 * i, "local_gb_used": i, "running_vms": i,
             "hypervisor_type": "process", "hypervisor_version": 1, "host_ip": f"10.1.0.{i}",
             "service": {"id": f"s-{i}", "host": f"hv-{i}", "disabled_reason": None}}
            for i in (1, 2)]
        self.migrations = [{"id": 1, "uuid": "m-1", "instance_uuid": "i-1",
                            "source_compute": "hv-1", "dest_compute": "hv-2",
                            "status": "completed", "migration_type": "evacuation",
                            "user_id": "u", "project_id": "p"}]

    def _record(self, method: str, /, **kwargs: Any) -> None:
        self.calls.append((method, kwargs))

    def asked(self, name: str) -> list[dict]:
        return [kwargs for called, kwargs in self.calls if called == name]

    # -- servers ---------------------------------------------------------------------------

    async def create_servers(self, ctx: RequestContext, *, request: BootRequest) -> list[dict]:
        # As the conductor reads it: through JSON, as the bus carries it.
        request = BootRequest.from_wire(orjson.loads(orjson.dumps(request.to_wire())))
        self._record("create_servers", request=request)
        made = [instance_record(ctx, name=request.name,
                                security_groups=list(request.security_groups) or ["default"])
                for _ in range(request.min_count)]
        self.servers.update({item["id"]: item for item in made})
        return made

    def add_server(self, ctx: RequestContext, **overrides: Any) -> dict:
        item = instance_record(ctx, **overrides)
        self.servers[item["id"]] = item
        return item

    async def get_server(self, ctx: RequestContext, *, instance_id: str) -> dict:
        self._record("get_server", instance_id=instance_id)
        item = self.servers.get(instance_id)
        if item is None or (item["project_id"] != ctx.project_id and not ctx.is_admin):
            raise errors.NotFound(f"Instance {instance_id} could not be found.")
        return item

    async def list_servers(self, ctx: RequestContext, *, filters: dict) -> list[dict]:
        self._record("list_servers", filters=filters)
        return [s for s in self.servers.values()
                if s["project_id"] == ctx.project_id or filters.get("all_tenants")]

    async def update_server(self, ctx: RequestContext, *, instance_id: str,
                            changes: dict) -> dict:
        self._record("update_server", instance_id=instance_id, changes=changes)
        item = await self.get_server(ctx, instance_id=instance_id)
        item.update(changes)
        return item

    async def delete_server(self, ctx: RequestContext, *, instance_id: str) -> None:
        self._record("delete_server", instance_id=instance_id)

    async def power_action(self, ctx: RequestContext, *, instance_id: str, action: str,
                           hard: bool = False) -> None:
        self._record("power_action", instance_id=instance_id, action=action, hard=hard)

    async def guest_action(self, ctx: RequestContext, *, instance_id: str, action: str,
                           image_id: str | None = None,
                           rescue_image_ref: str | None = None) -> None:
        await self.get_server(ctx, instance_id=instance_id)
        self._record("guest_action", instance_id=instance_id, action=action,
                     image_id=image_id, rescue_image_ref=rescue_image_ref)
        if self.refuse_actions:
            raise errors.Conflict(f"Cannot '{action}' instance {instance_id} while it is in "
                                  "vm_state paused")

    async def lock_server(self, ctx: RequestContext, *, instance_id: str,
                          reason: str | None = None) -> None:
        self._record("lock_server", instance_id=instance_id, reason=reason)

    async def unlock_server(self, ctx: RequestContext, *, instance_id: str) -> None:
        self._record("unlock_server", instance_id=instance_id)

    async def get_console_output(self, ctx: RequestContext, *, instance_id: str,
                                 length: int | None = None) -> str:
        self._record("get_console_output", instance_id=instance_id, length=length)
        return "a\nb\nc"

    async def get_server_diagnostics(self, ctx: RequestContext, *, instance_id: str
                                     ) -> GuestDiagnostics:
        """As the conductor answers: 404 unless visible, 403 unless admin, then
        ``self.diagnostics`` (an error there is raised)."""
        self._record("get_server_diagnostics", instance_id=instance_id)
        await self.get_server(ctx, instance_id=instance_id)
        if not ctx.is_admin:
            raise errors.Forbidden("Policy doesn't allow os_compute_api:os-server-diagnostics"
                                   " to be performed.")
        if isinstance(self.diagnostics, Exception):
            raise self.diagnostics
        return self.diagnostics

    async def attach_volume(self, ctx: RequestContext, *, instance_id: str, volume_id: str,
                            device: str | None = None, tag: str | None = None,
                            delete_on_termination: bool = False) -> dict:
        """Records the mapping on the server as the conductor does (the next device)."""
        self._record("attach_volume", instance_id=instance_id, volume_id=volume_id,
                     device=device, tag=tag, delete_on_termination=delete_on_termination)
        server = await self.get_server(ctx, instance_id=instance_id)
        if self.volume_refusal is not None:
            raise self.volume_refusal
        mappings = server.setdefault("block_device_mapping", [])
        mapping = {"volume_id": volume_id, "attachment_id": str(uuid.uuid4()),
                   "device_name": device or f"/dev/vd{chr(ord('b') + len(mappings))}",
                   "boot_index": None, "tag": tag, "status": "attaching",
                   "delete_on_termination": delete_on_termination}
        mappings.append(mapping)
        return mapping

    async def detach_volume(self, ctx: RequestContext, *, instance_id: str,
                            volume_id: str) -> None:
        self._record("detach_volume", instance_id=instance_id, volume_id=volume_id)
        server = await self.get_server(ctx, instance_id=instance_id)
        if not any(m["volume_id"] == volume_id for m in server.get("block_device_mapping", [])):
            raise errors.NotFound(f"Instance {instance_id} is not attached to volume "
                                  f"{volume_id}")

    async def unshelve_server(self, ctx: RequestContext, *, instance_id: str,
                              availability_zone: str | None = None) -> None:
        self._record("unshelve_server", instance_id=instance_id,
                     availability_zone=availability_zone)

    async def rebuild_server(self, ctx: RequestContext, *, instance_id: str, image_ref: str,
                             name: str | None = None, metadata: dict | None = None) -> dict:
        self._record("rebuild_server", instance_id=instance_id, image_ref=image_ref,
                     name=name, metadata=metadata)
        return {**await self.get_server(ctx, instance_id=instance_id), "status": "REBUILD"}

    async def resize_server(self, ctx: RequestContext, *, instance_id: str,
                            flavor_id: str | None = None, host: str | None = None) -> None:
        self._record("resize_server", instance_id=instance_id, flavor_id=flavor_id, host=host)

    async def confirm_resize(self, ctx: RequestContext, *, instance_id: str) -> None:
        self._record("confirm_resize", instance_id=instance_id)

    async def revert_resize(self, ctx: RequestContext, *, instance_id: str) -> None:
        self._record("revert_resize", instance_id=instance_id)

    async def evacuate_server(self, ctx: RequestContext, *, instance_id: str,
                              host: str | None) -> None:
        self._record("evacuate_server", instance_id=instance_id, host=host)

    async def set_metadata(self, ctx: RequestContext, *, instance_id: str, metadata: dict,
                           replace: bool) -> dict:
        self._record("set_metadata", instance_id=instance_id, metadata=metadata,
                     replace=replace)
        item = await self.get_server(ctx, instance_id=instance_id)
        item["metadata"] = dict(metadata) if replace else {**item["metadata"], **metadata}
        return item["metadata"]

    async def delete_metadata(self, ctx: RequestContext, *, instance_id: str,
                              key: str) -> None:
        self._record("delete_metadata", instance_id=instance_id, key=key)

    async def list_actions(self, ctx: RequestContext, *, instance_id: str) -> list[dict]:
        return [{"action": "create", "request_id": "req-1", "updated_at": "t"}]

    async def get_action(self, ctx: RequestContext, *, instance_id: str,
                         request_id: str) -> dict:
        return {"action": "create", "request_id": request_id,
                "events": [{"event": "build", "host": "hv-1", "traceback": "tb"}]}

    # -- flavors, key pairs, quotas, groups -------------------------------------------------

    async def list_flavors(self, ctx: RequestContext, *, is_public: bool | None) -> list[dict]:
        self._record("list_flavors", is_public=is_public)
        return [f for f in self.flavors.values() if is_public is None
                or f["is_public"] == is_public]

    async def get_flavor(self, ctx: RequestContext, *, flavor_id: str) -> dict:
        if flavor_id not in self.flavors:
            raise errors.NotFound(f"Flavor {flavor_id} could not be found.")
        return self.flavors[flavor_id]

    async def create_flavor(self, ctx: RequestContext, *, flavor: dict) -> dict:
        self._record("create_flavor", flavor=flavor)
        made = {**flavor_record(), **flavor, "id": flavor["id"] or "new"}
        self.flavors[made["id"]] = made
        return made

    async def delete_flavor(self, ctx: RequestContext, *, flavor_id: str) -> None:
        self._record("delete_flavor", flavor_id=flavor_id)

    async def create_keypair(self, ctx: RequestContext, *, name: str,
                             public_key: str | None, key_type: str,
                             user_id: str | None = None) -> dict:
        self._record("create_keypair", name=name, public_key=public_key, key_type=key_type,
                     user_id=user_id)
        return {"name": name, "public_key": public_key or "ssh-ed25519 AAAA",
                "fingerprint": "aa:bb", "type": key_type, "user_id": user_id or ctx.user_id,
                **({} if public_key else {"private_key": "-----BEGIN-----"})}

    async def list_keypairs(self, ctx: RequestContext, *, user_id: str | None = None
                            ) -> list[dict]:
        self._record("list_keypairs", user_id=user_id)
        return []

    async def get_keypair(self, ctx: RequestContext, *, name: str,
                          user_id: str | None = None) -> dict:
        self._record("get_keypair", name=name, user_id=user_id)
        return {"name": name, "public_key": "ssh-ed25519 AAAA", "fingerprint": "aa:bb",
                "type": "ssh", "user_id": user_id or ctx.user_id}

    async def delete_keypair(self, ctx: RequestContext, *, name: str,
                             user_id: str | None = None) -> None:
        self._record("delete_keypair", name=name, user_id=user_id)

    async def get_quotas(self, ctx: RequestContext, *, project_id: str) -> dict:
        self._record("get_quotas", project_id=project_id)
        limits = {"cores": 20, "instances": 10, "ram": 51200, "metadata_items": 128,
                  "key_pairs": 100, "server_groups": 10, "server_group_members": 10,
                  "injected_files": 5, "injected_file_content_bytes": 10240,
                  "injected_file_path_bytes": 255}
        return {"limits": limits, "defaults": limits,
                "usage": {"cores": 2, "instances": 1, "ram": 1024, "server_groups": 0}}

    async def update_quotas(self, ctx: RequestContext, *, project_id: str,
                            values: dict) -> dict:
        self._record("update_quotas", project_id=project_id, values=values)
        return {**(await self.get_quotas(ctx, project_id=project_id))["limits"], **values}

    async def create_group(self, ctx: RequestContext, *, name: str, policy: str,
                           rules: dict) -> dict:
        self._record("create_group", name=name, policy=policy, rules=rules)
        return {"id": "g-1", "name": name, "policy": policy, "rules": rules, "members": [],
                "project_id": ctx.project_id, "user_id": ctx.user_id}

    # -- admin -----------------------------------------------------------------------------

    async def list_services(self, ctx: RequestContext, *, binary: str | None = None,
                            host: str | None = None) -> list[dict]:
        self._record("list_services", binary=binary, host=host)
        return [s for s in self.services if (binary is None or s["binary"] == binary)
                and (host is None or s["host"] == host)]

    async def update_service(self, ctx: RequestContext, *, service_id: str,
                             **changes: Any) -> dict:
        self._record("update_service", service_id=service_id, **changes)
        service = next(s for s in self.services if s["id"] == service_id)
        return {**service, "status": "disabled" if changes.get("disabled") else "enabled"}

    async def list_hypervisors(self, ctx: RequestContext) -> list[dict]:
        return self.nodes

    async def list_migrations(self, ctx: RequestContext, *, filters: dict) -> list[dict]:
        self._record("list_migrations", filters=filters)
        return [dict(m) for m in self.migrations]

    async def availability_zones(self, ctx: RequestContext) -> list[str]:
        return ["nova", "az-2"]


class ImagesTwin:
    """``ImageClient.get_image`` over three images: a root filesystem archive, one still
    queued, and an active disk image that is no root filesystem."""

    def __init__(self) -> None:
        self.images = {IMAGE_ID: {"id": IMAGE_ID, "status": "active", "min_ram": 64,
                                  "min_disk": 1, "overcast_rootfs": "tar.gz"},
                       QUEUED_IMAGE_ID: {"id": QUEUED_IMAGE_ID, "status": "queued"},
                       DISK_IMAGE_ID: {"id": DISK_IMAGE_ID, "status": "active",
                                       "disk_format": "qcow2"}}

    async def create_image(self, ctx: RequestContext, image: dict) -> dict:
        made = {"id": str(uuid.uuid4()), "status": "queued", "owner": ctx.project_id, **image}
        self.images[made["id"]] = made
        return made

    async def delete_image(self, ctx: RequestContext, image_id: str) -> None:
        if self.images.pop(image_id, None) is None:
            raise errors.NotFound(f"No image found with ID {image_id}")

    async def get_image(self, ctx: RequestContext, image_id: str) -> dict:
        if image_id not in self.images:
            raise errors.NotFound(f"No image found with ID {image_id}")
        return self.images[image_id]


class NetworkTwin:
    """``NetworkManager.validate_networks``: records the request; ``refuse`` makes it fail."""

    def __init__(self) -> None:
        self.validated: list[tuple[str, Any]] = []
        self.refuse: Exception | None = None

    async def validate_networks(self, ctx: RequestContext, *, project_id: str,
                                requested_networks: Any,
                                security_groups: list[str] | None = None) -> None:
        self.validated.append((project_id, requested_networks))
        self.security_groups = security_groups
        if self.refuse is not None:
            raise self.refuse
