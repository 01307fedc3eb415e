"""The identity manager: issues, checks and revokes tokens; owns the identity stores.

It imports no transport. The REST router (``api.py``) and the api process's token check
(``authenticate``) are its callers.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from overcast.context import RequestContext
from overcast.db import Database
from overcast.errors import Conflict, NotFound, Unauthorized
from services.identity.assignments import RoleStore
from services.identity.auth_request import SUPPORTED_METHODS, AuthRequest, NamedRef
from services.identity.catalog import CatalogStore
from services.identity.models import Domain, Project, Role, User
from services.identity.resources import ResourceStore
from services.identity.revocation import RevocationList
from services.identity.tokens import InvalidToken, TokenData, TokenSigner, new_audit_id
from services.identity.users import UserStore

logger = logging.getLogger(__name__)

AUTH_REQUIRED = "The request you have made requires authentication."
DEFAULT_DOMAIN_ID = "default"
BOOTSTRAP_ROLES = ("admin", "member", "reader")

T = TypeVar("T")


class IdentityManager:
    """Keystone's logic over one identity database.

    ``resources`` (domains, projects), ``users``, ``roles`` (roles and assignments),
    ``catalog`` and ``revocations`` are the stores the REST router uses directly (``db`` is
    the identity database they share); token
    issue, validation and revocation go through the methods here. ``clock`` (seconds since
    the epoch) exists so tests can move time.
    """

    def __init__(self, db: Database, *, key_dir: Path, token_ttl: int = 3600,
                 region: str = "RegionOne", clock: Callable[[], float] = time.time) -> None:
        self.db = db
        self.token_ttl = token_ttl
        self._clock = clock
        self.revocations = RevocationList(db, token_ttl=token_ttl, clock=clock)
        self.resources = ResourceStore(db, self.revocations)
        self.users = UserStore(db, self.revocations)
        self.roles = RoleStore(db, self.revocations)
        self.catalog = CatalogStore(db, region=region)
        self._signer = TokenSigner(Path(key_dir))

    # -- the api process's token check --------------------------------------------------

    def authenticate(self, token: str, *, request_id: str) -> RequestContext:
        """The context of a valid, unexpired, unrevoked token; ``Unauthorized`` otherwise."""
        try:
            data = self._signer.verify(token, now=self._clock())
        except InvalidToken:
            raise Unauthorized(AUTH_REQUIRED) from None
        if self.revocations.is_revoked(data):
            raise Unauthorized(AUTH_REQUIRED)
        return RequestContext(
            request_id=request_id, user_id=data.user_id, project_id=data.project_id,
            domain_id=data.domain_id or data.project_domain_id, roles=data.role_names,
            user_name=data.user_name, project_name=data.project_name,
            system_scope="all" if data.system_all else None)

    # -- tokens -------------------------------------------------------------------------

    def issue_token(self, request: AuthRequest) -> tuple[str, TokenData]:
        """A new token for the authenticated user and requested scope.

        ``Unauthorized`` for wrong credentials, an unsupported method, a disabled user,
        project or domain, or a scope on which the user holds no role.
        """
        unsupported = [m for m in request.methods if m not in SUPPORTED_METHODS]
        if unsupported:
            raise Unauthorized("Attempted to authenticate with an unsupported method.")
        parent: TokenData | None = None
        if request.token is not None:
            parent = self._verified(request.token, error=Unauthorized(AUTH_REQUIRED))
        if request.user is not None:
            user = self._password_user(request.user, request.password or "")
            if parent is not None and parent.user_id != user.id:
                raise Unauthorized(AUTH_REQUIRED)
        elif parent is not None:
            user = self._enabled_user(parent.user_id)
        else:
            raise Unauthorized(AUTH_REQUIRED)

        project, domain, roles = self._scope(user, request)
        system_all = request.scope_kind == "system"
        now = self._clock()
        expires = now + self.token_ttl
        methods = request.methods
        audit_ids: tuple[str, ...] = (new_audit_id(),)
        if parent is not None:
            # A rescoped token lives no longer than its parent and shares its audit chain.
            expires = min(expires, parent.expires_at)
            methods = tuple(dict.fromkeys(methods + parent.methods))
            audit_ids += (parent.audit_ids[-1],)
        data = TokenData(
            user_id=user.id, user_name=user.name, user_domain_id=user.domain_id,
            methods=methods, issued_at=now, expires_at=expires, audit_ids=audit_ids,
            project_id=project.id if project else None,
            project_name=project.name if project else None,
            project_domain_id=project.domain_id if project else None,
            domain_id=domain.id if domain else None,
            roles=tuple((r.id, r.name) for r in roles), system_all=system_all)
        logger.info("issued token for user %s project %s domain %s system %s", user.id,
                    data.project_id, data.domain_id, system_all)
        return self._signer.issue(data), data

    def validate_token(self, token: str) -> TokenData:
        """What a valid token says, checked against the current state of its user and
        project; ``NotFound`` if it is invalid, expired, revoked or no longer usable."""
        data = self._verified(token, error=NotFound("Could not find token."))
        try:
            self._enabled_user(data.user_id)
            if data.project_id is not None:
                self._enabled_project(data.project_id)
            if data.domain_id is not None:
                self._enabled_domain(data.domain_id)
        except Unauthorized:
            raise NotFound("Could not find token.") from None
        return data

    def revoke_token(self, token: str) -> TokenData:
        """Revoke a valid token (and the tokens rescoped from it); ``NotFound`` if it is not
        valid."""
        data = self._verified(token, error=NotFound("Could not find token."))
        self.revocations.revoke_token(data)
        self._signer.forget(token)
        logger.info("revoked a token of user %s", data.user_id)
        return data

    def _verified(self, token: str, *, error: Exception) -> TokenData:
        try:
            data = self._signer.verify(token, now=self._clock())
        except InvalidToken:
            raise error from None
        if self.revocations.is_revoked(data):
            raise error
        return data

    # -- authentication and scope -------------------------------------------------------

    def _password_user(self, ref: NamedRef, password: str) -> User:
        user: User | None = None
        try:
            if ref.id is not None:
                user = self.users.get_user(ref.id)
            else:
                domain = self.resources.find_domain(domain_id=ref.domain_id,
                                                    name=ref.domain_name)
                user = self.users.find_user(name=ref.name or "", domain_id=domain.id)
        except NotFound:
            user = None
        if not self.users.check_password(user, password) or user is None:
            raise Unauthorized(AUTH_REQUIRED)
        return self._enabled_user(user.id)

    def _enabled_user(self, user_id: str) -> User:
        try:
            user = self.users.get_user(user_id)
        except NotFound:
            raise Unauthorized(AUTH_REQUIRED) from None
        if not user.enabled:
            raise Unauthorized(f"User {user.id} is disabled.")
        self._enabled_domain(user.domain_id)
        return user

    def _enabled_domain(self, domain_id: str) -> Domain:
        try:
            domain = self.resources.get_domain(domain_id)
        except NotFound:
            raise Unauthorized(f"Could not find domain: {domain_id}.") from None
        if not domain.enabled:
            raise Unauthorized(f"Domain {domain_id} is disabled.")
        return domain

    def _enabled_project(self, project_id: str) -> Project:
        try:
            project = self.resources.get_project(project_id)
        except NotFound:
            raise Unauthorized(f"Could not find project: {project_id}.") from None
        if not project.enabled:
            raise Unauthorized(f"Project {project_id} is disabled.")
        self._enabled_domain(project.domain_id)
        return project

    def _scope(self, user: User, request: AuthRequest
               ) -> tuple[Project | None, Domain | None, list[Role]]:
        """The project or domain the token is for (neither for the system), and the user's
        roles there.

        Overcast has no domain-level role assignments: a domain-scoped token carries the
        roles the user holds on the projects of that domain.
        """
        if request.scope_kind == "system":
            roles = self.roles.roles_on_system(user_id=user.id)
            if not roles:
                raise Unauthorized(f"User {user.id} has no access to the system.")
            return None, None, roles
        ref = request.scope
        if request.scope_kind == "project" and ref is not None:
            project = self._find_project(ref)
            roles = self.roles.roles_on_project(user_id=user.id, project_id=project.id)
            if not roles:
                raise Unauthorized(f"User {user.id} has no access to project {project.id}.")
            return project, None, roles
        if request.scope_kind == "domain" and ref is not None:
            domain = self._find_domain(ref.id, ref.name)
            roles = self.roles.roles_in_domain(user_id=user.id, domain_id=domain.id)
            if not roles:
                raise Unauthorized(f"User {user.id} has no access to domain {domain.id}.")
            return None, domain, roles
        if user.default_project_id and not request.explicit_unscoped:
            # Keystone scopes to the default project when it can, and quietly issues an
            # unscoped token when it cannot.
            try:
                project = self._enabled_project(user.default_project_id)
            except Unauthorized:
                return None, None, []
            roles = self.roles.roles_on_project(user_id=user.id, project_id=project.id)
            if roles:
                return project, None, roles
        return None, None, []

    def _find_domain(self, domain_id: str | None, name: str | None) -> Domain:
        try:
            domain = self.resources.find_domain(domain_id=domain_id, name=name)
        except NotFound as exc:
            raise Unauthorized(exc.message) from None
        return self._enabled_domain(domain.id)

    def _find_project(self, ref: NamedRef) -> Project:
        try:
            if ref.id is not None:
                project = self.resources.get_project(ref.id)
            else:
                domain = self._find_domain(ref.domain_id, ref.domain_name)
                project = self.resources.find_project(name=ref.name or "", domain_id=domain.id)
        except NotFound as exc:
            raise Unauthorized(exc.message) from None
        return self._enabled_project(project.id)

    # -- what a user may see ------------------------------------------------------------

    def projects_for_user(self, user_id: str) -> list[Project]:
        """The enabled projects, in enabled domains, on which the user holds a role."""
        ids = self.roles.project_ids_for_user(user_id)
        enabled_domains = {d.id for d in self.resources.list_domains(enabled=True)}
        return [p for p in self.resources.list_projects(ids=ids, enabled=True)
                if p.domain_id in enabled_domains]

    def has_system_access(self, user_id: str) -> bool:
        """Whether the user may scope a token to the system."""
        return bool(self.roles.roles_on_system(user_id=user_id))

    def domains_for_user(self, user_id: str) -> list[Domain]:
        """The enabled domains the user could scope a token to."""
        domain_ids = {p.domain_id for p in self.projects_for_user(user_id)}
        return self.resources.list_domains(ids=domain_ids, enabled=True)

    # -- setup --------------------------------------------------------------------------

    def register_endpoint(self, service_type: str, url: str) -> None:
        """Publish ``url`` as every interface of ``service_type`` in the catalog."""
        self.catalog.register_endpoint(service_type, url)

    def bootstrap(self, *, admin_password: str, demo_password: str,
                  endpoints: dict[str, str]) -> None:
        """Make sure the default domain, the admin and demo projects and users, the admin,
        member and reader roles, their assignments (and, as ``keystone-manage bootstrap``
        gives, the admin role on the system to the admin user) and the catalog exist.

        Safe to run on every start, by several processes at once: existing records are kept,
        endpoint URLs and the admin and demo passwords are brought up to date.
        """
        domain = _ensure(lambda: self.resources.get_domain(DEFAULT_DOMAIN_ID),
                         lambda: self.resources.create_domain(
                             name="Default", domain_id=DEFAULT_DOMAIN_ID,
                             description="The default domain"))
        roles = {name: _ensure(lambda n=name: self.roles.find_role(n),
                               lambda n=name: self.roles.create_role(name=n))
                 for name in BOOTSTRAP_ROLES}
        for name, password, granted in (("admin", admin_password, BOOTSTRAP_ROLES),
                                        ("demo", demo_password, ("member", "reader"))):
            project = _ensure(
                lambda n=name: self.resources.find_project(name=n, domain_id=domain.id),
                lambda n=name: self.resources.create_project(
                    name=n, domain_id=domain.id, description=f"Bootstrap project {n}"))
            user = _ensure(
                lambda n=name: self.users.find_user(name=n, domain_id=domain.id),
                lambda n=name, p=password: self.users.create_user(
                    name=n, domain_id=domain.id, password=p))
            if self.users.set_password_if_changed(user.id, password):
                logger.info("bootstrap: updated the password of user %s", name)
            for role_name in granted:
                self.roles.grant(user_id=user.id, project_id=project.id,
                                 role_id=roles[role_name].id)
            if name == "admin":
                self.roles.grant_system(user_id=user.id, role_id=roles["admin"].id)
        for service_type, url in endpoints.items():
            self.register_endpoint(service_type, url)
        logger.info("identity bootstrap done")


def _ensure(find: Callable[[], T], create: Callable[[], T]) -> T:
    """``find()``; if that is ``NotFound``, ``create()``; if another process created it
    meanwhile (``Conflict``), ``find()`` again."""
    try:
        return find()
    except NotFound:
        pass
    try:
        return create()
    except Conflict:
        return find()
