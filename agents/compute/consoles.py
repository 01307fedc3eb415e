"""Console access on a compute host: opens a session on the driver's argv for a guest and
relays it. Imports no transport; ``console_grpc.py`` translates the gRPC stream to and from
the values here.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

from agents.compute.console_contract import (
    END_OF_INPUT,
    RESIZE,
    STDIN,
    ConsoleInput,
    ConsoleRequest,
    Exited,
    Opened,
    Output,
)
from agents.compute.console_session import ConsoleSession
from agents.compute.driver import ComputeDriver, GuestNotFound, SpawnError
from overcast import errors

logger = logging.getLogger(__name__)


# Sessions one host runs at once: each is a process tree, and a token works until it
# expires, so without a bound one user could start any number of them.
MAX_SESSIONS = 32


class ConsoleManager:
    """Runs console sessions for the guests of one host's driver, at most ``max_sessions``
    at once."""

    def __init__(self, *, host: str, driver: ComputeDriver,
                 max_sessions: int = MAX_SESSIONS) -> None:
        self.host = host
        self.driver = driver
        self.max_sessions = max_sessions
        self.sessions = 0

    def command_for(self, request: ConsoleRequest) -> list[str]:
        """The argv that enters the guest; NotFound or Conflict when there is no such
        running guest here."""
        request.check()
        try:
            return list(self.driver.console_command(request.instance_id,
                                                    request.command or None))
        except GuestNotFound:
            raise errors.NotFound(f"Instance {request.instance_id} is not on host "
                                  f"{self.host}.") from None
        except SpawnError as exc:
            raise errors.Conflict(f"Instance {request.instance_id} is not running: "
                                  f"{exc}") from None
        except NotImplementedError as exc:
            raise errors.Conflict(str(exc)) from None

    async def open(self, request: ConsoleRequest) -> ConsoleSession:
        """Start a session, counted in ``sessions`` until ``close`` (``attach`` does both)."""
        argv = self.command_for(request)
        if self.sessions >= self.max_sessions:
            raise errors.Conflict(f"Host {self.host} already runs {self.max_sessions} "
                                  "console sessions; try again later.")
        self.sessions += 1  # before the first await, so concurrent opens count each other
        try:
            session = await ConsoleSession.start(argv, tty=request.tty, rows=request.rows,
                                                 cols=request.cols)
        except BaseException as exc:
            self.sessions -= 1
            if isinstance(exc, OSError):
                raise errors.Conflict(f"The console of {request.instance_id} could not be "
                                      f"started: {exc.strerror or exc}") from None
            raise
        logger.info("console session for %s opened (%s)", request.instance_id,
                    "tty" if request.tty else "command")
        return session

    async def close(self, session: ConsoleSession) -> None:
        """End a session from ``open``: its processes are killed."""
        try:
            await session.close()
        finally:
            self.sessions -= 1

    async def attach(self, request: ConsoleRequest, inputs: AsyncIterator[ConsoleInput]
                     ) -> AsyncIterator[Opened | Output | Exited]:
        """Open a session and relay it: yields ``Opened``, its output in order and then
        ``Exited``.
        ``inputs`` ending means end of input. However the caller stops (finishing,
        cancelling, closing this generator), the session's processes are killed."""
        session = await self.open(request)
        feeder = asyncio.get_running_loop().create_task(_feed(session, inputs))
        # When the session's process ends, so does its session: what it left behind (a
        # background job holding the terminal) is killed, which also ends the output.
        reaper = asyncio.get_running_loop().create_task(_reap(session))
        try:
            yield Opened()
            while (output := await session.read()) is not None:
                yield output
            yield Exited(await session.wait())
        finally:
            feeder.cancel()
            reaper.cancel()
            await asyncio.gather(feeder, reaper, return_exceptions=True)
            await self.close(session)
            logger.info("console session for %s closed", request.instance_id)


async def _feed(session: ConsoleSession, inputs: AsyncIterator[ConsoleInput]) -> None:
    async for item in inputs:
        if item.kind == STDIN:
            await session.write(item.data)
        elif item.kind == RESIZE:
            session.resize(item.rows, item.cols)
        elif item.kind == END_OF_INPUT:
            await session.close_stdin()
    if not session.tty:
        await session.close_stdin()


async def _reap(session: ConsoleSession) -> None:
    await session.process.wait()
    await session.kill()
