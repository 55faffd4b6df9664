"""Resolve paths inside a container root the way the container would see them,
then open them without following anything.

A symlink in an image is interpreted relative to the container's root, never
the host's: ``/etc/passwd -> /host/secret`` must resolve to
``<root>/host/secret``.  :func:`secure_join` walks the path one component at
a time, expanding symlinks against ``root`` (like Docker's
``symlink.FollowSymlinkInScope``) so the result never leaves ``root``.

A root that a container (or a hostile image) controls can change between that
resolution and its use, so writers then open the resolved path with
:func:`open_dir_at`: one component at a time, each ``O_NOFOLLOW`` relative to
its parent's fd.  A symlink met there was swapped in meanwhile, and the walk
is refused instead of followed.
"""

from __future__ import annotations

import errno
import os
import posixpath
import stat
from collections.abc import Callable, Sequence

from ..errors import EngineError, InvalidArgument

MAX_LINKS = 255
DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC

#: words the refusal of a walk: (components walked so far joined by "/",
#: whether the one that stopped it is a symlink) → the error to raise
Refusal = Callable[[str, bool], EngineError]


def secure_join(root: str, path: str, *, follow_last: bool = True) -> str:
    root = os.path.abspath(root)
    parts = [p for p in posixpath.normpath("/" + path).split("/") if p]
    resolved: list[str] = []
    links = 0
    while parts:
        part = parts.pop(0)
        if part == "..":
            if resolved:
                resolved.pop()
            continue
        candidate = os.path.join(root, *resolved, part)
        if (parts or follow_last) and os.path.islink(candidate):
            links += 1
            if links > MAX_LINKS:
                raise InvalidArgument(f"{path}: too many levels of symbolic links")
            target = os.readlink(candidate)
            if target.startswith("/"):
                resolved = []
            parts = [p for p in target.split("/") if p and p != "."] + parts
            continue
        resolved.append(part)
    return os.path.join(root, *resolved)


def read_file_in(root: str, path: str, limit: int = 1 << 20) -> bytes | None:
    """Read a small file of the container's filesystem, or None if absent."""
    try:
        with open(secure_join(root, path), "rb") as f:
            return f.read(limit)
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError, PermissionError):
        return None


def open_dir_at(base_fd: int, parts: Sequence[str], *, refuse: Refusal, create: bool = False,
                on_create: Callable[[int], None] | None = None) -> int:
    """A new fd of the directory ``base/parts…``, no symlink followed on the way.

    A component that is a symlink or not a directory raises
    ``refuse(walked, is_symlink)``, worded by the caller.  A missing one raises
    FileNotFoundError unless ``create``: then it is made 0755 (less the umask)
    and its fd goes to ``on_create`` (to set owner and mode) before the walk
    goes on into it.
    """
    fd = os.dup(base_fd)
    try:
        for i, part in enumerate(parts):
            try:
                nxt = _step(fd, part, create, on_create)
            except OSError as e:
                if e.errno not in (errno.ELOOP, errno.ENOTDIR):
                    raise
                # O_DIRECTORY|O_NOFOLLOW on a symlink fails with ENOTDIR too
                link = e.errno == errno.ELOOP or stat.S_ISLNK(os.lstat(part, dir_fd=fd).st_mode)
                raise refuse("/".join(parts[:i + 1]), link) from None
            os.close(fd)
            fd = nxt
        return fd
    except BaseException:
        os.close(fd)
        raise


def _step(fd: int, part: str, create: bool, on_create: Callable[[int], None] | None) -> int:
    try:
        return os.open(part, DIR_FLAGS, dir_fd=fd)
    except FileNotFoundError:
        if not create:
            raise
    os.mkdir(part, 0o755, dir_fd=fd)
    nxt = os.open(part, DIR_FLAGS, dir_fd=fd)
    if on_create is not None:
        try:
            on_create(nxt)
        except BaseException:
            os.close(nxt)
            raise
    return nxt
