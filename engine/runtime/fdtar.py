"""Tar streams for ``cp``, read and written through directory fds only.

Both ends of a copy may be controlled by a container: its files are read
while it runs, and a tar from ``cp -`` or from a container is written onto
the host or into the container.  So nothing here ever follows a symlink:

- :func:`open_dir` walks a path one component at a time, each opened
  ``O_NOFOLLOW`` relative to its parent's fd (``rootpath.open_dir_at``); the
  path it gets has already been resolved inside the container root
  (``secure_join``), so a symlink met now was swapped in meanwhile and the
  copy is refused.
- :class:`TarWriter` walks a tree with dir fds, opening every name
  ``O_NOFOLLOW``; symlinks are archived as symlinks.
- :func:`extract` creates every entry relative to its parent dir's fd,
  refuses names that climb out (``..``), entries that would be written
  through a symlink, hard links to outside the destination and device
  nodes, and never overwrites a directory with a non-directory (or the
  reverse), as Docker's ``cp`` refuses.
"""

from __future__ import annotations

import os
import stat
import tarfile
from collections.abc import Callable
from typing import BinaryIO

from ..errors import Conflict, EngineError, NotFound, UnsafeArchive
from ..layers.merged import split_path
from .rootpath import DIR_FLAGS, open_dir_at

__all__ = ["CHUNK", "DIR_FLAGS", "FILE_FLAGS", "Owner", "TarWriter", "extract", "open_dir"]

FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK
CHUNK = 1 << 20


def open_dir(base_fd: int, parts: list[str], *, create: bool = False, label: str = "") -> int:
    """An fd of the directory ``base/parts…``, no symlink followed on the way
    (:func:`~.rootpath.open_dir_at`), refused in ``cp``'s words."""
    def refuse(shown: str, link: bool) -> EngineError:
        if link:
            return UnsafeArchive(f"{label}{shown}: refusing to follow a symbolic link out of "
                                 "the copy")
        return Conflict(f"{label}{shown}: not a directory")

    return open_dir_at(base_fd, parts, create=create, refuse=refuse)


class TarWriter:
    """Archive entries read through dir fds.  ``skip``: container paths whose
    contents are not archived (a live container's /proc, /sys, /dev)."""

    def __init__(self, out: BinaryIO, *, skip: frozenset[str] = frozenset()) -> None:
        self.tar = tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT)
        self.links: dict[tuple[int, int], str] = {}
        self.skip = skip

    def add(self, parent_fd: int, name: str, arcname: str, *, origin: str = "",
            contents_only: bool = False) -> None:
        """Archive ``name`` (in ``parent_fd``) as ``arcname``, directories whole.

        ``contents_only``: a directory's children go in without the directory
        itself (``cp SRC/. DEST``).  ``origin`` is ``name``'s path as the
        container sees it, for ``skip``.
        """
        st = os.lstat(name, dir_fd=parent_fd)
        if not stat.S_ISDIR(st.st_mode):
            self._entry(parent_fd, name, arcname, st)
            return
        root = os.open(name, DIR_FLAGS, dir_fd=parent_fd)
        if not contents_only:
            self._entry(root, ".", arcname, os.fstat(root), is_dir_fd=True)
        # an explicit stack: a container's tree may nest deeper than recursion allows
        stack: list[tuple[int, str, str, list[str]]] = [
            (root, arcname, origin, sorted(os.listdir(root), reverse=True))]
        try:
            while stack:
                fd, arc, orig, names = stack[-1]
                if not names:
                    os.close(fd)
                    stack.pop()
                    continue
                child = names.pop()
                try:
                    cst = os.lstat(child, dir_fd=fd)
                except FileNotFoundError:
                    continue  # gone while we walked (a running container)
                carc = f"{arc}/{child}" if arc else child
                corig = f"{orig.rstrip('/')}/{child}"
                if stat.S_ISDIR(cst.st_mode):
                    cfd = os.open(child, DIR_FLAGS, dir_fd=fd)
                    self._entry(cfd, ".", carc, os.fstat(cfd), is_dir_fd=True)
                    if corig in self.skip:
                        os.close(cfd)
                        continue
                    stack.append((cfd, carc, corig, sorted(os.listdir(cfd), reverse=True)))
                else:
                    self._entry(fd, child, carc, cst)
        finally:
            for fd, *_ in stack:
                os.close(fd)

    def _entry(self, dirfd: int, name: str, arcname: str, st: os.stat_result, *,
               is_dir_fd: bool = False) -> None:
        mode = st.st_mode
        ti = tarfile.TarInfo(arcname or ".")
        ti.mode = stat.S_IMODE(mode)
        ti.uid, ti.gid = st.st_uid, st.st_gid
        ti.mtime = st.st_mtime_ns // 1_000_000_000
        ti.uname = ti.gname = ""
        if is_dir_fd or stat.S_ISDIR(mode):
            ti.type = tarfile.DIRTYPE
            self.tar.addfile(ti)
            return
        if stat.S_ISSOCK(mode):
            return  # sockets do not survive a tar (Docker skips them too)
        key = (st.st_dev, st.st_ino)
        if st.st_nlink > 1:
            first = self.links.setdefault(key, ti.name)
            if first != ti.name:
                ti.type, ti.linkname = tarfile.LNKTYPE, first
                self.tar.addfile(ti)
                return
        if stat.S_ISLNK(mode):
            ti.type, ti.linkname = tarfile.SYMTYPE, os.readlink(name, dir_fd=dirfd)
            self.tar.addfile(ti)
        elif stat.S_ISREG(mode):
            fd = os.open(name, FILE_FLAGS, dir_fd=dirfd)
            with open(fd, "rb", buffering=CHUNK) as f:
                fst = os.fstat(fd)
                if not stat.S_ISREG(fst.st_mode):
                    return  # swapped for something else since the listing
                ti.size = fst.st_size
                self.tar.addfile(ti, f)
        elif stat.S_ISFIFO(mode):
            ti.type = tarfile.FIFOTYPE
            self.tar.addfile(ti)
        elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
            ti.type = tarfile.CHRTYPE if stat.S_ISCHR(mode) else tarfile.BLKTYPE
            ti.devmajor, ti.devminor = os.major(st.st_rdev), os.minor(st.st_rdev)
            self.tar.addfile(ti)

    def close(self) -> None:
        self.tar.close()


Owner = Callable[[tarfile.TarInfo], tuple[int, int] | None]


def extract(src: BinaryIO, dest_fd: int, *, label: str, owner: Owner) -> None:
    """Extract the tar ``src`` below ``dest_fd``.  ``owner`` gives each entry's
    (uid, gid), or None to leave files owned by us."""
    dirs: list[tuple[list[str], tarfile.TarInfo]] = []
    with tarfile.open(fileobj=src, mode="r|*") as tar:
        for ti in tar:
            parts = split_path(ti.name)
            if parts is None:
                raise UnsafeArchive(f"{label}: {ti.name!r}: the path would escape the "
                                    "destination")
            if not parts:
                continue  # "." is the destination itself: leave it as it is
            if ti.type in (tarfile.XHDTYPE, tarfile.XGLTYPE):
                continue
            parent = open_dir(dest_fd, parts[:-1], create=True, label=f"{label}: ")
            try:
                _one(tar, ti, parent, parts, dest_fd, label, owner)
            finally:
                os.close(parent)
            if ti.isdir():
                dirs.append((parts, ti))
    # directories last, deepest first: writing into one changes its mtime
    for parts, ti in reversed(dirs):
        fd = open_dir(dest_fd, parts, label=f"{label}: ")
        try:
            ids = owner(ti)
            if ids is not None:
                os.fchown(fd, *ids)
            os.fchmod(fd, ti.mode & 0o7777)
            os.utime(fd, ns=(int(ti.mtime) * 1_000_000_000,) * 2)
        finally:
            os.close(fd)


def _one(tar: tarfile.TarFile, ti: tarfile.TarInfo, parent: int, parts: list[str],
         dest_fd: int, label: str, owner: Owner) -> None:
    name = parts[-1]
    shown = "/".join(parts)
    try:
        old: os.stat_result | None = os.lstat(name, dir_fd=parent)
    except FileNotFoundError:
        old = None
    if old is not None:
        if stat.S_ISDIR(old.st_mode) and not ti.isdir():
            raise Conflict(f'{label}: cannot overwrite directory "{shown}" with non-directory')
        if not stat.S_ISDIR(old.st_mode) and ti.isdir():
            raise Conflict(f'{label}: cannot overwrite non-directory "{shown}" with directory')
        if not ti.isdir():
            os.unlink(name, dir_fd=parent)
    ids = owner(ti)
    mtime = (int(ti.mtime) * 1_000_000_000,) * 2
    if ti.isdir():
        if old is None:
            os.mkdir(name, 0o700, dir_fd=parent)  # final mode once its children are in
    elif ti.isreg():
        fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                     0o600, dir_fd=parent)
        with open(fd, "wb", buffering=CHUNK) as out:
            data = tar.extractfile(ti)
            if data is not None:
                while chunk := data.read(CHUNK):
                    out.write(chunk)
            out.flush()
            if ids is not None:
                os.fchown(fd, *ids)
            os.fchmod(fd, ti.mode & 0o7777)  # after chown, which clears setuid bits
            os.utime(fd, ns=mtime)
    elif ti.issym():
        os.symlink(ti.linkname, name, dir_fd=parent)
        if ids is not None:
            os.chown(name, *ids, dir_fd=parent, follow_symlinks=False)
        os.utime(name, ns=mtime, dir_fd=parent, follow_symlinks=False)
    elif ti.islnk():
        target = split_path(ti.linkname)
        if not target:
            raise UnsafeArchive(f"{label}: {ti.name!r}: hard link to {ti.linkname!r} is "
                                "outside the destination")
        tparent = open_dir(dest_fd, target[:-1], label=f"{label}: ")
        try:
            os.link(target[-1], name, src_dir_fd=tparent, dst_dir_fd=parent,
                    follow_symlinks=False)
        except FileNotFoundError:
            raise NotFound(f"{label}: {ti.name!r}: hard link target {ti.linkname!r} is not "
                           "in the archive") from None
        finally:
            os.close(tparent)
    elif ti.isfifo():
        os.mkfifo(name, ti.mode & 0o7777, dir_fd=parent)
        if ids is not None:
            os.chown(name, *ids, dir_fd=parent, follow_symlinks=False)
    elif ti.ischr() or ti.isblk():
        raise UnsafeArchive(f"{label}: {ti.name!r}: device nodes are not copied")
    else:
        raise UnsafeArchive(f"{label}: {ti.name!r}: unsupported tar entry type {ti.type!r}")
