"""The host-wide network lock.

Bridges, subnets and host ports belong to the host, not to one state root:
every change to them (and to the endpoint rows that mirror them) runs under
one ``flock`` on ``/run/dockyard/network.lock``, taken before any database
write transaction, never inside one.
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

LOCK_PATH = "/run/dockyard/network.lock"
_held = threading.local()


@contextmanager
def network_lock() -> Iterator[None]:
    """Exclusive, re-entrant within a thread."""
    if getattr(_held, "depth", 0):
        _held.depth += 1
        try:
            yield
        finally:
            _held.depth -= 1
        return
    os.makedirs(os.path.dirname(LOCK_PATH), mode=0o700, exist_ok=True)
    fd = os.open(LOCK_PATH, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        _held.depth = 1
        try:
            yield
        finally:
            _held.depth = 0
    finally:
        os.close(fd)  # closing drops the flock
