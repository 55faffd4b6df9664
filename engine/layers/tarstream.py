"""A streaming tar reader that also yields the DiffID of what it read.

:mod:`tarfile` in stream mode is close, but it reads a PAX or GNU
long-name header of any claimed size into memory, stops reading at the
end-of-archive blocks, and reports damage as ``ReadError`` with no entry
name.  This reader parses only headers with :meth:`TarInfo.frombuf` and
does the rest itself: extended headers are capped at 1 MiB, entry data is
handed out in 1 MiB chunks, and the DiffID (hashed by :mod:`.prefetch`)
covers everything to EOF, including the end blocks and any padding after
them.
"""

from __future__ import annotations

import os
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import BinaryIO

from ..errors import InvalidContent
from .prefetch import CHUNK, Prefetch

BLOCK = 512
MAX_EXTENDED = 1 << 20
_ENC, _ERR = "utf-8", "surrogateescape"
_EXTENDED = {b"x", b"g", b"L", b"K"}
XATTR_PAX = "SCHILY.xattr."


def quote(name: str) -> str:
    """``name`` in double quotes, on one line whatever bytes it holds."""
    raw = os.fsencode(name)
    text = raw.decode("utf-8", "backslashreplace")
    out = []
    for ch in text[:256]:
        if ch == '"':
            out.append('\\"')
        elif ch.isprintable():
            out.append(ch)
        else:
            out.append(ch.encode("unicode_escape").decode("ascii"))
    return '"' + "".join(out) + ("…" if len(text) > 256 else "") + '"'


@dataclass(slots=True)
class Entry:
    name: str
    type: bytes
    size: int
    mode: int
    uid: int
    gid: int
    mtime_ns: int
    linkname: str
    devmajor: int
    devminor: int
    offset: int  # of the header in the uncompressed stream, for messages
    xattrs: dict[str, bytes] = field(default_factory=dict)


def _parse_pax(data: bytes, where: str) -> dict[str, bytes]:
    """``"<len> <key>=<value>\\n"`` records; values stay bytes (xattrs are binary)."""
    out: dict[str, bytes] = {}
    pos = 0
    while pos < len(data):
        if data[pos] == 0:  # NUL padding after the last record
            break
        sp = data.find(b" ", pos)
        try:
            length = int(data[pos:sp]) if sp > pos else 0
        except ValueError:
            length = 0
        rec = data[sp + 1 : pos + length]
        if length <= 0 or pos + length > len(data) or not rec.endswith(b"\n") or b"=" not in rec:
            raise InvalidContent(f"{where}: malformed PAX record at byte {pos}")
        key, _, value = rec[:-1].partition(b"=")
        out[key.decode(_ENC, _ERR)] = value
        pos += length
    return out


def _pax_int(pax: dict[str, bytes], key: str, default: int, where: str) -> int:
    if key not in pax:
        return default
    try:
        return int(pax[key])
    except ValueError:
        raise InvalidContent(f"{where}: PAX {key} is not a number") from None


def _pax_time_ns(value: bytes, where: str) -> int:
    try:
        return int(Decimal(value.decode("ascii")) * 1_000_000_000)
    except (InvalidOperation, UnicodeDecodeError, ValueError):
        raise InvalidContent(f"{where}: PAX mtime is not a number") from None


class TarReader:
    """Iterate :class:`Entry` objects; read each one's data before the next.

    Data the consumer does not read is skipped (and hashed) when the
    iteration moves on.  After the iteration, :meth:`finish` drains the
    stream and returns the DiffID.
    """

    def __init__(self, stream: BinaryIO, label: str) -> None:
        self._f = Prefetch(stream)
        self._label = label
        self.pos = 0
        self._entry: Entry | None = None
        self._left = 0  # data bytes of the current entry not yet read
        self._pad = 0

    # -- low level -------------------------------------------------------
    def _where(self) -> str:
        if self._entry is not None:
            return f"{self._label}: entry {quote(self._entry.name)}"
        return f"{self._label}: at byte {self.pos}"

    def _read(self, n: int) -> bytes:
        try:
            data = self._f.read(n)
        except InvalidContent as e:  # decompression damage: say where it was hit
            reason = e.context.get("reason", str(e))
            raise InvalidContent(f"{self._where()}: {reason}") from None
        self.pos += len(data)
        return data

    def _exact(self, n: int, what: str) -> bytes:
        data = self._read(n)
        while len(data) < n:
            more = self._read(n - len(data))
            if not more:
                raise InvalidContent(
                    f"{self._where()}: truncated ({what}: {len(data)} of {n} bytes)")
            data += more
        return data

    # -- data of the current entry --------------------------------------
    def chunks(self) -> Iterator[bytes]:
        """The current entry's data, at most 1 MiB at a time."""
        while self._left:
            chunk = self._read(min(self._left, CHUNK))
            if not chunk:
                raise InvalidContent(
                    f"{self._where()}: truncated ({self._left} bytes of data missing)")
            self._left -= len(chunk)
            yield chunk

    def _skip_rest(self) -> None:
        for _ in self.chunks():
            pass
        if self._pad:
            self._exact(self._pad, "padding")
            self._pad = 0

    # -- headers ---------------------------------------------------------
    def __iter__(self) -> Iterator[Entry]:
        pax: dict[str, bytes] = {}
        gpax: dict[str, bytes] = {}
        longname = longlink = None
        while True:
            self._skip_rest()
            self._entry = None
            offset = self.pos
            buf = self._read(BLOCK)
            if len(buf) < BLOCK:
                if not buf and not (pax or longname or longlink):
                    return  # EOF on a header boundary: Go and tarfile accept it
                buf += self._exact(BLOCK - len(buf), "header")
            if buf.count(0) == BLOCK:
                return  # end of archive
            try:
                info = tarfile.TarInfo.frombuf(buf, _ENC, _ERR)
            except tarfile.HeaderError as e:
                raise InvalidContent(f"{self._label}: bad tar header at byte {offset} ({e})") \
                    from None
            size = info.size
            if info.type in _EXTENDED:
                where = f"{self._label}: {quote(info.name)} header at byte {offset}"
                if size > MAX_EXTENDED:
                    raise InvalidContent(f"{where}: {size} bytes exceeds the 1 MiB limit")
                data = self._exact(size, "extended header")
                self._pad = -size % BLOCK
                if info.type == b"x":
                    pax.update(_parse_pax(data, where))
                elif info.type == b"g":
                    gpax.update(_parse_pax(data, where))
                elif info.type == b"L":
                    longname = data.split(b"\0", 1)[0].decode(_ENC, _ERR)
                else:
                    longlink = data.split(b"\0", 1)[0].decode(_ENC, _ERR)
                continue
            merged = {**gpax, **pax} if gpax else pax
            name = longname if longname is not None else info.name
            link = longlink if longlink is not None else info.linkname
            if "path" in pax:
                name = pax["path"].decode(_ENC, _ERR)
            if "linkpath" in pax:
                link = pax["linkpath"].decode(_ENC, _ERR)
            if merged:
                entry = self._with_pax(info, name, link, merged, offset)
            else:  # the common case, kept cheap: no PAX, no quoting
                entry = Entry(name, info.type, info.size, info.mode & 0o7777, info.uid,
                              info.gid, int(info.mtime) * 1_000_000_000, link,
                              info.devmajor, info.devminor, offset)
            pax, longname, longlink = {}, None, None
            self._entry = entry
            if info.type == b"S":
                raise InvalidContent(f"{self._where()}: sparse files are not supported")
            if entry.size < 0:
                raise InvalidContent(f"{self._where()}: negative size")
            # Links, dirs and devices carry no data in any writer we know;
            # honour a size anyway so the stream stays in step.
            self._left = entry.size
            self._pad = -entry.size % BLOCK
            yield entry

    def _with_pax(self, info: tarfile.TarInfo, name: str, link: str,
                  pax: dict[str, bytes], offset: int) -> Entry:
        where = f"{self._label}: entry {quote(name)}"
        if any(k.startswith("GNU.sparse.") for k in pax):
            raise InvalidContent(f"{where}: sparse files are not supported")
        mtime_ns = int(info.mtime) * 1_000_000_000
        if "mtime" in pax:
            mtime_ns = _pax_time_ns(pax["mtime"], where)
        return Entry(
            name, info.type, _pax_int(pax, "size", info.size, where), info.mode & 0o7777,
            _pax_int(pax, "uid", info.uid, where), _pax_int(pax, "gid", info.gid, where),
            mtime_ns, link, info.devmajor, info.devminor, offset,
            {k[len(XATTR_PAX):]: v for k, v in pax.items() if k.startswith(XATTR_PAX)},
        )

    def finish(self) -> str:
        """Drain to EOF (end blocks, padding, trailing bytes); the DiffID."""
        self._skip_rest()
        self._entry = None
        while self._read(CHUNK):
            pass
        return "sha256:" + self._f.hexdigest()

    def close(self) -> None:
        """Stop the read-ahead thread; call on every path."""
        self._f.close()
