"""Disk pane: ``system df -v`` as bars.

The summary shows each category's size and the reclaimable part; the list
shows every image's shared and unique bytes (unique = what deleting it
gives back).  Volumes, build cache and logs arrive with the usage issue.
"""

from __future__ import annotations

from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.widgets import Static

from engine.cli.output import size_text
from engine.images.digest import short_id

from ..model import Col, Row, image_refs
from ..state import DiskUsage
from ..widgets.bars import ratio_bar, split_bar
from .base import ListPane, sort_bindings

__all__ = ["DiskPane", "disk_rows", "disk_summary"]

BAR = 16
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
    biggest = max((u.image.size for u in usage.images), default=0) or 1
    rows = []
    for u in usage.images:
        img = u.image
        ref = image_refs(img)[0]
        name = ref.ref if ref.by_name else "<none>:<none>"
        bar = split_bar(u.shared / biggest, u.unique / biggest, BAR, styles=("cyan", "magenta"))
        rows.append(Row(
            key=img.id,
            cells=(name, short_id(img.id), size_text(img.size, 3), size_text(u.shared, 3),
                   size_text(u.unique, 3), str(img.containers), bar),
            sort=(name, img.id, img.size, u.shared, u.unique, img.containers, u.unique),
            text=(name, img.id, *img.repo_tags),
            obj=u,
        ))
    return rows


def disk_summary(usage: DiskUsage | None) -> Table:
    t = Table(box=None, padding=(0, 1), show_edge=False, expand=False, header_style="bold")
    for name, right in (("Type", False), ("Total", True), ("Active", True), ("Size", True),
                        ("Reclaimable", True), ("", False)):
        t.add_column(name, justify="right" if right else "left", no_wrap=True)
    if usage is None:
        t.add_row("Images", "…", "…", "…", "…", "")
        return t
    n_active = sum(1 for u in usage.images if u.image.containers)
    size, rec = usage.layers_size, usage.reclaimable
    pct = f" ({100 * rec // size}%)" if size else ""
    t.add_row("Images", str(len(usage.images)), str(n_active), size_text(size),
              size_text(rec) + pct, ratio_bar(rec / size if size else 0, BAR, "magenta"))
    rw = sum(c.size_rw or 0 for c in usage.containers)
    running = sum(1 for c in usage.containers if c.state == "running")
    t.add_row("Containers", str(len(usage.containers)), str(running), size_text(rw), "—", "")
    # TODO(usage issue): volumes, build cache and logs from the engine's df.
    for name in ("Local Volumes", "Build Cache", "Logs"):
        t.add_row(Text(name, style="dim"), "—", "—", "—", "—", "")
    t.add_row(Text("Disk free", style="dim"), "", "", size_text(usage.disk_free), "", "")
    return t


class DiskPane(ListPane):
    PANE_ID = "disk"
    TITLE = "Disk"
    NOUN = ("image", "images")
    COLUMNS = COLUMNS
    DEFAULT_SORT = ("size", True)
    EMPTY = "No images take space yet"
    # TODO(usage issue): `p` prune with a dry-run preview (exact bytes) and
    # a confirm, then show what was freed.
    BINDINGS: ClassVar[list[BindingType]] = [*sort_bindings("disk", COLUMNS)]

    def __init__(self) -> None:
        super().__init__()
        self.usage: DiskUsage | None = None

    def compose(self) -> ComposeResult:
        yield Static(disk_summary(None), classes="disk-summary")
        yield from super().compose()

    def set_usage(self, usage: DiskUsage) -> None:
        self.usage = usage
        self.query_one(".disk-summary", Static).update(disk_summary(usage))
        self.set_rows(disk_rows(usage))
