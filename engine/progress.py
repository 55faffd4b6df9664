"""Progress reports for long operations (load, save, pull, push, build).

A long call takes ``progress: Callable[[Progress], None] | None`` and calls
it from its own thread; the CLI renders with rich, the TUI posts a message.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Progress:
    """One line of a long operation's progress, as Docker prints it."""

    id: str  # what the line is about: a short layer digest, an image reference
    status: str  # "Loading layer", "Already exists", "Writing", "Done" …
    current: int = 0
    total: int = 0  # 0 when unknown


ProgressFn = Callable[[Progress], None]


def report(fn: ProgressFn | None, id: str, status: str, current: int = 0,  # noqa: A002
           total: int = 0) -> None:
    if fn is not None:
        fn(Progress(id, status, current, total))
