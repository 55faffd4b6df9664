"""FamilyTree: which images share which layers, as ``dockyard image tree``
draws it (:func:`engine.usage.tree.layer_tree`), in a Textual Tree.

Base layers are at the top level; a layer's children are the layers
stacked directly on it, so images branch off where their chains diverge,
and each image hangs under its top layer.  As in ``image tree``, a run of
layers with one child each and no image of its own is one row ("3
layers"): the interesting places are the branches.  Every layer row shows
its size and how many images and containers use it; the rows of the
image the Layers pane is about are bold.  Refreshes keep the cursor and
what was collapsed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rich.text import Text
from textual.widgets.tree import TreeNode

from engine import ContainerSummary
from engine.cli.output import size_text
from engine.images.digest import short_id
from engine.usage.tree import TreeNode as LayerNode

from ..model import step_text
from .columntree import ColumnTree

__all__ = ["FamilyTree", "ImageItem", "LayerItem"]


@dataclass(frozen=True)
class LayerItem:
    """One row: a run of layers (usually one), oldest first."""

    chain_ids: tuple[str, ...]
    diff_ids: tuple[str, ...]
    steps: tuple[str, ...]
    size: int
    images: frozenset[str]  # every image whose stack holds the run
    containers: int  # containers of those images

    @property
    def key(self) -> str:
        return "layer:" + self.chain_ids[-1]

    @property
    def chain_id(self) -> str:
        """The run's top layer: where it branches, or where its images hang."""
        return self.chain_ids[-1]


@dataclass(frozen=True)
class ImageItem:
    image_id: str
    tags: tuple[str, ...]
    containers: int

    @property
    def key(self) -> str:
        return "image:" + self.image_id


Item = LayerItem | ImageItem


def _images_under(roots: Sequence[LayerNode]) -> dict[int, frozenset[str]]:
    """id(node) → the images whose stack holds it (post-order, no recursion)."""
    out: dict[int, frozenset[str]] = {}
    order, todo = [], list(roots)
    while todo:
        n = todo.pop()
        order.append(n)
        todo.extend(n.children)
    for n in reversed(order):
        mine = {i for i, _ in n.images}
        for c in n.children:
            mine |= out[id(c)]
        out[id(n)] = frozenset(mine)
    return out


class FamilyTree(ColumnTree[Item]):
    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:  # noqa: A002
        super().__init__(id=id, classes=classes)
        self.auto_expand = False  # enter picks a row; space and the icon fold
        self.current_image: str | None = None
        self.loaded = False
        self._by_key: dict[str, TreeNode[Item]] = {}

    def set_family(self, roots: Sequence[LayerNode],
                   containers: Sequence[ContainerSummary]) -> None:
        collapsed = {k for k, n in self._by_key.items() if n.allow_expand and not n.is_expanded}
        cursor = self.cursor_node.data.key if self.cursor_node and self.cursor_node.data else None
        per_image: dict[str, int] = {}
        for c in containers:
            per_image[c.image_id] = per_image.get(c.image_id, 0) + 1
        under = _images_under(roots)
        self.clear()
        self._by_key.clear()
        todo: list[tuple[TreeNode[Item], LayerNode]] = [(self.root, r) for r in reversed(roots)]
        while todo:
            parent, node = todo.pop()
            run = [node]
            while not run[-1].images and len(run[-1].children) == 1:
                run.append(run[-1].children[0])
            top = run[-1]
            imgs = under[id(top)]
            item = LayerItem(tuple(n.chain_id for n in run), tuple(n.diff_id for n in run),
                             tuple(n.created_by for n in run), sum(n.size for n in run), imgs,
                             sum(per_image.get(i, 0) for i in imgs))
            has_kids = bool(top.images or top.children)
            if top.chain_id:
                tnode = parent.add(Text(item.key), item, expand=item.key not in collapsed,
                                   allow_expand=has_kids)
                self._by_key[item.key] = tnode
            else:
                tnode = parent  # images without layers: straight under the root
            for image_id, tags in top.images:
                img = ImageItem(image_id, tags, per_image.get(image_id, 0))
                self._by_key[img.key] = tnode.add_leaf(Text(img.key), img)
            todo.extend((tnode, c) for c in reversed(top.children))
        self.loaded = True
        self.get_node_at_line(0)
        target = self._by_key.get(cursor) if cursor else None
        if target is None and self.current_image:
            target = self._by_key.get("image:" + self.current_image)
        if target is not None:
            self.move_cursor(target)
        elif self.root.children:
            self.cursor_line = 0

    def node_for(self, key: str) -> TreeNode[Item] | None:
        return self._by_key.get(key)

    def set_current_image(self, image_id: str | None) -> None:
        if image_id != self.current_image:
            self.current_image = image_id
            self._invalidate()

    def columns(self, node: TreeNode[Item]) -> tuple[Text, Text]:
        item = node.data
        if isinstance(item, ImageItem):
            mine = item.image_id == self.current_image
            name = ", ".join(item.tags) if item.tags else "<none>:<none>"
            left = Text.assemble(("◆ ", "cyan"), (name, "bold cyan" if mine else "cyan"),
                                 (f"  {short_id(item.image_id)}", "dim"))
            right = Text(f"{item.containers} ctr" if item.containers else "", style="dim")
            right.align("right", 24)
            return left, right
        if item is None:
            return Text(), Text()
        mine = self.current_image in item.images
        style = "bold" if mine else ""
        if len(item.chain_ids) == 1:
            left = Text.assemble((short_id(item.diff_ids[0]), "dim"), "  ",
                                 (step_text(item.steps[0]), style))
        else:
            left = Text.assemble((f"{short_id(item.diff_ids[0])}‥", "dim"),
                                 (f" {len(item.chain_ids)} layers  ", "magenta"),
                                 (f"{step_text(item.steps[0])} … {step_text(item.steps[-1])}",
                                  style))
        users = len(item.images)
        right = Text.assemble(
            (f"{size_text(item.size, 3):>8}", style),
            (f"{users:>4} img", "cyan" if users > 1 else "green"),
            (f"{item.containers:>4} ctr" if item.containers else " " * 8, "dim"))
        return left, right
