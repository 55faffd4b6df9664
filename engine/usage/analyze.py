"""Image analysis: what each layer changed, dive's efficiency figures, and the
bytes a better Dockerfile would not have stored.

Terms, for one image (layers oldest first, index 0 = the base layer):

- **entry** — one item of a layer's tar as :func:`~engine.layers.write_layer`
  would write it from the layer's snapshot dir (:func:`.tree.walk_layer`):
  a file, dir, link, device, or a *whiteout* (the deletion of a path).  Its
  *size* is the tar header's: a regular file's bytes; 0 for directories,
  hard links and the rest.  This is what dive counts, so it is what every
  figure here counts.
- **version** — the bytes one regular-file entry stored.  A version is
  *alive* while some path of the final image still shows it (a hard link
  keeps it alive), and *dead* once a later layer overwrote or deleted every
  path that showed it.  The layer that did so is its *cause*.
- ``final_size`` — the bytes of all versions still alive: what the final
  image needs.  ``reclaimable_bytes`` — the bytes of dead versions, so
  ``dive.size_bytes == final_size + reclaimable_bytes`` always.  Each dead
  version is attributed to the history step of its cause, with a reason
  (:data:`HINTS`).

The layers are read from the snapshots (``upper_dir(chain_id)`` holds one
layer's diff in overlay form), never from blobs, so a built, committed,
pulled or loaded image is analysed the same way and nothing is extracted.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

from ..images.config import layer_history
from ..images.store import ImageStore
from ..snapshots import Snapshotter
from ..store import Store
from .dive_ci import DiveFigures, dive_figures
from .tree import Entry, LayerFiles, walk_layer

__all__ = [
    "HINTS",
    "Analysis",
    "CauseWaste",
    "Change",
    "Entry",
    "LayerReport",
    "StepWaste",
    "Waste",
    "analyze_image",
    "walk_layer",
]

Cause = Literal["removed", "moved", "chmod", "duplicate", "overwritten"]

HINTS: dict[str, str] = {
    "removed": "file removed in a later step: delete it in the step that creates it "
               "(or leave it in a build stage)",
    "moved": "file moved in a later step: create it at its final path in one step",
    "chmod": "chmod/chown copy (same content, metadata change): set mode and owner where "
             "the file is added (COPY --chmod/--chown, or in the same RUN)",
    "duplicate": "duplicate copy (same content re-added): drop the second copy",
    "overwritten": "file overwritten in a later step: write only its final version",
}


# -- results --------------------------------------------------------------------

@dataclass(frozen=True)
class Change:
    """One line of ``image layers``.  ``modified`` = the path was visible
    below; ``size`` is the entry's bytes, or for ``removed`` the bytes of the
    files the removal hid."""

    kind: Literal["added", "modified", "removed"]
    path: str
    type: str  # entry kind; for "removed", what was there
    size: int
    link: str = ""  # a symlink's target or a hard link's first path


@dataclass(frozen=True)
class LayerReport:
    index: int  # 0 = base layer
    step: int  # index into the config's history
    chain_id: str
    diff_id: str
    created_by: str
    size: int  # Σ tar header sizes (dive's layer size)
    changes: tuple[Change, ...]


@dataclass(frozen=True)
class Waste:
    """One dead version: ``size`` bytes stored at ``path`` by ``stored_step``,
    made useless by ``cause_step`` (history indexes)."""

    path: str
    size: int
    stored_step: int
    cause_step: int
    cause: Cause


@dataclass(frozen=True)
class CauseWaste:
    cause: Cause
    hint: str
    bytes: int
    files: tuple[Waste, ...]  # largest first


@dataclass(frozen=True)
class StepWaste:
    step: int
    created_by: str
    bytes: int
    causes: tuple[CauseWaste, ...]  # largest first


@dataclass(frozen=True)
class Analysis:
    image_id: str
    tags: tuple[str, ...]
    dive: DiveFigures
    final_size: int
    reclaimable_bytes: int
    by_step: tuple[StepWaste, ...]  # steps that caused waste, oldest first
    layers: tuple[LayerReport, ...] = field(repr=False)

    def to_json(self) -> dict[str, Any]:
        """The ``--format json`` document: dive's keys, then ours."""
        out: dict[str, Any] = {"image": self.image_id, "tags": list(self.tags)}
        out.update(self.dive.to_json())
        out["final_size_bytes"] = self.final_size
        out["reclaimable_bytes"] = self.reclaimable_bytes
        out["reclaimable_by_step"] = [{
            "step": s.step, "created_by": s.created_by, "reclaimable_bytes": s.bytes,
            "causes": [{"cause": c.cause, "hint": c.hint, "bytes": c.bytes, "files": [
                {"path": w.path, "bytes": w.size, "stored_by_step": w.stored_step}
                for w in c.files]} for c in s.causes],
        } for s in self.by_step]
        return out


# -- the merged view: which version each path shows -------------------------------

class _Version:
    __slots__ = ("alive", "entry", "fs", "layer")

    def __init__(self, layer: int, entry: Entry, fs: str) -> None:
        self.layer, self.entry, self.fs, self.alive = layer, entry, fs, 0


class _Node:
    __slots__ = ("children", "entry", "version")

    def __init__(self, entry: Entry | None, version: _Version | None = None) -> None:
        self.entry = entry
        self.version = version
        self.children: dict[str, _Node] = {}
        if version is not None:
            version.alive += 1

    def walk(self) -> Iterator[_Node]:
        stack = [self]
        while stack:
            n = stack.pop()
            yield n
            stack.extend(n.children.values())


def _bytes_under(node: _Node) -> int:
    seen = {id(n.version): n.version.entry.size for n in node.walk() if n.version}
    return sum(seen.values())


class _Merger:
    """Stacks layers one by one as overlayfs shows them, noting every change
    and every version that dies, with its cause."""

    def __init__(self, steps: list[int]) -> None:
        self.root = _Node(None)
        self.steps = steps  # layer index → history step
        self.versions: list[_Version] = []
        self.waste: list[Waste] = []
        self._hashes: dict[str, bytes] = {}

    def _digest(self, fs: str) -> bytes:
        if fs not in self._hashes:
            with open(fs, "rb") as f:
                self._hashes[fs] = hashlib.file_digest(f, "sha256").digest()
        return self._hashes[fs]

    @staticmethod
    def _kill(node: _Node, cause: Cause, dead: list[tuple[_Version, str]]) -> None:
        for n in node.walk():
            v = n.version
            if v is not None:
                v.alive -= 1
                if v.alive == 0:
                    dead.append((v, cause))

    def add(self, j: int, lf: LayerFiles) -> tuple[Change, ...]:
        changes: list[Change] = []
        dead: list[tuple[_Version, str]] = []
        firsts: dict[str, _Version] = {}  # this layer's files, for its hard links
        if lf.root_opaque:
            self._hide_children(self.root, "", changes, dead)
        for e in lf.entries:
            parent_path, _, name = e.path.rpartition("/")
            parent = self._dir(parent_path)
            old = parent.children.get(name)
            if e.kind == "whiteout":
                if old is not None:
                    changes.append(Change("removed", e.path, _kind(old), _bytes_under(old)))
                    self._kill(old, "removed", dead)
                    del parent.children[name]
                continue
            if old is not None and e.kind == "dir" and _kind(old) == "dir":
                prev = old.entry
                if e.opaque or prev is None or (prev.mode, prev.uid, prev.gid) != (
                        e.mode, e.uid, e.gid):
                    changes.append(Change("modified", e.path, "dir", 0))
                if e.opaque:
                    self._hide_children(old, e.path, changes, dead)
                old.entry = e
                continue
            version = None
            if e.kind == "file":
                version = _Version(j, e, lf.upper + e.path)
                firsts[e.path] = version
                self.versions.append(version)
            elif e.kind == "hardlink":
                version = firsts.get(e.link)
            if old is not None:
                self._kill(old, self._overwrite_cause(old, e, version), dead)
            parent.children[name] = _Node(e, version)
            changes.append(Change("modified" if old is not None else "added", e.path, e.kind,
                                  e.size, e.link))
        self._attribute(j, lf, dead)
        return tuple(changes)

    def _dir(self, path: str) -> _Node:
        node = self.root
        for part in path.split("/")[1:]:
            child = node.children.get(part)
            if child is None or _kind(child) != "dir":  # only if the walk skipped a parent
                child = node.children[part] = _Node(None)
            node = child
        return node

    def _hide_children(self, node: _Node, path: str, changes: list[Change],
                       dead: list[tuple[_Version, str]]) -> None:
        for name, child in sorted(node.children.items()):
            changes.append(Change("removed", f"{path}/{name}", _kind(child), _bytes_under(child)))
            self._kill(child, "removed", dead)
        node.children.clear()

    def _overwrite_cause(self, old: _Node, e: Entry, version: _Version | None) -> Cause:
        v = old.version
        if v is None or version is None or v.entry.size != version.entry.size:
            return "overwritten"
        if self._digest(v.fs) != self._digest(version.fs):
            return "overwritten"
        same_meta = (v.entry.mode, v.entry.uid, v.entry.gid) == (e.mode, e.uid, e.gid)
        return "duplicate" if same_meta else "chmod"

    def _attribute(self, j: int, lf: LayerFiles, dead: list[tuple[_Version, str]]) -> None:
        added: dict[int, list[Entry]] = {}
        for e in lf.entries:
            if e.kind == "file" and e.size:
                added.setdefault(e.size, []).append(e)
        digests: dict[int, set[bytes]] = {}  # of this layer's files, by size, when needed
        for v, cause in dead:
            size = v.entry.size
            if not size:
                continue
            if cause == "removed" and size in added:
                if size not in digests:
                    digests[size] = {self._digest(lf.upper + a.path) for a in added[size]}
                if self._digest(v.fs) in digests[size]:
                    cause = "moved"
            self.waste.append(Waste(v.entry.path, size, self.steps[v.layer], self.steps[j],
                                    cause))  # type: ignore[arg-type]


def _kind(node: _Node) -> str:
    return node.entry.kind if node.entry is not None else "dir"


# -- the whole image ----------------------------------------------------------------

def analyze_image(store: Store, images: ImageStore, snapshots: Snapshotter,
                  image_id: str) -> Analysis:
    """Everything ``image analyze`` and ``image layers`` show, in one pass
    over the image's snapshot dirs (content is read only to tell a chmod or
    a duplicate copy from a real overwrite, and a move from a removal)."""
    cfg = images.config(image_id)
    steps: list[int] = []
    meta: list[tuple[dict[str, Any], dict[str, Any]]] = []
    for step, (layer, entry) in enumerate(layer_history(cfg)):
        if layer is not None:
            steps.append(step)
            meta.append((layer, entry))
    created_by = {step: str(entry.get("created_by", "")) for step, (_, entry) in
                  enumerate(layer_history(cfg))}
    files = [walk_layer(snapshots.upper_dir(layer["chain_id"])) for layer, _ in meta]
    merger = _Merger(steps)
    reports = []
    for j, ((layer, entry), lf) in enumerate(zip(meta, files, strict=True)):
        changes = merger.add(j, lf)
        reports.append(LayerReport(j, steps[j], layer["chain_id"], layer["diff_id"],
                                   str(entry.get("created_by", "")), lf.size, changes))
    final = sum(v.entry.size for v in merger.versions if v.alive)
    tags: tuple[str, ...] = ()
    for s in images.summaries():
        if s.id == image_id:
            tags = s.repo_tags
    return Analysis(image_id, tags, dive_figures([lf.entries for lf in files]), final,
                    sum(w.size for w in merger.waste), _by_step(merger.waste, created_by),
                    tuple(reports))


def _by_step(waste: list[Waste], created_by: dict[int, str]) -> tuple[StepWaste, ...]:
    grouped: dict[int, dict[str, list[Waste]]] = {}
    for w in waste:
        grouped.setdefault(w.cause_step, {}).setdefault(w.cause, []).append(w)
    out = []
    for step in sorted(grouped):
        causes = [CauseWaste(cause, HINTS[cause], sum(w.size for w in ws),  # type: ignore[arg-type]
                             tuple(sorted(ws, key=lambda w: (-w.size, w.path))))
                  for cause, ws in grouped[step].items()]
        causes.sort(key=lambda c: (-c.bytes, c.cause))
        out.append(StepWaste(step, created_by.get(step, ""), sum(c.bytes for c in causes),
                             tuple(causes)))
    return tuple(out)
