"""The ``volume`` RPC topic: every rpcapi.VolumeAPI method reaches its endpoint through the
JSON envelope (as over the bus), answers with the contract's types, is idempotent, and keeps
a project to its own volumes."""
from __future__ import annotations

import asyncio
import inspect
from typing import Any

import orjson
import pytest

from overcast import errors
from overcast.bus import envelope, remote
from overcast.bus.rpc import RpcServer
from overcast.context import RequestContext
from services.volume.contract import Connector, VolumeRequest
from services.volume.endpoints import VolumeEndpoint
from services.volume.quotas import QuotaDefaults
from services.volume.rpcapi import VolumeAPI
from tests.unit.services.volume.conftest import ADMIN, DEMO, OTHER, make_manager
from tests.unit.services.volume.helpers import status, volume

VOLUME_ID = "0b0e0c4e-5a43-4f5e-9d7a-3f2b9e1c7d10"


class EnvelopeBus:
    """A bus that hands each call and cast to the topic's RpcServer through the JSON
    envelope, as the broker would (no broker)."""

    def __init__(self) -> None:
        self.server: RpcServer | None = None

    async def call(self, ctx: RequestContext, topic: str, method: str, /, *,
                   server: str | None = None, version: str = "1.0",
                   timeout: float | None = None, **args: Any) -> Any:
        assert topic == "volume" and server is None  # the one shared queue
        request = envelope.Request.decode(envelope.Request(
            method=method, version=version, args=orjson.loads(envelope.encode_any(args)),
            context=ctx).encode())
        reply = orjson.loads(await self.server._dispatch(request))
        if "error" in reply:
            raise remote.from_wire(reply["error"])
        return reply["result"]

    async def cast(self, ctx: RequestContext, topic: str, method: str, /, *,
                   server: str | None = None, version: str = "1.0", **args: Any) -> None:
        await self.call(ctx, topic, method, server=server, version=version, **args)


@pytest.fixture
def api(manager) -> VolumeAPI:
    bus = EnvelopeBus()
    bus.server = RpcServer(bus, topic="volume", server=None, endpoint=VolumeEndpoint(manager))
    return VolumeAPI(bus)


def test_every_rpcapi_method_has_an_endpoint():
    client = {name for name, member in inspect.getmembers(VolumeAPI, inspect.iscoroutinefunction)
              if not name.startswith("_") and name not in ("call", "cast", "fanout")}
    served = {name for name, member in inspect.getmembers(VolumeEndpoint)
              if hasattr(member, "__rpc_version__")}
    assert client == served


async def test_the_attach_flow_over_rpc_is_idempotent(api, manager):
    made = await volume(manager, DEMO)
    summary = await api.get_volume(DEMO, volume_id=made["id"])
    assert (summary.status, summary.size, summary.project_id) == ("available", 1, "demo")
    first = await api.reserve(DEMO, volume_id=made["id"], instance_id="vm-1")
    again = await api.reserve(DEMO, volume_id=made["id"], instance_id="vm-1")
    assert first == again and first.status == "reserved"
    connector = Connector(host="hypervisor-1", mountpoint="/dev/vdb", instance_id="vm-1")
    info = await api.attachment_update(DEMO, attachment_id=first.id, connector=connector)
    assert info == await api.attachment_update(DEMO, attachment_id=first.id,
                                               connector=connector)
    assert info.checked_file_name() == f"volume-{made['id']}"
    assert (info.driver_volume_type, info.attachment_id) == ("overcast_file", first.id)
    await api.attachment_complete(DEMO, attachment_id=first.id)
    await api.attachment_complete(DEMO, attachment_id=first.id)
    assert status(manager, made["id"]) == "in-use"
    [listed] = await api.list_attachments(ADMIN, instance_id="vm-1")
    assert (listed.id, listed.status, listed.attached_host, listed.mountpoint) == (
        first.id, "attached", "hypervisor-1", "/dev/vdb")
    await api.attachment_delete(DEMO, attachment_id=first.id)
    await api.attachment_delete(DEMO, attachment_id=first.id)  # missing is fine
    assert status(manager, made["id"]) == "available"


async def test_refusals_cross_the_bus_with_their_kind(api, manager):
    made = await volume(manager, DEMO)
    with pytest.raises(errors.NotFound, match=f"Volume {made['id']} could not be found"):
        await api.get_volume(OTHER, volume_id=made["id"])
    with pytest.raises(errors.NotFound):
        await api.reserve(OTHER, volume_id=made["id"], instance_id="vm-9")
    await api.reserve(DEMO, volume_id=made["id"], instance_id="vm-1")
    with pytest.raises(errors.BadRequest, match="status must be available or downloading"):
        await api.reserve(DEMO, volume_id=made["id"], instance_id="vm-2")
    with pytest.raises(errors.Forbidden):
        await api.list_attachments(DEMO, instance_id="vm-1")
    with pytest.raises(errors.BadRequest, match="must not be migrating, attached"):
        await api.delete_volume(DEMO, volume_id=made["id"])  # reserved: not deletable


async def test_boot_volumes_are_created_once_and_deleted_with_their_server(api, manager):
    request = VolumeRequest(id=VOLUME_ID, size=1, name="root")
    made = await api.create_volume(DEMO, request=request)
    assert made == await api.create_volume(DEMO, request=request)
    assert made.id == VOLUME_ID and made.status == "creating"
    await manager.drain()
    attachment = await api.reserve(DEMO, volume_id=VOLUME_ID, instance_id="vm-1")
    await api.attachment_delete_later(DEMO, attachment_id=attachment.id, delete_volume=True)
    await manager.drain()
    with pytest.raises(errors.NotFound):
        await api.get_volume(DEMO, volume_id=VOLUME_ID)
    await api.delete_volume(DEMO, volume_id=VOLUME_ID)  # already gone: fine
    await api.attachment_delete_later(DEMO, attachment_id=attachment.id, delete_volume=True)


async def test_a_boot_volume_still_being_made_is_deleted_once_made(api, manager, backend):
    release = backend.switches.hold("create")
    request = VolumeRequest(id=VOLUME_ID, size=1, name="root")
    assert (await api.create_volume(DEMO, request=request)).status == "creating"
    with pytest.raises(errors.BadRequest):
        await api.delete_volume(DEMO, volume_id=VOLUME_ID)  # Cinder's rule for a call
    later = asyncio.get_running_loop().create_task(
        api.delete_volume_later(DEMO, volume_id=VOLUME_ID))
    await asyncio.sleep(0)
    assert not later.done()  # it waits for the creation
    release.set()
    await asyncio.wait_for(later, timeout=10)
    await manager.drain()
    with pytest.raises(errors.NotFound):
        await api.get_volume(DEMO, volume_id=VOLUME_ID)
    await api.delete_volume_later(DEMO, volume_id=VOLUME_ID)  # already gone: fine


async def test_detach_later_keeps_the_volume_unless_asked(api, manager):
    made = await volume(manager, DEMO)
    attachment = await api.reserve(DEMO, volume_id=made["id"], instance_id="vm-1")
    await api.attachment_delete_later(DEMO, attachment_id=attachment.id)
    assert status(manager, made["id"]) == "available"


async def test_a_boot_volume_over_quota_is_quota_exceeded(tmp_path, backend, store, images):
    tight = make_manager(tmp_path, backend, store, images, quotas=QuotaDefaults(gigabytes=1))
    try:
        bus = EnvelopeBus()
        bus.server = RpcServer(bus, topic="volume", server=None,
                               endpoint=VolumeEndpoint(tight))
        with pytest.raises(errors.QuotaExceeded, match="gigabytes quota"):
            await VolumeAPI(bus).create_volume(DEMO, request=VolumeRequest(id=VOLUME_ID,
                                                                            size=2))
        assert tight.volumes.list(DEMO)[0] == []
    finally:
        await tight.close()
        tight.db.close()
