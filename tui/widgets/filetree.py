"""FileTree: one layer's files as dive shows them.

The tree comes from :func:`engine.usage.filetree.file_tree`, built in a
worker; this widget only turns it into Tree nodes, lazily: a directory's
children are added when it is first expanded, at most ``BATCH`` at a time
(a "… N more" row loads the next batch), so a layer of 100k files opens as
fast as one of ten; at first, directories open breadth first as long as
the rows fit the screen.  Each row: the change marker (A added, M modified,
D removed, coloured), the name, and the size at the right edge — for a
directory the bytes below it.  ``S`` sorts by size (again: by name),
left/right collapse and expand, enter/space toggle.  With ``changes_only``
the unchanged paths are hidden and directory sizes count changed bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widgets import Tree
from textual.widgets.tree import TreeNode

from engine.cli.output import size_text
from engine.usage.filetree import FileNode

from .columntree import ColumnTree

__all__ = ["BATCH", "MARKS", "FileTree", "More"]

BATCH = 500
AUTO_OPEN = 150  # rows a changes-only tree may open to at first, even past the screen
MARKS = {"added": ("A", "green"), "modified": ("M", "yellow"), "removed": ("D", "red"),
         "unchanged": (" ", "")}
TYPE_SUFFIX = {"dir": "/", "symlink": " →", "hardlink": " ⇒"}


@dataclass(frozen=True)
class More:
    """The "… N more" row of a big directory: selecting it adds the next batch."""

    parent: FileNode
    offset: int
    left: int


Data = FileNode | More


class FileTree(ColumnTree[Data]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("right", "expand", "expand", show=False, id="files.expand"),
        Binding("left", "collapse", "collapse", show=False, id="files.collapse"),
        Binding("S", "sort_size", "by size", id="files.sort.size"),
    ]

    class ViewChanged(Message):
        """The sort order or the changes-only filter changed (the pane's title shows them)."""

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:  # noqa: A002
        super().__init__(id=id, classes=classes)
        self.auto_expand = True
        self.source: FileNode | None = None
        self.by_size = False
        self.changes_only = False
        self._by_path: dict[str, TreeNode[Data]] = {}
        self._kids_cache: dict[int, list[FileNode]] = {}

    # -- what is shown ------------------------------------------------------------
    def show(self, root: FileNode | None) -> None:
        """Show another layer's files, opened as far as they fit, cursor on top."""
        self.source = root
        self._rebuild(set(), None, auto_open=True)

    def set_view(self, *, by_size: bool | None = None, changes_only: bool | None = None) -> None:
        """Re-sort or re-filter, keeping what is expanded and the cursor's path."""
        if by_size is not None:
            self.by_size = by_size
        if changes_only is not None:
            self.changes_only = changes_only
        expanded = {p for p, n in self._by_path.items() if n.is_expanded}
        cursor = self.cursor_node.data if self.cursor_node is not None else None
        self._rebuild(expanded, cursor.path if isinstance(cursor, FileNode) else None,
                      auto_open=changes_only is True)
        self.post_message(self.ViewChanged())

    def shown_size(self, node: FileNode) -> int:
        if self.changes_only and node.is_dir and node.change != "removed":
            return node.changed_size
        return node.size

    def node_for(self, path: str) -> TreeNode[Data] | None:
        """The row of ``path``, if it has been added (its parents expanded)."""
        return self._by_path.get(path)

    def _visible(self, node: FileNode) -> bool:
        return not self.changes_only or node.change != "unchanged" or node.changed > 0

    def kids(self, node: FileNode) -> list[FileNode]:
        """``node``'s children as shown: filtered, then sorted."""
        got = self._kids_cache.get(id(node))
        if got is None:
            kids = [k for k in (node.children or {}).values() if self._visible(k)]
            if self.by_size:
                kids.sort(key=lambda k: (-self.shown_size(k), k.name))
            else:
                kids.sort(key=lambda k: k.name)
            got = self._kids_cache[id(node)] = kids
        return got

    def _rebuild(self, expanded: set[str], cursor: str | None, *, auto_open: bool) -> None:
        self.clear()
        self._by_path.clear()
        self._kids_cache.clear()
        if self.source is None:
            return
        self._populate(self.root, self.source, 0)
        if auto_open:
            self._open_to_fit()
        todo = list(self.root.children)
        while todo:
            t = todo.pop()
            if isinstance(t.data, FileNode) and t.allow_expand and not t.is_expanded and \
                    t.data.path in expanded:
                self._open(t)
                t.expand()
            if t.is_expanded:
                todo.extend(t.children)
        self.get_node_at_line(0)  # lay the lines out, so the cursor can go to a node
        target = self._by_path.get(cursor) if cursor else None
        if target is not None:
            self.move_cursor(target)
        else:
            self.cursor_line = 0 if self.root.children else -1
            self.scroll_home(animate=False)

    def _open_to_fit(self) -> None:
        """Open directories breadth first while the rows still fit the screen
        (as dive opens its tree), skipping any that would not fit."""
        height = self.scrollable_content_region.height or self.app.size.height - 6
        budget = max(height, AUTO_OPEN if self.changes_only else 0)
        rows = len(self.root.children)
        queue = [t for t in self.root.children if t.allow_expand]
        while queue:
            t = queue.pop(0)
            assert isinstance(t.data, FileNode)
            more = min(len(self.kids(t.data)), BATCH + 1)
            if rows + more > budget:
                continue
            rows += more
            self._open(t)
            t.expand()
            queue.extend(c for c in t.children if c.allow_expand)

    def _populate(self, tnode: TreeNode[Data], fnode: FileNode, offset: int) -> None:
        kids = self.kids(fnode)
        for k in kids[offset:offset + BATCH]:
            expandable = bool(k.children) and (not self.changes_only or k.changed > 0)
            label = Text(k.name)
            if expandable:
                child = tnode.add(label, k, allow_expand=True)
            else:
                child = tnode.add_leaf(label, k)
            self._by_path[k.path] = child
        left = len(kids) - offset - BATCH
        if left > 0:
            tnode.add_leaf(Text("…"), More(fnode, offset + BATCH, left))

    # -- rows -------------------------------------------------------------------------
    def columns(self, node: TreeNode[Data]) -> tuple[Text, Text]:
        data = node.data
        if isinstance(data, More):
            return (Text(f"… {data.left} more (enter shows {min(data.left, BATCH)})",
                         style="dim italic"), Text())
        if data is None:
            return Text(), Text()
        mark, colour = MARKS.get(data.change, (" ", ""))
        left = Text.assemble((mark, f"bold {colour}"), " ")
        name = Text(data.name + TYPE_SUFFIX.get(data.type, ""),
                    style=colour or ("bold" if data.is_dir else ""))
        if data.link and data.type in ("symlink", "hardlink"):
            name.append(f" {data.link}", style="dim")
        left.append_text(name)
        if data.is_dir and data.changed and data.change in ("unchanged", "modified") \
                and not self.changes_only:
            left.append(f"  {data.changed} changed", style="dim")
        size = self.shown_size(data)
        style = (colour or "dim") if data.is_dir else colour
        right = Text(size_text(size, 3) if size or not data.is_dir else "", style=style)
        right.align("right", 8)
        return left, right

    # -- keys -------------------------------------------------------------------------
    def action_expand(self) -> None:
        node = self.cursor_node
        if node is None:
            return
        if node.allow_expand and not node.is_expanded:
            self._open(node)
            node.expand()
        elif node.is_expanded and node.children:
            self.move_cursor(node.children[0])

    def action_collapse(self) -> None:
        node = self.cursor_node
        if node is None:
            return
        if node.allow_expand and node.is_expanded:
            node.collapse()
        elif node.parent is not None and node.parent is not self.root:
            self.move_cursor(node.parent)

    def action_sort_size(self) -> None:
        self.set_view(by_size=not self.by_size)

    def _open(self, node: TreeNode[Data]) -> None:
        if not node.children and isinstance(node.data, FileNode):
            self._populate(node, node.data, 0)

    @on(Tree.NodeExpanded)
    def _expanded(self, event: Tree.NodeExpanded[Data]) -> None:
        self._open(event.node)

    @on(Tree.NodeSelected)
    def _selected(self, event: Tree.NodeSelected[Data]) -> None:
        more = event.node.data
        parent = event.node.parent
        if isinstance(more, More) and parent is not None:
            event.node.remove()
            self._populate(parent, more.parent, more.offset)
