"""The compose stack's images, built with no registry when none is reachable.

Two images: ``overcast/overcast`` (every service and agent) and ``overcast/rabbitmq``. Each is
built ``FROM`` an official base (``python:3.11-slim``, ``rabbitmq:3-management``) when one is
present or can be pulled. Otherwise both are built from ``overcast/base:bookworm``, a Debian
root made here with debootstrap and ``docker import`` once, then kept as the cache: once a
machine has fallen back to it, later builds use it without trying the registry again
(``--pull`` tries again).

A built image carries a label with a hash of its build context and base image id, so an
unchanged tree costs no ``docker build`` at all. Run ``python -m overcast.cli.images``.
"""
from __future__ import annotations

import concurrent.futures
import dataclasses
import hashlib
import logging
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path

logger = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_DIR = ROOT / "compose"
BASE_TAG = "overcast/base:bookworm"
PROJECT_TAG = "overcast/overcast:latest"
RABBITMQ_TAG = "overcast/rabbitmq:latest"
HASH_LABEL = "org.overcast.context-hash"
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
CA_IN_CONTEXT = COMPOSE_DIR / ".ca-bundle.crt"
DEBIAN_MIRROR = os.environ.get("OVERCAST_DEBIAN_MIRROR", "http://deb.debian.org/debian")
# What both images need from the Debian base; the rest comes from their Dockerfiles.
BASE_PACKAGES = ("python3", "python3-venv", "ca-certificates", "busybox-static", "iproute2")
PULL_TIMEOUT = 30.0


@dataclasses.dataclass(frozen=True)
class ImageSpec:
    """One image to build: its tag, official base, Dockerfile and the files it is built from."""

    tag: str
    official_base: str
    dockerfile: Path
    context: Path
    # Paths (relative to ``context``) whose content decides whether to rebuild.
    inputs: tuple[str, ...]


PROJECT = ImageSpec(
    tag=PROJECT_TAG, official_base="python:3.11-slim", dockerfile=COMPOSE_DIR / "Dockerfile",
    context=ROOT,
    inputs=("pyproject.toml", "overcast", "services", "agents", "protos",
            "compose/Dockerfile", "compose/overcast-host", "compose/overcast-healthy"))
RABBITMQ = ImageSpec(
    tag=RABBITMQ_TAG, official_base="rabbitmq:3-management",
    dockerfile=COMPOSE_DIR / "rabbitmq" / "Dockerfile", context=COMPOSE_DIR / "rabbitmq",
    inputs=(".",))
IMAGES = (PROJECT, RABBITMQ)


def _docker(*args: str, check: bool = True, timeout: float | None = None
            ) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], check=check, text=True, timeout=timeout,
                          capture_output=True)


def image_id(tag: str) -> str | None:
    """The image's id, or None when the daemon does not have it."""
    result = _docker("image", "inspect", "--format", "{{.Id}}", tag, check=False)
    return result.stdout.strip() if result.returncode == 0 else None


def image_label(tag: str, label: str) -> str | None:
    result = _docker("image", "inspect", "--format",
                     f'{{{{index .Config.Labels "{label}"}}}}', tag, check=False)
    value = result.stdout.strip()
    return value if result.returncode == 0 and value not in ("", "<no value>") else None


def try_pull(tag: str, *, timeout: float = PULL_TIMEOUT) -> bool:
    """Pull ``tag``; False (quickly, where the registry's name does not resolve) on failure."""
    try:
        result = _docker("pull", "-q", tag, check=False, timeout=timeout)
    except subprocess.TimeoutExpired:
        return False
    return result.returncode == 0


def _files(context: Path, inputs: Iterable[str]) -> list[Path]:
    found = []
    for item in inputs:
        path = context / item
        if path.is_file():
            found.append(path)
        elif path.is_dir():
            found += [p for p in path.rglob("*") if p.is_file() and "__pycache__" not in p.parts
                      and p.suffix != ".pyc" and p.name != ".ca-bundle.crt"]
    return sorted(found)


def context_hash(spec: ImageSpec, base_id: str) -> str:
    """A digest of everything the image is built from: its inputs and its base image."""
    digest = hashlib.sha256(base_id.encode())
    for path in _files(spec.context, spec.inputs):
        digest.update(str(path.relative_to(spec.context)).encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def build_debian_base(*, tag: str = BASE_TAG, suite: str = "bookworm",
                      say: Callable[[str], None] = print) -> None:
    """Make ``tag`` from Debian packages: debootstrap a minimal root, then ``docker import``."""
    if shutil.which("debootstrap") is None:
        say("installing debootstrap (apt-get)")
        subprocess.run(["apt-get", "update", "-qq"], check=True)
        subprocess.run(["apt-get", "install", "-y", "-qq", "debootstrap"], check=True,
                       env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
                       stdout=subprocess.DEVNULL)
    with tempfile.TemporaryDirectory(prefix="overcast-rootfs-", dir="/var/tmp") as tmp:
        rootfs = Path(tmp, "rootfs")
        say(f"debootstrap {suite} ({', '.join(BASE_PACKAGES)}) from {DEBIAN_MIRROR}")
        subprocess.run(["debootstrap", "--variant=minbase",
                        f"--include={','.join(BASE_PACKAGES)}", suite, str(rootfs),
                        DEBIAN_MIRROR], check=True, stdout=subprocess.DEVNULL)
        (rootfs / "etc/apt/sources.list").write_text(
            f"deb {DEBIAN_MIRROR} {suite} main\n"
            f"deb {DEBIAN_MIRROR} {suite}-updates main\n"
            f"deb http://deb.debian.org/debian-security {suite}-security main\n")
        # Smaller image: no package caches, docs or translations (apt-get update refills the
        # lists when a Dockerfile needs a package).
        for sub in ("var/cache/apt/archives", "var/lib/apt/lists", "usr/share/doc",
                    "usr/share/man", "usr/share/locale", "usr/share/info"):
            target = rootfs / sub
            if target.is_dir():
                for child in target.iterdir():
                    if child.is_dir() and not child.is_symlink():
                        shutil.rmtree(child)
                    elif child.name != "lock":
                        child.unlink()
        say(f"docker import -> {tag}")
        with subprocess.Popen(["docker", "import",
                               "--change", "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:"
                                           "/usr/bin:/sbin:/bin",
                               "--change", "ENV LANG=C.UTF-8",
                               "--change", 'CMD ["/bin/bash"]',
                               "-", tag], stdin=subprocess.PIPE,
                              stdout=subprocess.DEVNULL) as proc:
            assert proc.stdin is not None
            with tarfile.open(fileobj=proc.stdin, mode="w|", format=tarfile.PAX_FORMAT) as tar:
                for child in sorted(rootfs.iterdir()):
                    tar.add(child, arcname=child.name)
            proc.stdin.close()
            if proc.wait() != 0:
                raise RuntimeError(f"docker import of {tag} failed")


def resolve_base(spec: ImageSpec, *, pull: bool, say: Callable[[str], None] = print) -> str:
    """Which base ``spec`` builds from: the official one if present or pullable, else ours.

    A machine that already has ``overcast/base:bookworm`` is offline as far as we know, so
    it is used without a pull attempt unless ``pull`` asks to try the registry again.
    """
    if image_id(spec.official_base):
        return spec.official_base
    if image_id(BASE_TAG) and not pull:
        return BASE_TAG
    say(f"pulling {spec.official_base}")
    if try_pull(spec.official_base):
        return spec.official_base
    if not image_id(BASE_TAG):
        say(f"{spec.official_base} cannot be pulled: building {BASE_TAG} from Debian packages")
        build_debian_base(say=say)
    return BASE_TAG


def _prepare_ca_bundle() -> None:
    """Put the host's CA bundle in the build context: pip in the build may sit behind a
    TLS-intercepting proxy that only the host's bundle trusts."""
    data = HOST_CA_BUNDLE.read_bytes() if HOST_CA_BUNDLE.is_file() else b""
    if not CA_IN_CONTEXT.exists() or CA_IN_CONTEXT.read_bytes() != data:
        CA_IN_CONTEXT.write_bytes(data)


def build(spec: ImageSpec, *, base: str, force: bool = False,
          say: Callable[[str], None] = print) -> bool:
    """Build ``spec`` on ``base`` unless an image of the same inputs and base exists; True if
    it was built."""
    base_id = image_id(base)
    if base_id is None:
        raise RuntimeError(f"base image {base} is missing")
    wanted = context_hash(spec, base_id)
    if not force and image_label(spec.tag, HASH_LABEL) == wanted:
        return False
    if spec is PROJECT:
        _prepare_ca_bundle()
    say(f"building {spec.tag} from {base}")
    started = time.monotonic()
    verbose = os.environ.get("OVERCAST_BUILD_VERBOSE") == "1"
    # The classic builder: BuildKit needs the buildx plugin, which Debian bookworm lacks.
    env = {**os.environ, "DOCKER_BUILDKIT": os.environ.get("DOCKER_BUILDKIT", "0")}
    result = subprocess.run(
        ["docker", "build", *(() if verbose else ("-q",)), "-f", str(spec.dockerfile),
         "-t", spec.tag, "--build-arg", f"BASE_IMAGE={base}",
         "--label", f"{HASH_LABEL}={wanted}",
         "--label", f"org.opencontainers.image.base.name={base}", str(spec.context)],
        env=env, text=True, capture_output=not verbose, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"docker build of {spec.tag} failed:\n{result.stderr or ''}"
                           f"{(result.stdout or '')[-4000:]}")
    say(f"built {spec.tag} in {time.monotonic() - started:.1f}s")
    return True


def ensure_images(*, pull: bool = False, force: bool = False,
                  say: Callable[[str], None] = print) -> list[str]:
    """Make sure every image of the stack exists and is current; the tags that were built.

    Bases are settled first, one image at a time (they may share the Debian base); then the
    images build side by side, since their downloads (PyPI, Debian) overlap well.
    """
    bases = {spec.tag: resolve_base(spec, pull=pull, say=say) for spec in IMAGES}
    with concurrent.futures.ThreadPoolExecutor(max_workers=len(IMAGES)) as pool:
        futures = {spec.tag: pool.submit(build, spec, base=bases[spec.tag], force=force,
                                         say=say) for spec in IMAGES}
        return [tag for tag, future in futures.items() if future.result()]


def remove_images(*, base: bool = False) -> None:
    """Remove the stack's images (and with ``base`` the debootstrap base) for a clean build."""
    tags = [spec.tag for spec in IMAGES] + ([BASE_TAG] if base else [])
    _docker("rmi", "-f", *tags, check=False)


def main(argv: list[str] | None = None) -> int:
    import argparse
    parser = argparse.ArgumentParser(prog="python -m overcast.cli.images",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--pull", action="store_true",
                        help="try the registry for the official bases again")
    parser.add_argument("--force", action="store_true", help="rebuild even if current")
    parser.add_argument("--remove", action="store_true",
                        help="remove the images (and the base with --base) instead")
    parser.add_argument("--base", action="store_true", help="with --remove: the base too")
    args = parser.parse_args(argv)
    if args.remove:
        remove_images(base=args.base)
        return 0
    started = time.monotonic()
    try:
        built = ensure_images(pull=args.pull, force=args.force)
    except (RuntimeError, subprocess.CalledProcessError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"images ready ({', '.join(built) if built else 'all current'}) in "
          f"{time.monotonic() - started:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
