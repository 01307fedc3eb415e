"""Keystone's default (2023+) read policies for roles and domains, over a request context.

Keystone lets these through for an admin (any scope), a reader on the system (a token scoped
to ``system: all``), and the narrower cases below. The names are Keystone's policy names, and
a refusal says which one refused, as Keystone's ``ForbiddenAction`` does.
"""
from __future__ import annotations

from overcast.context import RequestContext
from overcast.errors import Forbidden

# Keystone's implied roles (admin -> manager -> member -> reader): any of these reads.
_READER_ROLES = frozenset({"admin", "manager", "member", "reader"})
# The roles a domain manager may see and hand out (DOMAIN_MANAGER_ALLOWED_ROLES).
DOMAIN_MANAGED_ROLES = frozenset({"manager", "member", "reader"})


def denied(action: str) -> Forbidden:
    """The 403 Keystone answers when the policy ``identity:<action>`` refuses the caller."""
    return Forbidden(f"You are not authorized to perform the requested action: "
                     f"identity:{action}.")


def _domain_scoped(ctx: RequestContext) -> bool:
    return ctx.project_id is None and ctx.domain_id is not None


def _is_reader(ctx: RequestContext) -> bool:
    return not _READER_ROLES.isdisjoint(ctx.roles)


def _admin_or_system_reader(ctx: RequestContext) -> bool:
    """Keystone's ``rule:admin_required or (role:reader and system_scope:all)``."""
    return ctx.is_admin or (ctx.system_scope == "all" and _is_reader(ctx))


def enforce_list_roles(ctx: RequestContext) -> None:
    """``identity:list_roles``: an admin, a system reader, or a manager holding a
    domain-scoped token."""
    if _admin_or_system_reader(ctx) or ("manager" in ctx.roles and _domain_scoped(ctx)):
        return
    raise denied("list_roles")


def enforce_get_role(ctx: RequestContext, role_name: str | None) -> None:
    """``identity:get_role``: an admin, a system reader, or a manager asking about a role a
    domain manager may assign (``role_name`` None when the role does not exist: refused all
    the same, so that a refusal does not tell which roles exist)."""
    if _admin_or_system_reader(ctx) or (
            "manager" in ctx.roles and role_name in DOMAIN_MANAGED_ROLES):
        return
    raise denied("get_role")


def domains_visible_in_list(ctx: RequestContext) -> str | None:
    """``identity:list_domains``: None when the caller may list every domain (an admin or
    a system reader), else the one domain a reader's domain-scoped token may list;
    ``Forbidden`` otherwise (a project-scoped or unscoped member, as in Keystone)."""
    if _admin_or_system_reader(ctx):
        return None
    if _domain_scoped(ctx) and _is_reader(ctx):
        return ctx.domain_id
    raise denied("list_domains")


def enforce_get_domain(ctx: RequestContext, domain_id: str) -> None:
    """``identity:get_domain``: an admin, a system reader, or a token scoped to that domain
    or to a project in it (the context's ``domain_id`` is the project's domain for a project
    token)."""
    if _admin_or_system_reader(ctx) or (ctx.domain_id is not None and ctx.domain_id == domain_id):
        return
    raise denied("get_domain")
