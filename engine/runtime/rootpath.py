"""Resolve paths inside a container root the way the container would see them.

A symlink in an image is interpreted relative to the container's root, never
the host's: ``/etc/passwd -> /host/secret`` must resolve to
``<root>/host/secret``.  :func:`secure_join` walks the path one component at
a time, expanding symlinks against ``root`` (like Docker's
``symlink.FollowSymlinkInScope``) so the result never leaves ``root``.
"""

from __future__ import annotations

import os
import posixpath

from ..errors import InvalidArgument

MAX_LINKS = 255


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
