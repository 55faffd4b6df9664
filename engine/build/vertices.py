"""Vertex numbering and timing: the ``#N`` of BuildKit's progress output."""

from __future__ import annotations

import time
from collections import deque

from engine.build.events import BuildEvent, EventKind

__all__ = ["Progress"]


class Progress:
    """Vertex numbering and timing, BuildKit-style (``#N``)."""

    def __init__(self) -> None:
        self.count = 0
        self.names: dict[int, str] = {}
        self.started: dict[int, float] = {}
        self.logs: dict[int, deque[str]] = {}
        self.open: list[int] = []

    def start(self, name: str) -> int:
        self.count += 1
        n = self.count
        self.names[n], self.started[n] = name, time.monotonic()
        self.logs[n] = deque(maxlen=10)
        self.open.append(n)
        return n

    def event(self, kind: EventKind, n: int, *, text: str = "", stream: int = 0,
              image_id: str = "") -> BuildEvent:
        elapsed = time.monotonic() - self.started.get(n, time.monotonic())
        if kind == "log":
            self.logs[n].append(f"{elapsed:.3f} {text}")
        if kind in ("done", "cached", "error") and n in self.open:
            self.open.remove(n)
        return BuildEvent(kind, n, self.names.get(n, ""), text, elapsed, stream, image_id)
