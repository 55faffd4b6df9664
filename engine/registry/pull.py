"""``pull``: a reference on a registry → a local image, atomically.

Progress reports mirror Docker's JSON messages, so the CLI prints them as
Docker does and the TUI can show them per layer: ``("latest", "Pulling
from library/busybox")``, then per layer (id = the blob digest's first 12
hex) ``Already exists`` or ``Pulling fs layer`` → ``Downloading`` (bytes) →
``Verifying Checksum`` → ``Download complete`` → ``Extracting`` (bytes) →
``Pull complete``, then ``("", "Digest: sha256:…")`` and
``("", "Status: …")``.

Layers download three at a time while the main thread extracts them in
order as they arrive, so the network and the disk work side by side.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import BinaryIO

from ..errors import InvalidArgument, InvalidContent, NotFound
from ..images import manifest as mf
from ..images.config import chain_ids, parse_config
from ..images.digest import sha256_digest, short_id
from ..images.reference import (
    Platform,
    Reference,
    default_platform,
    normalize_platform,
    parse,
    platform_vector,
)
from ..images.store import ImageStore
from ..images.unpack import NewImage, Unpacker, layer_size, record_image
from ..progress import ProgressFn, report
from ..snapshots import OverlaySnapshotter
from ..store import Lease, Store
from . import CredentialStore, PullResult, RegistryError, sources
from .client import Registry
from .session import RepoJob, connect, throttled
from .transfer import download

PARALLEL_DOWNLOADS = 3


class _Counting:
    """A reader that reports how far it got (for ``Extracting``)."""

    def __init__(self, f: BinaryIO, fn) -> None:
        self.f = f
        self.fn = fn
        self.n = 0

    def read(self, size: int = -1) -> bytes:
        data = self.f.read(size)
        self.n += len(data)
        self.fn(self.n)
        return data


def pull(store: Store, snapshots: OverlaySnapshotter, images: ImageStore, ref: str | Reference,
         *, platform: Platform | None = None, all_tags: bool = False, tls_verify: bool = True,
         credentials: CredentialStore | None = None, progress: ProgressFn | None = None,
         cancel: threading.Event | None = None) -> PullResult:
    r = parse(ref) if isinstance(ref, str) else ref
    if all_tags and (r.tag or r.digest):
        raise InvalidArgument("tag can't be used with --all-tags/-a")
    want = platform or default_platform()
    with connect(r.domain, credentials=credentials, tls_verify=tls_verify) as reg:
        if all_tags:
            refs = [r.with_tag(t) for t in reg.list_tags(r.path)]
            if not refs:
                raise NotFound(f"{r.familiar()}: the repository has no tags")
        else:
            refs = [r.tagged_or_latest()]
        ids: list[str] = []
        updated, digest = False, ""
        for one in refs:
            puller = _Puller(store, snapshots, images, reg, one, want,
                             explicit=platform is not None, progress=progress, cancel=cancel)
            image_id, digest, changed = puller.run()
            ids.append(image_id)
            updated = updated or changed
            report(progress, "", f"Digest: {digest}")
    shown = r if all_tags else refs[0]
    status = "Downloaded newer image" if updated else "Image is up to date"
    report(progress, "", f"Status: {status} for {shown.familiar()}")
    return PullResult(str(shown), tuple(ids), digest, updated)


class _Puller(RepoJob):
    """One tag or digest: manifest → config → blobs → layers → image."""

    def __init__(self, store: Store, snapshots: OverlaySnapshotter, images: ImageStore,
                 reg: Registry, ref: Reference, want: Platform, *, explicit: bool,
                 progress: ProgressFn | None, cancel: threading.Event | None) -> None:
        super().__init__(store, snapshots, images, reg, ref, progress=progress, cancel=cancel)
        self.want = want
        self.explicit = explicit
        self.added: list[str] = []  # blobs this pull brought into the store

    def _manifest(self, reference: str) -> tuple[bytes, str]:
        try:
            data, _, digest = self.reg.get_manifest(self.repo, reference)
        except RegistryError as err:
            if err.status == 404 or err.code == "MANIFEST_UNKNOWN":
                shown = self.ref.familiar() if reference == (self.ref.digest or self.ref.tag) \
                    else f"{self.ref.familiar_name}@{reference}"
                raise RegistryError(f"manifest for {shown} not found: {err.message}",
                                    code=err.code, status=err.status) from None
            raise
        return data, digest

    def resolve(self) -> tuple[str, bytes, str, mf.Manifest]:
        """(top digest, manifest bytes, manifest digest, manifest) for our platform."""
        reference = self.ref.digest or self.ref.tag or "latest"
        data, top = self._manifest(reference)
        doc = mf.parse_any(data, digest=top)
        if isinstance(doc, mf.Index):
            desc = mf.select_platform(doc, self.want)
            if desc.media_type not in mf.MANIFEST_TYPES:
                raise InvalidContent(f"index {top}: entry {desc.digest} for {self.want} is "
                                     f"not an image manifest ({desc.media_type})")
            data, digest = self._manifest(desc.digest)
            if len(data) != desc.size:
                raise InvalidContent(f"manifest {digest}: {len(data)} bytes, the index "
                                     f"says {desc.size}")
            return top, data, digest, mf.parse_manifest(data, digest=digest)
        return top, data, top, doc

    def _check_platform(self, os_: str, arch: str, variant: str) -> None:
        got = normalize_platform(Platform(os_ or "linux", arch or "amd64", variant))
        if self.explicit and got not in platform_vector(self.want):
            raise NotFound(f"image with reference {self.ref.familiar()} was found but does not "
                           f"match the specified platform: wanted {self.want}, actual: {got}")

    def run(self) -> tuple[str, str, bool]:
        ref = self.ref
        report(self.progress, ref.digest or ref.tag or "latest",
               f"Pulling from {ref.path}")  # Docker names the path, never the host
        top, data, mdigest, m = self.resolve()
        if self.store.blobs.exists(m.config.digest):
            cfg_bytes = self.store.blobs.read(m.config.digest)
        else:
            cfg_bytes = self.reg.get_blob_bytes(self.repo, m.config)
        cfg = parse_config(cfg_bytes, digest=m.config.digest)
        if top == mdigest:  # no index chose it for us: say if it is the wrong platform
            self._check_platform(cfg.os, cfg.architecture, cfg.variant)
        if len(cfg.diff_ids) != len(m.layers):
            raise InvalidContent(f"manifest {mdigest}: {len(m.layers)} layers but the config "
                                 f"lists {len(cfg.diff_ids)} diff_ids")
        with self.store.leases.hold() as lease:
            unpacker = Unpacker(self.store, self.snapshots, lease)
            pool = ThreadPoolExecutor(PARALLEL_DOWNLOADS, thread_name_prefix="pull")
            try:
                image_id, changed = self._fetch_and_record(
                    lease, unpacker, pool, top, data, mdigest, m, cfg_bytes, cfg.diff_ids,
                    cfg.created)
            except BaseException:
                self.abort.set()
                pool.shutdown(wait=True, cancel_futures=True)
                unpacker.rollback()
                self._discard()
                raise
            pool.shutdown(wait=True)
        return image_id, top, changed

    def _ingest_small(self, lease: Lease, data: bytes) -> None:
        digest = sha256_digest(data)
        lease.add("blob", digest)
        if not self.store.blobs.exists(digest):
            self.store.blobs.ingest_bytes(data, expected=digest)
            self.added.append(digest)

    def _discard(self) -> None:
        with self.store.db.write() as c:
            for digest in self.added:
                if c.execute("SELECT 1 FROM blobs WHERE digest = ?", (digest,)).fetchone():
                    continue
                self.store.blobs.delete(digest)

    def _download(self, lease: Lease, desc: mf.Descriptor) -> None:
        sid = short_id(desc.digest)
        step = throttled(self.progress, sid, "Downloading", desc.size)

        def seen(n: int) -> None:
            step(n)
            if n == desc.size:
                report(self.progress, sid, "Verifying Checksum")

        download(self.reg, self.repo, desc, self.store.blobs, lease, progress=seen,
                 cancel=self.abort)
        self.added.append(desc.digest)
        report(self.progress, sid, "Download complete")

    def _fetch_and_record(self, lease: Lease, unpacker: Unpacker, pool: ThreadPoolExecutor,
                          top: str, data: bytes, mdigest: str, m: mf.Manifest,
                          cfg_bytes: bytes, diff_ids: list[str],
                          created: float) -> tuple[str, bool]:
        store, ref = self.store, self.ref
        chains = chain_ids(diff_ids)
        futures: dict[str, Future[None]] = {}
        for desc, chain in zip(m.layers, chains, strict=True):
            sid = short_id(desc.digest)
            lease.add("blob", desc.digest)
            if store.blobs.exists(desc.digest):
                if unpacker.has_layer(chain):
                    report(self.progress, sid, "Already exists")
            elif desc.digest not in futures:
                # fetched even when the layer exists, so a push keeps these digests
                report(self.progress, sid, "Pulling fs layer")
                futures[desc.digest] = pool.submit(self._download, lease, desc)
        self._ingest_small(lease, cfg_bytes)
        self._ingest_small(lease, data)

        @contextlib.contextmanager
        def open_layer(i: int) -> Iterator[BinaryIO]:
            desc = m.layers[i]
            fut = futures.get(desc.digest)
            if fut is not None:
                fut.result()
            sid = short_id(desc.digest)
            step = throttled(self.progress, sid, "Extracting", desc.size)
            with store.blobs.open(desc.digest) as f:
                yield _Counting(f, step)  # type: ignore[misc]
            report(self.progress, sid, "Pull complete")

        unpacker.unpack(diff_ids, open_layer, label=f"{ref.familiar()}: ", cancel=self.abort)
        for desc, chain in zip(m.layers, chains, strict=True):
            fut = futures.get(desc.digest)
            if fut is not None:
                fut.result()
                if chain not in unpacker.created:  # downloaded for its digest only
                    report(self.progress, short_id(desc.digest), "Pull complete")
        image_id = m.config.digest
        img = NewImage(config_digest=image_id, diff_ids=list(diff_ids), created=created,
                       chains=chains, size=layer_size(store, chains), manifest_digest=mdigest,
                       action="pull")
        img.blobs[image_id] = (len(cfg_bytes), m.config.media_type)
        img.blobs[mdigest] = (len(data), m.media_type)
        for desc, diff in zip(m.layers, diff_ids, strict=True):
            img.blobs[desc.digest] = (desc.size, desc.media_type)
            img.layer_blobs.append((diff, desc.digest, desc.media_type))
        if ref.tag and not ref.digest:
            img.tags = [ref]
        img.repo_digests = [(ref.name, top)]
        with store.db.write() as c:
            if img.tags:
                row = c.execute("SELECT image_id FROM tags WHERE name = ?",
                                (str(ref),)).fetchone()
            else:
                row = c.execute("SELECT image_id FROM repo_digests WHERE repo = ? AND "
                                "digest = ?", (ref.name, top)).fetchone()
            changed = row is None or row["image_id"] != image_id
            record_image(store, img, set_tag=self.images.set_tag)
            # the registry's manifest wins: pushing this image back keeps its digests
            c.execute("UPDATE images SET manifest_digest = ? WHERE id = ?", (mdigest, image_id))
            sources.remember(c, self.reg.domain, self.repo,
                             [image_id, *(d.digest for d in m.layers)])
        return image_id, changed
