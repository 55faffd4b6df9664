"""The prune dialog: pick what to prune, see the dry run's exact list and
bytes (computed in a worker), then confirm.  Dismisses with the kind, or
None when cancelled."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Label, Static

from engine.humanize import size_text
from engine.usage.prune import PruneReport

from ..state import PRUNE_KINDS, PrunePlanned, prune

__all__ = ["PruneScreen"]

MAX_LINES = 40
# kind → its key and what the help screen says of it (the dialog says PRUNE_KINDS')
_KEYS = {"images": ("i", "dangling images"), "all-images": ("a", "all unused images"),
         "containers": ("c", "stopped containers"), "volumes": ("v", "volumes")}


class PruneScreen(ModalScreen[str | None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        *(Binding(key, f"kind('{kind}')", does, id=f"prune.{kind.replace('-', '_')}")
          for kind, (key, does) in _KEYS.items()),
        Binding("y", "confirm", "prune", id="prune.yes"),
        Binding("n,escape", "cancel", "cancel", id="prune.no"),
    ]

    def __init__(self, kind: str = "images") -> None:
        super().__init__(classes="dialog-screen")
        self.kind = kind
        self.report: PruneReport | None = None  # the dry run for self.kind

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="prune-dialog"):
            yield Label("Prune", classes="dialog-title")
            yield Static(self._choices(), id="prune-kinds")
            with VerticalScroll(classes="dialog-body"):
                yield Static("Computing the dry run…", id="prune-plan")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Prune (y)", id="yes", variant="error", disabled=True)
                yield Button("Cancel (n)", id="no")

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()
        self.plan(self.kind)

    def _choices(self) -> Text:
        t = Text()
        for kind, (label, _) in PRUNE_KINDS.items():
            on_ = kind == self.kind
            t.append(f"{'●' if on_ else '○'} {_KEYS[kind][0]} {label}   ",
                     style="bold" if on_ else "dim")
        return t

    @work(thread=True, exclusive=True, exit_on_error=False, group="disk.plan")
    def plan(self, kind: str) -> None:
        engine = self.app.engine  # type: ignore[attr-defined]
        self.post_message(PrunePlanned(id(self), kind, prune(engine, kind, dry_run=True)))

    def on_prune_planned(self, message: PrunePlanned) -> None:
        if message.screen_id != id(self) or message.kind != self.kind:
            return  # a late answer for another choice
        self.report = rep = message.report
        body = Text()
        cmd = PRUNE_KINDS[self.kind][1]
        if not rep.deleted:
            body.append(f"{cmd}: nothing to remove.", style="dim")
        else:
            body.append(f"{cmd} will remove:\n", style="dim")
            body.append("\n".join(rep.deleted[:MAX_LINES]), style="")
            if len(rep.deleted) > MAX_LINES:
                body.append(f"\n… and {len(rep.deleted) - MAX_LINES} more", style="dim")
            body.append(f"\n\nTotal reclaimed space: {size_text(rep.reclaimed)}", style="bold")
        self.query_one("#prune-plan", Static).update(body)
        self.query_one("#yes", Button).disabled = not rep.deleted

    def action_kind(self, kind: str) -> None:
        if kind == self.kind:
            return
        self.kind, self.report = kind, None
        self.query_one("#prune-kinds", Static).update(self._choices())
        self.query_one("#prune-plan", Static).update("Computing the dry run…")
        self.query_one("#yes", Button).disabled = True
        self.plan(kind)

    def action_confirm(self) -> None:
        if self.report is not None and self.report.deleted:
            self.dismiss(self.kind)

    def action_cancel(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "yes":
            self.action_confirm()
        else:
            self.dismiss(None)
