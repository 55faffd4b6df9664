"""Updating a Static only when its content changes.

``Static.update`` lays the screen out again even for the same text; on a
refresh every second that is most of an idle screen's cost.
"""

from __future__ import annotations

from rich.console import RenderableType
from textual.widgets import Static

__all__ = ["update_static"]


def update_static(widget: Static, content: RenderableType) -> None:
    if getattr(widget, "_dockyard_content", None) == content:
        return
    widget._dockyard_content = content  # type: ignore[attr-defined]
    widget.update(content)
