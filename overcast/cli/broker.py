"""The cloud's RabbitMQ: its own user and vhost, and a host broker that listens on loopback.

A compose stack's broker gets ``definitions()`` (user ``overcast`` with the cloud's generated
password, vhost ``overcast``, permissions there and nowhere else) as a secret file, imports
them at every start and deletes ``guest`` (``compose/rabbitmq/overcast-rabbitmq``).
``HostBroker`` starts Debian's ``rabbitmq-server`` on this host, as ``overcast up --local``
and the integration tests do when no broker answers, with AMQP, epmd and the Erlang
distribution port on 127.0.0.1 only.
"""
from __future__ import annotations

import base64
import dataclasses
import hashlib
import os
import shutil
import subprocess
from pathlib import Path
from urllib.parse import quote

BROKER_USER = "overcast"
BROKER_VHOST = "overcast"
# What makes a broker started on this host reachable from this host only. epmd is shared by
# every Erlang node of the host; the first node to start it decides its address.
LOOPBACK_ENVIRONMENT = {
    "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
    "ERL_EPMD_ADDRESS": "127.0.0.1",
    "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "-kernel inet_dist_use_interface {127,0,0,1}",
}


def transport_url(*, password: str, host: str, port: int, user: str = BROKER_USER,
                  vhost: str = BROKER_VHOST) -> str:
    """``amqp://user:password@host:port/vhost``, each part quoted for a URL."""
    return (f"amqp://{quote(user, safe='')}:{quote(password, safe='')}@{host}:{port}/"
            f"{quote(vhost, safe='')}")


def password_hash(password: str, *, salt: bytes | None = None) -> str:
    """RabbitMQ's ``rabbit_password_hashing_sha256`` form of ``password``:
    base64(salt + sha256(salt + password)) with a 4-byte salt."""
    salt = os.urandom(4) if salt is None else salt
    return base64.b64encode(salt + hashlib.sha256(salt + password.encode()).digest()).decode()


def definitions(password: str, *, user: str = BROKER_USER, vhost: str = BROKER_VHOST
                ) -> dict:
    """RabbitMQ definitions (``rabbitmqctl import_definitions``): the cloud's user, with no
    management tags, its vhost and its permissions on that vhost only. The broker never sees
    the password itself, only its salted hash."""
    return {"users": [{"name": user, "password_hash": password_hash(password),
                       "hashing_algorithm": "rabbit_password_hashing_sha256", "tags": []}],
            "vhosts": [{"name": vhost}],
            "permissions": [{"user": user, "vhost": vhost, "configure": ".*",
                             "write": ".*", "read": ".*"}]}


def _tool(name: str) -> str:
    return shutil.which(name) or f"/usr/sbin/{name}"


@dataclasses.dataclass(frozen=True)
class HostBroker:
    """Debian's rabbitmq-server on this host, listening on 127.0.0.1 only.

    ``environ`` adds RabbitMQ's own variables, for a broker of one's own beside the default
    one (``RABBITMQ_NODENAME``, ``RABBITMQ_NODE_PORT``, ``RABBITMQ_DIST_PORT``,
    ``RABBITMQ_MNESIA_BASE``, ``RABBITMQ_LOG_BASE`` ...)."""

    environ: tuple[tuple[str, str], ...] = ()

    def environment(self) -> dict[str, str]:
        return {**os.environ, **LOOPBACK_ENVIRONMENT, **dict(self.environ)}

    def installed(self) -> bool:
        return Path(_tool("rabbitmq-server")).exists()

    def start(self) -> None:
        """Start the server in the background (``-detached``); it answers some seconds later."""
        if not self.installed():
            raise RuntimeError("RabbitMQ is not running and rabbitmq-server is not installed "
                               "(apt-get install rabbitmq-server)")
        subprocess.run([_tool("rabbitmq-server"), "-detached"], env=self.environment(),
                       check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def ctl(self, *args: str, check: bool = True, stdin: str | None = None,
            timeout: float = 120.0) -> subprocess.CompletedProcess[str]:
        """``rabbitmqctl ARGS`` against this broker's node."""
        return subprocess.run([_tool("rabbitmqctl"), *args], env=self.environment(),
                              input=stdin, check=check, capture_output=True, text=True,
                              timeout=timeout)

    def stop(self) -> None:
        """Stop the node and wait until it is gone (``rabbitmqctl stop``)."""
        self.ctl("stop", check=False)
