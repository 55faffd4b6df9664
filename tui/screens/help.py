"""``?``: every key, as remapped by the config file, grouped by where it works."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Label

__all__ = ["HelpScreen", "key_text"]


def key_text(app, binding: Binding, first: bool = False) -> str:  # noqa: ANN001
    """The key(s) that trigger ``binding`` now, after the user's keymap."""
    keys = app._keymap.get(binding.id, binding.key) if binding.id else binding.key
    shown = []
    for k in keys.split(",")[:1] if first else keys.split(","):
        k = k.strip()
        shown.append(app.get_key_display(Binding(k, binding.action)))
    return ", ".join(shown)


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,question_mark", "dismiss", "back", id="help.close"),
    ]

    def __init__(self, sections: list[tuple[str, list[Binding]]]) -> None:
        super().__init__(classes="view-screen")
        self._sections = sections

    def compose(self) -> ComposeResult:
        with Vertical(classes="view", id="help-view"):
            yield Label("Keys  [dim](remap any of them by id in "
                        "~/.config/dockyard/config.toml \\[keys]; esc closes)[/]",
                        classes="dialog-title")
            yield DataTable(cursor_type="row", zebra_stripes=True, id="help-table")

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_column("Where", key="where")
        table.add_column("Key", key="key")
        table.add_column("Does", key="does")
        table.add_column("Id (config)", key="id")
        for where, bindings in self._sections:
            for b in bindings:
                table.add_row(Text(where, style="bold"), Text(key_text(self.app, b), style="cyan"),
                              b.description or b.action, Text(b.id or "", style="dim"))
        table.focus()
