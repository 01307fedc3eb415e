"""The cloud's broker user, as RabbitMQ definitions and as a transport URL."""
from __future__ import annotations

import base64
import hashlib

from overcast.cli import broker


def test_password_hash_is_rabbitmqs_salted_sha256():
    salt = b"\x01\x02\x03\x04"
    decoded = base64.b64decode(broker.password_hash("s3cret", salt=salt))
    assert decoded == salt + hashlib.sha256(salt + b"s3cret").digest()
    assert broker.password_hash("s3cret") != broker.password_hash("s3cret")  # a fresh salt


def test_transport_url_quotes_the_password():
    assert broker.transport_url(password="a/b@c", host="rabbitmq", port=5672) == \
        "amqp://overcast:a%2Fb%40c@rabbitmq:5672/overcast"


def test_a_host_broker_listens_on_loopback_only():
    env = broker.HostBroker(environ=(("RABBITMQ_NODE_PORT", "5699"),)).environment()
    assert env["RABBITMQ_NODE_IP_ADDRESS"] == "127.0.0.1"
    assert env["ERL_EPMD_ADDRESS"] == "127.0.0.1"
    assert "inet_dist_use_interface {127,0,0,1}" in env["RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS"]
    assert env["RABBITMQ_NODE_PORT"] == "5699"
