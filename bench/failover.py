"""Failover benchmark against the compose stack (`make up` first).

Measures, with the conditions printed alongside:
- kill -> host marked down (``docker kill``, N trials), and pause -> marked down;
- kill -> every evacuated instance ACTIVE elsewhere (10 instances on the killed host);
- false host-down reports while both cores are saturated for a while;
- resident memory of the whole stack, idle (``docker stats``).
Writes JSON to bench/results/failover.json.
"""
from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import statistics
import time
from pathlib import Path

import docker

from overcast.cli.chaos import ComposeChaos
from overcast.testing.cloud import sdk_connection
from overcast.testing.stack import HOSTS, ServiceWatch, back_in_pool, down


def detect_trials(chaos: ComposeChaos, watch: ServiceWatch, *, how: str, trials: int
                  ) -> list[float]:
    figures = []
    for index in range(trials):
        host = HOSTS[index % len(HOSTS)]
        watch.wait(host, back_in_pool, timeout=60)
        started = time.monotonic()
        getattr(chaos, how)(host)
        figures.append(time.monotonic() - started + watch.wait(host, down, timeout=30,
                                                               interval=0.02))
        if how == "pause":
            chaos.unpause(host)
        else:
            chaos.start(host)
        watch.wait(host, back_in_pool, timeout=90)
        print(f"  {how} {host}: down after {figures[-1]:.2f} s")
    return figures


def evacuation_trial(chaos: ComposeChaos, conn, watch: ServiceWatch, *, count: int
                     ) -> dict:
    victim = HOSTS[1]
    others = [s for s in conn.compute.services() if s.binary == "nova-compute"
              and s.host != victim]
    for service in others:
        conn.compute.disable_service(service, service.host, service.binary)
    image = conn.image.find_image("cirros")
    conn.compute.create_server(name="evac", image_id=image.id, flavor_id="1",
                               networks="auto", min_count=count, max_count=count)
    try:
        deadline = time.monotonic() + 120
        while not all(s.status == "ACTIVE" for s in _named(conn, "evac")):
            assert time.monotonic() < deadline, "boot did not finish"
            time.sleep(0.2)
    finally:
        for service in others:
            conn.compute.enable_service(service, service.host, service.binary)
    started = time.monotonic()
    chaos.kill(victim)
    detect = watch.wait(victim, down, timeout=30, interval=0.02)
    deadline = time.monotonic() + 120
    while True:
        servers = _named(conn, "evac")
        if all(s.status == "ACTIVE" and s.compute_host != victim for s in servers):
            break
        assert time.monotonic() < deadline, "evacuation did not finish"
        time.sleep(0.05)
    elapsed = time.monotonic() - started
    chaos.start(victim)
    watch.wait(victim, back_in_pool, timeout=90)
    for server in servers:
        conn.compute.delete_server(server)
    return {"instances": count, "detect_s": detect, "all_active_s": elapsed}


def _named(conn, prefix: str) -> list:
    return [s for s in conn.compute.servers(details=True) if s.name.startswith(prefix)]


def _spin(until: float) -> None:
    while time.monotonic() < until:
        pass


def false_positive_run(watch: ServiceWatch, *, seconds: float) -> dict:
    """Saturate every core for ``seconds`` and count any host reported down meanwhile."""
    until = time.monotonic() + seconds
    hogs = [multiprocessing.Process(target=_spin, args=(until,), daemon=True)
            for _ in range(os.cpu_count() or 2)]
    for hog in hogs:
        hog.start()
    polls, reports = 0, []
    try:
        while time.monotonic() < until:
            for host, service in watch.computes().items():
                if service["state"] != "up" or service["forced_down"]:
                    reports.append((round(until - time.monotonic(), 1), host, service["state"]))
            polls += 1
            time.sleep(0.5)
    finally:
        for hog in hogs:
            hog.join()
    return {"seconds": seconds, "cpu_hogs": len(hogs), "polls": polls,
            "false_down_reports": len(reports), "reports": reports[:10]}


def stack_memory_mb() -> dict:
    client = docker.from_env()
    per = {}
    for container in client.containers.list(filters={"label": "com.docker.compose.project="
                                                              "overcast"}):
        stats = container.stats(stream=False)
        usage = stats["memory_stats"].get("usage", 0)
        cache = stats["memory_stats"].get("stats", {}).get("inactive_file", 0)
        per[container.name] = round((usage - cache) / 2**20, 1)
    return {"total_mb": round(sum(per.values()), 1), "per_container_mb": per}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument("--evacuate", type=int, default=10)
    parser.add_argument("--hog-seconds", type=float, default=600)
    parser.add_argument("--output", type=Path, default=Path("bench/results/failover.json"))
    args = parser.parse_args()
    chaos = ComposeChaos()  # the make up stack, project overcast
    conn = sdk_connection(Path("clouds.yaml"), "overcast-admin")  # written by make up
    watch = ServiceWatch(conn)
    result = {"conditions": {"hosts": len(HOSTS), "cpus": os.cpu_count(),
                             "service_down_time_s": 3, "report_interval_s": 1,
                             "mode": "docker compose"}}
    result["memory_idle"] = stack_memory_mb()
    print(f"memory, idle stack: {result['memory_idle']['total_mb']:.0f} MB")
    print(f"kill -> marked down, {args.trials} trials")
    kills = detect_trials(chaos, watch, how="kill", trials=args.trials)
    print(f"pause -> marked down, {args.trials} trials")
    pauses = detect_trials(chaos, watch, how="pause", trials=args.trials)
    result["kill_to_down_s"] = {"p50": statistics.median(kills), "max": max(kills),
                                "trials": kills}
    result["pause_to_down_s"] = {"p50": statistics.median(pauses), "max": max(pauses),
                                 "trials": pauses}
    result["evacuation"] = evacuation_trial(chaos, conn, watch, count=args.evacuate)
    print(f"kill -> {args.evacuate} instances ACTIVE elsewhere: "
          f"{result['evacuation']['all_active_s']:.2f} s")
    print(f"CPU hog on every core for {args.hog_seconds:.0f} s ...")
    result["false_positives"] = false_positive_run(watch, seconds=args.hog_seconds)
    print(f"kill -> down    p50 {result['kill_to_down_s']['p50']:.2f} s  "
          f"max {result['kill_to_down_s']['max']:.2f} s")
    print(f"pause -> down   p50 {result['pause_to_down_s']['p50']:.2f} s  "
          f"max {result['pause_to_down_s']['max']:.2f} s")
    print(f"false host-down reports: {result['false_positives']['false_down_reports']} in "
          f"{args.hog_seconds:.0f} s with {result['false_positives']['cpu_hogs']} CPU hogs")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2))
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
