"""Layers pane: the image selected in the Images pane, layer by layer.

Two views, ``v`` switches:

- **stack** — one row per history step, oldest first (as dive shows them):
  the step that made the layer, its size, and how many images share it,
  drawn as a bar over all images; metadata-only steps are dimmed.  Below
  it, dive's efficiency figures and the steps that wasted bytes.
- **tree** — the layer family tree across all images (widgets.familytree);
  moving onto a row selects that image (in the Images pane too) and layer.

Beside either view (from ``WIDE`` columns; narrower, in its place after
enter or ``f``, until esc) the file tree of the selected layer's changes
(widgets.filetree), which the base class (``layer_files``) keeps: ``u``
hides unchanged paths, ``a`` compares with the base layer instead of the
layer below (dive's aggregated changes).  The tree is built by a worker a
moment after the cursor rests on a layer, and the last few are kept, so
walking up and down the stack stays quick.
"""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widget import Widget
from textual.widgets import DataTable, Static, Tree

from engine import ImageSummary
from engine.cli.output import size_text
from engine.images.digest import short_id
from engine.usage import LayerInfo
from engine.usage.analyze import Analysis
from engine.usage.tree import tree_totals

from ..widgets.familytree import FamilyTree, ImageItem, LayerItem
from ..widgets.filetree import FileTree
from .base import sort_bindings
from .layer_files import LayerFilesPane
from .layer_text import COLUMNS, analysis_text, family_title, layer_rows

__all__ = ["LayersPane", "analysis_text", "layer_rows"]

WIDE = 120  # from this pane width the file tree sits beside the stack


class LayersPane(LayerFilesPane):
    PANE_ID = "layers"
    TITLE = "Layers"
    NOUN = ("step", "steps")
    COLUMNS = COLUMNS
    DEFAULT_SORT = ("index", False)
    EMPTY = "No image selected — pick one in the Images pane"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("v", "toggle_view", "tree", id="layers.view"),
        Binding("f", "files", "files", id="layers.files"),
        Binding("u", "changes_only", "changes", id="layers.files.changes"),
        Binding("a", "aggregated", "vs base", id="layers.files.aggregated"),
        *sort_bindings("layers", COLUMNS),
    ]
    DEFAULT_CSS = """
    LayersPane .layers-body { height: 1fr; }
    LayersPane .layers-left { width: 1fr; height: 1fr; }
    LayersPane .layers-files { display: none; width: 1fr; height: 1fr; }
    LayersPane.-wide .layers-files { display: block; border-left: vkey $primary 50%; }
    LayersPane.-files .layers-left { display: none; }
    LayersPane.-files .layers-files { display: block; }
    LayersPane .layers-family { display: none; }
    LayersPane.-tree .layers-family { display: block; }
    LayersPane.-tree DataTable { display: none; }
    LayersPane.-tree .layers-analysis { display: none; }
    LayersPane .files-title { height: 1; padding: 0 1; background: $boost; }
    LayersPane .layers-analysis, LayersPane .files-title {
        text-wrap: nowrap; text-overflow: ellipsis;
    }
    """

    def __init__(self) -> None:
        super().__init__()
        self.image: ImageSummary | None = None
        self.image_label = ""
        self.loaded_for: str | None = None
        self._layers: list[LayerInfo] = []
        self.analysis: Analysis | None = None
        self.view = "stack"  # or "tree"
        self._want_chain: str | None = None
        self._family_for: tuple = ()  # the images and containers it was loaded for
        self._family_totals: tuple[int, int, int, int] | None = None

    @property
    def family(self) -> FamilyTree:
        return self.query_one(FamilyTree)

    # -- layout ---------------------------------------------------------------
    def compose(self) -> ComposeResult:
        parts = list(super().compose())  # title, table, empty text, filter box
        title, rest = parts[0], parts[1:]
        yield title
        with Horizontal(classes="layers-body"):
            with Vertical(classes="layers-left"):
                yield from (w for w in rest if not w.has_class("filter"))
                yield FamilyTree(classes="layers-family")
                yield Static("", classes="layers-analysis")
            with Vertical(classes="layers-files"):
                yield Static("", classes="files-title")
                yield FileTree(classes="layers-filetree")
        yield from (w for w in rest if w.has_class("filter"))

    def on_resize(self) -> None:
        self._layout()
        super().on_resize()

    @property
    def wide(self) -> bool:
        return (self.size.width or self.app.size.width) >= WIDE

    def _layout(self) -> None:
        self.set_class(self.wide, "-wide")
        self.set_class(self.files_open and not self.wide, "-files")
        self.set_class(self.view == "tree", "-tree")

    def _left(self) -> Widget:
        return self.family if self.view == "tree" else self.table

    def focus_list(self) -> None:
        """The pane came up (or the focus comes back): focus, and load what shows."""
        self._layout()
        self.screen.set_focus(self.file_tree if self.files_open else self._left())
        self._load_family()
        self._ask_files()

    def _showing(self) -> bool:
        return self.is_mounted and self.display and getattr(self.screen, "current", "") == \
            self.PANE_ID

    # -- the stack --------------------------------------------------------------
    def show_image(self, image: ImageSummary | None, label: str) -> None:
        """Say which image the pane is about (its layers arrive later)."""
        changed = (image.id if image else None) != (self.image.id if self.image else None)
        self.image, self.image_label = image, label
        if changed:
            self.analysis = None
            self._update_analysis()
            self.family.set_current_image(image.id if image else None)
            self.files_key = None
            self.file_tree.show(None)
            self._update_files_title()
        if image is None:
            self.loaded_for = None
            self._layers = []
            self.set_rows([])
        elif changed:
            self.select_key(f"{image.id}:0")
        self._update_title()
        self._load_family()  # called on every engine refresh: reloads when the state moved

    def set_layers(self, image_id: str, layers: list[LayerInfo], total_images: int) -> None:
        if self.image is None or image_id != self.image.id:
            return  # a late answer for an image no longer selected
        self.loaded_for = image_id
        self._layers = layers
        self.set_rows(layer_rows(image_id, layers, total_images))
        if self._want_chain:
            self._select_chain(self._want_chain)
            self._want_chain = None

    def _select_chain(self, chain_id: str) -> None:
        row = next((r for r in self._rows if r.obj.chain_id == chain_id), None)
        if row is not None:
            self.select_key(row.key)

    def set_analysis(self, image_id: str, analysis: Analysis) -> None:
        if self.image is None or image_id != self.image.id:
            return
        self.analysis = analysis
        self._update_analysis()

    def _update_analysis(self) -> None:
        box = self.query_one(".layers-analysis", Static)
        if self.image is None:
            box.update("")
            return
        box.update(analysis_text(self.analysis, self._analysis_lines()))

    def _analysis_lines(self) -> int:
        """Steps listed under the figures: a few at 80×24, more when tall."""
        return max(1, min(8, (self.app.size.height - 20) // 2))

    def current_layer(self) -> tuple[int, LayerInfo] | None:
        """The layer under the stack cursor: (index among real layers, its info)."""
        row = self.current_row()
        if row is None or row.obj.empty_layer:
            return None
        lay: LayerInfo = row.obj
        return sum(1 for x in self._layers if not x.empty_layer and x.index < lay.index), lay

    @on(DataTable.RowSelected)
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_files()

    # -- the family tree -------------------------------------------------------------
    def _load_family(self) -> None:
        """Load the family tree if it shows and the images or containers changed."""
        state = getattr(self.screen, "state", None)
        if self.view != "tree" or not self._showing() or state is None:
            return
        seen = (tuple((i.id, i.repo_tags) for i in state.images),
                tuple((c.id, c.image_id) for c in state.containers))
        if seen != self._family_for:
            self._family_for = seen
            self.dockyard.load_family_tree()

    def set_family(self, roots: list, containers: tuple[Any, ...]) -> None:
        self._family_totals = tree_totals(roots)
        self.family.set_family(roots, containers)
        self._update_title()

    @on(Tree.NodeHighlighted, ".layers-family")
    def _family_moved(self, event: Tree.NodeHighlighted) -> None:
        event.stop()
        item = event.node.data
        if isinstance(item, ImageItem):  # and its top layer, the row it hangs under
            parent = event.node.parent.data if event.node.parent else None
            self._pick(item.image_id, parent.chain_id if isinstance(parent, LayerItem) else None)
        elif isinstance(item, LayerItem):
            if self.image is not None and self.image.id in item.images:
                self._select_chain(item.chain_id)
            elif item.images:
                self._pick(min(item.images), item.chain_id)

    def _pick(self, image_id: str, chain_id: str | None) -> None:
        """Select ``image_id`` everywhere (Images pane too), then its layer ``chain_id``."""
        if self.image is not None and self.image.id == image_id:
            if chain_id:
                self._select_chain(chain_id)
            return
        self._want_chain = chain_id
        self.dockyard.main.images_pane.select_image(image_id)

    @on(Tree.NodeSelected, ".layers-family")
    def _family_selected(self, event: Tree.NodeSelected) -> None:
        event.stop()
        if isinstance(event.node.data, ImageItem):
            self.action_toggle_view()
        else:
            self.action_files()

    # -- views, esc, and which keys work ------------------------------------------------
    def action_toggle_view(self) -> None:
        self.view = "tree" if self.view == "stack" else "stack"
        self.files_open = False
        self._layout()
        self.screen.set_focus(self._left())
        if self.view == "tree" and self.image is not None:
            node = self.family.node_for("image:" + self.image.id)
            if node is not None:
                self.family.move_cursor(node)
        self._load_family()
        self.refresh_view(force=True)
        self.screen.refresh_bindings()

    def back(self) -> bool:
        """esc: leave the file tree, then the family tree, then as every list does."""
        if self.files_open:
            self.files_open = False
            self._layout()
            self.screen.set_focus(self._left())
            self.screen.refresh_bindings()
            return True
        if self.view == "tree" and not self.filter_input.display:
            self.action_toggle_view()
            return True
        return super().back()

    def open_filter(self) -> None:
        """"/" filters the stack: show it first."""
        if self.files_open:
            self.back()
        if self.view == "tree":
            self.action_toggle_view()
        super().open_filter()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("changes_only", "aggregated"):
            return self.files_open or self.wide
        if action == "toggle_mark":
            return self.view == "stack" and not self.files_open and \
                super().check_action(action, parameters)
        if action == "files":
            return not self.files_open and self.image is not None
        return super().check_action(action, parameters)

    # -- the title line ---------------------------------------------------------------
    def status_text(self) -> Text:
        if self.view == "tree":
            return family_title(self.TITLE, self._family_totals)
        t = super().status_text()
        if self.image is not None:
            real = [lay for lay in self._layers if not lay.empty_layer]
            t.append("  ")
            t.append(self.image_label, style="cyan")
            t.append(f" {short_id(self.image.id)}", style="dim")
            if self.loaded_for == self.image.id:
                t.append(f"  {len(real)} layer{'s' if len(real) != 1 else ''}, "
                         f"{size_text(sum(lay.size for lay in real), 3)}", style="dim")
        return t

    def empty_text(self) -> str:
        if self.view == "tree":
            return ""
        if self.image is None:
            return self.EMPTY
        if self.loaded_for != self.image.id:
            return "Loading…"
        return super().empty_text()
