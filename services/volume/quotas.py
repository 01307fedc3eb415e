"""Per-project quotas, with Cinder's resource names and messages.

Resources (``cinder/quota.py``): ``volumes``, ``gigabytes`` (volumes and snapshots),
``snapshots``, ``backups``, ``backup_gigabytes``, ``per_volume_gigabytes`` (a limit on one
volume's size, not a usage), ``groups`` (counted, never used here), and for every volume type
``volumes_<type>``, ``gigabytes_<type>`` and ``snapshots_<type>`` (unlimited by default).
-1 is unlimited.

Usage is counted from the rows that exist, inside the same session as the write it guards;
the service's writes all run on one event loop without awaiting inside a session, so a check
and the insert it allows cannot interleave with another request's.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from overcast import errors
from overcast.errors import excerpt
from services.volume import faults
from services.volume.models import Backup, Quota, QuotaClass, Snapshot, Volume, VolumeType

UNLIMITED = -1
DEFAULT_CLASS = "default"
TYPE_RESOURCES = ("volumes", "gigabytes", "snapshots")


@dataclasses.dataclass(frozen=True, kw_only=True)
class QuotaDefaults:
    """The limits of a project that has none of its own (Cinder's ``quota_*`` options)."""

    volumes: int = 10
    gigabytes: int = 1000
    snapshots: int = 10
    backups: int = 10
    backup_gigabytes: int = 1000
    per_volume_gigabytes: int = -1
    groups: int = 10

    def as_dict(self) -> dict[str, int]:
        return dataclasses.asdict(self)


class Quotas:
    def __init__(self, defaults: QuotaDefaults) -> None:
        self.defaults = defaults

    # -- reading ---------------------------------------------------------------------------

    def resource_names(self, session: Session) -> list[str]:
        names = list(self.defaults.as_dict())
        for type_name in session.scalars(select(VolumeType.name).order_by(VolumeType.name)):
            names += [f"{part}_{type_name}" for part in TYPE_RESOURCES]
        return names

    def default_limits(self, session: Session) -> dict[str, int]:
        """Every project's defaults: the ``default`` quota class's limits where it has
        them, else the configuration's (per-type resources: unlimited)."""
        return self.class_limits(session, DEFAULT_CLASS)

    def class_limits(self, session: Session, class_name: str) -> dict[str, int]:
        """A quota class's limits: its own where set, else the configuration's defaults
        (Cinder's get_class_quotas)."""
        base = self.defaults.as_dict()
        limits = {name: base.get(name, UNLIMITED) for name in self.resource_names(session)}
        for row in session.scalars(select(QuotaClass).where(
                QuotaClass.class_name == class_name)):
            if row.resource in limits:
                limits[row.resource] = row.hard_limit
        return limits

    def limits(self, session: Session, project_id: str) -> dict[str, int]:
        """The project's limit for every resource: its own where set, else the default."""
        limits = self.default_limits(session)
        for row in session.scalars(select(Quota).where(Quota.project_id == project_id)):
            if row.resource in limits:
                limits[row.resource] = row.hard_limit
        return limits

    def usage(self, session: Session, project_id: str) -> dict[str, int]:
        """What the project uses of every resource now."""
        used = dict.fromkeys(self.resource_names(session), 0)
        type_names = dict(session.execute(select(VolumeType.id, VolumeType.name)).all())
        for type_id, count, size in session.execute(
                select(Volume.volume_type_id, func.count(), func.sum(Volume.size))
                .where(Volume.project_id == project_id).group_by(Volume.volume_type_id)):
            used["volumes"] += count
            used["gigabytes"] += size or 0
            if type_id in type_names:
                used[f"volumes_{type_names[type_id]}"] += count
                used[f"gigabytes_{type_names[type_id]}"] += size or 0
        for type_id, count, size in session.execute(
                select(Snapshot.volume_type_id, func.count(), func.sum(Snapshot.volume_size))
                .where(Snapshot.project_id == project_id).group_by(Snapshot.volume_type_id)):
            used["snapshots"] += count
            used["gigabytes"] += size or 0
            if type_id in type_names:
                used[f"snapshots_{type_names[type_id]}"] += count
                used[f"gigabytes_{type_names[type_id]}"] += size or 0
        count, size = session.execute(
            select(func.count(), func.sum(Backup.size)).where(
                Backup.project_id == project_id)).one()
        used["backups"] = count
        used["backup_gigabytes"] = size or 0
        used["per_volume_gigabytes"] = 0
        return used

    def quota_set(self, session: Session, project_id: str, *, usage: bool = False
                  ) -> dict[str, object]:
        """Cinder's quota set: ``{resource: limit}``, or with ``usage`` ``{resource:
        {"limit", "in_use", "reserved"}}`` (nothing is ever held in reserve here)."""
        limits = self.limits(session, project_id)
        if not usage:
            return dict(limits)
        used = self.usage(session, project_id)
        return {name: {"limit": limit, "in_use": used.get(name, 0), "reserved": 0}
                for name, limit in limits.items()}

    # -- enforcing -------------------------------------------------------------------------

    def check(self, session: Session, project_id: str, deltas: Mapping[str, int], *,
              kind: str, size: int = 0) -> None:
        """Raise Cinder's quota error when adding ``deltas`` would pass a limit.

        ``kind`` is what is being made (``volumes``, ``snapshots``, ``backups``), which
        picks the error for a count; ``size`` (GiB) is what the messages quote. A new
        volume's size is checked against ``per_volume_gigabytes`` first, as Cinder does."""
        limits = self.limits(session, project_id)
        if kind == "volumes" and "gigabytes" in deltas:
            ceiling = limits.get("per_volume_gigabytes", UNLIMITED)
            if ceiling != UNLIMITED and size > ceiling:
                raise faults.size_exceeds_limit(size=size, limit=ceiling)
        used = self.usage(session, project_id)
        for name, delta in deltas.items():
            limit = limits.get(name, UNLIMITED)
            if delta <= 0 or limit == UNLIMITED or used.get(name, 0) + delta <= limit:
                continue
            if "gigabytes" in name:
                if kind == "backups":
                    raise faults.backup_size_exceeds_quota(
                        requested=size, quota=limit, consumed=used.get(name, 0))
                raise faults.size_exceeds_quota(name=name, requested=size, quota=limit,
                                                consumed=used.get(name, 0))
            if kind == "volumes":
                raise faults.volume_limit_exceeded(allowed=limit, name=name)
            if kind == "snapshots":
                raise faults.snapshot_limit_exceeded(allowed=limit)
            raise faults.backup_limit_exceeded(allowed=limit)

    @staticmethod
    def volume_deltas(type_name: str, size: int, *, count: int = 1) -> dict[str, int]:
        deltas = {"volumes": count, "gigabytes": size}
        if count:
            deltas[f"volumes_{type_name}"] = count
        deltas[f"gigabytes_{type_name}"] = size
        return deltas

    @staticmethod
    def snapshot_deltas(type_name: str, size: int) -> dict[str, int]:
        return {"snapshots": 1, "gigabytes": size, f"snapshots_{type_name}": 1,
                f"gigabytes_{type_name}": size}

    # -- administering ---------------------------------------------------------------------

    def update(self, session: Session, project_id: str, values: Mapping[str, object]
               ) -> dict[str, int]:
        """Set the project's own limits (Cinder's quota-set update): every value a whole
        number from -1 up and, except for ``per_volume_gigabytes``, not below what the
        project uses now. Nothing is written unless every value is good."""
        known = set(self.resource_names(session))
        used = self.usage(session, project_id)
        checked: dict[str, int] = {}
        for key, raw in values.items():
            if key not in known:
                raise errors.BadRequest(f"Bad key(s) {excerpt(key)} in quota_set")
            limit = _whole(key, raw)
            if key != "per_volume_gigabytes" and limit != UNLIMITED and limit < used.get(key, 0):
                raise errors.BadRequest(
                    f"Quota {key} limit must be equal or greater than existing resources. "
                    f"Current usage is {used.get(key, 0)} and the requested limit is "
                    f"{limit}.")
            checked[key] = limit
        for key, limit in checked.items():
            row = session.scalar(select(Quota).where(Quota.project_id == project_id,
                                                     Quota.resource == key))
            if row is None:
                session.add(Quota(project_id=project_id, resource=key, hard_limit=limit))
            else:
                row.hard_limit = limit
        session.flush()
        return self.limits(session, project_id)

    def update_class(self, session: Session, class_name: str, values: Mapping[str, object]
                     ) -> dict[str, int]:
        """Set a quota class's limits (Cinder's quota-class-set update): known resources
        only, whole numbers from -1. Nothing is written unless every value is good."""
        if not isinstance(class_name, str) or not 0 < len(class_name) <= 255:
            raise errors.BadRequest("quota_class_name has to be a string of 1 to 255 "
                                    "characters.")
        known = set(self.resource_names(session))
        checked: dict[str, int] = {}
        for key, raw in values.items():
            if key not in known:
                raise errors.BadRequest(f"Bad key(s) {excerpt(key)} in quota_class_set")
            checked[key] = _whole(key, raw)
        for key, limit in checked.items():
            row = session.scalar(select(QuotaClass).where(QuotaClass.class_name == class_name,
                                                          QuotaClass.resource == key))
            if row is None:
                session.add(QuotaClass(class_name=class_name, resource=key, hard_limit=limit))
            else:
                row.hard_limit = limit
        session.flush()
        return self.class_limits(session, class_name)

    @staticmethod
    def reset(session: Session, project_id: str) -> None:
        """Forget the project's own limits: the defaults apply again."""
        session.execute(delete(Quota).where(Quota.project_id == project_id))

    @staticmethod
    def rename_type(session: Session, old: str, new: str) -> None:
        """A volume type was renamed: its per-type limits follow it."""
        for part in TYPE_RESOURCES:
            for row in session.scalars(select(Quota).where(Quota.resource == f"{part}_{old}")):
                row.resource = f"{part}_{new}"
            for kept in session.scalars(select(QuotaClass).where(
                    QuotaClass.resource == f"{part}_{old}")):
                kept.resource = f"{part}_{new}"

    @staticmethod
    def forget_type(session: Session, name: str) -> None:
        session.execute(delete(Quota).where(
            Quota.resource.in_([f"{part}_{name}" for part in TYPE_RESOURCES])))
        session.execute(delete(QuotaClass).where(
            QuotaClass.resource.in_([f"{part}_{name}" for part in TYPE_RESOURCES])))


def _whole(key: str, raw: object) -> int:
    """A limit as Cinder's quota-set schema takes it: an integer (or its string) >= -1."""
    value: int | None = None
    if isinstance(raw, int) and not isinstance(raw, bool):
        value = raw
    elif isinstance(raw, str) and raw.strip().lstrip("-").isdigit() and len(raw) < 19:
        value = int(raw)
    if value is None:
        raise errors.BadRequest(f"Invalid input for field/attribute {key}. Value: "
                                f"{excerpt(raw)}. {excerpt(raw)} is not of type 'integer'")
    if value < UNLIMITED or value > 2**31 - 1:
        raise errors.BadRequest(f"Invalid input for field/attribute {key}. Value: {value}. "
                                f"{value} is less than the minimum of -1"
                                if value < UNLIMITED else
                                f"Invalid input for field/attribute {key}. Value: {value}. "
                                f"{value} is greater than the maximum of 2147483647")
    return value
