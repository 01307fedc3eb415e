"""The compute agent's console port: a gRPC server for ``ConsoleService`` that only the
cloud's own services can use (their request contexts are signed with the cloud's key)."""
from __future__ import annotations

import logging
import socket

from agents.compute.console_grpc import ConsoleServicer
from agents.compute.consoles import ConsoleManager
from agents.compute.driver import ComputeDriver
from overcast.bus.signing import Signer
from overcast.grpc import GrpcServer
from protos.overcast.console.v1 import console_pb2_grpc

logger = logging.getLogger(__name__)

_WILDCARDS = ("", "0.0.0.0", "::", "[::]")


def advertised_address(listen: str, *, port: int, host: str, advertise: str = "") -> str:
    """Where other processes reach a console server listening on ``listen`` (bound to
    ``port``): ``advertise`` when set, else the listen address, with this machine's own
    address in place of a wildcard (in a container: its address on the cloud network; the
    cloud's host name, such as ``hypervisor-2``, is not a DNS name there)."""
    if advertise:
        return advertise
    bind = listen.rpartition(":")[0]
    if bind in _WILDCARDS:
        try:
            bind = socket.gethostbyname(socket.gethostname())
        except OSError:
            bind = host
    return f"{bind}:{port}"


class ConsoleEndpoint:
    """Serves console sessions for ``driver``'s guests on ``listen`` ("host:port"; port 0
    takes a free one). ``address`` is what the agent reports to the conductor."""

    def __init__(self, *, listen: str, host: str, driver: ComputeDriver, signing_key: str,
                 advertise: str = "") -> None:
        self.listen = listen
        self.host = host
        self.advertise = advertise
        self.server = GrpcServer(listen, signer=Signer(signing_key))
        self.server.add(console_pb2_grpc.add_ConsoleServiceServicer_to_server,
                        ConsoleServicer(ConsoleManager(host=host, driver=driver)))
        self.address = ""

    async def start(self) -> None:
        await self.server.start()
        if not self.server.port:
            raise RuntimeError(f"the console port could not listen on {self.listen}")
        self.address = advertised_address(self.listen, port=self.server.port, host=self.host,
                                          advertise=self.advertise)
        logger.info("console sessions served at %s", self.address)

    async def stop(self) -> None:
        # Open sessions end with the server; their processes are killed as their streams go.
        await self.server.stop(grace=1.0)
