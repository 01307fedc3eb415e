"""The console manager on the fake driver: the fake guest's console prints its name and the
command (never a shell), refusals are domain errors, and input reaches a real process."""
from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from agents.compute.console_contract import (
    END_OF_INPUT,
    STDIN,
    ConsoleInput,
    ConsoleRequest,
    Exited,
    Opened,
    Output,
)
from agents.compute.consoles import ConsoleManager
from agents.compute.contract import FlavorSpec, InstancePayload
from agents.compute.fake import FakeDriver
from overcast import errors

INSTANCE = InstancePayload(id="i-1", name="vm1", project_id="p1", user_id="u1",
                           flavor=FlavorSpec(id="1", name="m1.tiny", vcpus=1, ram=512, disk=1))


async def _no_input() -> AsyncIterator[ConsoleInput]:
    await asyncio.Event().wait()
    yield ConsoleInput(END_OF_INPUT)  # never reached


async def _collect(events: AsyncIterator) -> tuple[bytes, int]:
    out, status = b"", None
    async for event in events:
        if isinstance(event, Opened):
            assert (out, status) == (b"", None), "Opened comes first"
        elif isinstance(event, Exited):
            status = event.status
        else:
            assert isinstance(event, Output)
            out += event.data
    return out, status


@pytest.fixture
async def manager(tmp_path):
    driver = FakeDriver(state_file=tmp_path / "guests.json")
    await driver.spawn(INSTANCE, image=None, network_info=[])
    return ConsoleManager(host="hypervisor-1", driver=driver)


async def test_the_fake_console_prints_the_guest_and_each_argument_without_a_shell(manager):
    command = ("sh", "-c", "echo $HOME; rm -rf /tmp/x", "a b")
    out, status = await asyncio.wait_for(_collect(manager.attach(
        ConsoleRequest(instance_id="i-1", command=command, tty=False), _no_input())), 20)
    assert out.decode().splitlines() == ["fake guest vm1", *command]
    assert status == 0


async def test_a_login_shell_on_the_fake_guest_is_only_printed(manager):
    out, status = await asyncio.wait_for(_collect(manager.attach(
        ConsoleRequest(instance_id="i-1", tty=True), _no_input())), 20)
    assert out.replace(b"\r\n", b"\n") == b"fake guest vm1\n(login shell)\n"
    assert status == 0


async def test_an_unknown_guest_is_not_found_and_a_stopped_one_a_conflict(manager):
    with pytest.raises(errors.NotFound):
        manager.command_for(ConsoleRequest(instance_id="nope"))
    await manager.driver.power_off("i-1")
    with pytest.raises(errors.Conflict):
        manager.command_for(ConsoleRequest(instance_id="i-1"))


@pytest.mark.parametrize("request_", [
    ConsoleRequest(instance_id=""),
    ConsoleRequest(instance_id="i-1", command=("a\x00b",)),
    ConsoleRequest(instance_id="i-1", rows=10**6, cols=10),
    ConsoleRequest(instance_id="i-1", command=("x",) * 1000),
])
async def test_bad_requests_are_refused_before_anything_runs(manager, request_):
    with pytest.raises(errors.BadRequest):
        manager.command_for(request_)


class Cat(FakeDriver):
    def console_command(self, instance_id, command):
        self.get_info(instance_id)
        return ["cat"]


async def test_input_reaches_the_process_and_end_of_input_ends_it(tmp_path):
    driver = Cat(state_file=tmp_path / "guests.json")
    await driver.spawn(INSTANCE, image=None, network_info=[])

    async def inputs() -> AsyncIterator[ConsoleInput]:
        yield ConsoleInput(STDIN, data=b"ping\n")
        yield ConsoleInput(END_OF_INPUT)

    out, status = await asyncio.wait_for(_collect(ConsoleManager(
        host="h", driver=driver).attach(ConsoleRequest(instance_id="i-1", command=("x",),
                                                        tty=False), inputs())), 20)
    assert (out, status) == (b"ping\n", 0)


async def test_a_host_runs_a_bounded_number_of_sessions(tmp_path):
    driver = Cat(state_file=tmp_path / "guests.json")
    await driver.spawn(INSTANCE, image=None, network_info=[])
    manager = ConsoleManager(host="h", driver=driver, max_sessions=2)
    request = ConsoleRequest(instance_id="i-1", command=("x",), tty=False)
    running = [manager.attach(request, _no_input()) for _ in range(2)]
    for session in running:
        assert isinstance(await asyncio.wait_for(anext(session), 20), Opened)
    assert manager.sessions == 2
    with pytest.raises(errors.Conflict, match="console sessions"):
        await anext(manager.attach(request, _no_input()))
    for session in running:
        await session.aclose()  # the callers went away: their sessions end
    assert manager.sessions == 0
