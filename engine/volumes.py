"""Named volumes: ``volumes/<name>/_data`` plus a row (Docker's local driver).

Lifecycle: created explicitly (``volume create``) or on first use by a
container (``-v name:/path``, or anonymously from an image's VOLUME); seeded
once from the image's content at the mount point when first mounted empty;
removed by ``volume rm`` (refused while a container references it) or by
``volume prune`` (anonymous ones only, unless ``all``) or ``rm -v``.
"""

from __future__ import annotations

import json
import os
import re
import time
from dataclasses import dataclass, field

from .errors import Conflict, InvalidArgument, NotFound
from .store import Store
from .store.events import emit

NAME_RE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]+$")


@dataclass(frozen=True)
class Volume:
    """A named volume."""

    name: str
    mountpoint: str
    created: float
    labels: dict[str, str] = field(default_factory=dict)
    anonymous: bool = False
    driver: str = "local"
    options: dict[str, str] = field(default_factory=dict)
    links: int = 0  # containers referencing it


class VolumeStore:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.db = store.db

    def path(self, name: str) -> str:
        return self.store.path("volumes", name, "_data")

    def _vol(self, row, links: int) -> Volume:
        return Volume(row["name"], self.path(row["name"]), row["created"],
                      json.loads(row["labels"]), bool(row["anonymous"]), row["driver"],
                      json.loads(row["options"]), links)

    def links(self) -> dict[str, int]:
        return {r["volume"]: r["n"] for r in self.db.query(
            "SELECT volume, COUNT(*) AS n FROM container_volumes GROUP BY volume")}

    def list(self) -> list[Volume]:
        links = self.links()
        return [self._vol(r, links.get(r["name"], 0))
                for r in self.db.query("SELECT * FROM volumes ORDER BY name")]

    def get(self, name: str) -> Volume:
        row = self.db.one("SELECT * FROM volumes WHERE name = ?", (name,))
        if row is None:
            raise NotFound(f"get {name}: no such volume")
        return self._vol(row, self.links().get(name, 0))

    def exists(self, name: str) -> bool:
        return self.db.one("SELECT 1 FROM volumes WHERE name = ?", (name,)) is not None

    def create(self, name: str = "", *, labels: dict[str, str] | None = None,
               anonymous: bool = False, driver: str = "local",
               options: dict[str, str] | None = None) -> Volume:
        if driver != "local":
            raise InvalidArgument(f'error looking up volume plugin {driver}: plugin "{driver}" '
                                  "not found")
        if not name:
            name, anonymous = os.urandom(32).hex(), True
        if not NAME_RE.match(name):
            raise InvalidArgument(f'create {name}: "{name}" includes invalid characters for a '
                                  "local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are "
                                  "allowed. If you intended to pass a host directory, use "
                                  "absolute path")
        with self.db.write() as c:
            if c.execute("SELECT 1 FROM volumes WHERE name = ?", (name,)).fetchone():
                return self.get(name)  # Docker: creating an existing volume is a no-op
            os.makedirs(self.path(name), mode=0o755, exist_ok=True)
            c.execute("INSERT INTO volumes (name, driver, created, labels, options, anonymous) "
                      "VALUES (?, ?, ?, ?, ?, ?)",
                      (name, driver, time.time(), json.dumps(labels or {}),
                       json.dumps(options or {}), int(anonymous)))
            emit(c, "volume", "create", name, driver=driver)
        return self.get(name)

    def remove(self, name: str, *, force: bool = False) -> None:
        with self.db.write() as c:
            row = c.execute("SELECT 1 FROM volumes WHERE name = ?", (name,)).fetchone()
            if row is None:
                if force:
                    return
                raise NotFound(f"get {name}: no such volume")
            users = c.execute("SELECT container_id FROM container_volumes WHERE volume = ?",
                              (name,)).fetchall()
            if users:
                ids = ", ".join(u["container_id"] for u in users)
                raise Conflict(f"remove {name}: volume is in use - [{ids}]")
            c.execute("DELETE FROM volumes WHERE name = ?", (name,))
            emit(c, "volume", "destroy", name)
        import shutil  # here, not at the top: most commands never need it

        shutil.rmtree(self.store.path("volumes", name), ignore_errors=True)

    def size(self, name: str) -> int:
        total = 0
        for dirpath, _, files in os.walk(self.path(name)):
            for f in files:
                try:
                    total += os.lstat(os.path.join(dirpath, f)).st_size
                except OSError:
                    pass
        return total

    def seed(self, name: str, source: str) -> None:
        """Copy ``source`` (the image's content at the mount point) into an empty volume."""
        dest = self.path(name)
        if os.listdir(dest) or not os.path.isdir(source):
            return
        import shutil

        for entry in os.listdir(source):
            s, d = os.path.join(source, entry), os.path.join(dest, entry)
            if os.path.isdir(s) and not os.path.islink(s):
                shutil.copytree(s, d, symlinks=True)
            else:
                shutil.copy2(s, d, follow_symlinks=False)
        st = os.stat(source)
        os.chown(dest, st.st_uid, st.st_gid)
        os.chmod(dest, st.st_mode & 0o7777)
