"""Containers pane: ``ps -a`` with live status, ports, CPU, memory and the
writable layer's size.

CPU % and memory come from the App's ``sample_stats`` worker (every running
container in one engine pass per refresh); a stopped container shows "—".
Actions run in the App's workers on the marked rows (else the row under
the cursor): ``s`` stop/start, ``r`` restart, ``p`` pause/unpause, ``d``
delete (confirm, ``-v``), ``l`` logs, ``c`` commit, ``e`` exec a shell and
``a`` attach (the TUI suspends and hands the terminal over), enter the
details screen (logs, stats charts, inspect, the writable layer's files).
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import threading
from dataclasses import replace
from typing import TYPE_CHECKING, Any, ClassVar, cast

from rich.text import Text
from textual import on
from textual.app import ComposeResult, SuspendNotSupported
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widgets import DataTable, Sparkline, Static

from engine import ContainerSummary, ImageSummary
from engine.cli.container_more import bytes_size
from engine.filters import Filters, match_text
from engine.humanize import size_text

from ..model import CONTAINER_FILTERS, Col, Row, container_matcher, container_rows
from ..screens.container_details import ContainerDetailsScreen, cpu_text
from .base import ListPane, _fit, sort_bindings

if TYPE_CHECKING:
    from ..app import DockyardApp

__all__ = ["ContainersPane"]

LIVE = ("running", "paused", "restarting")
COLUMNS = (
    Col("name", "Name", "N", flex=2, min=8),
    Col("id", "Container ID", "I", width=12, hide_below=100),  # 80 wide: CPU and memory first
    Col("image", "Image", "M", flex=2, min=8),
    Col("status", "Status", "S", min=8, max=26),
    Col("ports", "Ports", "O", flex=1, min=6, hide_below=120),
    Col("cpu", "CPU %", "C", width=6, right=True, descending=True),
    Col("memory", "Memory", "E", width=8, right=True, descending=True),
    Col("size", "RW size", "W", width=7, right=True, descending=True),
)
CPU, MEMORY = (next(i for i, c in enumerate(COLUMNS) if c.key == k) for k in ("cpu", "memory"))


class ContainersPane(ListPane):
    PANE_ID = "containers"
    TITLE = "Containers"
    NOUN = ("container", "containers")
    COLUMNS = COLUMNS
    FILTER_KEYS = CONTAINER_FILTERS
    FILTER_HINT = "text, status=exited, name=web, label=k=v, ancestor=busybox"
    DEFAULT_SORT = None  # the engine's order: newest first, as ps shows them
    EMPTY = "No containers — press n to run one"
    ROW_ACTIONS = frozenset({"stop_start", "restart", "pause", "delete", "exec", "attach",
                             "commit", "logs", "details"})

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "details", "details", id="container.details"),
        Binding("n", "run_new", "run", id="container.run"),
        Binding("s", "stop_start", "stop/start", id="container.stop_start"),
        Binding("r", "restart", "restart", id="container.restart"),
        Binding("p", "pause", "pause", id="container.pause"),
        Binding("d", "delete", "delete", id="container.delete"),
        Binding("e", "exec", "exec", id="container.exec", show=False),
        Binding("a", "attach", "attach", id="container.attach", show=False),
        Binding("c", "commit", "commit", id="container.commit", show=False),
        Binding("l", "logs", "logs", id="container.logs"),
        Binding("w", "writable", "rw live", id="container.writable", show=False),
        *sort_bindings("containers", COLUMNS),
    ]

    def __init__(self) -> None:
        super().__init__()
        self._matcher = container_matcher((), ())
        self.sampling: str | None = None  # the container the live panel follows
        self.last_sample: Any = None
        self.stats: dict[str, Any] = {}  # container ID → runtime.stats.ContainerStats
        self._stats_texts: dict[str, tuple[str, str]] = {}  # what the last reading showed
        self._containers: tuple[ContainerSummary, ...] = ()
        self._now = 0.0
        self._drawn: tuple | None = None  # what the table shows: keys, columns, widths …

    def compose(self) -> ComposeResult:
        yield from super().compose()
        with Vertical(classes="rw-live"):
            yield Static("", classes="rw-text")
            yield Sparkline([], classes="rw-spark")

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one(".rw-live").display = False
        self.dockyard.sample_stats()

    # -- the live writable layer (w) ---------------------------------------------
    def action_writable(self) -> None:
        panel = self.query_one(".rw-live")
        panel.display = not panel.display
        if panel.display:
            self.follow_selection()
        else:
            self.sampling = None
            self.app.workers.cancel_group(self.app, "container.sample")

    def follow_selection(self) -> None:
        """Point the live panel at the container under the cursor."""
        if not self.query_one(".rw-live").display:
            return
        c = self.current_container()
        if c is None or c.id == self.sampling:
            return
        self.sampling, self.last_sample = c.id, None
        self.query_one(".rw-text", Static).update(Text(f"{c.name}: sampling…", style="dim"))
        self.query_one(".rw-spark", Sparkline).data = []
        self.dockyard.sample_writable(c.id)

    def show_sample(self, container_id: str, sample: Any, sizes: list[int]) -> None:
        if container_id != self.sampling:
            return  # a late sample of the container shown before
        self.last_sample = sample
        c = next((r.obj for r in self._rows if r.key == container_id), None)
        rate = f"{'+' if sample.rate >= 0 else '-'}{size_text(abs(sample.rate))}/s"
        t = Text.assemble((c.name if c else container_id[:12], "bold"), "  writable layer ",
                          (size_text(sample.apparent), "bold"), "  ",
                          (rate, "green" if sample.rate <= 0 else "yellow"),
                          f"  {sample.files} files")
        for path, added in sample.growing[:3]:
            t.append(f"\n  +{size_text(added)} ", style="yellow")
            t.append(path)
        t.no_wrap, t.overflow = True, "ellipsis"
        self.query_one(".rw-text", Static).update(t)
        self.query_one(".rw-spark", Sparkline).data = [float(x) for x in sizes]

    @property
    def dockyard(self) -> DockyardApp:
        return cast("DockyardApp", self.app)

    def set_containers(self, containers: tuple[ContainerSummary, ...],
                       images: tuple[ImageSummary, ...], now: float) -> None:
        self._matcher = container_matcher(containers, images)
        self._containers, self._now = containers, now
        self.set_rows(self._with_stats(container_rows(containers, now)))

    # -- CPU % and memory -------------------------------------------------------
    def show_stats(self, stats: dict[str, Any]) -> None:
        """A reading of every running container (the App's ``sample_stats``).
        A reading that changes no text on screen (idle containers: 0.00 % and
        the same memory) rebuilds no rows, unless the rows are sorted by it."""
        texts = {cid: (cpu_text(s.cpu_percent), bytes_size(s.mem_usage))
                 for cid, s in stats.items()}
        same = texts == self._stats_texts and self.sort_col not in ("cpu", "memory")
        self.stats, self._stats_texts = stats, texts
        if self.loaded and not same:
            self.set_rows(self._with_stats(container_rows(self._containers, self._now)))

    def _with_stats(self, rows: list[Row]) -> list[Row]:
        out = []
        for r in rows:
            s = self.stats.get(r.key) if r.obj.state in ("running", "paused") else None
            if s is None:
                out.append(r)
                continue
            cells, sort = list(r.cells), list(r.sort)
            cells[CPU], sort[CPU] = cpu_text(s.cpu_percent), s.cpu_percent
            cells[MEMORY], sort[MEMORY] = bytes_size(s.mem_usage), s.mem_usage
            out.append(replace(r, cells=tuple(cells), sort=tuple(sort)))
        return out

    def _redraw(self, shown: list[Row], cols: list[tuple[int, Col]], widths: list[int]) -> None:
        """Only cells changed (a stats reading, "Up 3 minutes"): update those in
        place instead of rebuilding the table, which would cost the UI thread
        a full redraw per refresh with 100 containers."""
        before = self._drawn
        self._drawn = ([r.key for r in shown], cols, widths, frozenset(self.marked),
                       self.sort_col, self.sort_desc)
        if before is None or before != self._drawn or len(self._shown) != len(shown):
            super()._redraw(shown, cols, widths)
            return
        table = self.table
        for old, new in zip(self._shown, shown, strict=True):
            if old.cells == new.cells:
                continue
            for (i, c), w in zip(cols, widths, strict=True):
                if old.cells[i] != new.cells[i]:
                    table.update_cell(new.key, c.key, _fit(new.cells[i], w, c.right))
        self._shown = shown

    def matches(self, row: Row, filters: Filters, term: str) -> bool:
        return (not filters or self._matcher(row.obj, filters)) and match_text(term, *row.text)

    def current_container(self) -> ContainerSummary | None:
        row = self.current_row()
        return row.obj if row else None

    # TODO(containers issue): limits (--memory, --cpus) in the run form.
    def action_run_new(self) -> None:
        self.dockyard.ask_run(self.dockyard.main.selected_image_ref())

    def _selected(self) -> list[ContainerSummary]:
        return [r.obj for r in self.selected_rows()]

    def action_stop_start(self) -> None:
        self.dockyard.container_action(
            [("stop" if c.state in LIVE else "start", c.id) for c in self._selected()])

    def action_restart(self) -> None:
        self.dockyard.container_action([("restart", c.id) for c in self._selected()])

    def action_pause(self) -> None:
        chosen = self._selected()
        if idle := [c.name for c in chosen if c.state not in ("running", "paused")]:
            self.dockyard.notify(f"not running: {', '.join(idle)}", severity="warning")
        self.dockyard.container_action(
            [("unpause" if c.state == "paused" else "pause", c.id) for c in chosen
             if c.state in ("running", "paused")])

    def action_delete(self) -> None:
        if chosen := self._selected():
            self.dockyard.ask_delete_containers(chosen)

    def action_exec(self) -> None:
        if c := self.current_container():
            self.dockyard.exec_shell(c)

    def attach_command(self, c: ContainerSummary) -> list[str]:
        """What ``a`` runs in the terminal: ``dockyard attach`` on this root.
        ``--sig-proxy=false``: without a TTY, ctrl-c ends the attach and
        leaves the container running (with one, ctrl-p ctrl-q detaches)."""
        cli = shutil.which("dockyard") or ""
        base = [cli] if cli else [sys.executable, "-m", "engine"]
        return [*base, "--root", str(self.dockyard.engine.root), "attach",
                "--sig-proxy=false", c.id[:12]]

    def action_attach(self) -> None:
        """Hand the terminal to ``dockyard attach ID`` (as ``e`` does for
        exec) until detach or exit, then come back."""
        c = self.current_container()
        if c is None:
            return
        app = self.dockyard
        if c.state != "running":
            verb = "unpause" if c.state == "paused" else "start"
            app.notify(f"{c.name} is {c.state}: {verb} it first", severity="warning")
            return
        argv = self.attach_command(c)
        main_thread = threading.current_thread() is threading.main_thread()
        try:
            with app.suspend():
                print(f"attached to {c.name}: ctrl-p ctrl-q detaches (ctrl-c without a TTY)",
                      flush=True)
                # the terminal is cooked again: ctrl-c signals us too, and must
                # not end the TUI (a handler, unlike SIG_IGN, is reset by exec)
                old = signal.signal(signal.SIGINT, lambda *_: None) if main_thread else None
                try:
                    subprocess.run(argv, check=False)
                finally:
                    if old is not None:
                        signal.signal(signal.SIGINT, old)
        except SuspendNotSupported:
            app.notify("attach needs a real terminal: run " + " ".join(argv[-4:]),
                       severity="warning", timeout=8)
        app.request_refresh()

    def action_details(self) -> None:
        if c := self.current_container():
            self.app.push_screen(ContainerDetailsScreen(c, self.dockyard.clock()))

    @on(DataTable.RowSelected)
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_details()

    def action_commit(self) -> None:
        if c := self.current_container():
            self.dockyard.ask_commit(c)

    def action_logs(self) -> None:
        if c := self.current_container():
            self.dockyard.show_logs(c)
