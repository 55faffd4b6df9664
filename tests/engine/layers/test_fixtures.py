"""The shared real-world images: every layer's DiffID must match its config."""

from __future__ import annotations

import json
import os
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import pytest

from engine.layers import apply_layer, diff_id_of
from tests.conftest import FIXTURES, GLIBC, KANIKO, MUSL, SCRATCH


def _blob(t: tarfile.TarFile, digest: str) -> IO[bytes]:
    f = t.extractfile("blobs/sha256/" + digest.split(":", 1)[1])
    assert f is not None
    return f


def oci_layers(t: tarfile.TarFile) -> Iterator[tuple[IO[bytes], str]]:
    index = json.load(_blob_file(t, "index.json"))
    for desc in index["manifests"]:
        manifest = json.load(_blob(t, desc["digest"]))
        config = json.load(_blob(t, manifest["config"]["digest"]))
        assert len(manifest["layers"]) == len(config["rootfs"]["diff_ids"])
        for layer, diff_id in zip(manifest["layers"], config["rootfs"]["diff_ids"], strict=True):
            yield _blob(t, layer["digest"]), diff_id


def _blob_file(t: tarfile.TarFile, name: str) -> IO[bytes]:
    f = t.extractfile(name)
    assert f is not None
    return f


@pytest.mark.parametrize("path", [*SCRATCH.values(), GLIBC, MUSL], ids=lambda p: p.name)
def test_oci_layout_layers(tmp_path: Path, path: Path) -> None:
    lowers: list[str] = []
    with tarfile.open(path) as t:
        for i, (blob, diff_id) in enumerate(oci_layers(t)):
            dest = tmp_path / str(i)
            dest.mkdir()
            r = apply_layer(blob, str(dest), label=f"layer {diff_id[:19]}",
                            parents=lowers[::-1])
            assert r.diff_id == diff_id
            assert r.files > 0
            lowers.append(str(dest))
            assert diff_id_of(str(dest)).size == r.size


def test_busybox_contents(tmp_path: Path) -> None:
    with tarfile.open(GLIBC) as t:
        ((blob, _),) = list(oci_layers(t))
        r = apply_layer(blob, str(tmp_path), label="busybox")
    assert os.lstat(tmp_path / "bin" / "busybox").st_nlink > 300  # applets are hard links
    assert os.path.islink(tmp_path / "lib64")
    inodes = {}
    for d, _, files in os.walk(tmp_path):
        for f in files:
            st = os.lstat(os.path.join(d, f))
            if st.st_mode & 0o170000 == 0o100000:
                inodes[st.st_ino] = st.st_size
    assert r.size == sum(inodes.values())


def test_docker_archive_layers(tmp_path: Path) -> None:
    """kaniko writes "/" as the root entry and .wh. files with mode 0."""
    lowers: list[str] = []
    with tarfile.open(KANIKO) as t:
        (manifest,) = json.load(_blob_file(t, "manifest.json"))
        config = json.load(_blob_file(t, manifest["Config"]))
        for i, (name, diff_id) in enumerate(
                zip(manifest["Layers"], config["rootfs"]["diff_ids"], strict=True)):
            dest = tmp_path / str(i)
            dest.mkdir()
            r = apply_layer(_blob_file(t, name), str(dest), label=f"layer {name[:12]}",
                            parents=lowers[::-1])
            assert r.diff_id == diff_id
            lowers.append(str(dest))
    # layer 9 deletes /root/example: a whiteout device in overlay form
    st = os.lstat(Path(lowers[9]) / "root" / "example")
    assert st.st_rdev == 0 and (st.st_mode & 0o170000) == 0o020000


def test_fixtures_dir_exists() -> None:
    assert FIXTURES.is_dir()
