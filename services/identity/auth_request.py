"""The body of POST /v3/auth/tokens, checked and turned into a typed request."""
from __future__ import annotations

import dataclasses
from typing import Any

from overcast.errors import BadRequest

SUPPORTED_METHODS = ("password", "token")


@dataclasses.dataclass(frozen=True)
class NamedRef:
    """An object named by id, or by name within a domain named by id or name."""

    id: str | None = None
    name: str | None = None
    domain_id: str | None = None
    domain_name: str | None = None


@dataclasses.dataclass(frozen=True)
class AuthRequest:
    """Who is authenticating, how, and for which scope.

    ``scope_kind`` is "project", "domain", "system" (the whole cloud, Keystone's
    ``{"system": {"all": true}}``), or None; ``explicit_unscoped`` is true when the caller
    asked for ``"scope": "unscoped"`` (no default project).
    """

    methods: tuple[str, ...]
    user: NamedRef | None = None
    password: str | None = None
    token: str | None = None
    scope_kind: str | None = None
    scope: NamedRef | None = None
    explicit_unscoped: bool = False


def _obj(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise BadRequest(f"Invalid input for field '{where}': must be an object.")
    return value


def _str(data: dict[str, Any], key: str, where: str) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise BadRequest(f"Invalid input for field '{where}.{key}': must be a non-empty "
                         "string.")
    return value


def _named(data: dict[str, Any], where: str, *, needs_domain: bool) -> NamedRef:
    ident = _str(data, "id", where)
    name = _str(data, "name", where)
    if ident is None and name is None:
        raise BadRequest(f"Expecting to find id or name in {where}.")
    domain_id = domain_name = None
    if ident is None and needs_domain:
        if "domain" not in data:
            raise BadRequest(f"Expecting to find domain in {where}.")
        domain = _obj(data["domain"], f"{where}.domain")
        domain_id = _str(domain, "id", f"{where}.domain")
        domain_name = _str(domain, "name", f"{where}.domain")
        if domain_id is None and domain_name is None:
            raise BadRequest(f"Expecting to find id or name in {where}.domain.")
    return NamedRef(id=ident, name=name, domain_id=domain_id, domain_name=domain_name)


def parse_auth_request(body: Any) -> AuthRequest:
    """The typed request in ``body``; ``BadRequest`` naming the first problem found."""
    auth = _obj(_obj(body, "body").get("auth"), "auth")
    identity = _obj(auth.get("identity"), "auth.identity")
    methods = identity.get("methods")
    if not isinstance(methods, list) or not methods or \
            not all(isinstance(m, str) for m in methods):
        raise BadRequest("Invalid input for field 'identity.methods': must be a non-empty "
                         "list of strings.")
    fields: dict[str, Any] = {"methods": tuple(dict.fromkeys(methods))}
    if "password" in methods:
        password = _obj(identity.get("password"), "identity.password")
        user = _obj(password.get("user"), "identity.password.user")
        fields["user"] = _named(user, "user", needs_domain=True)
        secret = user.get("password")
        if not isinstance(secret, str):
            raise BadRequest("Expecting to find password in user.")
        fields["password"] = secret
    if "token" in methods:
        token = _obj(identity.get("token"), "identity.token")
        fields["token"] = _str(token, "id", "token")
        if fields["token"] is None:
            raise BadRequest("Expecting to find id in token.")
    scope = auth.get("scope")
    if scope == "unscoped":
        fields["explicit_unscoped"] = True
    elif scope is not None:
        scope = _obj(scope, "auth.scope")
        kinds = [k for k in ("project", "domain", "system", "OS-TRUST:trust") if k in scope]
        if len(kinds) != 1:
            raise BadRequest("Specify exactly one of project or domain in scope.")
        kind = kinds[0]
        if kind == "OS-TRUST:trust":
            raise BadRequest(f"Scoping to {kind} is not supported.")
        fields["scope_kind"] = kind
        if kind == "system":
            if _obj(scope["system"], "scope.system").get("all") is not True:
                raise BadRequest("Invalid input for field 'scope.system': the only system "
                                 'scope is {"all": true}.')
        else:
            fields["scope"] = _named(_obj(scope[kind], f"scope.{kind}"), kind,
                                     needs_domain=kind == "project")
    return AuthRequest(**fields)
