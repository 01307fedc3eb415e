"""``overcast up --local``, ``overcast status`` and ``overcast down``."""
from __future__ import annotations

import asyncio
import datetime as dt
import re
import subprocess
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from overcast.cli import chaos, cloudconfig, compose, local, ring, volumes
from overcast.cli import console as console_command

app = typer.Typer(help="Run and inspect an Overcast cloud.", no_args_is_help=True,
                  add_completion=False)
console = Console()
app.add_typer(chaos.app, name="chaos")
app.add_typer(ring.app, name="ring")
app.command(name="console")(console_command.console)

STATE_DIR = typer.Option(Path("state"), "--state-dir", envvar="OVERCAST_STATE_DIR",
                         help="Where the cloud keeps its databases, logs and pids.")
TRANSPORT = typer.Option("amqp://guest:guest@127.0.0.1:5672/", "--transport-url",
                         envvar="OVERCAST_TRANSPORT_URL", help="The RabbitMQ broker.")


def _cloud(state_dir: Path, transport_url: str, **kw: Any) -> local.LocalCloud:
    return local.LocalCloud(state_dir=state_dir.resolve(), transport_url=transport_url, **kw)


@app.command()
def up(local_mode: bool = typer.Option(False, "--local", help="Run every service as a local "
                                       "process instead of containers."),
       compose_mode: bool = typer.Option(False, "--compose", help="Run the compose stack, "
                                         "one container per host (the default)."),
       hosts: int = typer.Option(3, "--hosts", min=1, help="How many hypervisor hosts."),
       storage_nodes: int = typer.Option(3, "--storage-nodes", min=0,
                                         max=compose.MAX_STORAGE_NODES,
                                         help="Object storage nodes (0: no object storage)."),
       api_port: int = typer.Option(8770, "--api-port"),
       publish_bus: bool = typer.Option(False, "--publish-bus", help="With --compose: publish "
                                        "RabbitMQ on 127.0.0.1:5673 for tools on the host "
                                        "(the cloud's own user; see state/compose/"
                                        "secrets.json)."),
       image_port: int = typer.Option(9292, "--image-port"),
       volume_port: int = typer.Option(8776, "--volume-port",
                                       help="The volume service's Cinder API."),
       state_dir: Path = STATE_DIR, transport_url: str = TRANSPORT,
       clouds_file: Path = typer.Option(Path("clouds.yaml"), "--clouds-yaml"),
       timeout: float = typer.Option(90.0, "--timeout")) -> None:
    """Start the cloud and wait until every service and host is healthy."""
    if 0 < storage_nodes < 3:
        console.print("[red]--storage-nodes: 0 (no object storage) or at least 3, one per "
                      "replica[/]")
        raise typer.Exit(2)
    if compose_mode or not local_mode:
        _up_compose(compose.ComposeCloud(state_dir=state_dir.resolve() / "compose",
                                         hypervisors=hosts, storage_nodes=storage_nodes,
                                         api_port=api_port, volume_port=volume_port,
                                         publish_bus=publish_bus),
                    clouds_file=clouds_file, timeout=max(timeout, 180.0))
        return
    cloud = _cloud(state_dir, transport_url, hosts=hosts, api_port=api_port,
                   image_port=image_port, volume_port=volume_port,
                   storage_nodes=storage_nodes)
    broker = local.ensure_broker(transport_url)
    console.print(f"RabbitMQ: {broker} ({transport_url.split('@')[-1]})")
    passwords = cloudconfig.load_or_create_secrets(cloud.state_dir)
    extra = {"api": cloud.api_password_env(passwords)}
    pids = local.start_all(cloud, env=extra)
    try:
        local.wait_healthy(cloud, timeout=timeout)
    except RuntimeError as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(1) from None
    text = cloudconfig.clouds_yaml(auth_url=f"{cloud.api_url}/identity/v3",
                                   passwords=passwords)
    cloudconfig.write_clouds_yaml(clouds_file, text)
    console.print(f"[green]Overcast is up[/]: {len(pids)} processes, {hosts} hosts "
                  f"({cloud.compute_driver} driver"
                  f"{'' if cloud.compute_driver == 'process' else ': real guests need root'}), "
                  f"API at {cloud.api_url}, volumes at {cloud.volume_url}")
    _show_clouds_yaml(clouds_file, text)


def _show_clouds_yaml(clouds_file: Path, text: str) -> None:
    """Print clouds.yaml with its passwords masked: a terminal's scrollback and a CI log are
    no place for them (they are in the file, mode 0600)."""
    masked = re.sub(r"(?m)^(\s*password:).*$", r"\1 <in the file>", text)
    console.print(f"clouds.yaml written to {clouds_file.resolve()}:\n")
    console.print(masked, markup=False, highlight=False)
    console.print("Try: export OS_CLOUD=overcast-admin; openstack server list")


def _up_compose(cloud: compose.ComposeCloud, *, clouds_file: Path, timeout: float) -> None:
    try:
        text = compose.up(cloud, clouds_file=clouds_file, timeout=timeout,
                          say=lambda line: console.print(line, markup=False, highlight=False))
    except (RuntimeError, subprocess.CalledProcessError) as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(1) from None
    console.print(f"[green]Overcast is up[/] (compose project {cloud.project}): "
                  f"{cloud.hypervisors} hypervisors, {cloud.storage_nodes} storage nodes, "
                  f"API at {cloud.api_url} (identity {cloud.api_url}/identity/v3), "
                  f"volumes at {cloud.volume_url}/volume/v3, "
                  + (f"object storage at {cloud.object_url}, " if cloud.storage_nodes else "")
                  + (f"RabbitMQ at {cloud.transport_url.split('@')[-1]}" if cloud.publish_bus
                     else "RabbitMQ not published on the host (--publish-bus)"))
    _show_clouds_yaml(clouds_file, text)


@app.command()
def status(state_dir: Path = STATE_DIR, transport_url: str = TRANSPORT,
           compose_mode: bool = typer.Option(False, "--compose",
                                             help="The compose stack's containers.")) -> None:
    """Each process with its pid, and each service and host with its heartbeat age."""
    cloud = _cloud(state_dir, transport_url)
    if compose_mode:
        stack = compose.ComposeCloud(state_dir=state_dir.resolve() / "compose")
        table = Table(title=f"containers (compose project {stack.project})")
        for column in ("name", "service", "state", "health"):
            table.add_column(column)
        for item in stack.containers():
            table.add_row(item["Name"], item["Service"], item["State"], item.get("Health", ""))
    else:
        table = Table(title="processes")
        for column in ("name", "pid", "alive"):
            table.add_column(column)
        for name, pid in local.read_pids(cloud).items():
            alive = local.pid_alive(pid)
            table.add_row(name, str(pid), "[green]yes[/]" if alive else "[red]no[/]")
    console.print(table)
    try:
        if compose_mode:  # through the API: the stack's bus is not published by default
            passwords = cloudconfig.load_or_create_secrets(stack.state_dir)
            services = compose.service_states(stack, passwords)
        else:
            passwords = cloudconfig.load_or_create_secrets(cloud.state_dir)
            services = asyncio.run(local.service_states(cloud))
    except Exception as exc:  # noqa: BLE001 - shown to the operator
        console.print(f"[red]conductor not reachable: {exc}[/]")
        raise typer.Exit(1) from None
    console.print(_services_table("services (as the conductor sees them)", services))
    where = stack if compose_mode else cloud
    try:
        block = volumes.service_states(identity_url=f"{where.api_url}/identity/v3",
                                       volume_url=where.volume_url, passwords=passwords)
    except Exception as exc:  # noqa: BLE001 - shown to the operator
        console.print(f"[red]volume service not reachable at {where.volume_url}: {exc}[/]")
        raise typer.Exit(1) from None
    console.print(_services_table("block storage (as the volume service sees itself)", block))


def _heartbeat_age(seen: str | None, now: dt.datetime) -> str:
    if not seen:
        return "-"
    try:
        when = dt.datetime.fromisoformat(seen.replace("Z", "+00:00"))
    except ValueError:
        return seen
    if when.tzinfo is not None:
        when = when.astimezone(dt.UTC).replace(tzinfo=None)
    return f"{(now - when).total_seconds():.1f}s"


def _services_table(title: str, services: list[dict]) -> Table:
    """Services with their heartbeat age (Nova's and Cinder's os-services rows alike)."""
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    table = Table(title=title)
    for column in ("binary", "host", "zone", "status", "state", "heartbeat age"):
        table.add_column(column)
    for svc in services:
        state = "[green]up[/]" if svc["state"] == "up" else f"[red]{svc['state']}[/]"
        if svc.get("forced_down"):
            state += " (forced)"
        table.add_row(svc["binary"], svc["host"], svc.get("zone") or "", svc["status"], state,
                      _heartbeat_age(svc.get("updated_at"), now))
    return table


@app.command()
def down(state_dir: Path = STATE_DIR, transport_url: str = TRANSPORT,
         compose_mode: bool = typer.Option(False, "--compose", help="The compose stack."),
         volumes: bool = typer.Option(False, "--volumes", help="With --compose: remove the "
                                      "stack's named volumes (all its data) too.")) -> None:
    """Stop every process of the cloud gracefully (SIGTERM, then SIGKILL after 15 s)."""
    if compose_mode:
        compose.down(compose.ComposeCloud(), volumes=volumes)
        return
    stopped = local.stop_all(_cloud(state_dir, transport_url))
    console.print(f"stopped {len(stopped)} processes" if stopped else "nothing was running")


if __name__ == "__main__":
    app()
