"""Unpacking: turn layer blobs into committed snapshots, then record images.

Lifecycle of an image arriving (load, pull, import, commit, build):

1. ``Unpacker.unpack(diff_ids, opener)`` — for each layer whose ChainID is
   not yet a committed snapshot, extract it into an active snapshot
   (``extract-<nonce>-<chainid>``) under the caller's lease, check the
   DiffID, commit the snapshot under its ChainID and insert the ``layers``
   row in one transaction.  Shared layers are therefore extracted once.
2. ``record_image(...)`` — blobs, layer↔blob mappings, the image row, tags,
   repo digests and the event, all in one transaction: the image becomes
   visible whole or not at all.

If the caller fails between the two, :meth:`Unpacker.rollback` removes the
layers this unpacker created; after a crash they are unreferenced layers
whose lease has expired, which ``system check --repair`` (GC) removes.
"""

from __future__ import annotations

import functools
import os
import threading
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import BinaryIO

from ..errors import AlreadyExists, Cancelled, DigestMismatch, EngineError
from ..layers import apply_layer
from ..progress import ProgressFn, report
from ..snapshots import OverlaySnapshotter
from ..store import Lease, Store
from ..store.events import emit
from .config import chain_ids
from .digest import short_id
from .reference import Reference

LayerOpener = Callable[[int], AbstractContextManager[BinaryIO]]


class Unpacker:
    def __init__(self, store: Store, snapshots: OverlaySnapshotter, lease: Lease) -> None:
        self.store = store
        self.snapshots = snapshots
        self.lease = lease
        self.created: list[str] = []  # chain IDs this unpacker committed

    def has_layer(self, chain: str) -> bool:
        return self.store.db.one("SELECT 1 FROM layers WHERE chain_id = ?", (chain,)) is not None

    def unpack(self, diff_ids: Sequence[str], opener: LayerOpener, *, label: str = "",
               progress: ProgressFn | None = None,
               cancel: threading.Event | None = None) -> list[str]:
        """Make sure every layer exists; return the ChainIDs."""
        chains = chain_ids(diff_ids)
        for i, (diff, chain) in enumerate(zip(diff_ids, chains, strict=True)):
            if cancel is not None and cancel.is_set():
                raise Cancelled(f"{label}: cancelled")
            sid = short_id(diff)
            if self.has_layer(chain):
                self.lease.add("layer", chain)
                report(progress, sid, "Already exists")
                continue
            parent = chains[i - 1] if i else None
            self._extract(diff, chain, parent, functools.partial(opener, i),
                          f"{label}layer {i + 1}/{len(diff_ids)} ({diff})", cancel)
            report(progress, sid, "Loaded")
        return chains

    def _extract(self, diff: str, chain: str, parent: str | None,
                 open_blob: Callable[[], AbstractContextManager[BinaryIO]], label: str,
                 cancel: threading.Event | None) -> None:
        key = f"extract-{os.urandom(6).hex()}-{chain}"
        self.lease.add("snapshot", key)
        self.lease.add("layer", chain)
        self.snapshots.prepare(key, parent)
        try:
            with open_blob() as blob:
                res = apply_layer(blob, self.snapshots.upper_dir(key), label=label,
                                  parents=self.snapshots.lower_dirs(key), cancel=cancel)
            if res.diff_id != diff:
                raise DigestMismatch(f"{label}: content has DiffID {res.diff_id}, "
                                     f"the image config says {diff}")
            with self.store.db.write() as c:
                self.snapshots.commit(chain, key, size=res.size)
                c.execute("INSERT INTO layers VALUES (?, ?, ?, ?, ?)",
                          (chain, diff, parent, res.size, time.time()))
            self.created.append(chain)
        except AlreadyExists:
            # another process committed the same layer meanwhile: use theirs
            self.snapshots.remove(key)
        except BaseException:
            if self.snapshots.exists(key):
                self.snapshots.remove(key)
            raise

    def rollback(self) -> None:
        """Remove the layers this unpacker committed (children first)."""
        for chain in reversed(self.created):
            try:
                with self.store.db.write() as c:
                    if c.execute("SELECT 1 FROM layers WHERE parent = ?", (chain,)).fetchone():
                        continue
                    c.execute("DELETE FROM layers WHERE chain_id = ?", (chain,))
                self.snapshots.remove(chain)
            except EngineError:
                continue
        self.created.clear()


@dataclass
class NewImage:
    """Everything ``record_image`` writes for one image."""

    config_digest: str
    diff_ids: list[str]
    created: float
    chains: list[str] = field(default_factory=list)
    size: int = 0
    manifest_digest: str | None = None
    blobs: dict[str, tuple[int, str]] = field(default_factory=dict)  # digest → (size, type)
    layer_blobs: list[tuple[str, str, str]] = field(default_factory=list)  # diff, digest, type
    tags: list[Reference] = field(default_factory=list)
    repo_digests: list[tuple[str, str]] = field(default_factory=list)  # (repo name, digest)
    parent: str = ""
    action: str = "load"


def layer_size(store: Store, chains: Sequence[str]) -> int:
    if not chains:
        return 0
    marks = ",".join("?" * len(chains))
    row = store.db.one(f"SELECT SUM(size) AS s FROM layers WHERE chain_id IN ({marks})",
                       tuple(chains))
    return int(row["s"] or 0) if row else 0


def record_image(store: Store, img: NewImage, *, set_tag: Callable) -> None:
    """Insert ``img`` and its tags in the caller's (or a new) transaction."""
    now = time.time()
    with store.db.write() as c:
        for digest, (size, media_type) in img.blobs.items():
            c.execute("INSERT OR IGNORE INTO blobs VALUES (?, ?, ?, ?)",
                      (digest, size, media_type, now))
        for diff, digest, media_type in img.layer_blobs:
            c.execute("INSERT OR IGNORE INTO layer_blobs VALUES (?, ?, ?)",
                      (diff, digest, media_type))
        existing = c.execute("SELECT manifest_digest FROM images WHERE id = ?",
                             (img.config_digest,)).fetchone()
        if existing is None:
            c.execute("INSERT INTO images VALUES (?, ?, ?, ?, ?, ?, ?)",
                      (img.config_digest, img.chains[-1] if img.chains else None,
                       img.manifest_digest, img.created, now, img.size, img.parent))
        elif img.manifest_digest and not existing["manifest_digest"]:
            c.execute("UPDATE images SET manifest_digest = ? WHERE id = ?",
                      (img.manifest_digest, img.config_digest))
        for repo, digest in img.repo_digests:
            c.execute("INSERT OR REPLACE INTO repo_digests VALUES (?, ?, ?)",
                      (repo, digest, img.config_digest))
        for ref in img.tags:
            set_tag(c, ref, img.config_digest, now)
        emit(c, "image", img.action, img.config_digest)
