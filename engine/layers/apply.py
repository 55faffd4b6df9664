"""Extracting a layer tar safely into a snapshot dir or a flat rootfs.

The tar is untrusted.  Every name is normalised lexically, refused if it
is absolute or climbs out of the root, and then used only below ``dest``
with every existing parent ``lstat``-ed (symlinks in a parent are refused,
never followed); files are opened ``O_NOFOLLOW|O_EXCL`` after whatever was
there is removed, so even a hard link made earlier in the same tar cannot
be written through.  Device nodes are refused: a tar layer carries
deletions as ``.wh.`` files, so no legitimate layer needs one.

On error nothing is cleaned up here: ``dest`` is half-written and the
caller (the snapshotter) discards it, which is the only clean-up that is
correct whatever the failure was.
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
import threading
from collections.abc import Sequence
from typing import BinaryIO, Literal

from ..errors import Cancelled, InvalidContent, UnsafeArchive
from . import OPAQUE, WHITEOUT_PREFIX, ApplyResult
from .compression import open_uncompressed
from .merged import (
    FILE_FLAGS,
    IGNORED_XATTR_ERRNOS,
    OPAQUE_XATTR,
    ThroughSymlink,
    copy_up,
    copy_xattrs,
    is_whiteout,
    lookup,
    split_path,
)
from .tarstream import Entry, TarReader, quote

__all__ = ["apply_layer"]

MAX_NAME = 4096  # PATH_MAX: nothing longer can be created anyway
_REGULAR = {b"0", b"\0", b"7"}
_CONTENT_ERRNOS = {errno.ENOENT, errno.EEXIST, errno.ENOTDIR, errno.EISDIR, errno.ELOOP,
                   errno.ENAMETOOLONG, errno.EINVAL, errno.ENOTEMPTY, errno.EMLINK}


def apply_layer(
    stream: BinaryIO,
    dest: str,
    *,
    label: str,
    parents: Sequence[str] = (),
    whiteouts: Literal["overlay", "delete"] = "overlay",
    cancel: threading.Event | None = None,
) -> ApplyResult:
    """Extract the layer blob ``stream`` (gzip, zstd or plain) into ``dest``.

    ``whiteouts="overlay"``: ``dest`` is one layer's own dir and deletions
    become char devices 0/0 and opaque xattrs; ``parents`` are the layer
    dirs underneath, top-most first, consulted for hard link targets and
    for the metadata of parent dirs the tar does not list.
    ``whiteouts="delete"``: ``dest`` is a flat rootfs and deletions delete.
    """
    applier = _Applier(os.path.abspath(dest), label, list(parents), whiteouts, cancel)
    reader = TarReader(open_uncompressed(stream, label=label), label)
    try:
        for entry in reader:
            if cancel is not None and cancel.is_set():
                raise Cancelled(f"{label}: cancelled")
            try:
                applier.apply(entry, reader)
            except OSError as e:
                # Errors the tar's shape causes are content errors; the rest
                # (ENOSPC, EIO, EACCES…) are the host's and propagate as is.
                if e.errno not in _CONTENT_ERRNOS:
                    raise
                raise InvalidContent(f"{label}: entry {quote(entry.name)}: {e.strerror}",
                                     entry=entry.name) from e
        diff_id = reader.finish()
    finally:
        reader.close()
    applier.finish()
    return ApplyResult(diff_id, applier.size, applier.files)


class _Applier:
    def __init__(self, dest: str, label: str, parents: list[str], mode: str,
                 cancel: threading.Event | None) -> None:
        self.dest = dest
        self.cancel = cancel
        self.label = label
        self.parents = parents
        self.overlay = mode == "overlay"
        self.size = 0
        self.files = 0
        # Relative paths known to be real directories in dest (made or
        # lstat-ed by us), so a deep tree is not re-checked per entry.
        self.dirs: set[str] = {""}
        self.written: set[str] = set()  # for opaque dirs in "delete" mode
        self.dir_times: dict[str, int] = {}

    # -- helpers ---------------------------------------------------------
    def _unsafe(self, name: str, why: str) -> UnsafeArchive:
        return UnsafeArchive(f"{self.label}: entry {quote(name)}: {why}", entry=name)

    def _invalid(self, name: str, why: str) -> InvalidContent:
        return InvalidContent(f"{self.label}: entry {quote(name)}: {why}", entry=name)

    def _full(self, rel: str) -> str:
        return os.path.join(self.dest, rel) if rel else self.dest

    def _clean(self, name: str, link: str | None = None) -> list[str]:
        """``name`` (or the hard link target ``link``) as checked components."""
        value = name if link is None else link
        what = "path" if link is None else f"hard link target {quote(link)}"
        if "\0" in value:
            raise self._unsafe(name, f"{what} contains a NUL byte")
        if len(os.fsencode(value)) > MAX_NAME:
            raise self._invalid(name, f"{what} is longer than {MAX_NAME} bytes")
        comps = split_path(value)
        if comps is None:
            raise self._unsafe(name, f"{what} escapes the layer root")
        # "/" alone is the root (kaniko writes it); any other absolute name
        # is refused rather than silently re-rooted.
        if value.startswith("/") and comps:
            raise self._unsafe(name, f"{what} is absolute")
        return comps

    def _forget(self, rel: str, was_dir: bool) -> None:
        self.written.discard(rel)
        self.dirs.discard(rel)
        self.dir_times.pop(rel, None)
        if was_dir:
            prefix = rel + "/"
            for s in (self.dirs, self.written):
                s.difference_update([p for p in s if p.startswith(prefix)])
            for p in [p for p in self.dir_times if p.startswith(prefix)]:
                del self.dir_times[p]

    def _remove(self, rel: str, st: os.stat_result) -> None:
        full = self._full(rel)
        is_dir = stat.S_ISDIR(st.st_mode)
        if is_dir:
            shutil.rmtree(full)
        else:
            os.unlink(full)
        self._forget(rel, is_dir)

    def _lstat(self, rel: str) -> os.stat_result | None:
        try:
            return os.lstat(self._full(rel))
        except FileNotFoundError:
            return None

    def _ensure_dir(self, comps: list[str], name: str) -> str:
        rel = self._find_dir(comps, name, True)
        assert rel is not None
        return rel

    def _find_dir(self, comps: list[str], name: str, create: bool) -> str | None:
        """Make ``comps`` a real directory in dest, checking each component.

        ``None`` if it is missing and ``create`` is false.
        """
        rel = "/".join(comps)
        if rel in self.dirs:
            return rel
        for i in range(1, len(comps) + 1):
            sub = "/".join(comps[:i])
            if sub in self.dirs:
                continue
            st = self._lstat(sub)
            if st is not None and self.overlay and is_whiteout(st) and create:
                self._remove(sub, st)  # deleted below, re-made by this layer
                os.mkdir(self._full(sub), 0o755)
                self._opaque(self._full(sub))
                self.written.add(sub)
            elif st is None:
                if not create:
                    return None
                self._mkdir_like_lower(comps[:i], sub)
            elif stat.S_ISLNK(st.st_mode):
                raise self._unsafe(name, f"parent {quote(sub)} is a symlink")
            elif not stat.S_ISDIR(st.st_mode):
                raise self._invalid(name, f"parent {quote(sub)} is not a directory")
            self.dirs.add(sub)
        return rel

    def _mkdir_like_lower(self, comps: list[str], rel: str) -> None:
        # A parent the tar did not list: on overlay, copy the metadata of
        # the directory it will merge with (as copy-up would), else 0755
        # root as Docker's MkdirAll does.
        full = self._full(rel)
        found = None
        if self.overlay and self.parents:
            try:
                found = lookup([self.dest, *self.parents], comps)
            except ThroughSymlink:
                found = None
        os.mkdir(full, 0o755)
        self.written.add(rel)
        if found is not None and stat.S_ISDIR(found[1].st_mode):
            lower, st = found
            os.lchown(full, st.st_uid, st.st_gid)
            os.chmod(full, stat.S_IMODE(st.st_mode))
            copy_xattrs(lower, full)
            self.dir_times[rel] = st.st_mtime_ns

    def _set_xattrs(self, target: str | int, entry: Entry) -> None:
        follow = isinstance(target, int)  # an fd follows nothing, and refuses the flag
        for key, value in entry.xattrs.items():
            # The tar must not steer overlayfs (redirects, opaque, origin):
            # opaqueness travels only as .wh..wh..opq.
            if key.startswith("trusted.overlay."):
                continue
            try:
                os.setxattr(target, key, value, follow_symlinks=follow)
            except OSError as e:
                if e.errno not in IGNORED_XATTR_ERRNOS:
                    raise self._invalid(entry.name, f"xattr {key}: {e.strerror}") from None

    # -- entries ---------------------------------------------------------
    def apply(self, entry: Entry, reader: TarReader) -> None:
        name = entry.name
        self.files += 1
        comps = self._clean(name)
        kind = entry.type
        if kind in (b"3", b"4"):
            raise self._unsafe(name, "device nodes are not allowed")
        if kind not in _REGULAR and kind not in (b"1", b"2", b"5", b"6"):
            raise self._invalid(name, f"unsupported tar entry type {kind!r}")
        if not comps:
            if kind != b"5":
                raise self._unsafe(name, "entry would replace the layer root")
            self._metadata(self.dest, entry)
            self.dir_times[""] = entry.mtime_ns
            return
        base = comps[-1]
        if base.startswith(WHITEOUT_PREFIX):
            self._whiteout(comps, entry)
            return
        parent = self._ensure_dir(comps[:-1], name)
        rel = f"{parent}/{base}" if parent else base
        full = self._full(rel)
        # A hard link's target is found (and copied up) before the old
        # entry goes, in case the old entry is what leads to it.
        source = self._link_source(entry) if kind == b"1" else ""
        if source == full:
            return  # a link to itself: nothing to do
        st = self._lstat(rel)
        if st is not None and not (kind == b"5" and stat.S_ISDIR(st.st_mode)):
            self._remove(rel, st)
        self.written.add(rel)
        if kind in _REGULAR:
            self._file(full, entry, reader)
        elif kind == b"5":
            if st is None or not stat.S_ISDIR(st.st_mode):
                os.mkdir(full, 0o700)
                if self.overlay and st is not None and is_whiteout(st):
                    self._opaque(full)  # as mkdir over a whiteout does in overlayfs
            self.dirs.add(rel)
            self._metadata(full, entry)
            self.dir_times[rel] = entry.mtime_ns
        elif kind == b"2":
            os.symlink(entry.linkname, full)
            os.lchown(full, entry.uid, entry.gid)
            self._set_xattrs(full, entry)
            os.utime(full, ns=(entry.mtime_ns, entry.mtime_ns), follow_symlinks=False)
        elif kind == b"6":
            os.mkfifo(full, 0o600)
            self._metadata(full, entry)
            os.utime(full, ns=(entry.mtime_ns, entry.mtime_ns), follow_symlinks=False)
        else:
            os.link(source, full, follow_symlinks=False)

    def _metadata(self, path: str, entry: Entry) -> None:
        # chown before chmod: chown clears setuid/setgid.  ``path`` is a dir
        # or fifo we just made or lstat-ed, never a symlink.
        os.lchown(path, entry.uid, entry.gid)
        os.chmod(path, entry.mode)
        self._set_xattrs(path, entry)

    def _file(self, full: str, entry: Entry, reader: TarReader) -> None:
        fd = os.open(full, FILE_FLAGS, 0o600)
        try:
            for chunk in reader.chunks():
                if self.cancel is not None and self.cancel.is_set():
                    raise Cancelled(f"{self.label}: cancelled")  # a big file is not "between"
                view = memoryview(chunk)
                while view:
                    view = view[os.write(fd, view):]
            os.fchown(fd, entry.uid, entry.gid)
            os.fchmod(fd, entry.mode)
            self._set_xattrs(fd, entry)
            os.utime(fd, ns=(entry.mtime_ns, entry.mtime_ns))
        finally:
            os.close(fd)
        self.size += entry.size

    def _link_source(self, entry: Entry) -> str:
        """The path in dest a hard link entry should link to."""
        comps = self._clean(entry.name, entry.linkname)
        name = entry.name
        if not comps:
            raise self._unsafe(name, "hard link to a directory")
        try:
            found = lookup([self.dest, *self.parents], comps)
        except ThroughSymlink as e:
            raise self._unsafe(
                name, f"hard link target {quote(entry.linkname)} "
                      f"resolves through symlink {quote(e.prefix)}") from None
        if found is None:
            raise self._invalid(name, f"hard link target {quote(entry.linkname)} does not exist")
        path, st = found
        if stat.S_ISDIR(st.st_mode):
            raise self._unsafe(name, "hard link to a directory")
        if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
            raise self._unsafe(name, "hard link to a device node")
        if path != self._full("/".join(comps)):
            path = self._copy_up(comps, path, st, name)
        return path

    def _copy_up(self, comps: list[str], lower: str, st: os.stat_result, name: str) -> str:
        """Copy a lower layer's file into dest so a hard link can share it."""
        parent = self._ensure_dir(comps[:-1], name)
        rel = f"{parent}/{comps[-1]}" if parent else comps[-1]
        full = self._full(rel)
        self.size += copy_up(lower, st, full)
        self.written.add(rel)
        return full

    def _whiteout(self, comps: list[str], entry: Entry) -> None:
        name, base = entry.name, comps[-1]
        if base == OPAQUE:
            # An overlay layer needs the dir to carry the marker; a flat
            # rootfs has nothing to clear in a dir it lacks.
            rel = self._find_dir(comps[:-1], name, self.overlay)
            if rel is None:
                return
            if self.overlay:
                self._opaque(self._full(rel))
            else:
                self._clear_opaque(rel)
            return
        if base.startswith(OPAQUE[: 2 * len(WHITEOUT_PREFIX)]):
            return  # other .wh..wh. names are AUFS bookkeeping: Docker skips them
        target = base[len(WHITEOUT_PREFIX):]
        if target in ("", ".", ".."):
            raise self._unsafe(name, "whiteout escapes its directory")
        # Only hide what a lower layer has: overlayfs shows a whiteout in a
        # directory no lower layer has as a stray 0/0 device, and the kernel
        # itself never leaves one there.
        hides = self.overlay and self._below([*comps[:-1], target])
        parent = self._find_dir(comps[:-1], name, hides)
        if parent is None:
            return
        rel = f"{parent}/{target}" if parent else target
        st = self._lstat(rel)
        if st is not None:
            self._remove(rel, st)
        if hides:
            full = self._full(rel)
            os.mknod(full, stat.S_IFCHR, os.makedev(0, 0))
            os.lchown(full, entry.uid, entry.gid)
            os.utime(full, ns=(entry.mtime_ns, entry.mtime_ns), follow_symlinks=False)

    def _opaque(self, full: str) -> None:
        os.setxattr(full, OPAQUE_XATTR, b"y", follow_symlinks=False)

    def _below(self, comps: list[str]) -> bool:
        try:
            return bool(self.parents) and lookup(self.parents, comps) is not None
        except ThroughSymlink:
            return False  # the lowers' path goes elsewhere: nothing here to hide

    def _clear_opaque(self, rel: str) -> None:
        # Docker's rule: everything below the dir that this layer did not
        # write goes, at any depth; this layer's own entries survive.
        stack = [rel]
        while stack:
            d = stack.pop()
            with os.scandir(self._full(d)) as it:
                found = list(it)
            for e in found:
                sub = f"{d}/{e.name}" if d else e.name
                is_dir = e.is_dir(follow_symlinks=False)
                if sub in self.written:
                    if is_dir:
                        stack.append(sub)
                    continue
                if is_dir:
                    shutil.rmtree(e.path)
                else:
                    os.unlink(e.path)
                self._forget(sub, is_dir)

    def finish(self) -> None:
        # Directory mtimes last: every entry written below a dir touched it.
        for rel, ns in self.dir_times.items():
            os.utime(self._full(rel), ns=(ns, ns), follow_symlinks=False)
