"""The build cache: which layer a build step made, keyed by what went into it.

Terms: a *cache key* is ``sha256`` of the parent step's key, the
instruction after expansion, the build args and environment it sees and,
for COPY/ADD, a checksum of the files' contents and metadata (never
mtimes).  A *record* maps a key to the step's result: the ChainID on top
of which it ran, the DiffID it added (none for a step that changed
nothing) and the resulting ChainID.

Lifecycle: ``lookup(key)`` before running a step — a hit whose layer still
exists is reused (``CACHED``); after running, ``record(...)``.  Records
are rows of ``build_cache`` in the store's database (created on first use,
so older roots need no migration).  The layers they name are kept from the
image GC by one *view* snapshot ``buildcache-<chainid>`` per cached chain:
active and view snapshots are GC roots, so a layer that only the cache
uses survives ``rmi``/``image prune`` until ``builder prune`` drops its
records, then its view, then (mark and sweep) the layer.

``--mount=type=cache`` directories live in ``<root>/build/mounts/`` and
count as build cache too.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from dataclasses import dataclass

from engine.errors import AlreadyExists, InvalidArgument
from engine.snapshots import OverlaySnapshotter
from engine.store import Store

__all__ = ["BuildCache", "CacheHit", "CacheUsage", "cache_key", "cache_usage", "prune_cache"]

SCHEMA = (
    "CREATE TABLE IF NOT EXISTS build_cache ("
    " key TEXT PRIMARY KEY, parent_chain TEXT, chain_id TEXT, diff_id TEXT,"
    " size INTEGER NOT NULL DEFAULT 0, description TEXT NOT NULL DEFAULT '',"
    " created REAL NOT NULL, last_used REAL NOT NULL, usage_count INTEGER NOT NULL DEFAULT 0)",
    "CREATE INDEX IF NOT EXISTS build_cache_chain ON build_cache(chain_id)",
)
VIEW_PREFIX = "buildcache-"
_ready: set[str] = set()


def cache_key(*parts: object) -> str:
    """The key of a step: a digest of its parent's key and its inputs, canonically encoded."""
    data = json.dumps(parts, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    return "sha256:" + hashlib.sha256(data.encode("utf-8", "surrogateescape")).hexdigest()


def ensure_schema(store: Store) -> None:
    if store.db.path in _ready:
        return
    with store.db.write() as c:
        for stmt in SCHEMA:
            c.execute(stmt)
    _ready.add(store.db.path)


def mounts_dir(store: Store) -> str:
    return store.path("build", "mounts")


@dataclass(frozen=True)
class CacheHit:
    key: str
    chain_id: str | None
    diff_id: str | None
    size: int
    created: float


class BuildCache:
    def __init__(self, store: Store, snapshots: OverlaySnapshotter) -> None:
        self.store = store
        self.snapshots = snapshots
        ensure_schema(store)

    def lookup(self, key: str) -> CacheHit | None:
        row = self.store.db.one("SELECT * FROM build_cache WHERE key = ?", (key,))
        if row is None:
            return None
        chain = row["chain_id"]
        if chain is not None and not self.store.db.one(
                "SELECT 1 FROM layers WHERE chain_id = ?", (chain,)):
            return None  # its layer was pruned: a miss, the step runs again
        with self.store.db.write() as c:
            c.execute("UPDATE build_cache SET last_used = ?, usage_count = usage_count + 1 "
                      "WHERE key = ?", (time.time(), key))
        return CacheHit(key, chain, row["diff_id"], row["size"], row["created"])

    def record(self, key: str, *, parent: str | None, chain: str | None,
               diff_id: str | None, size: int, description: str) -> float:
        """Remember a step's result; its creation time (the layer's ``created``)."""
        if diff_id is not None and chain is not None:
            self.protect(chain)
        now = time.time()
        with self.store.db.write() as c:
            c.execute("INSERT OR REPLACE INTO build_cache VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0)",
                      (key, parent, chain, diff_id, size, description, now, now))
        return now

    def protect(self, chain: str) -> None:
        key = VIEW_PREFIX + chain
        if self.snapshots.exists(key):
            return
        try:
            self.snapshots.view(key, chain)
        except AlreadyExists:
            pass


# -- system df ----------------------------------------------------------------

@dataclass(frozen=True)
class CacheUsage:
    count: int  # records + cache mounts
    active: int  # in use by a running build (0: builds hold no cache records open)
    size: int  # bytes of layers only the cache uses, plus cache mounts
    reclaimable: int
    layer_size: int  # the layer part of ``size`` (counted under Images by a naive sum)
    chains: frozenset[str]  # the cache-only layers


def _image_chains(store: Store) -> set[str]:
    from engine.usage.layers import chains_by_image

    out: set[str] = set()
    for stack in chains_by_image(store).values():
        out |= stack
    return out


def _layer_dir_size(store: Store, snapshots: OverlaySnapshotter, chain: str) -> int:
    from engine.usage import footprint as fp

    row = store.db.one("SELECT id FROM snapshots WHERE key = ?", (chain,))
    return fp.cached(snapshots.dir(row["id"])).apparent if row else 0


def _mount_dirs(store: Store) -> list[str]:
    d = mounts_dir(store)
    try:
        return [os.path.join(d, n) for n in sorted(os.listdir(d))]
    except FileNotFoundError:
        return []


def cache_usage(engine, *, layer_bytes: dict[str, int] | None = None,  # noqa: ANN001
                image_chains: set[str] | None = None) -> CacheUsage:
    """The ``Build Cache`` row of ``system df`` (``engine`` is the facade)."""
    from engine.usage import footprint as fp

    store, snapshots = engine.store, engine.snapshots
    ensure_schema(store)
    rows = store.db.query("SELECT chain_id, diff_id FROM build_cache")
    used = image_chains if image_chains is not None else _image_chains(store)
    chains = frozenset(r["chain_id"] for r in rows
                       if r["diff_id"] is not None and r["chain_id"] not in used)
    if layer_bytes is not None:
        layer_size = sum(layer_bytes.get(ch, 0) for ch in chains)
    else:
        layer_size = sum(_layer_dir_size(store, snapshots, ch) for ch in chains)
    mounts = _mount_dirs(store)
    mount_size = sum(fp.footprint(m).apparent for m in mounts)
    total = layer_size + mount_size
    return CacheUsage(len(rows) + len(mounts), 0, total, total, layer_size, chains)


# -- builder prune --------------------------------------------------------------

def prune_cache(engine, *, all: bool = False, keep_storage: int = 0,  # noqa: A002, ANN001
                filters: dict[str, list[str]] | None = None, dry_run: bool = False):  # noqa: ANN201
    """``builder prune``: drop cache records, then the layers nothing else uses.

    Without ``all`` only records whose layer no image uses go (Docker's
    "dangling" cache); ``all`` takes every record and the cache mounts.
    ``keep_storage`` keeps the most recently used records up to that many
    bytes; ``until=<time>`` keeps records used since then.  Returns an
    ``engine.usage.prune.PruneReport`` whose ``reclaimed`` is exact.
    """
    from engine.filters import parse_until
    from engine.snapshots.overlay import remove_tree
    from engine.store.gc import mark_and_sweep
    from engine.usage import footprint as fp
    from engine.usage.prune import PruneReport

    filters = filters or {}
    for k in filters:
        if k not in ("until", "id"):
            raise InvalidArgument(f"invalid filter '{k}'")
    store, snapshots = engine.store, engine.snapshots
    ensure_schema(store)
    rep = PruneReport(dry_run=dry_run)
    now = time.time()
    in_images = _image_chains(store)
    rows = store.db.query("SELECT * FROM build_cache ORDER BY last_used DESC")
    kept_bytes = 0
    doomed = []
    for r in rows:
        if not all and r["chain_id"] in in_images:
            continue
        if any(r["last_used"] >= parse_until(v, now) for v in filters.get("until", [])):
            continue
        ids = filters.get("id", [])
        if ids and not any(r["key"].removeprefix("sha256:").startswith(i) for i in ids):
            continue
        if keep_storage and kept_bytes + r["size"] <= keep_storage:
            kept_bytes += r["size"]
            continue
        doomed.append(r)
    mounts = _mount_dirs(store) if all and not filters else []
    if not doomed and not mounts:
        return rep
    live_layers = store.leases.live_refs("layer")
    with store.db.write(dry_run=dry_run) as c:
        for r in doomed:
            c.execute("DELETE FROM build_cache WHERE key = ?", (r["key"],))
            rep.deleted.append(r["key"].removeprefix("sha256:")[:25])
        still = {x["chain_id"] for x in c.execute(
            "SELECT chain_id FROM build_cache WHERE diff_id IS NOT NULL")}
        views = []
        for v in c.execute("SELECT id, key, parent FROM snapshots WHERE kind = 'view' AND "
                           "key LIKE ?", (VIEW_PREFIX + "%",)).fetchall():
            if v["parent"] not in still and v["parent"] not in live_layers:
                c.execute("DELETE FROM snapshots WHERE id = ?", (v["id"],))
                views.append(snapshots.dir(v["id"]))
        sweep = mark_and_sweep(c, protected_blobs=store.leases.live_refs("blob"),
                               protected_snapshots=live_layers)
        dirs = [snapshots.dir(snap_id) for snap_id, _ in sweep.snapshots]
        rep.reclaimed = sum(fp.cached(d).apparent for d in dirs) + \
            sum(fp.footprint(m).apparent for m in mounts)
    rep.deleted.extend(os.path.basename(m)[:25] for m in mounts)
    if dry_run:
        return rep
    for d in views + dirs:
        remove_tree(d)
        fp.forget(d)
    for b in sweep.blobs:
        store.blobs.delete(b)
    for m in mounts:
        shutil.rmtree(m, ignore_errors=True)
    return rep
