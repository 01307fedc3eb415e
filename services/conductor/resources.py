"""Flavors, key pairs, quotas and server groups: the compute API's own records."""
from __future__ import annotations

import base64
import hashlib
import re
import uuid

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from overcast import errors
from overcast.context import RequestContext
from overcast.db import Database
from services.conductor.models import Flavor, Instance, KeyPair, QuotaLimit, ServerGroup

# DevStack's flavors.
DEFAULT_FLAVORS = [
    ("1", "m1.tiny", 1, 512, 1), ("2", "m1.small", 1, 2048, 20),
    ("3", "m1.medium", 2, 4096, 40), ("4", "m1.large", 4, 8192, 80),
    ("5", "m1.xlarge", 8, 16384, 160), ("42", "m1.nano", 1, 128, 1),
    ("84", "m1.micro", 1, 192, 1),
]

MAX_QUOTA_LIMIT = 2**31 - 1  # the largest limit a database integer holds, as Nova's db.MAX_INT

DEFAULT_QUOTAS = {"instances": 10, "cores": 20, "ram": 51200, "key_pairs": 100,
                  "metadata_items": 128, "server_groups": 10, "server_group_members": 10,
                  "injected_files": 5, "injected_file_content_bytes": 10240,
                  "injected_file_path_bytes": 255}

_KEYPAIR_NAME = re.compile(r"^[\w\-. @]{1,255}$")


def flavor_dict(f: Flavor) -> dict:
    return {"id": f.id, "name": f.name, "vcpus": f.vcpus, "ram": f.ram, "disk": f.disk,
            "ephemeral": f.ephemeral, "swap": f.swap, "rxtx_factor": f.rxtx_factor,
            "is_public": f.is_public, "disabled": f.disabled, "description": f.description,
            "extra_specs": dict(f.extra_specs or {})}


def keypair_dict(k: KeyPair) -> dict:
    return {"id": k.id, "name": k.name, "user_id": k.user_id, "public_key": k.public_key,
            "fingerprint": k.fingerprint, "type": k.type,
            "created_at": k.created_at.isoformat()}


def group_dict(g: ServerGroup, members: list[str]) -> dict:
    return {"id": g.id, "name": g.name, "policy": g.policy, "rules": dict(g.rules or {}),
            "project_id": g.project_id, "user_id": g.user_id, "members": members}


def _fingerprint(public_key: str) -> str:
    blob = base64.b64decode(public_key.split()[1])
    digest = hashlib.md5(blob, usedforsecurity=False).hexdigest()
    return ":".join(digest[i:i + 2] for i in range(0, len(digest), 2))


def generate_keypair() -> tuple[str, str]:
    """A new RSA key pair as (OpenSSH public key, PEM private key)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(serialization.Encoding.PEM,
                                serialization.PrivateFormat.TraditionalOpenSSL,
                                serialization.NoEncryption()).decode()
    public = key.public_key().public_bytes(serialization.Encoding.OpenSSH,
                                           serialization.PublicFormat.OpenSSH).decode()
    return public + " Generated-by-Overcast", private


class ComputeResources:
    """Records owned by the compute API: flavors, key pairs, quotas, server groups."""

    def __init__(self, db: Database) -> None:
        self.db = db
        # Read-mostly and written only here: kept in memory, dropped on every write.
        self._flavors: dict[str, dict] | None = None
        self._quotas: dict[str, dict[str, int]] = {}

    def _flavor_table(self) -> dict[str, dict]:
        if self._flavors is None:
            with self.db.session() as session:
                self._flavors = {f.id: flavor_dict(f) for f in session.scalars(select(Flavor))}
        return self._flavors

    def seed_flavors(self) -> None:
        with self.db.session() as session:
            for fid, name, vcpus, ram, disk in DEFAULT_FLAVORS:
                if session.get(Flavor, fid) is None:
                    session.add(Flavor(id=fid, name=name, vcpus=vcpus, ram=ram, disk=disk,
                                       extra_specs={}))

    # -- flavors -----------------------------------------------------------------------

    def list_flavors(self, ctx: RequestContext, *, is_public: bool | None = True) -> list[dict]:
        with self.db.session() as session:
            query = select(Flavor).order_by(Flavor.ram, Flavor.id)
            if is_public is not None and not ctx.is_admin:
                query = query.where(Flavor.is_public.is_(True))
            elif is_public is not None:
                query = query.where(Flavor.is_public.is_(is_public))
            return [flavor_dict(f) for f in session.scalars(query)]

    def get_flavor(self, ctx: RequestContext, flavor_id: str) -> dict:
        flavor = self._flavor_table().get(flavor_id)
        if flavor is None:
            raise errors.NotFound(f"Flavor {flavor_id} could not be found.")
        return dict(flavor)

    def get_flavor_for_boot(self, ctx: RequestContext, flavor_id: str) -> dict:
        """The flavor to boot with; a missing or disabled one is the caller's mistake (400)."""
        try:
            flavor = self.get_flavor(ctx, str(flavor_id))
        except errors.NotFound:
            raise errors.BadRequest(f"Flavor {flavor_id} could not be found.") from None
        if flavor["disabled"]:
            raise errors.BadRequest(f"Flavor {flavor_id} could not be found.")
        return flavor

    def create_flavor(self, ctx: RequestContext, *, flavor: dict) -> dict:
        self._flavors = None
        with self.db.session() as session:
            fid = str(flavor.get("id") or uuid.uuid4())
            if session.get(Flavor, fid) is not None or session.scalar(
                    select(Flavor).where(Flavor.name == flavor["name"])) is not None:
                raise errors.Conflict(f"Flavor with name {flavor['name']} already exists.")
            record = Flavor(id=fid, name=flavor["name"], vcpus=flavor["vcpus"],
                            ram=flavor["ram"], disk=flavor.get("disk", 0),
                            ephemeral=flavor.get("ephemeral", 0), swap=flavor.get("swap", 0),
                            rxtx_factor=flavor.get("rxtx_factor", 1.0),
                            is_public=flavor.get("is_public", True),
                            description=flavor.get("description"), extra_specs={})
            session.add(record)
            session.flush()
            return flavor_dict(record)

    def update_extra_specs(self, ctx: RequestContext, flavor_id: str, *,
                           set_specs: dict[str, str], remove: str | None = None) -> dict:
        """Merge ``set_specs`` (checked by ``flavor_specs.checked``) into the flavor's
        extra specs and drop ``remove``; the specs after. NotFound for either."""
        self._flavors = None
        with self.db.session() as session:
            flavor = session.get(Flavor, flavor_id)
            if flavor is None:
                raise errors.NotFound(f"Flavor {flavor_id} could not be found.")
            specs = {**(flavor.extra_specs or {}), **set_specs}
            if remove is not None and specs.pop(remove, None) is None:
                raise errors.NotFound(f"Flavor {flavor_id} has no extra specs with key "
                                      f"{remove}.")
            flavor.extra_specs = specs
            return dict(specs)

    def delete_flavor(self, ctx: RequestContext, flavor_id: str) -> None:
        self._flavors = None
        with self.db.session() as session:
            flavor = session.get(Flavor, flavor_id)
            if flavor is None:
                raise errors.NotFound(f"Flavor {flavor_id} could not be found.")
            session.delete(flavor)

    # -- key pairs ---------------------------------------------------------------------

    def create_keypair(self, ctx: RequestContext, *, name: str, public_key: str | None,
                       key_type: str = "ssh", user_id: str | None = None) -> dict:
        owner = user_id if (user_id and ctx.is_admin) else ctx.user_id
        if not _KEYPAIR_NAME.match(name or ""):
            raise errors.BadRequest("Keypair name contains unsafe characters or is too long")
        private_key = None
        if public_key is None:
            public_key, private_key = generate_keypair()
        else:
            try:
                serialization.load_ssh_public_key(public_key.encode())
            except (ValueError, IndexError, TypeError, UnsupportedAlgorithm):
                # UnsupportedAlgorithm: a key type cryptography does not know ("not a key")
                raise errors.BadRequest(
                    "Keypair data is invalid: failed to parse the key") from None
        with self.db.session() as session:
            exists = session.scalar(select(KeyPair).where(
                KeyPair.user_id == owner, KeyPair.name == name))
            if exists is not None:
                raise errors.Conflict(f"Key pair '{name}' already exists.")
            count = session.scalar(select(func.count()).select_from(KeyPair).where(
                KeyPair.user_id == owner))
            limit = self.quota_limits(ctx.project_id or "")["key_pairs"]
            if limit >= 0 and count >= limit:
                raise errors.QuotaExceeded("Quota exceeded, too many key pairs.")
            record = KeyPair(name=name, user_id=owner, public_key=public_key,
                             fingerprint=_fingerprint(public_key), type=key_type)
            session.add(record)
            session.flush()
            result = keypair_dict(record)
        if private_key:
            result["private_key"] = private_key
        return result

    def list_keypairs(self, ctx: RequestContext, *, user_id: str | None = None) -> list[dict]:
        owner = user_id if (user_id and ctx.is_admin) else ctx.user_id
        with self.db.session() as session:
            return [keypair_dict(k) for k in session.scalars(
                select(KeyPair).where(KeyPair.user_id == owner).order_by(KeyPair.name))]

    def get_keypair(self, ctx: RequestContext, name: str, *, user_id: str | None = None) -> dict:
        owner = user_id if (user_id and ctx.is_admin) else ctx.user_id
        with self.db.session() as session:
            record = session.scalar(select(KeyPair).where(
                KeyPair.user_id == owner, KeyPair.name == name))
            if record is None:
                raise errors.NotFound(f"Keypair {name} not found for user {owner}")
            return keypair_dict(record)

    def delete_keypair(self, ctx: RequestContext, name: str, *, user_id: str | None = None
                       ) -> None:
        owner = user_id if (user_id and ctx.is_admin) else ctx.user_id
        with self.db.session() as session:
            record = session.scalar(select(KeyPair).where(
                KeyPair.user_id == owner, KeyPair.name == name))
            if record is None:
                raise errors.NotFound(f"Keypair {name} not found for user {owner}")
            session.delete(record)

    # -- quotas ------------------------------------------------------------------------

    def quota_limits(self, project_id: str) -> dict[str, int]:
        if project_id not in self._quotas:
            limits = dict(DEFAULT_QUOTAS)
            with self.db.session() as session:
                for row in session.scalars(select(QuotaLimit).where(
                        QuotaLimit.project_id == project_id)):
                    limits[row.resource] = row.hard_limit
            self._quotas[project_id] = limits
        return dict(self._quotas[project_id])

    def update_quotas(self, ctx: RequestContext, project_id: str, values: dict[str, int]
                      ) -> dict[str, int]:
        unknown = set(values) - set(DEFAULT_QUOTAS)
        if unknown:
            raise errors.BadRequest(f"Invalid input for field/attribute quota_set. "
                                    f"Additional properties are not allowed: {sorted(unknown)}")
        for resource, limit in values.items():
            # Nova's schema: -1 (unlimited) up to the largest database integer; a bool is
            # not a number, and a bigger one would overflow the column.
            if (not isinstance(limit, int) or isinstance(limit, bool)
                    or not -1 <= limit <= MAX_QUOTA_LIMIT):
                raise errors.BadRequest(
                    f"Invalid input for field/attribute {resource}. Value: {limit!r}. "
                    f"must be an integer from -1 to {MAX_QUOTA_LIMIT}")
        self._quotas.pop(project_id, None)
        with self.db.session() as session:
            for resource, limit in values.items():
                session.merge(QuotaLimit(project_id=project_id, resource=resource,
                                         hard_limit=limit))
        return self.quota_limits(project_id)

    def server_group_count(self, project_id: str) -> int:
        with self.db.session() as session:
            return session.scalar(select(func.count()).select_from(ServerGroup).where(
                ServerGroup.project_id == project_id)) or 0

    def check_instance_quota(self, project_id: str, *, count: int, flavor: dict,
                             used: dict[str, int]) -> None:
        """Raise ``QuotaExceeded`` if ``count`` more instances of ``flavor`` do not fit."""
        limits = self.quota_limits(project_id)
        wanted = {"instances": count, "cores": count * flavor["vcpus"],
                  "ram": count * flavor["ram"]}
        for resource, amount in wanted.items():
            limit = limits[resource]
            if limit >= 0 and used[resource] + amount > limit:
                raise errors.QuotaExceeded(
                    f"Quota exceeded for {resource}: Requested {amount}, but already used "
                    f"{used[resource]} of {limit} {resource}")

    # -- server groups -----------------------------------------------------------------

    def create_group(self, ctx: RequestContext, *, name: str, policy: str,
                     rules: dict | None = None) -> dict:
        if policy not in ("affinity", "anti-affinity", "soft-affinity", "soft-anti-affinity"):
            raise errors.BadRequest(f"Invalid input for field/attribute policy: {policy!r}")
        limit = self.quota_limits(ctx.project_id or "")["server_groups"]
        if limit >= 0 and self.server_group_count(ctx.project_id or "") >= limit:
            raise errors.QuotaExceeded("Quota exceeded, too many server groups.")
        with self.db.session() as session:
            group = ServerGroup(name=name, policy=policy, rules=rules or {},
                                project_id=ctx.project_id, user_id=ctx.user_id)
            session.add(group)
            session.flush()
            return group_dict(group, [])

    def _group_members(self, session: Session, group_id: str) -> list[str]:
        return list(session.scalars(select(Instance.id).where(
            Instance.server_group_id == group_id, Instance.deleted.is_(False))))

    def get_group(self, ctx: RequestContext, group_id: str) -> dict:
        with self.db.session() as session:
            group = session.get(ServerGroup, group_id)
            if group is None or (not ctx.is_admin and group.project_id != ctx.project_id):
                raise errors.NotFound(f"Instance group {group_id} could not be found.")
            return group_dict(group, self._group_members(session, group_id))

    def list_groups(self, ctx: RequestContext, *, all_projects: bool = False) -> list[dict]:
        with self.db.session() as session:
            query = select(ServerGroup).order_by(ServerGroup.created_at)
            if not (all_projects and ctx.is_admin):
                query = query.where(ServerGroup.project_id == ctx.project_id)
            return [group_dict(g, self._group_members(session, g.id))
                    for g in session.scalars(query)]

    def delete_group(self, ctx: RequestContext, group_id: str) -> None:
        with self.db.session() as session:
            group = session.get(ServerGroup, group_id)
            if group is None or (not ctx.is_admin and group.project_id != ctx.project_id):
                raise errors.NotFound(f"Instance group {group_id} could not be found.")
            session.delete(group)
