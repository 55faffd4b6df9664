"""Prune: remove what nothing needs, and say beforehand exactly what goes.

Every prune runs the same code twice if asked: ``dry_run=True`` performs the
deletion inside a database transaction that is rolled back, and measures the
files of everything the GC would drop; the real run commits the same
transaction and deletes exactly those files.  A shared layer is counted (and
removed) only when its last user goes.  Leases protect in-flight content:
layers and blobs named by a live lease are never swept.

Docker's rules: ``image prune`` takes dangling images (untagged, no
children, no containers); ``-a`` every image no container uses.  Filters
``until=`` (images created before), ``label=``/``label!=``; values of one
key are ORed, keys are ANDed.  ``volume prune`` takes unused anonymous
volumes (``all`` for named ones too); ``container prune`` stopped ones.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field

from ..errors import EngineError, InvalidArgument
from ..filters import parse_until
from ..snapshots.overlay import remove_tree
from ..store.events import emit
from ..store.gc import mark_and_sweep
from . import footprint as fp


@dataclass
class PruneReport:
    deleted: list[str] = field(default_factory=list)  # "untagged: x" / "deleted: sha256:…" / ids
    reclaimed: int = 0
    dry_run: bool = False


def _label_match(labels: dict[str, str], filters: dict[str, list[str]]) -> bool:
    for want in filters.get("label", []):
        k, eq, v = want.partition("=")
        if k not in labels or (eq and labels[k] != v):
            return False
    for want in filters.get("label!", []):
        k, eq, v = want.partition("=")
        if k in labels and (not eq or labels[k] == v):
            return False
    return True


def parse_prune_filters(args: list[str], allowed: set[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for a in args:
        if "!=" in a.split("=", 1)[0] + "=" and a.startswith("label!="):
            key, value = "label!", a[len("label!="):]
        else:
            key, eq, value = a.partition("=")
            if not eq:
                raise InvalidArgument("bad format of filter (expected name=value)")
        if key not in allowed:
            raise InvalidArgument(f"invalid filter '{key}'")
        out.setdefault(key, []).append(value)
    return out


def _until_ok(created: float, filters: dict[str, list[str]], now: float) -> bool:
    return all(created < parse_until(v, now) for v in filters.get("until", []))


def prune_images(engine, *, all_images: bool = False,  # noqa: ANN001
                 filters: dict[str, list[str]] | None = None,
                 dry_run: bool = False) -> PruneReport:
    filters = filters or {}
    now = time.time()
    rep = PruneReport(dry_run=dry_run)
    images = engine.image_store
    used = set(images.container_counts())
    children = {s.parent_id for s in engine.images() if s.parent_id}
    candidates = []
    for s in engine.images():
        if s.id in used:
            continue
        if not all_images and (s.repo_tags or s.id in children):
            continue
        if not _until_ok(s.created, filters, now) or not _label_match(s.labels, filters):
            continue
        candidates.append(s)
    if not candidates:
        return rep
    store = engine.store
    with store.db.write(dry_run=dry_run) as c:
        for s in candidates:
            for t in images.tags_of(s.id):
                images.untag(c, t, s.id)
                rep.deleted.append(f"untagged: {_familiar(t)}")
            for d in images.digests_of(s.id):
                repo, _, digest = d.partition("@")
                c.execute("DELETE FROM repo_digests WHERE repo = ? AND digest = ?", (repo, digest))
                rep.deleted.append(f"untagged: {_familiar_name(repo)}@{digest}")
            c.execute("UPDATE images SET parent = '' WHERE parent = ?", (s.id,))
            c.execute("DELETE FROM images WHERE id = ?", (s.id,))
            emit(c, "image", "delete", s.id)
            rep.deleted.append(f"deleted: {s.id}")
        sweep = mark_and_sweep(c, protected_blobs=store.leases.live_refs("blob"),
                               protected_snapshots=store.leases.live_refs("layer"))
        rep.deleted.extend(f"deleted: {ch}" for ch in sweep.layers)
        dirs = [engine.snapshots.dir(snap_id) for snap_id, _ in sweep.snapshots]
        rep.reclaimed = sum(fp.cached(d).apparent for d in dirs) + \
            sum(_blob_size(store, b) for b in sweep.blobs)
    if not dry_run:
        for d in dirs:
            remove_tree(d)
            fp.forget(d)
        for b in sweep.blobs:
            store.blobs.delete(b)
    return rep


def _blob_size(store, digest: str) -> int:  # noqa: ANN001
    try:
        return os.lstat(store.blobs.path(digest)).st_size
    except FileNotFoundError:
        return 0


def _familiar(name: str) -> str:
    from ..images.store import familiar_tag

    return familiar_tag(name)


def _familiar_name(repo: str) -> str:
    from ..images.reference import parse

    return parse(repo).familiar_name


def prune_containers(engine, *, filters: dict[str, list[str]] | None = None,  # noqa: ANN001
                     dry_run: bool = False) -> PruneReport:
    filters = filters or {}
    now = time.time()
    rep = PruneReport(dry_run=dry_run)
    svc = engine.container_store
    for c in engine.containers(all=True):
        if c.state in ("running", "paused", "restarting", "removing"):
            continue
        if not _until_ok(c.created, filters, now) or not _label_match(c.labels, filters):
            continue
        size = 0
        if engine.snapshots.exists(c.id):
            size += fp.footprint(engine.snapshots.dir(engine.snapshots.stat(c.id).id)).apparent
        size += fp.footprint(svc.dir(c.id)).apparent
        if not dry_run:
            svc.remove(c.id)
        rep.deleted.append(c.id)
        rep.reclaimed += size
    return rep


def prune_volumes(engine, *, all_volumes: bool = False,  # noqa: ANN001
                  filters: dict[str, list[str]] | None = None,
                  dry_run: bool = False) -> PruneReport:
    filters = filters or {}
    rep = PruneReport(dry_run=dry_run)
    vols = engine.volume_store
    links = vols.links()
    for v in vols.list():
        if links.get(v.name) or (not all_volumes and not v.anonymous):
            continue
        if not _label_match(v.labels, filters):
            continue
        size = fp.footprint(engine.store.path("volumes", v.name)).apparent
        if not dry_run:
            vols.remove(v.name)
        rep.deleted.append(v.name)
        rep.reclaimed += size
    return rep


def prune_networks(engine, *, filters: dict[str, list[str]] | None = None,  # noqa: ANN001
                   dry_run: bool = False) -> PruneReport:
    """User networks no container is attached to (``bridge``, ``host``, ``none`` stay)."""
    from ..network.networks import Networks

    filters = filters or {}
    rep = PruneReport(dry_run=dry_run)
    nets = Networks(engine.store)
    for net in nets.prune(dry_run=True):
        if not _label_match(getattr(net, "labels", {}) or {}, filters):
            continue
        if not dry_run:
            try:
                nets.remove(net.id)
            except EngineError:
                continue
        rep.deleted.append(net.name)
    return rep
