"""Writable layers: size, file count, and a cheap incremental growth sampler.

A container's writable layer is its active snapshot's upper directory
(``snapshots.upper_dir(cid)``): every file the container created, modified
(copied up) or deleted (a whiteout) lives there.  This host has no project
quotas, so the only way to know its size is to look at its files.

Terms
    *apparent*  Σ ``st_size`` of regular files, each hard-linked inode once
                (what ``ps -s`` and ``snapshots.usage`` call size).
    *on disk*   Σ ``st_blocks × 512`` over every inode, directories and the
                upper dir itself included, hard links once (what ``du -s``
                reports).
    *files*     paths that are neither directories nor whiteouts; *dirs*
                excludes the upper dir itself; *whiteouts* are overlay
                deletions (char device 0/0, size 0).

:func:`measure` is a full scan.  :class:`WritableSampler` keeps that scan as
an index and maintains it from inotify events; its lifecycle::

    s = WritableSampler(upper_dir)  # no I/O: build it anywhere
    s.sample()  # starts: inotify instance, one full scan, a watch per directory
    s.sample()  # each later call: re-stat only what changed since the last one
    …           # s.history holds the last samples (sparkline)
    s.close()   # drops every watch; sample() then raises InvalidArgument

Call it from one worker thread (a lock makes a concurrent close() safe); the
upper dir vanishing (container removed) makes sample() raise NotFound.

Method.  Every directory carries an inotify watch for create, modify,
attrib, delete and both halves of a move; a watch is added *before* the
directory is listed, so nothing created in between is missed.  Writes made
through the overlay mount reach the upper inode and its watch: new files
arrive as IN_CREATE, writes as IN_MODIFY, copy-ups, whiteouts and new
directories over whiteouts as IN_MOVED_TO (overlay builds them in its work
dir and renames them in).  A sample drains the queue without blocking,
turns each event into a *dirty* path (plus the directory whose entries
changed, so directory blocks stay exact) and lstat()s only those, parents
first.  A path that is gone is dropped with its subtree; a new directory
(or one whose inode changed) is watched and scanned; anything else updates
its index entry; a moved directory keeps its watch (``add_watch`` returns the
same descriptor, which is re-pointed at the new path).  Totals are running
sums over an inode table (hard links once), so a sample costs O(changed
paths), never O(files).  Bytes added per path during the sample give
``growing`` (a file that was only moved or linked, recognised by inode and
mtime, adds nothing); the apparent-size delta over the elapsed time gives
``rate``.

Fallbacks, each reported in the sample: ``IN_Q_OVERFLOW`` (events were
lost) and :meth:`WritableSampler.rescan` do a full rescan with fresh watches
(``full_scan=True``; growth is the per-path difference to the old index);
directories beyond ``fs.inotify.max_user_watches`` are listed and
re-stat'ed at most every ``fallback_every`` seconds (``unwatched`` > 0 and a
``note``); without any inotify instance every sample is a full scan.
Limits: stores through a shared mmap raise no IN_MODIFY until the file is
otherwise touched; pass ``full_every`` to add a periodic full rescan.
"""

from __future__ import annotations

import errno
import os
import stat
import threading
import time
from dataclasses import dataclass

from ..errors import InvalidArgument, NotFound
from . import inotify as ino

_MASK = (ino.IN_CREATE | ino.IN_MODIFY | ino.IN_ATTRIB | ino.IN_DELETE | ino.IN_MOVED_FROM
         | ino.IN_MOVED_TO | ino.IN_DELETE_SELF | ino.IN_ONLYDIR | ino.IN_DONT_FOLLOW
         | ino.IN_EXCL_UNLINK)
_NAMESPACE = ino.IN_CREATE | ino.IN_DELETE | ino.IN_MOVED_FROM | ino.IN_MOVED_TO
_GONE = (FileNotFoundError, NotADirectoryError)
_DIR, _REG, _WH, _OTHER = 0, 1, 2, 3  # kinds; _OTHER: symlinks, fifos, devices …


@dataclass(frozen=True)
class WritableUsage:
    apparent: int
    on_disk: int
    files: int
    dirs: int = 0
    whiteouts: int = 0


@dataclass(frozen=True)
class Sample:
    time: float  # wall clock (time.time())
    apparent: int
    on_disk: int
    files: int
    rate: float  # apparent bytes/s since the previous sample (negative: shrinking)
    growing: tuple[tuple[str, int], ...]  # ("/var/log/app.log", bytes added), largest first
    full_scan: bool  # this sample walked the whole tree
    changed: int  # paths lstat()ed for this sample
    dirs: int = 0
    whiteouts: int = 0
    watches: int = 0
    unwatched: int = 0  # directories beyond the watch limit (rescanned periodically)
    note: str = ""

    @property
    def usage(self) -> WritableUsage:
        return WritableUsage(self.apparent, self.on_disk, self.files, self.dirs, self.whiteouts)


def _kind(st: os.stat_result) -> int:
    m = st.st_mode
    if stat.S_ISDIR(m):
        return _DIR
    if stat.S_ISREG(m):
        return _REG
    if stat.S_ISCHR(m) and st.st_rdev == 0:
        return _WH
    return _OTHER


def measure(upper_dir: str) -> WritableUsage:
    """A full scan of ``upper_dir`` (see the module docstring for the terms)."""
    try:
        root = os.lstat(upper_dir)
    except _GONE:
        raise NotFound(f"writable layer {upper_dir}: no longer exists") from None
    on_disk, apparent, files, dirs, whiteouts = root.st_blocks * 512, 0, 0, 0, 0
    seen: set[int] = set()
    stack = [upper_dir]
    while stack:
        try:
            it = os.scandir(stack.pop())
        except _GONE:
            continue
        with it:
            for e in it:
                try:
                    st = e.stat(follow_symlinks=False)
                except _GONE:
                    continue
                k = _kind(st)
                if k == _DIR:
                    dirs += 1
                    stack.append(e.path)
                elif k == _WH:
                    whiteouts += 1
                else:
                    files += 1
                    if st.st_nlink > 1:
                        if st.st_ino in seen:
                            continue
                        seen.add(st.st_ino)
                on_disk += st.st_blocks * 512
                if k == _REG:
                    apparent += st.st_size
    return WritableUsage(apparent, on_disk, files, dirs, whiteouts)


def _join(d: str, name: str) -> str:
    return "/" + name if d == "/" else d + "/" + name


def _parent(p: str) -> str:
    return p.rpartition("/")[0] or "/"


class WritableSampler:
    """Incremental size sampler of one upper dir (lifecycle: module docstring)."""

    def __init__(self, upper_dir: str, *, top: int = 10, keep: int = 120,
                 fallback_every: float = 2.0, full_every: float = 0.0,
                 max_watches: int | None = None) -> None:
        self.upper_dir = upper_dir.rstrip("/") or "/"
        self.top = top
        self.fallback_every = fallback_every
        self.full_every = full_every
        self.max_watches = max_watches  # None: as many as the kernel allows
        self.keep = max(1, keep)
        self._lock = threading.Lock()
        self._history: tuple[Sample, ...] = ()  # replaced whole: readable without the lock
        self._started = self._closed = False
        self._ino: ino.Inotify | None = None
        self._root_ino = 0
        self._last_mono = self._last_full = self._last_fallback = 0.0
        self._reset()

    def _reset(self) -> None:
        self._entries: dict[str, tuple[int, int, int]] = {}  # path → (ino, kind, size)
        self._inodes: dict[int, list[int]] = {}  # ino → [refs, size, blocks, mtime_ns]
        self._gone: dict[int, tuple[int, int]] = {}  # inodes dropped this sample: size, mtime
        self._children: dict[str, set[str]] = {}
        self._wd_path: dict[int, str] = {}
        self._path_wd: dict[str, int] = {}
        self._unwatched: set[str] = set()
        self._orphans: set[int] = set()
        self._grow: dict[str, int] = {}
        self._fresh: set[str] = set()
        self._changed = 0
        self._apparent = self._on_disk = 0
        self._counts = [0, 0, 0, 0]  # paths by kind, the upper dir itself included
        self._note = ""

    # -- public ----------------------------------------------------------
    @property
    def history(self) -> tuple[Sample, ...]:
        """The last ``keep`` samples, oldest first (never blocks: safe on a UI thread)."""
        return self._history

    def sample(self, *, full: bool = False) -> Sample:
        """One sample; the first starts the sampler, ``full`` forces a full rescan."""
        with self._lock:
            if self._closed:
                raise InvalidArgument(f"writable layer sampler {self.upper_dir}: closed")
            self._changed, self._grow, self._fresh, self._gone = 0, {}, set(), {}
            self._note = ""
            now = time.monotonic()
            if not self._started:
                full = self._start()
            else:
                if self._root_stat().st_ino != self._root_ino:
                    raise NotFound(f"writable layer {self.upper_dir}: replaced")
                full = (full or self._ino is None
                        or 0 < self.full_every <= now - self._last_full
                        or self._apply_events())  # True when the queue overflowed
                if full:
                    self._full_rescan()
            if self._unwatched and not full and now - self._last_fallback >= self.fallback_every:
                self._fallback()
            return self._emit(now, full)

    def rescan(self) -> Sample:
        """A full rescan now: what an inotify queue overflow triggers."""
        return self.sample(full=True)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            if self._ino is not None:
                self._ino.close()
                self._ino = None
            self._reset()

    def __enter__(self) -> WritableSampler:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- sampling ----------------------------------------------------------
    def _abs(self, p: str) -> str:
        return self.upper_dir if p == "/" else self.upper_dir + p

    def _root_stat(self) -> os.stat_result:
        try:
            st = os.lstat(self.upper_dir)
        except _GONE:
            raise NotFound(f"writable layer {self.upper_dir}: no longer exists") from None
        if not stat.S_ISDIR(st.st_mode):
            raise NotFound(f"writable layer {self.upper_dir}: not a directory")
        return st

    def _open(self) -> None:
        try:
            self._ino = ino.Inotify()
        except OSError as e:  # EMFILE: fs.inotify.max_user_instances reached
            self._ino = None
            self._note = f"no inotify ({e.strerror}): every sample is a full scan"

    def _start(self) -> bool:
        st = self._root_stat()
        self._root_ino = st.st_ino
        self._open()
        self._started = True
        self._scan("/", st)
        self._grow = {}  # the first sample is the baseline: nothing grew yet
        self._last_full = self._last_fallback = time.monotonic()
        return True

    def _full_rescan(self) -> None:
        old = {p: e[2] for p, e in self._entries.items() if e[1] == _REG}
        note = self._note
        if self._ino is not None:
            self._ino.close()
        self._reset()
        self._note = note
        self._open()
        self._scan("/", self._root_stat())
        self._grow = {p: e[2] - old.get(p, 0) for p, e in self._entries.items()
                      if e[1] == _REG and e[2] > old.get(p, 0)}
        self._last_full = self._last_fallback = time.monotonic()

    def _apply_events(self) -> bool:
        """Re-stat what the queued events name; True when they overflowed."""
        assert self._ino is not None
        dirty: set[str] = set()
        for ev in self._ino.read():
            if ev.mask & ino.IN_Q_OVERFLOW:
                self._note = "inotify queue overflowed: full rescan"
                return True
            d = self._wd_path.get(ev.wd)
            if d is None:
                continue
            if ev.mask & ino.IN_IGNORED:  # watch gone: dir deleted, or removed under us
                del self._wd_path[ev.wd]
                if self._path_wd.get(d) == ev.wd:
                    del self._path_wd[d]
                    self._unwatched.add(d)
                dirty.add(d)
            elif ev.name:
                dirty.add(_join(d, os.fsdecode(ev.name)))
                if ev.mask & _NAMESPACE:
                    dirty.add(d)
            else:
                dirty.add(d)
        for p in sorted(dirty, key=lambda p: (p.count("/"), p)):
            self._refresh(p)
        for wd in self._orphans:  # dropped dirs that still exist somewhere (moved out)
            if wd not in self._wd_path:
                try:
                    self._ino.rm_watch(wd)
                except OSError:
                    pass
        self._orphans.clear()
        return False

    def _fallback(self) -> None:
        """List the directories we could not watch and reconcile their entries."""
        for d in sorted(self._unwatched, key=lambda p: (p.count("/"), p)):
            if d not in self._unwatched or self._entries.get(d, (0, -1))[1] != _DIR:
                self._unwatched.discard(d)
                continue
            self._watch(d)
            self._refresh(d)
            if self._entries.get(d, (0, -1))[1] != _DIR:
                continue
            try:
                it = os.scandir(self._abs(d))
            except _GONE:
                self._drop(d)
                continue
            seen: set[str] = set()
            with it:
                for e in it:
                    seen.add(e.name)
                    self._refresh(_join(d, e.name))
            for name in self._children.get(d, set()) - seen:
                self._drop(_join(d, name))
        self._last_fallback = time.monotonic()

    def _emit(self, now: float, full: bool) -> Sample:
        prev = self._history[-1] if self._history else None
        dt = now - self._last_mono
        rate = (self._apparent - prev.apparent) / dt if prev is not None and dt > 0 else 0.0
        self._last_mono = now
        growing = sorted(((p, n) for p, n in self._grow.items() if n > 0),
                         key=lambda x: (-x[1], x[0]))[:self.top]
        note = self._note
        if self._unwatched:
            extra = (f"{len(self._unwatched)} directories beyond fs.inotify.max_user_watches: "
                     f"rescanned every {self.fallback_every:g}s")
            note = f"{note}; {extra}" if note else extra
        c = self._counts
        s = Sample(time=time.time(), apparent=self._apparent, on_disk=self._on_disk,
                   files=c[_REG] + c[_OTHER], rate=rate, growing=tuple(growing), full_scan=full,
                   changed=self._changed, dirs=max(0, c[_DIR] - 1), whiteouts=c[_WH],
                   watches=len(self._wd_path), unwatched=len(self._unwatched), note=note)
        self._history = (*self._history, s)[-self.keep:]
        return s

    # -- the index ---------------------------------------------------------
    def _refresh(self, p: str) -> None:
        if p in self._fresh:
            return
        if p != "/" and self._entries.get(_parent(p), (0, -1))[1] != _DIR:
            return  # its parent is gone (or new and scanned already)
        self._changed += 1
        try:
            st = os.lstat(self._abs(p))
        except _GONE:
            if p == "/":
                raise NotFound(f"writable layer {self.upper_dir}: no longer exists") from None
            if p in self._entries:
                self._drop(p)
            return
        old = self._entries.get(p)
        if stat.S_ISDIR(st.st_mode):
            if old is not None and old[1] == _DIR and old[0] == st.st_ino:
                self._put(p, st)
                return
            if old is not None:
                self._drop(p)
            self._scan(p, st, counted=True)
            return
        if old is not None and old[1] == _DIR:
            self._drop(p)
        self._put(p, st)

    def _scan(self, top: str, st: os.stat_result, *, counted: bool = False) -> None:
        """Index the new directory ``top`` and everything below it, watching each dir."""
        if not counted:
            self._changed += 1
        stack = [(top, st)]
        while stack:
            d, dst = stack.pop()
            self._put(d, dst)
            self._children.setdefault(d, set())
            self._watch(d)
            try:
                it = os.scandir(self._abs(d))
            except _GONE:
                self._drop(d)
                continue
            with it:
                for e in it:
                    p = _join(d, e.name)
                    self._changed += 1
                    try:
                        est = e.stat(follow_symlinks=False)
                    except _GONE:
                        continue
                    if stat.S_ISDIR(est.st_mode):
                        stack.append((p, est))
                    else:
                        self._put(p, est)

    def _watch(self, d: str) -> None:
        if self._ino is None:
            return
        if (self.max_watches is not None and d not in self._path_wd
                and len(self._wd_path) >= self.max_watches):
            self._unwatched.add(d)
            return
        try:
            wd = self._ino.add_watch(self._abs(d), _MASK)
        except OSError as e:
            if e.errno == errno.ENOSPC:
                self._unwatched.add(d)
            elif e.errno not in (errno.ENOENT, errno.ENOTDIR):
                raise
            return
        old = self._wd_path.get(wd)
        if old is not None and old != d and self._path_wd.get(old) == wd:
            del self._path_wd[old]  # a moved directory keeps its watch
        self._wd_path[wd] = d
        self._path_wd[d] = wd
        self._unwatched.discard(d)

    def _put(self, p: str, st: os.stat_result) -> None:
        """Record ``p``'s new stat in the index, the running totals and ``growing``."""
        self._fresh.add(p)
        kind = _kind(st)
        size = st.st_size if kind == _REG else 0
        old = self._entries.get(p)
        if old is not None:
            self._unref(p, old)
        elif p != "/":
            self._children.setdefault(_parent(p), set()).add(p.rpartition("/")[2])
        self._entries[p] = (st.st_ino, kind, size)
        self._counts[kind] += 1
        blocks = st.st_blocks * 512
        rec = self._inodes.get(st.st_ino)
        if rec is None:
            gone = self._gone.get(st.st_ino)
            if gone is not None and gone[1] == st.st_mtime_ns:  # moved here, not new bytes
                delta = size - gone[0]
            else:
                delta = size - (old[2] if old is not None and old[1] == _REG else 0)
            self._inodes[st.st_ino] = [1, size, blocks, st.st_mtime_ns]
            self._apparent += size
            self._on_disk += blocks
        else:  # a known inode (another hard link): refresh it from this stat
            delta = size - rec[1]
            self._apparent += size - rec[1]
            self._on_disk += blocks - rec[2]
            rec[0] += 1
            rec[1], rec[2], rec[3] = size, blocks, st.st_mtime_ns
        if delta:
            self._grow[p] = self._grow.get(p, 0) + delta

    def _unref(self, p: str, entry: tuple[int, int, int]) -> None:
        self._counts[entry[1]] -= 1
        rec = self._inodes.get(entry[0])
        if rec is None:
            return
        rec[0] -= 1
        if rec[0] <= 0:
            del self._inodes[entry[0]]
            self._gone[entry[0]] = (rec[1], rec[3])
            self._apparent -= rec[1]
            self._on_disk -= rec[2]

    def _drop(self, top: str) -> None:
        """Forget ``top`` and its whole subtree."""
        entry = self._entries.get(top)
        if entry is None:
            return
        if top != "/":
            self._children.get(_parent(top), set()).discard(top.rpartition("/")[2])
        stack = [top]
        while stack:
            p = stack.pop()
            e = self._entries.pop(p, None)
            if e is None:
                continue
            self._unref(p, e)
            self._fresh.add(p)
            if e[1] == _DIR:
                stack.extend(_join(p, n) for n in self._children.pop(p, ()))
                self._unwatched.discard(p)
                wd = self._path_wd.pop(p, None)
                if wd is not None and self._wd_path.get(wd) == p:
                    del self._wd_path[wd]
                    self._orphans.add(wd)


__all__ = ["Sample", "WritableSampler", "WritableUsage", "measure"]
