"""A build step's writable root, and turning what it wrote into a layer.

Lifecycle of one layer-making step (RUN, COPY, ADD, WORKDIR):

1. ``Workspace.open(parent)`` prepares an active snapshot
   ``extract-build-<nonce>`` on the parent's ChainID, under the build's
   lease, and mounts it (overlay) on a private directory in ``tmp/``.
2. The step writes through the mount (a RUN container gets it as rootfs).
3. ``commit()`` unmounts, hashes the upper directory as the layer tar it
   would be (:func:`~engine.layers.diff_id_of`, nothing written) and
   commits the snapshot itself under the new ChainID: the upper directory
   *is* the layer, stored once, compressed only when pushed or saved (as
   BuildKit does).  A step that changed nothing makes no layer.
4. ``discard()`` (on failure) unmounts and removes the snapshot.

The ``extract-`` prefix lets ``system check --repair`` remove the snapshot
of a build that was killed; the lease keeps it safe while the build runs.
Read-only roots of other stages are mounted with :func:`mount_chain`.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from engine.errors import AlreadyExists
from engine.images.config import chain_ids
from engine.images.digest import sha256_digest
from engine.layers import diff_id_of
from engine.snapshots import Mount, OverlaySnapshotter
from engine.snapshots.mount import mount_all, unmount
from engine.snapshots.overlay import OVERLAY_OPTS, remove_tree
from engine.store import Lease, Store

__all__ = ["EMPTY_DIFF_ID", "Workspace", "mount_chain", "next_chain", "scratch_dir"]

# the DiffID of a layer with no entries (two zero blocks)
EMPTY_DIFF_ID = sha256_digest(bytes(1024))


def next_chain(parent: str | None, diff_id: str) -> str:
    return chain_ids([parent, diff_id])[-1] if parent else diff_id


def scratch_dir(store: Store, what: str) -> str:
    """A private directory under ``tmp/`` that ``system check`` leaves alone while we live."""
    d = os.path.join(store.tmp, f"stage-{os.getpid()}-build-{what}-{uuid.uuid4().hex[:12]}")
    os.makedirs(d, mode=0o700)
    return d


class Workspace:
    def __init__(self, store: Store, snapshots: OverlaySnapshotter, lease: Lease,
                 parent: str | None) -> None:
        self.store = store
        self.snapshots = snapshots
        self.lease = lease
        self.parent = parent
        self.key = f"extract-build-{uuid.uuid4().hex[:16]}"
        self.dir = scratch_dir(store, "root")
        self.rootfs = os.path.join(self.dir, "rootfs")
        self.mounted = False

    @classmethod
    def open(cls, store: Store, snapshots: OverlaySnapshotter, lease: Lease,
             parent: str | None) -> Workspace:
        ws = cls(store, snapshots, lease, parent)
        lease.add("snapshot", ws.key)
        try:
            os.mkdir(ws.rootfs, 0o755)
            snapshots.prepare(ws.key, parent)
            mount_all(snapshots.mounts(ws.key), ws.rootfs)
            ws.mounted = True
        except BaseException:
            ws.discard()
            raise
        return ws

    @property
    def upper(self) -> str:
        return self.snapshots.upper_dir(self.key)

    def lowers(self) -> list[str]:
        return self.snapshots.lower_dirs(self.key)

    def unmount(self) -> None:
        if self.mounted:
            unmount(self.rootfs)
            self.mounted = False

    def commit(self) -> tuple[str | None, str | None, int]:
        """(diff ID or None if nothing changed, resulting ChainID, layer bytes)."""
        self.unmount()
        res = diff_id_of(self.upper)
        if res.diff_id == EMPTY_DIFF_ID:
            self.discard()
            return None, self.parent, 0
        chain = next_chain(self.parent, res.diff_id)
        self.lease.add("layer", chain)
        db = self.store.db
        if db.one("SELECT 1 FROM layers WHERE chain_id = ?", (chain,)):
            self.discard()  # the very same change exists: share it
            return res.diff_id, chain, res.size
        try:
            with db.write() as c:
                self.snapshots.commit(chain, self.key, size=res.size)
                c.execute("INSERT INTO layers VALUES (?, ?, ?, ?, ?)",
                          (chain, res.diff_id, self.parent, res.size, time.time()))
        except AlreadyExists:  # another build committed it meanwhile
            self.discard()
        remove_tree(self.dir)
        return res.diff_id, chain, res.size

    def discard(self) -> None:
        self.unmount()
        if self.snapshots.exists(self.key):
            self.snapshots.remove(self.key)
        remove_tree(self.dir)


@contextmanager
def mount_chain(store: Store, snapshots: OverlaySnapshotter,
                chain: str | None) -> Iterator[str]:
    """A read-only view of a layer chain (an empty dir for scratch), mounted privately."""
    d = scratch_dir(store, "view")
    target = os.path.join(d, "rootfs")
    os.mkdir(target, 0o755)
    mounted = False
    try:
        if chain is not None:
            dirs = snapshots.parent_dirs(chain)
            if len(dirs) == 1:
                mounts = [Mount("bind", dirs[0], ("ro", "rbind"))]
            else:
                mounts = [Mount("overlay", "overlay",
                                ("ro", *OVERLAY_OPTS, "lowerdir=" + ":".join(dirs)))]
            mount_all(mounts, target, readonly=True)
            mounted = True
        yield target
    finally:
        if mounted:
            unmount(target, detach=True)
        remove_tree(d)
