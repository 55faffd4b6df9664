"""How much of the disk a tree takes, counted the way ``du -sb`` counts.

Every inode once (hard links once), directories and symlinks included,
apparent sizes (st_size) — plus the on-disk figure (st_blocks × 512) for
``du -s``.  Committed layers never change, so their footprint is cached
by snapshot directory for the life of the process.
"""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Footprint:
    apparent: int
    on_disk: int
    inodes: int

    def __add__(self, other: Footprint) -> Footprint:
        return Footprint(self.apparent + other.apparent, self.on_disk + other.on_disk,
                         self.inodes + other.inodes)


ZERO = Footprint(0, 0, 0)
_cache: dict[str, Footprint] = {}


def footprint(path: str, *, seen: set[tuple[int, int]] | None = None,
              include_root: bool = True) -> Footprint:
    """du-style size of ``path`` (file or tree); ``seen`` dedupes hard links
    across several calls; ``include_root=False`` counts only what is inside."""
    seen = set() if seen is None else seen
    apparent = on_disk = inodes = 0
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return ZERO
    stack = [path] if os.path.isdir(path) and not os.path.islink(path) else []
    key = (st.st_dev, st.st_ino)
    if key not in seen:
        seen.add(key)
        if include_root:
            apparent, on_disk, inodes = st.st_size, st.st_blocks * 512, 1
    while stack:
        d = stack.pop()
        try:
            it = os.scandir(d)
        except OSError:
            continue
        with it:
            for e in it:
                try:
                    s = e.stat(follow_symlinks=False)
                except OSError:
                    continue
                k = (s.st_dev, s.st_ino)
                if k in seen:
                    continue
                seen.add(k)
                apparent += s.st_size
                on_disk += s.st_blocks * 512
                inodes += 1
                if e.is_dir(follow_symlinks=False):
                    stack.append(e.path)
    return Footprint(apparent, on_disk, inodes)


def content(path: str) -> int:
    """Docker's SizeRw: bytes of everything but directories (hard links once)."""
    total = 0
    seen: set[tuple[int, int]] = set()
    for dirpath, _, files in os.walk(path):
        for name in files:
            try:
                st = os.lstat(os.path.join(dirpath, name))
            except OSError:
                continue
            if (st.st_dev, st.st_ino) not in seen:
                seen.add((st.st_dev, st.st_ino))
                total += st.st_size
    return total


def cached(path: str) -> Footprint:
    """Footprint of an immutable tree (a committed layer's directory)."""
    fp = _cache.get(path)
    if fp is None:
        fp = _cache[path] = footprint(path)
    return fp


def forget(path: str) -> None:
    _cache.pop(path, None)
