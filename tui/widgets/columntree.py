"""ColumnTree: a Textual Tree whose labels keep a right-hand column (sizes,
counts) aligned at the right edge, whatever the depth; the left part is
clipped with an ellipsis so a row never needs horizontal scrolling."""

from __future__ import annotations

from typing import ClassVar, TypeVar

from rich.style import Style
from rich.text import Text
from textual.widgets import Tree
from textual.widgets.tree import TreeNode

__all__ = ["ColumnTree"]

T = TypeVar("T")
TOGGLE = Style.from_meta({"toggle": True})  # a click on the icon expands/collapses


class ColumnTree(Tree[T]):
    DEFAULT_CSS = """
    ColumnTree {
        height: 1fr;
        overflow-x: hidden;
        scrollbar-gutter: stable;
        scrollbar-size-vertical: 1;
    }
    """
    ICON_NODE = "▸ "
    ICON_NODE_EXPANDED = "▾ "
    MIN_LEFT: ClassVar[int] = 6

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:  # noqa: A002
        super().__init__("", id=id, classes=classes)
        self.show_root = False
        self.guide_depth = 2

    def columns(self, node: TreeNode[T]) -> tuple[Text, Text]:
        """The label's left part (clipped when short of room) and right column."""
        return Text(str(node.label)), Text()

    def _room(self, node: TreeNode[T]) -> int:
        depth, up = 0, node.parent
        while up is not None and up is not self.root:
            depth += 1
            up = up.parent
        return self.scrollable_content_region.width - depth * self.guide_depth

    def get_label_width(self, node: TreeNode[T]) -> int:
        """Every label fills the row (it is padded to the right edge): no need
        to render the thousands of rows a big directory adds to measure them."""
        return max(self._room(node), self.MIN_LEFT + 3)

    def render_label(self, node: TreeNode[T], base_style: Style, style: Style) -> Text:
        left, right = self.columns(node)
        if node.allow_expand:
            icon = self.ICON_NODE_EXPANDED if node.is_expanded else self.ICON_NODE
        else:
            icon = "  "
        room = max(self.MIN_LEFT, self._room(node) - len(icon) - right.cell_len - 1)
        left = left.copy()
        left.truncate(room, overflow="ellipsis", pad=True)
        text = Text.assemble((icon, base_style + TOGGLE), left, " ", right)
        text.no_wrap = True
        text.stylize(style)
        return text
