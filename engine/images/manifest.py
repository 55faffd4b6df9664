"""Manifests and indexes: OCI image spec v1 and Docker image manifest v2 schema 2.

A *manifest* names one image: a config blob plus an ordered list of layer
blobs.  An *index* (Docker: *manifest list*) names several manifests, one
per platform, and :func:`select_platform` picks one the way containerd
does.  Everything parsed here is untrusted input, so parsing is strict and
every error is one line naming the document (digest or file) and the field.
The builders emit JSON byte-for-byte as Go's encoding/json would (field
order, sorted map keys, ``<>&`` escaped), so our digests match other tools'.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import InvalidContent, NotFound
from .digest import digest_error
from .reference import Platform, normalize_platform, platform_vector

__all__ = [
    "LAYER_TYPES",
    "Descriptor",
    "Index",
    "Manifest",
    "build_index",
    "build_manifest",
    "parse_any",
    "parse_index",
    "parse_manifest",
    "select_platform",
]

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_LAYER_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"
OCI_LAYER_NONDIST = "application/vnd.oci.image.layer.nondistributable.v1.tar"
OCI_LAYER_NONDIST_GZIP = "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
OCI_LAYER_NONDIST_ZSTD = "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd"
OCI_EMPTY = "application/vnd.oci.empty.v1+json"

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar"
DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"
DOCKER_FOREIGN_LAYER = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
DOCKER_SCHEMA1 = "application/vnd.docker.distribution.manifest.v1+json"
DOCKER_SCHEMA1_SIGNED = "application/vnd.docker.distribution.manifest.v1+prettyjws"

ANNOTATION_REF_NAME = "org.opencontainers.image.ref.name"

MANIFEST_TYPES = frozenset({OCI_MANIFEST, DOCKER_MANIFEST})
INDEX_TYPES = frozenset({OCI_INDEX, DOCKER_MANIFEST_LIST})
CONFIG_TYPES = frozenset({OCI_CONFIG, DOCKER_CONFIG})
LAYER_TYPES = frozenset({
    OCI_LAYER, OCI_LAYER_GZIP, OCI_LAYER_ZSTD,
    OCI_LAYER_NONDIST, OCI_LAYER_NONDIST_GZIP, OCI_LAYER_NONDIST_ZSTD,
    DOCKER_LAYER, DOCKER_LAYER_GZIP, DOCKER_FOREIGN_LAYER,
})

# RFC 6838 media type, as the OCI schema validates it
_MEDIA_TYPE_RE = re.compile(
    r"[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}")


@dataclass(frozen=True)
class Descriptor:
    media_type: str
    digest: str
    size: int
    platform: Platform | None = None
    annotations: dict[str, str] = field(default_factory=dict)
    urls: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        # key order follows image-spec's Go struct, so re-serialising is stable
        out: dict[str, Any] = {"mediaType": self.media_type, "digest": self.digest,
                               "size": self.size}
        if self.urls:
            out["urls"] = list(self.urls)
        if self.annotations:
            out["annotations"] = dict(sorted(self.annotations.items()))
        if self.platform is not None:
            p: dict[str, str] = {"architecture": self.platform.architecture,
                                 "os": self.platform.os}
            if self.platform.variant:
                p["variant"] = self.platform.variant
            out["platform"] = p
        return out


@dataclass(frozen=True)
class Manifest:
    media_type: str
    config: Descriptor
    layers: tuple[Descriptor, ...]
    annotations: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Index:
    media_type: str
    manifests: tuple[Descriptor, ...]
    annotations: dict[str, str] = field(default_factory=dict)


# -- parsing ---------------------------------------------------------------

class _Doc:
    """Where we are in an untrusted document, for one-line error messages."""

    def __init__(self, kind: str, digest: str | None) -> None:
        self.prefix = f"{kind} {digest}" if digest else kind

    def fail(self, where: str, why: str) -> InvalidContent:
        return InvalidContent(f"{self.prefix}: {where}: {why}" if where else
                              f"{self.prefix}: {why}", document=self.prefix, field=where)


def _load(data: bytes, doc: _Doc) -> dict[str, Any]:
    try:
        obj = json.loads(data)
    except (ValueError, RecursionError) as err:  # UnicodeDecodeError is a ValueError
        raise doc.fail("", f"not valid JSON ({err})") from None
    if not isinstance(obj, dict):
        raise doc.fail("", "expected a JSON object")
    return obj


def _is_schema1(obj: Mapping[str, Any]) -> bool:
    return obj.get("schemaVersion") == 1 or obj.get("mediaType") in (
        DOCKER_SCHEMA1, DOCKER_SCHEMA1_SIGNED)


def _check_header(obj: Mapping[str, Any], doc: _Doc, allowed: frozenset[str]) -> str:
    if _is_schema1(obj):
        raise doc.fail("", "Docker image manifest schema 1 is no longer supported; "
                           "the image must be pushed again as OCI or schema 2")
    version = obj.get("schemaVersion")
    if type(version) is not int or version != 2:
        raise doc.fail("schemaVersion", f"must be 2, got {json.dumps(version)}")
    media = obj.get("mediaType", "")
    if media and media not in allowed:
        raise doc.fail("mediaType", f"unexpected media type {json.dumps(media)}")
    return media


def _string_map(value: Any, doc: _Doc, where: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise doc.fail(where, "must be an object of strings")
    return dict(value)


def _platform(value: Any, doc: _Doc, where: str) -> Platform | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise doc.fail(where, "must be an object")
    for key in ("architecture", "os"):
        if not isinstance(value.get(key), str) or not value[key]:
            raise doc.fail(f"{where}.{key}", "must be a non-empty string")
    variant = value.get("variant", "")
    if not isinstance(variant, str):
        raise doc.fail(f"{where}.variant", "must be a string")
    return Platform(value["os"], value["architecture"], variant)


def _descriptor(value: Any, doc: _Doc, where: str,
                media_types: frozenset[str] | None = None) -> Descriptor:
    if not isinstance(value, dict):
        raise doc.fail(where, "must be a descriptor object")
    media = value.get("mediaType")
    if not isinstance(media, str) or not _MEDIA_TYPE_RE.fullmatch(media):
        raise doc.fail(f"{where}.mediaType", f"invalid media type {json.dumps(media)}")
    if media_types is not None and media not in media_types:
        raise doc.fail(f"{where}.mediaType", f"unsupported media type {json.dumps(media)}")
    digest = value.get("digest")
    if not isinstance(digest, str) or digest_error(digest) is not None:
        shown = digest if isinstance(digest, str) else json.dumps(digest)
        raise doc.fail(f"{where}.digest", f'invalid digest "{shown}"')
    size = value.get("size")
    if type(size) is not int or size < 0:
        raise doc.fail(f"{where}.size", f"must be a non-negative integer, got {json.dumps(size)}")
    urls = value.get("urls") or []
    if not isinstance(urls, list) or not all(isinstance(u, str) for u in urls):
        raise doc.fail(f"{where}.urls", "must be a list of strings")
    return Descriptor(media, digest, size,
                      platform=_platform(value.get("platform"), doc, f"{where}.platform"),
                      annotations=_string_map(value.get("annotations"), doc,
                                              f"{where}.annotations"),
                      urls=tuple(urls))


def _manifest_from(obj: dict[str, Any], doc: _Doc) -> Manifest:
    media = _check_header(obj, doc, MANIFEST_TYPES)
    config = _descriptor(obj.get("config"), doc, "config")
    if config.media_type not in CONFIG_TYPES:
        raise doc.fail("config.mediaType",
                       f"{json.dumps(config.media_type)} is not a container image config")
    raw_layers = obj.get("layers")
    if not isinstance(raw_layers, list):
        raise doc.fail("layers", "must be a list")
    layers = tuple(_descriptor(x, doc, f"layers[{i}]", LAYER_TYPES)
                   for i, x in enumerate(raw_layers))
    # Docker schema 2 has no mediaType-less form; OCI allows omitting it
    return Manifest(media or OCI_MANIFEST, config, layers,
                    _string_map(obj.get("annotations"), doc, "annotations"))


def _index_from(obj: dict[str, Any], doc: _Doc) -> Index:
    media = _check_header(obj, doc, INDEX_TYPES)
    raw = obj.get("manifests")
    if not isinstance(raw, list):
        raise doc.fail("manifests", "must be a list")
    manifests = tuple(_descriptor(x, doc, f"manifests[{i}]") for i, x in enumerate(raw))
    return Index(media or OCI_INDEX, manifests,
                 _string_map(obj.get("annotations"), doc, "annotations"))


def parse_manifest(data: bytes, *, digest: str | None = None) -> Manifest:
    """Parse an image manifest; ``digest`` (or a file name) only labels errors."""
    doc = _Doc("manifest", digest)
    return _manifest_from(_load(data, doc), doc)


def parse_index(data: bytes, *, digest: str | None = None) -> Index:
    doc = _Doc("index", digest)
    return _index_from(_load(data, doc), doc)


def parse_any(data: bytes, *, digest: str | None = None) -> Manifest | Index:
    """A manifest or an index, by ``mediaType`` or, when absent, by shape."""
    doc = _Doc("manifest", digest)
    obj = _load(data, doc)
    media = obj.get("mediaType")
    if media in INDEX_TYPES:
        return _index_from(obj, _Doc("index", digest))
    if media in MANIFEST_TYPES or _is_schema1(obj):
        return _manifest_from(obj, doc)
    if media is not None:
        raise doc.fail("mediaType", f"not a manifest or index: {json.dumps(media)}")
    has_index, has_manifest = "manifests" in obj, "layers" in obj or "config" in obj
    if has_index and not has_manifest:
        return _index_from(obj, _Doc("index", digest))
    if has_manifest and not has_index:
        return _manifest_from(obj, doc)
    raise doc.fail("", "cannot tell manifest from index: no mediaType and "
                       + ("both" if has_index else "neither") + " of manifests/layers")


# -- platform selection ----------------------------------------------------

def select_platform(index: Index, want: Platform) -> Descriptor:
    """The entry containerd's ``platforms.Only(want)`` ranks best.

    Entries without a platform are skipped (attestations, artifacts), except
    that a one-entry index with no platform is taken as it is.
    """
    entries = [(normalize_platform(d.platform), d) for d in index.manifests
               if d.platform is not None]
    for candidate in platform_vector(want):
        for plat, desc in entries:
            if plat == candidate:
                return desc
    if len(index.manifests) == 1 and index.manifests[0].platform is None:
        return index.manifests[0]
    raise NotFound(f"no matching manifest for {want} in the manifest list entries",
                   platform=str(want))


# -- building ----------------------------------------------------------------

def _go_json(obj: Any) -> bytes:
    """Compact JSON as Go's encoding/json writes it (HTML-safe escapes, raw UTF-8)."""
    text = json.dumps(obj, separators=(",", ":"), ensure_ascii=False)
    for ch, esc in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"),
                    ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(ch, esc)
    return text.encode()


def build_manifest(config: Descriptor, layers: Sequence[Descriptor], *, oci: bool = True,
                   annotations: Mapping[str, str] | None = None) -> bytes:
    obj: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST if oci else DOCKER_MANIFEST,
        "config": config.to_json(),
        "layers": [d.to_json() for d in layers],
    }
    if annotations:
        obj["annotations"] = dict(sorted(annotations.items()))
    return _go_json(obj)


def build_index(manifests: Sequence[Descriptor], annotations: Mapping[str, str] | None = None,
                *, oci: bool = True) -> bytes:
    obj: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": OCI_INDEX if oci else DOCKER_MANIFEST_LIST,
        "manifests": [d.to_json() for d in manifests],
    }
    if annotations:
        obj["annotations"] = dict(sorted(annotations.items()))
    return _go_json(obj)
