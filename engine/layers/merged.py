"""Looking a path up in a stack of overlay-form layer dirs, and copying up.

Used where one layer needs to see the layers under it without mounting
them: a hard link whose target lives lower down (copied up, like the
kernel does on ``link(2)``), the metadata of a parent directory the tar
did not list, and ``docker diff``'s "Added or Changed".  Every component
is ``lstat``-ed inside each layer dir, so nothing here follows a symlink
out of the stack, not even one planted by an earlier layer.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Sequence

OPAQUE_XATTR = "trusted.overlay.opaque"
FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
IGNORED_XATTR_ERRNOS = {errno.ENOTSUP, errno.EPERM}  # what Docker ignores too


def split_path(name: str) -> list[str] | None:
    """Lexical normalisation; ``None`` if ``..`` climbs above the root.

    Lexical on purpose: nothing is resolved, so a symlink on the way cannot
    change what a name means.
    """
    out: list[str] = []
    for part in name.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if not out:
                return None
            out.pop()
        else:
            out.append(part)
    return out


class ThroughSymlink(Exception):
    """The visible object at ``prefix`` (a parent component) is a symlink."""

    def __init__(self, prefix: str) -> None:
        super().__init__(prefix)
        self.prefix = prefix


def is_whiteout(st: os.stat_result) -> bool:
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == 0


def is_opaque(path: str) -> bool:
    try:
        return os.getxattr(path, OPAQUE_XATTR, follow_symlinks=False) == b"y"
    except OSError:
        return False


def lookup(layers: Sequence[str], comps: Sequence[str]) -> tuple[str, os.stat_result] | None:
    """The top-most visible object at ``comps`` in ``layers`` (top first).

    ``None`` when the merged view has nothing there (missing, whited out,
    hidden by an opaque directory or by a non-directory parent).  Raises
    :class:`ThroughSymlink` when reaching it would resolve a symlink.
    """
    if not comps:
        raise ValueError("the root is always a directory")
    last = len(comps) - 1
    shadowed = 0  # components that some higher layer had as a directory
    for layer in layers:
        path = layer
        hide_below = False
        for i, comp in enumerate(comps):
            path = os.path.join(path, comp)
            try:
                st = os.lstat(path)
            except (FileNotFoundError, NotADirectoryError):
                break
            if is_whiteout(st):
                return None
            if i == last:
                return path, st
            if not stat.S_ISDIR(st.st_mode):
                # A non-directory under a higher layer's directory is hidden
                # by it; only a visible one is a parent of our path.
                if stat.S_ISLNK(st.st_mode) and i >= shadowed:
                    raise ThroughSymlink("/".join(comps[: i + 1]))
                return None
            shadowed = max(shadowed, i + 1)
            if is_opaque(path):
                hide_below = True
        if hide_below:
            return None
    return None


def copy_xattrs(src: str, dst: str) -> None:
    """``src``'s xattrs onto ``dst``, except overlayfs' own (a copy is never opaque)."""
    try:
        names = os.listxattr(src, follow_symlinks=False)
    except OSError:
        return
    for key in names:
        if key.startswith("trusted.overlay."):
            continue
        try:
            value = os.getxattr(src, key, follow_symlinks=False)
            os.setxattr(dst, key, value, follow_symlinks=False)
        except OSError as e:
            if e.errno not in IGNORED_XATTR_ERRNOS:
                raise


def copy_up(lower: str, st: os.stat_result, dst: str) -> int:
    """Copy the non-directory ``lower`` (lstat ``st``) to the new path ``dst``,
    metadata included, as overlayfs' copy-up does; the bytes copied."""
    copied = 0
    if stat.S_ISLNK(st.st_mode):
        os.symlink(os.readlink(lower), dst)
    elif stat.S_ISFIFO(st.st_mode):
        os.mkfifo(dst, 0o600)
    else:
        src = os.open(lower, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        try:
            out = os.open(dst, FILE_FLAGS, 0o600)
            try:
                while chunk := os.read(src, 1 << 20):
                    copied += len(chunk)
                    view = memoryview(chunk)
                    while view:
                        view = view[os.write(out, view):]
            finally:
                os.close(out)
        finally:
            os.close(src)
    os.lchown(dst, st.st_uid, st.st_gid)
    if not stat.S_ISLNK(st.st_mode):
        os.chmod(dst, stat.S_IMODE(st.st_mode))  # after chown, which clears setuid
    copy_xattrs(lower, dst)
    os.utime(dst, ns=(st.st_atime_ns, st.st_mtime_ns), follow_symlinks=False)
    return copied
