"""Keystone validation over HTTP: what a token's validation gives, what is asked of Keystone
and when, and how a REST edge answers with it."""
from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import APIRouter

from overcast import errors
from overcast.keystone import KeystoneValidator, RevocationEvent
from overcast.keystone.validator import identity_from_token
from overcast.rest.app import rest_app
from overcast.rest.auth import AnyScopeContext, Context

USER = {"id": "uid", "name": "alice", "domain": {"id": "default", "name": "Default"}}
PROJECT_TOKEN = {
    "methods": ["password"], "user": USER, "audit_ids": ["aud1"],
    "expires_at": "2099-01-01T00:00:00.000000Z", "issued_at": "2026-01-01T00:00:00.000000Z",
    "project": {"id": "pid", "name": "team", "domain": {"id": "dom", "name": "Dom"}},
    "roles": [{"id": "r1", "name": "member"}, {"id": "r2", "name": "reader"}]}
UNSCOPED = {k: v for k, v in PROJECT_TOKEN.items() if k not in ("project", "roles")}
DOMAIN_TOKEN = UNSCOPED | {"domain": {"id": "dom", "name": "Dom"},
                           "roles": [{"id": "r0", "name": "admin"}]}
SYSTEM_TOKEN = UNSCOPED | {"system": {"all": True}, "roles": [{"id": "r0", "name": "admin"}]}


class Keystone:
    """A Keystone answering ``GET /v3/auth/tokens`` from a dict of tokens, counting asks."""

    def __init__(self, tokens: dict[str, dict] | None = None, *, status: int | None = None,
                 body: bytes | None = None) -> None:
        self.tokens = tokens or {}
        self.status = status
        self.body = body
        self.asked: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.asked.append(request)
        if self.status is not None:
            return httpx.Response(self.status, content=self.body or b"{}")
        subject = self.tokens.get(request.headers.get("x-subject-token", ""))
        if subject is None or request.headers.get("x-auth-token") not in self.tokens:
            return httpx.Response(404, json={"error": {"code": 404, "message": "no"}})
        return httpx.Response(200, content=json.dumps({"token": subject}))

    def validator(self, **kwargs) -> KeystoneValidator:
        return KeystoneValidator("http://keystone:8770/identity/",
                                 transport=httpx.MockTransport(self), **kwargs)


async def test_project_token_gives_user_project_roles_and_names():
    keystone = Keystone({"tok": PROJECT_TOKEN})
    ctx = await keystone.validator().authenticate("tok", request_id="req-1")
    assert (ctx.request_id, ctx.user_id, ctx.user_name) == ("req-1", "uid", "alice")
    assert (ctx.project_id, ctx.project_name, ctx.domain_id) == ("pid", "team", "dom")
    assert ctx.roles == ("member", "reader") and ctx.system_scope is None
    [request] = keystone.asked
    assert request.url.path == "/identity/v3/auth/tokens"
    assert request.headers["x-auth-token"] == request.headers["x-subject-token"] == "tok"


@pytest.mark.parametrize(("body", "domain_id", "system"), [
    (UNSCOPED, None, None), (DOMAIN_TOKEN, "dom", None), (SYSTEM_TOKEN, None, "all")])
async def test_only_a_project_scoped_token_gives_a_project(body, domain_id, system):
    ctx = await Keystone({"tok": body}).validator().authenticate("tok", request_id="r")
    assert ctx.project_id is None and ctx.user_id == "uid"
    assert (ctx.domain_id, ctx.system_scope) == (domain_id, system)


async def test_cached_validation_is_served_without_asking_again_only_while_live():
    keystone = Keystone({"tok": PROJECT_TOKEN})
    validator = keystone.validator()
    await validator.identify("tok")
    await validator.identify("tok")
    assert len(keystone.asked) == 2  # not subscribed to revocations: nothing is cached
    validator.cache.resume()
    await validator.identify("tok")
    await validator.identify("tok")
    assert len(keystone.asked) == 3
    validator.cache.revoke(RevocationEvent(audit_id="aud1", issued_before=0.0))
    await validator.identify("tok")
    assert len(keystone.asked) == 4


async def test_refused_token_is_401_and_not_asked_again_at_once():
    keystone = Keystone({"tok": PROJECT_TOKEN})
    validator = keystone.validator()
    for _ in range(2):
        with pytest.raises(errors.Unauthorized):
            await validator.identify("forged")
    assert len(keystone.asked) == 1


@pytest.mark.parametrize("token", ["", "caf\xe9", "a b\n", "x" * 9000])
async def test_malformed_token_is_401_without_asking(token):
    keystone = Keystone({"tok": PROJECT_TOKEN})
    with pytest.raises(errors.Unauthorized):
        await keystone.validator().identify(token)
    assert keystone.asked == []


@pytest.mark.parametrize(("status", "body"), [
    (500, b"{}"), (503, b"down"), (200, b"not json"), (200, b'{"token": {"user": {}}}'),
    (200, b'{"token": []}')])
async def test_keystone_failing_is_503_and_the_token_is_not_refused(status, body):
    keystone = Keystone(status=status, body=body)
    validator = keystone.validator()
    with pytest.raises(errors.ServiceUnavailable):
        await validator.identify("tok")
    assert not validator.cache.refused("tok")


async def test_unreachable_keystone_is_503():
    validator = KeystoneValidator("http://127.0.0.1:1/identity")
    try:
        with pytest.raises(errors.ServiceUnavailable):
            await validator.authenticate("tok", request_id="r")
    finally:
        await validator.close()


def test_validation_is_trusted_until_the_token_expires_or_the_cache_ttl_passes():
    assert identity_from_token(PROJECT_TOKEN, cache_ttl=60, now=1000.0).expires == 1060.0
    soon = PROJECT_TOKEN | {"expires_at": "1970-01-01T00:16:50Z"}
    assert identity_from_token(soon, cache_ttl=60, now=1000.0).expires == 1010.0


@pytest.fixture
async def edge() -> AsyncIterator[httpx.AsyncClient]:
    """A REST app, as the volume service's, guarded by a KeystoneValidator."""
    router = APIRouter()

    @router.get("/project")
    async def project(ctx: Context) -> dict:
        return {"project": ctx.project_id, "user": ctx.user_name}

    @router.get("/any")
    async def any_scope(ctx: AnyScopeContext) -> dict:
        return {"domain": ctx.domain_id}

    validator = Keystone({"tok": PROJECT_TOKEN, "dom": DOMAIN_TOKEN}).validator()
    app = rest_app(authenticator=validator)
    app.include_router(router, prefix="/volume")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://edge") as client:
        yield client
    await validator.close()


async def test_rest_edge_awaits_the_validation(edge):
    ok = await edge.get("/volume/project", headers={"X-Auth-Token": "tok"})
    assert (ok.status_code, ok.json()) == (200, {"project": "pid", "user": "alice"})
    forged = await edge.get("/volume/project", headers={"X-Auth-Token": "forged"})
    assert forged.status_code == 401
    domain = await edge.get("/volume/project", headers={"X-Auth-Token": "dom"})
    assert domain.status_code == 403
    anyscope = await edge.get("/volume/any", headers={"X-Auth-Token": "dom"})
    assert (anyscope.status_code, anyscope.json()) == (200, {"domain": "dom"})
