"""What the driver remembers of each guest (a JSON file per guest) and how it checks the
guest's processes: cheaply, since power states are polled every second."""
from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import signal
import time
from pathlib import Path

from agents.compute.contract import BlockDevice, InstancePayload
from services.volume.contract import ConnectionInfo


@dataclasses.dataclass
class GuestRecord:
    instance: InstancePayload
    storage: str
    disk_path: str
    image_key: str
    pid: int = 0            # the guest's init, as the host sees it; 0 when stopped
    start_time: str = ""    # its start time in /proc/<pid>/stat, so a reused pid is not it
    frozen: str = ""        # "", "paused" or "suspended"
    rescue_key: str = ""    # the image a rescue guest runs from, "" when not rescued
    # Its attached volumes, mounted while it runs: {"block_device", "connection"} in wire form.
    volumes: list[dict] = dataclasses.field(default_factory=list)

    @property
    def instance_id(self) -> str:
        return self.instance.id

    def attached(self) -> dict[str, tuple[BlockDevice, ConnectionInfo]]:
        """Its volumes: volume id -> (block device, connection)."""
        return {item["block_device"]["volume_id"]: (
            BlockDevice.from_wire(item["block_device"]),
            ConnectionInfo.from_wire(item["connection"])) for item in self.volumes}

    def set_attached(self, attached: dict[str, tuple[BlockDevice, ConnectionInfo]]) -> None:
        self.volumes = [{"block_device": bdm.to_wire(), "connection": conn.to_wire()}
                        for bdm, conn in attached.values()]

    def to_json(self) -> str:
        data = dataclasses.asdict(self)
        data["instance"] = self.instance.to_wire()
        return json.dumps(data)

    @classmethod
    def from_json(cls, text: str) -> GuestRecord:
        data = json.loads(text)
        data["instance"] = InstancePayload.from_wire(data["instance"])
        return cls(**data)


class RecordStore:
    """One file per guest under ``root``, written atomically."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def save(self, record: GuestRecord) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        path = self.root / f"{record.instance_id}.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(record.to_json())
        os.replace(tmp, path)

    def delete(self, instance_id: str) -> None:
        (self.root / f"{instance_id}.json").unlink(missing_ok=True)

    def load_all(self) -> list[GuestRecord]:
        if not self.root.is_dir():
            return []
        return [GuestRecord.from_json(path.read_text())
                for path in sorted(self.root.glob("*.json"))]


def proc_start_time(pid: int) -> str | None:
    """The start time of a live (not zombie) process, or None when there is none."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return None
    if fields[0] in ("Z", "X"):
        return None
    return fields[19]


def is_alive(record: GuestRecord) -> bool:
    return bool(record.pid) and proc_start_time(record.pid) == record.start_time


def namespace_members(pid: int) -> list[int]:
    """Every host pid in the PID namespace whose init is ``pid`` (including it)."""
    try:
        target = os.readlink(f"/proc/{pid}/ns/pid")
    except OSError:
        return []
    members = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.readlink(f"/proc/{entry}/ns/pid") == target:
                    members.append(int(entry))
            except OSError:
                continue
    return members


def _state(pid: int) -> str | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return None


def signal_all(pid: int, signum: int, *, timeout: float = 5.0) -> None:
    """Send ``signum`` to every process of the guest whose init is ``pid`` (the freezer's
    stand-in when the host's cgroups are read-only: SIGSTOP and SIGCONT). For SIGSTOP,
    returns once every one of them is stopped, so nothing of the guest runs after it."""
    members: set[int] = set()
    while True:  # again until no new process appeared (one may fork while we stop others)
        found = set(namespace_members(pid)) - members
        if not found:
            break
        for member in found:
            with contextlib.suppress(ProcessLookupError):
                os.kill(member, signum)
        members |= found
        if signum != signal.SIGSTOP:
            return
    deadline = time.monotonic() + timeout
    while any(_state(member) not in (None, "T", "Z", "X") for member in members):
        if time.monotonic() > deadline:
            raise TimeoutError(f"the processes of guest init {pid} did not stop")
        time.sleep(0.005)
