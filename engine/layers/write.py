"""Writing a directory tree as a deterministic layer tar.

The same tree gives the same bytes every time, which is what lets a
committed layer be kept as a directory and its DiffID be recomputed (or
its blob be made) later: entries in path order (each directory's names
sorted as bytes, depth first, as Go's ``filepath.Walk`` does), PAX
format, integer mtimes, no user or group names, no atime/ctime, no
record padding after the two end blocks (Go's writer adds none either).

The tree may belong to a running container, so it is walked with
directory fds and every name is opened ``O_NOFOLLOW`` relative to its
parent's fd: a directory swapped for a symlink mid-walk cannot make us
read a host file into the layer.
"""

from __future__ import annotations

import hashlib
import os
import stat
import tarfile
from typing import BinaryIO, Literal

from . import OPAQUE, WHITEOUT_PREFIX, WriteResult
from .merged import OPAQUE_XATTR
from .tarstream import BLOCK, CHUNK, XATTR_PAX

__all__ = ["diff_id_of", "write_layer"]

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK
_ENC, _ERR = "utf-8", "surrogateescape"


class _Sink:
    """Hashes everything and batches the many 512-byte headers into big writes."""

    def __init__(self, out: BinaryIO | None) -> None:
        self._out = out
        self._buf = bytearray()
        self.hash = hashlib.sha256()

    def write(self, data: bytes | memoryview) -> None:
        self.hash.update(data)
        if self._out is None:
            return
        if len(data) >= CHUNK:  # file data: no point copying it into the buffer
            self.flush()
            self._out.write(data)
            return
        self._buf += data
        if len(self._buf) >= CHUNK:
            self.flush()

    def flush(self) -> None:
        if self._out is not None and self._buf:
            self._out.write(bytes(self._buf))
            self._buf.clear()


def write_layer(
    src: str, out: BinaryIO, *, whiteouts: Literal["overlay", "none"] = "overlay"
) -> WriteResult:
    """Write ``src`` as an uncompressed tar to ``out`` (which may be a pipe).

    ``whiteouts="overlay"``: ``src`` is an upper dir; char devices 0/0 are
    written as ``.wh.<name>`` and opaque dirs get a ``.wh..wh..opq``.
    ``whiteouts="none"``: a plain tree (``docker export``), written as is.
    ``trusted.overlay.*`` xattrs are never written.
    """
    return _Writer(_Sink(out), whiteouts == "overlay").run(src)


def diff_id_of(
    src: str, *, whiteouts: Literal["overlay", "none"] = "overlay"
) -> WriteResult:
    """The DiffID and size :func:`write_layer` would give, writing nothing."""
    return _Writer(_Sink(None), whiteouts == "overlay").run(src)


def _xattrs(target: str | int) -> dict[str, str]:
    follow = isinstance(target, int)  # fds refuse the flag; they follow nothing
    try:
        names = os.listxattr(target, follow_symlinks=follow)
    except OSError:
        return {}
    out = {}
    for key in sorted(names):
        if key.startswith("trusted.overlay."):
            continue
        try:
            value = os.getxattr(target, key, follow_symlinks=follow)
        except OSError:
            continue  # removed while we looked
        # surrogateescape: tarfile then writes the raw bytes (hdrcharset=BINARY)
        out[XATTR_PAX + key] = value.decode(_ENC, _ERR)
    return out


class _Writer:
    def __init__(self, sink: _Sink, overlay: bool) -> None:
        self.sink = sink
        self.overlay = overlay
        self.size = 0
        self.links: dict[tuple[int, int], str] = {}

    def run(self, src: str) -> WriteResult:
        root = os.open(src, _DIR_FLAGS)
        try:
            if self.overlay and self._opaque(root):
                st = os.fstat(root)
                self._header(OPAQUE, tarfile.REGTYPE, st, mode=stat.S_IMODE(st.st_mode) & 0o777)
            self._walk(root)
        finally:
            os.close(root)
        self.sink.write(bytes(2 * BLOCK))
        self.sink.flush()
        return WriteResult("sha256:" + self.sink.hash.hexdigest(), self.size)

    def _opaque(self, fd: int) -> bool:
        try:
            return os.getxattr(fd, OPAQUE_XATTR) == b"y"
        except OSError:
            return False

    def _header(self, name: str, kind: bytes, st: os.stat_result, *, size: int = 0,
                mode: int | None = None, linkname: str = "",
                xattrs: dict[str, str] | None = None) -> None:
        ti = tarfile.TarInfo(name)
        ti.type = kind
        ti.mode = stat.S_IMODE(st.st_mode) if mode is None else mode
        ti.uid, ti.gid = st.st_uid, st.st_gid
        ti.mtime = st.st_mtime_ns // 1_000_000_000
        ti.size = size
        ti.linkname = linkname
        ti.uname = ti.gname = ""
        if kind in (tarfile.CHRTYPE, tarfile.BLKTYPE):
            ti.devmajor, ti.devminor = os.major(st.st_rdev), os.minor(st.st_rdev)
        if xattrs:
            ti.pax_headers = xattrs
        self.sink.write(ti.tobuf(tarfile.PAX_FORMAT, _ENC, _ERR))

    def _walk(self, root: int) -> None:
        # An explicit stack, not recursion: a container can nest deeper than
        # Python's recursion limit.  Each frame: (dir fd, prefix, sorted items).
        stack = [(root, "", self._list(root), 0)]
        while stack:
            fd, prefix, items, i = stack.pop()
            if i == len(items):
                if fd != root:
                    os.close(fd)
                continue
            stack.append((fd, prefix, items, i + 1))
            _, emitted, name, st = items[i]
            child = self._entry(fd, prefix, emitted, name, st)
            if child is not None:
                stack.append((child, f"{prefix}{name}/", self._list(child), 0))

    def _list(self, fd: int) -> list[tuple[bytes, str, str, os.stat_result]]:
        items = []
        for name in os.listdir(fd):
            try:
                st = os.lstat(name, dir_fd=fd)
            except FileNotFoundError:
                continue  # deleted while we walked
            emitted = name
            if stat.S_ISSOCK(st.st_mode):
                continue  # sockets do not survive a tar, in Docker either
            if self.overlay and stat.S_ISCHR(st.st_mode) and st.st_rdev == 0:
                emitted = WHITEOUT_PREFIX + name
            items.append((os.fsencode(emitted), emitted, name, st))
        items.sort(key=lambda t: t[0])
        return items

    def _entry(self, dirfd: int, prefix: str, emitted: str, name: str,
               st: os.stat_result) -> int | None:
        """Write one entry; the fd of a directory to descend into, or None."""
        path = prefix + emitted
        mode = st.st_mode
        if stat.S_ISDIR(mode):
            fd = os.open(name, _DIR_FLAGS, dir_fd=dirfd)
            self._header(path + "/", tarfile.DIRTYPE, os.fstat(fd), xattrs=_xattrs(fd))
            if self.overlay and self._opaque(fd):
                self._header(path + "/" + OPAQUE, tarfile.REGTYPE, st,
                             mode=stat.S_IMODE(mode) & 0o777)
            return fd
        if emitted != name:  # overlay whiteout: an empty file, mode 0, as Docker writes
            self._header(path, tarfile.REGTYPE, st, mode=0)
            return None
        proc = f"/proc/self/fd/{dirfd}/{name}"
        if st.st_nlink > 1 and not (stat.S_ISCHR(mode) or stat.S_ISBLK(mode)):
            first = self.links.setdefault((st.st_dev, st.st_ino), path)
            if first != path:
                self._header(path, tarfile.LNKTYPE, st, linkname=first, xattrs=_xattrs(proc))
                return None
        if stat.S_ISREG(mode):
            self._file(dirfd, name, path, st)
        elif stat.S_ISLNK(mode):
            target = os.readlink(name, dir_fd=dirfd)
            self._header(path, tarfile.SYMTYPE, st, linkname=target, xattrs=_xattrs(proc))
        elif stat.S_ISFIFO(mode):
            self._header(path, tarfile.FIFOTYPE, st, xattrs=_xattrs(proc))
        elif stat.S_ISCHR(mode):
            self._header(path, tarfile.CHRTYPE, st, xattrs=_xattrs(proc))
        elif stat.S_ISBLK(mode):
            self._header(path, tarfile.BLKTYPE, st, xattrs=_xattrs(proc))
        return None

    def _file(self, dirfd: int, name: str, path: str, st: os.stat_result) -> None:
        fd = os.open(name, _FILE_FLAGS, dir_fd=dirfd)
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                return  # replaced by something else since the listing
            size = st.st_size
            self._header(path, tarfile.REGTYPE, st, size=size, xattrs=_xattrs(fd))
            left = size
            while left:
                chunk = os.read(fd, min(left, CHUNK))
                if not chunk:
                    # Shrunk while we read (a running container): pad, so the
                    # tar stays well-formed and its header stays true.
                    chunk = bytes(min(left, CHUNK))
                self.sink.write(chunk)
                left -= len(chunk)
            if size % BLOCK:
                self.sink.write(bytes(BLOCK - size % BLOCK))
        finally:
            os.close(fd)
        self.size += size
