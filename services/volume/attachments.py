"""Attachments (Cinder's "new-style" attach API, as Nova drives it), shared by the REST
attachments API (3.27+) and the compute side's RPC endpoints.

1. reserve: an ``available`` volume becomes ``reserved`` with a ``reserved`` attachment for
   the instance (the same attachment again when repeated for the same instance);
2. update with the host's connector: ``attaching`` (an attachment already ``attached``, as
   on an evacuated instance's new host, stays so); the answer says how to reach the file;
3. complete: the attachment ``attached``, the volume ``in-use``;
4. delete: the attachment is gone; the volume is ``available`` again once it has none.

Every step may be repeated (messages can arrive twice).
"""
from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select

from overcast import errors
from overcast.clock import utcnow
from overcast.context import RequestContext
from overcast.errors import excerpt
from services.volume import access, faults, paging, states
from services.volume import validation as check
from services.volume.contract import OVERCAST_FILE, ConnectionInfo, Connector
from services.volume.models import Attachment, Volume
from services.volume.shared import Shared

logger = logging.getLogger(__name__)

SORT_KEYS = ("id", "created_at", "updated_at", "volume_id", "instance_id", "status")


def connection_info(volume: Volume, attachment: Attachment) -> ConnectionInfo:
    return ConnectionInfo(driver_volume_type=OVERCAST_FILE, volume_id=volume.id,
                          file_name=f"volume-{volume.id}",
                          read_only=volume.read_only or attachment.attach_mode == "ro",
                          attachment_id=attachment.id)


def record(attachment: Attachment) -> dict[str, Any]:
    """An attachment as the views read it (with its connection, once it has a host)."""
    data = attachment.as_dict()
    data["project_id"] = attachment.volume.project_id
    data["connection_info"] = (connection_info(attachment.volume, attachment).to_wire()
                               if attachment.connector is not None else {})
    return data


class Attachments:
    def __init__(self, shared: Shared) -> None:
        self.shared = shared
        self.db = shared.db

    # -- reading ---------------------------------------------------------------------------

    def get(self, ctx: RequestContext, attachment_id: str) -> dict[str, Any]:
        with self.db.session() as session:
            return record(access.load_attachment(session, ctx, attachment_id))

    def list(self, ctx: RequestContext, *, filters: Mapping[str, Any] | None = None,
             page: paging.Page = paging.FIRST_PAGE, all_tenants: bool = False
             ) -> tuple[list[dict[str, Any]], int]:
        filters = dict(filters or {})
        with self.db.session() as session:
            query = select(Attachment).join(Volume)
            project = filters.pop("project_id", None) if ctx.is_admin else None
            if not (ctx.is_admin and all_tenants):
                query = query.where(Volume.project_id == access.owner(ctx))
            elif project:
                query = query.where(Volume.project_id == project)
            records = [record(a) for a in session.scalars(query)]
        matching = [r for r in records if all(r.get(k) == v for k, v in filters.items())]
        return paging.apply(matching, page), len(matching)

    def for_instance(self, ctx: RequestContext, instance_id: str) -> list[dict[str, Any]]:
        """Every attachment of ``instance_id`` (the compute side's view; admin only)."""
        access.require_admin(ctx)
        with self.db.session() as session:
            return [record(a) for a in session.scalars(select(Attachment).where(
                Attachment.instance_id == instance_id).order_by(Attachment.created_at))]

    # -- the attach flow -------------------------------------------------------------------

    def reserve(self, ctx: RequestContext, *, volume_id: object, instance_id: object,
                mode: str = "rw") -> dict[str, Any]:
        """Reserve the volume for ``instance_id``: a ``reserved`` attachment; the one it
        already has when repeated."""
        if instance_id is not None and (not isinstance(instance_id, str)
                                        or not 0 < len(instance_id) <= 255):
            raise faults.InvalidInput(f"Invalid instance_uuid {excerpt(instance_id)}.")
        if mode not in ("rw", "ro"):
            raise faults.InvalidInput(f"Invalid attaching mode '{excerpt(mode)}' for volume "
                                      f"{volume_id}.")
        with self.db.session() as session:
            volume = access.load_volume(session, ctx, volume_id)
            if instance_id is not None:
                for existing in volume.attachments:
                    if existing.instance_id == instance_id:
                        return record(existing)
            if "error" in volume.status:
                raise faults.InvalidVolume(
                    f"Volume attachments can not be created if the volume is in an error "
                    f"state. The Volume {volume.id} currently has a status of: "
                    f"{volume.status} ")
            if volume.status not in states.RESERVABLE:
                raise faults.InvalidVolume(
                    f"Volume {volume.id} status must be {states.either(states.RESERVABLE)} "
                    f"to reserve, but the current status is {volume.status}.")
            attachment = Attachment(id=str(uuid.uuid4()), volume_id=volume.id,
                                    instance_id=instance_id,
                                    status=states.ATTACHMENT_RESERVED, attach_mode=mode)
            volume.attachments.append(attachment)
            volume.status = states.RESERVED
            session.flush()
            logger.info("volume %s reserved for instance %s (attachment %s)", volume.id,
                        instance_id, attachment.id)
            return record(attachment)

    def update(self, ctx: RequestContext, attachment_id: str, connector: Connector
               ) -> tuple[dict[str, Any], ConnectionInfo]:
        """The host in ``connector`` is attaching: the attachment's record and how the host
        reaches the volume."""
        with self.db.session() as session:
            attachment = access.load_attachment(session, ctx, attachment_id)
            volume = attachment.volume
            if "error" in volume.status:
                raise faults.ResourceConflict(
                    f"Volume attachments can not be updated if the volume is in an error "
                    f"state. The Volume {volume.id} currently has a status of: "
                    f"{volume.status} ")
            attachment.connector = connector.to_wire()
            attachment.attached_host = connector.host
            attachment.mountpoint = connector.mountpoint or attachment.mountpoint
            if attachment.status == states.ATTACHMENT_RESERVED:
                attachment.status = states.ATTACHMENT_ATTACHING
            if volume.status in (states.RESERVED, states.AVAILABLE):
                volume.status = states.ATTACHING
            session.flush()
            logger.info("attachment %s of volume %s: host %s", attachment.id, volume.id,
                        connector.host)
            return record(attachment), connection_info(volume, attachment)

    def complete(self, ctx: RequestContext, attachment_id: str) -> None:
        """The host has the volume: the attachment ``attached``, the volume ``in-use``."""
        with self.db.session() as session:
            attachment = access.load_attachment(session, ctx, attachment_id)
            volume = attachment.volume
            if attachment.status != states.ATTACHMENT_ATTACHED:
                attachment.status = states.ATTACHMENT_ATTACHED
                attachment.attach_time = utcnow()
            volume.status = states.IN_USE
            volume.attach_status = states.ATTACHED
        logger.info("volume %s in-use (attachment %s)", volume.id, attachment_id)

    def delete(self, ctx: RequestContext, attachment_id: str, *, missing_ok: bool = False,
               by_compute: bool = False) -> tuple[str | None, list[dict[str, Any]]]:
        """Forget the attachment; the volume follows its remaining attachments
        (``available`` with none). The volume's id (None when the attachment was missing)
        and its remaining attachments.

        Only the compute side (``by_compute``) deletes an attachment a host is connected to:
        anyone else would free a volume still mounted in a guest (Cinder's bug #2004555
        rule: 409, "use the Compute API")."""
        with self.db.session() as session:
            try:
                attachment = access.load_attachment(session, ctx, attachment_id)
            except errors.NotFound:
                if missing_ok:
                    return None, []
                raise
            if not by_compute and attachment.instance_id and attachment.connector is not None:
                raise errors.Conflict(f"ConflictNovaUsingAttachment: Detach volume from "
                                      f"instance {attachment.instance_id} using the Compute "
                                      "API")
            volume = attachment.volume
            remaining = _forget(session, volume, attachment,
                                settle=volume.status in states.ATTACH_FLOW)
            logger.info("attachment %s of volume %s deleted (volume %s)", attachment_id,
                        volume.id, volume.status)
            return volume.id, [record(a) for a in remaining]

    # -- the legacy volume actions (os-reserve, os-attach, os-detach, ...) -----------------
    #
    # Cinder's attach API before attachments (3.27): bookkeeping a client does around a
    # connection it makes itself. Nothing here mounts anything; a host mounts only through
    # the attachment flow above (``update`` with its connector), and an attachment a host is
    # connected to is never removed by these (Cinder's bug #2004555 rule, as ``delete``).

    def begin_attaching(self, ctx: RequestContext, volume_id: object) -> None:
        """``os-reserve``: an ``available`` volume becomes ``attaching``."""
        with self.db.session() as session:
            volume = access.load_volume(session, ctx, volume_id)
            if volume.status != states.AVAILABLE:
                raise faults.InvalidVolume(f"Volume status must be available to reserve, but "
                                           f"the status is {volume.status}.")
            volume.status = states.ATTACHING

    def unreserve(self, ctx: RequestContext, volume_id: object) -> None:
        """``os-unreserve``: an ``attaching`` volume goes back to ``in-use`` when it has
        attachments, else ``available``; any other status is left alone (as Cinder)."""
        with self.db.session() as session:
            volume = access.load_volume(session, ctx, volume_id)
            if volume.status == states.ATTACHING:
                volume.status = states.IN_USE if volume.attachments else states.AVAILABLE

    def begin_detaching(self, ctx: RequestContext, volume_id: object) -> None:
        """``os-begin_detaching``: an attached ``in-use`` volume becomes ``detaching``."""
        with self.db.session() as session:
            volume = access.load_volume(session, ctx, volume_id)
            if volume.status != states.IN_USE or volume.attach_status != states.ATTACHED:
                raise faults.InvalidVolume("Unable to detach volume. Volume status must be "
                                           "'in-use' and attach_status must be 'attached' to "
                                           "detach.")
            volume.status = states.DETACHING

    def roll_detaching(self, ctx: RequestContext, volume_id: object) -> None:
        """``os-roll_detaching``: a ``detaching`` volume is ``in-use`` again."""
        with self.db.session() as session:
            volume = access.load_volume(session, ctx, volume_id)
            if volume.status == states.DETACHING:
                volume.status = states.IN_USE

    def attach_record(self, ctx: RequestContext, volume_id: object, *,
                      instance_id: object = None, host_name: object = None,
                      mountpoint: object = None, mode: object = "rw") -> dict[str, Any]:
        """``os-attach``: record that ``instance_id`` (or ``host_name``) has the volume at
        ``mountpoint``: an ``attached`` attachment, the volume ``in-use``. The same
        attachment again when that instance (or host) already has one. Refused (400) for a
        volume in maintenance or in use already (no multiattach), a read-only volume asked
        for ``rw``, or a volume neither ``available`` nor reserved (``attaching``)."""
        if not isinstance(mountpoint, str) or not 0 < len(mountpoint) <= 255:
            raise errors.BadRequest("Invalid input for field/attribute os-attach. "
                                    "'mountpoint' must be a string of 1 to 255 characters.")
        if instance_id is None and host_name is None:
            raise errors.BadRequest("Invalid input for field/attribute os-attach. "
                                    "'instance_uuid' or 'host_name' is required.")
        if instance_id is not None and not check.is_uuid(instance_id):
            raise errors.BadRequest(f"Invalid input for field/attribute instance_uuid. Value: "
                                    f"{excerpt(instance_id)}. It is not a valid UUID.")
        if host_name is not None and (not isinstance(host_name, str) or len(host_name) > 255):
            raise errors.BadRequest(f"Invalid input for field/attribute host_name. Value: "
                                    f"{excerpt(host_name)}.")
        if mode not in ("rw", "ro"):
            raise errors.BadRequest(f"Invalid input for field/attribute mode. Value: "
                                    f"{excerpt(mode)}. It must be 'rw' or 'ro'.")
        with self.db.session() as session:
            volume = access.load_volume(session, ctx, volume_id)
            if volume.status == states.MAINTENANCE:
                raise faults.InvalidVolume("The volume cannot be attached in maintenance "
                                           "mode.")
            if volume.read_only and mode != "ro":
                raise faults.InvalidVolume(f"Invalid attaching mode '{mode}' for volume "
                                           f"{volume.id}.")
            for existing in volume.attachments:
                same = existing.instance_id == instance_id if instance_id is not None \
                    else existing.instance_id is None and existing.attached_host == host_name
                if same and existing.status == states.ATTACHMENT_ATTACHED:
                    return record(existing)
            if volume.status == states.IN_USE:
                raise faults.InvalidVolume("volume is already attached and multiple "
                                           "attachments are not enabled")
            if volume.status not in (states.AVAILABLE, states.ATTACHING):
                raise faults.InvalidVolume(f"Volume {volume.id} status must be available or "
                                           f"attaching to attach, but the current status is "
                                           f"{volume.status}.")
            attachment = Attachment(id=str(uuid.uuid4()), volume_id=volume.id,
                                    instance_id=instance_id, attached_host=host_name,
                                    mountpoint=mountpoint, attach_mode=mode,
                                    status=states.ATTACHMENT_ATTACHED, attach_time=utcnow())
            volume.attachments.append(attachment)
            volume.status = states.IN_USE
            volume.attach_status = states.ATTACHED
            # As Cinder's: the read-only flag set (False unless it was), and the mode.
            volume.admin_metadata = {"readonly": "False", **(volume.admin_metadata or {}),
                                     "attached_mode": mode}
            session.flush()
            logger.info("volume %s recorded attached to %s at %s (attachment %s)", volume.id,
                        instance_id or host_name, mountpoint, attachment.id)
            return record(attachment)

    def detach_record(self, ctx: RequestContext, volume_id: object,
                      attachment_id: object = None) -> None:
        """``os-detach`` (and an admin's ``os-force_detach``): forget the attachment (the
        volume's only one when none is named); the volume's status follows what remains,
        whatever it was (``available`` with none), as Cinder's ``volume_detached``.
        Refused (409) for an attachment a host is connected to, which only the compute
        side removes, and (400) for one of another volume or when several could be meant."""
        with self.db.session() as session:
            volume = access.load_volume(session, ctx, volume_id)
            if volume.status == states.MAINTENANCE:
                raise faults.InvalidVolume("The volume cannot be detached in maintenance "
                                           "mode.")
            if attachment_id is None:
                if len(volume.attachments) > 1:
                    raise faults.InvalidVolume("Detach volume failed: More than one "
                                               "attachment, but no attachment_id provided.")
                if not volume.attachments:
                    _settle(volume, [])
                    volume.admin_metadata = {k: v for k, v in
                                             (volume.admin_metadata or {}).items()
                                             if k != "attached_mode"}
                    return
                attachment = volume.attachments[0]
            else:
                attachment = access.load_attachment(session, ctx, attachment_id)
                if attachment.volume_id != volume.id:
                    raise faults.InvalidInput("Mismatched volume and attachment")
            if attachment.instance_id and attachment.connector is not None:
                raise errors.Conflict(f"ConflictNovaUsingAttachment: Detach volume from "
                                      f"instance {attachment.instance_id} using the Compute "
                                      "API")
            _forget(session, volume, attachment, settle=True)
            volume.admin_metadata = {k: v for k, v in (volume.admin_metadata or {}).items()
                                     if k != "attached_mode"}
            logger.info("attachment %s of volume %s detached (volume %s)", attachment.id,
                        volume.id, volume.status)


def _forget(session: Any, volume: Volume, attachment: Attachment, *, settle: bool
            ) -> list[Attachment]:
    """Delete ``attachment``; the volume's remaining attachments. With ``settle`` the
    volume's status follows them (see ``_settle``); its attach status always does."""
    volume.attachments.remove(attachment)
    session.delete(attachment)
    remaining = list(volume.attachments)
    if settle:
        _settle(volume, remaining)
    if not any(a.status == states.ATTACHMENT_ATTACHED for a in remaining):
        volume.attach_status = states.DETACHED
    session.flush()
    return remaining


def _settle(volume: Volume, remaining: list[Attachment]) -> None:
    """The volume's status from its attachments: ``available`` (and detached) with none,
    else ``in-use``, ``attaching`` or ``reserved`` by the most advanced one."""
    if not remaining:
        volume.status = states.AVAILABLE
        volume.attach_status = states.DETACHED
    elif any(a.status == states.ATTACHMENT_ATTACHED for a in remaining):
        volume.status = states.IN_USE
    elif any(a.status == states.ATTACHMENT_ATTACHING for a in remaining):
        volume.status = states.ATTACHING
    else:
        volume.status = states.RESERVED
