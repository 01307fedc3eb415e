"""The capabilities a guest's root keeps: what a VM's root needs inside its own namespaces.

Roughly Docker's default set, without ``MKNOD`` (the driver gives the guest its /dev), plus
``NET_ADMIN`` so that the guest can configure its own network namespace. Everything that
reaches beyond the guest (``SYS_ADMIN``, ``SYS_MODULE``, ``SYS_PTRACE``, ``SYS_TIME``,
``SYS_RAWIO``, ``SYS_BOOT``, ...) is dropped from the bounding set before the guest's init
runs, so no process of the guest can ever regain it.
"""
from __future__ import annotations

from pathlib import Path

from agents.compute.process import syscalls

# Linux capability numbers (include/uapi/linux/capability.h).
CAPABILITIES = {
    "CHOWN": 0, "DAC_OVERRIDE": 1, "DAC_READ_SEARCH": 2, "FOWNER": 3, "FSETID": 4,
    "KILL": 5, "SETGID": 6, "SETUID": 7, "SETPCAP": 8, "LINUX_IMMUTABLE": 9,
    "NET_BIND_SERVICE": 10, "NET_BROADCAST": 11, "NET_ADMIN": 12, "NET_RAW": 13,
    "IPC_LOCK": 14, "IPC_OWNER": 15, "SYS_MODULE": 16, "SYS_RAWIO": 17, "SYS_CHROOT": 18,
    "SYS_PTRACE": 19, "SYS_PACCT": 20, "SYS_ADMIN": 21, "SYS_BOOT": 22, "SYS_NICE": 23,
    "SYS_RESOURCE": 24, "SYS_TIME": 25, "SYS_TTY_CONFIG": 26, "MKNOD": 27, "LEASE": 28,
    "AUDIT_WRITE": 29, "AUDIT_CONTROL": 30, "SETFCAP": 31, "MAC_OVERRIDE": 32,
    "MAC_ADMIN": 33, "SYSLOG": 34, "WAKE_ALARM": 35, "BLOCK_SUSPEND": 36, "AUDIT_READ": 37,
    "PERFMON": 38, "BPF": 39, "CHECKPOINT_RESTORE": 40,
}

GUEST_KEEPS = frozenset({
    "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID", "SETPCAP",
    "NET_BIND_SERVICE", "NET_RAW", "SYS_CHROOT", "AUDIT_WRITE", "SETFCAP", "NET_ADMIN",
})


def last_cap() -> int:
    """The highest capability number this kernel knows."""
    try:
        return int(Path("/proc/sys/kernel/cap_last_cap").read_text())
    except (OSError, ValueError):
        return max(CAPABILITIES.values())


def dropped_numbers(*, keep: frozenset[str] = GUEST_KEEPS, last: int | None = None) -> list[int]:
    """Every capability number up to ``last`` that a guest does not keep."""
    kept = {CAPABILITIES[name] for name in keep}
    top = last_cap() if last is None else last
    return [number for number in range(top + 1) if number not in kept]


def bounding_mask(*, keep: frozenset[str] = GUEST_KEEPS) -> int:
    """The bounding set a guest process ends with, as the bit mask /proc shows (CapBnd)."""
    return sum(1 << CAPABILITIES[name] for name in keep)


def drop_to_guest() -> None:
    """Drop the calling process's bounding set to what a guest keeps and forbid it to gain
    privileges through exec (setuid binaries); the next exec sheds the rest."""
    for number in dropped_numbers():
        syscalls.prctl(syscalls.PR_CAPBSET_DROP, number)
    # Dropbear changes user with setuid() as root, not by exec'ing a setuid binary, so
    # no_new_privs does not get in its way.
    syscalls.prctl(syscalls.PR_SET_NO_NEW_PRIVS, 1)
