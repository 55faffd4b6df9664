"""A rolling time chart: a title line with the latest value and the scale,
then bars made of eighth blocks, newest sample on the right.

Unlike Textual's ``Sparkline`` (which stretches whatever data it has over
its width and scales from min to max), one column is one sample and the
scale starts at 0, so a flat 30 % line looks like 30 %, not like noise.
A ``None`` sample is a gap (the container was not running).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable

from rich.text import Text
from textual.widget import Widget

__all__ = ["TimeChart", "bar_rows"]

_EIGHTHS = " ▁▂▃▄▅▆▇█"
KEEP = 600  # samples kept: ten minutes at one a second, wider than any terminal


def bar_rows(values: Iterable[float | None], top: float, height: int) -> list[str]:
    """``height`` strings (top row first), one column per value, scaled 0..``top``."""
    cols: list[str] = []
    for v in values:
        if v is None:
            cols.append(" " * height)
            continue
        eighths = round(min(max(v / top, 0.0), 1.0) * height * 8) if top > 0 else 0
        if v > 0 and eighths == 0:
            eighths = 1  # anything above zero shows
        col = ""
        for row in range(height):  # bottom row first
            col += _EIGHTHS[min(max(eighths - row * 8, 0), 8)]
        cols.append(col[::-1])
    return ["".join(c[r] for c in cols) for r in range(height)]


class TimeChart(Widget):
    """``push()`` a sample (or ``None``); the widget redraws itself."""

    DEFAULT_CSS = "TimeChart { height: 5; }"

    def __init__(self, title: str, fmt: Callable[[float], str], *, floor: float = 0.0,
                 style: str = "green", every: float = 1.0,
                 id: str | None = None) -> None:  # noqa: A002
        """``fmt`` formats a value ("12.3%", "4.5MiB"); ``floor`` is the least
        top of the scale (so 0.2 % of CPU does not fill the chart); ``every``
        is the seconds between samples."""
        super().__init__(id=id)
        self.every = every
        self.title = title
        self.fmt = fmt
        self.floor = floor
        self.style = style
        self.values: deque[float | None] = deque(maxlen=KEEP)
        self.limit: float | None = None  # drawn in the title when set (a memory limit)

    def push(self, value: float | None) -> None:
        self.values.append(value)
        self.refresh()

    def clear(self) -> None:
        self.values.clear()
        self.refresh()

    @property
    def latest(self) -> float | None:
        return self.values[-1] if self.values else None

    def render(self) -> Text:
        width = max(self.size.width, 1)
        height = max(self.size.height - 1, 1)
        shown = list(self.values)[-width:]
        known = [v for v in shown if v is not None]
        top = max([self.floor, *known])
        title = Text.assemble((self.title, "bold"), "  ")
        latest = self.latest
        title.append(self.fmt(latest) if latest is not None else "—",
                     style="bold " + self.style if latest is not None else "dim")
        if self.limit:
            title.append(f" / {self.fmt(self.limit)}", style="dim")
        if known:
            title.append(f"   max {self.fmt(max(known))}   scale {self.fmt(top)}", style="dim")
        span = f"   last {len(shown) * self.every:g}s" if shown else "   waiting for samples…"
        title.append(span, style="dim")
        title.no_wrap, title.overflow = True, "ellipsis"
        body = Text("\n").join(Text(" " * (width - len(shown)) + row, style=self.style)
                               for row in bar_rows(shown, top, height))
        return Text("\n").join([title, body])
