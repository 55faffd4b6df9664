"""Published ports: a userland TCP/UDP proxy run by the container's monitor.

Stdlib only: the monitor imports this module by file name.  The engine
chooses and checks the host ports (``engine/network/bridge.py``) and hands
them over in ``monitor.json`` as ``{"endpoint": "NAME (ID)", "mappings":
[{"proto", "host_ip", "host_port", "ip", "port"}]}``; this proxy listens on
``host_ip:host_port`` for as long as the monitor runs (across restarts) and
forwards to the container's ``ip:port``, as Docker's ``docker-proxy`` does.

TCP bytes move with ``splice(2)`` through a pipe, never through Python
buffers: two threads per connection, each blocked in the kernel with the
GIL released.  UDP keeps one upstream socket per client address, dropped
after 90 s idle (Docker's UDP proxy timeout).
"""

from __future__ import annotations

import errno
import fcntl
import os
import selectors
import socket
import threading
import time

CHUNK = 1 << 20
UDP_IDLE = 90.0
SPLICE_FLAGS = getattr(os, "SPLICE_F_MOVE", 1) | getattr(os, "SPLICE_F_MORE", 4)


class PortProxy:
    def __init__(self, conf: dict | None) -> None:
        conf = conf or {}
        self.endpoint = conf.get("endpoint", "")
        self.mappings: list[dict] = list(conf.get("mappings") or [])
        self.listeners: list[socket.socket] = []
        self.conns: set[socket.socket] = set()
        self.lock = threading.Lock()
        self.closed = threading.Event()

    # -- lifecycle -----------------------------------------------------------
    def start(self) -> None:
        """Listen on every mapping, or raise RuntimeError in Docker's words."""
        try:
            for m in self.mappings:
                self.listeners.append(self._listen(m))
        except OSError:
            self.close()
            raise
        for sock, m in zip(self.listeners, self.mappings, strict=True):
            target = (m["ip"], int(m["port"]))
            run = self._accept_loop if m["proto"] == "tcp" else self._udp_loop
            threading.Thread(target=run, args=(sock, target), daemon=True,
                             name=f"proxy-{m['host_port']}").start()

    def _listen(self, m: dict) -> socket.socket:
        ip, port, proto = m["host_ip"], int(m["host_port"]), m["proto"]
        fam = socket.AF_INET6 if ":" in ip else socket.AF_INET
        kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
        sock = socket.socket(fam, kind)
        try:
            if fam == socket.AF_INET6:  # "::" must not also take 0.0.0.0's port
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((ip, port))
            if kind == socket.SOCK_STREAM:
                sock.listen(512)
        except OSError as e:
            sock.close()
            addr = f"[{ip}]:{port}" if fam == socket.AF_INET6 else f"{ip}:{port}"
            why = "address already in use" if e.errno == errno.EADDRINUSE else \
                (e.strerror or str(e)).lower()
            fam_no = "6" if fam == socket.AF_INET6 else "4"
            raise RuntimeError(f"driver failed programming external connectivity on endpoint "
                               f"{self.endpoint}: Error starting userland proxy: listen "
                               f"{proto}{fam_no} {addr}: bind: {why}") from None
        return sock

    def close(self) -> None:
        """Stop listening and cut every forwarded connection."""
        self.closed.set()
        for sock in self.listeners:
            _shutdown(sock)  # wakes a thread blocked in accept()
            sock.close()
        self.listeners = []
        with self.lock:
            conns, self.conns = list(self.conns), set()
        for c in conns:
            _shutdown(c)

    # -- TCP -------------------------------------------------------------------
    def _accept_loop(self, srv: socket.socket, target: tuple[str, int]) -> None:
        while not self.closed.is_set():
            try:
                client, _ = srv.accept()
            except OSError as e:
                if e.errno in (errno.EINTR, errno.ECONNABORTED, errno.EMFILE, errno.ENFILE):
                    time.sleep(0.01 if e.errno != errno.EINTR else 0)
                    continue
                return  # closed
            threading.Thread(target=self._serve, args=(client, target), daemon=True).start()

    def _serve(self, client: socket.socket, target: tuple[str, int]) -> None:
        try:
            upstream = socket.create_connection(target, timeout=5)
        except OSError:
            client.close()  # nothing listens in the container (yet): refuse
            return
        upstream.settimeout(None)
        for s in (client, upstream):
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self.lock:
            if self.closed.is_set():
                client.close()
                upstream.close()
                return
            self.conns.update((client, upstream))
        back = threading.Thread(target=_pump, args=(upstream, client), daemon=True)
        back.start()
        _pump(client, upstream)
        back.join()
        with self.lock:
            self.conns.discard(client)
            self.conns.discard(upstream)
        client.close()
        upstream.close()

    # -- UDP -------------------------------------------------------------------
    def _udp_loop(self, srv: socket.socket, target: tuple[str, int]) -> None:
        sel = selectors.DefaultSelector()
        sel.register(srv, selectors.EVENT_READ, None)
        peers: dict[tuple, list] = {}  # client address → [upstream socket, last used]
        while not self.closed.is_set():
            try:
                events = sel.select(1.0)
            except (OSError, ValueError):
                break
            now = time.monotonic()
            for key, _ in events:
                try:
                    if key.data is None:
                        data, addr = srv.recvfrom(65535)
                        peer = peers.get(addr)
                        if peer is None:
                            up = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                            up.connect(target)
                            peer = peers[addr] = [up, now]
                            sel.register(up, selectors.EVENT_READ, addr)
                        peer[1] = now
                        peer[0].send(data)
                    else:
                        peer = peers[key.data]
                        srv.sendto(peer[0].recv(65535), key.data)
                        peer[1] = now
                except OSError:
                    if self.closed.is_set():
                        break
                    continue  # ICMP unreachable and the like: UDP shrugs
            for addr, (up, last) in list(peers.items()):
                if now - last > UDP_IDLE:
                    sel.unregister(up)
                    up.close()
                    del peers[addr]
        for up, _ in peers.values():
            up.close()
        sel.close()


def _pump(src: socket.socket, dst: socket.socket) -> None:
    """Copy src → dst until EOF, then half-close dst (so EOF travels on)."""
    r, w = os.pipe()
    try:
        try:
            fcntl.fcntl(w, getattr(fcntl, "F_SETPIPE_SZ", 1031), CHUNK)
        except OSError:
            pass  # over /proc/sys/fs/pipe-max-size: the default size works, slower
        while True:
            n = os.splice(src.fileno(), w, CHUNK, flags=SPLICE_FLAGS)
            if n == 0:
                break
            while n:
                n -= os.splice(r, dst.fileno(), n, flags=SPLICE_FLAGS)
        try:
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass
    except OSError:  # reset either side: cut both so the other direction ends too
        _shutdown(src)
        _shutdown(dst)
    finally:
        os.close(r)
        os.close(w)


def _shutdown(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
