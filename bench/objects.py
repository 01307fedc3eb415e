"""Object storage benchmark: swift-bench for small objects, a 1 GiB object, and repair time.

Conditions (the issue's): process mode on this machine, 3 storage nodes (a zone each, 3
replicas, fsync on), the proxy on loopback, tempauth.

1. ``swift-bench`` (the real tool from PyPI) PUTs and GETs 1 KiB objects at concurrency 10.
2. One 1 GiB object PUT and GET through the proxy, streamed; the proxy's RSS is sampled.
3. Repair: a node is killed, 1,000 objects are written, the node comes back; the time until
   every object has its 3 replicas again (asked of each node) is measured.

Prints the figures with their conditions and the ratio to the anchors (real Swift 2.38 on
this machine: 94 PUT/s, 346 GET/s), and writes JSON to bench/results/objects.json.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from overcast.cli import local  # noqa: E402 - after the sys.path entry above
from tests.integration.objectstore.harness import ObjectCluster, object_cluster  # noqa: E402 - likewise

ANCHOR = {"swift_put": 94.0, "swift_get": 346.0}
TARGET = {"put": 300.0, "get": 800.0, "large_mb_s": 150.0, "repair_s": 30.0}


def swift_bench(cluster: ObjectCluster, *, puts: int, gets: int, concurrency: int) -> dict:
    cli = Path(sys.executable).parent / "swift-bench"
    result = subprocess.run(
        [str(cli), "-A", cluster.auth_url, "-U", "test:tester", "-K", "testing",
         "-c", str(concurrency), "-s", "1024", "-n", str(puts), "-g", str(gets), "-x"],
        capture_output=True, text=True, timeout=900)
    finals = re.findall(r"(\d+) (PUTS|GETS) \*\*FINAL\*\* \[(\d+) failures\], ([\d.]+)/s",
                        result.stdout + result.stderr)
    figures = {kind.lower(): {"count": int(n), "failures": int(f), "ops_per_s": float(rate)}
               for n, kind, f, rate in finals}
    if "puts" not in figures or "gets" not in figures:
        raise RuntimeError(f"swift-bench gave no figures:\n{result.stderr[-2000:]}")
    return figures


class RssSampler(threading.Thread):
    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.process = psutil.Process(pid)
        self.samples: list[int] = []
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.1):
            self.samples.append(self.process.memory_info().rss)


def large_object(cluster: ObjectCluster, size_mb: int) -> dict:
    block = os.urandom(1 << 20)
    md5 = hashlib.md5()
    for _ in range(size_mb):
        md5.update(block)
    expected = md5.hexdigest()
    token = cluster.token()
    url = f"{cluster.url}/v1/AUTH_test/large/object"
    headers = {"X-Auth-Token": token}
    httpx.put(f"{cluster.url}/v1/AUTH_test/large", headers=headers).raise_for_status()
    proxy_pid = local.read_pids(cluster.cloud)["object-proxy"]
    baseline = psutil.Process(proxy_pid).memory_info().rss

    def body():
        for _ in range(size_mb):
            yield block

    sampler = RssSampler(proxy_pid)
    sampler.start()
    started = time.perf_counter()
    response = httpx.put(url, content=body(), timeout=600,
                         headers={**headers, "Content-Length": str(size_mb << 20)})
    put_s = time.perf_counter() - started
    response.raise_for_status()
    assert response.headers["etag"] == expected, "ETag differs from the data's MD5"
    received = 0
    started = time.perf_counter()
    with httpx.stream("GET", url, headers=headers, timeout=600) as stream:
        for chunk in stream.iter_bytes(1 << 20):
            received += len(chunk)
    get_s = time.perf_counter() - started
    sampler.done.set()
    sampler.join()
    assert received == size_mb << 20
    peak = max(sampler.samples or [baseline])
    mb = size_mb * (1 << 20) / 1e6
    return {"size_mib": size_mb, "put_mb_s": round(mb / put_s, 1),
            "get_mb_s": round(mb / get_s, 1), "proxy_rss_baseline_mib": baseline >> 20,
            "proxy_rss_peak_mib": peak >> 20}


def repair(cluster: ObjectCluster, objects: int) -> dict:
    swift = cluster.swift()
    swift.put_container("repair")
    victim = "storage-2"
    cluster.kill(victim)
    names = [f"r-{i:05d}" for i in range(objects)]
    import concurrent.futures
    local_state = threading.local()

    def put(name: str) -> None:
        if not hasattr(local_state, "swift"):
            local_state.swift = cluster.swift()
        local_state.swift.put_object("repair", name, name.encode() * 10)

    with concurrent.futures.ThreadPoolExecutor(10) as pool:
        list(pool.map(put, names))
    started = time.perf_counter()
    cluster.start(victim)
    deadline = started + 300
    missing = objects
    while time.perf_counter() < deadline:
        replicas = cluster.replica_map("repair", names)
        missing = sum(1 for where in replicas.values() if len(where) < 3)
        if not missing:
            break
        time.sleep(0.5)
    elapsed = time.perf_counter() - started
    return {"objects": objects, "node_down": victim, "seconds_to_3_replicas":
            round(elapsed, 1), "still_missing": missing}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--puts", type=int, default=3000)
    parser.add_argument("--gets", type=int, default=6000)
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--large-mib", type=int, default=1024)
    parser.add_argument("--repair-objects", type=int, default=1000)
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "objects.json"))
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # clean up the cluster

    results: dict = {"conditions": {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, "
                   f"{psutil.virtual_memory().total >> 30} GiB",
        "storage_nodes": 3, "replicas": 3, "zones": 3, "fsync": True,
        "concurrency": args.concurrency, "object_size": 1024, "transport": "loopback"}}
    with object_cluster(nodes=3) as cluster:
        results["swift_bench"] = swift_bench(cluster, puts=args.puts, gets=args.gets,
                                             concurrency=args.concurrency)
        results["large_object"] = large_object(cluster, args.large_mib)
    with object_cluster(nodes=3) as cluster:
        results["repair"] = repair(cluster, args.repair_objects)

    sb, big, rep = results["swift_bench"], results["large_object"], results["repair"]
    put, get = sb["puts"]["ops_per_s"], sb["gets"]["ops_per_s"]
    print(f"Object storage, {results['conditions']['machine']}: 3 storage nodes (3 zones, "
          f"3 replicas, fsync), proxy on loopback")
    print(f"swift-bench 1 KiB, concurrency {args.concurrency}: PUT {put:.0f}/s "
          f"({sb['puts']['failures']} failures; target {TARGET['put']:.0f}, "
          f"{put / ANCHOR['swift_put']:.1f}x real Swift's {ANCHOR['swift_put']:.0f}/s), "
          f"GET {get:.0f}/s ({sb['gets']['failures']} failures; target {TARGET['get']:.0f}, "
          f"{get / ANCHOR['swift_get']:.1f}x real Swift's {ANCHOR['swift_get']:.0f}/s)")
    print(f"{big['size_mib']} MiB object through the proxy: PUT {big['put_mb_s']} MB/s, GET "
          f"{big['get_mb_s']} MB/s (target {TARGET['large_mb_s']:.0f}); proxy RSS "
          f"{big['proxy_rss_baseline_mib']} MiB before, {big['proxy_rss_peak_mib']} MiB peak")
    print(f"repair: {rep['objects']} objects written while {rep['node_down']} was down; all 3 "
          f"replicas back {rep['seconds_to_3_replicas']} s after it returned "
          f"(target {TARGET['repair_s']:.0f} s; {rep['still_missing']} still missing)")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=2) + "\n")
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
