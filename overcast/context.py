"""The request context that travels with every message, call and log line."""
from __future__ import annotations

import contextvars
import dataclasses
import uuid
from typing import Any


def new_request_id() -> str:
    return f"req-{uuid.uuid4()}"


@dataclasses.dataclass(frozen=True)
class RequestContext:
    """Who asked, for which project, and the ids that let one request be followed.

    ``system_scope`` is ``"all"`` for a token scoped to the whole cloud (Keystone's system
    scope), which has no project: project-scoped APIs refuse it, identity serves it.
    """

    request_id: str = dataclasses.field(default_factory=new_request_id)
    user_id: str | None = None
    project_id: str | None = None
    domain_id: str | None = None
    roles: tuple[str, ...] = ()
    user_name: str | None = None
    project_name: str | None = None
    global_request_id: str | None = None
    system_scope: str | None = None

    @property
    def is_admin(self) -> bool:
        return "admin" in self.roles

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["roles"] = list(self.roles)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> RequestContext:
        if not data:
            return cls()
        known = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        values["roles"] = tuple(values.get("roles") or ())
        return cls(**values)

    @classmethod
    def admin(cls, *, request_id: str | None = None) -> RequestContext:
        """A context for a service acting on its own behalf (periodic tasks, recovery)."""
        return cls(request_id=request_id or new_request_id(), roles=("admin",),
                   user_name="overcast-system")


_current: contextvars.ContextVar[RequestContext | None] = contextvars.ContextVar(
    "overcast_request_context", default=None)


def current() -> RequestContext | None:
    return _current.get()


def bind(ctx: RequestContext | None) -> contextvars.Token:
    """Make ``ctx`` the context that logs of this task carry."""
    return _current.set(ctx)


def reset(token: contextvars.Token) -> None:
    _current.reset(token)
