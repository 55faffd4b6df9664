"""Enter on a container: its details in four sections, ``1``–``4`` or
``tab`` to switch, ``esc`` back.

- Logs — :class:`~tui.screens.logs.LogView` (follow, timestamps, wrap, search).
- Stats — CPU %, memory and PIDs over time (one sample a second, as
  ``docker stats`` streams), with net and block I/O on the summary line.
- Inspect — ``container inspect`` JSON, reloaded each time it is shown.
- Files — the writable layer's changes (``diff``: added / changed /
  removed, with sizes), fastest growing first: the engine's inotify sampler
  says which paths grew, the diff is re-read when something changed.

Each section's engine calls run in a worker on this screen, reporting by
message; Textual cancels them when the screen closes.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from typing import TYPE_CHECKING, Any, ClassVar

from rich.syntax import Syntax
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import DataTable, Label, Static, TabbedContent, TabPane
from textual.worker import Worker, get_current_worker

from engine import ContainerSummary, NotFound
from engine.cli.container_more import bytes_size
from engine.humanize import size_text

from ..model import STATE_STYLE, container_status
from ..widgets.chart import TimeChart
from .logs import LogView, forward_errors
from .viewers import CLOSE

if TYPE_CHECKING:
    from engine.layers import Change
    from engine.runtime.stats import ContainerStats
    from engine.usage.sampler import Sample

__all__ = ["SECTIONS", "ContainerDetailsScreen", "Growth", "change_rows", "cpu_text"]

SECTIONS = {"logs": "Logs", "stats": "Stats", "inspect": "Inspect", "files": "Files"}
EVERY = 1.0  # seconds between stats and writable-layer samples
MAX_ROWS = 1000  # files listed (the summary line counts them all)
GROWING = 100  # paths the sampler ranks by growth each sample
KIND_STYLE = {"A": "green", "C": "yellow", "D": "red"}


def cpu_text(pct: float) -> str:
    """CPU % in at most 6 cells: "0.00%", "12.34%", "123.4%", "1234%"."""
    if pct < 100:
        return f"{pct:.2f}%"
    return f"{pct:.1f}%" if pct < 1000 else f"{pct:.0f}%"


class Growth:
    """Bytes each path gained over the last ``window`` seconds of samples, as
    a rate (the sampler's ``growing`` is per sample: one second is noisy)."""

    def __init__(self, window: float = 5.0) -> None:
        self.window = window
        self.start: float | None = None  # when the oldest kept sample's window began
        self.items: deque[tuple[float, tuple[tuple[str, int], ...]]] = deque()

    def add(self, t: float, growing: tuple[tuple[str, int], ...]) -> None:
        if self.start is None:  # the sampler's first sample is its baseline
            self.start = t
            return
        self.items.append((t, growing))
        while len(self.items) > 1 and self.items[0][0] <= t - self.window:
            self.start = self.items.popleft()[0]

    def rates(self) -> dict[str, float]:
        if not self.items or self.start is None:
            return {}
        span = self.items[-1][0] - self.start
        totals: dict[str, int] = {}
        for _, growing in self.items:
            for path, added in growing:
                totals[path] = totals.get(path, 0) + added
        return {p: n / span for p, n in totals.items() if n > 0} if span > 0 else {}


def _left_truncate(path: str, width: int) -> str:
    """Keep the end of a path (the file name), as ``…/log/app.log``."""
    return path if len(path) <= width else "…" + path[len(path) - width + 1:]


def change_rows(changes: list[Change], rates: dict[str, float], path_width: int
                ) -> tuple[list[tuple[str, tuple[Text, ...]]], int]:
    """(path, cells) for the Files table, fastest growing first, then largest;
    and how many rows beyond ``MAX_ROWS`` were left out."""
    order = sorted(changes, key=lambda c: (-rates.get(c.path, 0.0), -c.size, c.path))
    rows = []
    for c in order[:MAX_ROWS]:
        rate = rates.get(c.path, 0.0)
        rows.append((c.path, (
            Text(c.kind, style=KIND_STYLE.get(c.kind, "")),
            Text(_left_truncate(c.path, path_width), style="dim" if c.kind == "D" else ""),
            Text(size_text(c.size) if c.kind != "D" else "", justify="right"),
            Text(f"+{size_text(rate)}/s" if rate > 0 else "", style="yellow",
                 justify="right"))))
    return rows, max(len(order) - MAX_ROWS, 0)


class StatsPoint(Message, bubble=False):
    """One stats reading; ``stats`` None: the container is not running."""

    def __init__(self, stats: ContainerStats | None) -> None:
        super().__init__()
        self.stats = stats


class Gone(Message, bubble=False):
    """The container was removed while the screen was open."""


class InspectData(Message, bubble=False):
    def __init__(self, data: dict) -> None:
        super().__init__()
        self.data = data


class FilesSampled(Message, bubble=False):
    def __init__(self, sample: Sample, changes: list[Change], rates: dict[str, float]) -> None:
        super().__init__()
        self.sample = sample
        self.changes = changes
        self.rates = rates  # path → bytes/s over the last few seconds


class ContainerDetailsScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    #details-tabs { height: 1fr; }
    #details-tabs > ContentSwitcher { height: 1fr; }
    #details-tabs TabPane { height: 1fr; padding: 0; }
    #details-tabs TimeChart { height: 1fr; min-height: 3; }
    #details-inspect, #files-table { height: 1fr; }
    #stats-now, #files-summary { height: 1; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        *CLOSE,
        Binding("1", "section('logs')", "logs", id="details.logs"),
        Binding("2", "section('stats')", "stats", id="details.stats"),
        Binding("3", "section('inspect')", "inspect", id="details.inspect"),
        Binding("4", "section('files')", "files", id="details.files"),
        Binding("tab", "cycle(1)", "next section", show=False, id="details.next"),
        Binding("shift+tab", "cycle(-1)", "previous section", show=False,
                id="details.previous"),
    ]

    def __init__(self, c: ContainerSummary, now: float, *, section: str = "logs") -> None:
        super().__init__(classes="view-screen")
        self.container = c
        self.container_id = c.id
        self._now = now
        self._first = section
        self._done = threading.Event()
        self.inspect_data: dict | None = None
        self.stats: ContainerStats | None = None
        self.samples = 0  # stats readings so far (running or not)
        self.gone = False  # the container was removed meanwhile
        self.changes: list[Change] | None = None
        self.rates: dict[str, float] = {}
        self.file_sample: Sample | None = None
        self._files_signature: tuple = ()

    # -- layout -------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        c = self.container
        with Vertical(classes="view", id="details-view"):
            yield Label(self._title(), classes="dialog-title", id="details-title")
            with TabbedContent(initial=self._first, id="details-tabs"):
                with TabPane(f"1 {SECTIONS['logs']}", id="logs"):
                    yield LogView(c.id, c.name, id="details-logs")
                with TabPane(f"2 {SECTIONS['stats']}", id="stats"):
                    yield Static(Text("waiting for samples…", style="dim"), id="stats-now")
                    yield TimeChart("CPU", cpu_text, floor=1.0, style="green", id="chart-cpu")
                    yield TimeChart("Memory", bytes_size, floor=1 << 20, style="cyan",
                                    id="chart-memory")
                    yield TimeChart("PIDs", lambda v: f"{v:.0f}", floor=1.0, style="magenta",
                                    id="chart-pids")
                with TabPane(f"3 {SECTIONS['inspect']}", id="inspect"):
                    with VerticalScroll(id="details-inspect"):
                        yield Static(Text("loading…", style="dim"), id="inspect-json")
                with TabPane(f"4 {SECTIONS['files']}", id="files"):
                    yield Static(Text("sampling the writable layer…", style="dim"),
                                 id="files-summary")
                    yield DataTable(cursor_type="row", zebra_stripes=True, id="files-table")

    def _title(self) -> Text:
        c = self.container
        status = (("removed", "bold red") if self.gone else
                  (container_status(c, self._now), STATE_STYLE.get(c.state, "")))
        title = Text.assemble((c.name, "bold"), "  ", (c.id[:12], "dim"), "  ", c.image, "  ",
                              status, ("   esc back", "dim"))
        title.no_wrap, title.overflow = True, "ellipsis"
        return title

    def on_mount(self) -> None:
        self.sample_stats()
        self.watch_files()
        self.load_inspect()
        self.call_after_refresh(self._focus_section)

    def on_unmount(self) -> None:
        self._done.set()

    # -- sections ---------------------------------------------------------------------
    @property
    def section(self) -> str:
        return self.query_one(TabbedContent).active

    def action_section(self, name: str) -> None:
        self.query_one(TabbedContent).active = name
        if name == "inspect":
            self.load_inspect()
        self._focus_section()

    def action_cycle(self, step: int) -> None:
        order = list(SECTIONS)
        self.action_section(order[(order.index(self.section) + step) % len(order)])

    @on(TabbedContent.TabActivated)
    def _tab_clicked(self, event: TabbedContent.TabActivated) -> None:
        event.stop()
        self.call_after_refresh(self._focus_section)

    def _focus_section(self) -> None:
        """Focus what the section scrolls, so its keys (and only its keys) work."""
        name = self.section
        if name == "logs":
            self.query_one(LogView).focus_log()
        elif name == "inspect":
            self.set_focus(self.query_one("#details-inspect"))
        elif name == "files":
            self.set_focus(self.query_one("#files-table"))
            if self.changes is not None:  # it was hidden: lay the paths out at full width
                self._show_files(self.changes, self.rates)
        else:
            self.set_focus(None)

    # -- workers ------------------------------------------------------------------------
    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        forward_errors(event)

    @property
    def _engine(self) -> Any:
        return self.app.engine  # type: ignore[attr-defined]

    @work(thread=True, exclusive=True, exit_on_error=False, group="container.stats")
    def sample_stats(self) -> None:
        """``docker stats`` for one container: a reading a second."""
        from engine.runtime.stats import compute

        worker = get_current_worker()
        prev = None
        while not worker.is_cancelled and not self._done.is_set():
            try:
                cur = self._engine.stats_sample(self.container_id)
            except NotFound:  # removed meanwhile: the title says so, no dialog
                self.post_message(Gone())
                return
            if not cur.running:
                self.post_message(StatsPoint(None))
            elif prev is not None and prev.running:
                self.post_message(StatsPoint(compute(prev, cur)))
            prev = cur
            self._done.wait(EVERY if prev.running else 2 * EVERY)

    @work(thread=True, exclusive=True, exit_on_error=False, group="container.inspect")
    def load_inspect(self) -> None:
        self.post_message(InspectData(self._engine.container_inspect(self.container_id)))

    @work(thread=True, exclusive=True, exit_on_error=False, group="container.files")
    def watch_files(self) -> None:
        """Sample the writable layer each second; re-read the diff when it
        changed, at most every ten times as long as the last diff took."""
        worker = get_current_worker()
        engine = self._engine
        sampler = engine.writable_sampler(self.container_id, top=GROWING)
        growth = Growth()
        changes: list[Change] | None = None
        dirty, next_diff = True, 0.0
        try:
            while not worker.is_cancelled and not self._done.is_set():
                sample = sampler.sample()
                growth.add(sample.time, sample.growing)
                dirty = dirty or bool(sample.changed)
                if changes is None or (dirty and time.monotonic() >= next_diff):
                    began = time.monotonic()
                    changes = engine.diff(self.container_id)
                    dirty = False
                    next_diff = time.monotonic() + 10 * (time.monotonic() - began)
                self.post_message(FilesSampled(sample, changes, growth.rates()))
                self._done.wait(EVERY)
        except NotFound:  # removed meanwhile: the stats worker tells the screen
            return
        finally:
            sampler.close()

    # -- data from the workers --------------------------------------------------------------
    def on_stats_point(self, message: StatsPoint) -> None:
        self.samples += 1
        s = self.stats = message.stats
        cpu, mem, pids = (self.query_one(f"#chart-{k}", TimeChart)
                          for k in ("cpu", "memory", "pids"))
        now = self.query_one("#stats-now", Static)
        if s is None:
            for chart in (cpu, mem, pids):
                chart.push(None)
            word = "was removed" if self.gone else "is not running"
            now.update(Text(f"{self.container.name} {word}", style="dim"))
            return
        cpu.push(s.cpu_percent)
        mem.limit = float(s.mem_limit)
        mem.push(float(s.mem_usage))
        pids.push(float(s.pids))
        line = Text.assemble(
            ("CPU ", "dim"), (cpu_text(s.cpu_percent), "bold"),
            ("   MEM ", "dim"), (f"{bytes_size(s.mem_usage)} / {bytes_size(s.mem_limit)}", "bold"),
            f" ({s.mem_percent:.2f}%)", ("   PIDs ", "dim"), (str(s.pids), "bold"),
            ("   NET ", "dim"), f"{size_text(s.net_rx, 3)} / {size_text(s.net_tx, 3)}",
            ("   BLOCK ", "dim"), f"{size_text(s.block_read, 3)} / {size_text(s.block_write, 3)}")
        line.no_wrap, line.overflow = True, "ellipsis"
        now.update(line)

    def on_gone(self, message: Gone) -> None:
        self.gone = True
        self.query_one("#details-title", Label).update(self._title())
        self.query_one("#files-summary", Static).update(
            Text(f"{self.container.name} was removed: its writable layer is gone",
                 style="dim"))
        self.on_stats_point(StatsPoint(None))

    def on_inspect_data(self, message: InspectData) -> None:
        self.inspect_data = message.data
        self.query_one("#inspect-json", Static).update(
            Syntax(json.dumps([message.data], indent=4), "json", theme="ansi_dark",
                   word_wrap=True, background_color="default"))

    def on_files_sampled(self, message: FilesSampled) -> None:
        if self.gone:
            return  # a late sample: the summary says the layer is gone
        self.changes, self.rates, self.file_sample = message.changes, message.rates, \
            message.sample
        s = message.sample
        kinds = {k: sum(1 for c in message.changes if c.kind == k) for k in "ACD"}
        total = sum(message.rates.values())
        summary = Text.assemble(
            ("writable ", "dim"), (size_text(s.apparent), "bold"), (f" in {s.files} files", "dim"),
            "  ", (f"+{size_text(total)}/s" if total > 0 else "not growing",
                   "yellow" if total > 0 else "dim"),
            "  ", (f"{kinds['A']} added", "green"), "  ", (f"{kinds['C']} changed", "yellow"),
            "  ", (f"{kinds['D']} removed", "red"))
        if s.note:
            summary.append(f"   {s.note}", style="dim italic")
        summary.no_wrap, summary.overflow = True, "ellipsis"
        self.query_one("#files-summary", Static).update(summary)
        self._show_files(message.changes, message.rates)

    def _show_files(self, changes: list[Change], rates: dict[str, float]) -> None:
        table = self.query_one("#files-table", DataTable)
        # 4 columns of 1 + 8 + 10 cells and the path, 2 cells of padding each, a scrollbar
        path_width = max(table.size.width - 19 - 8 - 2, 20)
        rows, more = change_rows(changes, rates, path_width)
        signature = (tuple(rows), more, path_width)
        if signature == self._files_signature:
            return
        self._files_signature = signature
        key = None
        if table.row_count:
            key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        table.clear(columns=True)
        table.add_column("", width=1, key="kind")
        table.add_column("Path", width=path_width, key="path")
        table.add_column(Text("Size", justify="right"), width=8, key="size")
        table.add_column(Text("Growth", justify="right"), width=10, key="growth")
        for path, cells in rows:
            table.add_row(*cells, key=path)
        if more:
            table.add_row("", Text(f"… and {more} more", style="dim"), "", "", key="\0more")
        if key is not None and key in table.rows:
            table.move_cursor(row=table.get_row_index(key), animate=False)
