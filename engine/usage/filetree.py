"""One layer's changes as dive shows them: the files a layer added,
modified and removed, as a list and as a tree with directory sizes.

Terms, for layer *n* of an image (0 = the base layer, as ``image layers
--layer`` counts; negative counts from the top):

- **view** — the merged filesystem of layers ``0..k`` as overlayfs shows
  it: a whiteout deletes its path and everything below it, an opaque dir
  hides what the layers below had in it.  A path's *entry* is the one the
  topmost layer that wrote it holds (:class:`.tree.Entry`).
- **mode** — what layer *n*'s view is compared against.  ``layer`` (the
  default): the view of ``0..n-1``, i.e. what this layer did.
  ``aggregated`` (dive's "aggregated changes"): the base layer's view, i.e.
  what every layer from 1 to *n* did together.  Layer 0 compares against
  nothing, so all of it is added.
- **change** — ``added``: not in the older view; ``modified``: there, but a
  newer entry replaces it (a directory only when its mode, owner or
  opaqueness changed, as :mod:`.analyze` counts it); ``removed``: in the
  older view, gone from the newer one; ``unchanged``: the same entry in both.
- **size** — an entry's tar size (a regular file's bytes, 0 for the rest);
  for ``removed``, the file bytes the removal hid.  A directory node of
  :func:`file_tree` adds up the bytes of the files below it that are still
  there (removed ones are not: they are gone from the view).

Snapshots of committed layers never change (they are keyed by ChainID), so
each layer's walk is cached in memory, a few hundred thousand entries at most.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

from ..errors import Cancelled, InvalidArgument
from ..images.config import layer_history
from ..images.store import ImageStore
from ..snapshots import Snapshotter
from .tree import Entry, LayerFiles, walk_layer

__all__ = ["ChangeKind", "FileChange", "FileNode", "file_tree", "layer_changes"]

ChangeKind = Literal["added", "modified", "removed", "unchanged"]
CHANGED: frozenset[str] = frozenset({"added", "modified", "removed"})


@dataclass(frozen=True, slots=True)
class FileChange:
    """One path of a layer's view, with what the layer did to it."""

    path: str  # "/etc/hosts"
    change: ChangeKind
    type: str  # file, dir, symlink, hardlink, char, block, fifo; for removed: what was there
    size: int  # tar size; for removed, the file bytes it hid
    link: str = ""  # a symlink's target or a hard link's first path


# -- merged views ------------------------------------------------------------------

class _Node:
    """One path of a view; ``children`` is None for anything but a directory."""

    __slots__ = ("children", "entry")

    def __init__(self, entry: Entry | None, children: dict[str, _Node] | None) -> None:
        self.entry = entry  # None: a directory no layer listed (an implicit parent)
        self.children = children

    @property
    def kind(self) -> str:
        return self.entry.kind if self.entry is not None else "dir"


def _view(layers: list[LayerFiles], cancel: threading.Event | None) -> _Node:
    root = _Node(None, {})
    for lf in layers:
        _check(cancel)
        if lf.root_opaque:
            root.children = {}
        for e in lf.entries:
            parent_path, _, name = e.path.rpartition("/")
            parent = _dir(root, parent_path)
            assert parent.children is not None
            if e.kind == "whiteout":
                parent.children.pop(name, None)
                continue
            old = parent.children.get(name)
            if e.kind != "dir":
                parent.children[name] = _Node(e, None)
            elif old is not None and old.children is not None and not e.opaque:
                # a directory stays, with what the layers below put in it
                parent.children[name] = _Node(e, old.children)
            else:
                parent.children[name] = _Node(e, {})
    return root


def _dir(root: _Node, path: str) -> _Node:
    node = root
    for part in path.split("/")[1:]:
        assert node.children is not None
        child = node.children.get(part)
        if child is None or child.children is None:  # only if a walk skipped a parent
            child = node.children[part] = _Node(None, {})
        node = child
    return node


def _bytes_under(node: _Node) -> int:
    total, stack = 0, [node]
    while stack:
        n = stack.pop()
        if n.entry is not None and n.entry.kind == "file":
            total += n.entry.size
        if n.children:
            stack.extend(n.children.values())
    return total


def _compare(new: _Node, old: _Node | None, *, unchanged: bool,
             cancel: threading.Event | None) -> Iterator[FileChange]:
    """``new`` against ``old``, depth first, names sorted as bytes (an
    explicit stack: a path can be deeper than Python's recursion limit)."""
    Frame = tuple[str, dict[str, _Node], dict[str, _Node], list[str]]

    def frame(prefix: str, a: _Node, b: _Node | None) -> Frame:
        a_kids = a.children or {}
        b_kids = (b.children or {}) if b is not None else {}
        names = sorted(a_kids.keys() | b_kids.keys(), key=_key, reverse=True)  # pop() = first
        return prefix, a_kids, b_kids, names

    stack = [frame("", new, old)]
    seen = 0
    while stack:
        prefix, a_kids, b_kids, names = stack[-1]
        if not names:
            stack.pop()
            continue
        name = names.pop()
        seen += 1
        if seen % 4096 == 0:
            _check(cancel)
        path = f"{prefix}/{name}"
        now, was = a_kids.get(name), b_kids.get(name)
        if now is None:
            assert was is not None
            yield FileChange(path, "removed", was.kind, _bytes_under(was), _link(was))
            continue
        change = _change(now, was)
        if unchanged or change != "unchanged":
            e = now.entry
            yield FileChange(path, change, now.kind, e.size if e else 0, _link(now))
        if now.children is not None:
            stack.append(frame(path, now, was if was is not None and was.children is not None
                               else None))


def _change(now: _Node, was: _Node | None) -> ChangeKind:
    if was is None:
        return "added"
    if now.entry is was.entry:
        return "unchanged"
    if now.children is not None and was.children is not None:
        a, b = now.entry, was.entry
        if a is None or b is None:
            return "unchanged"  # an implicit parent says nothing about its metadata
        if a.opaque or (a.mode, a.uid, a.gid) != (b.mode, b.uid, b.gid):
            return "modified"
        return "unchanged"
    return "modified"


def _link(node: _Node) -> str:
    return node.entry.link if node.entry is not None else ""


def _key(name: str) -> bytes:
    return name.encode("utf-8", "surrogateescape")


def _check(cancel: threading.Event | None) -> None:
    if cancel is not None and cancel.is_set():
        raise Cancelled("layer changes cancelled")


# -- walks of committed layers, cached ---------------------------------------------

_CACHE_ENTRIES = 400_000
_cache: OrderedDict[tuple[str, str], LayerFiles] = OrderedDict()
_cache_lock = threading.Lock()


def _walk(snapshots: Snapshotter, chain_id: str) -> LayerFiles:
    upper = snapshots.upper_dir(chain_id)
    key = (upper, chain_id)  # the same dir may hold another layer after a prune
    with _cache_lock:
        hit = _cache.get(key)
        if hit is not None:
            _cache.move_to_end(key)
            return hit
    lf = walk_layer(upper)
    with _cache_lock:
        _cache[key] = lf
        total = sum(len(v.entries) for v in _cache.values())
        while len(_cache) > 1 and total > _CACHE_ENTRIES:
            _, old = _cache.popitem(last=False)
            total -= len(old.entries)
    return lf


# -- the public surface --------------------------------------------------------------

def layer_changes(images: ImageStore, snapshots: Snapshotter, image_id: str, index: int, *,
                  aggregated: bool = False, unchanged: bool = False,
                  cancel: threading.Event | None = None) -> list[FileChange]:
    """What layer ``index`` of ``image_id`` changed (see the module's terms),
    depth first with names sorted as bytes; with ``unchanged``, every path of
    the layer's view is listed (dive's full tree), not only the changes.

    Raises InvalidArgument for an index out of range, Cancelled when
    ``cancel`` is set meanwhile."""
    chains = [layer["chain_id"] for layer, _ in layer_history(images.config(image_id))
              if layer is not None]
    if not -len(chains) <= index < len(chains):
        raise InvalidArgument(f"layer {index} out of range: the image has {len(chains)} "
                              "layers (0 is the base)", ref=image_id)
    n = index % len(chains)
    files = []
    for chain in chains[:n + 1]:
        _check(cancel)
        files.append(_walk(snapshots, chain))
    since = (0 if n > 0 else -1) if aggregated else n - 1
    new = _view(files, cancel)
    old = _view(files[:since + 1], cancel) if since >= 0 else None
    return list(_compare(new, old, unchanged=unchanged, cancel=cancel))


class FileNode:
    """A node of :func:`file_tree`; not changed once the function returns.

    ``size``: a file's bytes (for removed: what it hid); for a directory,
    the bytes of the files below it that are still there.  ``changed_size``:
    the part of that in added or modified files.  ``changed``: how many
    paths below it were added, modified or removed."""

    __slots__ = ("change", "changed", "changed_size", "children", "link", "name", "path",
                 "size", "type")

    def __init__(self, name: str, path: str, change: ChangeKind = "unchanged",
                 type: str = "dir", size: int = 0, link: str = "") -> None:  # noqa: A002
        self.name, self.path, self.change, self.type = name, path, change, type
        self.size, self.link = size, link
        self.changed = 0
        self.changed_size = size if change in ("added", "modified") else 0
        self.children: dict[str, FileNode] | None = {} if type == "dir" else None

    @property
    def is_dir(self) -> bool:
        return self.children is not None

    def __repr__(self) -> str:
        return f"FileNode({self.path!r}, {self.change}, {self.type}, {self.size})"


def file_tree(changes: list[FileChange]) -> FileNode:
    """The nested tree of ``changes`` (parents :func:`layer_changes` left
    out become unchanged directories), with directory sizes added up."""
    root = FileNode("", "")
    for c in changes:
        parent = root
        parts = c.path.strip("/").split("/")
        for i, part in enumerate(parts[:-1]):
            assert parent.children is not None
            child = parent.children.get(part)
            if child is None or child.children is None:
                child = parent.children[part] = FileNode(part, "/" + "/".join(parts[:i + 1]))
            parent = child
        assert parent.children is not None
        old = parent.children.get(parts[-1])
        node = FileNode(parts[-1], c.path, c.change, c.type, c.size, c.link)
        if old is not None and old.children is not None and node.children is not None:
            node.children = old.children  # listed after a child: keep what is below
        parent.children[parts[-1]] = node
    _add_up(root)
    return root


def _add_up(root: FileNode) -> None:
    order, todo = [], [root]
    while todo:
        n = todo.pop()
        order.append(n)
        if n.children:
            todo.extend(n.children.values())
    for n in reversed(order):  # children before their parents
        if not n.children:
            continue
        for c in n.children.values():
            if c.change != "removed":
                n.size += c.size
                n.changed_size += c.changed_size
            n.changed += c.changed + (c.change in CHANGED)
