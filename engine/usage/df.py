"""``system df``: where every byte of a state root goes, each counted once.

Categories partition the root, so their sum is what ``du -sb`` reports:

- **images** — committed layer directories (``snapshots/<n>`` of layers),
  each counted once however many images share it;
- **containers** — writable layers (the containers' active snapshots);
- **volumes** — ``volumes/<name>``;
- **logs** — ``containers/<id>/container.log*``;
- **blobs** — the compressed content store (``blobs/``): what pulls and
  loads brought and what saves and pushes made;
- **build cache** — (the builder's cache, when it has one);
- **metadata** — the database, bundles, and the directories themselves.

Per image: SIZE (all its layers), SHARED SIZE (layers another image also
uses), UNIQUE SIZE (the rest) — Docker's definitions, over footprints.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from . import footprint as fp
from .layers import chains_by_image


@dataclass(frozen=True)
class ImageUsage:
    id: str
    repo_tags: tuple[str, ...]
    created: float
    size: int
    shared_size: int
    unique_size: int
    containers: int


@dataclass(frozen=True)
class ContainerUsage:
    id: str
    name: str
    image: str
    command: str
    state: str
    created: float
    size_rw: int  # the writable layer
    log_size: int
    volumes: int


@dataclass(frozen=True)
class VolumeUsage:
    name: str
    links: int
    size: int
    anonymous: bool


@dataclass(frozen=True)
class Category:
    name: str  # Images, Containers, Local Volumes, Build Cache, Logs, Blobs, Metadata
    total: int
    active: int
    size: int
    reclaimable: int


@dataclass
class DiskUsage:
    images: list[ImageUsage] = field(default_factory=list)
    containers: list[ContainerUsage] = field(default_factory=list)
    volumes: list[VolumeUsage] = field(default_factory=list)
    categories: list[Category] = field(default_factory=list)
    layer_bytes: dict[str, int] = field(default_factory=dict)  # chain ID → footprint
    total: int = 0  # == du -sb of the root


def _layer_dirs(engine) -> dict[str, str]:  # noqa: ANN001
    rows = engine.store.db.query(
        "SELECT l.chain_id, s.id FROM layers l JOIN snapshots s ON s.key = l.chain_id")
    return {r["chain_id"]: engine.snapshots.dir(r["id"]) for r in rows}


def disk_usage(engine) -> DiskUsage:  # noqa: ANN001 - the Engine facade
    du = DiskUsage()
    db = engine.store.db
    dirs = _layer_dirs(engine)
    du.layer_bytes = {ch: fp.cached(d).apparent for ch, d in dirs.items()}
    stacks = chains_by_image(engine.store)
    users: dict[str, int] = {}
    for stack in stacks.values():
        for ch in stack:
            users[ch] = users.get(ch, 0) + 1
    containers = engine.containers(all=True)
    per_image: dict[str, int] = {}
    for c in containers:
        per_image[c.image_id] = per_image.get(c.image_id, 0) + 1
    summaries = {s.id: s for s in engine.images()}
    for image_id, stack in stacks.items():
        size = sum(du.layer_bytes.get(ch, 0) for ch in stack)
        shared = sum(du.layer_bytes.get(ch, 0) for ch in stack if users.get(ch, 0) > 1)
        s = summaries.get(image_id)
        du.images.append(ImageUsage(image_id, s.repo_tags if s else (), s.created if s else 0,
                                    size, shared, size - shared, per_image.get(image_id, 0)))
    du.images.sort(key=lambda i: -i.created)
    layers_total = sum(du.layer_bytes.values())
    in_use: set[str] = set()
    for image_id in per_image:
        in_use |= stacks.get(image_id, set())
    img_reclaim = sum(b for ch, b in du.layer_bytes.items() if ch not in in_use)

    svc = engine.container_store
    writable_total = logs_total = 0
    vol_links = {}
    for r in db.query("SELECT container_id, COUNT(*) AS n FROM container_volumes "
                      "GROUP BY container_id"):
        vol_links[r["container_id"]] = r["n"]
    rw_reclaim = 0
    for c in containers:
        rw = 0
        if engine.snapshots.exists(c.id):
            # what the container wrote (Docker's SizeRw); directories are metadata
            rw = fp.content(engine.snapshots.upper_dir(c.id))
        logs = sum(fp.footprint(os.path.join(svc.dir(c.id), f)).apparent
                   for f in _log_files(svc.dir(c.id)))
        du.containers.append(ContainerUsage(c.id, c.name, c.image, c.command, c.state,
                                            c.created, rw, logs, vol_links.get(c.id, 0)))
        writable_total += rw
        logs_total += logs
        if c.state not in ("running", "paused", "restarting"):
            rw_reclaim += rw

    vols = engine.volume_store
    vol_total = vol_reclaim = 0
    links = vols.links()
    for v in vols.list():
        size = fp.footprint(engine.store.path("volumes", v.name)).apparent
        du.volumes.append(VolumeUsage(v.name, links.get(v.name, 0), size, v.anonymous))
        vol_total += size
        if not links.get(v.name):
            vol_reclaim += size

    blobs = fp.footprint(engine.store.path("blobs")).apparent
    live_blobs = {r["digest"] for r in db.query(
        "SELECT id AS digest FROM images UNION SELECT manifest_digest FROM images "
        "UNION SELECT digest FROM layer_blobs")}
    blob_reclaim = sum(engine.store.blobs.size(d) for d in engine.store.blobs.digests()
                       if d not in live_blobs)
    from ..build.cache import cache_usage

    cache = cache_usage(engine, layer_bytes=du.layer_bytes,
                        image_chains=set().union(*stacks.values()))
    layers_total -= cache.layer_size  # layers only the build cache uses are build cache
    img_reclaim -= cache.layer_size
    cache_total = cache.size
    root_total = _root_total(engine, dirs, vol_total, blobs)
    known = layers_total + writable_total + vol_total + logs_total + blobs + cache_total
    running = sum(1 for c in containers if c.state in ("running", "paused", "restarting"))
    du.categories = [
        Category("Images", len(du.images), len(per_image), layers_total, img_reclaim),
        Category("Containers", len(containers), running, writable_total, rw_reclaim),
        Category("Local Volumes", len(du.volumes), sum(1 for v in du.volumes if v.links),
                 vol_total, vol_reclaim),
        Category("Build Cache", cache.count, cache.active, cache_total, cache.reclaimable),
        Category("Logs", len(containers), running, logs_total,
                 sum(c.log_size for c in du.containers if c.state not in
                     ("running", "paused", "restarting"))),
        Category("Blobs", len(engine.store.blobs.digests()), 0, blobs, blob_reclaim),
        Category("Metadata", 1, 1, max(0, root_total - known), 0),
    ]
    du.total = root_total
    return du


def _log_files(d: str) -> list[str]:
    try:
        return [f for f in os.listdir(d) if f.startswith("container.log")]
    except FileNotFoundError:
        return []


def _root_total(engine, layer_dirs: dict[str, str], vol_total: int,  # noqa: ANN001
                blobs: int) -> int:
    """``du -sb`` of the root without walking twice what was just measured:
    committed layers (cached), volumes and blobs are reused; the rest
    (container snapshots, containers/, tmp/, the database) is walked."""
    root = engine.root
    total = os.lstat(root).st_size
    measured = set(layer_dirs.values())
    for name in os.listdir(root):
        path = os.path.join(root, name)
        if name == "blobs":
            total += blobs
        elif name == "volumes":
            total += os.lstat(path).st_size + vol_total
        elif name == "snapshots":
            total += os.lstat(path).st_size
            for snap in os.listdir(path):
                d = os.path.join(path, snap)
                total += (fp.cached(d) if d in measured else fp.footprint(d)).apparent
        else:
            total += fp.footprint(path).apparent
    return total
