"""load / save / import against real archives made by other tools."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from pathlib import Path

import pytest

from engine.errors import InvalidContent, NotFound
from tests.conftest import FIXTURES, GLIBC, KANIKO, MUSL, MUSL_ID, SCRATCH, store_state


def load(engine, path: Path):
    with open(path, "rb") as f:
        return engine.load(f, label=path.name)


def archive_config(path: Path) -> tuple[str, dict]:
    """(config digest, config JSON) straight from the archive, by another route."""
    with tarfile.open(path) as tar:
        names = tar.getnames()
        if "manifest.json" in names:
            entry = json.load(tar.extractfile("manifest.json"))[0]
            data = tar.extractfile(entry["Config"]).read()
        else:
            index = json.load(tar.extractfile("index.json"))
            m = index["manifests"][0]["digest"].replace(":", "/")
            manifest = json.load(tar.extractfile(f"blobs/{m}"))
            data = tar.extractfile(
                "blobs/" + manifest["config"]["digest"].replace(":", "/")).read()
    return "sha256:" + hashlib.sha256(data).hexdigest(), json.loads(data)


@pytest.mark.parametrize("path", sorted(FIXTURES.glob("*.tar")), ids=lambda p: p.name)
def test_every_fixture_loads_with_its_config_digest_as_id(engine, path: Path) -> None:
    digest, cfg = archive_config(path)
    loaded = load(engine, path)
    assert [item.id for item in loaded] == [digest]
    info = engine.image_inspect(digest)
    assert info["Id"] == digest
    assert info["RootFS"]["Layers"] == cfg["rootfs"]["diff_ids"]
    assert len(engine.store.db.query("SELECT * FROM layers")) == len(cfg["rootfs"]["diff_ids"])
    history = engine.history(digest)
    assert len(history) == len(cfg.get("history", []))
    assert [h.created_by for h in history] == [h.get("created_by", "")
                                               for h in reversed(cfg["history"])]
    non_empty = [h for h in history if not h.empty_layer]
    assert len(non_empty) == len(cfg["rootfs"]["diff_ids"])
    assert engine.check().ok


def test_tags_from_archives(engine) -> None:
    load(engine, MUSL)
    load(engine, KANIKO)
    tags = {t for img in engine.images() for t in img.repo_tags}
    assert tags == {"busybox:1.37.0-musl", "dive-test:kaniko-latest"}
    assert engine.resolve_image("busybox:1.37.0-musl") == MUSL_ID
    assert engine.resolve_image("docker.io/library/busybox:1.37.0-musl") == MUSL_ID
    assert engine.resolve_image(MUSL_ID[7:19]) == MUSL_ID
    with pytest.raises(NotFound, match="No such image: busybox:latest"):
        engine.resolve_image("busybox")


def test_same_image_in_three_compressions_is_stored_once(engine) -> None:
    ids = {load(engine, SCRATCH[c])[0].id for c in SCRATCH}
    assert len(ids) == 1
    assert len(engine.images()) == 1
    layers = engine.store.db.query("SELECT * FROM layers")
    assert len(layers) == 1  # extracted once, however many blobs carry it
    blobs = engine.store.db.query("SELECT digest FROM layer_blobs")
    assert len(blobs) == 3  # each compressed form kept as it came


def test_loading_twice_is_idempotent(engine) -> None:
    load(engine, GLIBC)
    before = engine.store.db.query("SELECT * FROM layers")
    load(engine, GLIBC)
    assert engine.store.db.query("SELECT * FROM layers") == before
    assert len(engine.images()) == 1


@pytest.mark.parametrize("fmt", ["docker-archive", "oci-archive"])
@pytest.mark.parametrize("path", [MUSL, KANIKO], ids=lambda p: p.name)
def test_save_load_round_trip_keeps_every_digest(engine, tmp_path, path, fmt) -> None:
    from engine import Engine

    (loaded,) = load(engine, path)
    before = engine.image_inspect(loaded.id)
    out = tmp_path / "saved.tar"
    with open(out, "wb") as f:
        engine.save([loaded.tags[0]], f, format=fmt)
    manifest_digest = engine.image_store.record(loaded.id).manifest_digest
    other = Engine(str(tmp_path / "other"))
    try:
        (again,) = load(other, out)
        assert again.id == loaded.id
        assert again.tags == loaded.tags
        after = other.image_inspect(again.id)
        assert after["RootFS"] == before["RootFS"]
        assert after["Size"] == before["Size"]
        assert other.image_store.record(again.id).manifest_digest == manifest_digest
        blobs = lambda e: {r["digest"] for r in e.store.db.query("SELECT digest FROM blobs")}  # noqa: E731
        assert blobs(other) == blobs(engine)
    finally:
        other.close()


def test_save_twice_is_byte_identical_blobs(engine, tmp_path) -> None:
    (loaded,) = load(engine, KANIKO)
    outs = []
    for n in range(2):
        buf = io.BytesIO()
        engine.save([loaded.id], buf, format="oci-archive")
        with tarfile.open(fileobj=io.BytesIO(buf.getvalue())) as tar:
            outs.append({m.name: tar.extractfile(m).read() for m in tar if m.isfile()})
        _ = n
    assert outs[0] == outs[1]


def test_import_rootfs_with_changes(engine, tmp_path) -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in {"bin/hello": b"#!/bin/sh\necho hi\n", "etc/motd": b"hi"}.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o755
            tar.addfile(info, io.BytesIO(data))
    raw = buf.getvalue()
    image_id = engine.import_image(io.BytesIO(raw), source="-", ref="imported:1",
                                   changes=['CMD ["/bin/hello"]', "ENV A=b", "EXPOSE 80"])
    info = engine.image_inspect("imported:1")
    assert info["Id"] == image_id
    assert info["RootFS"]["Layers"] == ["sha256:" + hashlib.sha256(raw).hexdigest()]
    assert info["Config"]["Cmd"] == ["/bin/hello"]
    assert info["Config"]["Env"] == ["A=b"]
    assert "80/tcp" in info["Config"]["ExposedPorts"]
    assert engine.history("imported:1")[0].comment == "Imported from -"


def test_bad_archives_leave_the_store_unchanged(engine, root, tmp_path) -> None:
    load(engine, MUSL)
    before = store_state(root)
    cases = {
        "not-a-tar": b"hello, this is not a tar",
        "empty-tar": _tar({}),
        "no-index": _tar({"oci-layout": b"{}"}),
        "bad-json": _tar({"manifest.json": b"[{"}),
        "missing-layer": _tar({"manifest.json": json.dumps(
            [{"Config": "c.json", "Layers": ["nope.tar"]}]).encode(),
            "c.json": json.dumps({"rootfs": {"type": "layers", "diff_ids": [
                "sha256:" + "0" * 64]}}).encode()}),
        "wrong-digest": _tampered_glibc(),
    }
    for name, data in cases.items():
        with pytest.raises(InvalidContent) as err:
            engine.load(io.BytesIO(data), label=name)
        assert "\n" not in str(err.value) and name in str(err.value)
        assert store_state(root) == before, name


def _tar(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _tampered_glibc() -> bytes:
    """The glibc archive with one byte of its layer blob changed."""
    files = {}
    with tarfile.open(GLIBC) as tar:
        for m in tar:
            if m.isfile():
                files[m.name] = tar.extractfile(m).read()
    big = max(files, key=lambda k: len(files[k]))
    data = bytearray(files[big])
    data[len(data) // 2] ^= 0xFF
    files[big] = bytes(data)
    return _tar(files)


def test_imported_tarball_saves_with_its_original_bytes(engine, tmp_path) -> None:
    """An arbitrary tarball (here "./"-prefixed names, gzip) does not re-tar to the
    same bytes: save must ship the bytes that were imported."""
    import gzip

    from engine import Engine

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for name, data in {"./etc/motd": b"hello\n", "./bin/tool": b"\x7fELF"}.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), 0o755, 1234
            tar.addfile(info, io.BytesIO(data))
    raw = gzip.compress(buf.getvalue())
    image_id = engine.import_image(io.BytesIO(raw), ref="imp:1")
    out = tmp_path / "imp.tar"
    with open(out, "wb") as f:
        engine.save(["imp:1"], f)
    other = Engine(str(tmp_path / "other"))
    try:
        (loaded,) = load(other, out)
        assert loaded.id == image_id
        diff = "sha256:" + hashlib.sha256(buf.getvalue()).hexdigest()
        assert other.image_inspect("imp:1")["RootFS"]["Layers"] == [diff]
    finally:
        other.close()
