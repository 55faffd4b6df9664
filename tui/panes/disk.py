"""Disk pane: ``system df -v`` as bars.

The summary shows each category of the engine's ``system df`` (images as
shared vs unique bytes, writable layers, volumes, build cache, logs,
blobs) with the reclaimable part; the list shows every image's shared and
unique bytes (unique = what deleting it gives back).  ``p`` prunes: the
dialog shows the dry run's exact list and bytes first, and after the
prune the pane says what was freed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, cast

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Static

from engine.cli.output import size_text
from engine.images.digest import short_id
from engine.usage.prune import PruneReport

from ..model import Col, Row
from ..state import PRUNE_KINDS, DiskUsage
from ..widgets.bars import ratio_bar, split_bar
from .base import ListPane, sort_bindings

if TYPE_CHECKING:
    from ..app import DockyardApp

__all__ = ["DiskPane", "disk_rows", "disk_summary"]

BAR = 16
WIDE = 100
COLUMNS = (
    Col("image", "Image", "N", flex=1, min=12),
    Col("id", "Image ID", "I", width=12, hide_below=100),
    Col("size", "Size", "S", min=7, right=True, descending=True),
    Col("shared", "Shared", "H", min=7, right=True, descending=True),
    Col("unique", "Unique", "U", min=7, right=True, descending=True),
    Col("containers", "Containers", "C", width=10, right=True, descending=True,
        hide_below=120),
    Col("bar", "shared ▒ unique", None, width=BAR),
)


def disk_rows(usage: DiskUsage) -> list[Row]:
    biggest = max((u.size for u in usage.df.images), default=0) or 1
    rows = []
    for u in usage.df.images:
        name = u.repo_tags[0] if u.repo_tags else "<none>:<none>"
        bar = split_bar(u.shared_size / biggest, u.unique_size / biggest, BAR,
                        styles=("cyan", "magenta"))
        rows.append(Row(
            key=u.id,
            cells=(name, short_id(u.id), size_text(u.size, 3), size_text(u.shared_size, 3),
                   size_text(u.unique_size, 3), str(u.containers), bar),
            sort=(name, u.id, u.size, u.shared_size, u.unique_size, u.containers,
                  u.unique_size),
            text=(name, u.id, *u.repo_tags),
            obj=u,
        ))
    return rows


SHOWN = ("Images", "Containers", "Local Volumes", "Build Cache", "Logs", "Blobs")


def disk_summary(usage: DiskUsage | None, width: int = 160) -> Table:
    """The categories; below ``WIDE`` columns without percentages and legends."""
    wide = width >= WIDE
    t = Table(box=None, padding=(0, 1), show_edge=False, expand=False, header_style="bold")
    for name, right in (("Type", False), ("Total", True), ("Active", True), ("Size", True),
                        ("Reclaimable", True), ("", False)):
        t.add_column(name, justify="right" if right else "left", no_wrap=True)
    if usage is None:
        t.add_row("Images", "…", "…", "…", "…", "")
        return t
    for name in SHOWN:
        cat = usage.category(name)
        if cat is None:
            continue
        size, rec = cat.size, cat.reclaimable
        pct = f" ({100 * rec // size}%)" if size and wide else ""
        if name == "Images":
            # shared vs unique: unique layers belong to one image each, so
            # their sum counts each once; the rest of the layer bytes is shared
            unique = sum(i.unique_size for i in usage.df.images)
            bar = split_bar((size - unique) / size if size else 0,
                            unique / size if size else 0, BAR, styles=("cyan", "magenta"))
            if wide:
                bar.append(" shared▕unique", style="dim")
        else:
            bar = ratio_bar(rec / size if size else 0, BAR, "magenta")
            if wide:
                bar.append(" reclaimable", style="dim")
        style = "" if cat.size else "dim"
        t.add_row(Text(name, style=style), str(cat.total), str(cat.active), size_text(size),
                  size_text(rec) + pct, bar)
    t.add_row(Text("Disk free", style="dim"), "", "", size_text(usage.disk_free), "", "")
    return t


def freed_text(kind: str, report: PruneReport) -> Text:
    """After a prune: what it gave back, as ``Total reclaimed space`` says."""
    n = sum(1 for d in report.deleted if not d.startswith("untagged:"))
    what = f"{n} deleted" if n else "nothing to remove"
    return Text.assemble(("Freed ", "bold green"), (size_text(report.reclaimed), "bold"),
                         f"  ({PRUNE_KINDS[kind][1]}: {what})")


class DiskPane(ListPane):
    PANE_ID = "disk"
    TITLE = "Disk"
    NOUN = ("image", "images")
    COLUMNS = COLUMNS
    DEFAULT_SORT = ("size", True)
    EMPTY = "No images take space yet"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("p", "prune", "prune", id="disk.prune"),
        *sort_bindings("disk", COLUMNS),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.usage: DiskUsage | None = None

    def compose(self) -> ComposeResult:
        yield Static(disk_summary(None), classes="disk-summary")
        yield Static("", classes="disk-freed")
        yield from super().compose()

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one(".disk-freed", Static).display = False

    def set_usage(self, usage: DiskUsage) -> None:
        self.usage = usage
        self._update_summary()
        self.set_rows(disk_rows(usage))

    def _update_summary(self) -> None:
        width = self.size.width or self.app.size.width
        self.query_one(".disk-summary", Static).update(disk_summary(self.usage, width))

    def on_resize(self) -> None:
        super().on_resize()
        self._update_summary()

    def show_freed(self, kind: str, report: PruneReport) -> None:
        box = self.query_one(".disk-freed", Static)
        box.update(freed_text(kind, report))
        box.display = True

    def action_prune(self) -> None:
        cast("DockyardApp", self.app).ask_prune("images")
