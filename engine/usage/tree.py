"""The layer family tree: base layers branching into the images built on them.

Layers are keyed by ChainID, so two images share a node exactly when they
share that layer *and everything below it*.  A node's children are the
layers stacked directly on it; an image hangs under its top layer.  Only
layers some image uses are in the tree (an image with no layers at all
hangs under a root with an empty ``chain_id``).

:func:`render` prints it the way ``tree`` does; by default a run of layers
with one child each and no image of their own is folded into one line, since
the interesting places in a family tree are where it branches.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..humanize import size_text
from ..images.config import layer_history
from ..images.digest import short_id
from ..images.store import ImageStore
from ..store import Store
from .layers import chains_by_image

__all__ = ["TreeNode", "layer_tree", "render"]


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
    count = _count(roots)
    lines.append(f"\n{count[0]} images, {count[1]} layers, {size_text(count[2], 3)} stored, "
                 f"{size_text(count[3], 3)} in layers shared by 2+ images")
    return "\n".join(lines) + "\n"


def _count(roots: list[TreeNode]) -> tuple[int, int, int, int]:
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
