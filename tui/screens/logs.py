"""``logs --tail N [-f] [-t]`` for one container, as a full-size view.

A worker on this screen reads the tail, then (while following) asks for
lines newer than the last one every ``POLL`` seconds; it stops when the
screen closes, because Textual cancels a screen's workers with it.
"""

from __future__ import annotations

import time
from typing import ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, RichLog
from textual.worker import get_current_worker

from engine.runtime.logs import LogLine

from ..state import LogLines
from .viewers import CLOSE

__all__ = ["LogsScreen"]

TAIL = 500
POLL = 0.3


class LogsScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        *CLOSE,
        Binding("t", "timestamps", "timestamps", id="logs.timestamps"),
        Binding("f", "follow", "follow", id="logs.follow"),
    ]

    def __init__(self, container_id: str, name: str, *, follow: bool = True) -> None:
        super().__init__(classes="view-screen")
        self.container_id, self._ctr_name = container_id, name
        self.follow = follow
        self.timestamps = False
        self.lines: list[LogLine] = []

    def compose(self) -> ComposeResult:
        with Vertical(classes="view", id="logs-view"):
            yield Label(self._title(), id="logs-title", classes="dialog-title")
            yield RichLog(id="logs-text", max_lines=10_000, wrap=True, markup=False)

    def _title(self) -> str:
        flags = f"--tail {TAIL}" + (" -f" if self.follow else "") + \
            (" -t" if self.timestamps else "")
        return f"logs {flags} {self._ctr_name}  [dim](t timestamps, f follow, esc closes)[/]"

    def on_mount(self) -> None:
        self.query_one(RichLog).focus()
        self.read_logs()

    @work(thread=True, exclusive=True, exit_on_error=False, group="container.logs")
    def read_logs(self) -> None:
        engine = self.app.engine  # type: ignore[attr-defined]
        worker = get_current_worker()
        batch = list(engine.logs(self.container_id, tail=TAIL))
        self.post_message(LogLines(id(self), batch))
        last = batch[-1].time_ns if batch else 0
        while self.follow and not worker.is_cancelled:
            time.sleep(POLL)
            batch = list(engine.logs(self.container_id, since_ns=last + 1))
            if batch:
                last = batch[-1].time_ns
                self.post_message(LogLines(id(self), batch))

    def _line_text(self, line: LogLine) -> Text:
        text = Text()
        if self.timestamps:
            text.append(line.time + " ", style="dim")
        text.append(line.text.rstrip("\n"), style="red" if line.stream == "stderr" else "")
        return text

    def on_log_lines(self, message: LogLines) -> None:
        if message.screen_id != id(self):
            return
        self.lines += message.lines
        log = self.query_one(RichLog)
        for line in message.lines:
            log.write(self._line_text(line))

    def action_timestamps(self) -> None:
        self.timestamps = not self.timestamps
        log = self.query_one(RichLog)
        log.clear()
        for line in self.lines:
            log.write(self._line_text(line))
        self.query_one("#logs-title", Label).update(self._title())

    def action_follow(self) -> None:
        self.follow = not self.follow
        self.query_one("#logs-title", Label).update(self._title())
        if self.follow:
            self._resume()

    @work(thread=True, exclusive=True, exit_on_error=False, group="container.logs")
    def _resume(self) -> None:
        """Follow again from the last line shown."""
        engine = self.app.engine  # type: ignore[attr-defined]
        worker = get_current_worker()
        last = self.lines[-1].time_ns if self.lines else 0
        while self.follow and not worker.is_cancelled:
            batch = list(engine.logs(self.container_id, since_ns=last + 1))
            if batch:
                last = batch[-1].time_ns
                self.post_message(LogLines(id(self), batch))
            time.sleep(POLL)
