"""The local image catalog: image rows, tags and repo digests.

Terms: an *image* is a row keyed by its ID (the config digest); a *tag* is a
fully-qualified ``name:tag`` pointing at one image; a *repo digest* records
that ``name@manifest-digest`` resolves to an image.  An image with no tag is
*dangling* (``<none>:<none>``).  Names are stored fully qualified
(``docker.io/library/busybox:latest``) and shown familiar (``busybox:latest``).
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass

from ..errors import Conflict, InvalidReference, NotFound
from ..store import Store
from ..store.events import emit
from . import ImageSummary
from .config import ImageConfig, parse_config
from .reference import Reference, looks_like_id, parse


@dataclass(frozen=True)
class ImageRecord:
    """One row of the images table."""

    id: str
    top_layer: str | None
    manifest_digest: str | None
    created: float
    loaded: float
    size: int
    parent: str


def familiar_tag(full: str) -> str:
    return parse(full).familiar()


class ImageStore:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.db = store.db

    # -- lookups ---------------------------------------------------------
    def record(self, image_id: str) -> ImageRecord:
        row = self.db.one("SELECT * FROM images WHERE id = ?", (image_id,))
        if row is None:
            raise NotFound(f"No such image: {image_id}")
        return ImageRecord(row["id"], row["top_layer"], row["manifest_digest"], row["created"],
                           row["loaded"], row["size"], row["parent"])

    def config(self, image_id: str) -> ImageConfig:
        return parse_config(self.store.blobs.read(image_id), digest=image_id)

    def resolve(self, ref: str) -> str:
        """Image ID for a name, ``name:tag``, ``name@digest``, full or short ID."""
        ref = ref.strip()
        if ref.startswith("sha256:") and len(ref) == 71:
            if self.db.one("SELECT 1 FROM images WHERE id = ?", (ref,)):
                return ref
            raise NotFound(f"No such image: {ref}")
        parsed: Reference | None = None
        try:
            parsed = parse(ref)
        except InvalidReference:
            if not looks_like_id(ref):
                raise NotFound(f"No such image: {ref}") from None
        if parsed is not None:
            found = self._by_reference(parsed.tagged_or_latest())
            if found:
                return found
        if looks_like_id(ref):
            hexpart = ref.removeprefix("sha256:")
            rows = self.db.query("SELECT id FROM images WHERE id LIKE ?",
                                 (f"sha256:{hexpart}%",))
            if len(rows) == 1:
                return rows[0]["id"]
            if len(rows) > 1:
                raise Conflict(f"{ref}: ambiguous image ID prefix, matches {len(rows)} images")
        shown = parsed.tagged_or_latest().familiar() if parsed is not None else ref
        raise NotFound(f"No such image: {shown}")

    def _by_reference(self, ref: Reference) -> str | None:
        if ref.digest:
            row = self.db.one("SELECT image_id FROM repo_digests WHERE repo = ? AND digest = ?",
                              (ref.name, ref.digest))
            if row is None and ref.digest:
                # a digest names a manifest we may hold under another repo
                row = self.db.one("SELECT id AS image_id FROM images WHERE manifest_digest = ? "
                                  "OR id = ?", (ref.digest, ref.digest))
            return row["image_id"] if row else None
        row = self.db.one("SELECT image_id FROM tags WHERE name = ?", (str(ref),))
        return row["image_id"] if row else None

    def tags_of(self, image_id: str) -> list[str]:
        return [r["name"] for r in self.db.query(
            "SELECT name FROM tags WHERE image_id = ? ORDER BY created, name", (image_id,))]

    def digests_of(self, image_id: str) -> list[str]:
        return [f"{r['repo']}@{r['digest']}" for r in self.db.query(
            "SELECT repo, digest FROM repo_digests WHERE image_id = ? ORDER BY repo",
            (image_id,))]

    def summaries(self) -> list[ImageSummary]:
        tags: dict[str, list[str]] = {}
        for r in self.db.query("SELECT name, image_id FROM tags ORDER BY created, name"):
            tags.setdefault(r["image_id"], []).append(familiar_tag(r["name"]))
        digests: dict[str, list[str]] = {}
        for r in self.db.query("SELECT repo, digest, image_id FROM repo_digests ORDER BY repo"):
            name = parse(r["repo"]).familiar_name
            digests.setdefault(r["image_id"], []).append(f"{name}@{r['digest']}")
        users = self.container_counts()
        out = []
        for r in self.db.query("SELECT * FROM images ORDER BY created DESC, id"):
            labels = self._labels(r["id"])
            out.append(ImageSummary(
                id=r["id"], repo_tags=tuple(tags.get(r["id"], ())),
                repo_digests=tuple(digests.get(r["id"], ())), created=r["created"],
                size=r["size"], labels=labels, containers=users.get(r["id"], 0),
                parent_id=r["parent"], loaded=r["loaded"]))
        return out

    def _labels(self, image_id: str) -> dict[str, str]:
        try:
            return dict(self.config(image_id).labels or {})
        except Exception:  # a damaged config must not hide the image from listings
            return {}

    def container_counts(self) -> dict[str, int]:
        """Containers per image ID."""
        rows = self.db.query("SELECT image_id, COUNT(*) AS n FROM containers GROUP BY image_id")
        return {r["image_id"]: r["n"] for r in rows}

    def container_users(self, image_id: str) -> list[tuple[str, bool]]:
        """``(container id, running)`` for containers made from ``image_id``."""
        rows = self.db.query("SELECT id, state FROM containers WHERE image_id = ?",
                             (image_id,))
        return [(r["id"], r["state"] in ("running", "paused", "restarting")) for r in rows]

    def children(self, image_id: str) -> list[str]:
        return [r["id"] for r in self.db.query("SELECT id FROM images WHERE parent = ?",
                                               (image_id,))]

    # -- mutations -------------------------------------------------------
    def set_tag(self, c: sqlite3.Connection, ref: Reference, image_id: str, now: float) -> None:
        """Point ``ref`` at ``image_id`` inside the caller's transaction."""
        name = str(ref.tagged_or_latest())
        old = c.execute("SELECT image_id FROM tags WHERE name = ?", (name,)).fetchone()
        if old is not None and old["image_id"] == image_id:
            return
        c.execute("INSERT OR REPLACE INTO tags VALUES (?, ?, ?)", (name, image_id, now))
        emit(c, "image", "tag", image_id, name=familiar_tag(name))

    def tag(self, source: str, target: str) -> str:
        import time

        image_id = self.resolve(source)
        ref = parse(target)
        if ref.digest:
            raise InvalidReference(f'Error parsing reference: "{target}" is not a valid '
                                   "repository/tag: refusing to create a tag with a digest "
                                   "reference")
        with self.db.write() as c:
            self.set_tag(c, ref, image_id, time.time())
        return image_id

    def untag(self, c: sqlite3.Connection, name: str, image_id: str) -> None:
        c.execute("DELETE FROM tags WHERE name = ?", (name,))
        emit(c, "image", "untag", image_id, name=familiar_tag(name))

    def inspect(self, image_id: str) -> dict:
        rec = self.record(image_id)
        cfg = self.config(image_id)
        raw = cfg.raw

        return {
            "Id": image_id,
            "RepoTags": [familiar_tag(t) for t in self.tags_of(image_id)],
            "RepoDigests": [
                f"{parse(d.split('@')[0]).familiar_name}@{d.split('@')[1]}"
                for d in self.digests_of(image_id)],
            "Parent": rec.parent,
            "Comment": raw.get("comment", ""),
            "Created": cfg.created_text,
            "DockerVersion": raw.get("docker_version", ""),
            "Author": raw.get("author", ""),
            "Config": _docker_config(raw.get("config") or {}),
            "Architecture": raw.get("architecture", ""),
            "Variant": raw.get("variant") or None,
            "Os": raw.get("os", ""),
            "Size": rec.size,
            "GraphDriver": {"Name": "overlay2", "Data": None},
            "RootFS": {"Type": "layers", "Layers": list(cfg.diff_ids)},
            "Metadata": {"LastTagTime": ""},
            "Descriptor": ({"mediaType": "", "digest": rec.manifest_digest}
                           if rec.manifest_digest else None),
        }


def _docker_config(cfg: dict) -> dict:
    """The image config's ``config`` in the key order and defaults Docker shows."""
    keys = ["Hostname", "Domainname", "User", "AttachStdin", "AttachStdout", "AttachStderr",
            "Tty", "OpenStdin", "StdinOnce", "Env", "Cmd", "Image", "Volumes", "WorkingDir",
            "Entrypoint", "OnBuild", "Labels"]
    defaults = {"Hostname": "", "Domainname": "", "User": "", "AttachStdin": False,
                "AttachStdout": False, "AttachStderr": False, "Tty": False, "OpenStdin": False,
                "StdinOnce": False, "Env": None, "Cmd": None, "Image": "", "Volumes": None,
                "WorkingDir": "", "Entrypoint": None, "OnBuild": None, "Labels": None}
    out = {k: cfg.get(k, defaults[k]) for k in keys}
    for k, v in cfg.items():
        if k not in out:
            out[k] = v
    return json.loads(json.dumps(out))
