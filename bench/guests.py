"""Guest benchmark: real guests of the ``process`` driver, in process mode on this machine.

Measures, each with its conditions printed and written as JSON:

- create -> ACTIVE with the guest's init running, cached image, one at a time (p50, p90);
- 20 boots at concurrency 10 on 3 hypervisors (all ACTIVE, p50, p90);
- memory per idle guest (init + SSH server: RSS and PSS of its processes) with 100 guests
  on one hypervisor, and the disk each guest takes before it writes;
- a snapshot of a guest with 200 MB written, end to end (createImage to image ``active``);
- shelve + unshelve of that guest (to SHELVED_OFFLOADED, then back to ACTIVE).

Data is written through ``overcast console`` (the path a user has). ACTIVE is observed by
polling the API every 20 ms.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil

from overcast.testing.cloud import running_cloud

POLL = 0.02
# 100 guests on one 2-core hypervisor: m1.nano (64 MiB, 1 vCPU), and the host reports 128
# vCPUs so that the scheduler places them all (each guest keeps its own cgroup limits).
DENSITY_FLAVOR = "42"
DENSITY_ENV = {"OVERCAST_COMPUTE_VCPUS": "128"}


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def wait_status(conn, server_id: str, status: str, timeout: float = 300) -> float:
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        server = conn.compute.get_server(server_id)
        if server.status == status:
            return time.perf_counter()
        if server.status == "ERROR":
            raise RuntimeError(f"{server_id} is ERROR: {server.fault}")
        time.sleep(POLL)
    raise TimeoutError(f"{server_id} not {status} in {timeout}s")


def boot(conn, name: str, image_id: str, flavor: str = "1") -> tuple[str, float]:
    started = time.perf_counter()
    server = conn.compute.create_server(name=name, image_id=image_id, flavor_id=flavor,
                                        networks="none")
    return server.id, wait_status(conn, server.id, "ACTIVE") - started


def delete_all(conn) -> None:
    for server in list(conn.compute.servers()):
        conn.compute.delete_server(server)
    deadline = time.time() + 300
    while list(conn.compute.servers()) and time.time() < deadline:
        time.sleep(0.2)


def console(cloud, server_id: str, *command: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "overcast.cli.main", "console", "--os-cloud", "overcast-admin",
         server_id, "--", *command], env=cloud.env,
        capture_output=True, text=True, timeout=300, check=True)
    return done.stdout


def guest_memory() -> list[dict]:
    """RSS and PSS (MiB) of each guest's process tree: the processes under a guest init."""
    guests = []
    for proc in psutil.process_iter(["cmdline"]):
        if any(part.endswith(".overcast/init") for part in proc.info["cmdline"] or ()):
            tree = [proc, *proc.children(recursive=True)]
            rss = pss = 0
            for member in tree:
                try:
                    info = member.memory_full_info()
                except psutil.Error:
                    continue
                rss += info.rss
                pss += info.pss
            guests.append({"processes": len(tree), "rss_mb": rss / 2**20,
                           "pss_mb": pss / 2**20})
    return guests


def du_bytes(path: Path) -> int:
    out = subprocess.run(["du", "-sb", str(path)], capture_output=True, text=True, check=True)
    return int(out.stdout.split()[0])


def single_boots(conn, image_id: str, count: int) -> dict:
    boot(conn, "warm", image_id)  # the first boot fills the host's image cache
    delete_all(conn)
    times = []
    for index in range(count):
        _server_id, took = boot(conn, f"single-{index}", image_id)
        times.append(took)
    delete_all(conn)
    return {"boots": count, "p50_s": statistics.median(times), "p90_s": pct(times, 0.9),
            "min_s": min(times)}


def concurrent_boots(conn, image_id: str, count: int, concurrency: int) -> dict:
    began = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        results = list(pool.map(lambda i: boot(conn, f"conc-{i}", image_id), range(count)))
    wall = time.perf_counter() - began
    times = [took for _id, took in results]
    active = sum(conn.compute.get_server(i).status == "ACTIVE" for i, _t in results)
    delete_all(conn)
    return {"boots": count, "concurrency": concurrency, "all_active": active == count,
            "p50_s": statistics.median(times), "p90_s": pct(times, 0.9), "wall_s": wall}


def density(conn, cloud, image_id: str, count: int) -> dict:
    host_dir = cloud.cloud.state_dir
    before = du_bytes(host_dir)
    with ThreadPoolExecutor(10) as pool:
        list(pool.map(lambda i: boot(conn, f"dense-{i}", image_id, DENSITY_FLAVOR),
                      range(count)))
    time.sleep(2)  # idle: let the inits and SSH servers settle before reading memory
    memory = guest_memory()
    after = du_bytes(host_dir)
    delete_all(conn)
    rss = [g["rss_mb"] for g in memory]
    pss = [g["pss_mb"] for g in memory]
    return {"guests": count, "guests_seen": len(memory), "flavor": "m1.nano",
            "host_vcpus_reported": int(DENSITY_ENV["OVERCAST_COMPUTE_VCPUS"]),
            "rss_mb_p50": statistics.median(rss), "rss_mb_max": max(rss),
            "pss_mb_p50": statistics.median(pss),
            "disk_bytes_per_guest": (after - before) / count}


def snapshot_and_shelve(conn, cloud, image_id: str, megabytes: int) -> dict:
    server_id, _took = boot(conn, "snap", image_id)
    console(cloud, server_id, "sh", "-c",
            f"dd if=/dev/urandom of=/root/blob bs=1M count={megabytes} 2>/dev/null; sync")
    started = time.perf_counter()
    image_id_snap = conn.compute.create_server_image(server_id, name="bench-snap").id
    deadline = started + 300
    while conn.image.get_image(image_id_snap).status != "active":
        if time.perf_counter() > deadline:
            raise TimeoutError("snapshot not active")
        time.sleep(POLL)
    snapshot_s = time.perf_counter() - started
    snapshot_size = conn.image.get_image(image_id_snap).size
    # The image is active a moment before the server's snapshot task ends.
    while conn.compute.get_server(server_id).task_state is not None:
        if time.perf_counter() > deadline:
            raise TimeoutError("snapshot task never ended")
        time.sleep(POLL)
    started = time.perf_counter()
    conn.compute.shelve_server(server_id)
    shelved = wait_status(conn, server_id, "SHELVED_OFFLOADED") - started
    started = time.perf_counter()
    conn.compute.unshelve_server(server_id)
    unshelved = wait_status(conn, server_id, "ACTIVE") - started
    kept = console(cloud, server_id, "sh", "-c", "wc -c < /root/blob").strip()
    delete_all(conn)
    conn.image.delete_image(image_id_snap)
    return {"written_mb": megabytes, "snapshot_s": snapshot_s,
            "snapshot_bytes": snapshot_size, "shelve_s": shelved, "unshelve_s": unshelved,
            "data_kept": kept == str(megabytes * 2**20)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--single", type=int, default=10)
    parser.add_argument("--concurrent", type=int, default=20)
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--density", type=int, default=100)
    parser.add_argument("--snapshot-mb", type=int, default=200)
    parser.add_argument("--output", type=Path, default=Path("bench/results/guests.json"))
    args = parser.parse_args()
    conditions = {"mode": "process", "driver": "process", "cpus": os.cpu_count(),
                  "python": platform.python_version(), "machine": platform.machine()}
    result: dict = {"conditions": conditions}
    with running_cloud(hosts=3, driver="process") as cloud:
        conn = cloud.connect()
        conn.compute.put(f"/os-quota-sets/{conn.current_project_id}", json={
            "quota_set": {"instances": -1, "cores": -1, "ram": -1}}).raise_for_status()
        image_id = conn.image.find_image("cirros").id
        result["single"] = single_boots(conn, image_id, args.single)
        result["concurrent"] = concurrent_boots(conn, image_id, args.concurrent,
                                                args.concurrency)
        result["snapshot"] = snapshot_and_shelve(conn, cloud, image_id, args.snapshot_mb)
    with running_cloud(hosts=1, driver="process", extra_env=DENSITY_ENV) as cloud:
        conn = cloud.connect()
        conn.compute.put(f"/os-quota-sets/{conn.current_project_id}", json={
            "quota_set": {"instances": -1, "cores": -1, "ram": -1}}).raise_for_status()
        image_id = conn.image.find_image("cirros").id
        result["density"] = density(conn, cloud, image_id, args.density)
    single, conc = result["single"], result["concurrent"]
    dense, snap = result["density"], result["snapshot"]
    print(f"guests: process driver, process mode, {os.cpu_count()} cpus")
    print(f"  create -> ACTIVE, one at a time ({single['boots']}, cached image): "
          f"p50 {single['p50_s']:.3f} s  p90 {single['p90_s']:.3f} s")
    print(f"  {conc['boots']} boots at concurrency {conc['concurrency']} on 3 hypervisors: "
          f"p50 {conc['p50_s']:.3f} s  p90 {conc['p90_s']:.3f} s  wall {conc['wall_s']:.1f} s"
          f"  all ACTIVE: {conc['all_active']}")
    print(f"  {dense['guests']} idle guests on one hypervisor ({dense['guests_seen']} seen): "
          f"RSS p50 {dense['rss_mb_p50']:.1f} MiB (max {dense['rss_mb_max']:.1f}), "
          f"PSS p50 {dense['pss_mb_p50']:.1f} MiB; disk before writes "
          f"{dense['disk_bytes_per_guest'] / 1024:.0f} KiB a guest")
    print(f"  snapshot of a guest with {snap['written_mb']} MB written: "
          f"{snap['snapshot_s']:.2f} s ({snap['snapshot_bytes'] / 2**20:.0f} MiB image)")
    print(f"  shelve {snap['shelve_s']:.2f} s, unshelve {snap['unshelve_s']:.2f} s, "
          f"data kept: {snap['data_kept']}")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2))
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
