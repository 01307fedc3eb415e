"""Real guests end to end: a process-mode cloud on the ``process`` driver, driven by the stock
clients and ``overcast console``, with each assertion read from the guest itself (through its
console) or from the host's own state (its processes and cgroups).
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from overcast.testing import wait_until
from overcast.testing.cloud import running_cloud

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the process driver needs root")


@pytest.fixture(scope="module")
def guests_cloud():
    with running_cloud(hosts=2, driver="process") as cloud:
        yield cloud


@pytest.fixture(scope="module")
def conn(guests_cloud):
    connection = guests_cloud.connect()
    yield connection
    connection.close()


def console(cloud, server_id: str, *command: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "overcast.cli.main", "console", "--os-cloud", "overcast-admin",
         server_id, "--", *command], env=cloud.env, capture_output=True, text=True,
        timeout=60)
    assert done.returncode == 0, (done.returncode, done.stdout, done.stderr)
    return done.stdout


def boot(conn, name: str, *, image: str = "cirros", flavor: str = "1"):
    image_id = conn.image.find_image(image).id
    server = conn.compute.create_server(name=name, image_id=image_id, flavor_id=flavor,
                                        networks="none")
    return conn.compute.wait_for_server(server, status="ACTIVE", wait=60)


def wait_status(conn, server_id: str, status: str, timeout: float = 60):
    def reached():
        server = conn.compute.get_server(server_id)
        assert server.status != "ERROR", server.fault
        return server if server.status == status else None
    return wait_until(reached, timeout=timeout, interval=0.2,
                      message=f"{server_id} never became {status}")


def init_process(server_id: str) -> psutil.Process:
    """The guest init of ``server_id`` on this machine (its cgroup names the instance)."""
    for proc in psutil.process_iter(["cmdline"]):
        if proc.info["cmdline"] and proc.info["cmdline"][-1:] == ["/.overcast/init"]:
            try:
                if server_id in Path(f"/proc/{proc.pid}/cgroup").read_text():
                    return proc
            except OSError:
                continue
    raise LookupError(f"no init for {server_id}")


def test_a_snapshot_boots_a_clone_with_the_same_data(guests_cloud, conn):
    server = boot(conn, "snap-source")
    console(guests_cloud, server.id, "sh", "-c", "echo kept > /root/note")
    image = conn.compute.create_server_image(server, name="snap-source-image", wait=True,
                                             timeout=60)
    assert conn.image.get_image(image.id).status == "active"
    clone = boot(conn, "snap-clone", image="snap-source-image")
    assert console(guests_cloud, clone.id, "cat", "/root/note").strip() == "kept"
    assert console(guests_cloud, clone.id, "hostname").strip() == "snap-clone"
    for item in (server, clone):
        conn.compute.delete_server(item)
    conn.image.delete_image(image)


def test_shelve_and_unshelve_keep_the_data(guests_cloud, conn):
    server = boot(conn, "shelved")
    console(guests_cloud, server.id, "sh", "-c", "echo shelved-data > /root/note")
    conn.compute.shelve_server(server)
    offloaded = wait_status(conn, server.id, "SHELVED_OFFLOADED")
    assert not offloaded.compute_host
    with pytest.raises(LookupError):
        init_process(server.id)  # the host is freed: no guest runs for it
    conn.compute.unshelve_server(server)
    wait_status(conn, server.id, "ACTIVE")
    assert console(guests_cloud, server.id, "cat", "/root/note").strip() == "shelved-data"
    conn.compute.delete_server(server)


def test_resize_keeps_the_data_and_changes_the_limits_and_revert_restores(guests_cloud,
                                                                          conn):
    server = boot(conn, "resized", flavor="1")  # m1.tiny: 512 MiB
    console(guests_cloud, server.id, "sh", "-c", "echo resized-data > /root/note")
    conn.compute.resize_server(server, "2")  # m1.small: 2048 MiB
    wait_status(conn, server.id, "VERIFY_RESIZE")
    assert console(guests_cloud, server.id, "cat", "/root/note").strip() == "resized-data"
    limit = console(guests_cloud, server.id, "cat", "/proc/meminfo")
    assert limit  # the guest runs; its memory cgroup is read on the host below
    cgroup = next(line for line in Path(f"/proc/{init_process(server.id).pid}/cgroup")
                  .read_text().splitlines() if ":memory:" in line).split(":", 2)[2]
    memory = Path("/sys/fs/cgroup/memory") / cgroup.lstrip("/") / "memory.limit_in_bytes"
    assert int(memory.read_text()) == 2048 * 2**20
    conn.compute.revert_server_resize(server)
    reverted = wait_status(conn, server.id, "ACTIVE")
    assert reverted.flavor["original_name"] == "m1.tiny"
    assert console(guests_cloud, server.id, "cat", "/root/note").strip() == "resized-data"
    conn.compute.delete_server(server)


def test_a_guest_sees_only_its_own_processes_and_files(guests_cloud, conn, tmp_path):
    marker = tmp_path / "host-only-marker"
    marker.write_text("the hypervisor's")
    server = boot(conn, "isolated")
    listing = console(guests_cloud, server.id, "sh", "-c", f"ls {marker} 2>&1; true")
    assert "No such file" in listing
    processes = console(guests_cloud, server.id, "ps", "-o", "pid,args")
    assert "/.overcast/init" in processes
    pids = [line.split()[0] for line in processes.splitlines() if line.strip()[:1].isdigit()]
    assert all(int(pid) < 100 for pid in pids), processes  # its own PID namespace
    assert "pytest" not in processes and "agents.compute" not in processes
    conn.compute.delete_server(server)


def test_a_guest_whose_init_is_killed_is_shutoff_and_starts_again(guests_cloud, conn):
    server = boot(conn, "killed-init")
    console(guests_cloud, server.id, "sh", "-c", "echo survives > /root/note")
    os.kill(init_process(server.id).pid, signal.SIGKILL)
    wait_status(conn, server.id, "SHUTOFF", timeout=10)
    conn.compute.start_server(server)
    wait_status(conn, server.id, "ACTIVE")
    assert console(guests_cloud, server.id, "cat", "/root/note").strip() == "survives"
    conn.compute.delete_server(server)


def test_console_log_and_user_data(guests_cloud, conn):
    image_id = conn.image.find_image("cirros").id
    server = conn.compute.create_server(
        name="with-user-data", image_id=image_id, flavor_id="1", networks="none",
        user_data="IyEvYmluL3NoCmVjaG8gcmFuID4gL3RtcC91c2VyLWRhdGEtcmFuCg==")  # echo ran > ...
    conn.compute.wait_for_server(server, status="ACTIVE", wait=60)
    wait_until(lambda: "login:" in conn.compute.get_server_console_output(server)["output"],
               timeout=20, message="no login line in the console log")
    wait_until(lambda: console(guests_cloud, server.id, "cat", "/tmp/user-data-ran").strip()
               == "ran", timeout=20, message="the user data never ran")
    tail = conn.compute.get_server_console_output(server, length=1)["output"]
    assert len(tail.strip().splitlines()) <= 1
    conn.compute.delete_server(server)


def _guest_inits() -> list[int]:
    return [proc.pid for proc in psutil.process_iter(["cmdline"])
            if (proc.info["cmdline"] or [])[-1:] == ["/.overcast/init"]]


def test_stopping_the_cloud_leaves_no_guest_process_mount_or_cgroup():
    """``overcast down`` stops the agents; each stops its guests and releases what they held
    (the disks stay, as a powered-off machine's do)."""
    before = set(_guest_inits())
    with running_cloud(hosts=1, driver="process") as cloud:
        conn = cloud.connect()
        server = boot(conn, "down-test")
        assert set(_guest_inits()) - before
        state_dir = cloud.cloud.state_dir
        conn.close()
        cgroup = Path(f"/sys/fs/cgroup/memory/overcast/hypervisor-1--{server.id}")
        assert cgroup.exists()
        # running_cloud(keep=False) removes the state afterwards; stop it here first.
        from overcast.cli import local
        local.stop_all(cloud.cloud)
        assert set(_guest_inits()) - before == set()
        with open("/proc/self/mountinfo") as mounts:
            left = [line.split()[4] for line in mounts if str(state_dir) in line]
        assert left == []
        assert not cgroup.exists()
