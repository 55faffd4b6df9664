"""Read-only views pushed over the main screen: inspect JSON and history."""

from __future__ import annotations

import json
from typing import ClassVar

from rich.syntax import Syntax
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import DataTable, Label, Static

from engine import HistoryEntry
from engine.cli.output import size_text
from engine.images.digest import short_id

from ..model import created_cell, one_line

__all__ = ["HistoryScreen", "InspectScreen"]

CLOSE: list[BindingType] = [Binding("escape,q", "dismiss", "back", id="view.close")]


class InspectScreen(ModalScreen[None]):
    """``image inspect`` as highlighted JSON."""

    BINDINGS: ClassVar[list[BindingType]] = [*CLOSE]

    def __init__(self, ref: str, data: dict) -> None:
        super().__init__(classes="view-screen")
        self._ref = ref
        self.json_text = json.dumps([data], indent=4)

    def compose(self) -> ComposeResult:
        with Vertical(classes="view", id="inspect-view"):
            yield Label(f"inspect {self._ref}  [dim](esc closes)[/]", classes="dialog-title")
            with VerticalScroll(id="inspect-scroll"):
                yield Static(Syntax(self.json_text, "json", theme="ansi_dark", word_wrap=True,
                                    background_color="default"), id="inspect-json")

    def on_mount(self) -> None:
        self.query_one("#inspect-scroll").focus()


class HistoryScreen(ModalScreen[None]):
    """``history``: newest step first, like Docker."""

    BINDINGS: ClassVar[list[BindingType]] = [*CLOSE]

    def __init__(self, ref: str, entries: list[HistoryEntry], now: float) -> None:
        super().__init__(classes="view-screen")
        self._ref, self._entries, self._now = ref, entries, now

    def compose(self) -> ComposeResult:
        with Vertical(classes="view", id="history-view"):
            yield Label(f"history {self._ref}  [dim](esc closes)[/]", classes="dialog-title")
            yield DataTable(cursor_type="row", zebra_stripes=True, id="history-table")

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        width = max(self.app.size.width - 54, 20)
        table.add_column("Image", width=12, key="image")
        table.add_column("Created", key="created")
        table.add_column("Created by", width=width, key="created_by")
        table.add_column("Size", key="size")
        table.add_column("Comment", key="comment")
        for i, e in enumerate(self._entries):
            dim = "dim" if e.empty_layer else ""
            image = short_id(e.image_id) if e.image_id.startswith("sha256:") else e.image_id
            by = one_line(e.created_by)
            if len(by) > width:
                by = by[: width - 1] + "…"
            table.add_row(Text(image, style=dim), Text(created_cell(e.created, self._now),
                                                          style=dim),
                          Text(by, style=dim),
                          Text(size_text(e.size, 3), style=dim, justify="right"),
                          Text(e.comment, style=dim), key=str(i))
        table.focus()
