"""Containers pane: ``ps -a`` with live status, ports, CPU, memory and the
writable layer's size.

Actions run in the App's workers on the marked rows (else the row under
the cursor): ``s`` stop/start, ``r`` restart, ``p`` pause/unpause, ``d``
delete (confirm, ``-v``), ``l`` logs, ``c`` commit, ``e`` exec a shell
(the TUI suspends and hands the terminal over).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, cast

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widgets import Sparkline, Static

from engine import ContainerSummary, ImageSummary
from engine.filters import Filters, match_text
from engine.humanize import size_text

from ..model import CONTAINER_FILTERS, Col, Row, container_matcher, container_rows
from .base import ListPane, sort_bindings

if TYPE_CHECKING:
    from ..app import DockyardApp

__all__ = ["ContainersPane"]

LIVE = ("running", "paused", "restarting")
COLUMNS = (
    Col("name", "Name", "N", flex=2, min=8),
    Col("id", "Container ID", "I", width=12),
    Col("image", "Image", "M", flex=2, min=8),
    Col("status", "Status", "S", min=8, max=26),
    Col("ports", "Ports", "O", flex=1, min=6, hide_below=120),
    Col("cpu", "CPU %", "C", width=6, right=True, descending=True, hide_below=100),
    Col("memory", "Memory", "E", width=8, right=True, descending=True, hide_below=100),
    Col("size", "RW size", "W", width=8, right=True, descending=True),
)


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
        Binding("n", "run_new", "run", id="container.run"),
        # TODO(containers issue): a attach, the CPU % and memory columns (from
        # stats_sample in a worker) and enter → details (stats, inspect, diff).
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

    def compose(self) -> ComposeResult:
        yield from super().compose()
        with Vertical(classes="rw-live"):
            yield Static("", classes="rw-text")
            yield Sparkline([], classes="rw-spark")

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one(".rw-live").display = False

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
        self.set_rows(container_rows(containers, now))

    def matches(self, row: Row, filters: Filters, term: str) -> bool:
        return (not filters or self._matcher(row.obj, filters)) and match_text(term, *row.text)

    def current_container(self) -> ContainerSummary | None:
        row = self.current_row()
        return row.obj if row else None

    def _not_yet(self, what: str) -> None:
        self.dockyard.notify(f"{what}: not in the TUI yet — use the CLI", title="Not yet",
                             severity="warning")

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

    def action_attach(self) -> None:
        self._not_yet("attach")

    def action_commit(self) -> None:
        if c := self.current_container():
            self.dockyard.ask_commit(c)

    def action_logs(self) -> None:
        if c := self.current_container():
            self.dockyard.show_logs(c)
