"""The network's release after a container's final exit runs late (after
``stop`` returns): it must never hurt what comes next."""

from __future__ import annotations

import time

from tests.conftest import dockyard
from tests.engine.network.conftest import free_port, wait_clean
from tests.engine.network.test_bridge import HTTPD, get, run_d
from tests.engine.runtime.conftest import IMAGE


def test_an_exited_containers_ports_are_free_at_once(croot) -> None:
    port = free_port()
    first = run_d(croot, "-p", f"127.0.0.1:{port}:80", IMAGE, "true")
    dockyard(croot, "wait", first)
    # the first container's monitor may still be releasing: docker frees the
    # port with the exit, so a new container gets it right away
    second = run_d(croot, "-p", f"127.0.0.1:{port}:80", IMAGE, "sh", "-c", HTTPD)
    assert get(f"http://127.0.0.1:{port}/").status_code == 200
    assert dockyard(croot, "port", first).stdout == b""
    dockyard(croot, "rm", "-f", first, second)
    assert wait_clean(croot, [first, second]) == {}


def test_a_late_release_spares_the_next_start(croot) -> None:
    port = free_port()
    cid = run_d(croot, "-p", f"127.0.0.1:{port}:80", IMAGE, "sh", "-c", HTTPD)
    for _ in range(3):
        dockyard(croot, "stop", "-t", "0", cid)
        dockyard(croot, "start", cid)  # while the last run's release may be under way
    time.sleep(2)  # long past any release the monitors ran
    assert get(f"http://127.0.0.1:{port}/").status_code == 200
    state = dockyard(croot, "exec", cid, "cat", "/sys/class/net/eth0/operstate")
    assert state.stdout == b"up\n"
    dockyard(croot, "rm", "-f", cid)
    assert wait_clean(croot, [cid]) == {}


def test_a_restarting_container_keeps_its_ports(croot) -> None:
    port = free_port()
    crashing = run_d(croot, "--restart", "always", "-p", f"127.0.0.1:{port}:80", IMAGE,
                     "sh", "-c", "sleep 0.2; exit 1")
    for _ in range(5):  # across its restarts the port stays its own, as in docker
        r = dockyard(croot, "run", "-d", "-p", f"127.0.0.1:{port}:80", IMAGE, "true",
                     check=False)
        assert r.returncode == 125 and b"port is already allocated" in r.stderr, r.stderr
        time.sleep(0.15)
    ids = dockyard(croot, "ps", "-aq", "--no-trunc").stdout.decode().split()
    dockyard(croot, "rm", "-f", *ids)
    assert wait_clean(croot, [crashing]) == {}
