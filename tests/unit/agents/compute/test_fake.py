"""The fake driver's volumes: records kept across an agent restart, with a real driver's
checks and errors."""
from __future__ import annotations

import pytest

from agents.compute.contract import BlockDevice, FlavorSpec, InstancePayload
from agents.compute.driver import GuestNotFound, VolumeError
from agents.compute.fake import FakeDriver
from overcast import errors
from services.volume.contract import OVERCAST_FILE, ConnectionInfo

VOL = "0a0a0a0a-0000-4000-8000-00000000000a"
INSTANCE = InstancePayload(id="i-1", name="vm1", project_id="p1", user_id="u1",
                           flavor=FlavorSpec(id="1", name="m1.tiny", vcpus=1, ram=512, disk=1))


def bdm(name: str = "/dev/vdb", *, boot_index: int | None = None) -> BlockDevice:
    return BlockDevice(volume_id=VOL, attachment_id="att", device_name=name,
                       boot_index=boot_index)


def connection(file_name: str = f"volume-{VOL}") -> ConnectionInfo:
    return ConnectionInfo(driver_volume_type=OVERCAST_FILE, volume_id=VOL,
                          file_name=file_name)


@pytest.fixture
async def driver(tmp_path) -> FakeDriver:
    made = FakeDriver(state_file=tmp_path / "guests.json")
    await made.init_host("h1")
    await made.spawn(INSTANCE, image=None, network_info=[])
    return made


async def test_attached_volumes_survive_an_agent_restart(driver, tmp_path):
    await driver.attach_volume("i-1", block_device=bdm(), connection=connection())
    restarted = FakeDriver(state_file=tmp_path / "guests.json")
    await restarted.init_host("h1")
    assert restarted.attached_volumes("i-1") == [bdm()]
    assert restarted.volumes["i-1"][VOL][1] == connection()
    await restarted.detach_volume("i-1", volume_id=VOL)
    await restarted.detach_volume("i-1", volume_id=VOL)  # idempotent
    assert restarted.attached_volumes("i-1") == []


@pytest.mark.parametrize(("block_device", "conn", "error"), [
    (bdm(), connection("../../etc/shadow"), errors.BadRequest),
    (bdm("/dev/.."), connection(), VolumeError),
    (bdm("/dev/vda", boot_index=0), connection(), VolumeError),  # roots come with spawn
])
async def test_what_a_real_driver_refuses_the_fake_refuses(driver, block_device, conn, error):
    with pytest.raises(error):
        await driver.attach_volume("i-1", block_device=block_device, connection=conn)
    assert driver.attached_volumes("i-1") == []


async def test_a_missing_guest_has_no_volumes(driver):
    with pytest.raises(GuestNotFound):
        await driver.attach_volume("i-9", block_device=bdm(), connection=connection())
    with pytest.raises(GuestNotFound):
        await driver.detach_volume("i-9", volume_id=VOL)
