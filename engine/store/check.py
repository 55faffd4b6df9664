"""``system check``: verify a root and name (or remove) what does not belong.

*Problems* are damage: a row whose file is missing, a blob whose bytes do
not hash to its name.  *Orphans* are leftovers of interrupted work: files
without rows, extraction snapshots and leases of dead processes, layers and
blobs nothing references, temp files.  Orphans are harmless and
``--repair`` removes them; problems make the check fail.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field

import psutil

from .gc import mark_and_sweep
from .root import Store


@dataclass
class CheckReport:
    problems: list[str] = field(default_factory=list)
    orphans: list[str] = field(default_factory=list)
    repaired: list[str] = field(default_factory=list)
    blobs: int = 0
    snapshots: int = 0
    images: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems


_PID_FILE = re.compile(r"^(?:ingest|rm|save|stage)-(\d+)-")


def check(store: Store, snapshot_root: str, *, repair: bool = False,
          verify_blobs: bool = True) -> CheckReport:
    from ..snapshots.overlay import remove_tree  # here: snapshots imports store

    rep = CheckReport()
    db = store.db
    live_blobs = store.leases.live_refs("blob")
    live_snaps = store.leases.live_refs("snapshot")
    live_layers = store.leases.live_refs("layer")

    # leases of dead processes: their snapshots and blobs were never committed
    expired = store.leases.expired()
    for lease_id in sorted({lid for lid, _, _ in expired}):
        rep.orphans.append(f"lease {lease_id}: its process is gone")
        if repair:
            store.leases.drop(lease_id)
            rep.repaired.append(f"lease {lease_id}")

    rows = db.query("SELECT id, key, kind FROM snapshots")
    rep.snapshots = len(rows)
    for r in rows:
        d = os.path.join(snapshot_root, str(r["id"]))
        if r["kind"] == "active" and r["key"].startswith("extract-") and \
                r["key"] not in live_snaps:
            rep.orphans.append(f"snapshot {r['key']}: unfinished extraction")
            if repair:
                with db.write() as c:
                    c.execute("DELETE FROM snapshots WHERE id = ?", (r["id"],))
                remove_tree(d)
                rep.repaired.append(f"snapshot {r['key']}")
            continue
        if not os.path.isdir(os.path.join(d, "fs")):
            rep.problems.append(f"snapshot {r['key']}: directory {d} is missing")
    known_ids = {str(r["id"]) for r in db.query("SELECT id FROM snapshots")}
    for name in sorted(os.listdir(snapshot_root)):
        if name not in known_ids:
            rep.orphans.append(f"snapshot directory {name}: no snapshot record")
            if repair:
                remove_tree(os.path.join(snapshot_root, name))
                rep.repaired.append(f"snapshot directory {name}")

    for r in db.query("SELECT chain_id FROM layers l WHERE NOT EXISTS "
                      "(SELECT 1 FROM snapshots s WHERE s.key = l.chain_id "
                      "AND s.kind = 'committed')"):
        rep.problems.append(f"layer {r['chain_id']}: its snapshot is missing")

    blob_rows = {r["digest"] for r in db.query("SELECT digest FROM blobs")}
    rep.blobs = len(blob_rows)
    on_disk = set(store.blobs.digests())
    for digest in sorted(blob_rows):
        if digest not in on_disk:
            rep.problems.append(f"blob {digest}: file is missing")
        elif verify_blobs and not store.blobs.verify(digest):
            rep.problems.append(f"blob {digest}: content does not match its digest")
    for digest in sorted(on_disk - blob_rows - live_blobs):
        rep.orphans.append(f"blob {digest}: no record")
        if repair:
            store.blobs.delete(digest)
            rep.repaired.append(f"blob {digest}")

    images = db.query("SELECT id, top_layer FROM images")
    rep.images = len(images)
    for r in images:
        if r["id"] not in blob_rows:
            rep.problems.append(f"image {r['id']}: config blob is not recorded")
        if r["top_layer"] and not db.one("SELECT 1 FROM layers WHERE chain_id = ?",
                                         (r["top_layer"],)):
            rep.problems.append(f"image {r['id']}: top layer {r['top_layer']} is missing")

    # unreferenced layers and blobs: what a GC would take
    with db.write(dry_run=not repair) as c:
        sweep = mark_and_sweep(c, protected_blobs=live_blobs, protected_snapshots=live_layers)
    rep.orphans.extend(f"layer {ch}: no image uses it" for ch in sweep.layers)
    rep.orphans.extend(f"blob {digest}: no image uses it" for digest in sweep.blobs)
    if repair:
        for snap_id, key in sweep.snapshots:
            remove_tree(os.path.join(snapshot_root, str(snap_id)))
            rep.repaired.append(f"layer {key}")
        for digest in sweep.blobs:
            store.blobs.delete(digest)
            rep.repaired.append(f"blob {digest}")

    for name in sorted(os.listdir(store.tmp)):
        m = _PID_FILE.match(name)
        if m and psutil.pid_exists(int(m.group(1))) and int(m.group(1)) != os.getpid():
            continue
        rep.orphans.append(f"temporary file tmp/{name}")
        if repair:
            remove_tree(os.path.join(store.tmp, name))
            rep.repaired.append(f"tmp/{name}")
    return rep
