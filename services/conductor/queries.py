"""Read queries: servers as the API shows them, instance history and migrations.

Reads of live instances come from the store's in-memory copy; only the history of deleted
instances and the migration records need the database.
"""
from __future__ import annotations

from typing import Any

import re2
from sqlalchemy.orm import Session

from overcast import errors
from overcast.context import RequestContext
from overcast.db import Database
from services.conductor import actions, migrations, states
from services.conductor.instances import InstanceStore
from services.conductor.models import Instance

MAX_NAME_PATTERN = 255  # as long as a server name may be

_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False  # a bad pattern is the caller's 400, not a log line


def name_pattern(expression: str) -> Any:  # a compiled RE2 pattern
    """Nova's ``?name=`` regular expression, compiled for RE2, which matches in time linear in
    the name (no backtracking), so no pattern can stall the conductor; 400 if it is too long
    or not one RE2 takes (RE2 has no backreferences or lookarounds)."""
    if len(expression) > MAX_NAME_PATTERN:
        raise errors.BadRequest(f"The name filter is longer than {MAX_NAME_PATTERN} "
                                "characters.")
    try:
        return re2.compile(expression, options=_RE2_OPTIONS)
    except re2.error:
        raise errors.BadRequest(
            f"Invalid regular expression {expression[:60]!r}") from None


class Queries:
    def __init__(self, db: Database, *, store: InstanceStore) -> None:
        self.db = db
        self.store = store

    def visible(self, ctx: RequestContext, instance_id: str) -> dict:
        """The live instance if ``ctx`` may see it; ``NotFound`` otherwise."""
        inst = self.store.get(instance_id)
        if inst is None or (not ctx.is_admin and inst["project_id"] != ctx.project_id):
            raise errors.NotFound(f"Instance {instance_id} could not be found.")
        return inst

    def get_server(self, ctx: RequestContext, instance_id: str) -> dict:
        self.visible(ctx, instance_id)
        return self.store.get_public(instance_id)

    def instances_on_host(self, host: str) -> list[str]:
        """The instances that should be on ``host``: not those being evacuated from it, and
        also those moved away from it whose move is not confirmed yet (it keeps their guest,
        stopped, for a revert)."""
        return [i["id"] for i in self.store.live()
                if (i["host"] == host and not (i["task_state"] == states.REBUILDING
                                               and i["tried_hosts"][:1] == [host]))
                or i.get("move_source") == host]

    def placements_on_host(self, host: str) -> list[dict]:
        """As ``instances_on_host``, each as ``{"id", "running"}``: ``running`` is True when
        the conductor wants its guest running (a host starts those after its restart)."""
        wanted = {i["id"]: i for i in self.store.live()}
        return [{"id": instance_id, "running": wanted[instance_id]["host"] == host
                 and _wants_running(wanted[instance_id])}
                for instance_id in self.instances_on_host(host)]

    def list_servers(self, ctx: RequestContext, *, filters: dict) -> list[dict]:
        """Servers visible to ``ctx``, newest first, with Nova's common filters."""
        if not (ctx.is_admin and filters.get("all_tenants")):
            wanted = {"project_id": ctx.project_id}
        else:
            wanted = {"project_id": filters.get("project_id")}
        if ctx.is_admin:
            wanted["host"] = filters.get("host")
        wanted["image_ref"] = filters.get("image")
        wanted["availability_zone"] = filters.get("availability_zone")
        wanted = {k: v for k, v in wanted.items() if v}
        vm_states = (states.vm_states_for_status(filters["status"])
                     if filters.get("status") else None)
        result = [i for i in self.store.live_public()
                  if all(i[k] == v for k, v in wanted.items())
                  and (vm_states is None or i["vm_state"] in vm_states)]
        result.sort(key=lambda i: (i["created_at"], i["id"]), reverse=True)
        if filters.get("name"):
            pattern = name_pattern(filters["name"])
            result = [s for s in result if pattern.search(s["name"])]
        if filters.get("flavor"):
            result = [s for s in result if s["flavor"]["id"] == filters["flavor"]]
        if filters.get("marker"):
            ids = [s["id"] for s in result]
            if filters["marker"] not in ids:
                raise errors.BadRequest(f"marker [{filters['marker']}] not found")
            result = result[ids.index(filters["marker"]) + 1:]
        if filters.get("limit") is not None:
            result = result[:int(filters["limit"])]
        return result

    def list_actions(self, ctx: RequestContext, *, instance_id: str) -> list[dict]:
        with self.db.session() as session:
            self._load_any(session, ctx, instance_id)
            return actions.list_actions(session, instance_id)

    def get_action(self, ctx: RequestContext, *, instance_id: str, request_id: str) -> dict:
        with self.db.session() as session:
            self._load_any(session, ctx, instance_id)
            return actions.get_action(session, instance_id, request_id)

    def list_migrations(self, *, filters: dict) -> list[dict]:
        with self.db.session() as session:
            return migrations.list_migrations(session, filters=filters)

    def _load_any(self, session: Session, ctx: RequestContext, instance_id: str) -> Instance:
        """Like ``visible`` but deleted instances count too (their history stays readable)."""
        inst = session.get(Instance, instance_id)
        if inst is None or (not ctx.is_admin and inst.project_id != ctx.project_id):
            raise errors.NotFound(f"Instance {instance_id} could not be found.")
        return inst


def _wants_running(inst: dict) -> bool:
    return inst["vm_state"] in (states.ACTIVE, states.RESCUED, states.RESIZED) \
        and inst["task_state"] != states.POWERING_OFF
