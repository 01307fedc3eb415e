"""The compute agent's heartbeat, watchdog and reconcile, with the conductor replaced by a
recording stand-in (no bus): heartbeats never wait for a reconcile, and only a heartbeat that
got through undoes a self-fence."""
from __future__ import annotations

import asyncio
import time

from agents.compute.contract import RUNNING, FlavorSpec, InstancePayload
from agents.compute.fake import FakeDriver
from agents.compute.manager import ComputeManager
from agents.compute.service import ComputeConfig, ComputeService

INSTANCE = InstancePayload(id="i-1", name="vm1", project_id="p1", user_id="u1",
                           flavor=FlavorSpec(id="1", name="m1.tiny", vcpus=1, ram=512, disk=1))


class Conductor:
    """Answers ``placements_on_host`` after ``delay`` (forever when None); heartbeats fail
    while ``reachable`` is False."""

    def __init__(self) -> None:
        self.delay: float | None = 0.0
        self.reachable = True
        self.beats = 0
        self.reconcile_timeouts: list[float | None] = []

    async def report_state(self, ctx, **kwargs) -> None:
        if not self.reachable:
            raise ConnectionError("the message bus is not reachable")
        self.beats += 1

    async def placements_on_host(self, ctx, *, host: str,
                                 timeout: float | None = None) -> list[dict]:
        self.reconcile_timeouts.append(timeout)
        if self.delay is None:
            await asyncio.sleep(timeout or 3600)
            raise TimeoutError("conductor.placements_on_host did not answer")
        await asyncio.sleep(self.delay)
        return [{"id": INSTANCE.id, "running": True}]


async def _agent(tmp_path) -> tuple[ComputeService, Conductor]:
    cfg = ComputeConfig(host="hypervisor-1", state_dir=str(tmp_path), report_interval=0.05,
                        fence_window=0.2)
    agent = ComputeService(cfg)
    conductor = Conductor()
    driver = FakeDriver(state_file=tmp_path / "guests.json")
    await driver.init_host(cfg.host)
    await driver.spawn(INSTANCE, image=None, network_info=[])
    agent.conductor = conductor
    agent.manager = ComputeManager(host=cfg.host, driver=driver, conductor=conductor)
    return agent, conductor


def _power(agent: ComputeService) -> int:
    return agent.manager.driver.get_info(INSTANCE.id).power_state


async def test_heartbeats_go_on_while_a_reconcile_hangs(tmp_path):
    agent, conductor = await _agent(tmp_path)
    await agent.manager.self_fence()
    conductor.delay = None  # the reconcile's reply is lost (a broker restart)
    started = time.monotonic()
    for _ in range(5):
        await asyncio.wait_for(agent._heartbeat(), timeout=1)
    assert time.monotonic() - started < 4  # less than one hung reconcile (5 s)
    assert conductor.beats == 5
    # The reconcile waits a few heartbeats' time, not the whole RPC timeout.
    assert conductor.reconcile_timeouts == [5.0]
    agent._reconcile_task.cancel()


async def test_only_a_heartbeat_that_got_through_undoes_a_self_fence(tmp_path):
    agent, conductor = await _agent(tmp_path)
    conductor.reachable = False
    agent._last_beat_ok = time.monotonic() - 1
    await agent._heartbeat()  # the watchdog fences first; the beat itself fails
    assert agent.manager.fenced_guests == {INSTANCE.id}
    assert _power(agent) != RUNNING

    await agent._periodic_reconcile()  # the conductor answers, but heartbeats still fail
    assert agent.manager.fenced_guests is not None and _power(agent) != RUNNING

    conductor.reachable = True
    await agent._heartbeat()
    await agent._reconcile_task
    assert agent.manager.fenced_guests is None
    assert _power(agent) == RUNNING
