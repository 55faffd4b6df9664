"""Push and pull against Debian's docker-registry, checked with skopeo."""

from __future__ import annotations

import io
import json
import re
import tarfile
from pathlib import Path

import pytest

from engine.layers import write_layer
from engine.registry import push
from tests.conftest import KANIKO, MUSL, MUSL_ID

from .conftest import cli, skopeo


def inspect(root: Path, ref: str) -> dict:
    return json.loads(cli(root, "image", "inspect", ref).stdout)[0]


def load_and_tag(root: Path, archive: Path, target: str) -> str:
    out = cli(root, "load", "-i", str(archive)).stdout.decode()
    tag = out.split("Loaded image: ")[1].strip()
    cli(root, "tag", tag, target)
    return inspect(root, target)["Id"]


@pytest.mark.parametrize("archive", [MUSL, KANIKO], ids=lambda p: p.name)
def test_push_inspect_remove_pull_back(root, tmp_path, registry, archive: Path) -> None:
    ref = f"{registry.host}/test/busybox:v1"
    image_id = load_and_tag(root, archive, ref)
    out = cli(root, "push", ref).stdout.decode().splitlines()
    assert out[0] == f"The push refers to repository [{registry.host}/test/busybox]"
    assert any(line.endswith(": Pushed") for line in out)
    m = re.fullmatch(r"v1: digest: (sha256:[0-9a-f]{64}) size: (\d+)", out[-1])
    assert m, out
    digest = m.group(1)

    seen = json.loads(skopeo("inspect", "--tls-verify=false", f"docker://{ref}").stdout)
    assert seen["Digest"] == digest
    raw = skopeo("inspect", "--raw", "--tls-verify=false", f"docker://{ref}").stdout
    assert len(raw) == int(m.group(2))
    assert seen["Layers"] == [d["digest"] for d in json.loads(raw)["layers"]]
    assert f"{registry.host}/test/busybox@{digest}" in inspect(root, ref)["RepoDigests"]

    cli(root, "rmi", ref)
    cli(root, "rmi", image_id, check=False)  # the loaded tag, if it is still there
    assert cli(root, "images", "-q").stdout == b""
    out = cli(root, "pull", ref).stdout.decode().splitlines()
    assert out[0] == "v1: Pulling from test/busybox"
    assert out[-3:] == [f"Digest: {digest}",
                        f"Status: Downloaded newer image for {ref}", ref]
    assert any(line.endswith(": Pull complete") for line in out)
    info = inspect(root, ref)
    assert info["Id"] == image_id
    assert info["RepoDigests"] == [f"{registry.host}/test/busybox@{digest}"]

    # again: nothing to fetch, Docker's "up to date"
    again = cli(root, "pull", ref).stdout.decode().splitlines()
    assert again[-2] == f"Status: Image is up to date for {ref}"
    assert all("Pulling fs layer" not in line for line in again)
    assert any(line.endswith(": Already exists") for line in again)

    # pushing the pulled image back changes nothing: same digest, blobs exist
    back = cli(root, "push", ref).stdout.decode().splitlines()
    assert back[-1].startswith(f"v1: digest: {digest} ")
    assert any(line.endswith(": Layer already exists") for line in back)


def test_skopeo_push_dockyard_pull(root, registry) -> None:
    ref = f"{registry.host}/sk/busybox:1"
    skopeo("copy", "--dest-tls-verify=false", f"oci-archive:{MUSL}", f"docker://{ref}")
    digest = json.loads(skopeo("inspect", "--tls-verify=false", f"docker://{ref}").stdout)[
        "Digest"]
    cli(root, "pull", ref)
    info = inspect(root, ref)
    assert info["Id"] == MUSL_ID
    assert info["RepoDigests"] == [f"{registry.host}/sk/busybox@{digest}"]
    # by digest, into a fresh root
    other = root.parent / "other"
    out = cli(other, "pull", f"{registry.host}/sk/busybox@{digest}").stdout.decode()
    assert out.splitlines()[0] == f"{digest}: Pulling from sk/busybox"
    assert out.splitlines()[-1] == f"{registry.host}/sk/busybox@{digest}"
    assert inspect(other, f"{registry.host}/sk/busybox@{digest}")["Id"] == MUSL_ID
    assert json.loads(cli(other, "images", "--format", "json").stdout)["Tag"] == "<none>"


def test_pull_all_tags_and_unknown_tag(root, registry) -> None:
    repo = f"{registry.host}/many/busybox"
    image_id = load_and_tag(root, MUSL, f"{repo}:a")
    cli(root, "tag", f"{repo}:a", f"{repo}:b")
    out = cli(root, "push", "--all-tags", repo).stdout.decode()
    assert "a: digest: " in out and "b: digest: " in out
    other = root.parent / "other"
    out = cli(other, "pull", "-a", repo).stdout.decode().splitlines()
    assert out[-2:] == [f"Status: Downloaded newer image for {repo}", repo]
    tags = cli(other, "images", "--format", "{{.Tag}} {{.ID}}").stdout.decode().split("\n")
    assert sorted(t for t in tags if t) == [f"a {image_id[7:19]}", f"b {image_id[7:19]}"]

    r = cli(other, "pull", f"{repo}:nope", check=False)
    assert r.returncode == 1
    assert r.stderr.decode() == (f"Error: manifest for {repo}:nope not found: "
                                 "manifest unknown: manifest unknown\n")
    r = cli(other, "pull", "-a", f"{repo}:a", check=False)
    assert r.returncode != 0 and "can't be used with --all-tags" in r.stderr.decode()


def test_cross_repository_mount(root, registry) -> None:
    first = f"{registry.host}/team/one:1"
    load_and_tag(root, MUSL, first)
    cli(root, "push", first)
    second = f"{registry.host}/team/two:1"
    cli(root, "tag", first, second)
    out = cli(root, "push", second).stdout.decode()
    assert ": Mounted from team/one" in out
    mounts = [line for line in registry.access_log()
              if "POST /v2/team/two/blobs/uploads/?" in line and "mount=" in line]
    assert mounts and all('" 201 ' in line for line in mounts)

    # a pulled image remembers where its blobs came from, too
    other = root.parent / "other"
    cli(other, "pull", first)
    cli(other, "tag", first, f"{registry.host}/team/three:1")
    out = cli(other, "push", f"{registry.host}/team/three:1").stdout.decode()
    assert "Mounted from team/one" in out or "Mounted from team/two" in out


def test_push_compresses_a_local_layer_once(engine, root, tmp_path, registry) -> None:
    """An imported layer has no blob until it is pushed; then it keeps it."""
    tree = tmp_path / "tree"
    (tree / "etc").mkdir(parents=True)
    (tree / "etc" / "motd").write_text("hello from dockyard\n")
    (tree / "big").write_bytes(bytes(range(256)) * 400)
    buf = io.BytesIO()
    write_layer(str(tree), buf)  # the tar a committed layer would make: reproducible
    data = buf.getvalue()
    ref = f"{registry.host}/local/imported:1"
    image_id = engine.import_image(io.BytesIO(data), source="test", ref=ref)
    first = push(engine.store, engine.snapshots, engine.image_store, ref)
    second = push(engine.store, engine.snapshots, engine.image_store, ref)
    assert first[0].digest == second[0].digest
    other = tmp_path / "other"
    cli(other, "pull", ref)
    assert inspect(other, ref)["Id"] == image_id
    assert inspect(other, ref)["RootFS"]["Layers"] == [
        "sha256:" + __import__("hashlib").sha256(data).hexdigest()]


def test_chunked_upload(engine, tmp_path, registry) -> None:
    with open(MUSL, "rb") as f:
        engine.load(f, label="musl")
    ref = f"{registry.host}/chunked/busybox:1"
    engine.tag("busybox:1.37.0-musl", ref)
    (res,) = push(engine.store, engine.snapshots, engine.image_store, ref, chunk_size=64 << 10)
    patches = [line for line in registry.access_log() if '"PATCH /v2/chunked/busybox' in line]
    assert len(patches) > 10  # a ~900 kB layer in 64 kB chunks
    assert all('" 202 ' in line for line in patches)
    seen = json.loads(skopeo("inspect", "--tls-verify=false", f"docker://{ref}").stdout)
    assert seen["Digest"] == res.digest
    other = tmp_path / "other"
    cli(other, "pull", ref)
    assert inspect(other, ref)["Id"] == MUSL_ID


def test_push_errors(root, registry) -> None:
    r = cli(root, "push", f"{registry.host}/none/here:1", check=False)
    assert r.returncode == 1
    assert r.stderr.decode() == ("Error: An image does not exist locally with the tag: "
                                 f"{registry.host}/none/here\n")
    r = cli(root, "push", f"{registry.host}/x@sha256:" + "a" * 64, check=False)
    assert r.returncode != 0 and "cannot push a digest reference" in r.stderr.decode()


def test_saved_archive_of_pulled_image_keeps_digests(root, tmp_path, registry) -> None:
    ref = f"{registry.host}/keep/busybox:1"
    skopeo("copy", "--dest-tls-verify=false", f"oci-archive:{MUSL}", f"docker://{ref}")
    cli(root, "pull", ref)
    out = tmp_path / "saved.tar"
    cli(root, "save", "--format", "oci-archive", "-o", str(out), ref)
    with tarfile.open(out) as tar:
        index = json.load(tar.extractfile("index.json"))  # type: ignore[arg-type]
    digest = json.loads(skopeo("inspect", "--tls-verify=false", f"docker://{ref}").stdout)[
        "Digest"]
    assert index["manifests"][0]["digest"] == digest


def test_image_subcommands_and_default_tag(root, registry) -> None:
    repo = f"{registry.host}/alias/busybox"
    load_and_tag(root, MUSL, repo)  # no tag: latest
    out = cli(root, "image", "push", repo).stdout.decode().splitlines()
    assert out[0] == "Using default tag: latest"
    assert out[-1].startswith("latest: digest: sha256:")
    other = root.parent / "other"
    out = cli(other, "image", "pull", "-q", repo).stdout.decode()
    assert out == f"{repo}:latest\n"
    out = cli(other, "pull", repo).stdout.decode().splitlines()
    assert out[:2] == ["Using default tag: latest", "latest: Pulling from alias/busybox"]
    assert out[-1] == f"{repo}:latest"
