"""A message forged by hand on the cloud's real broker is refused; one signed with the
cloud's key is served (issue 8: the bus trusted whatever roles a context claimed)."""
from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import aio_pika
import orjson
import pytest

from overcast.bus.signing import Route, Signer
from overcast.testing import eventually, wait_until

ROOT = Path(__file__).parents[2]


@pytest.fixture(scope="module")
def demo_server(demo):
    image = demo.image.find_image("cirros")
    flavor = demo.compute.find_flavor("m1.tiny")
    server = demo.compute.create_server(name="signing-vm", image_id=image.id,
                                        flavor_id=flavor.id, networks="auto")
    server = demo.compute.wait_for_server(server, wait=60)
    yield server
    demo.compute.delete_server(server)
    demo.compute.wait_for_delete(server, wait=60)


def _forged_admin_request(method: str, args: dict) -> tuple[bytes, str]:
    """A request body claiming the admin role, as someone on the broker would write it."""
    request_id = f"req-forged-{uuid.uuid4()}"
    body = orjson.dumps({"method": method, "version": "1.0", "args": args,
                         "context": {"request_id": request_id, "user_id": "mallory",
                                     "user_name": "mallory", "roles": ["admin"]}})
    return body, request_id


async def _call_by_hand(url: str, body: bytes, *, key: str | None,
                        timeout: float = 20.0) -> dict | None:
    """Publish ``body`` to the conductor's queue with aio-pika alone, signed with ``key``
    (unsigned when None), and return the decoded answer (None when none came in
    ``timeout``)."""
    connection = await aio_pika.connect(url)
    try:
        channel = await connection.channel()
        replies = await channel.declare_queue(exclusive=True, auto_delete=True)
        correlation_id = uuid.uuid4().hex
        headers = {}
        if key is not None:
            headers = Signer(key).headers(body, Route(
                routing_key="conductor", reply_to=replies.name, correlation_id=correlation_id),
                expires=time.time() + timeout)
        await channel.default_exchange.publish(aio_pika.Message(
            body, headers=headers, reply_to=replies.name, correlation_id=correlation_id,
            app_id="mallory-by-hand", expiration=timeout, content_type="application/json"),
            routing_key="conductor")
        message = await replies.get(timeout=timeout, fail=False)
        deadline = time.monotonic() + timeout
        while message is None and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
            message = await replies.get(timeout=timeout, fail=False)
        if message is None:
            return None
        await message.ack()
        assert message.correlation_id == correlation_id
        return orjson.loads(message.body)
    finally:
        await connection.close()


def _warnings_about(cloud, name: str, request_id: str) -> list[dict]:
    lines = [orjson.loads(line) for line in cloud.log(name).splitlines()
             if line.startswith("{")]
    return [line for line in lines if line["level"] == "WARNING" and request_id in line["msg"]]


@pytest.mark.parametrize("key", [None, "not-the-cloud-key"], ids=["unsigned", "wrong-key"])
def test_a_forged_admin_list_servers_is_refused_and_logged(cloud, demo_server, key):
    body, request_id = _forged_admin_request("list_servers", {"filters": {"all_tenants": True}})
    publishing = asyncio.run(_call_by_hand(cloud.cloud.transport_url, body, key=key,
                                           timeout=5.0))
    # Refused and never answered: no servers, and no signed message sent to the forger's
    # reply queue either.
    assert publishing is None
    warning = wait_until(lambda: _warnings_about(cloud, "conductor", request_id),
                         timeout=10, message="the conductor logged no refusal")[0]
    assert "mallory-by-hand" in warning["msg"]
    assert "method=list_servers" in warning["msg"]
    key_in_log = cloud.cloud.bus_signing_key() in cloud.log("conductor")
    assert not key_in_log, "the signing key appears in the conductor's log"


def test_the_same_request_signed_with_the_cloud_key_is_served(cloud, demo_server):
    body, request_id = _forged_admin_request("list_servers", {"filters": {"all_tenants": True}})
    answer = asyncio.run(_call_by_hand(cloud.cloud.transport_url, body,
                                       key=cloud.cloud.bus_signing_key()))
    assert demo_server.id in {server["id"] for server in answer["result"]}
    assert not _warnings_about(cloud, "conductor", request_id)


def test_a_forged_cast_is_rejected_once_and_never_dispatched(cloud, demo, demo_server):
    body, request_id = _forged_admin_request("delete_server", {"instance_id": demo_server.id})

    async def cast_unsigned() -> None:
        connection = await aio_pika.connect(cloud.cloud.transport_url)
        try:
            channel = await connection.channel()
            await channel.default_exchange.publish(aio_pika.Message(
                body, delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                content_type="application/json"), routing_key="conductor")
        finally:
            await connection.close()

    asyncio.run(cast_unsigned())
    wait_until(lambda: _warnings_about(cloud, "conductor", request_id), timeout=10,
               message="the conductor logged no refusal of the forged cast")
    # Refused, not requeued: one refusal only, and the server is still there and active.
    asyncio.run(eventually(lambda: _queue_is_empty(cloud.cloud.transport_url), timeout=10))
    assert len(_warnings_about(cloud, "conductor", request_id)) == 1
    assert demo.compute.get_server(demo_server.id).status == "ACTIVE"


async def _queue_is_empty(url: str) -> bool:
    connection = await aio_pika.connect(url)
    try:
        channel = await connection.channel()
        queue = await channel.declare_queue("conductor", durable=True, passive=True)
        return queue.declaration_result.message_count == 0
    finally:
        await connection.close()


def test_a_process_without_the_signing_key_refuses_to_start(tmp_path):
    env = {name: value for name, value in os.environ.items()
           if not name.startswith("OVERCAST_")}
    env.update({"OVERCAST_STATE_DIR": str(tmp_path), "PYTHONUNBUFFERED": "1",
                # Unreachable on purpose: the refusal must come before any connection.
                "OVERCAST_TRANSPORT_URL": "amqp://guest:guest@127.0.0.1:1/"})
    result = subprocess.run([sys.executable, "-m", "services.scheduler"], env=env, cwd=ROOT,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "refuses to start" in result.stderr
    assert "OVERCAST_BUS_SIGNING_KEY_FILE" in result.stderr
    assert "Traceback" not in result.stderr
