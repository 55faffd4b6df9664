"""What a build takes (``BuildOptions``), reports (``BuildEvent``) and raises (``BuildError``).

A build is a generator of events, so a UI can show it live.  Events follow
BuildKit's progress model: a *vertex* is one numbered step (``#5``) with a
name (``[stage-1 2/4] RUN make``); it starts, may print log lines, and ends
DONE, CACHED or ERROR.  The last event of a successful build has kind
``result`` and carries the image ID.  A failed build yields an ``error``
event for the vertex that failed and then raises ``BuildError``.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from engine.errors import EngineError

EventKind = Literal["start", "log", "status", "cached", "done", "error", "warning", "result"]


@dataclass(frozen=True)
class BuildEvent:
    """One progress report.

    ``vertex`` is the step number shown as ``#N`` (0 for build-wide events),
    ``name`` the step's title; ``text`` is a log line (kind ``log``, with
    ``stream`` 1 or 2), a status line (``status``: "transferring context:
    2.3kB done"), a warning or an error message.  ``elapsed`` is seconds
    since the vertex started.  ``image_id`` is set on ``result``.
    """

    kind: EventKind
    vertex: int = 0
    name: str = ""
    text: str = ""
    elapsed: float = 0.0
    stream: int = 0
    image_id: str = ""


@dataclass(frozen=True)
class BuildOptions:
    """``docker build``'s options, already parsed from the command line."""

    context: str  # the context directory
    dockerfile: str = ""  # path; "" = <context>/Dockerfile
    dockerfile_text: str | None = None  # given on stdin (-f -)
    tags: Sequence[str] = ()
    build_args: Mapping[str, str] = field(default_factory=dict)
    target: str = ""
    no_cache: bool = False
    labels: Mapping[str, str] = field(default_factory=dict)
    network: str = "default"  # default | none | host
    pull: bool = False  # always look for a newer base image (we only pull when missing)
    platform: str = ""
    cancel: threading.Event | None = None
    secrets: Mapping[str, bytes] = field(default_factory=dict, repr=False)  # --secret id → content
    ssh: Mapping[str, str] = field(default_factory=dict)  # --ssh id → agent socket path


class BuildError(EngineError):
    """A build that failed: BuildKit's message plus where in the Dockerfile.

    ``str(e)`` is ``failed to solve: <reason>``.  ``excerpt`` is the
    Dockerfile excerpt BuildKit prints (``Dockerfile:5`` then the numbered
    lines with ``>>>`` marks), empty when the failure has no line.
    ``vertex_name``/``logs`` name the step that failed and its last output.
    """

    def __init__(self, reason: str, *, file: str = "Dockerfile", line: int = 0,
                 end_line: int = 0, source: str = "", vertex_name: str = "",
                 logs: Sequence[str] = (), exit_code: int = 1) -> None:
        super().__init__(f"failed to solve: {reason}", file=file, line=line)
        self.reason = reason
        self.file = file
        self.line = line
        self.end_line = max(end_line, line)
        self.vertex_name = vertex_name
        self.logs = list(logs)
        self.excerpt = source_excerpt(source, file, line, self.end_line) if line else ""
        self.exit_code = exit_code


def source_excerpt(source: str, file: str, start: int, end: int) -> str:
    """BuildKit's ``errdefs.Source.Print``: the failing lines with context."""
    lines = source.split("\n")
    if start < 1 or start > len(lines):
        return ""
    end = min(end, len(lines))
    first, last = start, end
    pad = 4 if end == start else 2
    p = 0
    while p < pad:  # the loop as BuildKit wrote it: up to two lines each side
        if first > 1:
            first -= 1
            p += 1
        if last != len(lines):
            last += 1
            p += 1
        p += 1
    out = [f"{file}:{start}", "-" * 20]
    for i in range(first, last + 1):
        mark = ">>>" if start <= i <= end else "   "
        out.append(f" {i:>3} | {mark} {lines[i - 1]}")
    out.append("-" * 20)
    return "\n".join(out) + "\n"
