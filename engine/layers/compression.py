"""Layer blob compression: recognised by magic bytes, never by name.

Media types lie (registries serve ``tar.gzip`` layers that are plain tar
and vice versa), so :func:`open_uncompressed` looks at the first bytes
only.  Decompression is done here rather than with :mod:`gzip` or
``zstandard.stream_reader`` because both stay silent about some damage:
``stream_reader`` returns short data for a truncated zstd frame, and
:mod:`gzip` reports damage as ``EOFError``/``zlib.error``.  Every failure
here is an :class:`InvalidContent` whose ``reason`` context is the
message without the label, so the tar reader can re-word it around the
entry being read when the damage was hit.
"""

from __future__ import annotations

import io
import zlib
from typing import BinaryIO

import zstandard

from ..errors import InvalidContent

__all__ = ["detect", "gzip_compress_stream", "open_uncompressed"]

GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_UNSUPPORTED = {b"BZh": "bzip2", b"\xfd7zXZ\x00": "xz"}

_BUF = 1 << 20
_GZ_IN = 64 << 10
# zstd has no output bound per call; a 4 KiB input chunk caps one call's
# output at ~128 MiB even for a crafted all-RLE frame.
_ZSTD_IN = 4 << 10


def detect(head: bytes) -> str:
    """"gzip", "zstd" or "none" from the first bytes (6 are enough)."""
    if head.startswith(GZIP_MAGIC):
        return "gzip"
    if head.startswith(ZSTD_MAGIC):
        return "zstd"
    for magic, name in _UNSUPPORTED.items():
        if head.startswith(magic):
            return name
    return "none"


def _fail(label: str, reason: str) -> InvalidContent:
    return InvalidContent(f"{label}: {reason}", reason=reason)


class _Prefixed(io.RawIOBase):
    """``head`` then the rest of ``raw``: sniffing without seek or peek."""

    def __init__(self, head: bytes, raw: BinaryIO) -> None:
        self._head = head
        self._raw = raw

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:  # type: ignore[override]
        if self._head:
            n = min(len(b), len(self._head))
            b[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        data = self._raw.read(len(b))
        if not data:
            return 0
        b[: len(data)] = data
        return len(data)


class _Decompressor(io.RawIOBase):
    """A gzip or zstd stream, all members/frames, as a raw reader."""

    def __init__(self, src: BinaryIO, kind: str, label: str) -> None:
        self._src = src
        self._kind = kind
        self._label = label
        self._chunk = _GZ_IN if kind == "gzip" else _ZSTD_IN
        self._obj = self._new()
        self._in = b""  # compressed bytes not yet given to self._obj
        self._out = b""  # decompressed bytes not yet returned
        self._done = False

    def readable(self) -> bool:
        return True

    def _new(self):
        if self._kind == "gzip":
            return zlib.decompressobj(31)  # 31: gzip wrapper, CRC and length checked
        return zstandard.ZstdDecompressor().decompressobj()

    def _feed(self) -> None:
        if self._obj.eof:
            rest = self._obj.unused_data + self._in
            self._in = b""
            self._next_member(rest)
            return
        if not self._in:
            self._in = self._src.read(self._chunk)
            if not self._in:
                raise _fail(self._label, f"truncated {self._kind} stream")
        try:
            if self._kind == "gzip":
                self._out = self._obj.decompress(self._in, _BUF)
                self._in = self._obj.unconsumed_tail
            else:
                data, self._in = self._in[: self._chunk], self._in[self._chunk:]
                self._out = self._obj.decompress(data)
        except (zlib.error, zstandard.ZstdError) as e:
            raise _fail(self._label, f"corrupt {self._kind} stream ({e})") from None

    def _next_member(self, rest: bytes) -> None:
        # Concatenated gzip members and zstd frames are one stream (pigz and
        # zstd -T both write them); trailing zero padding is tolerated as
        # gzip(1) does, anything else is damage.
        magic = GZIP_MAGIC if self._kind == "gzip" else ZSTD_MAGIC
        while len(rest) < len(magic):
            more = self._src.read(self._chunk)
            if not more:
                break
            rest += more
        if not rest:
            self._done = True
        elif rest.startswith(magic):
            self._obj = self._new()
            self._in = rest
        elif rest.strip(b"\0") == b"":
            while True:
                more = self._src.read(_BUF)
                if not more:
                    break
                if more.strip(b"\0"):
                    raise _fail(self._label, f"trailing garbage after {self._kind} stream")
            self._done = True
        else:
            raise _fail(self._label, f"trailing garbage after {self._kind} stream")

    def readinto(self, b) -> int:  # type: ignore[override]
        while not self._out:
            if self._done:
                return 0
            self._feed()
        n = min(len(b), len(self._out))
        b[:n] = self._out[:n]
        self._out = self._out[n:]
        return n


def open_uncompressed(raw: BinaryIO, *, label: str = "blob") -> BinaryIO:
    """A buffered reader of ``raw``'s uncompressed bytes (gzip, zstd, none).

    ``raw`` needs only ``read``.  bzip2 and xz are recognised and refused:
    no registry client we interoperate with produces them for layers.
    """
    head = b""
    while len(head) < 6:
        more = raw.read(6 - len(head))
        if not more:
            break
        head += more
    kind = detect(head)
    src = _Prefixed(head, raw)
    if kind == "none":
        return io.BufferedReader(src, _BUF)  # type: ignore[return-value]
    if kind not in ("gzip", "zstd"):
        raise _fail(label, f"{kind} compression is not supported")
    reader = io.BufferedReader(src, _BUF)
    return io.BufferedReader(_Decompressor(reader, kind, label), _BUF)  # type: ignore[return-value]


def gzip_compress_stream(src: BinaryIO, dst: BinaryIO, *, level: int = 6) -> None:
    """Gzip ``src`` into ``dst``, byte-identical for identical input.

    zlib's own gzip wrapper writes mtime 0 and no file name, which is what
    makes a lazily compressed blob reproducible (level 6 is what Docker and
    containerd use by default).
    """
    comp = zlib.compressobj(level, zlib.DEFLATED, 31)
    while True:
        chunk = src.read(_BUF)
        if not chunk:
            break
        out = comp.compress(chunk)
        if out:
            dst.write(out)
    dst.write(comp.flush())
