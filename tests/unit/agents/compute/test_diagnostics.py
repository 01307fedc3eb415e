"""Diagnostics on a compute host: the manager's answers over the fake driver, and the
process driver's figures read from real cgroup files laid out in a temporary tree."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from agents.compute.contract import FlavorSpec, InstancePayload
from agents.compute.driver import GuestDiagnostics
from agents.compute.fake import FakeDriver
from agents.compute.manager import ComputeManager
from agents.compute.process import cgroups, diagnostics
from agents.compute.process.guests import GuestRecord, proc_start_time
from overcast import errors
from overcast.context import RequestContext

CTX = RequestContext.admin()
FLAVOR = FlavorSpec(id="1", name="m1.small", vcpus=2, ram=256, disk=1)
INSTANCE = InstancePayload(id="i-1", name="vm1", project_id="p1", user_id="u1", flavor=FLAVOR)


class Conductor:
    async def instance_built(self, ctx, **kw) -> None: ...
    async def guest_action_done(self, ctx, **kw) -> None: ...


@pytest.fixture
async def manager(tmp_path):
    driver = FakeDriver(state_file=tmp_path / "guests.json")
    await driver.init_host("h1")
    made = ComputeManager(host="h1", driver=driver, conductor=Conductor(), images=None,
                          work_dir=tmp_path / "work")
    await made.build_and_run_instance(CTX, instance=INSTANCE)
    return made


async def test_the_fake_driver_reports_its_flavor_and_no_usage(manager):
    wire = await manager.get_diagnostics(CTX, instance_id="i-1")
    diag = GuestDiagnostics.from_wire(wire)
    assert (diag.state, diag.driver, diag.num_cpus, diag.memory_max_mb) == (
        "running", "fake", 2, 256)
    assert (diag.memory_used_mb, diag.cpu_time_ns, diag.disk_write_bytes) == (0, 0, 0)


async def test_a_guest_not_running_or_not_here_is_a_conflict(manager):
    await manager.driver.power_off("i-1")
    with pytest.raises(errors.Conflict, match="power state shutdown"):
        await manager.get_diagnostics(CTX, instance_id="i-1")
    with pytest.raises(errors.Conflict, match="not ready"):
        await manager.get_diagnostics(CTX, instance_id="nope")


async def test_a_driver_without_diagnostics_is_not_supported(manager, monkeypatch):
    def unsupported(instance_id):
        raise NotImplementedError("no")
    monkeypatch.setattr(manager.driver, "get_diagnostics", unsupported)
    with pytest.raises(errors.NotSupported) as raised:
        await manager.get_diagnostics(CTX, instance_id="i-1")
    assert raised.value.code == 501


def _record() -> GuestRecord:
    pid = os.getpid()  # this process stands in for the guest's init
    return GuestRecord(instance=INSTANCE, storage="local", disk_path="/nonexistent",
                       image_key="k", pid=pid, start_time=proc_start_time(pid) or "")


def _write(path: Path, **files: str) -> None:
    path.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (path / name.replace("_", ".", 1)).write_text(text)


def test_process_figures_from_a_v2_cgroup(tmp_path):
    tree = cgroups.CgroupTree(2, tmp_path, True)
    cgroup = tree.guest("h--i-1")
    _write(tmp_path / cgroups.PARENT / "h--i-1", memory_max=str(256 << 20),
           memory_current=str(40 << 20), cpu_stat="usage_usec 2500000\nuser_usec 1\n")
    diag = diagnostics.measure(record=_record(), cgroup=cgroup, power_state=1,
                               disk_used_bytes=7_000_000, driver="process")
    assert (diag.memory_max_mb, diag.memory_used_mb) == (256, 40)
    assert diag.cpu_time_ns == 2_500_000_000
    assert (diag.disk_write_bytes, diag.num_disks, diag.num_nics, diag.config_drive) == (
        7_000_000, 1, 0, True)
    assert diag.state == "running" and diag.uptime is not None and diag.uptime >= 0


def test_process_figures_from_v1_cgroups_with_no_limit(tmp_path):
    tree = cgroups.CgroupTree(1, tmp_path, True)
    cgroup = tree.guest("h--i-1")
    _write(tmp_path / "memory" / cgroups.PARENT / "h--i-1",
           memory_limit_in_bytes=str(diagnostics.UNLIMITED_V1 + 4096),
           memory_usage_in_bytes=str(3 << 20))
    _write(tmp_path / "cpu" / cgroups.PARENT / "h--i-1", cpuacct_usage="123456789")
    diag = diagnostics.measure(record=_record(), cgroup=cgroup, power_state=1,
                               disk_used_bytes=0, driver="process")
    assert (diag.memory_max_mb, diag.memory_used_mb) == (256, 3)  # the flavor's, unlimited
    assert diag.cpu_time_ns == 123456789


def test_without_a_writable_cgroup_memory_used_is_null_and_cpu_comes_from_proc(tmp_path):
    tree = cgroups.CgroupTree(0, tmp_path, False, "read-only")
    sum(range(3_000_000))  # burn some CPU time of this "guest"
    diag = diagnostics.measure(record=_record(), cgroup=tree.guest("h--i-1"),
                               power_state=1, disk_used_bytes=0, driver="process")
    assert (diag.memory_max_mb, diag.memory_used_mb) == (256, None)
    assert diag.cpu_time_ns is not None and diag.cpu_time_ns > 0
