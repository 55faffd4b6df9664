"""The monitor's userland proxy (engine/runtime/portproxy.py), on loopback only."""

from __future__ import annotations

import socket
import threading

import pytest

from engine.runtime.portproxy import PortProxy
from tests.engine.network.conftest import free_port


def mapping(proto: str, host_port: int, port: int, host_ip: str = "127.0.0.1") -> dict:
    return {"proto": proto, "host_ip": host_ip, "host_port": host_port, "ip": "127.0.0.1",
            "port": port}


@pytest.fixture
def backend():
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen()
    yield srv
    srv.close()


def test_tcp_both_ways_with_half_close(backend) -> None:
    port = free_port()
    proxy = PortProxy({"endpoint": "c (id)",
                       "mappings": [mapping("tcp", port, backend.getsockname()[1])]})
    proxy.start()
    try:
        client = socket.create_connection(("127.0.0.1", port), timeout=5)
        conn, _ = backend.accept()
        conn.settimeout(5)
        client.sendall(b"x" * 3_000_000)
        client.shutdown(socket.SHUT_WR)  # EOF travels through
        got = b""
        while chunk := conn.recv(1 << 20):
            got += chunk
        assert len(got) == 3_000_000
        conn.sendall(b"reply")
        conn.close()
        assert client.recv(100) == b"reply" and client.recv(100) == b""
        client.close()
    finally:
        proxy.close()
    with socket.socket() as again:  # close() released the port
        again.bind(("127.0.0.1", port))


def test_udp_replies_reach_the_client() -> None:
    up = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    up.bind(("127.0.0.1", 0))
    port = free_port(socket.SOCK_DGRAM)
    proxy = PortProxy({"endpoint": "c (id)",
                       "mappings": [mapping("udp", port, up.getsockname()[1])]})
    proxy.start()
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
            client.settimeout(5)
            client.sendto(b"ping", ("127.0.0.1", port))
            up.settimeout(5)
            data, addr = up.recvfrom(100)
            up.sendto(data.upper(), addr)
            assert client.recvfrom(100) == (b"PING", ("127.0.0.1", port))
    finally:
        proxy.close()
        up.close()


def test_refused_upstream_closes_the_client() -> None:
    dead = free_port()  # nothing listens there
    port = free_port()
    proxy = PortProxy({"endpoint": "c (id)", "mappings": [mapping("tcp", port, dead)]})
    proxy.start()
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as client:
            assert client.recv(10) == b""
    finally:
        proxy.close()


def test_bind_failure_in_dockers_words_and_nothing_kept() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = busy.getsockname()[1]
        free = free_port()
        proxy = PortProxy({"endpoint": "web (abc)",
                           "mappings": [mapping("tcp", free, 80), mapping("tcp", taken, 81)]})
        with pytest.raises(RuntimeError) as e:
            proxy.start()
    assert str(e.value) == (f"driver failed programming external connectivity on endpoint "
                            f"web (abc): Error starting userland proxy: listen tcp4 "
                            f"127.0.0.1:{taken}: bind: address already in use")
    with socket.socket() as again:  # the first listener was let go
        again.bind(("127.0.0.1", free))


def test_a_range_costs_one_thread() -> None:
    ports = [free_port() for _ in range(40)]
    before = threading.active_count()
    proxy = PortProxy({"endpoint": "c (id)",
                       "mappings": [mapping("tcp", p, 9) for p in dict.fromkeys(ports)]})
    proxy.start()
    try:
        assert threading.active_count() == before + 1
    finally:
        proxy.close()
    assert threading.active_count() == before
