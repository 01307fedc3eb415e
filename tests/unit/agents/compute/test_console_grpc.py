"""The agent's console port with its typed client over loopback gRPC: a signed session runs
and relays; an unsigned or wrongly signed one is refused before anything runs; a client that
goes away mid-session gets the session's processes killed."""
from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator

import psutil
import pytest

from agents.compute.console_client import ConsoleClient
from agents.compute.console_contract import (
    END_OF_INPUT,
    STDIN,
    ConsoleInput,
    ConsoleRequest,
    Exited,
)
from agents.compute.console_server import ConsoleEndpoint, advertised_address
from agents.compute.contract import FlavorSpec, InstancePayload
from agents.compute.fake import FakeDriver
from overcast import errors
from overcast.bus.signing import Signer
from overcast.context import RequestContext

KEY = "the-cloud-key"
INSTANCE = InstancePayload(id="i-1", name="vm1", project_id="p1", user_id="u1",
                           flavor=FlavorSpec(id="1", name="m1.tiny", vcpus=1, ram=512, disk=1))


class ScriptDriver(FakeDriver):
    """A fake whose console runs a test's script (the real driver enters the guest)."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.script = "cat"

    def console_command(self, instance_id, command):
        super().console_command(instance_id, command)
        return ["sh", "-c", self.script]


@pytest.fixture
async def endpoint(tmp_path):
    driver = ScriptDriver(state_file=tmp_path / "guests.json")
    await driver.spawn(INSTANCE, image=None, network_info=[])
    server = ConsoleEndpoint(listen="127.0.0.1:0", host="hypervisor-1", driver=driver,
                             signing_key=KEY)
    await server.start()
    server.driver = driver
    yield server
    await server.stop()


async def _inputs(*items: ConsoleInput, then_wait: bool = False
                  ) -> AsyncIterator[ConsoleInput]:
    for item in items:
        yield item
    if then_wait:
        await asyncio.Event().wait()


async def _run(client: ConsoleClient, request: ConsoleRequest, inputs) -> tuple[bytes, int]:
    out, status = b"", None
    async for event in client.attach(RequestContext.admin(), request, inputs):
        if isinstance(event, Exited):
            status = event.status
        else:
            out += event.data
    return out, status


def test_the_advertised_address_is_the_machines_own_for_a_wildcard():
    own = socket.gethostbyname(socket.gethostname())
    assert advertised_address("0.0.0.0:6083", port=6083, host="hypervisor-2") \
        == f"{own}:6083"
    assert advertised_address("127.0.0.1:0", port=41234, host="h") == "127.0.0.1:41234"
    assert advertised_address("0.0.0.0:6083", port=6083, host="h", advertise="10.0.0.5:6083") \
        == "10.0.0.5:6083"


async def test_a_signed_session_relays_input_output_and_the_exit_status(endpoint):
    client = ConsoleClient(endpoint.address, signer=Signer(KEY))
    endpoint.driver.script = "cat; echo done >&2; exit 7"
    out, status = await asyncio.wait_for(_run(
        client, ConsoleRequest(instance_id="i-1", command=("x",), tty=False),
        _inputs(ConsoleInput(STDIN, data=b"ping\n"), ConsoleInput(END_OF_INPUT))), 20)
    assert (out, status) == (b"ping\ndone\n", 7)


@pytest.mark.parametrize("signer", [None, Signer("another-key")])
async def test_an_unsigned_or_forged_session_is_refused(endpoint, signer, tmp_path):
    marker = tmp_path / "ran"
    endpoint.driver.script = f"touch {marker}"
    client = ConsoleClient(endpoint.address, signer=signer)
    with pytest.raises(errors.Forbidden):
        await asyncio.wait_for(_run(client, ConsoleRequest(instance_id="i-1"), _inputs()), 20)
    assert not marker.exists()


async def test_refusals_arrive_as_domain_errors(endpoint):
    client = ConsoleClient(endpoint.address, signer=Signer(KEY))
    with pytest.raises(errors.NotFound):
        await asyncio.wait_for(_run(client, ConsoleRequest(instance_id="nope"), _inputs()), 20)
    with pytest.raises(errors.BadRequest):
        await asyncio.wait_for(_run(client, ConsoleRequest(instance_id="i-1", rows=99999),
                                    _inputs()), 20)


async def test_a_client_that_goes_away_gets_the_session_killed(endpoint, tmp_path):
    pidfile = tmp_path / "pid"
    endpoint.driver.script = f"echo $$ > {pidfile}; echo ready; sleep 300"
    client = ConsoleClient(endpoint.address, signer=Signer(KEY))
    events = client.attach(RequestContext.admin(), ConsoleRequest(instance_id="i-1"),
                           _inputs(then_wait=True))
    first = await asyncio.wait_for(anext(events), 20)
    assert b"ready" in first.data
    pid = int(await asyncio.to_thread(pidfile.read_text))
    assert psutil.pid_exists(pid)
    await events.aclose()  # the user closed the console
    deadline = time.monotonic() + 20
    while psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
        assert time.monotonic() < deadline, "the session's shell outlived its client"
        await asyncio.sleep(0.05)


async def test_refusals_keep_their_status_with_input_ready_at_once(endpoint):
    """No write is in flight when a call is refused (a failed write would make the status
    INTERNAL): the client waits for the agent's go-ahead before each kind of write."""
    ready = (ConsoleInput(STDIN, data=b"x" * 65536), ConsoleInput(END_OF_INPUT))
    for _ in range(25):
        with pytest.raises(errors.Forbidden):
            await asyncio.wait_for(_run(ConsoleClient(endpoint.address, signer=None),
                                        ConsoleRequest(instance_id="i-1"), _inputs(*ready)),
                                   20)
        with pytest.raises(errors.NotFound):
            await asyncio.wait_for(_run(ConsoleClient(endpoint.address, signer=Signer(KEY)),
                                        ConsoleRequest(instance_id="gone"), _inputs(*ready)),
                                   20)
