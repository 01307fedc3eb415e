"""The default image: a tiny root filesystem archive built from the host's static busybox.

Nothing is downloaded. The archive (tar.gz) holds ``/bin/busybox`` (Debian's
busybox-static), symlinks for the common applets, the skeleton of a Linux root and, when the
host has Debian's ``dropbear-bin``, the dropbear SSH server with the shared libraries it links
(found with ``ldd``) and the dynamic loader. It has a ``cirros`` user (uid 1000) whose
password, like root's, is locked: logins are by SSH key only. Entries are sorted and carry
fixed times and owners, so the same host binaries give the same bytes.
"""
from __future__ import annotations

import gzip
import io
import logging
import os
import re
import subprocess
import tarfile
from pathlib import Path

logger = logging.getLogger(__name__)

BUSYBOX = Path("/bin/busybox")
DROPBEAR = (Path("/usr/sbin/dropbear"), Path("/usr/bin/dropbearkey"))
CIRROS_UID = 1000
MTIME = 1_700_000_000  # fixed, so that builds are reproducible

NAME = "cirros"
PROPERTIES = {"overcast_rootfs": "tar.gz"}

DIRS = {"bin": 0o755, "sbin": 0o755, "usr": 0o755, "usr/bin": 0o755, "usr/sbin": 0o755,
        "etc": 0o755, "proc": 0o555, "sys": 0o555, "dev": 0o755, "tmp": 0o1777,
        "root": 0o700, "home": 0o755, "mnt": 0o755, "var": 0o755, "var/log": 0o755,
        "var/run": 0o755, "run": 0o755, "dev/pts": 0o755, "etc/dropbear": 0o700,
        "var/lib": 0o755, "mnt/config": 0o755, "mnt/volumes": 0o755}
# Owned by the cirros user: its home, and the .ssh the guest init puts its key in.
USER_DIRS = {"home/cirros": 0o755, "home/cirros/.ssh": 0o700}

APPLETS = {
    "bin": ("sh", "ash", "ls", "cat", "echo", "hostname", "mount", "umount", "ps", "sleep",
            "mkdir", "rm", "cp", "mv", "ln", "grep", "sed", "vi", "ping", "kill", "df",
            "dmesg", "date", "true", "false", "touch", "chmod", "chown", "uname", "sync",
            "stat", "mknod", "login", "more", "pwd", "rmdir", "egrep", "dd", "cut"),
    "sbin": ("init", "ip", "ifconfig", "route", "udhcpc", "poweroff", "reboot", "halt",
             "getty", "mdev", "switch_root"),
    "usr/bin": ("awk", "wget", "nc", "du", "free", "env", "id", "whoami", "test", "head",
                "tail", "tr", "wc", "sort", "printf", "find", "xargs", "less", "seq", "tee",
                "chroot", "uptime", "which", "clear", "reset", "setsid", "timeout"),
}

FILES = {
    "etc/hostname": "cirros\n",
    "etc/hosts": "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n",
    "etc/passwd": "root:x:0:0:root:/root:/bin/sh\n"
                  "cirros:x:1000:1000:cirros:/home/cirros:/bin/sh\n",
    "etc/group": "root:x:0:\ncirros:x:1000:\n",
    "etc/shells": "/bin/sh\n/bin/ash\n",
    # Locked passwords ("!"): nobody logs in with one, only with an SSH key.
    "etc/shadow": "root:!:19675:0:99999:7:::\ncirros:!:19675:0:99999:7:::\n",
    "etc/os-release": 'NAME="Overcast CirrOS-like busybox image"\nID=cirros\n'
                      'VERSION_ID="0.1"\n'
                      'PRETTY_NAME="Overcast CirrOS-like busybox image"\n',
    "etc/motd": "Overcast CirrOS-like busybox image.\n",
}


class BusyboxMissing(FileNotFoundError):
    """The host has no static busybox to build the default image from."""


def _info(name: str, kind: bytes, mode: int, *, size: int = 0,
          linkname: str = "", uid: int = 0) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = mode
    info.size = size
    info.linkname = linkname
    info.mtime = MTIME
    info.uid = info.gid = uid
    info.uname = info.gname = "root" if uid == 0 else NAME
    return info


def linked_files(binary: Path) -> list[Path]:
    """The shared libraries and dynamic loader ``binary`` needs, as ``ldd`` finds them."""
    out = subprocess.run(["ldd", str(binary)], check=True, capture_output=True,
                         text=True).stdout
    found = re.findall(r"(?:=>\s*)?(/\S+)\s+\(0x", out)
    return sorted({Path(path) for path in found})


def ssh_server_files(binaries: tuple[Path, ...] = DROPBEAR) -> dict[str, Path]:
    """Archive name -> host file for the SSH server, or {} when the host has none."""
    if not all(binary.is_file() for binary in binaries):
        logger.warning("%s not found (install Debian's dropbear-bin): the default image "
                       "is built without an SSH server", " or ".join(map(str, binaries)))
        return {}
    files = {str(binary).lstrip("/"): binary for binary in binaries}
    for binary in binaries:
        for library in linked_files(binary):
            files[str(library).lstrip("/")] = library
    return files


def _add_file(tar: tarfile.TarFile, name: str, source: Path, mode: int) -> None:
    with open(source, "rb") as data:
        tar.addfile(_info(name, tarfile.REGTYPE, mode, size=os.fstat(data.fileno()).st_size),
                    data)


def build_rootfs(dest: str | Path, *, busybox: str | Path = BUSYBOX,
                 ssh_server: tuple[Path, ...] = DROPBEAR) -> Path:
    """Write the root filesystem archive to ``dest`` (tar.gz) and return its path.

    Raises BusyboxMissing when ``busybox`` does not exist (on Debian: install
    ``busybox-static``). Without ``ssh_server`` on the host the image has no SSH server.
    """
    busybox = Path(busybox)
    if not busybox.is_file():
        raise BusyboxMissing(
            f"{busybox} not found: the default image is built from a static busybox; "
            "install Debian's busybox-static (apt-get install busybox-static).")
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + ".part")
    with open(tmp, "wb") as raw, \
            gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=9) as gz, \
            tarfile.open(fileobj=gz, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for name in sorted(DIRS):
            tar.addfile(_info(name, tarfile.DIRTYPE, DIRS[name]))
        for name in sorted(USER_DIRS):
            tar.addfile(_info(name, tarfile.DIRTYPE, USER_DIRS[name], uid=CIRROS_UID))
        _add_file(tar, "bin/busybox", busybox, 0o755)
        extra = ssh_server_files(ssh_server)
        folders = {str(parent) for name in extra for parent in Path(name).parents}
        for folder in sorted(folders - set(DIRS) - {"."}):
            tar.addfile(_info(folder, tarfile.DIRTYPE, 0o755))
        for name in sorted(extra):
            _add_file(tar, name, extra[name], 0o755)
        links = sorted((f"{folder}/{applet}", folder)
                       for folder, applets in APPLETS.items() for applet in applets)
        for path, folder in links:
            target = os.path.relpath("bin/busybox", folder)
            tar.addfile(_info(path, tarfile.SYMTYPE, 0o777, linkname=target))
        for name in sorted(FILES):
            data = FILES[name].encode()
            mode = 0o640 if name == "etc/shadow" else 0o644
            tar.addfile(_info(name, tarfile.REGTYPE, mode, size=len(data)), io.BytesIO(data))
    os.replace(tmp, dest)
    return dest
