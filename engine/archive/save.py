"""``save``: images → a docker-archive or an OCI-layout tar.

Both formats put every blob under ``blobs/sha256/<hex>`` with an
``oci-layout`` and ``index.json`` (as Docker ≥ 25 writes them); the
docker-archive adds ``manifest.json`` with RepoTags.  Blobs are written as
the store holds them, so a loaded or pulled image keeps its digests; a
layer that was made here (commit, build, import) is compressed now, once,
and its blob recorded for next time (lazy compression).
"""

from __future__ import annotations

import io
import json
import os
import tarfile
import tempfile
import threading
import time
from dataclasses import dataclass
from typing import BinaryIO, Literal

from ..errors import Cancelled, InvalidArgument
from ..images import manifest as mf
from ..images.reference import parse
from ..images.store import ImageStore
from ..layers.compression import gzip_compress_stream
from ..layers.write import write_layer
from ..progress import ProgressFn, report
from ..snapshots import OverlaySnapshotter
from ..store import Store

Format = Literal["docker-archive", "oci-archive"]
FORMATS = ("docker-archive", "oci-archive")


@dataclass(frozen=True)
class ImageBlobs:
    image_id: str
    manifest_digest: str
    manifest: mf.Manifest
    tags: tuple[str, ...]  # fully qualified names to record


def ensure_manifest(store: Store, images: ImageStore, snapshots: OverlaySnapshotter,
                    image_id: str, *, progress: ProgressFn | None = None,
                    cancel: threading.Event | None = None) -> tuple[str, mf.Manifest]:
    """The image's manifest, made (and its layer blobs compressed) if it has none."""
    rec = images.record(image_id)
    if rec.manifest_digest and store.blobs.exists(rec.manifest_digest):
        data = store.blobs.read(rec.manifest_digest)
        m = mf.parse_manifest(data, digest=rec.manifest_digest)
        if all(store.blobs.exists(d.digest) for d in m.layers):
            return rec.manifest_digest, m
    cfg = images.config(image_id)
    chains = _chain_of(store, rec.top_layer)
    layers = []
    with store.leases.hold() as lease:
        for diff, chain in zip(cfg.diff_ids, chains, strict=True):
            row = store.db.one("SELECT digest, media_type FROM layer_blobs WHERE diff_id = ?",
                               (diff,))
            if row is not None and store.blobs.exists(row["digest"]):
                digest, media = row["digest"], row["media_type"]
            else:
                digest, media = _compress_layer(store, snapshots, chain, diff, lease, cancel)
            layers.append(mf.Descriptor(media, digest, store.blobs.size(digest)))
            report(progress, digest[7:19], "Layer ready")
        oci = not any(d.media_type.startswith("application/vnd.docker") for d in layers)
        config = mf.Descriptor(mf.OCI_CONFIG if oci else mf.DOCKER_CONFIG, image_id,
                               store.blobs.size(image_id))
        data = mf.build_manifest(config, layers, oci=oci)
        digest, size = store.blobs.ingest_bytes(data, before_rename=lambda d: lease.add("blob", d))
        with store.db.write() as c:
            c.execute("INSERT OR IGNORE INTO blobs VALUES (?, ?, ?, ?)",
                      (digest, size, mf.OCI_MANIFEST if oci else mf.DOCKER_MANIFEST, time.time()))
            c.execute("UPDATE images SET manifest_digest = ? WHERE id = ?", (digest, image_id))
    return digest, mf.parse_manifest(data, digest=digest)


def _chain_of(store: Store, top: str | None) -> list[str]:
    out = []
    while top:
        out.append(top)
        row = store.db.one("SELECT parent FROM layers WHERE chain_id = ?", (top,))
        top = row["parent"] if row else None
    return out[::-1]


def _compress_layer(store: Store, snapshots: OverlaySnapshotter, chain: str, diff: str,
                    lease, cancel: threading.Event | None) -> tuple[str, str]:
    src = snapshots.upper_dir(chain)
    with tempfile.TemporaryFile(dir=store.tmp) as raw:
        res = write_layer(src, raw)
        if res.diff_id != diff:
            raise InvalidArgument(f"layer {chain}: its files now hash to {res.diff_id}, "
                                  f"expected {diff}; run `dockyard system check`")
        if cancel is not None and cancel.is_set():
            raise Cancelled("save: cancelled")
        raw.seek(0)
        with tempfile.TemporaryFile(dir=store.tmp) as gz:
            gzip_compress_stream(raw, gz)
            gz.seek(0)
            digest, size = store.blobs.ingest(gz, before_rename=lambda d: lease.add("blob", d))
    with store.db.write() as c:
        c.execute("INSERT OR IGNORE INTO blobs VALUES (?, ?, ?, ?)",
                  (digest, size, mf.OCI_LAYER_GZIP, time.time()))
        c.execute("INSERT OR IGNORE INTO layer_blobs VALUES (?, ?, ?)",
                  (diff, digest, mf.OCI_LAYER_GZIP))
    return digest, mf.OCI_LAYER_GZIP


def save(store: Store, images: ImageStore, snapshots: OverlaySnapshotter, refs: list[str],
         out: BinaryIO, *, format: Format = "docker-archive",  # noqa: A002
         progress: ProgressFn | None = None, cancel: threading.Event | None = None) -> None:
    if format not in FORMATS:
        raise InvalidArgument(f'unknown format "{format}": use docker-archive or oci-archive')
    if not refs:
        raise InvalidArgument('"save" requires at least 1 argument')
    chosen: dict[str, list[str]] = {}
    for ref in refs:
        image_id = images.resolve(ref)
        names = chosen.setdefault(image_id, [])
        if not image_id.removeprefix("sha256:").startswith(ref.removeprefix("sha256:")):
            parsed = parse(ref)
            if parsed.tag or parsed.digest:
                names.append(str(parsed.tagged_or_latest()))
            else:  # a bare name saves every tag of that repository
                names.extend(t for t in images.tags_of(image_id)
                             if parse(t).name == parsed.name)
    plans = []
    for image_id, names in chosen.items():
        digest, m = ensure_manifest(store, images, snapshots, image_id, progress=progress,
                                    cancel=cancel)
        plans.append(ImageBlobs(image_id, digest, m, tuple(dict.fromkeys(names))))
    _write(store, plans, out, format, progress, cancel)


def _write(store: Store, plans: list[ImageBlobs], out: BinaryIO, format: str,  # noqa: A002
           progress: ProgressFn | None, cancel: threading.Event | None) -> None:
    now = int(time.time())
    tar = tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT)
    written: set[str] = set()

    def add_bytes(name: str, data: bytes) -> None:
        info = tarfile.TarInfo(name)
        info.size, info.mtime, info.mode = len(data), now, 0o644
        tar.addfile(info, io.BytesIO(data))

    def add_blob(digest: str) -> None:
        if digest in written:
            return
        written.add(digest)
        if cancel is not None and cancel.is_set():
            raise Cancelled("save: cancelled")
        path = store.blobs.path(digest)
        info = tarfile.TarInfo("blobs/sha256/" + digest.removeprefix("sha256:"))
        info.size, info.mtime, info.mode = os.path.getsize(path), now, 0o644
        with open(path, "rb") as f:
            tar.addfile(info, f)
        report(progress, digest[7:19], "Written", info.size, info.size)

    add_bytes("oci-layout", b'{"imageLayoutVersion":"1.0.0"}')
    index_entries = []
    docker_manifest = []
    for p in plans:
        add_blob(p.manifest_digest)
        add_blob(p.image_id)
        for d in p.manifest.layers:
            add_blob(d.digest)
        media = (mf.DOCKER_MANIFEST if p.manifest.media_type == mf.DOCKER_MANIFEST
                 else mf.OCI_MANIFEST)
        size = store.blobs.size(p.manifest_digest)
        for name in p.tags or ("",):
            ann = {}
            if name:
                ref = parse(name)
                ann = {"io.containerd.image.name": str(ref),
                       mf.ANNOTATION_REF_NAME: ref.tag or "latest"}
            index_entries.append(mf.Descriptor(media, p.manifest_digest, size,
                                               annotations=ann))
        docker_manifest.append({
            "Config": "blobs/sha256/" + p.image_id.removeprefix("sha256:"),
            "RepoTags": [parse(t).familiar() for t in p.tags] or None,
            "Layers": ["blobs/sha256/" + d.digest.removeprefix("sha256:")
                       for d in p.manifest.layers],
        })
    add_bytes("index.json", mf.build_index(index_entries))
    if format == "docker-archive":
        add_bytes("manifest.json", json.dumps(docker_manifest, separators=(",", ":")).encode())
    tar.close()
