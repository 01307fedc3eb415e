"""``overcast ring``: create, show and change the object ring.

The ring file is what every storage node and the proxy read (they reload it when it
changes). ``add``/``remove``/``set-weight`` only change devices; ``rebalance`` moves
partitions and writes the next version.
"""
from __future__ import annotations

import os
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from overcast.ring import RingBuilder, RingError

app = typer.Typer(help="Create, show and change the object storage ring.",
                  no_args_is_help=True, add_completion=False)
console = Console()


def _default_ring() -> Path:
    """$OVERCAST_RING_PATH; else the compose stack's ring (``make up``) if there is one;
    else the process-mode cloud's (``make up-local``)."""
    if os.environ.get("OVERCAST_RING_PATH"):
        return Path(os.environ["OVERCAST_RING_PATH"])
    state = Path(os.environ.get("OVERCAST_STATE_DIR", "state"))
    compose_ring = state / "compose" / "ring" / "object.ring"
    return compose_ring if compose_ring.exists() else state / "object.ring"


RING = typer.Option(None, "--ring", help="The ring file (default: $OVERCAST_RING_PATH, "
                    "else state/compose/ring/object.ring, else state/object.ring).")


def _path(ring: Path | None) -> Path:
    return ring or _default_ring()


def _load(path: Path) -> RingBuilder:
    try:
        return RingBuilder.load(path)
    except RingError as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(1) from None


@app.command()
def create(part_power: int = typer.Option(10, "--part-power", min=1, max=24),
           replicas: int = typer.Option(3, "--replicas", min=1),
           device: list[str] = typer.Option([], "--device", help="name=host:port[@zone] "
                                            "(repeatable)"),
           force: bool = typer.Option(False, "--force", help="Replace an existing ring."),
           ring: Path | None = RING) -> None:
    """Create a ring (and rebalance it when devices are given)."""
    path = _path(ring)
    if path.exists() and not force:
        console.print(f"[red]{path} exists; use --force to replace it[/]")
        raise typer.Exit(1)
    devices = []
    for spec in device:
        name, _, rest = spec.partition("=")
        address, _, zone = rest.partition("@")
        devices.append((name, address, int(zone) if zone else None))
    builder = RingBuilder.with_devices(devices, part_power=part_power, replicas=replicas)
    builder.save(path)
    console.print(f"created {path}: part power {part_power}, {replicas} replicas, "
                  f"{len(builder.devices)} devices")


@app.command()
def show(ring: Path | None = RING) -> None:
    """Partitions, replicas, devices with zones and weights, and the balance."""
    path = _path(ring)
    builder = _load(path)
    console.print(f"{path}: version {builder.version}, {builder.partitions} partitions "
                  f"(power {builder.part_power}), {builder.replicas} replicas, "
                  f"balance {builder.balance():.2f}%")
    wanted, counts = builder.wanted(), builder.counts()
    table = Table()
    for column in ("id", "name", "zone", "weight", "address", "partitions", "wanted",
                   "balance %"):
        table.add_column(column)
    for dev in sorted(builder.devices.values(), key=lambda d: d["id"]):
        want = wanted.get(dev["id"], 0.0)
        have = counts.get(dev["id"], 0)
        balance = f"{(have - want) * 100 / want:+.2f}" if want else "-"
        table.add_row(str(dev["id"]), dev["name"], str(dev["zone"]), f"{dev['weight']:g}",
                      dev["address"], str(have), f"{want:.1f}", balance)
    console.print(table)


@app.command()
def add(name: str, address: str = typer.Option("", "--address", help="host:port of its "
                                               "gRPC server (default: <name>:6200)"),
        zone: int | None = typer.Option(None, "--zone", help="Default: a new zone."),
        weight: float = typer.Option(100.0, "--weight"),
        ring: Path | None = RING) -> None:
    """Add a storage node (then run rebalance)."""
    path = _path(ring)
    builder = _load(path)
    try:
        dev = builder.add_device(name=name, address=address or f"{name}:6200", zone=zone,
                                 weight=weight)
    except RingError as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(1) from None
    builder.save(path)
    console.print(f"added {dev.name} (id {dev.id}, zone {dev.zone}, weight {dev.weight:g}, "
                  f"{dev.address}); run `overcast ring rebalance` to move partitions to it")


@app.command()
def remove(name: str, ring: Path | None = RING) -> None:
    """Take a storage node out (its partitions move at the next rebalance)."""
    path = _path(ring)
    builder = _load(path)
    try:
        builder.remove_device(name)
    except RingError as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(1) from None
    builder.save(path)
    console.print(f"{name} marked for removal; run `overcast ring rebalance`")


@app.command("set-weight")
def set_weight(name: str, weight: float, ring: Path | None = RING) -> None:
    """Change a device's weight (then run rebalance)."""
    path = _path(ring)
    builder = _load(path)
    try:
        builder.set_weight(name, weight)
    except RingError as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(1) from None
    builder.save(path)
    console.print(f"{name} weight set to {weight:g}")


@app.command()
def rebalance(ring: Path | None = RING) -> None:
    """Reassign partitions, moving as few as possible; writes the next ring version."""
    path = _path(ring)
    builder = _load(path)
    try:
        moved = builder.rebalance()
    except RingError as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(1) from None
    builder.save(path)
    console.print(f"rebalanced: {moved} partition replicas moved, balance "
                  f"{builder.balance():.2f}%, version {builder.version}")
