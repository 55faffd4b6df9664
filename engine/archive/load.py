"""``load``: docker-archive and OCI-layout tars (plain, gzip or zstd) → images.

One streaming pass over the outer tar: small JSON members are kept in
memory, everything else is ingested into the blob store (verified against
its ``blobs/<alg>/<hex>`` name when it has one).  Then the archive's index
(``manifest.json`` or ``index.json``) is resolved, layers are unpacked and
all images are recorded in one transaction.  On any error every blob and
layer this load added is removed again, so the store is as it was.
"""

from __future__ import annotations

import contextlib
import functools
import json
import posixpath
import tarfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import BinaryIO, cast

from ..errors import Cancelled, EngineError, InvalidContent, InvalidReference
from ..images import manifest as mf
from ..images.config import ImageConfig, parse_config
from ..images.digest import sha256_digest
from ..images.reference import Platform, Reference, default_platform, parse
from ..images.store import ImageStore
from ..images.unpack import NewImage, Unpacker, layer_size, record_image
from ..layers.compression import detect, open_uncompressed
from ..progress import ProgressFn, report
from ..snapshots import OverlaySnapshotter
from ..store import Lease, Store

SMALL = 1 << 20  # members up to this size that look like JSON stay in memory


@dataclass
class Staged:
    """What one pass over the archive found."""

    small: dict[str, bytes] = field(default_factory=dict)  # path → bytes
    blobs: dict[str, tuple[str, int]] = field(default_factory=dict)  # path → (digest, size)
    links: dict[str, str] = field(default_factory=dict)  # symlink/hardlink path → target
    added: list[str] = field(default_factory=list)  # blob digests new to the store

    def resolve(self, path: str) -> str:
        path = posixpath.normpath(path.lstrip("/"))
        for _ in range(16):
            if path not in self.links:
                return path
            path = self.links[path]
        return path


@dataclass(frozen=True)
class Loaded:
    id: str
    tags: tuple[str, ...]  # familiar


class Loader:
    def __init__(self, store: Store, snapshots: OverlaySnapshotter, images: ImageStore,
                 lease: Lease, *, label: str, platform: Platform | None = None,
                 progress: ProgressFn | None = None, cancel: threading.Event | None = None):
        self.store = store
        self.images = images
        self.lease = lease
        self.label = label
        self.platform = platform or default_platform()
        self.progress = progress
        self.cancel = cancel
        self.unpacker = Unpacker(store, snapshots, lease)
        self.staged = Staged()
        self.layer_paths: dict[str, list[tuple[str, str]]] = {}  # config digest → (path, type)

    # -- pass 1: stage -----------------------------------------------------
    def stage(self, src: BinaryIO) -> None:
        stream = open_uncompressed(src)
        try:
            with tarfile.open(fileobj=stream, mode="r|") as tar:
                for member in tar:
                    self._stage_member(tar, member)
        except (tarfile.TarError, EOFError, OSError) as e:
            raise InvalidContent(f"{self.label}: not a valid image archive: {e}") from None

    def _stage_member(self, tar: tarfile.TarFile, m: tarfile.TarInfo) -> None:
        if self.cancel is not None and self.cancel.is_set():
            raise Cancelled(f"{self.label}: cancelled")
        name = posixpath.normpath(m.name.lstrip("/"))
        if m.issym():
            self.staged.links[name] = posixpath.normpath(
                posixpath.join(posixpath.dirname(name), m.linkname))
            return
        if m.islnk():
            self.staged.links[name] = posixpath.normpath(m.linkname.lstrip("/"))
            return
        if not m.isfile():
            return
        f = cast(BinaryIO, tar.extractfile(m))
        parts = name.split("/")
        expected = None
        if len(parts) == 3 and parts[0] == "blobs":
            expected = f"{parts[1]}:{parts[2]}"
        if m.size <= SMALL and (expected is None or m.size < 64 << 10):
            data = f.read()
            if len(data) != m.size:
                raise InvalidContent(f"{self.label}: {name}: truncated")
            self.staged.small[name] = data
            if expected is not None and sha256_digest(data) != expected:
                raise InvalidContent(f"{self.label}: {name}: content digest "
                                     f"{sha256_digest(data)} does not match its name")
            return
        existed = expected is not None and self.store.blobs.exists(expected)
        report(self.progress, name, "Reading", 0, m.size)
        digest, size = self.store.blobs.ingest(
            f, expected=expected, label=f"{self.label}: {name}", cancel=self.cancel,
            before_rename=lambda d: self.lease.add("blob", d))
        if size != m.size:
            raise InvalidContent(f"{self.label}: {name}: truncated")
        if not existed and digest not in self.staged.added:
            self.staged.added.append(digest)
        self.staged.blobs[name] = (digest, size)

    def bytes_of(self, path: str) -> bytes:
        path = self.staged.resolve(path)
        if path in self.staged.small:
            return self.staged.small[path]
        if path in self.staged.blobs:
            return self.store.blobs.read(self.staged.blobs[path][0])
        raise InvalidContent(f"{self.label}: {path}: missing from the archive")

    @contextlib.contextmanager
    def open_path(self, path: str) -> Iterator[BinaryIO]:
        path = self.staged.resolve(path)
        if path in self.staged.blobs:
            with self.store.blobs.open(self.staged.blobs[path][0]) as f:
                yield f
        elif path in self.staged.small:
            import io

            yield io.BytesIO(self.staged.small[path])
        else:
            raise InvalidContent(f"{self.label}: {path}: missing from the archive")

    def _open_nth(self, paths: list[str], n: int) -> contextlib.AbstractContextManager[BinaryIO]:
        return self.open_path(paths[n])

    def ensure_blob(self, data: bytes, media_type: str) -> tuple[str, int]:
        digest = sha256_digest(data)
        if not self.store.blobs.exists(digest):
            self.store.blobs.ingest_bytes(data, before_rename=lambda d: self.lease.add("blob", d))
            self.staged.added.append(digest)
        return digest, len(data)

    # -- pass 2: resolve ---------------------------------------------------
    def plan(self) -> list[NewImage]:
        s = self.staged
        if "manifest.json" in s.small:
            return self._plan_docker()
        if "index.json" in s.small:
            if s.small.get("oci-layout") is None:
                raise InvalidContent(f"{self.label}: index.json without oci-layout")
            return self._plan_oci()
        raise InvalidContent(f"{self.label}: neither manifest.json nor index.json found: "
                             "not a docker-archive or OCI layout")

    def _json(self, path: str):
        try:
            return json.loads(self.bytes_of(path))
        except (ValueError, UnicodeDecodeError) as e:
            raise InvalidContent(f"{self.label}: {path}: invalid JSON: {e}") from None

    def _plan_docker(self) -> list[NewImage]:
        entries = self._json("manifest.json")
        if not isinstance(entries, list) or not entries:
            raise InvalidContent(f"{self.label}: manifest.json: expected a non-empty list")
        oci_manifests = self._oci_manifests_by_config() if "index.json" in self.staged.small else {}
        out = []
        for n, e in enumerate(entries):
            where = f"{self.label}: manifest.json[{n}]"
            if not isinstance(e, dict) or not isinstance(e.get("Config"), str) \
                    or not isinstance(e.get("Layers"), list):
                raise InvalidContent(f"{where}: needs Config and Layers")
            cfg_bytes = self.bytes_of(e["Config"])
            cfg_digest = sha256_digest(cfg_bytes)
            named = posixpath.basename(e["Config"]).removesuffix(".json").removeprefix("sha256:")
            if len(named) == 64 and named != cfg_digest.removeprefix("sha256:"):
                raise InvalidContent(f"{where}: config {e['Config']} has digest {cfg_digest}")
            cfg = parse_config(cfg_bytes, digest=cfg_digest)
            layers = []
            for path in e["Layers"]:
                if not isinstance(path, str):
                    raise InvalidContent(f"{where}: Layers must be file names")
                with self.open_path(path) as f:
                    kind = detect(f.read(4))
                media = mf.DOCKER_LAYER_GZIP if kind == "gzip" else (
                    mf.OCI_LAYER_ZSTD if kind == "zstd" else mf.DOCKER_LAYER)
                layers.append((path, media))
            tags = []
            for t in e.get("RepoTags") or []:
                tags.append(self._tag(t, where))
            manifest_digest, manifest_bytes = oci_manifests.get(cfg_digest, (None, None))
            out.append(self._image(cfg, cfg_bytes, cfg_digest, layers, tags, manifest_digest,
                                   where, manifest_bytes=manifest_bytes))
        return out

    def _tag(self, t: object, where: str) -> Reference:
        try:
            if not isinstance(t, str):
                raise InvalidReference("not a string")
            ref = parse(t)
        except InvalidReference as err:
            raise InvalidContent(f"{where}: invalid tag {t!r}: {err}") from None
        return ref.tagged_or_latest()

    def _oci_manifests_by_config(self) -> dict[str, tuple[str, bytes]]:
        """config digest → (manifest digest, bytes), from an index.json beside
        manifest.json (as Docker ≥ 25 writes), so a round trip keeps the digest."""
        out: dict[str, tuple[str, bytes]] = {}
        try:
            index = mf.parse_index(self.bytes_of("index.json"))
        except EngineError:
            return out
        for d in index.manifests:
            path = f"blobs/{d.digest.replace(':', '/')}"
            try:
                data = self.bytes_of(path)
                m = mf.parse_manifest(data, digest=d.digest)
            except EngineError:
                continue
            if sha256_digest(data) == d.digest:
                out[m.config.digest] = (d.digest, data)
        return out

    def _plan_oci(self) -> list[NewImage]:
        index = mf.parse_index(self.bytes_of("index.json"), digest="index.json")
        out = []
        for n, desc in enumerate(index.manifests):
            where = f"{self.label}: index.json manifests[{n}]"
            ref_name = desc.annotations.get("io.containerd.image.name") or \
                desc.annotations.get(mf.ANNOTATION_REF_NAME, "")
            manifest_desc = desc
            if desc.media_type in (mf.OCI_INDEX, mf.DOCKER_MANIFEST_LIST):
                sub = mf.parse_index(self._blob_bytes(desc, where), digest=desc.digest)
                manifest_desc = mf.select_platform(sub, self.platform)
            data = self._blob_bytes(manifest_desc, where)
            m = mf.parse_manifest(data, digest=manifest_desc.digest)
            cfg_bytes = self._blob_bytes(m.config, where)
            cfg = parse_config(cfg_bytes, digest=m.config.digest)
            layers = [(f"blobs/{d.digest.replace(':', '/')}", d.media_type) for d in m.layers]
            for (path, _), d in zip(layers, m.layers, strict=True):
                got = self.staged.blobs.get(self.staged.resolve(path))
                if got is None and self.staged.resolve(path) not in self.staged.small:
                    raise InvalidContent(f"{where}: layer {d.digest} missing from the archive")
            tags = []
            if ref_name and (":" in ref_name or "/" in ref_name or "@" in ref_name):
                tags.append(self._tag(ref_name, where))
            out.append(self._image(cfg, cfg_bytes, m.config.digest, layers, tags,
                                   manifest_desc.digest, where, manifest_bytes=data))
        return out

    def _blob_bytes(self, desc: mf.Descriptor, where: str) -> bytes:
        data = self.bytes_of(f"blobs/{desc.digest.replace(':', '/')}")
        if sha256_digest(data) != desc.digest or len(data) != desc.size:
            raise InvalidContent(f"{where}: blob {desc.digest} does not match its descriptor")
        return data

    def _image(self, cfg: ImageConfig, cfg_bytes: bytes, cfg_digest: str,
               layers: list[tuple[str, str]], tags: list[Reference],
               manifest_digest: str | None, where: str,
               manifest_bytes: bytes | None = None) -> NewImage:
        if len(layers) != len(cfg.diff_ids):
            raise InvalidContent(f"{where}: {len(layers)} layers but the config lists "
                                 f"{len(cfg.diff_ids)} diff_ids")
        img = NewImage(config_digest=cfg_digest, diff_ids=list(cfg.diff_ids),
                       created=cfg.created, tags=tags, manifest_digest=manifest_digest)
        if manifest_digest:  # as containerd-backed Docker: name@manifest-digest resolves
            img.repo_digests = [(t.name, manifest_digest) for t in tags]
        img.blobs[cfg_digest] = self.ensure_blob(cfg_bytes, "")[1], mf.OCI_CONFIG
        if manifest_bytes is not None and manifest_digest:
            img.blobs[manifest_digest] = (self.ensure_blob(manifest_bytes, "")[1],
                                          mf.OCI_MANIFEST)
        self.layer_paths[cfg_digest] = layers
        for (path, media), diff in zip(layers, cfg.diff_ids, strict=True):
            path = self.staged.resolve(path)
            if path in self.staged.small:  # tiny layer: give it a blob too
                digest, size = self.ensure_blob(self.staged.small[path], media)
                self.staged.blobs[path] = (digest, size)
            digest, size = self.staged.blobs[path]
            img.blobs[digest] = (size, media)
            img.layer_blobs.append((diff, digest, media))
        return img

    # -- pass 3: unpack and record -----------------------------------------
    def commit(self, plans: list[NewImage]) -> list[Loaded]:
        for img in plans:
            paths = [p for p, _ in self.layer_paths[img.config_digest]]
            img.chains = self.unpacker.unpack(
                img.diff_ids, functools.partial(self._open_nth, paths),
                label=f"{self.label}: ", progress=self.progress, cancel=self.cancel)
            img.size = layer_size(self.store, img.chains)
        with self.store.db.write():
            for img in plans:
                record_image(self.store, img, set_tag=self.images.set_tag)
        return [Loaded(img.config_digest, tuple(t.familiar() for t in img.tags))
                for img in plans]

    def rollback(self) -> None:
        self.unpacker.rollback()
        with self.store.db.write() as c:
            for digest in self.staged.added:
                if c.execute("SELECT 1 FROM blobs WHERE digest = ?", (digest,)).fetchone():
                    continue
                self.store.blobs.delete(digest)


def load(store: Store, snapshots: OverlaySnapshotter, images: ImageStore, src: BinaryIO, *,
         label: str, platform: Platform | None = None, progress: ProgressFn | None = None,
         cancel: threading.Event | None = None) -> list[Loaded]:
    with store.leases.hold() as lease:
        loader = Loader(store, snapshots, images, lease, label=label, platform=platform,
                        progress=progress, cancel=cancel)
        try:
            loader.stage(src)
            plans = loader.plan()
            loaded = loader.commit(plans)
        except BaseException:
            loader.rollback()
            raise
    for item in loaded:
        report(progress, item.id, "Loaded image", 0, 0)
    return loaded
