"""Container dialogs: delete (with ``-v``) and the commit form."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Label, Static

__all__ = ["CommitRequest", "CommitScreen", "DeleteContainerScreen"]


class DeleteContainerScreen(ModalScreen[bool | None]):
    """``rm -f [-v] CONTAINER``: dismisses with the ``-v`` choice, or None."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "yes", id="dialog.yes"),
        Binding("n,escape", "answer(False)", "no", id="dialog.no"),
        Binding("v", "toggle_volumes", "-v", id="dialog.volumes"),
    ]

    def __init__(self, names: list[str], running: list[str]) -> None:
        super().__init__(classes="dialog-screen")
        self._ctr_names, self._live_names = names, running

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="delete-container-dialog"):
            names, live = self._ctr_names, self._live_names
            what = names[0] if len(names) == 1 else f"{len(names)} containers"
            yield Label(f"Delete {what}?", classes="dialog-title")
            if len(names) > 1:
                yield Static(", ".join(names))
            if live:
                yield Static(f"Running, killed first (rm -f): {', '.join(live)}",
                             classes="warning")
            yield Checkbox("Also remove its anonymous volumes (-v)  [dim]v[/]", id="volumes")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Delete (y)", id="yes", variant="error")
                yield Button("Cancel (n)", id="no")

    def on_mount(self) -> None:
        self.query_one("#yes", Button).focus()

    @property
    def volumes(self) -> bool:
        return self.query_one("#volumes", Checkbox).value

    def action_toggle_volumes(self) -> None:
        box = self.query_one("#volumes", Checkbox)
        box.value = not box.value

    def action_answer(self, yes: bool) -> None:
        self.dismiss(self.volumes if yes else None)

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.action_answer(event.button.id == "yes")


@dataclass(frozen=True)
class CommitRequest:
    reference: str  # "" = an untagged image
    message: str


class CommitScreen(ModalScreen[CommitRequest | None]):
    """``commit CONTAINER [REPO[:TAG]] -m MESSAGE``."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "cancel", id="dialog.cancel"),
    ]

    def __init__(self, container: str, suggestion: str = "") -> None:
        super().__init__(classes="dialog-screen")
        self._ctr_name, self._suggestion = container, suggestion

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="commit-dialog"):
            yield Label(f"Commit {self._ctr_name}", classes="dialog-title")
            yield Label("Image name  [dim](repository[:tag]; empty: untagged)[/]")
            yield Input(self._suggestion, placeholder="repository[:tag]", id="reference")
            yield Label("Message")
            yield Input(placeholder="what changed", id="message")
            yield Label("", id="commit-error", classes="field-error")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Commit", id="ok", variant="primary")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        box = self.query_one("#reference", Input)
        box.focus()
        box.cursor_position = len(box.value)

    def action_cancel(self) -> None:
        self.dismiss(None)

    def _submit(self) -> None:
        ref = self.query_one("#reference", Input).value.strip()
        if ref.endswith(":") or " " in ref:
            self.query_one("#commit-error", Label).update("Enter a name like repository:tag")
            return
        self.dismiss(CommitRequest(ref, self.query_one("#message", Input).value.strip()))

    @on(Input.Submitted, "#reference")
    def _next(self) -> None:
        self.query_one("#message", Input).focus()

    @on(Input.Submitted, "#message")
    def _entered(self) -> None:
        self._submit()

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "ok":
            self._submit()
        else:
            self.dismiss(None)
