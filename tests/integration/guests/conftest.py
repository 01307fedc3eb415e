"""Real guests of the ``process`` driver: each test gets its own state dir and drivers, and
leaves no process, mount or cgroup behind (checked after every test)."""
from __future__ import annotations

import asyncio
import base64
import os
import shutil
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from agents.compute.contract import FlavorSpec, InstancePayload
from agents.compute.process import ProcessDriver, cgroups
from agents.compute.process.guests import namespace_members
from services.image import cirros

pytestmark = pytest.mark.integration

NEEDS = [(os.geteuid() == 0, "the process driver needs root (namespaces, mounts, cgroups)"),
         (shutil.which("unshare") is not None, "needs util-linux unshare"),
         (cirros.BUSYBOX.is_file(), "needs /bin/busybox (busybox-static)")]
REASONS = [reason for ok, reason in NEEDS if not ok]
FLAVOR = FlavorSpec(id="1", name="m1.tiny", vcpus=1, ram=128, disk=1)
PUBLIC_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOvercastTestKeyOnly test@overcast"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if REASONS:
        for item in items:
            if "tests/integration/guests" in str(item.fspath):
                item.add_marker(pytest.mark.skip(reason="; ".join(REASONS)))


@pytest.fixture(scope="session")
def cirros_image(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return cirros.build_rootfs(tmp_path_factory.mktemp("image") / "cirros.tar.gz")


def instance(instance_id: str, *, name: str = "web-1", user_data: str | None = None,
             image_ref: str = "cirros", **fields: object) -> InstancePayload:
    encoded = base64.b64encode(user_data.encode()).decode() if user_data else None
    given = {"key_name": "mykey", "key_data": PUBLIC_KEY, **fields}
    return InstancePayload(id=instance_id, name=name, project_id="demo", user_id="alice",
                           flavor=FLAVOR, image_ref=image_ref, user_data=encoded, **given)


async def guest_sh(driver: ProcessDriver, instance_id: str, script: str) -> str:
    """Run ``script`` inside the guest through ``console_command``; its stdout."""
    argv = driver.console_command(instance_id, ["sh", "-c", script])
    proc = await asyncio.create_subprocess_exec(*argv, stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), timeout=30)
    assert proc.returncode == 0, (script, err.decode())
    return out.decode()


def mounts_under(path: Path) -> list[str]:
    prefix = str(path.resolve())
    with open("/proc/self/mountinfo") as mounts:
        return [line.split()[4] for line in mounts if line.split()[4].startswith(prefix)]


def guest_cgroup_dirs(tree: cgroups.CgroupTree, host: str) -> list[Path]:
    if not tree.writable:
        return []
    roots = [tree.root / cgroups.PARENT] if tree.version == 2 else \
        [tree.root / name / cgroups.PARENT for name in cgroups.V1_CONTROLLERS]
    return [path for root in roots for path in root.glob(f"{host}--*")]


def any_alive(pids: list[int]) -> bool:
    return any(Path(f"/proc/{pid}").exists() for pid in pids)


def guest_pids(driver: ProcessDriver) -> list[int]:
    return [pid for record in driver.records.values() if record.pid
            for pid in namespace_members(record.pid)]


@pytest.fixture
async def make_driver(tmp_path: Path) -> AsyncIterator[Callable]:
    """``await make_driver(host)``: a ProcessDriver on ``tmp_path/<host>`` sharing
    ``tmp_path/shared``; every one is cleaned up, and checked clean, after the test."""
    made: list[tuple[str, ProcessDriver]] = []
    pids: list[int] = []

    async def make(host: str = "host-a", state: Path | None = None) -> ProcessDriver:
        driver = ProcessDriver(state_dir=state or tmp_path / host,
                               shared_dir=tmp_path / "shared")
        # Host names (and so cgroup names) of their own: another run may share this machine.
        host = f"{host}-{os.getpid()}"
        await driver.init_host(host)
        made.append((host, driver))
        return driver

    yield make
    for _host, driver in made:
        pids += guest_pids(driver)
        await driver.cleanup_host()
    for host, driver in made:
        assert not guest_pids(driver)
        assert not mounts_under(driver.state_dir), mounts_under(driver.state_dir)
        assert not guest_cgroup_dirs(driver.cgroups, host)
    assert not mounts_under(tmp_path / "shared")
    assert not any_alive(pids)
