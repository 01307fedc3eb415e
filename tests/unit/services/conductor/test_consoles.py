"""Console tokens on the conductor with in-memory peers and a clock the test moves: issued
only for a visible, active server on a host that is up; stored hashed; refused once expired,
forged, of another type, or when the instance is gone, stopped or moved."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from overcast import errors
from overcast.clock import utcnow
from overcast.context import RequestContext
from services.conductor.consoles import ConsoleTokens, token_hash
from services.conductor.contract import ConsoleConnection, ConsoleToken
from services.conductor.models import ConsoleAuthToken
from tests.unit.services.conductor.twins import CTX, over_the_wire, wait_status
from tests.unit.services.conductor.twins import boot_request as request

OTHER = RequestContext(user_id="u2", project_id="p2", roles=("member",))


class Clock:
    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture
async def consoles(conductor):
    clock = Clock()
    tokens = ConsoleTokens(conductor.store.db, queries=conductor.queries,
                           hosts=conductor.hosts, ttl=600, clock=clock)
    for host in ("h1", "h2"):
        tokens.record_address(host, f"127.0.0.1:{6000 + int(host[1])}")
    tokens.clock_ = clock
    return tokens


async def _active(conductor) -> dict:
    [inst] = await conductor.create_servers(CTX, request=request())
    await wait_status(conductor, inst["id"], "ACTIVE")
    return conductor.store.get(inst["id"])


async def test_a_token_grants_the_console_of_its_instance_on_its_host(conductor, consoles):
    inst = await _active(conductor)
    issued = over_the_wire(consoles.create(CTX, instance_id=inst["id"]))
    token = ConsoleToken.from_wire(issued)
    assert len(token.token) >= 40 and token.console_type == "serial"
    granted = consoles.validate(token.token)
    assert granted == ConsoleConnection(
        instance_id=inst["id"], console_type="serial", host=inst["host"],
        address=f"127.0.0.1:{6000 + int(inst['host'][1])}", project_id="p1", user_id="u1")
    # Valid until it expires (a reconnect within the TTL works), kept only as a hash.
    assert consoles.validate(token.token) == granted
    with conductor.store.db.session() as session:
        rows = list(session.scalars(select(ConsoleAuthToken)))
    assert [r.token_hash for r in rows] == [token_hash(token.token)]
    assert token.token not in repr([vars(r) for r in rows])


async def test_an_expired_token_is_refused_and_purged(conductor, consoles):
    inst = await _active(conductor)
    token = consoles.create(CTX, instance_id=inst["id"]).token
    consoles.clock_.now += dt.timedelta(seconds=599)
    consoles.validate(token)
    consoles.clock_.now += dt.timedelta(seconds=1)
    with pytest.raises(errors.NotFound, match="expired or is invalid"):
        consoles.validate(token)
    consoles.create(CTX, instance_id=inst["id"])  # issuing purges what expired
    with conductor.store.db.session() as session:
        assert token_hash(token) not in {r.token_hash
                                         for r in session.scalars(select(ConsoleAuthToken))}


@pytest.mark.parametrize("forged", ["", "x" * 43, "x" * 5000, None])
async def test_forged_tokens_are_refused(conductor, consoles, forged):
    await _active(conductor)
    with pytest.raises(errors.NotFound):
        consoles.validate(forged)


async def test_a_token_is_for_one_console_type(conductor, consoles):
    inst = await _active(conductor)
    token = consoles.create(CTX, instance_id=inst["id"]).token
    with pytest.raises(errors.NotFound):
        consoles.validate(token, console_type="novnc")


async def test_another_projects_server_is_not_found_and_gets_no_token(conductor, consoles):
    inst = await _active(conductor)
    with pytest.raises(errors.NotFound):
        consoles.create(OTHER, instance_id=inst["id"])
    with pytest.raises(errors.NotFound):
        consoles.create(CTX, instance_id="00000000-0000-0000-0000-000000000000")
    with conductor.store.db.session() as session:
        assert list(session.scalars(select(ConsoleAuthToken))) == []


async def test_a_stopped_server_is_a_conflict_and_stopping_voids_its_tokens(conductor,
                                                                           consoles):
    inst = await _active(conductor)
    token = consoles.create(CTX, instance_id=inst["id"]).token
    await conductor.operations.power_action(CTX, instance_id=inst["id"], action="stop")
    await wait_status(conductor, inst["id"], "SHUTOFF")
    with pytest.raises(errors.Conflict, match="vm_state stopped"):
        consoles.create(CTX, instance_id=inst["id"])
    with pytest.raises(errors.NotFound):
        consoles.validate(token)
    await conductor.operations.power_action(CTX, instance_id=inst["id"], action="start")
    await wait_status(conductor, inst["id"], "ACTIVE")
    with pytest.raises(errors.NotFound):  # voided, not merely suspended
        consoles.validate(token)


async def test_a_deleted_server_voids_its_tokens(conductor, consoles):
    inst = await _active(conductor)
    token = consoles.create(CTX, instance_id=inst["id"]).token
    await conductor.operations.delete_server(CTX, instance_id=inst["id"])
    await conductor.builds.instance_destroyed(CTX, instance_id=inst["id"], host=inst["host"])
    with pytest.raises(errors.NotFound):
        consoles.validate(token)


async def test_a_host_without_a_console_port_has_no_serial_console(conductor):
    inst = await _active(conductor)
    tokens = ConsoleTokens(conductor.store.db, queries=conductor.queries,
                           hosts=conductor.hosts)
    with pytest.raises(errors.BadRequest, match="Unavailable console type serial"):
        tokens.create(CTX, instance_id=inst["id"])
    with pytest.raises(errors.BadRequest, match="Unavailable console type novnc"):
        tokens.create(CTX, instance_id=inst["id"], console_type="novnc")


async def test_console_addresses_survive_a_restart(conductor, consoles):
    for host in ("h1", "h2"):
        consoles.record_address(host, f"10.0.0.9:608{host[1]}")
    again = ConsoleTokens(conductor.store.db, queries=conductor.queries, hosts=conductor.hosts)
    inst = await _active(conductor)
    token = again.create(CTX, instance_id=inst["id"]).token
    assert again.validate(token).address == f"10.0.0.9:608{inst['host'][1]}"
