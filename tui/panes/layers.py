"""Layers pane: the layer stack of the image selected in the Images pane.

One row per history step, oldest first (as dive shows them): the step
that made the layer, its size, and how many images share it, drawn as a
bar over all images.  Metadata-only steps (``empty_layer``) are dimmed.
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.widgets import Static

from engine import ImageSummary
from engine.cli.output import size_text
from engine.images.digest import short_id
from engine.usage import LayerInfo
from engine.usage.analyze import Analysis

from ..model import Col, Row, step_text
from ..widgets.bars import ratio_bar
from .base import ListPane, sort_bindings

__all__ = ["LayersPane", "analysis_text", "layer_rows"]

BAR = 10
COLUMNS = (
    Col("index", "#", "X", width=3, right=True),
    Col("step", "Step", "B", flex=1, min=16),
    Col("size", "Size", "S", min=7, right=True, descending=True),
    Col("shared", "Shared by", "H", width=BAR + 10, descending=True),
)


def layer_rows(image_id: str, layers: list[LayerInfo], total_images: int) -> list[Row]:
    rows = []
    total = max(total_images, 1)
    for lay in layers:
        dim = "dim" if lay.empty_layer else ""
        if lay.empty_layer:
            shared = Text("metadata only", style="dim italic")
            users = -1
        else:
            users = 1 + len(lay.shared_by)
            shared = ratio_bar(users / total, BAR, style="cyan" if users > 1 else "green")
            shared.append(f" {users} image{'s' if users != 1 else ''}")
        size = "" if lay.empty_layer else size_text(lay.size, 3)
        rows.append(Row(
            key=f"{image_id}:{lay.index}",
            cells=(Text(str(lay.index), style=dim), Text(step_text(lay.created_by), style=dim),
                   Text(size, style=dim), shared),
            sort=(lay.index, step_text(lay.created_by), lay.size, users),
            text=(lay.created_by, lay.comment, lay.chain_id, lay.diff_id),
            obj=lay,
        ))
    return rows


def analysis_text(a: Analysis | None, max_steps: int = 3) -> Text:
    """dive's figures and the steps whose later changes wasted bytes."""
    if a is None:
        return Text("Analysing…", style="dim")
    d = a.dive
    t = Text.assemble(("Efficiency ", "bold"),
                      (f"{d.efficiency * 100:.1f}%",
                       "green" if d.efficiency >= 0.95 else "yellow"),
                      ("  wasted ", "bold"), size_text(d.wasted_bytes),
                      ("  reclaimable ", "bold"), size_text(a.reclaimable_bytes),
                      ("  final ", "dim"), (size_text(a.final_size), "dim"))
    steps = sorted(a.by_step, key=lambda s: -s.bytes)
    for s in steps[:max_steps]:
        cause = s.causes[0] if s.causes else None
        t.append(f"\n  {size_text(s.bytes):>8}  ", style="magenta")
        t.append(f"#{s.step} {step_text(s.created_by)}", style="")
        if cause is not None:
            t.append(f"  {cause.cause}", style="yellow")
            if cause.files:
                t.append(f" {cause.files[0].path}", style="dim")
    if len(steps) > max_steps:
        t.append(f"\n  … {len(steps) - max_steps} more steps wasted bytes", style="dim")
    t.no_wrap, t.overflow = True, "ellipsis"
    return t


class LayersPane(ListPane):
    PANE_ID = "layers"
    TITLE = "Layers"
    NOUN = ("step", "steps")
    COLUMNS = COLUMNS
    DEFAULT_SORT = ("index", False)
    EMPTY = "No image selected — pick one in the Images pane"
    # TODO(usage issue): the layer family tree across images (image_tree) and
    # the file tree of the selected layer's changes (Analysis.layers) go here.
    BINDINGS: ClassVar[list[BindingType]] = [*sort_bindings("layers", COLUMNS)]

    def __init__(self) -> None:
        super().__init__()
        self.image: ImageSummary | None = None
        self.image_label = ""
        self.loaded_for: str | None = None
        self._layers: list[LayerInfo] = []
        self.analysis: Analysis | None = None

    def compose(self) -> ComposeResult:
        yield from super().compose()
        yield Static("", classes="layers-analysis")

    def show_image(self, image: ImageSummary | None, label: str) -> None:
        """Say which image the pane is about (its layers arrive later)."""
        changed = (image.id if image else None) != (self.image.id if self.image else None)
        self.image, self.image_label = image, label
        if changed:
            self.analysis = None
            self._update_analysis()
        if image is None:
            self.loaded_for = None
            self._layers = []
            self.set_rows([])
        elif changed:
            self.select_key(f"{image.id}:0")
        self._update_title()

    def set_layers(self, image_id: str, layers: list[LayerInfo], total_images: int) -> None:
        if self.image is None or image_id != self.image.id:
            return  # a late answer for an image no longer selected
        self.loaded_for = image_id
        self._layers = layers
        self.set_rows(layer_rows(image_id, layers, total_images))

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

    def status_text(self) -> Text:
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
        if self.image is None:
            return self.EMPTY
        if self.loaded_for != self.image.id:
            return "Loading…"
        return super().empty_text()
