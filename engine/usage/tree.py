"""Trees: one layer's files, and the family tree of layers across images.

**A layer's files.** :func:`walk_layer` lists a snapshot dir (one layer's
diff in overlay form) as the entries :func:`~engine.layers.write_layer`
would put in its tar, in the same order, without reading file contents:
an *entry*'s size is its tar header size (a regular file's bytes; 0 for
directories, hard links after the first path of an inode, and the rest); a
char device 0/0 is a *whiteout* (the deletion of its path); an opaque dir
hides what the layers below had in it.  :class:`PathNode` is the plain path
tree dive builds from such entries (:mod:`.dive_ci`).

**The family tree.** Layers are keyed by ChainID, so two images share a
node exactly when they share that layer *and everything below it*.  A
node's children are the layers stacked directly on it; an image hangs under
its top layer.  Only layers some image uses are in the tree (an image with
no layers at all hangs under a root with an empty ``chain_id``).
:func:`render` prints it the way ``tree`` does; by default a run of layers
with one child each and no image of their own is folded into one line, since
the interesting places in a family tree are where it branches.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from ..humanize import size_text
from ..images.config import layer_history
from ..images.digest import short_id
from ..images.store import ImageStore
from ..layers.merged import OPAQUE_XATTR
from ..store import Store
from .layers import chains_by_image

__all__ = ["Entry", "LayerFiles", "PathNode", "TreeNode", "layer_tree", "render", "tree_totals",
           "walk_layer"]


# -- one layer's files ---------------------------------------------------------------

Kind = Literal["file", "dir", "symlink", "hardlink", "whiteout", "char", "block", "fifo"]


@dataclass(frozen=True, slots=True)
class Entry:
    """One entry of a layer, in tar terms."""

    path: str  # "/etc/hosts"; for a whiteout, the path it deletes
    kind: Kind
    size: int  # tar header size: file bytes, 0 for everything else
    mode: int  # permission bits
    uid: int
    gid: int
    link: str = ""  # symlink target, or the first path of a hard link ("/bin/[")
    opaque: bool = False  # a dir that hides everything the layers below had in it


@dataclass(frozen=True)
class LayerFiles:
    entries: tuple[Entry, ...]
    root_opaque: bool
    upper: str

    @property
    def size(self) -> int:
        return sum(e.size for e in self.entries)


def walk_layer(upper: str) -> LayerFiles:
    """A snapshot dir's entries in :func:`write_layer`'s order (depth first,
    names sorted as bytes, whiteouts sorted under their ``.wh.`` name), with
    the same hard-link rule: the first path of an inode carries its bytes."""
    entries: list[Entry] = []
    links: dict[tuple[int, int], str] = {}
    stack: list[tuple[str, list[tuple[bytes, str, os.stat_result]]]] = [("", _scan(upper))]
    while stack:
        prefix, items = stack[-1]
        if not items:
            stack.pop()
            continue
        _, name, st = items.pop()
        path = f"{prefix}/{name}"
        full = upper + path
        mode = st.st_mode
        perm = stat.S_IMODE(mode)
        if stat.S_ISCHR(mode) and st.st_rdev == 0:
            entries.append(Entry(path, "whiteout", 0, 0, st.st_uid, st.st_gid))
        elif stat.S_ISDIR(mode):
            entries.append(Entry(path, "dir", 0, perm, st.st_uid, st.st_gid,
                                 opaque=_opaque(full)))
            stack.append((path, _scan(full)))
        elif st.st_nlink > 1 and not (stat.S_ISCHR(mode) or stat.S_ISBLK(mode)) and (
                first := links.setdefault((st.st_dev, st.st_ino), path)) != path:
            entries.append(Entry(path, "hardlink", 0, perm, st.st_uid, st.st_gid, link=first))
        elif stat.S_ISREG(mode):
            entries.append(Entry(path, "file", st.st_size, perm, st.st_uid, st.st_gid))
        elif stat.S_ISLNK(mode):
            entries.append(Entry(path, "symlink", 0, perm, st.st_uid, st.st_gid,
                                 link=os.readlink(full)))
        else:
            kind: Kind = ("fifo" if stat.S_ISFIFO(mode) else
                          "block" if stat.S_ISBLK(mode) else "char")
            entries.append(Entry(path, kind, 0, perm, st.st_uid, st.st_gid))
    return LayerFiles(tuple(entries), _opaque(upper), upper)


def _scan(path: str) -> list[tuple[bytes, str, os.stat_result]]:
    """A directory's items, sorted *descending* so ``pop()`` gives the first."""
    items = []
    with os.scandir(path) as it:
        for d in it:
            try:
                st = d.stat(follow_symlinks=False)
            except FileNotFoundError:
                continue
            if stat.S_ISSOCK(st.st_mode):
                continue  # never written to a tar
            key = os.fsencode(d.name)
            if stat.S_ISCHR(st.st_mode) and st.st_rdev == 0:
                key = b".wh." + key
            items.append((key, d.name, st))
    items.sort(key=lambda t: t[0], reverse=True)
    return items


def _opaque(path: str) -> bool:
    try:
        return os.getxattr(path, OPAQUE_XATTR, follow_symlinks=False) == b"y"
    except OSError:
        return False


class PathNode:
    """A node of dive's per-layer file tree (see :mod:`.dive_ci`)."""

    __slots__ = ("children", "is_dir", "size")

    def __init__(self, size: int = 0, is_dir: bool = False) -> None:
        self.children: dict[str, PathNode] = {}
        self.size, self.is_dir = size, is_dir

    def copy(self) -> PathNode:
        new = PathNode(self.size, self.is_dir)
        stack = [(self, new)]
        while stack:
            src, dst = stack.pop()
            for name, child in src.children.items():
                dst.children[name] = twin = PathNode(child.size, child.is_dir)
                stack.append((child, twin))
        return new

    def get(self, path: str) -> PathNode | None:
        node: PathNode | None = self
        for name in path.strip("/").split("/"):
            if name and node is not None:
                node = node.children.get(name)
        return node

    def add(self, path: str, size: int, is_dir: bool) -> None:
        node = self
        for name in path.strip("/").split("/"):
            if name:
                child = node.children.get(name)
                if child is None:  # a parent the layer does not list: an empty payload
                    child = node.children[name] = PathNode()
                node = child
        node.size, node.is_dir = size, is_dir

    def remove(self, path: str) -> None:
        parent, _, name = path.rpartition("/")
        node = self.get(parent)
        if node is not None:
            node.children.pop(name, None)

    def total(self) -> int:
        total, stack = 0, [self]
        while stack:
            node = stack.pop()
            total += node.size
            stack.extend(node.children.values())
        return total

    def _names(self) -> list[str]:
        return sorted(self.children, key=_go_key, reverse=True)  # pop() gives the first

    def walk(self, *, leaves: bool) -> Iterator[tuple[str, PathNode]]:
        """(path, node) depth first, children in Go's byte order: leaves only,
        or every node children-first (dive's ``VisitDepthChildFirst``)."""
        stack: list[tuple[str, PathNode, list[str]]] = [("", self, self._names())]
        while stack:
            path, node, names = stack[-1]
            if not names:
                stack.pop()
                if stack and not leaves:  # the root itself is never visited
                    yield path, node
                continue
            name = names.pop()
            child = node.children[name]
            if child.children:
                stack.append((f"{path}/{name}", child, child._names()))
            else:
                yield f"{path}/{name}", child


def _go_key(name: str) -> bytes:
    return name.encode("utf-8", "surrogateescape")


# -- the family tree ------------------------------------------------------------------


@dataclass(frozen=True)
class TreeNode:
    chain_id: str  # "" only for the root that holds layerless images
    diff_id: str
    size: int
    created_by: str  # the step that made it (from the first image that has it)
    users: int  # images whose stack contains this layer
    images: tuple[tuple[str, tuple[str, ...]], ...]  # (image ID, tags) whose top layer this is
    children: tuple[TreeNode, ...]

    def to_json(self) -> dict[str, Any]:
        return {"chain_id": self.chain_id, "diff_id": self.diff_id, "size_bytes": self.size,
                "created_by": self.created_by, "images_using": self.users,
                "images": [{"id": i, "tags": list(t)} for i, t in self.images],
                "children": [c.to_json() for c in self.children]}


def layer_tree(store: Store, images: ImageStore) -> list[TreeNode]:
    """The roots of the family tree (base layers), biggest family first."""
    rows = {r["chain_id"]: r for r in store.db.query(
        "SELECT chain_id, diff_id, parent, size FROM layers")}
    stacks = chains_by_image(store)
    tops = {r["id"]: r["top_layer"] or "" for r in store.db.query(
        "SELECT id, top_layer FROM images")}
    tags = {s.id: s.repo_tags for s in images.summaries()}
    users: dict[str, int] = {}
    for stack in stacks.values():
        for chain in stack:
            users[chain] = users.get(chain, 0) + 1
    made_by: dict[str, str] = {}
    for image_id in sorted(tops):
        for layer, entry in layer_history(images.config(image_id)):
            if layer is not None:
                made_by.setdefault(layer["chain_id"], str(entry.get("created_by", "")))
    kids: dict[str, list[str]] = {}
    for chain in users:
        if chain in rows:
            kids.setdefault(rows[chain]["parent"] or "", []).append(chain)
    on: dict[str, list[str]] = {}
    for image_id, top in tops.items():
        on.setdefault(top if top in rows else "", []).append(image_id)

    def build(chain: str) -> TreeNode:
        # an explicit stack: an image can be deeper than Python's recursion limit
        order, todo = [], [chain]
        while todo:
            c = todo.pop()
            order.append(c)
            todo.extend(kids.get(c, ()))
        done: dict[str, TreeNode] = {}
        for c in reversed(order):
            row = rows[c]
            children = sorted((done.pop(k) for k in kids.get(c, ())),
                              key=lambda n: (-n.users, n.chain_id))
            done[c] = TreeNode(c, row["diff_id"], row["size"], made_by.get(c, ""),
                               users.get(c, 0), _images(on.get(c, []), tags),
                               tuple(children))
        return done[chain]

    roots = [build(c) for c in kids.get("", [])]
    roots.sort(key=lambda n: (-n.users, n.chain_id))
    if on.get(""):
        roots.append(TreeNode("", "", 0, "", len(on[""]), _images(on[""], tags), ()))
    return roots


def _images(ids: list[str], tags: dict[str, tuple[str, ...]]
            ) -> tuple[tuple[str, tuple[str, ...]], ...]:
    return tuple(sorted(((i, tags.get(i, ())) for i in ids),
                        key=lambda t: (not t[1], t[1], t[0])))


def _image_label(image_id: str, tags: tuple[str, ...]) -> str:
    return f"{', '.join(tags)} ({short_id(image_id)})" if tags else \
        f"<none>:<none> ({short_id(image_id)})"


def _clip(text: str, width: int = 48) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[:width - 1] + "…"


def _label(run: list[TreeNode]) -> str:
    first, last = run[0], run[-1]
    if not first.chain_id:
        return "<no layers>"
    size = size_text(sum(n.size for n in run), 3)
    shared = f"  [{last.users} images]" if last.users > 1 else ""
    if len(run) == 1:
        return f"{short_id(first.diff_id)}  {size}  {_clip(first.created_by)}{shared}".rstrip()
    return (f"{short_id(first.diff_id)}..{short_id(last.diff_id)}  {len(run)} layers  {size}"
            f"  {_clip(first.created_by, 30)} … {_clip(last.created_by, 30)}{shared}")


def render(roots: list[TreeNode], *, fold: bool = True) -> str:
    """``tree``-style text, a summary line at the end."""
    lines: list[str] = []
    Item = tuple[TreeNode | tuple[str, tuple[str, ...]], str, str]  # what, own prefix, below
    todo: list[Item] = [(r, "", "") for r in reversed(roots)]
    while todo:  # an explicit stack, depth first: images first, then child layers
        what, own, below = todo.pop()
        if not isinstance(what, TreeNode):
            lines.append(own + _image_label(*what))
            continue
        run = [what]
        while fold and not run[-1].images and len(run[-1].children) == 1:
            run.append(run[-1].children[0])
        lines.append(own + _label(run))
        items: list[TreeNode | tuple[str, tuple[str, ...]]] = [*run[-1].images,
                                                               *run[-1].children]
        for i in reversed(range(len(items))):
            branch, cont = ("└── ", "    ") if i == len(items) - 1 else ("├── ", "│   ")
            todo.append((items[i], below + branch, below + cont))
    count = tree_totals(roots)
    lines.append(f"\n{count[0]} images, {count[1]} layers, {size_text(count[2], 3)} stored, "
                 f"{size_text(count[3], 3)} in layers shared by 2+ images")
    return "\n".join(lines) + "\n"


def tree_totals(roots: Sequence[TreeNode]) -> tuple[int, int, int, int]:
    """(images, layers, bytes stored, bytes in layers 2+ images share)."""
    images = layers = stored = shared = 0
    todo = list(roots)
    while todo:
        n = todo.pop()
        images += len(n.images)
        if n.chain_id:
            layers += 1
            stored += n.size
            shared += n.size if n.users > 1 else 0
        todo.extend(n.children)
    return images, layers, stored, shared
