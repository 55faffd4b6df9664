"""Reading, decompressing and hashing a layer stream ahead, in a thread.

Extraction is three kinds of work: decompressing, hashing the DiffID,
and making files.  The first two release the GIL (zlib, zstandard and
hashlib do for large buffers), so each gets a thread of its own and the
three overlap: on the 200 MB benchmark layer this is roughly the
difference between the sum of the three and the largest.  The queues are
bounded, so memory stays at a few MiB however fast the source is.
"""

from __future__ import annotations

import hashlib
import queue
import threading
from typing import BinaryIO

CHUNK = 1 << 20
_DEPTH = 4  # chunks in flight per queue
_Item = bytes | BaseException | None  # None: end of stream


class Prefetch:
    """``read(n)`` over ``src``, read and hashed ahead by two daemon threads.

    Errors the thread meets (damaged compression, I/O) are raised by the
    ``read`` that reaches the point where they happened.  :meth:`close`
    must be called on every path: it stops and joins the thread, so
    ``src`` is not touched once it returns.
    """

    def __init__(self, src: BinaryIO) -> None:
        self._src = src
        self._raw: queue.Queue[_Item] = queue.Queue(_DEPTH)
        self._q: queue.Queue[_Item] = queue.Queue(_DEPTH)
        self._stop = threading.Event()
        self._hash = hashlib.sha256()
        self._buf = b""
        self._pos = 0
        self._eof = False
        self._threads = [
            threading.Thread(target=self._read_loop, name="layer-read", daemon=True),
            threading.Thread(target=self._hash_loop, name="layer-hash", daemon=True),
        ]
        for t in self._threads:
            t.start()

    def _read_loop(self) -> None:
        try:
            while not self._stop.is_set():
                chunk = self._src.read(CHUNK)
                self._put(self._raw, chunk or None)
                if not chunk:
                    return
        except BaseException as e:  # noqa: BLE001 - handed on to the consumer
            self._put(self._raw, e)

    def _hash_loop(self) -> None:
        while not self._stop.is_set():
            try:
                item = self._raw.get(timeout=0.05)
            except queue.Empty:
                continue
            if isinstance(item, bytes):
                self._hash.update(item)
            self._put(self._q, item)
            if not isinstance(item, bytes):
                return

    def _put(self, q: queue.Queue[_Item], item: _Item) -> None:
        while not self._stop.is_set():
            try:
                q.put(item, timeout=0.05)
                return
            except queue.Full:
                continue

    def read(self, n: int) -> bytes:
        """Up to ``n`` bytes; fewer only at end of stream."""
        if self._pos == 0 and len(self._buf) == n:
            data, self._buf = self._buf, b""  # a whole chunk: no copy
            return data
        parts = []
        while n > 0:
            if self._pos >= len(self._buf):
                if self._eof or not self._next():
                    break
            take = self._buf[self._pos : self._pos + n]
            self._pos += len(take)
            n -= len(take)
            parts.append(take)
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def _next(self) -> bool:
        item = self._q.get()
        if item is None:
            self._eof = True
            return False
        if isinstance(item, BaseException):
            self._eof = True
            raise item
        self._buf, self._pos = item, 0
        return True

    def hexdigest(self) -> str:
        """The sha256 of the whole stream; only once ``read`` has hit its end."""
        if not self._eof:
            raise RuntimeError("stream not read to its end")
        return self._hash.hexdigest()

    def close(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join()
