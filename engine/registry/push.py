"""``push``: a local image → a registry, blobs first and the manifest last.

Progress reports mirror Docker's: ``("", "The push refers to repository
[…]")``, per layer (id = the DiffID's first 12 hex, as Docker shows)
``Preparing`` → ``Layer already exists`` | ``Mounted from <repo>`` |
``Pushing`` (bytes) → ``Pushed``, and ``("", "<tag>: digest: sha256:…
size: N")`` once the manifest is in.

A layer made here (commit, build, import) has no blob until now:
:func:`~engine.archive.save.ensure_manifest` compresses it once and keeps
the blob, so pushing again, or elsewhere, sends the same digests.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor

from ..archive.save import ensure_manifest
from ..errors import InvalidArgument, NotFound
from ..images import manifest as mf
from ..images.digest import short_id
from ..images.reference import Reference, parse
from ..images.store import ImageStore
from ..progress import ProgressFn, report
from ..snapshots import OverlaySnapshotter
from ..store import Store
from ..store.events import emit
from . import CredentialStore, PushResult, sources
from .client import Registry, push_scope
from .session import RepoJob, connect, throttled
from .transfer import DEFAULT_CHUNK_SIZE, start_upload, upload

PARALLEL_UPLOADS = 3


def _local_tags(images: ImageStore, r: Reference) -> list[Reference]:
    out = []
    for row in images.db.query("SELECT name FROM tags ORDER BY name"):
        t = parse(row["name"])
        if t.name == r.name:
            out.append(t)
    return out


def push(store: Store, snapshots: OverlaySnapshotter, images: ImageStore, ref: str | Reference,
         *, all_tags: bool = False, tls_verify: bool = True,
         credentials: CredentialStore | None = None, chunk_size: int = DEFAULT_CHUNK_SIZE,
         progress: ProgressFn | None = None,
         cancel: threading.Event | None = None) -> list[PushResult]:
    r = parse(ref) if isinstance(ref, str) else ref
    if r.digest:
        raise InvalidArgument("cannot push a digest reference")
    if all_tags and r.tag:
        raise InvalidArgument("tag can't be used with --all-tags/-a")
    tags = _local_tags(images, r) if all_tags else [r.tagged_or_latest()]
    ids = []
    for t in tags:
        try:
            ids.append(images.resolve(str(t)))
        except NotFound:
            raise NotFound(f"An image does not exist locally with the tag: "
                           f"{r.familiar_name}") from None
    if not tags:
        raise NotFound(f"An image does not exist locally with the tag: {r.familiar_name}")
    report(progress, "", f"The push refers to repository [{r.name}]")
    results = []
    with connect(r.domain, credentials=credentials, tls_verify=tls_verify) as reg:
        for t, image_id in zip(tags, ids, strict=True):
            pusher = _Pusher(store, snapshots, images, reg, t, chunk_size=chunk_size,
                             progress=progress, cancel=cancel)
            results.append(pusher.run(image_id))
    return results


class _Pusher(RepoJob):
    """One tag: its blobs (HEAD, mount or upload), then its manifest."""

    def __init__(self, store: Store, snapshots: OverlaySnapshotter, images: ImageStore,
                 reg: Registry, ref: Reference, *, chunk_size: int,
                 progress: ProgressFn | None, cancel: threading.Event | None) -> None:
        super().__init__(store, snapshots, images, reg, ref, progress=progress, cancel=cancel)
        self.chunk_size = chunk_size
        self.mounts = 0  # blobs the registry mounted from another repository

    def push_blob(self, desc: mf.Descriptor, sid: str | None) -> None:
        """HEAD, else mount, else upload one blob; ``sid`` None: report nothing."""
        scopes = [push_scope(self.repo)]
        if self.reg.has_blob(self.repo, desc.digest, scopes):
            if sid:
                report(self.progress, sid, "Layer already exists")
            return
        location = None
        source = sources.mount_source(self.store.db, self.reg.domain, self.repo, desc.digest)
        if source is not None:
            location = start_upload(self.reg, self.repo, mount=(desc.digest, source))
            if location is None:
                self.mounts += 1
                if sid:
                    report(self.progress, sid, f"Mounted from {source}")
                return
        step = throttled(self.progress if sid else None, sid or "", "Pushing", desc.size)
        upload(self.reg, self.repo, desc.digest, desc.size,
               lambda: self.store.blobs.open(desc.digest), location=location,
               chunk_size=self.chunk_size, progress=step, cancel=self.abort)
        if sid:
            report(self.progress, sid, "Pushed")

    def run(self, image_id: str) -> PushResult:
        store = self.store
        diff_ids = self.images.config(image_id).diff_ids
        for diff in reversed(diff_ids):  # Docker lists the top layer first
            report(self.progress, short_id(diff), "Preparing")
        with store.leases.hold() as lease:
            mdigest, m = ensure_manifest(store, self.images, self.snapshots, image_id,
                                         cancel=self.cancel)
            data = store.blobs.read(mdigest)
            for d in (m.config, *m.layers):
                lease.add("blob", d.digest)  # no rmi elsewhere may take them mid-push
            pool = ThreadPoolExecutor(PARALLEL_UPLOADS, thread_name_prefix="push")
            try:
                futures: list[Future[None]] = []
                seen: set[str] = set()
                for desc, diff in reversed(list(zip(m.layers, diff_ids, strict=True))):
                    if desc.digest not in seen:
                        seen.add(desc.digest)
                        futures.append(pool.submit(self.push_blob, desc, short_id(diff)))
                for fut in futures:
                    fut.result()
                self.push_blob(m.config, None)
            except BaseException:
                self.abort.set()
                pool.shutdown(wait=True, cancel_futures=True)
                raise
            pool.shutdown(wait=True)
            tag = self.ref.tag or "latest"
            self.reg.put_manifest(self.repo, tag, data, m.media_type)
            with store.db.write() as c:
                c.execute("INSERT OR REPLACE INTO repo_digests VALUES (?, ?, ?)",
                          (self.ref.name, mdigest, image_id))
                sources.remember(c, self.reg.domain, self.repo,
                                 [m.config.digest, *(d.digest for d in m.layers)])
                emit(c, "image", "push", image_id, name=self.ref.familiar())
        report(self.progress, "", f"{tag}: digest: {mdigest} size: {len(data)}")
        return PushResult(tag, mdigest, len(data))
