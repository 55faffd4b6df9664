"""The overlay snapshotter: ``snapshots/<n>/fs`` + ``snapshots/<n>/work``.

``<n>`` is the snapshot's row id — a short number, so that the lower-dir
list of a 128-layer image stays small (see mount.py for the rest of that
story).  Each committed snapshot's ``fs`` holds only its own layer, with
whiteouts in overlay form (char device 0/0, ``trusted.overlay.opaque``).
Mount options pin ``redirect_dir=off``, ``index=off`` and ``metacopy=off``
so an active snapshot's upper directory stays a complete, correct diff.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator

from ..errors import AlreadyExists, Conflict, NotFound
from ..store import Database
from . import Info, Mount, Usage

OVERLAY_OPTS = ("index=off", "redirect_dir=off", "metacopy=off")


class OverlaySnapshotter:
    def __init__(self, db: Database, root: str) -> None:
        self.db = db
        self.root = root  # …/snapshots

    # -- lookups ---------------------------------------------------------
    def _row(self, key: str):
        row = self.db.one("SELECT * FROM snapshots WHERE key = ?", (key,))
        if row is None:
            raise NotFound(f"snapshot {key}: not found")
        return row

    def _info(self, row) -> Info:
        return Info(row["key"], row["kind"], row["parent"], row["id"], row["created"],
                    json.loads(row["labels"]))

    def stat(self, key: str) -> Info:
        return self._info(self._row(key))

    def exists(self, key: str) -> bool:
        return self.db.one("SELECT 1 FROM snapshots WHERE key = ?", (key,)) is not None

    def walk(self) -> Iterator[Info]:
        for row in self.db.query("SELECT * FROM snapshots ORDER BY id"):
            yield self._info(row)

    def dir(self, snap_id: int) -> str:
        return os.path.join(self.root, str(snap_id))

    def upper_dir(self, key: str) -> str:
        return os.path.join(self.dir(self._row(key)["id"]), "fs")

    def lower_dirs(self, key: str) -> list[str]:
        """The ``fs`` dirs of ``key``'s committed ancestors, top-most first."""
        rows = self.db.query(
            "WITH RECURSIVE chain(k, depth) AS ("
            "  SELECT parent, 1 FROM snapshots WHERE key = ?"
            "  UNION ALL SELECT s.parent, depth + 1 FROM snapshots s JOIN chain ON s.key = chain.k"
            ") SELECT s.id FROM chain JOIN snapshots s ON s.key = chain.k ORDER BY depth",
            (key,))
        return [os.path.join(self.dir(r["id"]), "fs") for r in rows]

    def parent_dirs(self, parent: str | None) -> list[str]:
        """``fs`` dirs of ``parent`` and its ancestors, top-most first."""
        if parent is None:
            return []
        return [os.path.join(self.dir(self._row(parent)["id"]), "fs"), *self.lower_dirs(parent)]

    # -- lifecycle -------------------------------------------------------
    def _create(self, key: str, parent: str | None, kind: str,
                labels: dict[str, str] | None) -> int:
        with self.db.write() as c:
            if c.execute("SELECT 1 FROM snapshots WHERE key = ?", (key,)).fetchone():
                raise AlreadyExists(f"snapshot {key}: already exists")
            if parent is not None:
                prow = c.execute("SELECT kind FROM snapshots WHERE key = ?", (parent,)).fetchone()
                if prow is None:
                    raise NotFound(f"snapshot {parent}: parent not found")
                if prow["kind"] != "committed":
                    raise Conflict(f"snapshot {parent}: parent is not committed")
            cur = c.execute(
                "INSERT INTO snapshots (key, kind, parent, created, labels) VALUES (?,?,?,?,?)",
                (key, kind, parent, time.time(), json.dumps(labels or {})))
            snap_id = int(cur.lastrowid or 0)
            d = self.dir(snap_id)
            if os.path.exists(d):  # debris of a crashed run with a reused id
                remove_tree(d)
            os.makedirs(os.path.join(d, "fs"), mode=0o755)
            if kind == "active":
                os.mkdir(os.path.join(d, "work"), 0o700)
        return snap_id

    def prepare(self, key: str, parent: str | None = None, *,
                labels: dict[str, str] | None = None) -> list[Mount]:
        self._create(key, parent, "active", labels)
        return self.mounts(key)

    def view(self, key: str, parent: str | None) -> list[Mount]:
        self._create(key, parent, "view", None)
        return self.mounts(key)

    def mounts(self, key: str) -> list[Mount]:
        row = self._row(key)
        fs = os.path.join(self.dir(row["id"]), "fs")
        lowers = self.lower_dirs(key)
        if row["kind"] != "active":
            if row["kind"] == "committed":
                lowers = [fs, *lowers]
            if not lowers:
                return [Mount("bind", fs, ("ro", "rbind"))]
            if len(lowers) == 1:
                return [Mount("bind", lowers[0], ("ro", "rbind"))]
            return [Mount("overlay", "overlay",
                          ("ro", *OVERLAY_OPTS, "lowerdir=" + ":".join(lowers)))]
        if not lowers:
            return [Mount("bind", fs, ("rw", "rbind"))]
        work = os.path.join(self.dir(row["id"]), "work")
        return [Mount("overlay", "overlay", (*OVERLAY_OPTS, "lowerdir=" + ":".join(lowers),
                                             f"upperdir={fs}", f"workdir={work}"))]

    def commit(self, name: str, key: str, *, size: int | None = None) -> Info:
        """Turn active ``key`` into committed ``name``; the directory stays."""
        with self.db.write() as c:
            row = c.execute("SELECT * FROM snapshots WHERE key = ?", (key,)).fetchone()
            if row is None:
                raise NotFound(f"snapshot {key}: not found")
            if row["kind"] != "active":
                raise Conflict(f"snapshot {key}: only an active snapshot can be committed")
            if c.execute("SELECT 1 FROM snapshots WHERE key = ?", (name,)).fetchone():
                raise AlreadyExists(f"snapshot {name}: already exists")
            if size is None:
                size = self._measure(os.path.join(self.dir(row["id"]), "fs")).size
            c.execute("UPDATE snapshots SET key = ?, kind = 'committed', size = ? WHERE id = ?",
                      (name, size, row["id"]))
        remove_tree(os.path.join(self.dir(row["id"]), "work"))
        return self.stat(name)

    def remove(self, key: str) -> None:
        with self.db.write() as c:
            row = c.execute("SELECT id FROM snapshots WHERE key = ?", (key,)).fetchone()
            if row is None:
                raise NotFound(f"snapshot {key}: not found")
            if c.execute("SELECT 1 FROM snapshots WHERE parent = ? LIMIT 1", (key,)).fetchone():
                raise Conflict(f"snapshot {key}: is the parent of other snapshots")
            c.execute("DELETE FROM snapshots WHERE id = ?", (row["id"],))
            # rename first so the id's directory is free even if the rmtree is cut short
            d = self.dir(row["id"])
            doomed = os.path.join(os.path.dirname(self.root), "tmp",
                                  f"rm-{os.getpid()}-{row['id']}")
            if os.path.exists(d):
                os.rename(d, doomed)
        remove_tree(doomed)

    def usage(self, key: str) -> Usage:
        row = self._row(key)
        return self._measure(os.path.join(self.dir(row["id"]), "fs"))

    @staticmethod
    def _measure(path: str) -> Usage:
        size = inodes = 0
        seen: set[tuple[int, int]] = set()
        for dirpath, dirnames, filenames in os.walk(path):
            inodes += len(dirnames)
            for name in filenames:
                st = os.lstat(os.path.join(dirpath, name))
                inodes += 1
                if st.st_nlink > 1:
                    if (st.st_dev, st.st_ino) in seen:
                        continue
                    seen.add((st.st_dev, st.st_ino))
                if (st.st_mode & 0o170000) == 0o100000:
                    size += st.st_size
        return Usage(size, inodes)


def remove_tree(path: str) -> None:
    """``rm -rf path`` without following symlinks; a directory that refuses an
    entry is made writable and asked again.  Not ``shutil.rmtree``: its import
    (with bz2 and lzma) costs ~3 ms, and ``run --rm`` removes a tree every time."""
    if not os.path.lexists(path):
        return
    if not os.path.isdir(path) or os.path.islink(path):
        os.unlink(path)
        return
    parent = os.open(os.path.dirname(path) or ".", os.O_RDONLY | os.O_DIRECTORY)
    try:
        _remove_in(parent, os.path.basename(path))
    finally:
        os.close(parent)


def _remove_in(dir_fd: int, name: str) -> None:
    """Remove the directory ``name`` of ``dir_fd`` and all below it."""
    try:
        fd = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=dir_fd)
    except FileNotFoundError:
        return
    try:
        with os.scandir(fd) as entries:
            children = [(e.name, e.is_dir(follow_symlinks=False)) for e in entries]
        for child, is_dir in children:
            if is_dir:
                _remove_in(fd, child)
            else:
                _retry(os.unlink, child, fd)
    finally:
        os.close(fd)
    _retry(os.rmdir, name, dir_fd)


def _retry(remove: Callable[..., None], name: str, dir_fd: int) -> None:
    try:
        remove(name, dir_fd=dir_fd)
    except FileNotFoundError:
        pass
    except OSError:
        try:
            os.chmod(dir_fd, 0o700)
            remove(name, dir_fd=dir_fd)
        except OSError:
            pass
