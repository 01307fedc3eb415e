"""Run a command inside a running guest: ``python -m agents.compute.process.enter --pid PID
--start-time T [--cgroup PROCS_FILE ...] [-- COMMAND ...]``.

Joins the guest's IPC, UTS, network, PID and mount namespaces (setns) and its root (the
init's /proc/<pid>/root), forks so that the command is in the guest's PID namespace, moves
the child into the guest's cgroup, drops the capabilities a guest may not have, and execs the
command (a login shell without one) with a clean environment. Exits with its status.
"""
from __future__ import annotations

import argparse
import os
import signal
import sys

from agents.compute.process import caps, syscalls
from agents.compute.process.guests import proc_start_time

NAMESPACES = ("ipc", "uts", "net", "pid", "mnt")  # mnt last: it changes what paths mean


def _parse(argv: list[str]) -> tuple[argparse.Namespace, list[str]]:
    command: list[str] = []
    if "--" in argv:
        split = argv.index("--")
        argv, command = argv[:split], argv[split + 1:]
    parser = argparse.ArgumentParser(prog="agents.compute.process.enter")
    parser.add_argument("--pid", type=int, required=True)
    parser.add_argument("--start-time", required=True)
    parser.add_argument("--cgroup", action="append", default=[])
    return parser.parse_args(argv), command


def _say(message: str) -> None:
    sys.stderr.write(f"overcast: {message}\n")
    sys.stderr.flush()


def main(argv: list[str]) -> int:
    args, command = _parse(argv)
    if proc_start_time(args.pid) != args.start_time:
        _say("the guest is not running")
        return 125
    fds = {name: os.open(f"/proc/{args.pid}/ns/{name}", os.O_RDONLY) for name in NAMESPACES}
    root = os.open(f"/proc/{args.pid}/root", os.O_RDONLY | os.O_DIRECTORY)
    cgroups = [os.open(path, os.O_WRONLY) for path in args.cgroup]
    for name in NAMESPACES:
        syscalls.setns(fds[name])
        os.close(fds[name])
    os.fchdir(root)
    os.chroot(".")
    os.chdir("/")
    os.close(root)
    child = os.fork()
    if child == 0:
        for fd in cgroups:
            os.write(fd, b"0")  # "0": the writing process itself
            os.close(fd)
        caps.drop_to_guest()
        env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": "/root",
               "TERM": os.environ.get("TERM", "linux"), "USER": "root", "LOGNAME": "root"}
        argv_ = command or ["/bin/sh", "-l"]
        try:
            os.execvpe(argv_[0], argv_, env)
        except OSError as exc:
            _say(f"cannot run {argv_[0]}: {exc.strerror}")
            os._exit(127)
    for fd in cgroups:
        os.close(fd)
    for signum in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(signum, lambda sig, _frame: os.kill(child, sig))
    while True:
        try:
            _, status = os.waitpid(child, 0)
            return os.waitstatus_to_exitcode(status) if status >= 0 else 1
        except InterruptedError:
            continue


if __name__ == "__main__":
    code = main(sys.argv[1:])
    sys.exit(code if code >= 0 else 128 - code)
