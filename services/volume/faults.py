"""The volume service's errors, worded as Cinder words them (``cinder/exception.py``).

Each is an ``overcast.errors`` class, so the REST edge renders it as Cinder's fault document
(``{"badRequest": {"code": 400, "message": ...}}``) and the bus carries it to the compute
side as its nearest common ancestor (``BadRequest``, ``NotFound``, ...).
"""
from __future__ import annotations

from overcast import errors
from overcast.errors import excerpt


class Invalid(errors.BadRequest):
    """Unacceptable parameters."""

    prefix = ""

    def __init__(self, reason: str) -> None:
        super().__init__(f"{self.prefix}{reason}" if self.prefix else reason)


class InvalidInput(Invalid):
    prefix = "Invalid input received: "


class InvalidVolume(Invalid):
    prefix = "Invalid volume: "


class InvalidSnapshot(Invalid):
    prefix = "Invalid snapshot: "


class InvalidBackup(Invalid):
    prefix = "Invalid backup: "


class InvalidVolumeType(Invalid):
    prefix = "Invalid volume type: "


class InvalidAvailabilityZone(errors.BadRequest):
    def __init__(self, zone: object) -> None:
        super().__init__(f"Availability zone '{excerpt(zone)}' is invalid.")


class ResourceConflict(errors.Conflict):
    def __init__(self, reason: str) -> None:
        super().__init__(f"Resource conflict: {reason}")


def volume_not_found(volume_id: object) -> errors.NotFound:
    return errors.NotFound(f"Volume {excerpt(volume_id)} could not be found.")


def snapshot_not_found(snapshot_id: object) -> errors.NotFound:
    return errors.NotFound(f"Snapshot {excerpt(snapshot_id)} could not be found.")


def backup_not_found(backup_id: object) -> errors.NotFound:
    return errors.NotFound(f"Backup {excerpt(backup_id)} could not be found.")


def attachment_not_found(attachment_id: object) -> errors.NotFound:
    return errors.NotFound(f"Volume attachment could not be found with filter: "
                           f"attachment_id = {excerpt(attachment_id)}.")


def type_not_found(type_id: object) -> errors.NotFound:
    return errors.NotFound(f"Volume type {excerpt(type_id)} could not be found.")


def type_name_not_found(name: object) -> errors.NotFound:
    return errors.NotFound(f"Volume type with name {excerpt(name)} could not be found.")


def image_not_found(image_id: object) -> errors.NotFound:
    return errors.NotFound(f"Image {excerpt(image_id)} could not be found.")


def marker_not_found(marker: object) -> errors.NotFound:
    return errors.NotFound(f"Marker {excerpt(marker)} could not be found.")


def service_not_found(service_id: str, host: str | None = None) -> errors.NotFound:
    if host:
        return errors.NotFound(f"Service {excerpt(service_id)} could not be found on host "
                               f"{excerpt(host)}.")
    return errors.NotFound(f"Service {excerpt(service_id)} could not be found.")


def policy_denied(rule: str = "") -> errors.Forbidden:
    if rule:
        return errors.Forbidden(f"Policy doesn't allow {rule} to be performed.")
    return errors.Forbidden("Policy doesn't allow this operation to be performed.")


# -- quotas (413, Retry-After 0, as Cinder's QuotaError) ---------------------------------


class QuotaError(errors.PayloadTooLarge):
    """Quota exceeded."""


def size_exceeds_quota(*, name: str, requested: int, quota: int, consumed: int) -> QuotaError:
    return QuotaError(f"VolumeSizeExceedsAvailableQuota: Requested volume or snapshot exceeds "
                      f"allowed {name} quota. Requested {requested}G, quota is {quota}G and "
                      f"{consumed}G has been consumed.")


def size_exceeds_limit(*, size: int, limit: int) -> QuotaError:
    return QuotaError(f"VolumeSizeExceedsLimit: Requested volume size {size}G is larger than "
                      f"maximum allowed limit {limit}G.")


def backup_size_exceeds_quota(*, requested: int, quota: int, consumed: int) -> QuotaError:
    return QuotaError(f"VolumeBackupSizeExceedsAvailableQuota: Requested backup exceeds "
                      f"allowed Backup gigabytes quota. Requested {requested}G, quota is "
                      f"{quota}G and {consumed}G has been consumed.")


def volume_limit_exceeded(*, allowed: int, name: str = "volumes") -> QuotaError:
    return QuotaError(f"VolumeLimitExceeded: Maximum number of volumes allowed ({allowed}) "
                      f"exceeded for quota '{name}'.")


def snapshot_limit_exceeded(*, allowed: int) -> QuotaError:
    return QuotaError(f"SnapshotLimitExceeded: Maximum number of snapshots allowed "
                      f"({allowed}) exceeded")


def backup_limit_exceeded(*, allowed: int) -> QuotaError:
    return QuotaError(f"BackupLimitExceeded: Maximum number of backups allowed ({allowed}) "
                      f"exceeded")
