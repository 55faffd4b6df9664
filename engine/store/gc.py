"""Mark and sweep: drop layers and blobs that nothing references any more.

Roots are image rows (their config blob, manifest blob, top layer),
active/view snapshots (their parent chain) and live leases.  Everything
reachable stays; the rest goes, children before parents.  Runs inside the
caller's write transaction so the sweep and the deletion that caused it
commit together; files are removed after the rows (a crash in between
leaves orphan files, never rows without files).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Set
from dataclasses import dataclass, field


@dataclass
class Sweep:
    layers: list[str] = field(default_factory=list)  # chain IDs, top first
    snapshots: list[tuple[int, str]] = field(default_factory=list)  # (id, key)
    blobs: list[str] = field(default_factory=list)


def mark_and_sweep(c: sqlite3.Connection, *, protected_blobs: Set[str] = frozenset(),
                   protected_snapshots: Set[str] = frozenset()) -> Sweep:
    sweep = Sweep()
    layer_parent = {r["chain_id"]: r["parent"]
                    for r in c.execute("SELECT chain_id, parent FROM layers")}
    live_layers: set[str] = set()

    def mark(chain: str | None) -> None:
        while chain is not None and chain not in live_layers:
            live_layers.add(chain)
            chain = layer_parent.get(chain)

    for r in c.execute("SELECT top_layer FROM images"):
        mark(r["top_layer"])
    snaps = c.execute("SELECT id, key, kind, parent FROM snapshots").fetchall()
    for s in snaps:
        if s["kind"] != "committed" or s["key"] in protected_snapshots:
            mark(s["parent"])
            mark(s["key"] if s["key"] in layer_parent else None)

    dead = [ch for ch in layer_parent if ch not in live_layers]
    # children before parents: order by depth in the chain, deepest first
    depth: dict[str, int] = {}

    def d(ch: str) -> int:
        if ch not in depth:
            p = layer_parent.get(ch)
            depth[ch] = 0 if p is None else d(p) + 1
        return depth[ch]

    dead.sort(key=d, reverse=True)
    snap_by_key = {s["key"]: s for s in snaps}
    for ch in dead:
        c.execute("DELETE FROM layers WHERE chain_id = ?", (ch,))
        sweep.layers.append(ch)
        s = snap_by_key.get(ch)
        if s is not None and s["kind"] == "committed":
            c.execute("DELETE FROM snapshots WHERE id = ?", (s["id"],))
            sweep.snapshots.append((s["id"], s["key"]))

    live_blobs = set(protected_blobs)
    for r in c.execute("SELECT id, manifest_digest FROM images"):
        live_blobs.add(r["id"])
        if r["manifest_digest"]:
            live_blobs.add(r["manifest_digest"])
    live_diffs = {r["diff_id"] for r in c.execute("SELECT diff_id FROM layers")}
    for r in c.execute("SELECT diff_id, digest FROM layer_blobs").fetchall():
        if r["diff_id"] in live_diffs:
            live_blobs.add(r["digest"])
        else:
            c.execute("DELETE FROM layer_blobs WHERE diff_id = ? AND digest = ?",
                      (r["diff_id"], r["digest"]))
    for r in c.execute("SELECT digest FROM blobs").fetchall():
        if r["digest"] not in live_blobs:
            c.execute("DELETE FROM blobs WHERE digest = ?", (r["digest"],))
            sweep.blobs.append(r["digest"])
    return sweep
