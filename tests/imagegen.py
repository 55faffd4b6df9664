"""Generate real image archives (OCI layout or docker-archive) for tests and
benchmarks: N layers of files with chosen sizes, gzip or uncompressed."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import random
import tarfile
from collections.abc import Iterable
from pathlib import Path


def layer_tar(files: Iterable[tuple[str, bytes]]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        dirs: set[str] = set()
        for name, data in files:
            parts = name.split("/")[:-1]
            for i in range(len(parts)):
                d = "/".join(parts[: i + 1])
                if d not in dirs:
                    dirs.add(d)
                    info = tarfile.TarInfo(d)
                    info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, 1_700_000_000
                    tar.addfile(info)
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), 0o644, 1_700_000_000
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def write_image(out: Path, layers: list[bytes], *, tag: str = "gen:latest",
                compress: bool = True, fmt: str = "oci") -> str:
    """Write an archive of an image made of ``layers`` (uncompressed tars);
    return the image ID."""
    blobs: dict[str, bytes] = {}
    descs = []
    for raw in layers:
        blob = gzip.compress(raw, compresslevel=1, mtime=0) if compress else raw
        blobs[_digest(blob)] = blob
        descs.append({"mediaType": "application/vnd.oci.image.layer.v1.tar" +
                      ("+gzip" if compress else ""), "digest": _digest(blob),
                      "size": len(blob)})
    config = json.dumps({
        "architecture": "amd64", "os": "linux", "created": "2024-01-01T00:00:00Z",
        "config": {"Cmd": ["sh"]},
        "rootfs": {"type": "layers", "diff_ids": [_digest(r) for r in layers]},
        "history": [{"created": "2024-01-01T00:00:00Z", "created_by": f"layer {i}"}
                    for i in range(len(layers))],
    }).encode()
    blobs[_digest(config)] = config
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": _digest(config), "size": len(config)},
        "layers": descs}).encode()
    blobs[_digest(manifest)] = manifest
    index = json.dumps({"schemaVersion": 2, "manifests": [{
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "digest": _digest(manifest), "size": len(manifest),
        "annotations": {"io.containerd.image.name": tag,
                        "org.opencontainers.image.ref.name": tag.rpartition(":")[2]}}]})
    with tarfile.open(out, "w") as tar:
        def add(name: str, data: bytes) -> None:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))

        add("oci-layout", b'{"imageLayoutVersion":"1.0.0"}')
        add("index.json", index.encode())
        if fmt == "docker":
            add("manifest.json", json.dumps([{
                "Config": "blobs/sha256/" + _digest(config)[7:], "RepoTags": [tag],
                "Layers": ["blobs/sha256/" + d["digest"][7:] for d in descs]}]).encode())
        for digest, data in blobs.items():
            add("blobs/sha256/" + digest[7:], data)
    return _digest(config)


def random_layers(n_layers: int, files_per_layer: int, file_size: int,
                  seed: int = 0) -> list[bytes]:
    rng = random.Random(seed)
    layers = []
    for i in range(n_layers):
        files = []
        for j in range(files_per_layer):
            size = max(0, int(rng.expovariate(1 / file_size))) if file_size else 0
            files.append((f"layer{i}/d{j % 50}/f{j}", os.urandom(size) if size else b""))
        layers.append(layer_tar(files))
    return layers
