"""Horizontal bars drawn with block characters, for the Layers and Disk panes."""

from __future__ import annotations

from rich.text import Text

__all__ = ["ratio_bar", "split_bar"]

FULL, EMPTY = "█", "░"
_EIGHTHS = " ▏▎▍▌▋▊▉"


def _cells(value: float, width: int) -> str:
    """``value`` (0..1) of ``width`` cells, with eighth-cell resolution."""
    value = min(max(value, 0.0), 1.0)
    eighths = round(value * width * 8)
    full, part = divmod(eighths, 8)
    s = FULL * full + (_EIGHTHS[part] if part and full < width else "")
    return s


def ratio_bar(value: float, width: int, style: str = "green", empty: str = "bright_black") -> Text:
    bar = _cells(value, width)
    return Text.assemble((bar, style), (EMPTY * (width - len(bar)), empty))


def split_bar(first: float, second: float, width: int, styles: tuple[str, str] = (
        "cyan", "magenta"), empty: str = "bright_black") -> Text:
    """Two stacked parts of one whole (e.g. shared then unique bytes)."""
    a = round(min(max(first, 0.0), 1.0) * width)
    b = round(min(max(second, 0.0), 1.0) * width)
    b = min(b, width - a)
    return Text.assemble((FULL * a, styles[0]), (FULL * b, styles[1]),
                         (EMPTY * (width - a - b), empty))
