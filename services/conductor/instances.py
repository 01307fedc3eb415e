"""The instance table, with an exact in-memory copy of every live instance.

The conductor is the only process that writes instances, so a copy refreshed after each
commit stays exact, and reads (show, list, quota usage) never touch the database.
"""
from __future__ import annotations

import contextlib
from collections.abc import Iterator

from sqlalchemy import select
from sqlalchemy.orm import Session

from agents.compute.contract import InstancePayload
from overcast import errors
from overcast.clock import iso
from overcast.db import Database
from services.conductor import block_devices, states
from services.conductor.models import Instance


def instance_dict(inst: Instance) -> dict:
    return {
        "id": inst.id, "name": inst.name, "project_id": inst.project_id,
        "user_id": inst.user_id, "flavor": inst.flavor, "image_ref": inst.image_ref,
        "key_name": inst.key_name, "key_data": inst.key_data, "user_data": inst.user_data,
        "metadata": dict(inst.metadata_ or {}), "tags": list(inst.tags or []),
        "description": inst.description, "availability_zone": inst.availability_zone,
        "security_groups": list(inst.security_groups or []),
        "network_info": list(inst.network_info or []),
        "server_group_id": inst.server_group_id, "reservation_id": inst.reservation_id,
        "launch_index": inst.launch_index, "host": inst.host, "vm_state": inst.vm_state,
        "task_state": inst.task_state, "power_state": inst.power_state,
        "status": states.status(inst.vm_state, inst.task_state), "fault": inst.fault,
        "locked": inst.locked, "locked_by": inst.locked_by,
        "locked_reason": inst.locked_reason, "shelved_image_id": inst.shelved_image_id,
        "move_source": inst.move_source, "old_flavor": inst.old_flavor,
        "move_image_id": inst.move_image_id,
        "block_device_mapping": block_devices.of(inst),
        "tried_hosts": list(inst.tried_hosts or []),
        "created_at": iso(inst.created_at),
        "updated_at": iso(inst.updated_at), "launched_at": iso(inst.launched_at),
        "terminated_at": iso(inst.terminated_at),
    }


def public_view(full: dict) -> dict:
    """What the API shows of an instance: no key material, addresses instead of VIFs."""
    view = {k: v for k, v in full.items()
            if k not in ("network_info", "key_data", "tried_hosts", "shelved_image_id",
                         "move_source", "old_flavor", "move_image_id")}
    view["addresses"] = [
        {"network": vif.get("network_name") or vif["network_id"], "ip": ip["ip_address"],
         "mac": vif["mac_address"], "type": "fixed"}
        for vif in full["network_info"] for ip in vif.get("fixed_ips", ())]
    return view


def notification(instance: dict) -> dict:
    """The payload of a ``compute.instance.*`` notification about ``instance``."""
    keys = ("id", "name", "project_id", "user_id", "host", "vm_state", "task_state",
            "power_state", "status", "image_ref", "availability_zone", "fault")
    payload = {k: instance.get(k) for k in keys}
    payload["flavor"] = instance["flavor"]["name"]
    return payload


def payload_of(instance: dict) -> InstancePayload:
    """What a host is sent to build ``instance`` (an ``instance_dict``): with the volumes it
    attaches (``block_devices.for_host``)."""
    # from_wire takes the fields it has and ignores the rest (of a mapping too).
    return InstancePayload.from_wire({
        **instance,
        "block_device_mapping": block_devices.for_host(block_devices.of(instance))})


class InstanceStore:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._live: dict[str, dict] = {}
        self._public: dict[str, dict] = {}
        with db.session() as session:
            for inst in session.scalars(select(Instance).where(Instance.deleted.is_(False))):
                self._refresh(inst)

    def get(self, instance_id: str) -> dict | None:
        """The live instance, or None (missing or deleted). Treat the result as read-only."""
        return self._live.get(instance_id)

    def get_public(self, instance_id: str) -> dict | None:
        """As ``get``, in the API's view (see ``public_view``)."""
        return self._public.get(instance_id)

    def live(self) -> list[dict]:
        return list(self._live.values())

    def live_public(self) -> list[dict]:
        return list(self._public.values())

    def _refresh(self, inst: Instance) -> None:
        if inst.deleted:
            self._live.pop(inst.id, None)
            self._public.pop(inst.id, None)
        else:
            full = instance_dict(inst)
            self._live[inst.id] = full
            self._public[inst.id] = public_view(full)

    @contextlib.contextmanager
    def edit(self, instance_id: str) -> Iterator[tuple[Session, Instance | None]]:
        """A session and the live instance (None if missing or deleted) to change in it.

        The change is committed on leaving the block, then the in-memory copy is refreshed.
        """
        with self.db.session() as session:
            inst = session.get(Instance, instance_id)
            yield session, (inst if inst is not None and not inst.deleted else None)
        if inst is not None:
            self._refresh(inst)

    @contextlib.contextmanager
    def edit_existing(self, instance_id: str) -> Iterator[tuple[Session, Instance]]:
        """As ``edit``, for a request about an instance that must still exist: NotFound (404)
        when it was deleted since the request was checked."""
        with self.edit(instance_id) as (session, inst):
            if inst is None:
                raise errors.NotFound(f"Instance {instance_id} could not be found.")
            yield session, inst

    @contextlib.contextmanager
    def create(self) -> Iterator[tuple[Session, list[Instance]]]:
        """A session to add new instances to (append them to the list); cached on commit."""
        added: list[Instance] = []
        with self.db.session() as session:
            yield session, added
        for inst in added:
            self._refresh(inst)

    def usage(self, project_id: str) -> dict[str, int]:
        mine = [i["flavor"] for i in self._live.values() if i["project_id"] == project_id]
        return {"instances": len(mine), "cores": sum(f["vcpus"] for f in mine),
                "ram": sum(f["ram"] for f in mine)}
