"""The default image: a tiny root filesystem archive built from the host's static busybox.

Nothing is downloaded. The archive (tar.gz) holds ``/bin/busybox`` (Debian's
busybox-static), symlinks for the common applets and the skeleton of a Linux root. Entries
are sorted and carry fixed times and owners, so the same busybox gives the same bytes.
"""
from __future__ import annotations

import gzip
import io
import os
import tarfile
from pathlib import Path

BUSYBOX = Path("/bin/busybox")
MTIME = 1_700_000_000  # fixed, so that builds are reproducible

NAME = "cirros"
PROPERTIES = {"overcast_rootfs": "tar.gz"}

DIRS = {"bin": 0o755, "sbin": 0o755, "usr": 0o755, "usr/bin": 0o755, "usr/sbin": 0o755,
        "etc": 0o755, "proc": 0o555, "sys": 0o555, "dev": 0o755, "tmp": 0o1777,
        "root": 0o700, "home": 0o755, "mnt": 0o755, "var": 0o755, "var/log": 0o755,
        "var/run": 0o755, "run": 0o755}

APPLETS = {
    "bin": ("sh", "ash", "ls", "cat", "echo", "hostname", "mount", "umount", "ps", "sleep",
            "mkdir", "rm", "cp", "mv", "ln", "grep", "sed", "vi", "ping", "kill", "df",
            "dmesg", "date", "true", "false", "touch", "chmod", "chown", "uname", "sync",
            "stat", "mknod", "login", "more", "pwd", "rmdir", "egrep"),
    "sbin": ("init", "ip", "ifconfig", "route", "udhcpc", "poweroff", "reboot", "halt",
             "getty", "mdev", "switch_root"),
    "usr/bin": ("awk", "wget", "nc", "du", "free", "env", "id", "whoami", "test", "head",
                "tail", "tr", "wc", "sort", "printf", "find", "xargs", "less", "seq", "tee",
                "chroot", "uptime", "which", "clear", "reset"),
}

FILES = {
    "etc/hostname": "cirros\n",
    "etc/hosts": "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n",
    "etc/passwd": "root:x:0:0:root:/root:/bin/sh\n"
                  "cirros:x:1000:1000:cirros:/home/cirros:/bin/sh\n",
    "etc/group": "root:x:0:\ncirros:x:1000:\n",
    "etc/shells": "/bin/sh\n/bin/ash\n",
    "etc/os-release": 'NAME="Overcast CirrOS-like busybox image"\nID=cirros\n'
                      'VERSION_ID="0.1"\n'
                      'PRETTY_NAME="Overcast CirrOS-like busybox image"\n',
    "etc/motd": "Overcast CirrOS-like busybox image.\n",
}


class BusyboxMissing(FileNotFoundError):
    """The host has no static busybox to build the default image from."""


def _info(name: str, kind: bytes, mode: int, *, size: int = 0,
          linkname: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = mode
    info.size = size
    info.linkname = linkname
    info.mtime = MTIME
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    return info


def build_rootfs(dest: str | Path, *, busybox: str | Path = BUSYBOX) -> Path:
    """Write the root filesystem archive to ``dest`` (tar.gz) and return its path.

    Raises BusyboxMissing when ``busybox`` does not exist (on Debian: install
    ``busybox-static``).
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
        with open(busybox, "rb") as binary:
            tar.addfile(_info("bin/busybox", tarfile.REGTYPE, 0o755,
                              size=os.fstat(binary.fileno()).st_size), binary)
        links = sorted((f"{folder}/{applet}", folder)
                       for folder, applets in APPLETS.items() for applet in applets)
        for path, folder in links:
            target = os.path.relpath("bin/busybox", folder)
            tar.addfile(_info(path, tarfile.SYMTYPE, 0o777, linkname=target))
        for name in sorted(FILES):
            data = FILES[name].encode()
            tar.addfile(_info(name, tarfile.REGTYPE, 0o644, size=len(data)), io.BytesIO(data))
    os.replace(tmp, dest)
    return dest
