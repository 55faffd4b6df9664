"""write_layer → apply_layer round trips, determinism, compression."""

from __future__ import annotations

import io
import os
import stat
import struct
import zlib
from pathlib import Path

import pytest
import zstandard

from engine.layers import apply_layer, diff_id_of, gzip_compress_stream, write_layer

from .helpers import sha, snapshot

CAP = struct.pack("<IIIII", 0x02000001, 1 << 10, 0, 0, 0)  # cap_net_bind_service, effective
T = 1_600_000_000


def build_tree(root: Path, *, reverse: bool = False) -> None:
    """A tree with every kind of entry an upper dir can hold."""
    root.mkdir()
    steps = [
        lambda: (root / "bin").mkdir(mode=0o755),
        lambda: (root / "etc").mkdir(mode=0o755),
        lambda: (root / "opt").mkdir(mode=0o755),
        lambda: (root / "tmp").mkdir(),
        lambda: (root / "home").mkdir(),
        lambda: (root / ("deep/" * 30)).mkdir(parents=True),
    ]
    for step in (reversed(steps) if reverse else steps):
        step()
    (root / "bin" / "busybox").write_bytes(b"\x7fELF" + bytes(range(256)) * 5000)
    os.link(root / "bin" / "busybox", root / "bin" / "sh")
    os.link(root / "bin" / "busybox", root / "bin" / "ls")
    (root / "bin" / "su").write_bytes(b"su")
    os.chmod(root / "bin" / "su", 0o4755)
    os.setxattr(root / "bin" / "su", "security.capability", CAP)
    (root / "etc" / "passwd").write_text("root:x:0:0::/root:/bin/sh\n")
    os.setxattr(root / "etc" / "passwd", "user.test", b"\x00\xffbinary")
    os.symlink("/usr/lib/libc.so.6", root / "bin" / "libc-link")
    os.symlink("x" * 200, root / "long-target")  # > 100 bytes: needs PAX linkpath
    (root / ("n" * 150)).write_bytes(b"long name")  # > 100 bytes: needs PAX path
    (root / os.fsdecode(b"caf\xe9")).write_bytes(b"latin-1 name")
    (root / "deep" / "f").write_bytes(b"")
    os.mkfifo(root / "tmp" / "fifo", 0o640)
    os.chmod(root / "tmp", 0o1777)
    os.chmod(root / "opt", 0o2775)
    os.mkdir(root / "home" / "u", 0o750)
    os.chown(root / "home" / "u", 1000, 1000)
    (root / "home" / "u" / ".profile").write_text("export A=1\n")
    os.chown(root / "home" / "u" / ".profile", 1000, 100)
    # overlay whiteout and opaque dir, as the kernel writes them in an upper dir
    os.mknod(root / "etc" / "gone", stat.S_IFCHR, os.makedev(0, 0))
    (root / "opt" / "app").write_text("new app\n")
    os.setxattr(root / "opt", "trusted.overlay.opaque", b"y")
    os.setxattr(root / "etc", "trusted.overlay.impure", b"y")  # never written
    for dirpath, dirnames, filenames in os.walk(root, topdown=False):
        for name in dirnames + filenames:
            os.utime(os.path.join(dirpath, name), (T, T), follow_symlinks=False)


def test_round_trip_overlay(tmp_path: Path) -> None:
    src, dest = tmp_path / "src", tmp_path / "dest"
    build_tree(src)
    dest.mkdir()
    out = io.BytesIO()
    written = write_layer(str(src), out)
    tar = out.getvalue()
    assert written.diff_id == sha(tar)
    lower = tmp_path / "lower"
    (lower / "etc").mkdir(parents=True)
    (lower / "etc" / "gone").write_text("what the whiteout hides\n")
    applied = apply_layer(io.BytesIO(tar), str(dest), label="layer test", parents=[str(lower)])
    assert applied.diff_id == written.diff_id
    assert applied.size == written.size == os.path.getsize(src / "bin" / "busybox") + 2 + 26 \
        + 9 + 12 + 11 + 8
    want = snapshot(src)
    # trusted.overlay.* never travels: impure is gone, opaque comes back
    # from .wh..wh..opq, which is the point of the format.
    kind, *rest = want["etc"]
    want["etc"] = (kind, *rest[:7], (), *rest[8:])
    assert snapshot(dest) == want
    assert diff_id_of(str(dest)) == written


def test_whiteout_and_opaque_in_tar(tmp_path: Path) -> None:
    src = tmp_path / "src"
    build_tree(src)
    out = io.BytesIO()
    write_layer(str(src), out)
    import tarfile

    names = tarfile.open(fileobj=io.BytesIO(out.getvalue())).getnames()
    assert names.index("opt/.wh..wh..opq") == names.index("opt") + 1
    assert "etc/.wh.gone" in names and "etc/gone" not in names
    assert names == sorted(names, key=lambda n: [os.fsencode(p) for p in n.split("/")])
    members = {m.name: m for m in tarfile.open(fileobj=io.BytesIO(out.getvalue()))}
    wh = members["etc/.wh.gone"]
    assert wh.isreg() and wh.mode == 0 and wh.size == 0
    assert members["bin/sh"].islnk() and members["bin/sh"].linkname == "bin/busybox"
    assert members["bin/su"].pax_headers["SCHILY.xattr.security.capability"]
    assert all(m.uname == "" and m.gname == "" for m in members.values())
    # "none" writes the device as it is, and no opaque marker
    plain = io.BytesIO()
    write_layer(str(src), plain, whiteouts="none")
    members = {m.name: m for m in tarfile.open(fileobj=io.BytesIO(plain.getvalue()))}
    assert members["etc/gone"].ischr() and "opt/.wh..wh..opq" not in members


def test_write_is_deterministic(tmp_path: Path) -> None:
    build_tree(tmp_path / "a")
    build_tree(tmp_path / "b", reverse=True)  # other creation order, other inodes
    tars = []
    for tree in ("a", "a", "b"):
        out = io.BytesIO()
        write_layer(str(tmp_path / tree), out)
        tars.append(out.getvalue())
    assert tars[0] == tars[1] == tars[2]
    assert diff_id_of(str(tmp_path / "a")).diff_id == sha(tars[0])


def test_write_to_unseekable_sink(tmp_path: Path) -> None:
    build_tree(tmp_path / "src")

    class Sink:
        def __init__(self) -> None:
            self.parts: list[bytes] = []

        def write(self, b: bytes) -> int:
            self.parts.append(bytes(b))
            return len(b)

    sink = Sink()
    r = write_layer(str(tmp_path / "src"), sink)  # type: ignore[arg-type]
    assert sha(b"".join(sink.parts)) == r.diff_id


@pytest.mark.parametrize("codec", ["gzip", "gzip-multi", "zstd", "zstd-multi", "none"])
def test_compressed_input_same_diff_id(tmp_path: Path, codec: str) -> None:
    build_tree(tmp_path / "src")
    out = io.BytesIO()
    written = write_layer(str(tmp_path / "src"), out)
    tar = out.getvalue()
    if codec == "gzip":
        blob = io.BytesIO()
        gzip_compress_stream(io.BytesIO(tar), blob)
        data = blob.getvalue()
    elif codec == "gzip-multi":  # pigz-style concatenated members
        half = len(tar) // 2
        data = b"".join(zlib.compress(p, wbits=31) for p in (tar[:half], tar[half:]))
    elif codec == "zstd":
        data = zstandard.ZstdCompressor().compress(tar)
    elif codec == "zstd-multi":
        c = zstandard.ZstdCompressor()
        data = c.compress(tar[:1000]) + c.compress(tar[1000:])
    else:
        data = tar
    dest = tmp_path / "dest"
    dest.mkdir()
    r = apply_layer(io.BytesIO(data), str(dest), label="layer x")
    assert r.diff_id == written.diff_id


def test_gzip_compress_stream_is_deterministic() -> None:
    data = os.urandom(100_000) + bytes(3_000_000)
    a, b = io.BytesIO(), io.BytesIO()
    gzip_compress_stream(io.BytesIO(data), a)
    gzip_compress_stream(io.BytesIO(data), b)
    assert a.getvalue() == b.getvalue()
    assert a.getvalue()[4:8] == bytes(4)  # mtime 0
    assert a.getvalue()[3] & 0x08 == 0  # no FNAME
    assert zlib.decompress(a.getvalue(), wbits=31) == data


def test_trailing_bytes_after_end_blocks_are_hashed(tmp_path: Path) -> None:
    build_tree(tmp_path / "src")
    out = io.BytesIO()
    write_layer(str(tmp_path / "src"), out)
    tar = out.getvalue() + bytes(10240 - len(out.getvalue()) % 10240)  # tarfile-style record
    dest = tmp_path / "dest"
    dest.mkdir()
    assert apply_layer(io.BytesIO(tar), str(dest), label="l").diff_id == sha(tar)
