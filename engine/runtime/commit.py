"""``commit``: a container's writable layer → a new image on top of its image.

The new layer is exactly the container's writable layer.  Its upper dir is
written as a layer tar (:func:`~engine.layers.write_layer`, overlay
whiteouts become ``.wh.`` entries) and streamed through a pipe straight into
:func:`~engine.layers.apply_layer`, which extracts it into a fresh active
snapshot on top of the image's top layer and hashes it on the way: that
snapshot is then committed under the new ChainID, so the layer is stored
once, as a layer, like every pulled or built one (and, like them, compressed
only when it is pushed or saved).  A running container is paused while its
upper dir is read (``--pause``, Docker's default), and unpaused right after.

The image config is the parent image's with the container's ``Config``
(Cmd, Env, Entrypoint, WorkingDir, User, Labels, ExposedPorts, Volumes …)
and the ``--change`` lines applied, one more history entry and one more
DiffID.  As Docker does, an empty writable layer adds an ``empty_layer``
history entry and no layer.  Everything is recorded in one transaction
(:func:`~engine.images.unpack.record_image`, action ``commit``).
"""

from __future__ import annotations

import json
import os
import stat
import threading
import time
from collections.abc import Sequence

from ..errors import AlreadyExists, InvalidReference
from ..images.changes import apply_changes
from ..images.config import chain_ids, format_created
from ..images.digest import sha256_digest
from ..images.reference import parse
from ..images.unpack import NewImage, Unpacker, layer_size, record_image
from ..layers import Change, apply_layer, changes, write_layer
from ..layers.merged import ThroughSymlink, lookup
from ..store.events import emit
from .containers import Containers

# DiffID of a layer with no entries: the two zero blocks that end a tar
EMPTY_DIFF_ID = sha256_digest(bytes(1024))
# Mount points the runtime creates in the writable layer.  Docker keeps them
# in a hidden "init" layer, so its diff never lists them; we filter them out.
RUNTIME_MOUNTPOINTS = frozenset({"/etc/hosts", "/etc/hostname", "/etc/resolv.conf", "/proc",
                                 "/sys", "/dev"})


def diff(svc: Containers, cid: str) -> list[Change]:
    """``docker diff``: the writable layer's A/C/D list, without runtime artifacts.

    Dropped: the runtime's empty mount points (above) while they are still
    empty, and a directory listed only because overlayfs copied it up to hold
    one of them (no other change below it, same mode and owner as below).
    """
    upper, lowers = svc.snapshots.upper_dir(cid), svc.snapshots.lower_dirs(cid)
    out = changes(upper, lowers)
    drop = {c.path for c in out if c.kind == "A" and c.path in RUNTIME_MOUNTPOINTS
            and _empty(upper + c.path)}
    kept = [c for c in out if c.path not in drop]
    ancestors: set[str] = set()
    for c in kept:
        parts = c.path.split("/")
        ancestors.update("/".join(parts[:i]) for i in range(2, len(parts)))
    return [c for c in kept if not (c.kind == "C" and c.path not in ancestors and
                                    _copied_up_only(upper, lowers, c.path, drop))]


def _empty(path: str) -> bool:
    try:
        st = os.lstat(path)
    except OSError:
        return False
    if stat.S_ISDIR(st.st_mode):
        return not os.listdir(path)
    return stat.S_ISREG(st.st_mode) and st.st_size == 0


def _copied_up_only(upper: str, lowers: list[str], path: str, dropped: set[str]) -> bool:
    if not any(d.startswith(path + "/") for d in dropped):
        return False
    try:
        st = os.lstat(upper + path)
        found = lookup(lowers, path.strip("/").split("/"))
    except (OSError, ThroughSymlink):
        return False
    if found is None or not stat.S_ISDIR(st.st_mode):
        return False
    low = found[1]
    return (st.st_mode, st.st_uid, st.st_gid) == (low.st_mode, low.st_uid, low.st_gid)


def commit(svc: Containers, cid: str, *, reference: str | None = None, message: str = "",
           author: str = "", changes: Sequence[str] = (), pause: bool = True) -> str:
    """Commit ``cid``; return the new image ID (``sha256:<hex>``)."""
    store, snapshots, images = svc.store, svc.snapshots, svc.images
    ref = None
    if reference:
        ref = parse(reference)
        if ref.digest:
            raise InvalidReference(f"invalid reference format: {reference}: a commit cannot "
                                   "be tagged with a digest")
    row = svc.row(cid)
    image_id = row["image_id"]
    parent_cfg = images.config(image_id).raw
    parent_diffs = list((parent_cfg.get("rootfs") or {}).get("diff_ids") or [])
    container_cfg = json.loads(row["config"])
    new_config = apply_changes(container_cfg, changes)  # refuse bad changes before pausing
    with store.leases.hold() as lease:
        unpacker = Unpacker(store, snapshots, lease)
        parent_chain = images.record(image_id).top_layer
        diff = _capture(svc, cid, row["state"] == "running" and pause, parent_chain, lease,
                        unpacker)
        empty = diff == EMPTY_DIFF_ID
        diffs = parent_diffs + ([] if empty else [diff])
        now = time.time()
        entry: dict = {"created": format_created(now),
                       "created_by": " ".join(container_cfg.get("Cmd") or [])}
        if author:
            entry["author"] = author
        if message:
            entry["comment"] = message
        if empty:
            entry["empty_layer"] = True
        cfg = {k: v for k, v in parent_cfg.items()
               if k not in ("author", "comment", "container", "container_config")}
        cfg.update(config=new_config, created=format_created(now),
                   history=[*(parent_cfg.get("history") or []), entry],
                   rootfs={"type": "layers", "diff_ids": diffs})
        if author:
            cfg["author"] = author
        if message:
            cfg["comment"] = message
        data = json.dumps(cfg, separators=(",", ":")).encode()
        try:
            digest, size = store.blobs.ingest_bytes(
                data, before_rename=lambda d: lease.add("blob", d))
            chains = chain_ids(diffs)
            img = NewImage(config_digest=digest, diff_ids=diffs, created=now, chains=chains,
                           tags=[ref.tagged_or_latest()] if ref else [], parent=image_id,
                           action="commit")
            img.size = layer_size(store, chains)
            img.blobs[digest] = (size, "application/vnd.oci.image.config.v1+json")
            with store.db.write() as c:
                record_image(store, img, set_tag=images.set_tag)
                emit(c, "container", "commit", cid, imageID=digest, comment=message,
                     imageRef=str(ref.tagged_or_latest().familiar()) if ref else "")
        except BaseException:
            unpacker.rollback()
            raise
    return digest


def _capture(svc: Containers, cid: str, pause: bool, parent: str | None, lease,  # noqa: ANN001
             unpacker: Unpacker) -> str:
    """Turn the writable layer into a committed layer snapshot; return its DiffID."""
    snapshots, db = svc.snapshots, svc.store.db
    key = f"extract-commit-{os.urandom(6).hex()}"
    lease.add("snapshot", key)
    snapshots.prepare(key, parent)
    paused = False
    try:
        if pause:
            svc.pause(cid)
            paused = True
        try:
            res = _copy_layer(snapshots.upper_dir(cid), snapshots.upper_dir(key),
                              snapshots.lower_dirs(key), f"commit {cid[:12]}")
        finally:
            if paused:
                svc.pause(cid, resume=True)
        chain = chain_ids([parent, res.diff_id])[-1] if parent else res.diff_id
        if res.diff_id == EMPTY_DIFF_ID:
            snapshots.remove(key)
            return res.diff_id
        lease.add("layer", chain)
        if unpacker.has_layer(chain):  # the same change committed before: share it
            snapshots.remove(key)
            return res.diff_id
        try:
            with db.write() as c:
                snapshots.commit(chain, key, size=res.size)
                c.execute("INSERT INTO layers VALUES (?, ?, ?, ?, ?)",
                          (chain, res.diff_id, parent, res.size, time.time()))
            unpacker.created.append(chain)
        except AlreadyExists:  # another process committed it meanwhile
            snapshots.remove(key)
        return res.diff_id
    except BaseException:
        if snapshots.exists(key):
            snapshots.remove(key)
        raise


def _copy_layer(upper: str, dest: str, parents: list[str], label: str):  # noqa: ANN202
    """write_layer(upper) | apply_layer(dest), through a pipe, one pass."""
    r, w = os.pipe()
    failure: list[BaseException] = []

    def produce() -> None:
        with open(w, "wb", buffering=1 << 20) as out:
            try:
                write_layer(upper, out, whiteouts="overlay")
            except BrokenPipeError:
                pass  # the reader failed first: its error is the one to report
            except BaseException as e:  # noqa: BLE001 - re-raised in the caller
                failure.append(e)

    writer = threading.Thread(target=produce, name=f"{label} writer", daemon=True)
    writer.start()
    try:
        # closing our end on failure unblocks the writer (it gets EPIPE)
        with open(r, "rb", buffering=1 << 20) as src:
            res = apply_layer(src, dest, label=label, parents=parents)
    finally:
        writer.join()
    if failure:
        raise failure[0]
    return res
