"""Runtime: containers — OCI bundles run by crun or runc under a monitor.

Lifecycle of a container (Docker's states):

    created ──start──▶ running ──(exit)──▶ exited ──start──▶ running …
                         │  ▲                  ▲
                   pause │  │ unpause          │ stop / kill / exit
                         ▼  │                  │
                        paused ────────────────┘
    any non-running state ──rm──▶ (gone);  running ──rm -f──▶ (gone)

A container is a row, a writable snapshot keyed by its ID, and a directory
``containers/<id>/`` (bundle, log, monitor socket and state).  While it runs,
a monitor process (double-forked, like conmon) owns the runtime child.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing's flag without importing typing: mypy knows the name
if TYPE_CHECKING:
    from .summary import ContainerSummary


def __getattr__(name: str) -> object:
    """``ContainerSummary``, loaded on first use (PEP 562): the CLI imports
    ``engine.runtime.launcher`` first thing, before ``dataclasses`` (~10 ms)."""
    if name != "ContainerSummary":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from .summary import ContainerSummary

    return ContainerSummary


__all__ = ["ContainerSummary"]
