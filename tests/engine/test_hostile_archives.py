"""Hostile layers inside otherwise valid image archives: refused with one
line naming the problem, and the store is exactly as it was."""

from __future__ import annotations

import gzip
import io
import tarfile

import pytest

from engine.errors import InvalidContent
from tests.conftest import MUSL, store_state
from tests.imagegen import layer_tar, write_image


def entry(name: str, kind: bytes = tarfile.REGTYPE, data: bytes = b"", link: str = "",
          major: int = 0, minor: int = 0) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname, info.size = kind, link, len(data)
    info.devmajor, info.devminor = major, minor
    return info


def tar_of(*entries: tuple[tarfile.TarInfo, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for info, data in entries:
            tar.addfile(info, io.BytesIO(data) if data else None)
    return buf.getvalue()


def _pax_bomb() -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        info = entry("x")
        info.pax_headers = {"comment": "A" * (2 << 20)}
        tar.addfile(info)
    return buf.getvalue()


GOOD = layer_tar([("ok/file", b"fine")])
BIG = layer_tar([("ok/big", bytes(range(256)) * 256)])  # 64 KiB of data
HOSTILE = {
    "traversal": tar_of((entry("../../escape"), b"")),
    "absolute": tar_of((entry("/etc/evil"), b"")),
    "symlink-escape": tar_of((entry("l", tarfile.SYMTYPE, link="/tmp"), b""),
                             (entry("l/evil"), b"")),
    "hardlink-escape": tar_of((entry("h", tarfile.LNKTYPE, link="../../etc/passwd"), b"")),
    "hardlink-absolute": tar_of((entry("h", tarfile.LNKTYPE, link="/etc/passwd"), b"")),
    "device-node": tar_of((entry("dev/mem", tarfile.CHRTYPE, major=1, minor=1), b"")),
    "block-device": tar_of((entry("sda", tarfile.BLKTYPE, major=8, minor=0), b"")),
    "oversized-header": _pax_bomb(),
    "truncated": BIG[:20_000],
    "truncated-gzip": gzip.compress(BIG)[:-20],
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_layer_is_refused_and_store_unchanged(engine, root, tmp_path, case) -> None:
    with open(MUSL, "rb") as f:
        engine.load(f, label="musl")
    before = store_state(root)
    archive = tmp_path / "hostile.tar"
    write_image(archive, [GOOD, HOSTILE[case]], tag="hostile:1", compress=False)
    with pytest.raises(InvalidContent) as err:
        with open(archive, "rb") as f:
            engine.load(f, label=archive.name)
    msg = str(err.value)
    assert "\n" not in msg and archive.name in msg and "layer 2/2" in msg, msg
    assert store_state(root) == before
    assert not (tmp_path / "escape").exists()
    assert engine.check().ok and not engine.check().orphans


def test_layer_with_wrong_diff_id_is_refused(engine, root, tmp_path) -> None:
    before = store_state(root)
    archive = tmp_path / "lying.tar"
    write_image(archive, [GOOD], tag="lying:1")
    # swap the config's diff_id claim by writing a second image with another layer's bytes
    data = archive.read_bytes()
    other = layer_tar([("ok/file", b"FINE")])
    assert len(other) == len(GOOD)
    patched = data.replace(gzip.compress(GOOD, compresslevel=1, mtime=0),
                           gzip.compress(other, compresslevel=1, mtime=0))
    assert patched != data
    archive.write_bytes(patched)
    with pytest.raises(InvalidContent) as err:
        with open(archive, "rb") as f:
            engine.load(f, label="lying.tar")
    assert "digest" in str(err.value).lower()
    assert store_state(root) == before
