"""``docker diff`` for an overlay upper dir: what a container added, changed, deleted."""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence

from . import Change
from .merged import ThroughSymlink, is_opaque, is_whiteout, lookup

__all__ = ["changes"]


def changes(upper: str, lowers: Sequence[str]) -> list[Change]:
    """The A/C/D list of ``upper`` over ``lowers`` (top-most first), by path.

    A path in ``upper`` is "C" if the lower layers show something there,
    else "A"; a whiteout is "D".  Directories on the way to a change are in
    ``upper`` themselves (overlayfs copies them up), so they are listed
    too, as Docker lists them.  Below an opaque directory nothing of the
    lowers is visible, so everything there is "A".
    """
    out: list[Change] = []
    stack: list[tuple[str, bool]] = [("", False)]  # (dir, an ancestor is opaque)
    while stack:
        rel, hidden = stack.pop()
        with os.scandir(os.path.join(upper, rel) if rel else upper) as it:
            found = list(it)
        for e in found:
            sub = f"{rel}/{e.name}" if rel else e.name
            st = e.stat(follow_symlinks=False)
            if is_whiteout(st):
                out.append(Change("D", "/" + sub, 0))
                continue
            visible = False
            if not hidden:
                try:
                    visible = lookup(lowers, sub.split("/")) is not None
                except ThroughSymlink:
                    visible = False  # the lowers had a symlink there, not this path
            size = st.st_size if stat.S_ISREG(st.st_mode) else 0
            out.append(Change("C" if visible else "A", "/" + sub, size))
            if stat.S_ISDIR(st.st_mode):
                stack.append((sub, hidden or is_opaque(e.path)))
    out.sort(key=lambda c: os.fsencode(c.path))
    return out
