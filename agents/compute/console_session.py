"""A console session: a process on this hypervisor, under a pseudo-terminal or pipes, whose
bytes are relayed to and from a remote user. Imports no transport.

The argv comes from the driver's ``console_command`` (it enters the guest); this module only
runs it, relays its bytes and, when the session ends for any reason, kills everything the
session started: every descendant of the process and every process left in its session.
"""
from __future__ import annotations

import asyncio
import contextlib
import errno
import fcntl
import logging
import os
import signal
import struct
import termios
from collections.abc import Sequence

import psutil

from agents.compute.console_contract import STDERR, STDOUT, Output

logger = logging.getLogger(__name__)

_CHUNK = 64 * 1024
# What a terminal reads as end of input (VEOF, ^D) at the start of a line.
_EOT = b"\x04"


class _TerminalReader(asyncio.StreamReaderProtocol):
    """Reads a pty's master. Once no process holds the slave open, the master reads EIO:
    that is the end of the output, and what was read before it must still be read (a
    StreamReader given the error would raise it at once, dropping its buffer)."""

    def connection_lost(self, exc: Exception | None) -> None:
        if isinstance(exc, OSError) and exc.errno == errno.EIO:
            exc = None
        super().connection_lost(exc)


def _set_size(fd: int, rows: int, cols: int) -> None:
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


# Makes the process a new session's leader with the pty (its stdin) as controlling
# terminal, then execs the command: util-linux's setsid, since Python code between fork and
# exec (a preexec_fn) can crash or deadlock a process that runs threads, as the agent does.
# The child is not a process group leader, so setsid does not fork: the pid stays the
# session's (with --wait it would wait for a forked one and pass its status on).
_SETSID_CTTY = ("setsid", "--ctty", "--wait")


def exit_status(returncode: int) -> int:
    """A process's status as a shell reports it: its exit code, or 128 + the signal that
    killed it."""
    return 128 - returncode if returncode < 0 else returncode


class ConsoleSession:
    """One running console process. Start it with ``start``; read its output with ``read``
    until None; feed it with ``write``/``resize``/``close_stdin``; ``kill`` ends it.
    ``close`` (always call it) kills what is left and releases the terminal."""

    def __init__(self, process: asyncio.subprocess.Process, *, tty: bool,
                 readers: list[tuple[str, asyncio.StreamReader]],
                 writer: asyncio.StreamWriter | None, master: int | None) -> None:
        self.process = process
        self.tty = tty
        self._writer = writer
        self._master = master
        self._output: asyncio.Queue[Output | None] = asyncio.Queue(maxsize=16)
        self._open_streams = len(readers)
        self._pumps = [asyncio.get_running_loop().create_task(self._pump(name, reader))
                       for name, reader in readers]
        self._sid = process.pid  # a new session's leader: its pid is the session id
        self._read_transport: asyncio.BaseTransport | None = None

    @classmethod
    async def start(cls, argv: Sequence[str], *, tty: bool, rows: int = 0, cols: int = 0
                    ) -> ConsoleSession:
        """Run ``argv`` in a new session: under a new pty (its controlling terminal, sized
        ``rows`` x ``cols`` when given) or with three pipes. Raises ``OSError`` when it
        cannot be started."""
        if not argv:
            raise ValueError("a console session needs a command")
        loop = asyncio.get_running_loop()
        if not tty:
            process = await asyncio.create_subprocess_exec(
                *argv, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE, start_new_session=True)
            assert process.stdout is not None and process.stderr is not None
            return cls(process, tty=False, readers=[(STDOUT, process.stdout),
                                                    (STDERR, process.stderr)],
                       writer=process.stdin, master=None)
        master, slave = os.openpty()
        try:
            if rows and cols:
                _set_size(slave, rows, cols)
            process = await asyncio.create_subprocess_exec(
                *_SETSID_CTTY, *argv, stdin=slave, stdout=slave, stderr=slave)
        except BaseException:
            os.close(master)
            raise
        finally:
            os.close(slave)
        # The transports own duplicates; ``master`` itself stays for resizes until close.
        reader = asyncio.StreamReader(limit=_CHUNK)
        read_transport, _ = await loop.connect_read_pipe(
            lambda: _TerminalReader(reader),
            os.fdopen(os.dup(master), "rb", buffering=0))
        transport, protocol = await loop.connect_write_pipe(
            asyncio.streams.FlowControlMixin, os.fdopen(os.dup(master), "wb", buffering=0))
        writer = asyncio.StreamWriter(transport, protocol, None, loop)
        session = cls(process, tty=True, readers=[(STDOUT, reader)], writer=writer,
                      master=master)
        session._read_transport = read_transport
        return session

    async def _pump(self, name: str, reader: asyncio.StreamReader) -> None:
        while True:
            try:
                data = await reader.read(_CHUNK)
            except OSError as exc:
                # A pty's master reads EIO once no process holds the slave open.
                if exc.errno != errno.EIO:
                    logger.warning("console output ended: %s", exc)
                break
            if not data:
                break
            await self._output.put(Output(name, data))
        self._open_streams -= 1
        if self._open_streams == 0:
            await self._output.put(None)

    async def read(self) -> Output | None:
        """The next output, in order; None once the process closed all its output."""
        return await self._output.get()

    async def write(self, data: bytes) -> None:
        """Feed ``data`` to the process's input (waits while the process is not reading).
        Input after the process closed it is dropped."""
        if self._writer is None or self._writer.is_closing() or not data:
            return
        self._writer.write(data)
        with contextlib.suppress(ConnectionError, OSError):
            await self._writer.drain()

    def resize(self, rows: int, cols: int) -> None:
        """Tell the terminal (and so the process, by SIGWINCH) its new size; no-op on pipes."""
        if self._master is not None and rows and cols:
            with contextlib.suppress(OSError):
                _set_size(self._master, rows, cols)

    async def close_stdin(self) -> None:
        """End the process's input: the pipe is closed; a terminal reads end of file."""
        if self.tty:
            await self.write(_EOT)
        elif self._writer is not None and not self._writer.is_closing():
            self._writer.close()

    async def wait(self) -> int:
        """The process's exit status (see ``exit_status``) once it has ended."""
        return exit_status(await self.process.wait())

    def _session_processes(self) -> list[psutil.Process]:
        found: dict[int, psutil.Process] = {}
        with contextlib.suppress(psutil.Error):
            for child in psutil.Process(self.process.pid).children(recursive=True):
                found[child.pid] = child
        # Orphans are re-parented away from the tree, but stay in the session.
        for proc in psutil.process_iter():
            with contextlib.suppress(OSError, psutil.Error):
                if proc.pid != os.getpid() and os.getsid(proc.pid) == self._sid:
                    found[proc.pid] = proc
        return list(found.values())

    async def kill(self) -> None:
        """Kill the process and everything it started in its session. Idempotent."""
        # Found before the leader dies: its children are re-parented once it has gone (and
        # one that left the session is then found by no other sign).
        found = self._session_processes()
        if self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()
        for proc in found:
            with contextlib.suppress(psutil.Error):  # psutil checks it is the same process
                proc.send_signal(signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError):
            await self.process.wait()

    async def close(self) -> None:
        """Kill what is left of the session and release its pipes and terminal."""
        await self.kill()
        for pump in self._pumps:
            pump.cancel()
        await asyncio.gather(*self._pumps, return_exceptions=True)
        if self._writer is not None and not self._writer.is_closing():
            self._writer.close()
        if self._read_transport is not None:
            self._read_transport.close()
        if self._master is not None:
            with contextlib.suppress(OSError):
                os.close(self._master)
            self._master = None
