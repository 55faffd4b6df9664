"""Magic-byte detection and the streaming decompressors' failure modes."""

from __future__ import annotations

import io
import os
import zlib

import pytest
import zstandard

from engine.errors import InvalidContent
from engine.layers import detect, gzip_compress_stream, open_uncompressed


class Trickle(io.RawIOBase):
    """A pipe-like source: no seek, no peek, at most 3 bytes per read."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:  # type: ignore[override]
        n = 3 if n < 0 else min(n, 3)
        out, self._data = self._data[:n], self._data[n:]
        return out


DATA = os.urandom(70_000) + b"text " * 50_000


@pytest.mark.parametrize(("head", "kind"), [
    (b"\x1f\x8b\x08\x00", "gzip"), (b"\x28\xb5\x2f\xfd\x00", "zstd"), (b"BZh91AY", "bzip2"),
    (b"\xfd7zXZ\x00\x00", "xz"), (b"bin/\x00\x00", "none"), (b"", "none"), (b"\x1f", "none"),
])
def test_detect(head: bytes, kind: str) -> None:
    assert detect(head) == kind


@pytest.mark.parametrize("codec", ["gzip", "zstd", "none"])
def test_open_uncompressed_trickle(codec: str) -> None:
    if codec == "gzip":
        blob = zlib.compress(DATA, wbits=31)
    elif codec == "zstd":
        blob = zstandard.ZstdCompressor().compress(DATA)
    else:
        blob = DATA
    assert open_uncompressed(Trickle(blob)).read() == DATA  # type: ignore[arg-type]


def test_name_does_not_matter() -> None:
    # a gzip blob is gzip whatever its name or media type says
    blob = io.BytesIO(zlib.compress(DATA, wbits=31))
    blob.name = "layer.tar"  # type: ignore[attr-defined]
    assert open_uncompressed(blob).read() == DATA


def test_gzip_zero_padding_is_tolerated() -> None:
    blob = zlib.compress(DATA, wbits=31) + bytes(4096)
    assert open_uncompressed(io.BytesIO(blob)).read() == DATA


@pytest.mark.parametrize(("blob", "reason"), [
    (zlib.compress(DATA, wbits=31)[:-4], "blob x: truncated gzip stream"),
    (zlib.compress(DATA, wbits=31)[:10], "blob x: truncated gzip stream"),
    (zstandard.ZstdCompressor().compress(DATA)[:-3], "blob x: truncated zstd stream"),
    (zlib.compress(DATA, wbits=31)[:-8] + b"\0\0\0\0" + zlib.compress(DATA, wbits=31)[-4:],
     "blob x: corrupt gzip stream"),
    (zlib.compress(DATA, wbits=31) + b"PK\x03\x04", "blob x: trailing garbage after gzip"),
    (b"\xfd7zXZ\x00" + bytes(20), "blob x: xz compression is not supported"),
], ids=lambda v: v if isinstance(v, str) else "blob")  # stable ids: xdist needs them
def test_damage_is_invalid_content(blob: bytes, reason: str) -> None:
    with pytest.raises(InvalidContent) as exc:
        open_uncompressed(io.BytesIO(blob), label="blob x").read()
    assert str(exc.value).startswith(reason)
    assert "\n" not in str(exc.value)


def test_gzip_compress_stream_round_trip() -> None:
    out = io.BytesIO()
    gzip_compress_stream(io.BytesIO(DATA), out)
    assert open_uncompressed(io.BytesIO(out.getvalue())).read() == DATA
