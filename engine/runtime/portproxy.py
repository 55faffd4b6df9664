"""Published ports: a userland TCP/UDP proxy run by the container's monitor.

Stdlib only: the monitor imports this module by file name.  The engine
chooses and checks the host ports (``engine/network/bridge.py``) and hands
them over in ``monitor.json`` as ``{"endpoint": "NAME (ID)", "mappings":
[{"proto", "host_ip", "host_port", "ip", "port"}]}``; this proxy listens on
``host_ip:host_port`` for as long as the monitor runs (across restarts) and
forwards to the container's ``ip:port``, as Docker's ``docker-proxy`` does.

TCP bytes move with ``splice(2)`` through a pipe, never through Python
buffers: two threads per connection, each blocked in the kernel with the
GIL released.  One more thread accepts on every listener.  UDP keeps one
upstream socket per client address, dropped after 90 s idle (Docker's UDP
proxy timeout).  IPv4 traffic normally never gets here: the engine's DNAT
rules hand it to the container in the kernel (``engine/network/firewall.py``);
the proxy owns the ports and serves IPv6 and what the rules do not catch.
"""

from __future__ import annotations

import errno
import fcntl
import os
import selectors
import socket
import threading
import time

CHUNK = 1 << 18
UDP_IDLE = 90.0
SPLICE_FLAGS = getattr(os, "SPLICE_F_MOVE", 1)  # not F_MORE: it holds back segments (-30 %)


class PortProxy:
    def __init__(self, conf: dict | None) -> None:
        conf = conf or {}
        self.endpoint = conf.get("endpoint", "")
        self.mappings: list[dict] = list(conf.get("mappings") or [])
        self.listeners: list[socket.socket] = []
        self.conns: set[socket.socket] = set()
        self.lock = threading.Lock()
        self.closed = threading.Event()
        self.thread: threading.Thread | None = None
        self.wake_r, self.wake_w = -1, -1

    # -- lifecycle -----------------------------------------------------------
    def start(self) -> None:
        """Listen on every mapping, or raise RuntimeError in Docker's words."""
        if not self.mappings:
            return
        try:
            for m in self.mappings:
                self.listeners.append(self._listen(m))
        except RuntimeError:
            self.close()
            raise
        self.wake_r, self.wake_w = os.pipe()
        # one thread serves every listener (a published range must not cost a
        # thread per port); each TCP connection then gets its own two
        self.thread = threading.Thread(target=self._loop, daemon=True, name="portproxy")
        self.thread.start()

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
            sock.setblocking(False)
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
        """Stop listening (the ports are free when this returns), cut every connection."""
        self.closed.set()
        if self.thread is not None:
            os.write(self.wake_w, b"x")
            self.thread.join(5)
            os.close(self.wake_r)
            os.close(self.wake_w)
            self.thread = None
        for sock in self.listeners:
            sock.close()
        self.listeners = []
        with self.lock:
            conns, self.conns = list(self.conns), set()
        for c in conns:
            _shutdown(c)

    # -- the listeners' loop -----------------------------------------------------
    def _loop(self) -> None:
        sel = selectors.DefaultSelector()
        sel.register(self.wake_r, selectors.EVENT_READ, None)
        for listener, m in zip(self.listeners, self.mappings, strict=True):
            sel.register(listener, selectors.EVENT_READ,
                         (m["proto"], (m["ip"], int(m["port"]))))
        peers: dict[tuple, list] = {}  # (listener fd, client address) → [upstream, last used]
        while not self.closed.is_set():
            now = time.monotonic()
            for key, _ in sel.select(5.0):
                if key.data is None:
                    continue  # woken by close()
                kind, target = key.data
                sock = key.fileobj
                if not isinstance(sock, socket.socket):
                    continue
                try:
                    if kind == "tcp":
                        client, _ = sock.accept()
                        client.setblocking(True)
                        threading.Thread(target=self._serve, args=(client, target),
                                         daemon=True).start()
                    elif kind == "udp":
                        self._udp_in(sel, sock, target, peers, now)
                    else:  # an upstream UDP socket: a reply for its client
                        srv, addr = target
                        peer = peers[(srv.fileno(), addr)]
                        srv.sendto(sock.recv(65535), addr)
                        peer[1] = now
                except OSError:
                    continue  # EMFILE, a reset, ICMP unreachable …: the next one may work
            for k, (up, last) in list(peers.items()):
                if now - last > UDP_IDLE:
                    sel.unregister(up)
                    up.close()
                    del peers[k]
        for up, _ in peers.values():
            up.close()
        sel.close()

    @staticmethod
    def _udp_in(sel: selectors.BaseSelector, srv: socket.socket, target: tuple[str, int],
                peers: dict[tuple, list], now: float) -> None:
        data, addr = srv.recvfrom(65535)
        peer = peers.get((srv.fileno(), addr))
        if peer is None:
            up = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            up.setblocking(False)
            up.connect(target)
            peer = peers[(srv.fileno(), addr)] = [up, now]
            sel.register(up, selectors.EVENT_READ, ("reply", (srv, addr)))
        peer[1] = now
        peer[0].send(data)

    # -- TCP -------------------------------------------------------------------
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
