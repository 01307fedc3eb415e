"""The ``process`` driver booting the real cirros image, asserted on real state: /proc of the
host and of the guest, mountinfo, cgroups, the guest's disk and its console log."""
from __future__ import annotations

import asyncio
import io
import os
import signal
import tarfile
import time
from pathlib import Path

import pytest

from agents.compute.contract import PAUSED, RUNNING, SHUTDOWN, SUSPENDED
from agents.compute.driver import SHARED, GuestNotFound, InvalidImage, SpawnError
from agents.compute.process import caps, cgroups, syscalls
from agents.compute.process.disks import COPY
from agents.compute.process.guests import namespace_members
from overcast.testing import eventually
from services.image import cirros
from tests.integration.guests.conftest import PUBLIC_KEY, any_alive, guest_sh, instance

pytestmark = pytest.mark.integration


def rss_kib(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except FileNotFoundError:
            continue  # it exited meanwhile
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
    return total


def driver_netns_mounted(driver, instance_id: str) -> bool:
    target = str(driver.netns_path(instance_id))
    with open("/proc/self/mountinfo") as mounts:
        return any(line.split()[4] == target for line in mounts)


async def ssh_listening(netns: Path) -> bool:
    """True when something listens on TCP port 22 in the network namespace at ``netns``."""
    nsenter = await asyncio.create_subprocess_exec(
        "nsenter", f"--net={netns}", "cat", "/proc/net/tcp", stdout=asyncio.subprocess.PIPE)
    tcp = (await nsenter.communicate())[0].decode()
    return any(row.split()[1].endswith(":0016") and row.split()[3] == "0A"
               for row in tcp.splitlines()[1:])


def zombies(init_pid: int) -> list[int]:
    found = []
    for pid in namespace_members(init_pid):
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except FileNotFoundError:
            continue
        if state == "Z":
            found.append(pid)
    return found


async def booted(driver, instance_id: str) -> str:
    """The console once the init said it finished booting."""
    return await eventually(
        lambda: _if_login(driver.disks[instance_id].console_log), timeout=15,
        message=lambda: driver.disks[instance_id].console_log.read_text())


def _if_login(log: Path) -> str:
    text = log.read_text() if log.exists() else ""
    return text if "login:" in text else ""


async def test_guest_is_isolated_and_configured(make_driver, cirros_image, tmp_path):
    driver = await make_driver()
    marker = tmp_path / "host-only-marker"
    marker.write_text("the host's\n")
    result = await driver.spawn(instance("vm-1", name="Web Server 1"), image=cirros_image,
                                network_info=[])
    assert not result.disk_reused
    console = await booted(driver, "vm-1")
    assert "overcast-init: Overcast guest booting" in console
    assert "web-server-1 login:" in console
    info = driver.get_info("vm-1")
    assert (info.power_state, info.memory_mb, info.vcpus) == (RUNNING, 128, 1)

    inside = await guest_sh(driver, "vm-1", "cat /proc/1/cmdline | tr '\\0' ' '; echo; "
                            f"hostname; test -e {marker} && echo SEES-HOST; ls /proc | "
                            "grep -c '^[0-9]'; ls -ln /home/cirros/.ssh; "
                            "cat /home/cirros/.ssh/authorized_keys; "
                            "stat -c '%a %u' /home/cirros/.ssh; grep CapBnd /proc/self/status")
    lines = inside.splitlines()
    assert lines[0].strip() == "/bin/sh /.overcast/init"  # the init is PID 1 in its own ns
    assert lines[1] == "web-server-1"
    assert "SEES-HOST" not in inside
    assert int(lines[2]) < 10  # its own few processes, none of the host's hundreds
    assert PUBLIC_KEY in inside
    assert "-rw-------    1 1000     1000" in inside and "700 1000" in inside
    assert f"CapBnd:\t{caps.bounding_mask():016x}" in inside
    assert "overcast-init" not in (await guest_sh(driver, "vm-1", "ls /"))
    locked = await guest_sh(driver, "vm-1", "grep -E ' /sys | /proc/sys ' /proc/mounts; "
                            "echo x > /proc/sys/kernel/domainname 2>/dev/null && echo WROTE; "
                            "mount -t tmpfs none /mnt 2>/dev/null && echo MOUNTED; "
                            "mknod /tmp/sda b 8 0 2>/dev/null && echo MKNOD; "
                            "ls /dev/pts/ptmx /dev/null /dev/urandom /mnt/config/openstack")
    assert all(" ro," in row for row in locked.splitlines()[:2]), locked
    assert not {"WROTE", "MOUNTED", "MKNOD"} & set(locked.split()), locked
    assert "/dev/pts/ptmx" in locked and "latest" in locked

    # A login shell when no command is given (what the console service runs on a pty).
    shell = await asyncio.create_subprocess_exec(
        *driver.console_command("vm-1", None), stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE)
    out, _ = await asyncio.wait_for(shell.communicate(b"echo $HOME $PATH; exit 3\n"), 30)
    assert out.decode().split() == ["/root", "/usr/sbin:/usr/bin:/sbin:/bin"]
    assert shell.returncode == 3

    # Its network namespace, reachable at netns_path: dropbear listens on port 22 in it.
    netns = driver.netns_path("vm-1")
    await eventually(lambda: ssh_listening(netns), timeout=10,
                     message="dropbear does not listen on port 22 in the guest's netns")
    assert os.readlink(f"/proc/{driver.records['vm-1'].pid}/ns/net") != \
        os.readlink("/proc/self/ns/net")

    tree = cgroups.detect()
    if tree.writable and tree.version == 1:
        limit = tree.root / f"memory/overcast/{driver.host}--vm-1/memory.limit_in_bytes"
        assert int(limit.read_text()) == 128 * 2**20
        quota = tree.root / f"cpu/overcast/{driver.host}--vm-1/cpu.cfs_quota_us"
        assert int(quota.read_text()) == cgroups.CPU_PERIOD_US
    assert driver.host_resources()["limits_enforced"] is tree.enforces_limits

    # The init reaps what is orphaned to it.
    await guest_sh(driver, "vm-1", "(sleep 0.2 &); (true &)")
    init = driver.records["vm-1"].pid
    await eventually(lambda: len(namespace_members(init)) == 2 and not zombies(init),
                     timeout=5, message=lambda: f"not idle: {namespace_members(init)}")

    pids = namespace_members(driver.records["vm-1"].pid)
    print(f"\nidle guest: {len(pids)} processes, RSS {rss_kib(pids) / 1024:.1f} MiB")
    assert rss_kib(pids) < 10 * 1024

    last = await driver.get_console_output("vm-1", length=2)
    assert len(last.splitlines()) == 2
    assert (await driver.get_console_output("vm-1")).startswith("overcast-init")


async def test_user_data_runs_once_across_reboots(make_driver, cirros_image):
    driver = await make_driver()
    script = "#!/bin/sh\necho USER-DATA-RAN\necho run >> /root/user-data-runs\n"
    await driver.spawn(instance("vm-ud", user_data=script), image=cirros_image,
                       network_info=[])
    await booted(driver, "vm-ud")
    first_pid = driver.records["vm-ud"].pid
    await driver.reboot("vm-ud", hard=False)
    assert driver.records["vm-ud"].pid != first_pid
    await eventually(lambda: driver.disks["vm-ud"].console_log.read_text().count("login:")
                     == 2, timeout=15)
    console = await driver.get_console_output("vm-ud")
    assert console.count("USER-DATA-RAN") == 1
    assert "overcast-init: stopping (SIGTERM)" in console  # soft reboot asked the init
    assert (await guest_sh(driver, "vm-ud", "cat /root/user-data-runs")) == "run\n"
    await driver.reboot("vm-ud", hard=True)
    assert (await guest_sh(driver, "vm-ud", "cat /root/user-data-runs")) == "run\n"


def read_counter(driver, instance_id: str) -> int:
    text = Path(f"/proc/{driver.records[instance_id].pid}/root/tmp/counter").read_text()
    return int(text or 0)


UNIFIED = Path("/sys/fs/cgroup/unified")
FREEZERS = {
    "host-cgroups": lambda: None,
    # A read-only cgroup tree (as in some containers): SIGSTOP/SIGCONT instead.
    "sigstop": lambda: cgroups.CgroupTree(0, Path("/nonexistent"), False, "test: read-only"),
    # The v2 freezer, on the hybrid host's unified hierarchy when it has one.
    "cgroup-v2": lambda: cgroups.detect(UNIFIED) if (UNIFIED / "cgroup.controllers").exists()
    else pytest.skip("no cgroup v2 hierarchy here"),
}


@pytest.mark.parametrize("freezer", sorted(FREEZERS))
async def test_pause_and_suspend_freeze_the_guest(make_driver, cirros_image, freezer):
    driver = await make_driver()
    tree = FREEZERS[freezer]()
    if tree is not None:
        driver.cgroups = tree
        assert driver.host_resources()["limits_enforced"] is False
    await driver.spawn(instance("vm-p"), image=cirros_image, network_info=[])
    await booted(driver, "vm-p")
    await guest_sh(driver, "vm-p", "i=0; setsid sh -c 'i=0; while :; do i=$((i+1)); "
                   "echo $i > /tmp/counter.new; mv /tmp/counter.new /tmp/counter; "
                   "sleep 0.05; done' >/dev/null 2>&1 &")
    start = await eventually(lambda: _counter_at_least(driver, "vm-p", 3))
    for freeze, thaw, state in ((driver.pause, driver.unpause, PAUSED),
                                (driver.suspend, driver.resume, SUSPENDED)):
        await freeze("vm-p")
        await freeze("vm-p")  # idempotent
        assert driver.get_info("vm-p").power_state == state
        frozen_at = read_counter(driver, "vm-p")
        # A negative check needs time to pass: the counter ticks every 50 ms when it runs.
        await asyncio.sleep(0.5)
        assert read_counter(driver, "vm-p") == frozen_at
        await thaw("vm-p")
        assert driver.get_info("vm-p").power_state == RUNNING
        await eventually(lambda: _counter_at_least(driver, "vm-p", frozen_at + 3),  # noqa: B023
                         timeout=5)
    assert start
    await driver.pause("vm-p")
    await driver.power_off("vm-p", grace=5)  # a paused guest is thawed to hear SIGTERM
    assert driver.get_info("vm-p").power_state == SHUTDOWN
    assert "overcast-init: halted" in await driver.get_console_output("vm-p")


def _counter_at_least(driver, instance_id: str, value: int) -> bool:
    path = Path(f"/proc/{driver.records[instance_id].pid}/root/tmp/counter")
    try:
        return int(path.read_text() or 0) >= value
    except (FileNotFoundError, ValueError):
        return False


async def test_killed_init_is_shutdown_and_power_on_keeps_data(make_driver, cirros_image):
    driver = await make_driver()
    await driver.spawn(instance("vm-k"), image=cirros_image, network_info=[])
    await booted(driver, "vm-k")
    await guest_sh(driver, "vm-k", "echo precious > /root/data; sync")
    pids = namespace_members(driver.records["vm-k"].pid)
    os.kill(driver.records["vm-k"].pid, signal.SIGKILL)
    await eventually(lambda: driver.get_info("vm-k").power_state == SHUTDOWN, timeout=5)
    await eventually(lambda: not any_alive(pids))
    # Released soon after the driver saw it dead (in a thread: never in the power sync).
    await eventually(lambda: not driver.netns_path("vm-k").exists(), timeout=5)
    await driver.power_on("vm-k")
    await driver.power_on("vm-k")  # idempotent
    assert driver.get_info("vm-k").power_state == RUNNING
    assert (await guest_sh(driver, "vm-k", "cat /root/data")) == "precious\n"


async def test_power_off_honours_sigterm_then_sigkills(make_driver, cirros_image):
    driver = await make_driver()
    await driver.spawn(instance("vm-o"), image=cirros_image, network_info=[])
    await booted(driver, "vm-o")
    await guest_sh(driver, "vm-o", "echo kept > /root/data")
    started = time.monotonic()
    await driver.power_off("vm-o", grace=10)
    assert time.monotonic() - started < 5  # the init stopped at SIGTERM, well in its grace
    console = await driver.get_console_output("vm-o")
    assert "stopping (SIGTERM)" in console and "overcast-init: halted" in console
    assert driver.get_info("vm-o").power_state == SHUTDOWN
    await driver.power_off("vm-o")  # idempotent
    await driver.power_on("vm-o")
    await booted(driver, "vm-o")
    assert (await guest_sh(driver, "vm-o", "cat /root/data")) == "kept\n"
    # A process that ignores SIGTERM keeps the init waiting: SIGKILL after the grace.
    await guest_sh(driver, "vm-o", "setsid sh -c 'trap \"\" TERM; while :; do sleep 1; done' "
                   ">/dev/null 2>&1 &")
    pids = namespace_members(driver.records["vm-o"].pid)
    started = time.monotonic()
    await driver.power_off("vm-o", grace=1.5)
    assert time.monotonic() - started >= 1.5
    assert driver.get_info("vm-o").power_state == SHUTDOWN
    assert not any_alive(pids)
    assert (await driver.get_console_output("vm-o")).count("overcast-init: halted") == 1


async def test_snapshot_then_clone_has_the_data(make_driver, cirros_image, tmp_path):
    driver = await make_driver()
    await driver.spawn(instance("vm-s"), image=cirros_image, network_info=[])
    await booted(driver, "vm-s")
    await guest_sh(driver, "vm-s", "echo snapped > /root/data; rm /etc/motd; "
                   "head -c 200000000 /dev/zero > /root/big; sync")
    started = time.monotonic()
    assert await driver.snapshot("vm-s", tmp_path / "snap.tar") == "tar"
    took = time.monotonic() - started
    print(f"\nsnapshot of a ~200 MB guest: {took:.2f} s")
    assert took < 5
    assert driver.get_info("vm-s").power_state == RUNNING  # thawed again
    driver.disks["vm-s"]._usage = (0.0, 0)  # forget the cached figure
    assert driver.get_info("vm-s").disk_used_bytes >= 200_000_000
    assert driver.quota.account("vm-s", used=2**30 + 1, disk_gb=1)  # over m1.tiny's 1 GiB
    with tarfile.open(tmp_path / "snap.tar") as tar:
        names = set(tar.getnames())
    assert {"root/data", "bin/busybox", "proc", "dev"} <= names
    assert "etc/motd" not in names and not any(n.startswith(("proc/", ".overcast"))
                                               for n in names)
    await driver.spawn(instance("vm-clone", image_ref="snap-1"), image=tmp_path / "snap.tar",
                       network_info=[])
    await booted(driver, "vm-clone")
    out = await guest_sh(driver, "vm-clone", "cat /root/data; wc -c < /root/big; "
                         "test -e /etc/motd || echo no-motd")
    assert out.split() == ["snapped", "200000000", "no-motd"]
    # A stopped guest snapshots too.
    await driver.power_off("vm-clone", grace=5)
    await driver.snapshot("vm-clone", tmp_path / "stopped.tar")
    with tarfile.open(tmp_path / "stopped.tar") as tar:
        assert tar.extractfile("root/data").read() == b"snapped\n"


async def test_a_mount_under_the_volumes_dir_appears_in_the_guest(make_driver, cirros_image,
                                                                  tmp_path):
    driver = await make_driver()
    await driver.spawn(instance("vm-v"), image=cirros_image, network_info=[])
    volume = tmp_path / "volume-1"
    volume.mkdir()
    (volume / "on-the-volume").write_text("from the host\n")
    mount_point = driver.volumes_path("vm-v") / "vol-1"
    mount_point.mkdir()
    syscalls.mount(str(volume), str(mount_point), None, syscalls.MS_BIND)
    try:
        out = await guest_sh(driver, "vm-v", "cat /mnt/volumes/vol-1/on-the-volume")
        assert out == "from the host\n"
    finally:
        syscalls.umount(str(mount_point))
    out = await guest_sh(driver, "vm-v", "ls /mnt/volumes/vol-1")
    assert out == ""  # the unmount propagated too


async def test_destroy_and_cleanup_leave_nothing(make_driver, cirros_image):
    driver = await make_driver()
    for name in ("vm-d1", "vm-d2"):
        await driver.spawn(instance(name), image=cirros_image, network_info=[])
    pids = namespace_members(driver.records["vm-d1"].pid)
    disk = driver.disks["vm-d1"].path
    await driver.destroy("vm-d1")
    await driver.destroy("vm-d1")  # idempotent
    assert not disk.exists() and not any_alive(pids)
    assert [g.instance_id for g in driver.list_guests()] == ["vm-d2"]
    with pytest.raises(GuestNotFound):
        driver.get_info("vm-d1")
    kept = driver.disks["vm-d2"].path
    await driver.cleanup_host()
    assert driver.get_info("vm-d2").power_state == SHUTDOWN and (kept / "upper").is_dir()
    assert not driver.netns_path("vm-d2").exists()


async def test_restarted_driver_adopts_running_guests(make_driver, cirros_image):
    first = await make_driver()
    await first.spawn(instance("vm-a"), image=cirros_image, network_info=[])
    pid = first.records["vm-a"].pid
    second = await make_driver("host-a", state=first.state_dir)
    info = second.get_info("vm-a")
    assert info.power_state == RUNNING and second.records["vm-a"].pid == pid
    await second.power_off("vm-a", grace=5)
    assert first.get_info("vm-a").power_state == SHUTDOWN  # the same real guest
    # Seeing it dead, the first driver releases what it held, in the background: let it
    # finish before the guest starts again (two drivers never share a host's state but
    # here, where the first stands for an agent that is gone).
    await asyncio.gather(*list(first._release_tasks))
    # A guest that died while no agent watched is adopted as stopped, its mounts released.
    await second.power_on("vm-a")
    os.kill(second.records["vm-a"].pid, signal.SIGKILL)
    await eventually(lambda: not any_alive([second.records["vm-a"].pid]))
    assert driver_netns_mounted(second, "vm-a")
    third = await make_driver("host-a", state=first.state_dir)
    assert third.get_info("vm-a").power_state == SHUTDOWN
    assert not driver_netns_mounted(third, "vm-a")
    await third.power_on("vm-a")
    assert third.get_info("vm-a").power_state == RUNNING


async def test_shared_disk_moves_between_hosts_and_local_disks_start_fresh(
        make_driver, cirros_image):
    host_a, host_b = await make_driver("host-a"), await make_driver("host-b")
    await host_a.spawn(instance("vm-sh"), image=cirros_image, network_info=[],
                       storage=SHARED)
    await guest_sh(host_a, "vm-sh", "echo travels > /root/data")
    disk = host_a.disks["vm-sh"]
    assert disk.owner() == host_a.host
    await host_a.power_off("vm-sh", grace=5)
    result = await host_b.spawn(instance("vm-sh"), image=cirros_image, network_info=[],
                                storage=SHARED, reuse_disk=True)
    assert result.disk_reused and disk.owner() == host_b.host
    assert (await guest_sh(host_b, "vm-sh", "cat /root/data")) == "travels\n"
    await host_a.destroy("vm-sh")  # the old host forgets it, but the disk is host-b's now
    assert disk.exists()
    assert (await guest_sh(host_b, "vm-sh", "cat /root/data")) == "travels\n"

    await host_a.spawn(instance("vm-l"), image=cirros_image, network_info=[])
    await guest_sh(host_a, "vm-l", "echo old > /root/data")
    await host_a.destroy("vm-l", keep_disk=True)
    result = await host_a.spawn(instance("vm-l"), image=cirros_image, network_info=[])
    assert not result.disk_reused
    assert (await guest_sh(host_a, "vm-l", "cat /root/data 2>/dev/null || echo fresh")) == \
        "fresh\n"
    # A stopped guest spawned again on the same host (a resize): reuse keeps its disk.
    await guest_sh(host_a, "vm-l", "echo resized > /root/data")
    await host_a.power_off("vm-l", grace=5)
    result = await host_a.spawn(instance("vm-l"), image=cirros_image, network_info=[],
                                reuse_disk=True)
    assert result.disk_reused
    assert (await guest_sh(host_a, "vm-l", "cat /root/data")) == "resized\n"


async def test_rescue_boots_the_image_with_the_disk_at_mnt_rescue(make_driver, cirros_image):
    driver = await make_driver()
    await driver.spawn(instance("vm-r"), image=cirros_image, network_info=[])
    await guest_sh(driver, "vm-r", "echo mine > /root/data")
    await driver.rescue("vm-r", image=None)
    out = await guest_sh(driver, "vm-r", "cat /mnt/rescue/root/data; "
                         "test -e /root/data || echo clean-root")
    assert out.split() == ["mine", "clean-root"]
    await driver.unrescue("vm-r")
    assert (await guest_sh(driver, "vm-r", "cat /root/data")) == "mine\n"


async def test_bad_images_are_refused_and_leave_nothing(make_driver, tmp_path):
    driver = await make_driver()
    not_tar = tmp_path / "not-a-tar.img"
    not_tar.write_bytes(b"\x00" * 4096)
    no_shell = tmp_path / "no-shell.tar"
    with tarfile.open(no_shell, "w") as tar:
        info = tarfile.TarInfo("etc")
        info.type = tarfile.DIRTYPE
        tar.addfile(info)
    for image in (not_tar, no_shell):
        with pytest.raises(InvalidImage):
            await driver.spawn(instance("vm-bad", image_ref=image.stem), image=image,
                               network_info=[])
        assert driver.list_guests() == []
        assert not (driver.state_dir / "local" / "instances" / "vm-bad").exists()
    with pytest.raises(GuestNotFound):
        driver.console_command("vm-missing", None)


async def test_an_image_whose_shell_cannot_run_fails_to_spawn_and_leaves_nothing(
        make_driver, tmp_path):
    driver = await make_driver()
    broken = tmp_path / "broken.tar"
    with tarfile.open(broken, "w") as tar:
        info = tarfile.TarInfo("bin/sh")
        info.size, info.mode = 13, 0o755
        tar.addfile(info, io.BytesIO(b"not a binary\n"))
    with pytest.raises(SpawnError, match="Exec format error"):
        await driver.spawn(instance("vm-broken", image_ref="broken"), image=broken,
                           network_info=[])
    assert driver.list_guests() == []
    assert not (driver.state_dir / "local" / "instances" / "vm-broken").exists()
    assert not driver.netns_path("vm-broken").exists()


async def test_ssh_logs_in_with_the_key_pair_only(make_driver, cirros_image, tmp_path):
    key = tmp_path / "id_ed25519"
    keygen = await asyncio.create_subprocess_exec(
        "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key),
        stdout=asyncio.subprocess.DEVNULL)
    assert await keygen.wait() == 0
    public = (tmp_path / "id_ed25519.pub").read_text().strip()
    driver = await make_driver()
    await driver.spawn(instance("vm-ssh", key_data=public), image=cirros_image,
                       network_info=[])
    await booted(driver, "vm-ssh")
    await eventually(lambda: ssh_listening(driver.netns_path("vm-ssh")), timeout=10)
    ssh = ["nsenter", f"--net={driver.netns_path('vm-ssh')}", "ssh", "-i", str(key),
           "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
           "-o", "BatchMode=yes", "-o", "ConnectTimeout=10"]

    async def run(*args: str) -> tuple[int, str]:
        proc = await asyncio.create_subprocess_exec(
            *ssh, *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
        out = (await asyncio.wait_for(proc.communicate(), timeout=30))[0].decode()
        return proc.returncode, out

    code, out = await run("cirros@127.0.0.1", "id -un; hostname")
    assert code == 0 and out.split()[-2:] == ["cirros", "web-1"], out
    code, out = await run("-v", "-o", "PreferredAuthentications=none", "root@127.0.0.1", "id")
    assert code != 0 and "Authentications that can continue: publickey\r" in out + "\r", out
    assert "password" not in out.split("Authentications that can continue:")[1].split("\n")[0]
    code, out = await run("root@127.0.0.1", "id")  # root has no key of this user's
    assert code != 0


async def test_a_stopped_guest_refuses_console_and_pause(make_driver, cirros_image):
    driver = await make_driver()
    await driver.spawn(instance("vm-st"), image=cirros_image, network_info=[])
    await driver.power_off("vm-st", grace=5)
    with pytest.raises(SpawnError, match="not running"):
        driver.console_command("vm-st", ["true"])
    with pytest.raises(SpawnError, match="not running"):
        await driver.pause("vm-st")


async def test_without_overlayfs_the_disk_is_a_full_copy(make_driver, cirros_image, tmp_path):
    driver = await make_driver()
    driver._layout = COPY  # what the driver picks when an overlay cannot be mounted here
    await driver.spawn(instance("vm-c"), image=cirros_image, network_info=[])
    disk = driver.disks["vm-c"]
    assert disk.layout() == COPY and (disk.rootfs / "bin/busybox").is_file()
    await guest_sh(driver, "vm-c", "echo copied > /root/data")
    assert (disk.rootfs / "root/data").read_text() == "copied\n"
    base = driver.images.root / disk.base() / "rootfs"
    assert (base / "root").is_dir()
    assert not (base / "root/data").exists()  # cache untouched
    await driver.power_off("vm-c", grace=5)
    await driver.snapshot("vm-c", tmp_path / "copy.tar")
    with tarfile.open(tmp_path / "copy.tar") as tar:
        assert tar.extractfile("root/data").read() == b"copied\n"
    await driver.power_on("vm-c")
    assert (await guest_sh(driver, "vm-c", "cat /root/data")) == "copied\n"


async def test_a_users_own_minimal_root_boots_without_ssh_or_cirros(make_driver, tmp_path):
    image = tmp_path / "mini.image"  # an xz tar, whatever its name says
    with tarfile.open(image, "w:xz") as tar:
        tar.add(str(cirros.BUSYBOX), arcname="bin/busybox")
        for applet in ("sh", "hostname", "cat", "sleep", "ip", "mkdir", "head", "grep"):
            link = tarfile.TarInfo(f"bin/{applet}")
            link.type, link.linkname = tarfile.SYMTYPE, "busybox"
            tar.addfile(link)
    driver = await make_driver()
    await driver.spawn(instance("vm-mini", image_ref="mini"), image=image, network_info=[])
    console = await booted(driver, "vm-mini")
    assert "no dropbear in this image" in console
    assert "authorized key" not in console
    assert (await guest_sh(driver, "vm-mini", "hostname")) == "web-1\n"


async def test_diagnostics_see_the_disk_and_memory_a_guest_uses(make_driver, cirros_image):
    driver = await make_driver()
    await driver.spawn(instance("vm-d"), image=cirros_image, network_info=[])
    await booted(driver, "vm-d")
    before = driver.get_diagnostics("vm-d")
    assert (before.state, before.driver, before.num_cpus, before.num_disks,
            before.num_nics, before.config_drive) == ("running", "process", 1, 1, 0, True)
    assert before.memory_max_mb == 128  # the cgroup's limit, or the flavor's without one
    assert before.cpu_time_ns is not None and before.cpu_time_ns > 0
    assert before.uptime is not None and 0 <= before.uptime < 120
    limited = driver.cgroups.writable
    assert (before.memory_used_mb is not None) is limited
    # 30 MB written to its disk (and so to its cgroup's page cache), and some CPU burnt.
    await guest_sh(driver, "vm-d", "head -c 30000000 /dev/urandom > /root/blob; sync")
    written = 30_000_000
    after = await eventually(
        lambda: (d := driver.get_diagnostics("vm-d")).disk_write_bytes
        >= before.disk_write_bytes + written and d,
        timeout=30, message=lambda: f"{driver.get_diagnostics('vm-d')} after {before}")
    assert after.cpu_time_ns >= before.cpu_time_ns
    if limited:
        assert after.memory_used_mb >= before.memory_used_mb + 20, (before, after)
    print(f"\ndiagnostics before: {before}\nafter writing 30 MB: {after}")
    await driver.power_off("vm-d", grace=5)
    assert driver.get_diagnostics("vm-d").state == "shutdown"


async def test_a_shared_disk_keeps_its_own_base_on_another_host(make_driver, cirros_image,
                                                                tmp_path):
    """A shared disk's lower layer travels with it: the host that takes it over boots it on
    the tree it was made from, even when handed another image (an unshelved guest's
    snapshot is deleted once it runs; the instance names its original image again)."""
    marked = tmp_path / "marked.tar"
    with tarfile.open(cirros_image) as source, tarfile.open(marked, "w") as tar:
        for member in source.getmembers():
            tar.addfile(member, source.extractfile(member) if member.isfile() else None)
        note = b"from the snapshot\n"
        info = tarfile.TarInfo("etc/base-note")
        info.size = len(note)
        tar.addfile(info, io.BytesIO(note))
    host_a, host_b = await make_driver("host-a"), await make_driver("host-b")
    await host_a.spawn(instance("vm-base", image_ref="snapshot-1"), image=marked,
                       network_info=[], storage=SHARED)
    await host_a.power_off("vm-base", grace=5)
    await host_b.spawn(instance("vm-base", image_ref="cirros"), image=cirros_image,
                       network_info=[], storage=SHARED, reuse_disk=True)
    assert (await guest_sh(host_b, "vm-base", "cat /etc/base-note")) == "from the snapshot\n"
