"""Snapshots: filesystem trees stacked into container and image roots.

The model is containerd's.  A snapshot has a *key* and is one of three kinds:

- **active** — made by :meth:`Snapshotter.prepare`; writable; its mounts
  give an overlay whose upper directory *is* the snapshot's diff.  A
  container's writable layer and a layer being extracted are active.
- **view** — made by :meth:`Snapshotter.view`; a read-only look at a parent.
- **committed** — made by :meth:`Snapshotter.commit` from an active one; its
  key is then its *name* (for image layers: the ChainID).  Immutable; the
  parent of other snapshots.

Lifecycle: ``prepare(key, parent)`` → write through ``mounts(key)`` or into
``upper_dir(key)`` → ``commit(name, key)`` *or* ``remove(key)``.  A committed
snapshot can be removed only when no other snapshot names it as parent.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal, Protocol

Kind = Literal["active", "view", "committed"]


@dataclass(frozen=True)
class Mount:
    """One mount, as mount(8) would take it: type, source, options."""

    type: str  # "overlay" | "bind"
    source: str
    options: tuple[str, ...] = ()


@dataclass(frozen=True)
class Info:
    """A snapshot: active or view (by key), or committed (by name)."""

    key: str
    kind: Kind
    parent: str | None
    id: int  # short numeric directory under snapshots/
    created: float
    labels: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Usage:
    """Bytes and inodes a snapshot holds."""

    size: int  # apparent bytes of regular files (hard links once)
    inodes: int


class Snapshotter(Protocol):
    def prepare(self, key: str, parent: str | None = None, *,
                labels: dict[str, str] | None = None) -> list[Mount]: ...
    def view(self, key: str, parent: str | None) -> list[Mount]: ...
    def mounts(self, key: str) -> list[Mount]: ...
    def commit(self, name: str, key: str) -> Info: ...
    def remove(self, key: str) -> None: ...
    def stat(self, key: str) -> Info: ...
    def usage(self, key: str) -> Usage: ...
    def walk(self) -> Iterator[Info]: ...
    def upper_dir(self, key: str) -> str: ...
    def lower_dirs(self, key: str) -> list[str]: ...


from .overlay import OverlaySnapshotter  # noqa: E402

__all__ = ["Info", "Kind", "Mount", "OverlaySnapshotter", "Snapshotter", "Usage"]
