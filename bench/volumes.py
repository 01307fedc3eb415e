"""Block storage benchmark: the volume service on a process-mode cloud with a real guest.

Run as root (the ``process`` driver): ``.venv/bin/python bench/volumes.py``. It starts its
own cloud (``running_cloud(hosts=1, driver="process", storage_nodes=3)``), measures, prints
each figure with its conditions and writes JSON to ``bench/results/volumes.json``.

What is measured (all times from ``time.perf_counter`` in this process):

- **create**: ``POST /volumes`` of an empty 1 GiB volume until ``GET /volumes/{id}`` says
  ``available``, polled every 5 ms straight over HTTP (one httpx client, the token reused);
  each volume is deleted (untimed) before the next.
- **attach**: from just before ``POST /servers/{id}/os-volume_attachments`` to
  (a) ``in-use`` on the volume API (polled every 10 ms; the agent completes the attachment
  after mounting), and (b) the first write inside the guest's view of the volume: a thread
  polls ``/proc/<guest init>/mounts`` every 1 ms for a mount under ``/mnt/volumes/``, then
  writes and fsyncs a 4 KiB file through ``/proc/<guest init>/root/mnt/volumes/<dev>/``
  (the guest's own mount namespace, checked to be the volume's file system and not the
  directory under it). The console is not on the timed path; once, the guest's console
  reads the file back to prove the host's write is what the guest sees. A detach (untimed)
  follows each attach.
- **backup**: a new 1 GiB volume backed up empty (what its fresh ext4 costs), then filled
  with a 256 MiB file of random data (written on the host through a loop mount before any
  attach) and backed up in full: ``POST /backups`` until the backup is
  ``available`` (polled every 50 ms: tighter polling costs the service measurable CPU
  over tens of seconds); MB/s (10^6 bytes a second) counts the bytes stored as chunk objects
  (listed from the object store), and separately the file's 256 MiB. Then 4 MiB of the
  file are rewritten and an incremental backup is timed the same way. For comparison, the
  object store's own rates in the same run: 64 x 4 MiB objects PUT then GET 4 at a time
  (the backup's chunk size and concurrency), and one 256 MiB object PUT then GET.
- **restore**: ``POST /backups/{id}/restore`` of the full backup into a new volume until that
  volume is ``available`` (MB/s of the chunk bytes read back); the restored file's MD5 is
  checked against the original.

Conditions printed and stored with each part: load averages before and after, how busy the
machine's CPUs were meanwhile (from /proc/stat, everything included), ``docker ps`` count,
and how many overcast service processes of other clouds were running.
"""
from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from overcast.cli import local  # noqa: E402 - after the sys.path entry
from overcast.testing.cloud import running_cloud  # noqa: E402 - likewise

MiB = 2**20
CHUNK_MIB = 4  # the backups' chunk size (services/volume/backups.py), for the plain transfers
MB = 1e6  # rates are in MB/s (10^6 bytes), as bench/objects.py reports them
TARGET = {"create_p50_s": 0.5, "attach_p50_s": 1.0, "backup_mb_s": 50.0}
VOLUME_ERRORS = {"error", "error_restoring", "error_extending", "error_deleting"}


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def spread(values: list[float]) -> dict:
    return {"n": len(values), "p50_s": statistics.median(values), "p90_s": pct(values, 0.9),
            "max_s": max(values), "min_s": min(values)}


def cpu_ticks() -> tuple[int, int]:
    """(busy, total) jiffies of the whole machine, from /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields) - idle, sum(fields)


def overcast_processes(own: set[int]) -> int:
    """Overcast service processes on the machine that are not this bench's cloud (other
    engineers' clouds and compose stacks)."""
    count = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) in own:
            continue
        try:
            args = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"-m" in args and any(a.startswith((b"services.", b"agents.")) for a in args):
            count += 1
    return count


def conditions_now(own: set[int] = frozenset()) -> dict:
    """What else runs: load averages, docker containers, other clouds' processes."""
    docker = subprocess.run(["docker", "ps", "-q"], capture_output=True, text=True)
    return {"loadavg": [round(x, 2) for x in os.getloadavg()],
            "docker_containers": len(docker.stdout.split()) if docker.returncode == 0
            else None,
            "other_overcast_processes": overcast_processes(set(own)),
            "cpu_ticks": cpu_ticks()}


def static_conditions() -> dict:
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True).stdout.strip()
    mem = next(line for line in Path("/proc/meminfo").read_text().splitlines()
               if line.startswith("MemTotal"))
    return {"mode": "process", "driver": "process", "hosts": 1, "storage_nodes": 3,
            "cpus": os.cpu_count(), "mem_gib": round(int(mem.split()[1]) / 2**20, 1),
            "kernel": platform.release(), "python": platform.python_version(),
            "commit": commit, "date": time.strftime("%Y-%m-%d %H:%M")}


class Api:
    """Plain HTTP to the cloud's endpoints with one token: cheap enough to poll tightly."""

    def __init__(self, conn) -> None:
        self.token = conn.session.get_token()
        self.volume = conn.block_storage.get_endpoint().rstrip("/")
        self.compute = conn.compute.get_endpoint().rstrip("/")
        self.objects = conn.object_store.get_endpoint().rstrip("/")
        self.http = httpx.Client(headers={"X-Auth-Token": self.token}, timeout=120)

    def call(self, method: str, url: str, **kwargs) -> httpx.Response:
        response = self.http.request(method, url, **kwargs)
        if response.status_code >= 400:
            raise RuntimeError(f"{method} {url}: {response.status_code} {response.text[:300]}")
        return response

    def volume_status(self, volume_id: str) -> str | None:
        response = self.http.get(f"{self.volume}/volumes/{volume_id}")
        if response.status_code == 404:
            return None
        response.raise_for_status()
        status = response.json()["volume"]["status"]
        if status in VOLUME_ERRORS:
            raise RuntimeError(f"volume {volume_id} is {status}")
        return status

    def wait_volume(self, volume_id: str, status: str | None, *, poll: float,
                    timeout: float = 300) -> float:
        """perf_counter when the volume has ``status`` (None: is gone)."""
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            if self.volume_status(volume_id) == status:
                return time.perf_counter()
            time.sleep(poll)
        raise TimeoutError(f"volume {volume_id} never {status or 'gone'}")

    def wait_backup(self, backup_id: str, *, poll: float = 0.05, timeout: float = 600) -> float:
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            backup = self.call("GET", f"{self.volume}/backups/{backup_id}").json()["backup"]
            if backup["status"] == "available":
                return time.perf_counter()
            if backup["status"] == "error":
                raise RuntimeError(f"backup {backup_id}: {backup.get('fail_reason')}")
            time.sleep(poll)
        raise TimeoutError(f"backup {backup_id} never available")

    def create_volume(self, name: str, size: int = 1) -> str:
        return self.call("POST", f"{self.volume}/volumes", json={
            "volume": {"size": size, "name": name}}).json()["volume"]["id"]

    def delete_volume(self, volume_id: str) -> None:
        self.call("DELETE", f"{self.volume}/volumes/{volume_id}")
        self.wait_volume(volume_id, None, poll=0.05)


# -- create ------------------------------------------------------------------------------

def bench_create(api: Api, count: int) -> dict:
    times = []
    for index in range(count):
        started = time.perf_counter()
        volume_id = api.create_volume(f"create-{index}")
        times.append(api.wait_volume(volume_id, "available", poll=0.005) - started)
        api.delete_volume(volume_id)
    return spread(times)


# -- attach ------------------------------------------------------------------------------

def guest_pid(state_dir: Path, server_id: str) -> int:
    """The guest init's host pid, from the process driver's record of the guest."""
    for record in state_dir.rglob(f"guests/{server_id}.json"):
        pid = json.loads(record.read_text()).get("pid")
        if pid:
            return int(pid)
    raise RuntimeError(f"no running guest record for {server_id}")


def volume_mount(pid: int) -> str | None:
    """The guest's mount point under /mnt/volumes/, as its own mount table shows it."""
    with open(f"/proc/{pid}/mounts") as table:
        for line in table:
            point = line.split()[1]
            if point.startswith("/mnt/volumes/"):
                return point
    return None


class GuestWriteProbe(threading.Thread):
    """Polls the guest's mount table; once a volume is there, writes a file onto it."""

    def __init__(self, pid: int, name: str) -> None:
        super().__init__(daemon=True)
        self.pid, self.name = pid, name
        self.mounted_at = self.written_at = 0.0
        self.mount_point = ""
        self.error: BaseException | None = None
        self.stop = threading.Event()

    def run(self) -> None:
        try:
            while not self.stop.is_set():
                point = volume_mount(self.pid)
                if point:
                    self.mounted_at = time.perf_counter()
                    self.mount_point = point
                    break
                time.sleep(0.001)
            else:
                return
            root = Path(f"/proc/{self.pid}/root")
            directory = root / point.lstrip("/")
            if os.stat(directory).st_dev == os.stat(directory.parent).st_dev:
                raise RuntimeError(f"{point} is not a mount in the guest")
            fd = os.open(directory / self.name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            try:
                os.write(fd, b"w" * 4096)
                os.fsync(fd)
            finally:
                os.close(fd)
            self.written_at = time.perf_counter()
        except BaseException as exc:  # noqa: BLE001 - reported by the caller
            self.error = exc


def console(cloud, server_id: str, *command: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "overcast.cli.main", "console", "--os-cloud", "overcast-admin",
         server_id, "--", *command], env=cloud.env, capture_output=True, text=True,
        timeout=120, check=True)
    return done.stdout


def boot_guest(conn, name: str) -> str:
    image_id = conn.image.find_image("cirros").id
    server = conn.compute.create_server(name=name, image_id=image_id, flavor_id="1",
                                        networks="none")
    deadline = time.time() + 300
    while (status := conn.compute.get_server(server.id).status) != "ACTIVE":
        if status == "ERROR" or time.time() > deadline:
            raise RuntimeError(f"server {server.id} is {status}")
        time.sleep(0.05)
    return server.id


def bench_attach(cloud, api: Api, server_id: str, count: int) -> dict:
    pid = guest_pid(cloud.cloud.state_dir, server_id)
    volume_id = api.create_volume("attach-me")
    api.wait_volume(volume_id, "available", poll=0.01)
    url = f"{api.compute}/servers/{server_id}/os-volume_attachments"
    in_use, written, mounted, devices = [], [], [], []
    proved = ""
    for index in range(count):
        if volume_mount(pid):
            raise RuntimeError("a volume is still mounted in the guest before attaching")
        probe = GuestWriteProbe(pid, f"probe-{index}")
        probe.start()
        started = time.perf_counter()
        answer = api.call("POST", url, json={"volumeAttachment": {"volumeId": volume_id}})
        devices.append(answer.json()["volumeAttachment"]["device"])
        in_use.append(api.wait_volume(volume_id, "in-use", poll=0.01, timeout=60) - started)
        probe.join(60)
        probe.stop.set()
        if probe.error is not None or not probe.written_at:
            raise RuntimeError(f"attach {index}: no write in the guest ({probe.error!r})")
        written.append(probe.written_at - started)
        mounted.append(probe.mounted_at - started)
        if index == 0:  # the guest itself reads what the host wrote into its view
            proved = console(cloud, server_id, "sh", "-c",
                             f"wc -c < {probe.mount_point}/probe-0").strip()
            if proved != "4096":
                raise RuntimeError(f"the guest does not see the probe file: {proved!r}")
        api.call("DELETE", f"{url}/{volume_id}")
        api.wait_volume(volume_id, "available", poll=0.02, timeout=60)
        deadline = time.perf_counter() + 30
        while volume_mount(pid):
            if time.perf_counter() > deadline:
                raise RuntimeError("the volume stayed mounted in the guest after detach")
            time.sleep(0.01)
    api.delete_volume(volume_id)
    return {"in_use": spread(in_use), "guest_write": spread(written),
            "guest_mount_seen": spread(mounted), "devices": sorted(set(devices)),
            "console_saw_probe_bytes": int(proved)}


# -- backup and restore ------------------------------------------------------------------

@contextlib.contextmanager
def loop_mounted(volume_file: Path) -> Iterator[Path]:
    """``volume_file`` mounted through a loop device on a temporary directory."""
    with tempfile.TemporaryDirectory(prefix="bench-volume-") as point:
        subprocess.run(["mount", "-o", "loop", str(volume_file), point], check=True)
        try:
            yield Path(point)
        finally:
            subprocess.run(["umount", point], check=True)


def md5_of(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as stream:
        while block := stream.read(4 * MiB):
            digest.update(block)
    return digest.hexdigest()


def fill(volume_file: Path, megabytes: int) -> str:
    with loop_mounted(volume_file) as point:
        subprocess.run(["dd", "if=/dev/urandom", f"of={point}/blob", "bs=1M",
                        f"count={megabytes}", "status=none", "conv=fsync"], check=True)
        return md5_of(point / "blob")


def rewrite(volume_file: Path, megabytes: int, offset_mb: int) -> None:
    with loop_mounted(volume_file) as point:
        subprocess.run(["dd", "if=/dev/urandom", f"of={point}/blob", "bs=1M",
                        f"count={megabytes}", f"seek={offset_mb}", "conv=notrunc,fsync",
                        "status=none"], check=True)


def stored_bytes(api: Api, container: str, volume_id: str, backup_id: str) -> tuple[int, int]:
    """(bytes, objects) of a backup's chunk objects, as the object store lists them."""
    listing = api.call("GET", f"{api.objects}/{container}", params={
        "prefix": f"volume_{volume_id}/{backup_id}/chunk-", "format": "json"}).json()
    return sum(item["bytes"] for item in listing), len(listing)


def backup(api: Api, volume_id: str, name: str, incremental: bool) -> dict:
    started = time.perf_counter()
    backup_id = api.call("POST", f"{api.volume}/backups", json={"backup": {
        "volume_id": volume_id, "name": name, "incremental": incremental}}).json()["backup"]["id"]
    took = api.wait_backup(backup_id) - started
    record = api.call("GET", f"{api.volume}/backups/{backup_id}").json()["backup"]
    sent, objects = stored_bytes(api, record["container"], volume_id, backup_id)
    return {"id": backup_id, "seconds": took, "bytes_stored": sent, "objects": objects,
            "mb_s": sent / MB / took, "is_incremental": record["is_incremental"]}


def plain_transfers(api: Api, count: int, size: int, concurrency: int) -> dict:
    """The object store's own rates in this run: ``count`` objects of ``size`` bytes PUT,
    then GET, ``concurrency`` at a time."""
    container = f"{api.objects}/bench-plain"
    api.call("PUT", container)
    data = os.urandom(size)
    md5 = hashlib.md5(data, usedforsecurity=False).hexdigest()

    def put(index: int) -> None:
        api.call("PUT", f"{container}/obj-{index}", content=data, headers={"ETag": md5})

    def get(index: int) -> None:
        if len(api.call("GET", f"{container}/obj-{index}").content) != size:
            raise RuntimeError("a plain GET returned the wrong size")

    rates = {}
    for name, work in (("put", put), ("get", get)):
        started = time.perf_counter()
        with ThreadPoolExecutor(concurrency) as pool:
            list(pool.map(work, range(count)))
        took = time.perf_counter() - started
        rates[f"{name}_seconds"], rates[f"{name}_mb_s"] = took, count * size / MB / took
    for index in range(count):
        api.call("DELETE", f"{container}/obj-{index}")
    return {"objects": count, "object_mib": size / MiB, "concurrency": concurrency, **rates}


def cloud_pids(cloud) -> dict[str, int]:
    return {**local.read_pids(cloud.cloud), "bench": os.getpid()}


def with_cpu(cloud, function, *args) -> dict:
    """``function(*args)`` (a dict) with ``cpu_seconds``: what each of this cloud's
    processes and this bench spent meanwhile."""
    pids = cloud_pids(cloud)
    before = cpu_seconds(pids)
    figures = function(*args)
    after = cpu_seconds(pids)
    figures["cpu_seconds"] = {name: round(after[name] - before[name], 2) for name in
                              sorted(after, key=lambda n: before.get(n, 0) - after[n])
                              if name in before and after[name] > before[name]}
    return figures


def restore(api: Api, full: dict) -> dict:
    started = time.perf_counter()
    restored_id = api.call("POST", f"{api.volume}/backups/{full['id']}/restore", json={
        "restore": {"name": "restored"}}).json()["restore"]["volume_id"]
    took = api.wait_volume(restored_id, "available", poll=0.05, timeout=600) - started
    return {"volume_id": restored_id, "seconds": took, "bytes_read": full["bytes_stored"],
            "mb_s": full["bytes_stored"] / MB / took}


def bench_backup(cloud, api: Api, megabytes: int, changed_mb: int) -> dict:
    volume_id = api.create_volume("to-back-up")
    api.wait_volume(volume_id, "available", poll=0.01)
    volume_file = cloud.cloud.volumes_dir() / f"volume-{volume_id}"
    empty = with_cpu(cloud, backup, api, volume_id, "empty", False)
    original = fill(volume_file, megabytes)
    full = with_cpu(cloud, backup, api, volume_id, "full", False)
    rewrite(volume_file, changed_mb, offset_mb=megabytes // 2)
    incremental = with_cpu(cloud, backup, api, volume_id, "incremental", True)
    restored = with_cpu(cloud, restore, api, full)
    with loop_mounted(cloud.cloud.volumes_dir() / f"volume-{restored['volume_id']}") as point:
        restored["data_identical"] = md5_of(point / "blob") == original

    chunked = with_cpu(cloud, plain_transfers, api, megabytes // CHUNK_MIB, CHUNK_MIB * MiB,
                       4)
    single = with_cpu(cloud, plain_transfers, api, 1, megabytes * MiB, 1)
    for backup_id in (incremental["id"], full["id"], empty["id"]):  # children first
        api.call("DELETE", f"{api.volume}/backups/{backup_id}")
        deadline = time.perf_counter() + 120
        while api.http.get(f"{api.volume}/backups/{backup_id}").status_code != 404:
            if time.perf_counter() > deadline:
                raise TimeoutError(f"backup {backup_id} never deleted")
            time.sleep(0.05)
    return {"data_mib": megabytes, "changed_mib": changed_mb, "empty": empty, "full": full,
            "incremental": incremental, "restore": restored,
            "plain_chunks": chunked, "plain_single": single}


# -- report ------------------------------------------------------------------------------

def line(name: str, figures: dict, target: float | None = None) -> str:
    text = (f"p50 {figures['p50_s']:.3f} s  p90 {figures['p90_s']:.3f} s  "
            f"max {figures['max_s']:.3f} s  (n={figures['n']})")
    if target is not None:
        text += f"  target p50 <= {target} s: {'met' if figures['p50_s'] <= target else 'MISSED'}"
    return f"  {name}: {text}"


def cpu_line(spent: dict[str, float]) -> str:
    return ", ".join(f"{name} {value:.1f}" for name, value in spent.items() if value >= 0.05)


def report(result: dict) -> None:
    c = result["conditions"]
    print(f"volumes: process mode, {c['hosts']} hypervisor (process driver), "
          f"{c['storage_nodes']} storage nodes; {c['cpus']} cpus, {c['mem_gib']} GiB, "
          f"Linux {c['kernel']}, Python {c['python']}, commit {c['commit']}, {c['date']}"
          + (f"; this cloud and the bench at nice {c['nice']}" if "nice" in c else ""))
    for section in (s for s in ("create", "attach", "backup") if s in result):
        before, after = result[section]["before"], result[section]["after"]
        loaded = max(before["loadavg"][0], after["loadavg"][0]) > 2
        print(f"  [{section}] load {before['loadavg'][0]} -> {after['loadavg'][0]}, CPUs "
              f"{result[section]['cpu_busy_percent']}% busy; docker containers "
              f"{before['docker_containers']}; other overcast processes "
              f"{before['other_overcast_processes']}"
              + ("  (MACHINE LOADED: load > 2)" if loaded else ""))
        print("      CPU seconds: " + cpu_line(result[section]["cpu_seconds"]))
    if "create" in result:
        print(line("create 1 GiB -> available", result["create"]["figures"],
                   TARGET["create_p50_s"]))
    if "attach" in result:
        attach = result["attach"]["figures"]
        print(line("attach -> in-use (API)", attach["in_use"], TARGET["attach_p50_s"]))
        print(line("attach -> written in the guest", attach["guest_write"],
                   TARGET["attach_p50_s"]))
        print(line("attach -> mount seen in the guest", attach["guest_mount_seen"]))
    if "backup" in result:
        report_backup(result["backup"]["figures"])


def report_backup(b: dict) -> None:
    full, inc, restore, empty = b["full"], b["incremental"], b["restore"], b["empty"]
    print(f"  backup of the same volume empty (fresh ext4): {empty['seconds']:.2f} s, "
          f"{empty['bytes_stored'] / MiB:.0f} MiB in {empty['objects']} objects")
    print(f"  backup, 1 GiB volume with {b['data_mib']} MiB random: {full['seconds']:.2f} s, "
          f"{full['bytes_stored'] / MiB:.0f} MiB in {full['objects']} objects: "
          f"{full['mb_s']:.0f} MB/s stored, {b['data_mib'] * MiB / MB / full['seconds']:.0f} "
          f"MB/s of the file's data (target >= {TARGET['backup_mb_s']:.0f})")
    print(f"  incremental after {b['changed_mib']} MiB changed: {inc['seconds']:.2f} s, "
          f"{inc['bytes_stored'] / MiB:.0f} MiB in {inc['objects']} objects")
    print(f"  restore of the full backup into a new volume: {restore['seconds']:.2f} s, "
          f"{restore['mb_s']:.0f} MB/s, data identical: {restore['data_identical']}")
    for phase in ("full", "incremental", "restore"):
        print(f"      CPU seconds, {phase}: " + cpu_line(b[phase]["cpu_seconds"]))
    chunked, single = b["plain_chunks"], b["plain_single"]
    print(f"  object store, plain: {chunked['objects']} x {chunked['object_mib']:.0f} MiB "
          f"4 at once PUT "
          f"{chunked['put_mb_s']:.0f} MB/s, GET {chunked['get_mb_s']:.0f} MB/s; one "
          f"{single['object_mib']:.0f} MiB object PUT {single['put_mb_s']:.0f} MB/s, GET "
          f"{single['get_mb_s']:.0f} MB/s")


@contextlib.contextmanager
def profiled(cloud, directory: Path | None, py_spy: str) -> Iterator[None]:
    """With ``directory``: py-spy samples the volume service, the object proxy and one
    storage node meanwhile (collapsed stacks, idle frames included, in DIRECTORY/NAME.txt)."""
    if directory is None:
        yield
        return
    directory.mkdir(parents=True, exist_ok=True)
    pids = local.read_pids(cloud.cloud)
    spies = [subprocess.Popen(
        [py_spy, "record", "--pid", str(pids[name]), "--rate", "100", "--idle",
         "--nonblocking", "--format", "raw", "--output", str(directory / f"{name}.txt")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for name in ("volume", "object-proxy", "storage-1") if name in pids]
    try:
        yield
    finally:
        for spy in spies:
            spy.send_signal(signal.SIGINT)
        for spy in spies:
            spy.wait(60)


def cpu_seconds(pids: dict[str, int]) -> dict[str, float]:
    """CPU time (user + system, children included) of each named process so far."""
    tick = os.sysconf("SC_CLK_TCK")
    seconds = {}
    for name, pid in pids.items():
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        seconds[name] = sum(int(x) for x in fields[11:15]) / tick  # utime stime cutime cstime
    return seconds


def renice(pids: dict[str, int], value: int) -> None:
    """Set the nice value of every thread of these processes (``setpriority`` is per
    thread on Linux; threads made later inherit their creator's)."""
    for pid in pids.values():
        for task in Path(f"/proc/{pid}/task").glob("*"):
            with contextlib.suppress(OSError):
                os.setpriority(os.PRIO_PROCESS, int(task.name), value)


def measured(cloud, function, *args) -> dict:
    """``function(*args)`` with the machine's state before and after, how busy its CPUs
    were meanwhile (everything: this cloud, this bench and whatever else runs), and the CPU
    seconds each of this cloud's processes and this bench spent."""
    pids = cloud_pids(cloud)
    own = set(pids.values())
    before, cpu_before = conditions_now(own), cpu_seconds(pids)
    figures = function(*args)
    after, cpu_after = conditions_now(own), cpu_seconds(pids)
    (busy0, total0), (busy1, total1) = before.pop("cpu_ticks"), after.pop("cpu_ticks")
    spent = {name: round(cpu_after[name] - cpu_before[name], 2)
             for name in cpu_after if name in cpu_before}
    return {"before": before, "after": after,
            "cpu_busy_percent": round(100 * (busy1 - busy0) / max(1, total1 - total0), 1),
            "cpu_seconds": dict(sorted(spent.items(), key=lambda kv: -kv[1])),
            "figures": figures}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--creates", type=int, default=30)
    parser.add_argument("--attaches", type=int, default=15)
    parser.add_argument("--backup-mb", type=int, default=256)
    parser.add_argument("--changed-mb", type=int, default=4)
    parser.add_argument("--output", type=Path, default=ROOT / "bench/results/volumes.json")
    parser.add_argument("--parts", default="create,attach,backup",
                        help="which parts to run, comma separated (default: all)")
    parser.add_argument("--profile", type=Path, metavar="DIR",
                        help="sample the backup part's services with py-spy into DIR")
    parser.add_argument("--py-spy", default="py-spy", help="the py-spy program")
    parser.add_argument("--nice", type=int, metavar="N",
                        help="run this cloud and the bench at nice N (e.g. -10: ahead of "
                             "other work on a shared machine; printed with the figures)")
    parser.add_argument("--keep", action="store_true",
                        help="keep the cloud's state directory (its logs) afterwards")
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("the process driver needs root")
    result: dict = {"conditions": static_conditions()}
    with running_cloud(hosts=1, driver="process", storage_nodes=3, keep=args.keep) as cloud:
        if args.keep:
            print(f"state and logs kept in {cloud.cloud.state_dir}")
        conn = cloud.connect()
        api = Api(conn)
        if args.nice is not None:
            result["conditions"]["nice"] = args.nice
            renice(cloud_pids(cloud), args.nice)
        parts = args.parts.split(",")
        if "create" in parts:
            result["create"] = measured(cloud, bench_create, api, args.creates)
        if "attach" in parts:
            server_id = boot_guest(conn, "volume-bench")
            result["attach"] = measured(cloud, bench_attach, cloud, api, server_id,
                                        args.attaches)
            conn.compute.delete_server(server_id)
        if "backup" in parts:
            with profiled(cloud, args.profile, args.py_spy):
                result["backup"] = measured(cloud, bench_backup, cloud, api, args.backup_mb,
                                            args.changed_mb)
    report(result)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2))
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
