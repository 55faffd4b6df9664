"""BuildKit's ``--progress=plain`` text for a stream of build events.

::

    #5 [2/3] RUN echo hi
    #5 0.231 hi
    #5 DONE 0.3s

A failed build ends with the failing step's last output, the Dockerfile
excerpt and ``ERROR: failed to solve: …`` (:func:`error_text`).
"""

from __future__ import annotations

from collections.abc import Callable

from engine.build.events import BuildError, BuildEvent

__all__ = ["PlainRenderer", "error_text"]


class PlainRenderer:
    def __init__(self, write: Callable[[str], object]) -> None:
        self.write = write
        self.started = False

    def __call__(self, ev: BuildEvent) -> None:
        n = ev.vertex
        if ev.kind == "start":
            self.write(("\n" if self.started else "") + f"#{n} {ev.name}\n")
            self.started = True
        elif ev.kind == "log":
            self.write(f"#{n} {ev.elapsed:.3f} {ev.text}\n")
        elif ev.kind == "status":
            self.write(f"#{n} {ev.text}\n")
        elif ev.kind == "cached":
            self.write(f"#{n} CACHED\n")
        elif ev.kind == "done":
            self.write(f"#{n} DONE {ev.elapsed:.1f}s\n")
        elif ev.kind == "error":
            self.write(f"#{n} ERROR: {ev.text}\n")
        elif ev.kind == "warning":
            self.write(f"WARNING: {ev.text}\n")


def error_text(err: BuildError) -> str:
    """What buildx prints after a failed build."""
    out = ""
    if err.vertex_name:
        out += "------\n > " + err.vertex_name + ":\n"
        out += "".join(line + "\n" for line in err.logs)
        out += "------\n"
    out += err.excerpt
    out += f"ERROR: {err}\n"
    return out
