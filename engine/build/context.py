"""Where COPY and ADD read from: the build context, or another stage's root.

The context is walked once per build, with the ``.dockerignore`` filter
applied (``walk_context``): that listing is the context as BuildKit's file
sync would send it, and every COPY of the build sees only it.  Another
stage (or an image) is a mounted, read-only root with nothing filtered.

Both answer three questions the same way:

- ``resolve(pattern)``: which paths a COPY source names.  Wildcards are
  Go's ``filepath.Match`` per path component; a name without one must
  exist; the last component, if a symlink, is followed inside the tree
  (BuildKit's ``FollowSymlinks``), never out of it.
- ``checksum(paths)``: the cache key's view of the content: names, types,
  permission bits, sizes, file contents and link targets, with ownership
  for stage sources, and never the mtime (BuildKit's content hash), so a
  ``touch`` keeps the cache and a changed byte does not.
- ``entries(path)``: the tree below a path, filtered, parents first.

File digests are remembered per (inode, size, mtime, ctime) in a small
JSON file per context, so an unchanged context is not read again.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
from collections.abc import Iterator

from engine.build._go import clean
from engine.build.dockerignore import walk_context
from engine.errors import NotFound
from engine.runtime.rootpath import secure_join

__all__ = ["HashCache", "SourceNotFound", "Tree", "has_wildcards"]

_CHUNK = 1 << 20


class SourceNotFound(NotFound):
    """A COPY source without wildcards that is not there (or is ignored)."""

    def __init__(self, path: str) -> None:
        super().__init__(f'"{path}": not found', path=path)
        self.path = path


def has_wildcards(name: str) -> bool:
    """BuildKit's ``containsWildcards``: ``*``, ``?`` or ``[`` not escaped."""
    i = 0
    while i < len(name):
        if name[i] in "*?[":
            return True
        if name[i] == "\\":
            i += 1
        i += 1
    return False


def _glob_regex(pattern: str) -> re.Pattern[str]:
    """Go's ``filepath.Match`` for one component, as a regex."""
    out, i = [], 0
    while i < len(pattern):
        c = pattern[i]
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "\\" and i + 1 < len(pattern):
            i += 1
            out.append(re.escape(pattern[i]))
        elif c == "[":
            j = pattern.find("]", i + 2)
            if j < 0:
                out.append(re.escape(c))
            else:
                body = pattern[i + 1:j]
                neg = body.startswith("^")
                body = body[1:] if neg else body
                out.append("[" + ("^" if neg else "") + body.replace("\\", "\\\\") + "]")
                i = j
        else:
            out.append(re.escape(c))
        i += 1
    return re.compile("".join(out) + r"\Z", re.DOTALL)


class HashCache:
    """sha256 of file contents keyed by path and (inode, size, mtime, ctime)."""

    def __init__(self, path: str | None) -> None:
        self.path = path
        self.entries: dict[str, list] = {}
        self.dirty = False
        if path:
            try:
                with open(path) as f:
                    self.entries = json.load(f)
            except (OSError, ValueError):
                self.entries = {}

    def digest(self, full: str, rel: str, st: os.stat_result) -> str:
        key = [st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns]
        hit = self.entries.get(rel)
        if hit is not None and hit[:4] == key:
            return str(hit[4])
        h = hashlib.sha256()
        fd = os.open(full, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        with open(fd, "rb", buffering=0) as f:
            while chunk := f.read(_CHUNK):
                h.update(chunk)
        self.entries[rel] = [*key, h.hexdigest()]
        self.dirty = True
        return h.hexdigest()

    def save(self, keep: set[str] | None = None) -> None:
        """Write the digests back (only those of ``keep``, when given: files still there)."""
        if keep is not None and any(rel not in keep for rel in self.entries):
            self.entries = {k: v for k, v in self.entries.items() if k in keep}
            self.dirty = True
        if not (self.path and self.dirty):
            return
        os.makedirs(os.path.dirname(self.path), mode=0o700, exist_ok=True)
        tmp = f"{self.path}.{os.getpid()}.tmp"
        with open(tmp, "w") as f:
            f.write(json.dumps(self.entries, separators=(",", ":")))
        os.replace(tmp, self.path)
        self.dirty = False


class Tree:
    """A directory COPY reads from, with an optional include list.

    ``included`` is the context's filtered listing (relative paths → lstat)
    or None for a stage root, where everything is visible.  ``owners``:
    whether uid/gid belong to the content (stage roots) or are reset to
    root on copy (the context, as Docker does).
    """

    def __init__(self, root: str, *, included: dict[str, os.stat_result] | None = None,
                 owners: bool = True, hashes: HashCache | None = None, name: str = "") -> None:
        self.root = os.path.abspath(root)
        self.included = included
        self.owners = owners
        self.hashes = hashes or HashCache(None)
        self.name = name  # for messages: "context", "stage build"
        self._children: dict[str, list[str]] | None = None

    @classmethod
    def context(cls, root: str, patterns: list[str], hashes: HashCache) -> Tree:
        """Walk the context once through the .dockerignore filter."""
        root = os.path.abspath(root)
        included: dict[str, os.stat_result] = {}
        for rel in walk_context(root, patterns):
            included[rel] = os.lstat(os.path.join(root, rel))
        return cls(root, included=included, owners=False, hashes=hashes, name="context")

    def transfer_size(self) -> int:
        if self.included is None:
            return 0
        return sum(st.st_size for st in self.included.values() if stat.S_ISREG(st.st_mode))

    # -- lookups -----------------------------------------------------------
    def full(self, rel: str) -> str:
        return os.path.join(self.root, rel) if rel else self.root

    def lstat(self, rel: str) -> os.stat_result | None:
        if not rel:
            return os.lstat(self.root)
        if self.included is not None:
            return self.included.get(rel)
        try:
            return os.lstat(self.full(rel))
        except (FileNotFoundError, NotADirectoryError):
            return None

    def children(self, rel: str) -> list[str]:
        """Names in directory ``rel`` that are visible, sorted as bytes."""
        if self.included is not None:
            if self._children is None:
                kids: dict[str, list[str]] = {}
                for path in self.included:
                    parent, _, name = path.rpartition("/")
                    kids.setdefault(parent, []).append(name)
                for names in kids.values():
                    names.sort(key=os.fsencode)
                self._children = kids
            return self._children.get(rel, [])
        try:
            return sorted(os.listdir(self.full(rel)), key=os.fsencode)
        except (FileNotFoundError, NotADirectoryError):
            return []

    def _follow(self, rel: str) -> str:
        """``rel`` with symlinks resolved inside the tree (relative result)."""
        resolved = secure_join(self.root, rel)
        return os.path.relpath(resolved, self.root) if resolved != self.root else ""

    def resolve(self, pattern: str) -> list[str]:
        """Paths (relative, symlinks of the last component followed) named by a source."""
        cleaned = clean("/" + pattern).lstrip("/")
        if cleaned in ("", "."):
            return [""]
        parts = cleaned.split("/")
        current = [""]
        for i, part in enumerate(parts):
            nxt: list[str] = []
            for base in current:
                if has_wildcards(part):
                    rx = _glob_regex(part)
                    for name in self.children(base):
                        if rx.match(name):
                            nxt.append(f"{base}/{name}" if base else name)
                else:
                    name = part.replace("\\", "") if "\\" in part else part
                    path = f"{base}/{name}" if base else name
                    st = self.lstat(path)
                    if st is not None and stat.S_ISLNK(st.st_mode) and i < len(parts) - 1:
                        path = self._follow(path)
                        st = self.lstat(path)
                    if st is not None:
                        nxt.append(path)
            current = nxt
        if not current and not has_wildcards(pattern):
            raise SourceNotFound("/" + cleaned)
        out = []
        for path in current:
            st = self.lstat(path)
            if st is not None and stat.S_ISLNK(st.st_mode):
                target = self._follow(path)
                if self.lstat(target) is None:
                    raise SourceNotFound("/" + path)
                path = target
            out.append(path)
        return out

    def entries(self, rel: str) -> Iterator[tuple[str, os.stat_result]]:
        """``(path below rel, lstat)`` for rel's tree in depth-first pre-order (rel as "")."""
        st = self.lstat(rel)
        if st is None:
            return
        yield "", st
        if not stat.S_ISDIR(st.st_mode):
            return
        stack: list[tuple[str, str, Iterator[str]]] = [(rel, "", iter(self.children(rel)))]
        while stack:
            base, sub, names = stack[-1]
            name = next(names, None)
            if name is None:
                stack.pop()
                continue
            path = f"{base}/{name}" if base else name
            cst = self.lstat(path)
            if cst is None:
                continue
            relname = f"{sub}/{name}" if sub else name
            yield relname, cst
            if stat.S_ISDIR(cst.st_mode):
                stack.append((path, relname, iter(self.children(path))))

    # -- the cache key's view ------------------------------------------------
    def checksum(self, paths: list[str]) -> str:
        h = hashlib.sha256()
        for rel in paths:
            h.update(f"@{rel}\n".encode("utf-8", "surrogateescape"))
            for sub, st in self.entries(rel):
                full = self.full(f"{rel}/{sub}" if rel and sub else rel or sub)
                mode = st.st_mode
                kind = stat.S_IFMT(mode)
                line = f"{sub}\0{kind:o}\0{stat.S_IMODE(mode):o}"
                if self.owners:
                    line += f"\0{st.st_uid}:{st.st_gid}"
                if stat.S_ISREG(mode):
                    key = f"{rel}/{sub}" if rel and sub else rel or sub
                    line += f"\0{st.st_size}\0{self.hashes.digest(full, key, st)}"
                elif stat.S_ISLNK(mode):
                    line += "\0" + os.readlink(full)
                elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
                    line += f"\0{st.st_rdev}"
                h.update(line.encode("utf-8", "surrogateescape") + b"\n")
        return "sha256:" + h.hexdigest()
