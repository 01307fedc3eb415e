"""What crosses the bus between the compute side (API, conductor, compute agents) and the
volume service: Cinder's attachments API as Nova drives it, in small.

``rpcapi.py`` re-exports these; this module imports no transport.

The attach flow (Cinder's "new-style" attachments, as Nova uses them):

1. ``reserve`` (Nova API: ``attachment_create`` without a connector): the volume must be
   ``available`` and the caller's project's (or the caller an admin); it becomes
   ``reserved`` and an attachment ``reserved`` is made for the instance. Repeating it for the
   same volume and instance returns the same attachment.
2. ``attachment_update`` with the host's ``Connector`` (compute agent): the volume is
   ``attaching``; the answer is the ``ConnectionInfo`` the host mounts.
3. ``attachment_complete`` (compute agent, once mounted): the volume is ``in-use``.
4. ``attachment_delete`` (compute agent after unmounting, or the conductor for an instance
   with no host): the attachment is gone and the volume ``available`` again once it has no
   other. Deleting a missing attachment is not an error, so it can be repeated.

An evacuated, moved or unshelved instance keeps its attachments: its new host calls
``attachment_update`` with its own connector (the backend is shared, so the same file).
"""
from __future__ import annotations

import dataclasses
import re

from overcast import errors
from overcast.wire import Wire

# How a volume reaches a host: a file on the storage the volume service shares with every
# hypervisor, holding a filesystem the host mounts (a loop device).
OVERCAST_FILE = "overcast_file"
# The backing file's name in the shared volumes directory, and a snapshot's.
FILE_NAME = re.compile(r"^(volume|snapshot)-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}"
                       r"-[0-9a-f]{12}$")

# Volume statuses (Cinder's).
CREATING = "creating"
AVAILABLE = "available"
RESERVED = "reserved"
ATTACHING = "attaching"
IN_USE = "in-use"
DETACHING = "detaching"
DELETING = "deleting"
ERROR = "error"
EXTENDING = "extending"
BACKING_UP = "backing-up"
RESTORING_BACKUP = "restoring-backup"
ERROR_DELETING = "error_deleting"

# attach_status of a volume and status of an attachment (Cinder's).
DETACHED = "detached"
ATTACHED = "attached"


@dataclasses.dataclass(frozen=True, kw_only=True)
class Connector(Wire):
    """The host a volume is attached on, as os-brick's connector properties say it."""

    host: str
    mountpoint: str = ""  # the device name Nova gave it ("/dev/vdb")
    instance_id: str = ""


@dataclasses.dataclass(frozen=True, kw_only=True)
class ConnectionInfo(Wire):
    """How a host reaches a volume: ``file_name`` in its shared volumes directory holds a
    ``fs_type`` filesystem (for ``OVERCAST_FILE``, the only type)."""

    driver_volume_type: str
    volume_id: str
    file_name: str
    fs_type: str = "ext4"
    read_only: bool = False
    attachment_id: str = ""

    def checked_file_name(self) -> str:
        """``file_name``, refused unless it is a volume's or snapshot's file name (a host
        joins it to its volumes directory, so it can never name anything else)."""
        if self.driver_volume_type != OVERCAST_FILE or not FILE_NAME.fullmatch(self.file_name):
            raise errors.BadRequest(f"Unsupported volume connection: "
                                    f"{errors.excerpt(self.driver_volume_type)} "
                                    f"{errors.excerpt(self.file_name)}")
        return self.file_name


@dataclasses.dataclass(frozen=True, kw_only=True)
class Attachment(Wire):
    """One attachment of a volume to an instance."""

    id: str
    volume_id: str
    instance_id: str
    status: str  # reserved, attaching, attached, detaching
    attached_host: str | None = None
    mountpoint: str | None = None


@dataclasses.dataclass(frozen=True, kw_only=True)
class VolumeSummary(Wire):
    """What the compute side needs to know of a volume."""

    id: str
    name: str | None
    size: int  # GiB
    status: str
    project_id: str
    bootable: bool = False
    availability_zone: str = "nova"
    multiattach: bool = False
    image_id: str | None = None  # the image it was made from, if any


@dataclasses.dataclass(frozen=True, kw_only=True)
class VolumeRequest(Wire):
    """A volume the compute side asks for (boot from volume with ``--boot-from-volume``):
    ``id`` is chosen by the caller so that repeating the request makes no second volume."""

    id: str
    size: int
    name: str = ""
    image_id: str | None = None
    availability_zone: str | None = None
    description: str = ""
