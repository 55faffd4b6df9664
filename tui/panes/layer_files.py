"""The Layers pane's file tree: the changes of the layer under the cursor.

Lifecycle: the cursor rests ``REST`` seconds on a layer; then the pane
shows that layer's tree if it is one of the last ``KEEP`` it kept, or asks
a worker for it (once), and :meth:`LayerFilesPane.set_files` keeps the
answer and shows it if that layer is still the one under the cursor.  A
tree is known by its key: (image ID, index among the image's real layers,
aggregated).  ``u`` hides unchanged paths, ``a`` compares with the base
layer instead of the layer below (dive's aggregated changes), enter or
``f`` gives the tree the keys (narrow: and the room, until esc).
"""

from __future__ import annotations

from collections import OrderedDict
from typing import TYPE_CHECKING, cast

from rich.text import Text
from textual import on
from textual.binding import Binding
from textual.timer import Timer
from textual.widgets import Static

from engine import ImageSummary
from engine.usage import LayerInfo
from engine.usage.filetree import FileNode

from ..widgets.filetree import FileTree
from .base import ListPane
from .layer_text import files_title

if TYPE_CHECKING:
    from ..app import DockyardApp

__all__ = ["KEEP", "REST", "LayerFilesPane"]

REST = 0.15  # seconds the cursor rests on a layer before its files load
KEEP = 8  # file trees kept (image, layer, aggregated)

FilesKey = tuple[str, int, bool]


class LayerFilesPane(ListPane):
    """The file-tree half of :class:`~tui.panes.layers.LayersPane`, its base
    class.  The pane tells it which image (``image``) and layer
    (:meth:`current_layer`) the cursor is on, whether the pane shows
    (:meth:`_showing`), and lays the file tree out (:meth:`_layout`) by
    ``files_open``.  ``files_key`` is the key of the tree shown."""

    image: ImageSummary | None

    def __init__(self) -> None:
        super().__init__()
        self.files_open = False  # enter/f: the file tree has the keys (and, narrow, the room)
        self.aggregated = False
        self.files_key: FilesKey | None = None
        self._files: OrderedDict[FilesKey, tuple[FileNode, dict[str, int]]] = OrderedDict()
        self._asked: FilesKey | None = None
        self._rest: Timer | None = None

    # -- what the pane provides ---------------------------------------------------------
    def current_layer(self) -> tuple[int, LayerInfo] | None:
        """The layer under the cursor: (index among real layers, its info)."""
        raise NotImplementedError

    def _showing(self) -> bool:
        raise NotImplementedError

    def _layout(self) -> None:
        raise NotImplementedError

    # -- the file tree ------------------------------------------------------------------
    @classmethod
    def tree_bindings(cls) -> list[Binding]:
        """The file tree's keys, for the help screen (they work when it has focus)."""
        return [b for b in FileTree.BINDINGS if isinstance(b, Binding)]

    @property
    def dockyard(self) -> DockyardApp:
        return cast("DockyardApp", self.app)

    @property
    def file_tree(self) -> FileTree:
        return self.query_one(FileTree)

    @on(ListPane.CursorMoved)
    def _stack_moved(self, event: ListPane.CursorMoved) -> None:
        if event.pane is self:
            if self._rest is not None:
                self._rest.stop()
            self._rest = self.set_timer(REST, self._ask_files)
            self._update_files_title()

    def _ask_files(self) -> None:
        """Show the selected layer's file tree: kept, or asked of a worker."""
        self._rest = None
        if not self._showing() or self.image is None:
            return
        cur = self.current_layer()
        if cur is None:
            self.files_key = None
            self.file_tree.show(None)
            self._update_files_title()
            return
        key = (self.image.id, cur[0], self.aggregated)
        if key == self.files_key:
            return
        if key in self._files:
            self._show_files(key)
        elif key != self._asked:
            self._asked = key
            self.dockyard.load_layer_files(key[0], key[1], aggregated=key[2])
        self._update_files_title()

    def set_files(self, image_id: str, index: int, aggregated: bool, root: FileNode,
                  counts: dict[str, int]) -> None:
        key = (image_id, index, aggregated)
        self._files[key] = (root, counts)
        while len(self._files) > KEEP:
            self._files.popitem(last=False)
        if self._asked == key:
            self._asked = None
        cur = self.current_layer()
        if self.image is not None and cur is not None and \
                (self.image.id, cur[0], self.aggregated) == key:
            self._show_files(key)

    def _show_files(self, key: FilesKey) -> None:
        self._files.move_to_end(key)
        self.files_key = key
        self.file_tree.show(self._files[key][0])
        self._update_files_title()

    @on(FileTree.ViewChanged)
    def _files_view_changed(self, event: FileTree.ViewChanged) -> None:
        event.stop()
        self._update_files_title()

    def _update_files_title(self) -> None:
        self.query_one(".files-title", Static).update(self.files_title())

    def files_title(self) -> Text:
        """One line over the file tree: which layer, what changed, how it is shown."""
        if self.image is None:
            return Text("No image selected", style="dim")
        cur, row = self.current_layer(), self.current_row()
        if cur is None:
            return Text(f"#{row.obj.index} metadata only: this step changed no files"
                        if row is not None else "", style="dim", no_wrap=True)
        index, lay = cur
        key = (self.image.id, index, self.aggregated)
        tree = self.file_tree
        return files_title(lay.index, index, self._files[key][1] if self.files_key == key
                           else None, aggregated=self.aggregated, by_size=tree.by_size,
                           changes_only=tree.changes_only)

    def action_files(self) -> None:
        """Give the file tree the keys (narrow: and the room, until esc)."""
        self.files_open = True
        self._layout()
        self.screen.set_focus(self.file_tree)
        self._ask_files()
        self.screen.refresh_bindings()

    def action_changes_only(self) -> None:
        self.file_tree.set_view(changes_only=not self.file_tree.changes_only)

    def action_aggregated(self) -> None:
        self.aggregated = not self.aggregated
        self._ask_files()
