"""Real containers on real bridges, through the real CLI: published ports
fetched from the host, names on user networks, and nothing left behind."""

from __future__ import annotations

import json
import os
import signal
import socket
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import dockyard
from tests.engine.network.conftest import container_ip, free_port, leftovers, wait_clean
from tests.engine.runtime.conftest import IMAGE

# nc until the server's `nc -l` loop is listening again (it serves one client at a time)
NC = "try() { for i in $(seq 50); do nc $1 $2 2>/dev/null && return; sleep 0.1; done; }; "
HTTPD = ("mkdir -p /www && echo hello from $(hostname) > /www/index.html && "
         "exec httpd -f -p 80 -h /www")


def run_d(root, *args: str) -> str:
    return dockyard(root, "run", "-d", *args).stdout.decode().strip()


def get(url: str, timeout: float = 10.0) -> httpx.Response:
    """GET, retrying while the server in the container is still starting."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return httpx.get(url, timeout=2)
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def test_httpd_published_on_loopback(croot) -> None:
    port = free_port()
    cid = run_d(croot, "-p", f"127.0.0.1:{port}:80", "--hostname", "web", IMAGE, "sh", "-c",
                HTTPD)
    r = get(f"http://127.0.0.1:{port}/")
    assert (r.status_code, r.text) == (200, "hello from web\n")
    assert dockyard(croot, "port", cid).stdout.decode() == f"80/tcp -> 127.0.0.1:{port}\n"
    assert dockyard(croot, "port", cid, "80/tcp").stdout.decode() == f"127.0.0.1:{port}\n"
    r = dockyard(croot, "port", cid, "81", check=False)
    assert r.returncode == 1 and b"No public port '81/tcp' published for" in r.stderr
    ps = dockyard(croot, "ps", "--format", "{{.Ports}}").stdout.decode()
    assert ps == f"127.0.0.1:{port}->80/tcp\n"
    # the container's own address answers too (what the proxy forwards to)
    assert get(f"http://{container_ip(croot, cid)}/").text == "hello from web\n"
    dockyard(croot, "rm", "-f", cid)
    with pytest.raises(httpx.TransportError):
        httpx.get(f"http://127.0.0.1:{port}/", timeout=1)
    assert wait_clean(croot, [cid]) == {}


def test_publish_on_every_address_and_ipv6(croot) -> None:
    port = free_port()
    cid = run_d(croot, "-p", f"{port}:80", IMAGE, "sh", "-c", HTTPD)
    assert get(f"http://127.0.0.1:{port}/").status_code == 200
    assert get(f"http://[::1]:{port}/").status_code == 200  # served by the monitor's proxy
    ps = dockyard(croot, "ps", "--format", "{{.Ports}}").stdout.decode()
    assert ps == f"0.0.0.0:{port}->80/tcp, :::{port}->80/tcp\n"
    dockyard(croot, "rm", "-f", cid)
    assert wait_clean(croot, [cid]) == {}


def test_user_network_names_and_aliases(croot) -> None:
    dockyard(croot, "network", "create", "appnet")
    srv = run_d(croot, "--name", "srv", "--network", "appnet", "--network-alias", "db", IMAGE,
                "sh", "-c", "while true; do echo pong | nc -l -p 7000; done")
    hosts = croot / "containers" / srv / "hosts"
    inode = hosts.stat().st_ino
    out = dockyard(croot, "run", "--rm", "--name", "cli", "--network", "appnet", IMAGE, "sh",
                   "-c", NC + "try srv 7000; try db 7000; grep -c srv /etc/hosts").stdout
    assert out == b"pong\npong\n1\n"
    # srv's file was rewritten in place while cli came and went
    assert hosts.stat().st_ino == inode
    assert "cli" not in hosts.read_text() and "srv db " + srv[:12] in hosts.read_text()
    # the default bridge has no name resolution (as in Docker)
    r = dockyard(croot, "run", "--rm", IMAGE, "sh", "-c", "nc -w 1 srv 7000", check=False)
    assert r.returncode != 0
    r = dockyard(croot, "network", "rm", "appnet", check=False)
    assert r.returncode == 1 and b"has active endpoints" in r.stderr
    dockyard(croot, "rm", "-f", srv)
    dockyard(croot, "network", "rm", "appnet")
    assert wait_clean(croot, [srv]) == {}


def test_udp_publish(croot) -> None:
    port = free_port(socket.SOCK_DGRAM)
    cid = run_d(croot, "-p", f"127.0.0.1:{port}:53/udp", IMAGE, "sh", "-c",
                "while true; do nc -u -l -p 53 -e /bin/cat; done")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(0.5)
        got = b""
        for _ in range(40):  # until nc listens in the container
            s.sendto(b"ping\n", ("127.0.0.1", port))
            try:
                got = s.recv(100)
                break
            except TimeoutError:
                continue
    assert got == b"ping\n"
    assert dockyard(croot, "port", cid).stdout.decode() == f"53/udp -> 127.0.0.1:{port}\n"
    dockyard(croot, "rm", "-f", cid)
    assert wait_clean(croot, [cid]) == {}


def test_port_conflict_gives_dockers_error_and_leaves_nothing(croot) -> None:
    port = free_port()
    first = run_d(croot, "-p", f"{port}:80", IMAGE, "sleep", "60")
    r = dockyard(croot, "run", "-d", "--name", "second", "-p", f"{port}:80", IMAGE, "sleep",
                 "60", check=False)
    assert r.returncode == 125
    err = r.stderr.decode()
    assert err.startswith("Error: driver failed programming external connectivity on endpoint "
                          "second (")
    assert err.endswith(f"Bind for 0.0.0.0:{port} failed: port is already allocated\n")
    second = json.loads(dockyard(croot, "inspect", "second").stdout)[0]
    assert second["State"]["Status"] == "created"
    assert leftovers(croot, [second["Id"]]).get("netns") is None
    # a port some other program holds: the userland proxy's words
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        held = busy.getsockname()[1]
        r = dockyard(croot, "run", "-d", "-p", f"127.0.0.1:{held}:80", IMAGE, "true",
                     check=False)
    assert r.returncode == 125
    assert r.stderr.decode().endswith(f"Error starting userland proxy: listen tcp4 "
                                      f"127.0.0.1:{held}: bind: address already in use\n")
    dockyard(croot, "rm", "-f", first, "second")
    assert wait_clean(croot, [first, second["Id"]]) == {}


def test_publish_all_exposed_ports(croot) -> None:
    base = run_d(croot, IMAGE, "true")
    dockyard(croot, "wait", base)
    dockyard(croot, "commit", "-c", "EXPOSE 80", base, "exposed:1")
    cid = run_d(croot, "-P", "exposed:1", "sh", "-c", HTTPD)
    line = dockyard(croot, "port", cid, "80").stdout.decode().splitlines()[0]
    assert line.startswith("0.0.0.0:")
    assert get(f"http://127.0.0.1:{line.rsplit(':', 1)[1]}/").status_code == 200
    # exposed but not published: Docker's "80/tcp"
    plain = run_d(croot, "exposed:1", "sleep", "60")
    ps = dockyard(croot, "ps", "--filter", f"id={plain}", "--format", "{{.Ports}}").stdout
    assert ps == b"80/tcp\n"
    dockyard(croot, "rm", "-f", cid, plain, base)
    assert wait_clean(croot, [cid, plain, base]) == {}


def test_network_container_mode_shares_the_netns(croot) -> None:
    a = run_d(croot, "--name", "owner", IMAGE, "sh", "-c",
              "while true; do echo here | nc -l -p 8000; done")
    out = dockyard(croot, "run", "--rm", "--network", "container:owner", IMAGE, "sh", "-c",
                   NC + "try 127.0.0.1 8000").stdout
    assert out == b"here\n"
    r = dockyard(croot, "run", "--rm", "--network", "container:owner", "-p", "80", IMAGE, "true",
                 check=False)
    assert r.returncode == 125 and b"conflicting options: port publishing" in r.stderr
    dockyard(croot, "stop", "-t", "0", a)
    r = dockyard(croot, "run", "--rm", "--network", "container:owner", IMAGE, "true",
                 check=False)
    assert r.returncode != 0 and b"non running container" in r.stderr
    dockyard(croot, "rm", "-f", a)
    assert wait_clean(croot, [a]) == {}


def test_connect_and_disconnect_a_running_container(croot) -> None:
    dockyard(croot, "network", "create", "--subnet", "10.213.0.0/24", "side")
    peer = run_d(croot, "--name", "peer", "--network", "side", IMAGE, "sh", "-c",
                 "while true; do echo side | nc -l -p 9000; done")
    box = run_d(croot, "--name", "box", IMAGE, "sleep", "60")
    dockyard(croot, "network", "connect", "--alias", "boxy", "side", "box")
    out = dockyard(croot, "exec", "box", "sh", "-c", "ip -4 addr show eth1; " + NC +
                   "try peer 9000").stdout
    assert b"inet 10.213.0.3/24" in out and out.endswith(b"side\n")
    assert "box boxy" in (croot / "containers" / peer / "hosts").read_text()
    r = dockyard(croot, "network", "connect", "side", "box", check=False)
    assert b"endpoint with name box already exists in network side" in r.stderr
    dockyard(croot, "network", "disconnect", "side", "box")
    assert "box" not in (croot / "containers" / peer / "hosts").read_text()
    out = dockyard(croot, "exec", "box", "ip", "-4", "addr").stdout
    assert b"10.213." not in out
    doc = json.loads(dockyard(croot, "network", "inspect", "side").stdout)[0]
    assert list(doc["Containers"]) == [peer]
    assert doc["IPAM"]["Config"] == [{"Subnet": "10.213.0.0/24", "Gateway": "10.213.0.1"}]
    dockyard(croot, "rm", "-f", peer, box)
    dockyard(croot, "network", "rm", "side")
    assert wait_clean(croot, [peer, box]) == {}


def test_stop_and_a_crashed_monitor_release_everything(croot) -> None:
    port = free_port()
    cid = run_d(croot, "-p", f"127.0.0.1:{port}:80", IMAGE, "sleep", "60")
    dockyard(croot, "stop", "-t", "0", cid)
    assert wait_clean(croot, [cid]) == {}
    dockyard(croot, "start", cid)
    assert dockyard(croot, "port", cid).stdout.decode() == f"80/tcp -> 127.0.0.1:{port}\n"
    monitor = json.loads(dockyard(croot, "inspect", cid).stdout)[0]
    status = Path(f"/proc/{monitor['State']['Pid']}/status").read_text()
    mpid = int(next(line.split()[1] for line in status.splitlines()
                    if line.startswith("PPid:")))
    os.kill(mpid, signal.SIGKILL)  # the monitor dies; reconcile must release the network
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        state = json.loads(dockyard(croot, "inspect", cid).stdout)[0]["State"]
        if state["Status"] == "exited":
            break
        time.sleep(0.1)
    assert state["Error"] == "the container monitor exited unexpectedly"
    dockyard(croot, "rm", "-f", cid)
    assert wait_clean(croot, [cid]) == {}
