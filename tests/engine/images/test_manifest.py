"""Manifests and indexes: the real busybox OCI layout, strict parsing, platform choice."""

from __future__ import annotations

import hashlib
import json
import tarfile
from pathlib import Path
from typing import Any

import pytest

from engine.errors import InvalidContent, NotFound
from engine.images import manifest as mf
from engine.images.reference import Platform, parse_platform

FIXTURE = Path("/work/shared/fixtures/images/busybox-1.37.0-musl-amd64-oci.tar")
MANIFEST_DIGEST = "sha256:29989570aeecad61a019f684218ea74d4b8c1c74f9e0abeb34ca926b81174ee1"
CONFIG_DIGEST = "sha256:cafb65f54bc46b59c4915955dc3c1e89e0a4ceab9f42a998e58a173f191d04ff"
D1, D2, D3 = ("sha256:" + c * 64 for c in "123")


def _layout() -> dict[str, bytes]:
    with tarfile.open(FIXTURE) as tar:
        return {m.name: tar.extractfile(m).read()  # type: ignore[union-attr]
                for m in tar.getmembers() if m.isfile()}


def _blob(files: dict[str, bytes], digest: str) -> bytes:
    data = files["blobs/" + digest.replace(":", "/")]
    assert "sha256:" + hashlib.sha256(data).hexdigest() == digest  # content matches its name
    return data


def test_busybox_layout() -> None:
    files = _layout()
    index = mf.parse_index(files["index.json"], digest="index.json")
    assert index.media_type == mf.OCI_INDEX
    [desc] = index.manifests
    assert desc.digest == MANIFEST_DIGEST
    assert desc.platform == Platform("linux", "amd64")
    assert desc.annotations[mf.ANNOTATION_REF_NAME] == "busybox:1.37.0-musl"
    assert mf.select_platform(index, parse_platform("linux/amd64")) is desc

    data = _blob(files, desc.digest)
    assert len(data) == desc.size
    manifest = mf.parse_manifest(data, digest=desc.digest)
    assert manifest.media_type == mf.OCI_MANIFEST
    assert manifest.config.digest == CONFIG_DIGEST
    assert len(_blob(files, manifest.config.digest)) == manifest.config.size
    [layer] = manifest.layers
    assert layer.media_type == mf.OCI_LAYER_GZIP
    assert len(_blob(files, layer.digest)) == layer.size
    assert manifest.annotations["org.opencontainers.image.version"] == "1.37.0-musl"
    assert mf.parse_any(data) == manifest
    assert mf.parse_any(files["index.json"]) == index

    # rebuilding from the parsed form gives the same document (modulo Go's compact layout)
    rebuilt = mf.build_manifest(manifest.config, manifest.layers,
                                annotations=manifest.annotations)
    assert json.loads(rebuilt) == json.loads(data)


def _manifest(**overrides: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": mf.OCI_MANIFEST,
        "config": {"mediaType": mf.OCI_CONFIG, "digest": D1, "size": 10},
        "layers": [{"mediaType": mf.OCI_LAYER_GZIP, "digest": D2, "size": 20},
                   {"mediaType": mf.DOCKER_LAYER_GZIP, "digest": D3, "size": 0},
                   {"mediaType": mf.OCI_LAYER_ZSTD, "digest": D2, "size": 5}],
    }
    doc.update(overrides)
    return doc


def _with_layer(i: int, **fields: Any) -> dict[str, Any]:
    doc = _manifest()
    doc["layers"][i] = {**doc["layers"][i], **fields}
    return doc


BAD_MANIFESTS = [
    (_with_layer(2, digest="xyz"), 'layers[2].digest: invalid digest "xyz"'),
    (_with_layer(0, digest="sha256:" + "A" * 64), "layers[0].digest: invalid digest"),
    (_with_layer(1, size=-1), "layers[1].size: must be a non-negative integer"),
    (_with_layer(1, size="20"), "layers[1].size: must be a non-negative integer"),
    (_with_layer(1, size=True), "layers[1].size: must be a non-negative integer"),
    (_with_layer(0, mediaType="application/x-unknown"),
     'layers[0].mediaType: unsupported media type "application/x-unknown"'),
    (_with_layer(0, annotations={"a": 1}), "layers[0].annotations: must be an object of strings"),
    (_manifest(schemaVersion=3), "schemaVersion: must be 2"),
    (_manifest(schemaVersion="2"), "schemaVersion: must be 2"),
    (_manifest(mediaType=mf.OCI_INDEX), "mediaType: unexpected media type"),
    (_manifest(layers=None), "layers: must be a list"),
    (_manifest(config=None), "config: must be a descriptor object"),
    (_manifest(config={"mediaType": "application/vnd.cncf.helm.config.v1+json", "digest": D1,
                       "size": 1}), "config.mediaType: "),
    ({"schemaVersion": 1, "name": "x", "fsLayers": []}, "schema 1 is no longer supported"),
    (_manifest(mediaType=mf.DOCKER_SCHEMA1_SIGNED), "schema 1 is no longer supported"),
    ([], "expected a JSON object"),
]


@pytest.mark.parametrize(("doc", "message"), BAD_MANIFESTS)
def test_bad_manifest(doc: Any, message: str) -> None:
    with pytest.raises(InvalidContent) as err:
        mf.parse_manifest(json.dumps(doc).encode(), digest=D1)
    text = str(err.value)
    assert text.startswith(f"manifest {D1}: ") and message in text
    assert "\n" not in text


def test_bad_json_is_one_line() -> None:
    with pytest.raises(InvalidContent, match=r"^manifest: not valid JSON") as err:
        mf.parse_manifest(b"{\n\"schemaVersion\": 2,\n")
    assert "\n" not in str(err.value)
    with pytest.raises(InvalidContent, match="not valid JSON"):
        mf.parse_manifest(b"\xff\xfe")


def test_media_type_may_be_omitted() -> None:
    doc = _manifest()
    del doc["mediaType"]
    data = json.dumps(doc).encode()
    assert mf.parse_manifest(data).media_type == mf.OCI_MANIFEST
    assert isinstance(mf.parse_any(data), mf.Manifest)
    index = {"schemaVersion": 2, "manifests": [doc["config"] | {"mediaType": mf.OCI_MANIFEST}]}
    assert isinstance(mf.parse_any(json.dumps(index).encode()), mf.Index)
    both = {**doc, "manifests": []}
    with pytest.raises(InvalidContent, match="cannot tell manifest from index"):
        mf.parse_any(json.dumps(both).encode())


def _entry(digest: str, plat: Platform | None) -> mf.Descriptor:
    return mf.Descriptor(mf.OCI_MANIFEST, digest, 100, platform=plat)


def _index(*entries: mf.Descriptor) -> mf.Index:
    return mf.parse_index(mf.build_index(entries))


ARM64 = _entry(D1, Platform("linux", "arm64", "v8"))
AMD64 = _entry(D2, Platform("linux", "amd64"))
ATTEST = _entry(D3, Platform("unknown", "unknown"))
ARMV6 = _entry(D3, Platform("linux", "arm", "v6"))
AARCH64 = _entry(D1, Platform("linux", "aarch64"))


@pytest.mark.parametrize(("entries", "want", "expected"), [
    ((ARM64, AMD64, ATTEST), "linux/amd64", AMD64),
    ((ARM64, AMD64, ATTEST), "linux/arm64", ARM64),  # arm64/v8 is arm64
    ((AMD64, ARM64), "linux/arm64/v8", ARM64),
    ((ARMV6, AMD64), "linux/arm/v7", ARMV6),  # v7 runs v6
    ((AARCH64,), "linux/arm64", AARCH64),  # compared after normalisation
    ((_entry(D1, None),), "linux/amd64", _entry(D1, None)),  # lone entry without platform
])
def test_select_platform(entries: tuple[mf.Descriptor, ...], want: str,
                         expected: mf.Descriptor) -> None:
    assert mf.select_platform(_index(*entries), parse_platform(want)) == expected


def test_select_platform_prefers_exact_variant() -> None:
    v2 = _entry(D1, Platform("linux", "amd64", "v2"))
    v1 = _entry(D2, Platform("linux", "amd64"))
    assert mf.select_platform(_index(v1, v2), parse_platform("linux/amd64/v2")) == v2
    assert mf.select_platform(_index(v2, v1), parse_platform("linux/amd64")) == v1


@pytest.mark.parametrize("entries", [(ARM64, ATTEST), (_entry(D1, None), _entry(D2, None)), ()])
def test_select_platform_none(entries: tuple[mf.Descriptor, ...]) -> None:
    with pytest.raises(NotFound) as err:
        mf.select_platform(_index(*entries), parse_platform("linux/amd64"))
    assert str(err.value) == "no matching manifest for linux/amd64 in the manifest list entries"


def test_build_manifest_is_canonical() -> None:
    config = mf.Descriptor(mf.OCI_CONFIG, D1, 2)
    layer = mf.Descriptor(mf.OCI_LAYER_GZIP, D2, 3, annotations={"z": "1", "a": "<&>"})
    data = mf.build_manifest(config, [layer], annotations={"k": "v"})
    assert data == (
        '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",'
        f'"config":{{"mediaType":"{mf.OCI_CONFIG}","digest":"{D1}","size":2}},'
        f'"layers":[{{"mediaType":"{mf.OCI_LAYER_GZIP}","digest":"{D2}","size":3,'
        '"annotations":{"a":"\\u003c\\u0026\\u003e","z":"1"}}],'
        '"annotations":{"k":"v"}}').encode()
    parsed = mf.parse_manifest(data)
    assert parsed.layers == (layer,) and parsed.config == config
    docker = mf.parse_manifest(mf.build_manifest(config, [], oci=False))
    assert docker.media_type == mf.DOCKER_MANIFEST and docker.layers == ()


def test_build_index_round_trip() -> None:
    entries = (ARM64, AMD64)
    index = mf.parse_index(mf.build_index(entries, {"a": "b"}))
    assert index.manifests == entries and index.annotations == {"a": "b"}
    assert json.loads(mf.build_index(entries))["manifests"][0]["platform"] == {
        "architecture": "arm64", "os": "linux", "variant": "v8"}
    bad = json.loads(mf.build_index(entries))
    bad["manifests"][1]["platform"] = {"os": "linux"}
    with pytest.raises(InvalidContent, match=r"^index x: manifests\[1\]\.platform\.architecture"):
        mf.parse_index(json.dumps(bad).encode(), digest="x")


def test_layer_types() -> None:
    assert {mf.OCI_LAYER, mf.OCI_LAYER_GZIP, mf.OCI_LAYER_ZSTD, mf.OCI_LAYER_NONDIST,
            mf.OCI_LAYER_NONDIST_GZIP, mf.OCI_LAYER_NONDIST_ZSTD, mf.DOCKER_LAYER_GZIP,
            mf.DOCKER_FOREIGN_LAYER} <= mf.LAYER_TYPES
    assert mf.OCI_CONFIG not in mf.LAYER_TYPES
