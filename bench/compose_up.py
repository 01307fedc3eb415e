"""Compose stack benchmark: time of ``up`` to all healthy, and the idle stack's memory.

Conditions (the issue's): the compose stack with 3 hypervisors on this machine.
- ``warm``: images already built and current; the stack is taken down first (volumes kept),
  then brought up by the same code as ``make up`` until every container is healthy, the API
  answers and the conductor sees every hypervisor up.
- ``--from-scratch`` adds a cold run first: the stack's images, the Debian base and the
  volumes are removed, so the run includes the offline image build (debootstrap, pip, apt).
Then, after ``--settle`` seconds idle, ``docker stats --no-stream`` memory of every container.
Prints the figures and writes JSON (bench/results/compose_up.json).
"""
from __future__ import annotations

import argparse
import json
import platform
import subprocess
import time
from pathlib import Path

from overcast.cli import compose, images

UNITS = {"B": 1 / 2**20, "KiB": 1 / 1024, "MiB": 1.0, "GiB": 1024.0, "kB": 1e3 / 2**20,
         "MB": 1e6 / 2**20, "GB": 1e9 / 2**20}


def mib(text: str) -> float:
    """``'23.5MiB'`` -> 23.5."""
    for unit in sorted(UNITS, key=len, reverse=True):
        if text.endswith(unit):
            return float(text[:-len(unit)]) * UNITS[unit]
    raise ValueError(text)


def memory(project: str) -> dict[str, float]:
    out = subprocess.run(["docker", "stats", "--no-stream", "--format",
                          "{{.Name}}\t{{.MemUsage}}"], capture_output=True, text=True,
                         check=True).stdout
    usage = {}
    for line in out.splitlines():
        name, used = line.split("\t")
        if name.startswith(f"{project}-"):
            usage[name] = round(mib(used.split("/")[0].strip()), 1)
    return dict(sorted(usage.items()))


def timed_up(stack: compose.ComposeCloud, clouds_file: Path) -> float:
    started = time.monotonic()
    compose.up(stack, clouds_file=clouds_file, say=lambda line: print(f"  {line}"))
    return time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--from-scratch", action="store_true",
                        help="also time a cold run: images, base and volumes removed first")
    parser.add_argument("--settle", type=float, default=30.0,
                        help="idle seconds before measuring memory")
    parser.add_argument("--hypervisors", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("bench/results/compose_up.json"))
    args = parser.parse_args()
    stack = compose.ComposeCloud(state_dir=Path("state/compose").resolve(),
                                 hypervisors=args.hypervisors)
    clouds_file = Path("clouds.yaml")
    result: dict = {"hypervisors": args.hypervisors, "machine": {
        "cpus": __import__("os").cpu_count(), "platform": platform.platform()}}
    compose.ensure_plugin()
    if args.from_scratch:
        print("cold: removing the stack, its volumes, its images and the Debian base")
        compose.down(stack, volumes=True)
        images.remove_images(base=True)
        subprocess.run(["docker", "image", "prune", "-f"], capture_output=True, check=False)
        result["cold_up_s"] = round(timed_up(stack, clouds_file), 1)
        print(f"cold up (offline build included): {result['cold_up_s']} s")
        result["image_mib"] = {
            tag: round(int(subprocess.run(["docker", "image", "inspect", "-f", "{{.Size}}",
                                           tag], capture_output=True, text=True,
                                          check=True).stdout) / 2**20)
            for tag in (images.PROJECT_TAG, images.RABBITMQ_TAG, images.BASE_TAG)}
    images.ensure_images()  # warm means the images are current before the clock starts
    compose.down(stack)
    result["warm_up_s"] = round(timed_up(stack, clouds_file), 1)
    print(f"warm up (images built, volumes kept): {result['warm_up_s']} s (target <= 45 s)")
    time.sleep(args.settle)
    usage = memory(stack.project)
    result["memory_mib"] = usage
    result["memory_total_mib"] = round(sum(usage.values()))
    for name, value in usage.items():
        print(f"  {name:<24} {value:7.1f} MiB")
    print(f"idle memory of the stack ({len(usage)} containers, docker stats): "
          f"{result['memory_total_mib']} MiB (target <= 1536 MiB)")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
