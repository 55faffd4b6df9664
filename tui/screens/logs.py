"""``logs --tail N [-f] [-t]`` for one container: :class:`LogView` (the
widget, also the Logs section of the details screen) and :class:`LogsScreen`
(``l``: the same view full size).

A worker on the view reads the tail, then (while following) asks for lines
newer than the last one every ``POLL`` seconds; it stops when the view goes
away, because Textual cancels a widget's workers when it is removed.  Keys:
``f`` follow, ``t`` timestamps, ``w`` wrap, ``/`` search (only the lines
that contain the text, highlighted; enter keeps it, esc clears it).
"""

from __future__ import annotations

import time
from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.actions import SkipAction
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Input, Label, RichLog
from textual.worker import Worker, WorkerState, get_current_worker

from engine.errors import NotFound
from engine.runtime.logs import LogLine

from ..state import LogLines
from .viewers import CLOSE

__all__ = ["LogView", "LogsScreen", "forward_errors"]

TAIL = 500
POLL = 0.3
KEEP = 10_000  # lines kept (and shown): RichLog's max_lines


def forward_errors(event: Worker.StateChanged) -> None:
    """A worker's StateChanged does not bubble: hand a widget's failed worker
    to the App's one error handler, as the App's own workers are."""
    worker = event.worker
    if event.state == WorkerState.ERROR and worker.error is not None:
        event.stop()
        worker.node.app.show_error(worker.error, worker.group)  # type: ignore[attr-defined]


class LogsGone(Message, bubble=False):
    """The container was removed while its logs were followed."""


class LogView(Vertical):
    DEFAULT_CSS = """
    LogView { height: 1fr; }
    LogView .logs-title { margin-bottom: 0; }
    LogView RichLog { height: 1fr; }
    LogView .logs-search { dock: bottom; height: 1; border: none; padding: 0 1;
                           background: $boost; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("t", "timestamps", "timestamps", id="logs.timestamps"),
        Binding("f", "follow", "follow", id="logs.follow"),
        Binding("w", "wrap", "wrap", id="logs.wrap"),
        Binding("slash", "search", "search", id="logs.search"),
        Binding("escape", "clear_search", "clear search", show=False, id="logs.clear_search"),
    ]

    def __init__(self, container_id: str, name: str, *, follow: bool = True,
                 id: str | None = None) -> None:  # noqa: A002
        super().__init__(id=id, classes="log-view")
        self.container_id, self._ctr_name = container_id, name
        self.follow = follow
        self.timestamps = False
        self.wrap = True
        self.search = ""
        self.lines: list[LogLine] = []
        self.shown = 0  # lines on screen (all of them, or the search's matches)

    def compose(self) -> ComposeResult:
        yield Label(self._title(), classes="dialog-title logs-title")
        yield RichLog(max_lines=KEEP, wrap=self.wrap, markup=False, classes="logs-text")
        yield Input(placeholder="search the logs (enter keeps it, esc clears)",
                    classes="logs-search")

    @property
    def richlog(self) -> RichLog:
        return self.query_one(RichLog)

    def _title(self) -> str:
        flags = f"--tail {TAIL}" + (" -f" if self.follow else "") + \
            (" -t" if self.timestamps else "")
        title = f"logs {flags} {self._ctr_name}"
        if self.search:
            title += f"  [yellow]search {self.search!r}: {self.shown} of {len(self.lines)}[/]"
        keys = "t timestamps, f follow, w wrap, / search, esc back"
        return f"{title}  [dim]({keys}{'' if self.wrap else ', no wrap'})[/]"

    def _update_title(self) -> None:
        self.query_one(".logs-title", Label).update(self._title())

    def on_mount(self) -> None:
        self.query_one(".logs-search", Input).display = False
        self.read_logs()

    def focus_log(self) -> None:
        self.screen.set_focus(self.richlog)

    # -- reading ------------------------------------------------------------------
    @work(thread=True, exclusive=True, exit_on_error=False, group="container.logs")
    def read_logs(self) -> None:
        engine = self.app.engine  # type: ignore[attr-defined]
        worker = get_current_worker()
        batch = list(engine.logs(self.container_id, tail=TAIL))
        self.post_message(LogLines(id(self), batch))
        last = batch[-1].time_ns if batch else 0
        self._poll(worker, last)

    @work(thread=True, exclusive=True, exit_on_error=False, group="container.logs")
    def _resume(self) -> None:
        """Follow again from the last line shown."""
        self._poll(get_current_worker(), self.lines[-1].time_ns if self.lines else 0)

    def _poll(self, worker: Worker, last: int) -> None:
        engine = self.app.engine  # type: ignore[attr-defined]
        while self.follow and not worker.is_cancelled:
            time.sleep(POLL)
            try:
                batch = list(engine.logs(self.container_id, since_ns=last + 1))
            except NotFound:  # removed while we followed: say so, no dialog
                self.post_message(LogsGone())
                return
            if batch:
                last = batch[-1].time_ns
                self.post_message(LogLines(id(self), batch))

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        forward_errors(event)

    # -- drawing --------------------------------------------------------------------
    def _line_text(self, line: LogLine) -> Text:
        text = Text()
        if self.timestamps:
            text.append(line.time + " ", style="dim")
        text.append(line.text.rstrip("\n"), style="red" if line.stream == "stderr" else "")
        if self.search:
            text.highlight_words([self.search], style="black on yellow", case_sensitive=False)
        return text

    def _matches(self, line: LogLine) -> bool:
        return not self.search or self.search.lower() in line.text.lower()

    def on_log_lines(self, message: LogLines) -> None:
        if message.screen_id != id(self):
            return
        message.stop()
        self.lines += message.lines
        if len(self.lines) > KEEP:
            del self.lines[:-KEEP]
        log = self.richlog
        for line in message.lines:
            if self._matches(line):
                log.write(self._line_text(line))
                self.shown += 1
        if self.search:
            self._update_title()

    def on_logs_gone(self, message: LogsGone) -> None:
        self.follow = False
        self.richlog.write(Text("— the container was removed —", style="dim italic"))
        self._update_title()

    def redraw(self) -> None:
        log = self.richlog
        log.clear()
        log.wrap = self.wrap
        self.shown = 0
        for line in self.lines:
            if self._matches(line):
                log.write(self._line_text(line))
                self.shown += 1
        self._update_title()

    # -- keys -------------------------------------------------------------------------
    def action_timestamps(self) -> None:
        self.timestamps = not self.timestamps
        self.redraw()

    def action_wrap(self) -> None:
        self.wrap = not self.wrap
        self.redraw()

    def action_follow(self) -> None:
        self.follow = not self.follow
        self._update_title()
        if self.follow:
            self._resume()

    def action_search(self) -> None:
        box = self.query_one(".logs-search", Input)
        box.display = True
        self.screen.set_focus(box)

    def action_clear_search(self) -> None:
        box = self.query_one(".logs-search", Input)
        if not box.display and not self.search:
            raise SkipAction()  # esc goes on to the screen: back
        box.value = ""
        box.display = False
        self.set_search("")
        self.focus_log()

    def set_search(self, text: str) -> None:
        self.search = text.strip()
        self.redraw()

    @on(Input.Changed, ".logs-search")
    def _search_changed(self, event: Input.Changed) -> None:
        event.stop()
        self.set_search(event.value)

    @on(Input.Submitted, ".logs-search")
    def _search_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if not event.value.strip():
            self.action_clear_search()
        else:
            self.focus_log()


class LogsScreen(ModalScreen[None]):
    """``l``: one container's logs, full size."""

    BINDINGS: ClassVar[list[BindingType]] = [*CLOSE]

    def __init__(self, container_id: str, name: str, *, follow: bool = True) -> None:
        super().__init__(classes="view-screen")
        self.container_id = container_id
        self._view = LogView(container_id, name, follow=follow)

    def compose(self) -> ComposeResult:
        with Vertical(classes="view", id="logs-view"):
            yield self._view

    def on_mount(self) -> None:
        self._view.focus_log()

    @property
    def view(self) -> LogView:
        return self._view

    @property
    def lines(self) -> list[LogLine]:
        return self._view.lines

    @property
    def timestamps(self) -> bool:
        return self._view.timestamps
