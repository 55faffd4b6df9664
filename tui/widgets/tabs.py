"""The pane switcher line: "1 Containers  2 Images  3 Layers  4 Disk"."""

from __future__ import annotations

from textual.content import Content
from textual.widgets import Static

__all__ = ["PaneTabs"]


class PaneTabs(Static):
    DEFAULT_CSS = "PaneTabs { height: 1; }"

    def __init__(self, panes: list[tuple[str, str, str]], current: str) -> None:
        """``panes``: (pane id, title, key shown) in order."""
        super().__init__(id="pane-tabs")
        self._panes = panes
        self._current = current
        self._extra = ""

    def on_mount(self) -> None:
        self._draw()

    def set_keys(self, panes: list[tuple[str, str, str]]) -> None:
        self._panes = panes
        self._draw()

    def set_current(self, pane_id: str, extra: str = "") -> None:
        self._current, self._extra = pane_id, extra
        self._draw()

    def _draw(self) -> None:
        parts: list[Content] = []
        for pane_id, title, key in self._panes:
            label = Content.assemble((f" {key} ", "bold"), f"{title} ")
            style = "reverse" if pane_id == self._current else "dim"
            parts.append(label.stylize(style).stylize(f"@click=screen.show_pane('{pane_id}')"))
            parts.append(Content(" "))
        if self._extra:
            parts.append(Content.styled(f"  {self._extra}", "dim"))
        self.update(Content("").join(parts))
