"""COPY and ADD into a mounted build root, through directory fds only.

The destination is an image's filesystem: its symlinks mean what they mean
inside the image (``secure_join``), and nothing is ever created through a
symlink (every component is opened ``O_NOFOLLOW`` relative to its parent),
so a hostile base image cannot make a COPY write on the host.

Semantics are BuildKit's file op (``CopyDirContentsOnly``,
``CreateDestPath``, ``FollowSymlinks`` for the source itself): a directory
source copies its contents into the destination; a file goes to
``dest/<name>`` when the destination ends in ``/`` or is a directory, else
to ``dest``; missing parents are created 0755.  Context files become
root-owned (or ``--chown``); files from another stage keep their owner
unless ``--chown``.  ``--chmod`` applies to everything copied.  Modes,
mtimes, symlinks, hard links within the copy, FIFOs and devices survive.
"""

from __future__ import annotations

import errno
import os
import stat
import tarfile
import time
from collections.abc import Callable
from dataclasses import dataclass

from engine.build.context import Tree
from engine.errors import Conflict, EngineError, InvalidArgument, UnsafeArchive
from engine.runtime.fdtar import extract
from engine.runtime.rootpath import DIR_FLAGS, open_dir_at, secure_join

__all__ = ["CopyOptions", "add_archive", "copy_source", "is_archive", "write_inline"]

_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_SRC = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC


@dataclass(frozen=True)
class CopyOptions:
    chown: tuple[int, int] | None = None
    chmod: int | None = None
    label: str = "COPY"


class _Dest:
    """The build root, opened once; directories created with our owner/mode."""

    def __init__(self, rootfs: str, opts: CopyOptions) -> None:
        self.rootfs = rootfs
        self.opts = opts
        self.root_fd = os.open(rootfs, DIR_FLAGS)

    def close(self) -> None:
        os.close(self.root_fd)

    def parts(self, path: str) -> list[str]:
        """``path`` resolved inside the root, as components (symlinks followed in-root)."""
        resolved = secure_join(self.rootfs, path)
        rel = os.path.relpath(resolved, self.rootfs)
        return [] if rel == "." else rel.split("/")

    def open_dir(self, parts: list[str]) -> int:
        """fd of root/parts, creating missing directories 0755 (BuildKit's MkdirAll)."""
        return open_dir_at(self.root_fd, parts, create=True, on_create=self._made,
                           refuse=self._refuse)

    def _made(self, fd: int) -> None:
        if self.opts.chown is not None:
            os.fchown(fd, *self.opts.chown)
        os.fchmod(fd, 0o755)  # whatever the umask

    def _refuse(self, walked: str, link: bool) -> EngineError:
        if link:
            return UnsafeArchive(f"{self.opts.label}: /{walked}: refusing to follow a "
                                 "symbolic link")
        return Conflict(f"{self.opts.label}: cannot copy to non-directory: /{walked}")

    def is_dir(self, path: str) -> bool:
        try:
            return stat.S_ISDIR(os.lstat(secure_join(self.rootfs, path)).st_mode)
        except OSError:
            return False


def _owner(st: os.stat_result, tree: Tree, opts: CopyOptions) -> tuple[int, int]:
    if opts.chown is not None:
        return opts.chown
    return (st.st_uid, st.st_gid) if tree.owners else (0, 0)


def _mode(st: os.stat_result, opts: CopyOptions) -> int:
    return opts.chmod if opts.chmod is not None else stat.S_IMODE(st.st_mode)


def _clear(dirfd: int, name: str, want_dir: bool) -> bool:
    """Make room for ``name``; True if a directory is already there (and wanted)."""
    try:
        old = os.lstat(name, dir_fd=dirfd)
    except FileNotFoundError:
        return False
    if stat.S_ISDIR(old.st_mode):
        if want_dir:
            return True
        raise Conflict(f"cannot replace directory {name} with a file")
    os.unlink(name, dir_fd=dirfd)
    return False


def _copy_data(src: int, dst: int, size: int) -> None:
    left = size
    try:
        while left > 0:
            n = os.copy_file_range(src, dst, left)
            if n == 0:
                break
            left -= n
    except OSError as e:
        if e.errno not in (errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
            raise
        while left > 0:
            n = os.sendfile(dst, src, None, left)
            if n == 0:
                break
            left -= n


class _Copier:
    def __init__(self, dest: _Dest, tree: Tree, opts: CopyOptions) -> None:
        self.dest = dest
        self.tree = tree
        self.opts = opts
        self.links: dict[tuple[int, int], tuple[int, str]] = {}
        self.fds: list[int] = []

    def entry(self, dirfd: int, name: str, full: str, st: os.stat_result) -> int | None:
        """Create one entry; for a directory return its fd (metadata set later)."""
        mode = st.st_mode
        uid, gid = _owner(st, self.tree, self.opts)
        mtime = (st.st_mtime_ns, st.st_mtime_ns)
        if stat.S_ISDIR(mode):
            if not _clear(dirfd, name, want_dir=True):
                os.mkdir(name, 0o700, dir_fd=dirfd)
            return os.open(name, DIR_FLAGS, dir_fd=dirfd)
        _clear(dirfd, name, want_dir=False)
        key = (st.st_dev, st.st_ino)
        if st.st_nlink > 1 and key in self.links:
            first_fd, first = self.links[key]
            os.link(first, name, src_dir_fd=first_fd, dst_dir_fd=dirfd, follow_symlinks=False)
            return None
        if stat.S_ISREG(mode):
            src = os.open(full, _SRC)
            try:
                out = os.open(name, _CREATE, 0o600, dir_fd=dirfd)
                try:
                    _copy_data(src, out, st.st_size)
                    os.fchown(out, uid, gid)
                    os.fchmod(out, _mode(st, self.opts))  # after chown, which clears setuid
                    os.utime(out, ns=mtime)
                finally:
                    os.close(out)
            finally:
                os.close(src)
        elif stat.S_ISLNK(mode):
            os.symlink(os.readlink(full), name, dir_fd=dirfd)
            os.chown(name, uid, gid, dir_fd=dirfd, follow_symlinks=False)
            os.utime(name, ns=mtime, dir_fd=dirfd, follow_symlinks=False)
        elif stat.S_ISFIFO(mode) or stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
            os.mknod(name, stat.S_IFMT(mode) | 0o600, st.st_rdev, dir_fd=dirfd)
            os.chown(name, uid, gid, dir_fd=dirfd, follow_symlinks=False)
            os.chmod(name, _mode(st, self.opts), dir_fd=dirfd, follow_symlinks=False)
            os.utime(name, ns=mtime, dir_fd=dirfd, follow_symlinks=False)
        else:
            return None  # sockets do not travel
        if st.st_nlink > 1:
            self.links[key] = (os.dup(dirfd), name)
        return None

    def finish_dir(self, fd: int, st: os.stat_result) -> None:
        os.fchown(fd, *_owner(st, self.tree, self.opts))
        os.fchmod(fd, _mode(st, self.opts))
        os.utime(fd, ns=(st.st_mtime_ns, st.st_mtime_ns))

    def close(self) -> None:
        for fd, _ in self.links.values():
            os.close(fd)


def copy_source(rootfs: str, tree: Tree, src: str, dest: str, opts: CopyOptions) -> int:
    """Copy ``src`` (a resolved path of ``tree``) to ``dest`` (absolute); entries copied."""
    st = tree.lstat(src)
    if st is None:
        return 0
    d = _Dest(rootfs, opts)
    copier = _Copier(d, tree, opts)
    count = 0
    try:
        if stat.S_ISDIR(st.st_mode):
            existed = d.is_dir(dest)
            top = d.open_dir(d.parts(dest))
            # a created destination takes the source directory's metadata, except for the
            # context root itself, whose mode is the host's business (a 0700 tmp dir)
            keep = existed or (src == "" and not tree.owners)
            stack: list[tuple[str, int, os.stat_result | None]] = [
                ("", top, None if keep else st)]
            for sub, est in tree.entries(src):
                if sub == "":
                    continue
                parent, _, name = sub.rpartition("/")
                while stack[-1][0] != parent:
                    _, fd, dst = stack.pop()
                    if dst is not None:
                        copier.finish_dir(fd, dst)
                    os.close(fd)
                full = tree.full(f"{src}/{sub}" if src else sub)
                child = copier.entry(stack[-1][1], name, full, est)
                count += 1
                if child is not None:
                    stack.append((sub, child, est))
            while stack:
                _, fd, dst = stack.pop()
                if dst is not None:
                    copier.finish_dir(fd, dst)
                os.close(fd)
            return count
        if dest.endswith("/") or d.is_dir(dest):
            parent, name = dest, os.path.basename(src)
        else:
            parent, name = os.path.dirname(dest.rstrip("/")) or "/", os.path.basename(dest)
        pfd = d.open_dir(d.parts(parent))
        try:
            copier.entry(pfd, name, tree.full(src), st)
        finally:
            os.close(pfd)
        return 1
    finally:
        copier.close()
        d.close()


def write_inline(rootfs: str, name: str, data: bytes, dest: str, opts: CopyOptions) -> None:
    """``COPY <<EOF dest``: a 0644 file named after the heredoc (or ``dest``)."""
    d = _Dest(rootfs, opts)
    try:
        if dest.endswith("/") or d.is_dir(dest):
            parent, fname = dest, name
        else:
            parent, fname = os.path.dirname(dest.rstrip("/")) or "/", os.path.basename(dest)
        pfd = d.open_dir(d.parts(parent))
        try:
            _clear(pfd, fname, want_dir=False)
            fd = os.open(fname, _CREATE, 0o600, dir_fd=pfd)
            try:
                os.write(fd, data)
                os.fchown(fd, *(opts.chown or (0, 0)))
                os.fchmod(fd, opts.chmod if opts.chmod is not None else 0o644)
                now = time.time_ns()
                os.utime(fd, ns=(now, now))
            finally:
                os.close(fd)
        finally:
            os.close(pfd)
    finally:
        d.close()


def is_archive(path: str) -> bool:
    """BuildKit's ``isArchivePath``: a (compressed) tar whose first header reads."""
    try:
        with tarfile.open(path, mode="r:*") as tar:
            return tar.next() is not None
    except (tarfile.TarError, OSError, EOFError, ValueError):
        return False


def add_archive(rootfs: str, path: str, dest: str, opts: CopyOptions) -> None:
    """ADD of a local archive: extract it into the directory ``dest``."""
    d = _Dest(rootfs, opts)
    try:
        fd = d.open_dir(d.parts(dest))
        owner: Callable[[tarfile.TarInfo], tuple[int, int] | None] = (
            (lambda ti: opts.chown) if opts.chown is not None else (lambda ti: (ti.uid, ti.gid)))
        try:
            with open(path, "rb") as f:
                extract(f, fd, label=f"ADD {os.path.basename(path)}",
                        owner=owner)
        except tarfile.TarError as e:
            raise InvalidArgument(f"ADD {os.path.basename(path)}: {e}") from None
        finally:
            os.close(fd)
    finally:
        d.close()
