"""The one-line header: root, runtime, disk free and counts."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from engine.cli.output import size_text

from ..state import EngineState
from .statictext import update_static

__all__ = ["StatusHeader"]


def _middle_truncate(s: str, width: int) -> str:
    if len(s) <= width or width < 5:
        return s
    keep = width - 1
    return s[: keep // 2] + "…" + s[len(s) - (keep - keep // 2):]


class StatusHeader(Static):
    DEFAULT_CSS = "StatusHeader { height: 1; }"

    def __init__(self) -> None:
        super().__init__("dockyard", id="status-header")
        self._state: EngineState | None = None

    def show_state(self, state: EngineState) -> None:
        self._state = state
        self._render_state()

    def on_resize(self) -> None:
        self._render_state()

    def _render_state(self) -> None:
        st = self._state
        if st is None:
            update_static(self, Text.assemble(("dockyard", "bold"), "  loading…"))
            return
        info = st.info
        running = sum(1 for c in st.containers if c.state == "running")
        runtime = info.get("Runtime") or "—"
        free = size_text(info.get("DiskFree", 0))
        counts = f"{running}/{len(st.containers)}"
        if self.size.width >= 110:
            right = [("runtime ", "dim"), (str(runtime), ""), ("  free ", "dim"), (free, ""),
                     ("  images ", "dim"), (str(len(st.images)), "bold"),
                     ("  containers ", "dim"), (counts, "bold")]
        else:  # 80 columns: the same facts, fewer words
            right = [("runtime ", "dim"), (str(runtime), ""), (" · ", "dim"), (free, ""),
                     (" free · ", "dim"),
                     (str(len(st.images)), "bold"), (" img · ", "dim"), (counts, "bold"),
                     (" ctr", "dim")]
        right_len = sum(len(t) for t, _ in right)
        room = max(self.size.width - right_len - len("dockyard  ") - 2, 8)
        root = _middle_truncate(str(info.get("DockyardRootDir", "")), room)
        text = Text.assemble(("dockyard", "bold"), "  ", (root, "cyan"))
        pad = self.size.width - len(text) - right_len
        text.append(" " * max(pad, 2))
        text.append_text(Text.assemble(*right))
        update_static(self, text)
