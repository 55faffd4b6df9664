"""Hostile and damaged tars: refused whole, with one line naming the entry,
and nothing outside ``dest`` created or changed."""

from __future__ import annotations

import io
import os
import tarfile
import threading
import uuid
import zlib
from pathlib import Path

import pytest
import zstandard

from engine.errors import Cancelled, InvalidContent, UnsafeArchive
from engine.layers import apply_layer

from .helpers import info, snapshot, tar_bytes

DIR, REG, SYM, LNK = tarfile.DIRTYPE, tarfile.REGTYPE, tarfile.SYMTYPE, tarfile.LNKTYPE


@pytest.fixture
def site(tmp_path: Path) -> Path:
    """``tmp_path`` with an empty ``dest`` and a populated ``sentinel`` beside it."""
    (tmp_path / "dest").mkdir()
    s = tmp_path / "sentinel"
    s.mkdir()
    (s / "file").write_text("precious\n")
    (s / "passwd").write_text("root:x:0:0\n")
    (s / "sub").mkdir()
    (s / "sub" / "x").write_text("x\n")
    return tmp_path


def _device(name: str, kind: bytes, major: int, minor: int) -> bytes:
    ti, _ = info(name, kind)
    ti.devmajor, ti.devminor = major, minor
    return tar_bytes([(ti, b"")])


def _huge_claim() -> bytes:
    ti, _ = info("big")
    ti.size = 1 << 30
    return ti.tobuf(tarfile.PAX_FORMAT) + b"only a little data" + bytes(494)


def _truncated_tar() -> bytes:
    data = tar_bytes([info("a", data=b"A" * 5000), info("b", data=b"B" * 5000)])
    return data[: 512 + 5120 + 512 + 2000]  # a, header of b, then part of b's data


def _gnu_long_name() -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tar:
        ti = tarfile.TarInfo("a" * ((1 << 20) + 10))
        tar.addfile(ti, io.BytesIO(b""))
    return buf.getvalue()


def _gzip(data: bytes) -> bytes:
    return zlib.compress(data, wbits=31)


def _corrupt_gzip() -> bytes:
    data = bytearray(_gzip(tar_bytes([info("f", data=os.urandom(20000))])))
    data[len(data) // 2] ^= 0xFF
    return bytes(data)


def _cases(sentinel: Path, tmp_escape: str) -> dict[str, tuple[bytes, type, str]]:
    s = str(sentinel)
    return {
        "dotdot": (tar_bytes([info("../x", data=b"x")]), UnsafeArchive, '"../x"'),
        "inner-dotdot": (tar_bytes([info("a/", DIR), info("a/../../sentinel/x", data=b"x")]),
                         UnsafeArchive, '"a/../../sentinel/x"'),
        "absolute": (tar_bytes([info(s + "/file", data=b"pwned")]), UnsafeArchive, s),
        "symlink-abs-parent": (tar_bytes([info("l", SYM, linkname=s),
                                          info("l/file", data=b"pwned")]),
                               UnsafeArchive, '"l/file"'),
        "symlink-tmp-parent": (tar_bytes([info("l", SYM, linkname="/tmp"),
                                          info(f"l/{tmp_escape}", data=b"pwned")]),
                               UnsafeArchive, tmp_escape),
        "symlink-dotdot-parent": (tar_bytes([info("l", SYM, linkname=".."),
                                             info("l/sentinel/file", data=b"pwned")]),
                                  UnsafeArchive, '"l/sentinel/file"'),
        "symlink-chain": (tar_bytes([info("l", SYM, linkname=".."),
                                     info("l/l/x", data=b"pwned")]),
                          UnsafeArchive, '"l/l/x"'),
        "symlink-then-dir": (tar_bytes([info("l", SYM, linkname=s), info("l/sub/", DIR)]),
                             UnsafeArchive, '"l/sub"'),
        "hardlink-dotdot": (tar_bytes([info("x", LNK, linkname="../../etc/passwd")]),
                            UnsafeArchive, '"x"'),
        "hardlink-sentinel": (tar_bytes([info("x", LNK, linkname="../sentinel/passwd")]),
                              UnsafeArchive, '"x"'),
        "hardlink-absolute": (tar_bytes([info("x", LNK, linkname=s + "/passwd")]),
                              UnsafeArchive, "absolute"),
        "hardlink-etc-passwd": (tar_bytes([info("x", LNK, linkname="/etc/passwd")]),
                                UnsafeArchive, "absolute"),
        "hardlink-through-symlink": (tar_bytes([info("l", SYM, linkname=s),
                                                info("x", LNK, linkname="l/passwd")]),
                                     UnsafeArchive, "symlink"),
        "hardlink-to-dir": (tar_bytes([info("d/", DIR), info("x", LNK, linkname="d")]),
                            UnsafeArchive, "directory"),
        "hardlink-to-root": (tar_bytes([info("x", LNK, linkname=".")]),
                             UnsafeArchive, "directory"),
        "char-device": (_device("null", tarfile.CHRTYPE, 1, 3), UnsafeArchive,
                        '"null": device nodes are not allowed'),
        "char-device-0-0": (_device("wh", tarfile.CHRTYPE, 0, 0), UnsafeArchive,
                            "device nodes are not allowed"),
        "block-device": (_device("sda", tarfile.BLKTYPE, 8, 0), UnsafeArchive,
                         '"sda": device nodes are not allowed'),
        "whiteout-dotdot": (tar_bytes([info("a/", DIR), info("a/.wh..", data=b"")]),
                            UnsafeArchive, "whiteout"),
        "whiteout-escape": (tar_bytes([info("../.wh.sentinel", data=b"")]),
                            UnsafeArchive, '"../.wh.sentinel"'),
        "nul-in-name": (tar_bytes([info("x", data=b"x", path="a\0b")]),
                        UnsafeArchive, "NUL"),
        "file-over-root": (tar_bytes([info("./", REG, data=b"x")]), UnsafeArchive, "root"),
        "truncated-tar": (_truncated_tar(), InvalidContent, '"b": truncated'),
        "truncated-header": (tar_bytes([info("a", data=b"a")])[:700], InvalidContent,
                             "truncated"),
        "truncated-gzip": (_gzip(tar_bytes([info("f", data=os.urandom(50000))]))[:30000],
                           InvalidContent, "truncated gzip stream"),
        "corrupt-gzip": (_corrupt_gzip(), InvalidContent, "gzip stream"),
        "gzip-garbage-after": (_gzip(tar_bytes([info("f", data=b"f")])) + b"garbage",
                               InvalidContent, "trailing garbage after gzip stream"),
        "truncated-zstd": (zstandard.ZstdCompressor().compress(
            tar_bytes([info("f", data=os.urandom(50000))]))[:30000],
            InvalidContent, "truncated zstd stream"),
        "bzip2": (b"BZh91AY&SY" + bytes(100), InvalidContent, "bzip2 compression"),
        "pax-too-big": (tar_bytes([info("x", data=b"x", comment="c" * (1 << 20 + 1))]),
                        InvalidContent, "exceeds the 1 MiB limit"),
        "gnu-long-name-too-big": (_gnu_long_name(), InvalidContent,
                                  '"././@LongLink" header at byte 0: 1048587 bytes exceeds'),
        "claims-1-GB": (_huge_claim(), InvalidContent, '"big": truncated'),
        "bad-checksum": (b"garbage" * 100, InvalidContent, "bad tar header"),
        "sparse": (tar_bytes([info("s", data=b"x", **{"GNU.sparse.major": "1"})]),
                   InvalidContent, "sparse"),
    }


CASE_NAMES = list(_cases(Path("/s"), "t"))


@pytest.mark.parametrize("mode", ["overlay", "delete"])
@pytest.mark.parametrize("case", CASE_NAMES)
def test_hostile_tar_is_refused(site: Path, case: str, mode: str) -> None:
    tmp_escape = f"dockyard-escape-{uuid.uuid4().hex}"
    data, error, needle = _cases(site / "sentinel", tmp_escape)[case]
    before = snapshot(site, skip=["dest"])
    label = "layer sha256:ab12cd34ef56"
    with pytest.raises(error) as exc:
        apply_layer(io.BytesIO(data), str(site / "dest"), label=label,
                    whiteouts=mode)  # type: ignore[arg-type]
    msg = str(exc.value)
    assert "\n" not in msg and msg.startswith(label + ": ")
    assert needle in msg, msg
    assert snapshot(site, skip=["dest"]) == before
    assert not os.path.lexists(f"/tmp/{tmp_escape}")


def test_entry_names_are_quoted_on_one_line(site: Path) -> None:
    data = tar_bytes([info("../evil\nname\x1b[31m", data=b"x")])
    with pytest.raises(UnsafeArchive) as exc:
        apply_layer(io.BytesIO(data), str(site / "dest"), label="layer l")
    assert str(exc.value) == 'layer l: entry "../evil\\nname\\x1b[31m": path escapes the layer root'


def test_hardlink_cannot_write_through(site: Path) -> None:
    """A file replacing a hard link never truncates the shared inode."""
    data = tar_bytes([info("a", data=b"original"), info("b", LNK, linkname="a"),
                      info("b", data=b"replaced")])
    apply_layer(io.BytesIO(data), str(site / "dest"), label="l")
    assert (site / "dest" / "a").read_bytes() == b"original"
    assert (site / "dest" / "b").read_bytes() == b"replaced"


def test_symlink_replaced_by_file_is_not_followed(site: Path) -> None:
    data = tar_bytes([info("l", SYM, linkname=str(site / "sentinel" / "file")),
                      info("l", data=b"pwned")])
    before = snapshot(site, skip=["dest"])
    apply_layer(io.BytesIO(data), str(site / "dest"), label="l")
    assert (site / "dest" / "l").read_bytes() == b"pwned"
    assert snapshot(site, skip=["dest"]) == before


def test_dir_replaced_by_symlink_then_entry_below(site: Path) -> None:
    """The parent cache must forget a directory that a later entry replaced."""
    data = tar_bytes([info("d/", DIR), info("d/a", data=b"a"),
                      info("d", SYM, linkname=str(site / "sentinel")),
                      info("d/file", data=b"pwned")])
    before = snapshot(site, skip=["dest"])
    with pytest.raises(UnsafeArchive, match='"d/file": parent "d" is a symlink'):
        apply_layer(io.BytesIO(data), str(site / "dest"), label="l")
    assert snapshot(site, skip=["dest"]) == before


def test_setuid_is_kept_and_symlink_modes_never_chmod_target(site: Path) -> None:
    target = site / "sentinel" / "file"
    mode = os.stat(target).st_mode
    data = tar_bytes([info("l", SYM, linkname=str(target), mode=0o777),
                      info("su", data=b"su", mode=0o4755, uid=0)])
    apply_layer(io.BytesIO(data), str(site / "dest"), label="l")
    assert os.stat(target).st_mode == mode
    assert os.stat(site / "dest" / "su").st_mode & 0o7777 == 0o4755


def test_cancel(site: Path) -> None:
    event = threading.Event()
    event.set()
    data = tar_bytes([info("a", data=b"a")])
    with pytest.raises(Cancelled, match="layer c: cancelled"):
        apply_layer(io.BytesIO(data), str(site / "dest"), label="layer c", cancel=event)


def test_cancel_between_entries(site: Path) -> None:
    class SetAfterTen(threading.Event):
        """Becomes set after ten checks (one per entry, one per data chunk)."""

        calls = 0

        def is_set(self) -> bool:
            self.calls += 1
            return self.calls > 10

    data = tar_bytes([info(f"f{i:02d}", data=os.urandom(100_000)) for i in range(50)])
    with pytest.raises(Cancelled):
        apply_layer(io.BytesIO(data), str(site / "dest"), label="l", cancel=SetAfterTen())
    done = sorted(os.listdir(site / "dest"))
    assert 0 < len(done) < 50 and done == [f"f{i:02d}" for i in range(len(done))]


def test_hardlink_through_symlink_in_lower_layer(site: Path) -> None:
    lower = site / "lower"
    lower.mkdir()
    os.symlink(site / "sentinel", lower / "l")
    before = snapshot(site, skip=["dest", "lower"])
    data = tar_bytes([info("x", LNK, linkname="l/passwd")])
    with pytest.raises(UnsafeArchive, match='entry "x": hard link target "l/passwd" resolves '
                                            'through symlink "l"'):
        apply_layer(io.BytesIO(data), str(site / "dest"), label="l", parents=[str(lower)])
    assert snapshot(site, skip=["dest", "lower"]) == before
