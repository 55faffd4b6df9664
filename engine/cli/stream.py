"""Pumping an attached container's streams to this terminal and back.

Without a TTY, stdout and stderr frames go to our stdout and stderr; with
``-i`` our stdin is forwarded (EOF closes the container's stdin).  With a
TTY our terminal goes raw, window size changes are forwarded, and the
detach sequence (ctrl-p ctrl-q by default) leaves the container running.
"""

from __future__ import annotations

import os
import select
import signal
import sys
import threading

from ..errors import InvalidArgument
from ..runtime.attach import STDERR, AttachClient


def parse_detach_keys(spec: str) -> bytes:
    out = bytearray()
    for key in spec.split(","):
        key = key.strip()
        if key.startswith("ctrl-") and len(key) == 6:
            c = key[5]
            if c.isalpha():
                out.append(ord(c.lower()) - ord("a") + 1)
                continue
            special = {"@": 0, "[": 27, "\\": 28, "]": 29, "^": 30, "_": 31}
            if c in special:
                out.append(special[c])
                continue
        elif len(key) == 1:
            out.append(ord(key))
            continue
        raise InvalidArgument(f"Invalid detach keys ({spec}) provided")
    return bytes(out)


def pump(client: AttachClient, *, stdin: bool, tty: bool,
         detach_keys: str = "ctrl-p,ctrl-q", keep_open: bool = False) -> int | None:
    """Stream until exit; return the exit code, or None when detached.

    ``keep_open`` leaves the connection to the caller: a ``run --rm`` removes
    the container first, and the monitor removes it only if we hang up
    without having done so."""
    keys = parse_detach_keys(detach_keys)
    detached = threading.Event()
    raw = tty and stdin and sys.stdin.isatty()
    old = None
    if raw:
        import termios
        import tty as ttymod

        old = termios.tcgetattr(sys.stdin.fileno())
        ttymod.setraw(sys.stdin.fileno(), termios.TCSANOW)  # keep type-ahead
        _send_size(client)
        signal.signal(signal.SIGWINCH, lambda *_: _send_size(client))
    feeder = None
    if stdin:
        feeder = threading.Thread(target=_feed, args=(client, keys if tty else b"", detached),
                                  daemon=True)
        feeder.start()
    out = sys.stdout.buffer
    err = sys.stderr.buffer
    try:
        for kind, data in client.frames():
            target = err if kind == STDERR else out
            target.write(data)
            target.flush()
    except OSError:
        pass
    finally:
        if old is not None:
            import termios

            termios.tcsetattr(sys.stdin.fileno(), termios.TCSADRAIN, old)
        if not keep_open or detached.is_set():
            client.close()
    if detached.is_set():
        return None
    return client.exit_code


def _feed(client: AttachClient, keys: bytes, detached: threading.Event) -> None:
    fd = sys.stdin.fileno()
    matched = 0
    try:
        while True:
            r, _, _ = select.select([fd], [], [], 0.5)
            if not r:
                continue
            data = os.read(fd, 4096)
            if not data:
                client.close_stdin()
                return
            if keys:
                for i, b in enumerate(data):
                    matched = matched + 1 if b == keys[matched] else (1 if b == keys[0] else 0)
                    if matched == len(keys):
                        detached.set()
                        client.send(data[:i + 1 - len(keys)]) if i + 1 > len(keys) else None
                        client.sock.shutdown(2)
                        return
            client.send(data)
    except OSError:
        return


def _send_size(client: AttachClient) -> None:
    try:
        size = os.get_terminal_size(sys.stdin.fileno())
        client.resize(size.lines, size.columns)
    except OSError:
        pass
