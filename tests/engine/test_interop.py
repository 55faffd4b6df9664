"""What ``save`` writes is accepted by other tools: skopeo and umoci."""

from __future__ import annotations

import json
import subprocess
import tarfile
from pathlib import Path

import pytest

from tests.conftest import KANIKO, MUSL, dockyard, need_tool


def skopeo_inspect(transport: str) -> dict:
    r = subprocess.run([need_tool("skopeo"), "inspect", transport], capture_output=True)
    assert r.returncode == 0, r.stderr.decode()
    return json.loads(r.stdout)


def saved_layer_digests(path: Path) -> list[str]:
    with tarfile.open(path) as tar:
        index = json.load(tar.extractfile("index.json"))
        m = index["manifests"][0]["digest"].replace(":", "/")
        manifest = json.load(tar.extractfile(f"blobs/{m}"))
    return [d["digest"] for d in manifest["layers"]]


@pytest.mark.parametrize("src", [MUSL, KANIKO], ids=lambda p: p.name)
def test_skopeo_reads_both_formats(root, tmp_path, src: Path) -> None:
    out = dockyard(root, "load", "-i", str(src)).stdout.decode()
    tag = out.split("Loaded image: ")[1].strip()
    (info,) = json.loads(dockyard(root, "image", "inspect", tag).stdout)
    for fmt, transport in (("oci-archive", "oci-archive"), ("docker-archive", "docker-archive")):
        path = tmp_path / f"{fmt}.tar"
        dockyard(root, "save", "--format", fmt, "-o", str(path), tag)
        seen = skopeo_inspect(f"{transport}:{path}")
        assert seen["Architecture"] == info["Architecture"]
        if fmt == "oci-archive":
            assert seen["Layers"] == saved_layer_digests(path)
        else:  # skopeo reads a docker-archive's layers as uncompressed: DiffIDs
            assert seen["Layers"] == info["RootFS"]["Layers"]
    with tarfile.open(tmp_path / "oci-archive.tar") as tar:
        index = json.load(tar.extractfile("index.json"))
    digest = index["manifests"][0]["digest"]
    assert skopeo_inspect(f"oci-archive:{tmp_path / 'oci-archive.tar'}")["Digest"] == digest


def test_skopeo_written_archive_loads(root, tmp_path) -> None:
    dockyard(root, "load", "-i", str(MUSL))
    saved = tmp_path / "s.tar"
    dockyard(root, "save", "-o", str(saved), "busybox:1.37.0-musl")
    r = subprocess.run([need_tool("skopeo"), "copy", f"docker-archive:{saved}",
                        f"oci-archive:{tmp_path / 'copied.tar'}:copied:1"], capture_output=True)
    assert r.returncode == 0, r.stderr.decode()
    other = tmp_path / "other-root"
    out = dockyard(other, "load", "-i", str(tmp_path / "copied.tar")).stdout.decode()
    assert out == "Loaded image: copied:1\n"
    # skopeo rewrites the config when it converts formats, so compare the layers
    layers = ["image", "inspect", "-f", "{{json .RootFS.Layers}}"]
    assert dockyard(other, *layers, "copied:1").stdout == \
        dockyard(root, *layers, "busybox:1.37.0-musl").stdout


def test_umoci_unpacks_what_we_save(root, tmp_path) -> None:
    umoci = need_tool("umoci")
    dockyard(root, "load", "-i", str(MUSL))
    saved = tmp_path / "s.tar"
    dockyard(root, "save", "--format", "oci-archive", "-o", str(saved), "busybox:1.37.0-musl")
    layout = tmp_path / "layout"
    layout.mkdir()
    with tarfile.open(saved) as tar:
        tar.extractall(layout, filter="tar")
    bundle = tmp_path / "bundle"
    r = subprocess.run([umoci, "unpack", "--image", f"{layout}:1.37.0-musl", str(bundle)],
                       capture_output=True)
    assert r.returncode == 0, r.stderr.decode()
    assert (bundle / "rootfs" / "bin" / "busybox").is_file()
    assert json.loads((bundle / "config.json").read_text())["process"]["args"] == ["sh"]
