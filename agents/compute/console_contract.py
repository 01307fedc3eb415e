"""The values of a console session, shared by the compute agent's console port, its typed
client (``console_client.py``) and the tests. Imports no transport.

A session opens with a ``ConsoleRequest`` and answers ``Opened`` once it runs; the caller
then sends ``ConsoleInput`` (stdin bytes, a resize, the end of input) and receives
``Output`` (bytes on ``STDOUT`` or ``STDERR``) and finally ``Exited``.
"""
from __future__ import annotations

import dataclasses

from overcast import errors

STDOUT = "stdout"
STDERR = "stderr"


@dataclasses.dataclass(frozen=True)
class Output:
    """Bytes the session's process wrote: on ``STDOUT`` (all of a tty's output) or
    ``STDERR``."""

    stream: str
    data: bytes


MAX_ARGS = 256
MAX_ARGV_BYTES = 64 * 1024
MAX_TERMINAL_SIDE = 10_000

STDIN = "stdin"
RESIZE = "resize"
END_OF_INPUT = "end_of_input"


@dataclasses.dataclass(frozen=True, kw_only=True)
class ConsoleRequest:
    """What the first message of a console session asks for."""

    instance_id: str
    command: tuple[str, ...] = ()  # empty: a login shell
    tty: bool = True
    rows: int = 0
    cols: int = 0

    def check(self) -> None:
        """Raise ``BadRequest`` unless this is a request a session can be opened for."""
        if not self.instance_id:
            raise errors.BadRequest("A console session must name the instance.")
        try:
            size = sum(len(arg.encode()) for arg in self.command)
        except (AttributeError, UnicodeEncodeError):
            raise errors.BadRequest("A console command is a list of strings of valid "
                                    "Unicode.") from None
        if len(self.command) > MAX_ARGS or size > MAX_ARGV_BYTES:
            raise errors.BadRequest(f"The console command is longer than {MAX_ARGS} "
                                    f"arguments or {MAX_ARGV_BYTES} bytes.")
        if any("\x00" in arg for arg in self.command):
            raise errors.BadRequest("A console command argument cannot hold a NUL byte.")
        if not (0 <= self.rows <= MAX_TERMINAL_SIDE and 0 <= self.cols <= MAX_TERMINAL_SIDE):
            raise errors.BadRequest("The terminal size is out of range.")


@dataclasses.dataclass(frozen=True)
class ConsoleInput:
    """A later message of the session: ``STDIN`` bytes, a ``RESIZE``, or ``END_OF_INPUT``."""

    kind: str
    data: bytes = b""
    rows: int = 0
    cols: int = 0


@dataclasses.dataclass(frozen=True)
class Opened:
    """The session runs: input may be sent now (the first event of a session)."""


@dataclasses.dataclass(frozen=True)
class Exited:
    """The session's process ended with ``status`` (128 + signal when killed)."""

    status: int
