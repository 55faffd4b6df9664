"""The monitor's attach socket: clients that watch a container and feed it.

Stdlib only: the monitor imports this module by file name (see monitor.py,
which documents the wire protocol).  A mixin: :class:`Monitor` owns the
selector, the pty or stdin pipe, and the registered output streams.
"""

from __future__ import annotations

import json
import os
import selectors
import socket
import struct
import time

__all__ = ["AttachServer"]


class AttachServer:
    conf: dict
    sel: selectors.BaseSelector
    clients: dict[socket.socket, bool]  # client → wants stdin
    pty: int | None
    stdin_w: int | None

    def output(self, key: selectors.SelectorKey) -> None:
        raise NotImplementedError

    def serve(self) -> socket.socket:
        path = self.conf["attach_socket"]
        if os.path.exists(path):
            os.unlink(path)
        srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        srv.bind(path)
        srv.listen(16)
        self.sel.register(srv, selectors.EVENT_READ, ("accept", None))
        return srv

    def accept_pending(self, srv: socket.socket) -> None:
        """Take in the clients still in the listen queue: a ``stop`` or ``wait``
        that connected as the container exited must get the exit frame too."""
        srv.setblocking(False)
        try:
            while True:
                self.accept(srv)
        except (BlockingIOError, InterruptedError):
            pass
        finally:
            srv.setblocking(True)

    def accept(self, srv: socket.socket) -> None:
        conn, _ = srv.accept()
        conn.settimeout(5)
        try:
            header = b""
            while not header.endswith(b"\n") and len(header) < 4096:
                chunk = conn.recv(1)
                if not chunk:
                    conn.close()
                    return
                header += chunk
            want = json.loads(header or b"{}")
        except (OSError, ValueError):
            conn.close()
            return
        conn.setblocking(False)
        self.clients[conn] = bool(want.get("stdin"))
        self.sel.register(conn, selectors.EVENT_READ, ("client", b""))

    def broadcast(self, kind: int, data: bytes) -> None:
        frame = struct.pack(">BxxxI", kind, len(data)) + data
        for c in list(self.clients):
            try:
                c.setblocking(True)
                c.settimeout(2)
                c.sendall(frame)
                c.setblocking(False)
            except OSError:
                self.drop(c)

    def drop(self, c: socket.socket) -> None:
        self.clients.pop(c, None)
        try:
            self.sel.unregister(c)
        except (KeyError, ValueError):
            pass
        c.close()

    def client_input(self, key: selectors.SelectorKey) -> None:
        c = key.fileobj
        assert isinstance(c, socket.socket)
        try:
            data = c.recv(65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self.drop(c)
            return
        buf = key.data[1] + data
        while len(buf) >= 8:
            kind, size = struct.unpack(">BxxxI", buf[:8])
            if len(buf) < 8 + size:
                break
            payload, buf = buf[8:8 + size], buf[8 + size:]
            if not self.clients.get(c):
                continue
            if kind == 0:
                self.to_stdin(payload)
            elif kind == 1 and self.stdin_w is not None:
                os.close(self.stdin_w)
                self.stdin_w = None
            elif kind == 2 and self.pty is not None:
                rows, cols = (int(x) for x in payload.split())
                import fcntl
                import termios

                fcntl.ioctl(self.pty, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        self.sel.modify(c, selectors.EVENT_READ, ("client", buf))

    def to_stdin(self, data: bytes) -> None:
        fd = self.pty if self.pty is not None else self.stdin_w
        if fd is None:
            return
        try:
            os.set_blocking(fd, True)
            os.write(fd, data)
            os.set_blocking(fd, False)
        except OSError:
            pass

    def wait_for_hangups(self, timeout: float) -> None:
        """Serve attached clients' input until all of them hang up (the
        listening socket is closed by now: no one new comes)."""
        deadline = time.monotonic() + timeout
        while self.clients and time.monotonic() < deadline:
            for key, _ in self.sel.select(max(0.0, deadline - time.monotonic())):
                kind = key.data[0]
                if kind == "client":
                    self.client_input(key)
                elif kind == "out":
                    self.output(key)
                else:  # the signal wake-up pipe
                    try:
                        os.read(key.fd, 4096)
                    except BlockingIOError:
                        pass
