"""``overcast chaos``: break a running cloud on purpose, by service or host name.

In compose mode the targets are containers: ``hypervisor-2`` is the container
``overcast-hypervisor-2``, ``api`` is ``overcast-api-1``, ``volume`` is ``overcast-volume-1``.
``partition`` cuts a container off every network by dropping all its traffic with nftables
inside its own network namespace, so its sockets stay open but nothing gets through, as when
a cable is pulled; ``heal`` removes that rule. In process mode (``make up-local``) the
targets are processes: kill/stop/pause/unpause act on them with signals, and start and
restart start one again as ``overcast up --local`` last started it (``local.start_again``).
"""
from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import docker
import typer
from docker.models.containers import Container
from rich.console import Console

from overcast.cli import local

PROJECT = "overcast"
_TABLE = "overcast_chaos"

app = typer.Typer(help="Kill, stop, pause, restart or partition any service or host.",
                  no_args_is_help=True)
console = Console()


class ComposeChaos:
    """Fault injection on the containers of a compose project."""

    def __init__(self, project: str = PROJECT, client: docker.DockerClient | None = None
                 ) -> None:
        self.project = project
        self.client = client or docker.from_env()

    def container(self, target: str) -> Container:
        """The container of ``target`` (``hypervisor-2``, ``api``, ``storage-1``...)."""
        candidates = [(target, 1)]
        service, _, number = target.rpartition("-")
        if service and number.isdigit():
            candidates.insert(0, (service, int(number)))
        found = self.client.containers.list(all=True, filters={
            "label": f"com.docker.compose.project={self.project}"})
        for service_name, index in candidates:
            for item in found:
                labels = item.labels
                if labels.get("com.docker.compose.service") == service_name and \
                        labels.get("com.docker.compose.container-number") == str(index):
                    return item
        raise LookupError(f"no container for {target!r} in compose project {self.project}")

    def kill(self, target: str) -> None:
        self.container(target).kill()

    def stop(self, target: str) -> None:
        self.container(target).stop(timeout=15)

    def start(self, target: str) -> None:
        self.container(target).start()

    def restart(self, target: str) -> None:
        self.container(target).restart(timeout=15)

    def pause(self, target: str) -> None:
        self.container(target).pause()

    def unpause(self, target: str) -> None:
        self.container(target).unpause()

    def _nft(self, target: str, script: str) -> None:
        container = self.container(target)
        container.reload()
        pid = container.attrs["State"]["Pid"]
        if not pid:
            raise RuntimeError(f"{target} is not running")
        subprocess.run(["nsenter", "-t", str(pid), "-n", "nft", "-f", "-"], input=script,
                       text=True, check=True, capture_output=True)

    def partition(self, target: str) -> None:
        """Drop every packet in and out of the container, loopback aside."""
        self._nft(target, f"""table inet {_TABLE} {{
  chain input {{ type filter hook input priority -300; policy drop; iif lo accept; }}
  chain output {{ type filter hook output priority -300; policy drop; oif lo accept; }}
}}
""")

    def heal(self, target: str) -> None:
        try:
            self._nft(target, f"delete table inet {_TABLE}\n")
        except subprocess.CalledProcessError as exc:
            if "No such file" not in (exc.stderr or ""):
                raise


class LocalChaos:
    """The same faults on a process-mode cloud, with signals."""

    def __init__(self, state_dir: Path) -> None:
        self.local = local
        self.cloud = local.LocalCloud(state_dir=state_dir.resolve())

    def _signal(self, target: str, sig: int) -> None:
        pids = self.local.read_pids(self.cloud)
        if target not in pids:
            raise LookupError(f"no process {target!r} under {self.cloud.state_dir}")
        os.kill(pids[target], sig)

    def kill(self, target: str) -> None:
        self.local.stop_process(self.cloud, target, sig=signal.SIGKILL, timeout=5)

    def stop(self, target: str) -> None:
        self.local.stop_process(self.cloud, target)

    def pause(self, target: str) -> None:
        self._signal(target, signal.SIGSTOP)

    def unpause(self, target: str) -> None:
        self._signal(target, signal.SIGCONT)

    def start(self, target: str) -> None:
        self.local.start_again(self.cloud, target)

    def restart(self, target: str) -> None:
        self.stop(target)
        self.start(target)

    def partition(self, target: str) -> None:
        raise RuntimeError("partition needs the compose stack (make up)")

    heal = partition


def _chaos(local_state: Path | None) -> ComposeChaos | LocalChaos:
    return LocalChaos(local_state) if local_state else ComposeChaos()


LOCAL = typer.Option(None, "--local", help="Act on the process-mode cloud in this state dir.")


def _command(action: str, help_text: str) -> None:
    def run(target: str = typer.Argument(..., help="e.g. hypervisor-2, conductor, volume, "
                                                   "rabbitmq"),
            local_state: Path | None = LOCAL) -> None:
        try:
            getattr(_chaos(local_state), action)(target)
        except (LookupError, RuntimeError, docker.errors.APIError,
                subprocess.CalledProcessError) as exc:
            console.print(f"[red]{action} {target}: {exc}[/]")
            raise typer.Exit(1) from None
        console.print(f"{action}: {target}")
    run.__doc__ = help_text
    app.command(action)(run)


for _action, _help in (
        ("kill", "SIGKILL the host or service, as a crash would."),
        ("stop", "Stop it gracefully (SIGTERM)."), ("start", "Start it again."),
        ("restart", "Stop it and start it again."),
        ("pause", "Freeze it: its sockets stay open, it answers nothing."),
        ("unpause", "Let a paused one run again."),
        ("partition", "Cut it off the network; it keeps running."),
        ("heal", "Undo a partition.")):
    _command(_action, _help)
