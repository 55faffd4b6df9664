"""``import``: a root filesystem tarball → a one-layer image.

The tarball (plain, gzip or zstd) is kept as it came, as the layer's blob,
and applied as a layer; its DiffID is the sha256 of the uncompressed
stream, as Docker computes it.  Keeping the bytes matters: the extracted
tree of an arbitrary tarball does not re-tar to the same bytes, so save and
push must send the original.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Sequence
from typing import BinaryIO

from ..images import manifest as mf
from ..images.changes import apply_changes
from ..images.config import format_created
from ..images.digest import sha256_digest
from ..images.reference import Reference, default_platform, parse_platform
from ..images.store import ImageStore
from ..images.unpack import NewImage, Unpacker, layer_size, record_image
from ..layers import apply_layer
from ..layers.compression import detect
from ..progress import ProgressFn
from ..snapshots import OverlaySnapshotter
from ..store import Store


def import_image(store: Store, snapshots: OverlaySnapshotter, images: ImageStore,
                 src: BinaryIO, *, source: str, ref: Reference | None = None,
                 changes: Sequence[str] = (), message: str = "", platform: str | None = None,
                 progress: ProgressFn | None = None,
                 cancel: threading.Event | None = None) -> str:
    plat = parse_platform(platform) if platform else default_platform()
    config = apply_changes({}, changes)
    with store.leases.hold() as lease:
        unpacker = Unpacker(store, snapshots, lease)
        # the DiffID is only known after reading the stream: extract into an
        # anonymous active snapshot, then commit it under its ChainID
        key = f"extract-import-{time.time_ns()}"
        blob_digest, blob_size = store.blobs.ingest(
            src, label=f"import {source}", cancel=cancel,
            before_rename=lambda d: lease.add("blob", d))
        with store.blobs.open(blob_digest) as f:
            media = {"gzip": mf.OCI_LAYER_GZIP, "zstd": mf.OCI_LAYER_ZSTD}.get(
                detect(f.read(4)), mf.OCI_LAYER)
        lease.add("snapshot", key)
        snapshots.prepare(key, None)
        try:
            with store.blobs.open(blob_digest) as blob:
                res = apply_layer(blob, snapshots.upper_dir(key), label=f"import {source}",
                                  cancel=cancel)
            lease.add("layer", res.diff_id)
            if unpacker.has_layer(res.diff_id):
                snapshots.remove(key)
            else:
                with store.db.write() as c:
                    snapshots.commit(res.diff_id, key, size=res.size)
                    c.execute("INSERT INTO layers VALUES (?, ?, NULL, ?, ?)",
                              (res.diff_id, res.diff_id, res.size, time.time()))
                unpacker.created.append(res.diff_id)
        except BaseException:
            if snapshots.exists(key):
                snapshots.remove(key)
            _drop_unrecorded(store, blob_digest)
            raise
        now = time.time()
        cfg = {
            "architecture": plat.architecture,
            "config": config,
            "created": format_created(now),
            "history": [{"created": format_created(now), "created_by": "",
                         "comment": message or f"Imported from {source}"}],
            "os": plat.os,
            "rootfs": {"type": "layers", "diff_ids": [res.diff_id]},
        }
        if plat.variant:
            cfg["variant"] = plat.variant
        data = json.dumps(cfg, separators=(",", ":")).encode()
        try:
            digest, size = store.blobs.ingest_bytes(
                data, before_rename=lambda d: lease.add("blob", d))
            img = NewImage(config_digest=digest, diff_ids=[res.diff_id], created=now,
                           chains=[res.diff_id], tags=[ref.tagged_or_latest()] if ref else [],
                           action="import")
            img.size = layer_size(store, img.chains)
            img.blobs[digest] = (size, mf.OCI_CONFIG)
            img.blobs[blob_digest] = (blob_size, media)
            img.layer_blobs.append((res.diff_id, blob_digest, media))
            record_image(store, img, set_tag=images.set_tag)
        except BaseException:
            unpacker.rollback()
            _drop_unrecorded(store, blob_digest)
            with contextlib.suppress(Exception):
                if not store.db.one("SELECT 1 FROM blobs WHERE digest = ?",
                                    (sha256_digest(data),)):
                    store.blobs.delete(sha256_digest(data))
            raise
    return digest


def _drop_unrecorded(store: Store, digest: str) -> None:
    """Delete a blob this import stored if no record ever came to need it."""
    if not store.db.one("SELECT 1 FROM blobs WHERE digest = ?", (digest,)):
        store.blobs.delete(digest)
