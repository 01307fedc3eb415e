"""Console sessions with real processes: under a pty and under pipes, their output relayed in
order, their input fed, their exit status (128 + signal when killed) and their whole session
killed when the session ends."""
from __future__ import annotations

import asyncio
import os
import time

import psutil
import pytest

from agents.compute.console_contract import STDERR, STDOUT
from agents.compute.console_session import ConsoleSession, exit_status

DEADLINE = 20.0


async def _drain(session: ConsoleSession) -> dict[str, bytes]:
    seen = {STDOUT: b"", STDERR: b""}
    while (out := await asyncio.wait_for(session.read(), DEADLINE)) is not None:
        seen[out.stream] += out.data
    return seen


async def _read_until(session: ConsoleSession, marker: bytes) -> bytes:
    seen = b""
    while marker not in seen:
        out = await asyncio.wait_for(session.read(), DEADLINE)
        assert out is not None, f"output ended before {marker!r}: {seen!r}"
        seen += out.data
    return seen


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


async def _eventually(condition, timeout: float = DEADLINE) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


async def test_pipes_keep_stdout_and_stderr_apart_and_report_the_exit_status():
    session = await ConsoleSession.start(["sh", "-c", "echo out; echo err >&2; exit 3"],
                                         tty=False)
    try:
        seen = await _drain(session)
        assert seen == {STDOUT: b"out\n", STDERR: b"err\n"}
        assert await asyncio.wait_for(session.wait(), DEADLINE) == 3
    finally:
        await session.close()


async def test_pipes_feed_stdin_until_it_is_closed():
    session = await ConsoleSession.start(["cat"], tty=False)
    try:
        await session.write(b"hello\n")
        assert await _read_until(session, b"hello\n") == b"hello\n"
        await session.close_stdin()
        assert (await _drain(session))[STDOUT] == b""
        assert await asyncio.wait_for(session.wait(), DEADLINE) == 0
    finally:
        await session.close()


async def test_a_pty_is_the_controlling_terminal_with_the_size_asked_for():
    # /dev/tty opens only for a process with a controlling terminal.
    session = await ConsoleSession.start(
        ["sh", "-c", "stty size; exec 3</dev/tty && echo tty; read line; echo got:$line"],
        tty=True, rows=33, cols=101)
    try:
        first = await _read_until(session, b"tty\r\n")
        assert b"33 101" in first
        await session.write(b"abc\n")
        # The terminal echoes the input, then the shell answers.
        assert b"got:abc" in await _read_until(session, b"got:abc")
        await _drain(session)
        assert await asyncio.wait_for(session.wait(), DEADLINE) == 0
    finally:
        await session.close()


async def test_a_pty_resize_reaches_the_process():
    session = await ConsoleSession.start(["sh", "-c", "read x; stty size"], tty=True,
                                         rows=10, cols=20)
    try:
        session.resize(40, 120)
        await session.write(b"\n")
        assert b"40 120" in await _read_until(session, b"40 120")
    finally:
        await session.close()


async def test_end_of_input_on_a_pty_ends_cat():
    session = await ConsoleSession.start(["cat"], tty=True)
    try:
        await session.close_stdin()
        await _drain(session)
        assert await asyncio.wait_for(session.wait(), DEADLINE) == 0
    finally:
        await session.close()


@pytest.mark.parametrize("tty", [True, False])
async def test_kill_ends_the_whole_session_even_orphans(tty, tmp_path):
    pidfile = tmp_path / "orphan.pid"
    # The background sleep outlives its parent shell's subshell: an orphan in the session.
    session = await ConsoleSession.start(
        ["sh", "-c", f"(sleep 300 & echo $! > {pidfile}; wait) & sleep 300"], tty=tty)
    try:
        await _eventually(lambda: pidfile.exists() and pidfile.read_text().strip())
        orphan = int(pidfile.read_text())
        assert not _gone(orphan)
        await session.kill()
        await _eventually(lambda: _gone(orphan))
        assert await asyncio.wait_for(session.wait(), DEADLINE) == 128 + 9
    finally:
        await session.close()


def test_exit_status_of_a_signal_is_128_plus_it():
    assert exit_status(-15) == 143
    assert exit_status(4) == 4


async def test_close_releases_the_terminal():
    before = len(os.listdir("/proc/self/fd"))
    session = await ConsoleSession.start(["true"], tty=True)
    await _drain(session)
    await session.close()
    await asyncio.sleep(0)  # transports close on the next loop turn
    await _eventually(lambda: len(os.listdir("/proc/self/fd")) <= before)
