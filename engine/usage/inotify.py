"""A minimal inotify(7) binding over ctypes (Python 3.11 ships none).

Lifecycle: ``Inotify()`` opens a non-blocking, close-on-exec instance →
``add_watch(dir, mask)`` per directory → ``read()`` drains whatever events are
queued (never blocks; ``[]`` when none) → ``close()``.  Watches are per
directory and not recursive; a watch survives renames of its directory
(``add_watch`` on an already watched inode returns the same descriptor) and
ends with an ``IN_IGNORED`` event when the directory is deleted or
``rm_watch`` is called.  When the kernel queue (``fs.inotify.max_queued_events``)
fills, one ``IN_Q_OVERFLOW`` event with ``wd == -1`` replaces everything lost.
``add_watch`` raises ``OSError(ENOSPC)`` once ``fs.inotify.max_user_watches``
is reached.
"""

from __future__ import annotations

import ctypes
import errno
import os
import struct
import threading
from dataclasses import dataclass

IN_ACCESS = 0x00000001
IN_MODIFY = 0x00000002
IN_ATTRIB = 0x00000004
IN_CLOSE_WRITE = 0x00000008
IN_MOVED_FROM = 0x00000040
IN_MOVED_TO = 0x00000080
IN_CREATE = 0x00000100
IN_DELETE = 0x00000200
IN_DELETE_SELF = 0x00000400
IN_MOVE_SELF = 0x00000800
IN_UNMOUNT = 0x00002000
IN_Q_OVERFLOW = 0x00004000
IN_IGNORED = 0x00008000
IN_ONLYDIR = 0x01000000
IN_DONT_FOLLOW = 0x02000000
IN_EXCL_UNLINK = 0x04000000
IN_ISDIR = 0x40000000

IN_NONBLOCK = os.O_NONBLOCK
IN_CLOEXEC = os.O_CLOEXEC

_HEADER = struct.Struct("iIII")  # wd, mask, cookie, len (struct inotify_event)
_BUFSIZE = 256 * 1024
_MAX_EVENT = _HEADER.size + 255 + 1  # NAME_MAX plus its NUL

_libc: ctypes.CDLL | None = None
_libc_lock = threading.Lock()


def _lib() -> ctypes.CDLL:
    global _libc
    with _libc_lock:
        if _libc is None:
            lib = ctypes.CDLL(None, use_errno=True)
            lib.inotify_init1.argtypes = [ctypes.c_int]
            lib.inotify_init1.restype = ctypes.c_int
            lib.inotify_add_watch.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_uint32]
            lib.inotify_add_watch.restype = ctypes.c_int
            lib.inotify_rm_watch.argtypes = [ctypes.c_int, ctypes.c_int]
            lib.inotify_rm_watch.restype = ctypes.c_int
            _libc = lib
        return _libc


def _raise(what: str, path: str | None = None) -> None:
    e = ctypes.get_errno()
    raise OSError(e, f"{what}: {os.strerror(e)}", path)


@dataclass(frozen=True, slots=True)
class Event:
    wd: int  # -1 for IN_Q_OVERFLOW
    mask: int
    cookie: int  # pairs IN_MOVED_FROM with IN_MOVED_TO
    name: bytes  # b"" when the event is about the watched directory itself


def parse(buf: bytes) -> list[Event]:
    """Split a read(2) of an inotify fd into events."""
    out: list[Event] = []
    pos, end, size = 0, len(buf), _HEADER.size
    while pos + size <= end:
        wd, mask, cookie, length = _HEADER.unpack_from(buf, pos)
        pos += size
        name = buf[pos:pos + length].rstrip(b"\0")
        pos += length
        out.append(Event(wd, mask, cookie, name))
    return out


class Inotify:
    """One inotify instance; not thread-safe (use it from one thread)."""

    def __init__(self) -> None:
        fd = _lib().inotify_init1(IN_NONBLOCK | IN_CLOEXEC)
        if fd < 0:
            _raise("inotify_init1")
        self.fd: int = fd

    def fileno(self) -> int:
        return self.fd

    def add_watch(self, path: str, mask: int) -> int:
        wd = _lib().inotify_add_watch(self.fd, os.fsencode(path), mask)
        if wd < 0:
            _raise("inotify_add_watch", path)
        return int(wd)

    def rm_watch(self, wd: int) -> None:
        if _lib().inotify_rm_watch(self.fd, wd) < 0:
            e = ctypes.get_errno()
            if e != errno.EINVAL:  # already gone (deleted dir): nothing to do
                _raise("inotify_rm_watch")

    def read(self) -> list[Event]:
        """Every queued event, without blocking."""
        out: list[Event] = []
        while True:
            try:
                buf = os.read(self.fd, _BUFSIZE)
            except BlockingIOError:
                return out
            out.extend(parse(buf))
            if len(buf) <= _BUFSIZE - _MAX_EVENT:  # the queue was empty: skip a read()
                return out

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def __enter__(self) -> Inotify:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def max_user_watches() -> int:
    try:
        with open("/proc/sys/fs/inotify/max_user_watches") as f:
            return int(f.read())
    except (OSError, ValueError):
        return 8192


def max_queued_events() -> int:
    try:
        with open("/proc/sys/fs/inotify/max_queued_events") as f:
            return int(f.read())
    except (OSError, ValueError):
        return 16384


__all__ = ["Event", "Inotify", "max_queued_events", "max_user_watches", "parse"]
