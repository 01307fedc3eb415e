"""The statuses of volumes, snapshots, backups and attachments, and the sets each operation
accepts, as Cinder has them (``cinder/objects/fields.py``, ``cinder/volume/api.py``,
``cinder/backup/api.py``). The volume and attachment values live in ``contract.py``, which
the compute side shares."""
from __future__ import annotations

from collections.abc import Iterable

from services.volume.contract import (
    ATTACHED,
    ATTACHING,
    AVAILABLE,
    BACKING_UP,
    CREATING,
    DELETING,
    DETACHED,
    DETACHING,
    ERROR,
    ERROR_DELETING,
    EXTENDING,
    IN_USE,
    RESERVED,
    RESTORING_BACKUP,
)

__all__ = ["ATTACHED", "ATTACHING", "AVAILABLE", "BACKING_UP", "CREATING", "DELETING",
           "DETACHED", "DETACHING", "ERROR", "ERROR_DELETING", "EXTENDING", "IN_USE",
           "RESERVED", "RESTORING_BACKUP"]

# Volume statuses only this service uses.
ERROR_RESTORING = "error_restoring"
ERROR_EXTENDING = "error_extending"
ERROR_MANAGING = "error_managing"
DOWNLOADING = "downloading"
MAINTENANCE = "maintenance"
# Every status Cinder knows (``VolumeStatus.ALL``): what an admin may reset a volume to.
# The ones no operation here sets (maintenance, uploading, ...) only block what their
# status does not allow, as in Cinder.
VOLUME_STATUSES = frozenset({CREATING, AVAILABLE, RESERVED, ATTACHING, IN_USE, DETACHING,
                             DELETING, ERROR, ERROR_DELETING, EXTENDING, ERROR_EXTENDING,
                             BACKING_UP, RESTORING_BACKUP, ERROR_RESTORING, DOWNLOADING,
                             MAINTENANCE, ERROR_MANAGING, "managing", "awaiting-transfer",
                             "error_backing-up", "uploading", "retyping"})
ATTACH_STATUSES = frozenset({ATTACHED, DETACHED, ATTACHING, DETACHING, RESERVED,
                             "error_attaching", "error_detaching"})

# A volume may be deleted in these (without force), as Cinder's volume API delete.
VOLUME_DELETABLE = (AVAILABLE, ERROR, ERROR_RESTORING, ERROR_EXTENDING, ERROR_MANAGING)
# A new volume may be cloned from a volume in these (Cinder's SRC_VOL_PROCEED_STATUS).
SOURCE_VOLUME_OK = (AVAILABLE, IN_USE)
# A volume is reserved for attaching only in these (not multiattach).
RESERVABLE = (AVAILABLE, DOWNLOADING)
# Statuses that belong to the attach flow: the volume returns to ``available`` when its last
# attachment goes.
ATTACH_FLOW = (RESERVED, ATTACHING, IN_USE, DETACHING)

# Snapshot statuses (Cinder's SnapshotStatus).
SNAPSHOT_STATUSES = frozenset({CREATING, AVAILABLE, DELETING, ERROR, ERROR_DELETING,
                               BACKING_UP, "unmanaging", "restoring"})
SNAPSHOT_DELETABLE = (AVAILABLE, ERROR, "error_deleting")

# Backup statuses (Cinder's BackupStatus).
RESTORING = "restoring"
BACKUP_STATUSES = frozenset({CREATING, AVAILABLE, DELETING, ERROR, ERROR_DELETING,
                             RESTORING})
BACKUP_DELETABLE = (AVAILABLE, ERROR)

# Attachment statuses (the ``status`` of an attachment; Cinder's attach_status values).
ATTACHMENT_RESERVED = RESERVED
ATTACHMENT_ATTACHING = ATTACHING
ATTACHMENT_ATTACHED = ATTACHED


def either(values: Iterable[str]) -> str:
    """``a or b or c``, as Cinder's ``build_or_str`` words a list of statuses."""
    return " or ".join(values)
