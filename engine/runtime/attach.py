"""Client side of a monitor's ``attach.sock`` (protocol in monitor.py)."""

from __future__ import annotations

import json
import socket
import struct
from collections.abc import Iterator

from ..errors import Conflict

STDIN, STDIN_CLOSE, RESIZE = 0, 1, 2
STDOUT, STDERR, EXIT = 1, 2, 3


class AttachClient:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.exit_code: int | None = None

    @classmethod
    def connect(cls, path: str, *, stdin: bool = True) -> AttachClient:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.connect(path)
        except OSError:
            s.close()
            raise Conflict("You cannot attach to a stopped container, start it first") from None
        s.sendall(json.dumps({"stdin": stdin}).encode() + b"\n")
        return cls(s)

    def fileno(self) -> int:
        return self.sock.fileno()

    def send(self, data: bytes, kind: int = STDIN) -> None:
        self.sock.sendall(struct.pack(">BxxxI", kind, len(data)) + data)

    def close_stdin(self) -> None:
        self.send(b"", STDIN_CLOSE)

    def resize(self, rows: int, cols: int) -> None:
        self.send(f"{rows} {cols}".encode(), RESIZE)

    def frames(self) -> Iterator[tuple[int, bytes]]:
        """(stream, data) until the container exits or the monitor goes away."""
        buf = b""
        while True:
            while len(buf) >= 8:
                kind, size = struct.unpack(">BxxxI", buf[:8])
                if len(buf) < 8 + size:
                    break
                payload, buf = buf[8:8 + size], buf[8 + size:]
                if kind == EXIT:
                    self.exit_code = int(payload or b"0")
                    return
                yield kind, payload
            chunk = self.sock.recv(65536)
            if not chunk:
                return
            buf += chunk

    def close(self) -> None:
        self.sock.close()
