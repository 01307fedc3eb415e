"""Boot benchmark: create -> ACTIVE latency and throughput, list latency, memory.

Conditions (the issue's): process mode on this machine, 4 fake hypervisors, 200 servers
booted by 50 concurrent clients; then ``GET /servers/detail`` (200 servers) by 16 clients.
ACTIVE is observed through the ``compute.instance.create.end`` notification, so polling
does not load the cloud being measured. Prints the figures and writes JSON.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import time
from pathlib import Path

import httpx
import psutil

from overcast.bus import Bus
from overcast.cli import local
from overcast.testing.cloud import running_cloud


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def token_for(cloud) -> tuple[str, str]:
    async with httpx.AsyncClient() as client:
        response = await client.post(f"{cloud.cloud.api_url}/identity/v3/auth/tokens", json={
            "auth": {"identity": {"methods": ["password"], "password": {"user": {
                "name": "admin", "domain": {"id": "default"},
                "password": cloud.passwords["admin_password"]}}},
                "scope": {"project": {"name": "admin", "domain": {"id": "default"}}}}})
        response.raise_for_status()
        return response.headers["X-Subject-Token"], response.json()["token"]["project"]["id"]


async def boot_phase(cloud, *, servers: int, concurrency: int) -> dict:
    token, project_id = await token_for(cloud)
    base = f"{cloud.cloud.api_url}/compute/v2.1"
    headers = {"X-Auth-Token": token, "OpenStack-API-Version": "compute 2.79"}
    active_at: dict[str, float] = {}
    all_active = asyncio.Event()

    async def on_event(event: dict) -> None:
        active_at[event["payload"]["id"]] = time.perf_counter()
        if len(active_at) >= servers:
            all_active.set()

    bus = Bus(cloud.cloud.transport_url, name="bench-listener",
              signing_key=cloud.cloud.bus_signing_key())
    await bus.connect()
    await bus.subscribe_notifications("compute.instance.create.end", on_event)
    async with httpx.AsyncClient(timeout=60, limits=httpx.Limits(
            max_connections=concurrency)) as client:
        (await client.put(f"{base}/os-quota-sets/{project_id}", headers=headers, json={
            "quota_set": {"instances": -1, "cores": -1, "ram": -1}})).raise_for_status()
        images = (await client.get(f"{cloud.cloud.api_url}/image/v2/images?name=cirros",
                                   headers=headers)).json()["images"]
        body = {"server": {"name": "bench", "imageRef": images[0]["id"], "flavorRef": "1",
                           "networks": "auto"}}
        created_at: dict[str, float] = {}
        accept_latency: list[float] = []
        queue: asyncio.Queue[int] = asyncio.Queue()
        for index in range(servers):
            queue.put_nowait(index)

        async def worker() -> None:
            while not queue.empty():
                index = queue.get_nowait()
                started = time.perf_counter()
                payload = {"server": {**body["server"], "name": f"bench-{index}"}}
                response = await client.post(f"{base}/servers", headers=headers, json=payload)
                response.raise_for_status()
                accept_latency.append(time.perf_counter() - started)
                created_at[response.json()["server"]["id"]] = started

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        await asyncio.wait_for(all_active.wait(), timeout=300)
        finished = max(active_at.values())
        detail = (await client.get(f"{base}/servers/detail", headers=headers)).json()
    await bus.close()
    statuses = [s["status"] for s in detail["servers"]]
    boot = [active_at[i] - created_at[i] for i in created_at]
    return {"servers": servers, "concurrency": concurrency,
            "all_active": statuses.count("ACTIVE") == servers,
            "boot_p50_s": statistics.median(boot), "boot_p90_s": pct(boot, 0.9),
            "boot_p99_s": pct(boot, 0.99), "boot_max_s": max(boot),
            "accept_p50_s": statistics.median(accept_latency),
            "throughput_servers_per_s": servers / (finished - began),
            "wall_s": finished - began, "token": token}


async def list_phase(cloud, token: str, *, clients: int, duration: float) -> dict:
    url = f"{cloud.cloud.api_url}/compute/v2.1/servers/detail"
    headers = {"X-Auth-Token": token, "OpenStack-API-Version": "compute 2.79"}
    latencies: list[float] = []
    sizes: list[int] = []
    deadline = time.perf_counter() + duration
    async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(
            max_connections=clients)) as client:
        async def worker() -> None:
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                response = await client.get(url, headers=headers)
                response.raise_for_status()
                latencies.append(time.perf_counter() - started)
                sizes.append(len(response.content))

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(clients)))
        elapsed = time.perf_counter() - began
    return {"clients": clients, "requests": len(latencies),
            "requests_per_s": len(latencies) / elapsed,
            "latency_p50_s": statistics.median(latencies), "latency_p99_s": pct(latencies, 0.99),
            "response_bytes": statistics.median(sizes)}


def memory_mb(cloud) -> dict:
    per_process = {}
    for name, pid in local.read_pids(cloud.cloud).items():
        try:
            per_process[name] = psutil.Process(pid).memory_info().rss / 2**20
        except psutil.NoSuchProcess:
            continue
    return {"total_rss_mb": sum(per_process.values()),
            "per_process_rss_mb": {k: round(v, 1) for k, v in per_process.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--servers", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--hosts", type=int, default=4)
    parser.add_argument("--list-clients", type=int, default=16)
    parser.add_argument("--list-seconds", type=float, default=10.0)
    parser.add_argument("--output", type=Path, default=Path("bench/results/boot.json"))
    args = parser.parse_args()
    with running_cloud(hosts=args.hosts) as cloud:
        boot = asyncio.run(boot_phase(cloud, servers=args.servers,
                                      concurrency=args.concurrency))
        token = boot.pop("token")
        listing = asyncio.run(list_phase(cloud, token, clients=args.list_clients,
                                         duration=args.list_seconds))
        memory = memory_mb(cloud)
    result = {"conditions": {"mode": "process", "hosts": args.hosts, "driver": "fake",
                             "cpus": os.cpu_count(), "python": platform.python_version(),
                             "machine": platform.machine()},
              "boot": boot, "list_detail": listing, "memory": memory}
    print(f"boot: {args.servers} servers, concurrency {args.concurrency}, {args.hosts} fake "
          f"hosts, {os.cpu_count()} cpus, process mode")
    print(f"  create -> ACTIVE  p50 {boot['boot_p50_s']:.3f} s  p90 {boot['boot_p90_s']:.3f} s"
          f"  p99 {boot['boot_p99_s']:.3f} s  max {boot['boot_max_s']:.3f} s")
    print(f"  throughput        {boot['throughput_servers_per_s']:.1f} servers/s "
          f"(all ACTIVE: {boot['all_active']})")
    print(f"list: GET /servers/detail ({args.servers} servers), {args.list_clients} clients, "
          f"{args.list_seconds:.0f} s")
    print(f"  {listing['requests_per_s']:.0f} req/s  p50 {listing['latency_p50_s'] * 1000:.1f} ms"
          f"  p99 {listing['latency_p99_s'] * 1000:.1f} ms  ({listing['response_bytes']} B)")
    print(f"memory: all services {memory['total_rss_mb']:.0f} MB RSS "
          f"{memory['per_process_rss_mb']}")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2))
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
