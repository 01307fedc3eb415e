"""The compose stack's images, built with no registry when none is reachable.

Two images: ``overcast/overcast`` (every service and agent) and ``overcast/rabbitmq``. Each is
built ``FROM`` an official base (``python:3.11-slim``, ``rabbitmq:3-management``) when one is
present or can be pulled. Otherwise both are built from ``overcast/base:bookworm``, a Debian
root made here with debootstrap and ``docker import`` once, then kept as the cache: once a
machine has fallen back to it, later builds use it without trying the registry again
(``--pull`` tries again).

The Debian base comes from the mirror the host's own apt uses (``/etc/apt/sources.list``,
``sources.list.d/*.list`` and ``*.sources``), so it builds behind whatever mirror or proxy the
machine has; ``OVERCAST_DEBIAN_MIRROR`` and ``OVERCAST_DEBIAN_SECURITY_MIRROR`` override it
(see ``debian_mirror``).

A built image carries a label with a hash of its build context and base image id, so an
unchanged tree costs no ``docker build`` at all. Run ``python -m overcast.cli.images``.
"""
from __future__ import annotations

import concurrent.futures
import dataclasses
import hashlib
import ipaddress
import logging
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from urllib.parse import urlsplit

logger = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_DIR = ROOT / "compose"
BASE_TAG = "overcast/base:bookworm"
PROJECT_TAG = "overcast/overcast:latest"
RABBITMQ_TAG = "overcast/rabbitmq:latest"
HASH_LABEL = "org.overcast.context-hash"
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
CA_IN_CONTEXT = COMPOSE_DIR / ".ca-bundle.crt"
# What both images need from the Debian base; the rest comes from their Dockerfiles.
BASE_PACKAGES = ("python3", "python3-venv", "ca-certificates", "busybox-static", "dropbear-bin",
                 "iproute2", "e2fsprogs")
PULL_TIMEOUT = 30.0


APT_ROOT = Path("/etc/apt")
# Suite names of the Debian archive itself (not of third-party repositories), bare or with a
# suffix such as -updates, -backports or -security.
DEBIAN_SUITES = frozenset({"buster", "bullseye", "bookworm", "trixie", "forky", "duke", "sid",
                           "oldoldstable", "oldstable", "stable", "testing", "unstable",
                           "experimental"})


@dataclasses.dataclass(frozen=True)
class AptSource:
    """One apt source: a repository URI with its suites and components (``deb`` only)."""

    uri: str
    suites: tuple[str, ...]
    components: tuple[str, ...]

    def debian_suites(self) -> tuple[str, ...]:
        """Those suites that belong to the Debian archive (``bookworm``, ``sid-updates``,
        ``bookworm-security``, ``buster/updates``...)."""
        return tuple(s for s in self.suites
                     if s.replace("/", "-").split("-", 1)[0] in DEBIAN_SUITES)

    def is_security(self) -> bool:
        return any(s.endswith(("-security", "/updates")) for s in self.debian_suites())


@dataclasses.dataclass(frozen=True)
class DebianMirror:
    """Where the Debian base comes from: the archive and, optionally, the security archive
    (whose suite is ``<suite>-security`` from bullseye on, whatever the host runs)."""

    archive: str
    security: str | None = None

    def sources_list(self, suite: str) -> str:
        """The base image's ``/etc/apt/sources.list`` for ``suite``."""
        lines = [f"deb {self.archive} {suite} main", f"deb {self.archive} {suite}-updates main"]
        if self.security:
            lines.append(f"deb {self.security} {suite}-security main")
        return "\n".join(lines) + "\n"

    def on_loopback(self) -> bool:
        """True when the archive is on this machine (an apt-cacher-ng, say), which a build
        container reaches only on the host's network."""
        host = urlsplit(self.archive).hostname or ""
        if host == "localhost":
            return True
        try:
            return ipaddress.ip_address(host).is_loopback
        except ValueError:
            return False


def _resolve_uri(uri: str) -> str | None:
    """A URI debootstrap can use: ``mirror+file:`` lists give their first mirror; CD-ROMs and
    unreadable lists give None."""
    uri = uri.strip().rstrip("/")
    if uri.startswith("cdrom:"):
        return None
    if uri.startswith("mirror+file:"):
        path = Path(urlsplit(uri.removeprefix("mirror+")).path)
        try:
            lines = path.read_text().splitlines()
        except OSError:
            return None
        first = next((line.split()[0] for line in lines
                      if line.strip() and not line.lstrip().startswith("#")), None)
        return _resolve_uri(first) if first else None
    return uri.removeprefix("mirror+")


def parse_one_line_sources(text: str) -> list[AptSource]:
    """The ``deb`` lines of a ``sources.list``-format file (``deb [options] URI suite
    component...``); ``deb-src`` lines and comments are skipped."""
    found = []
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line.startswith("deb "):
            continue
        rest = line[4:].strip()
        if rest.startswith("["):  # [arch=amd64 signed-by=...]
            rest = rest.partition("]")[2].strip()
        words = rest.split()
        if len(words) >= 2 and (uri := _resolve_uri(words[0])):
            found.append(AptSource(uri=uri, suites=(words[1],), components=tuple(words[2:])))
    return found


def parse_deb822_sources(text: str) -> list[AptSource]:
    """The enabled ``Types: deb`` stanzas of a deb822 ``*.sources`` file, one source per
    URI."""
    stanzas: list[dict[str, str]] = [{}]
    key = ""
    for raw in text.splitlines():
        if raw.lstrip().startswith("#"):
            continue
        if not raw.strip():
            stanzas.append({})
            key = ""
        elif raw[0].isspace() and key:  # a continuation line of the field before
            stanzas[-1][key] += " " + raw.strip()
        elif ":" in raw:
            key, _, value = raw.partition(":")
            key = key.strip().lower()
            stanzas[-1][key] = value.strip()
    found = []
    for fields in stanzas:
        if "deb" not in fields.get("types", "").split():
            continue
        if fields.get("enabled", "yes").strip().lower() == "no":
            continue
        suites = tuple(fields.get("suites", "").split())
        components = tuple(fields.get("components", "").split())
        for uri in fields.get("uris", "").split():
            if suites and (resolved := _resolve_uri(uri)):
                found.append(AptSource(uri=resolved, suites=suites, components=components))
    return found


def host_apt_sources(apt_root: Path = APT_ROOT) -> list[AptSource]:
    """Every ``deb`` source of the host's apt, in apt's own order: ``sources.list``, then
    ``sources.list.d/*.list`` and ``*.sources`` by name."""
    files = [apt_root / "sources.list"]
    parts = apt_root / "sources.list.d"
    if parts.is_dir():
        files += sorted(p for p in parts.iterdir() if p.suffix in (".list", ".sources"))
    found = []
    for path in files:
        try:
            text = path.read_text()
        except OSError:
            continue
        parse = parse_deb822_sources if path.suffix == ".sources" else parse_one_line_sources
        found += parse(text)
    return found


def debian_mirror(*, environ: Mapping[str, str] | None = None,
                  apt_root: Path = APT_ROOT) -> DebianMirror:
    """The mirror to debootstrap from.

    ``OVERCAST_DEBIAN_MIRROR`` names the archive, if set; otherwise the host's first Debian
    source (with ``main``, at a path ending in ``/debian`` if there is one) that is not the
    security archive. The security archive is
    ``OVERCAST_DEBIAN_SECURITY_MIRROR`` if set (empty: none), otherwise the host's security
    source, otherwise none: a host without one may have a mirror that carries no security
    suite, and the image then gets no line it could not fetch. With neither a variable nor a
    Debian source on the host, the archive is deb.debian.org.
    """
    environ = os.environ if environ is None else environ
    sources = [s for s in host_apt_sources(apt_root) if s.debian_suites()]
    # A third-party repository may name Debian's suites too (``bookworm main``); Debian's
    # archive and its mirrors are at a path ending in /debian, so those come first.
    archives = sorted((s for s in sources if not s.is_security() and "main" in s.components),
                      key=lambda s: not s.uri.endswith("/debian"))
    archive = environ.get("OVERCAST_DEBIAN_MIRROR", "").strip().rstrip("/") or next(
        (s.uri for s in archives), "http://deb.debian.org/debian")
    security_source = next((s for s in sources if s.is_security()), None)
    if "OVERCAST_DEBIAN_SECURITY_MIRROR" in environ:
        security = environ["OVERCAST_DEBIAN_SECURITY_MIRROR"].strip().rstrip("/") or None
    else:
        security = security_source.uri if security_source else None
    return DebianMirror(archive=archive, security=security)


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
                      mirror: DebianMirror | None = None,
                      say: Callable[[str], None] = print) -> None:
    """Make ``tag`` from Debian packages: debootstrap a minimal root from ``mirror`` (the
    host's, by default), then ``docker import``."""
    mirror = mirror or debian_mirror()
    if shutil.which("debootstrap") is None:
        say("installing debootstrap (apt-get)")
        subprocess.run(["apt-get", "update", "-qq"], check=True)
        subprocess.run(["apt-get", "install", "-y", "-qq", "debootstrap"], check=True,
                       env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
                       stdout=subprocess.DEVNULL)
    with tempfile.TemporaryDirectory(prefix="overcast-rootfs-", dir="/var/tmp") as tmp:
        rootfs = Path(tmp, "rootfs")
        say(f"debootstrap {suite} ({', '.join(BASE_PACKAGES)}) from {mirror.archive}")
        subprocess.run(["debootstrap", "--variant=minbase",
                        f"--include={','.join(BASE_PACKAGES)}", suite, str(rootfs),
                        mirror.archive], check=True, stdout=subprocess.DEVNULL)
        (rootfs / "etc/apt/sources.list").write_text(mirror.sources_list(suite))
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
    # A Debian base on a mirror on this machine (an apt-cacher-ng, say) is reachable from the
    # build's apt-get only on the host's network.
    network = ("--network", "host") if base == BASE_TAG and debian_mirror().on_loopback() \
        else ()
    result = subprocess.run(
        ["docker", "build", *(() if verbose else ("-q",)), *network, "-f", str(spec.dockerfile),
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
