"""Container dialogs: delete (with ``-v``), the commit form and the run form."""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Label, Select, Static

from engine.runtime.options import CreateOptions

from .dialogs import FormScreen, reference_problem

__all__ = ["CommitRequest", "CommitScreen", "DeleteContainerScreen", "RunScreen"]


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


class CommitScreen(FormScreen[CommitRequest | None]):
    """``commit CONTAINER [REPO[:TAG]] -m MESSAGE``."""

    ERROR = "commit-error"

    def __init__(self, container: str, suggestion: str = "") -> None:
        super().__init__()
        self._ctr_name, self._suggestion = container, suggestion

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="commit-dialog"):
            yield Label(f"Commit {self._ctr_name}", classes="dialog-title")
            yield Label("Image name  [dim](repository[:tag]; empty: untagged)[/]")
            yield Input(self._suggestion, placeholder="repository[:tag]", id="reference")
            yield Label("Message")
            yield Input(placeholder="what changed", id="message")
            yield from self.error_and_buttons("Commit")

    def on_mount(self) -> None:
        self.focus_field("reference")

    def submit(self) -> None:
        ref = self.value("reference")
        problem = reference_problem(ref, optional=True)
        if problem:
            self.say(problem)
            return
        self.dismiss(CommitRequest(ref, self.value("message")))

    @on(Input.Submitted, "#reference")
    def _next(self) -> None:
        self.query_one("#message", Input).focus()

    @on(Input.Submitted, "#message")
    def _entered(self) -> None:
        self.submit()


RESTART_POLICIES = ("no", "always", "unless-stopped", "on-failure")


def _items(text: str) -> tuple[str, ...]:
    """One field with several values: separated by commas or spaces."""
    return tuple(v for v in text.replace(",", " ").split() if v)


class RunScreen(FormScreen[CreateOptions | None]):
    """``run -d``: image, name, command, ports, env, volumes, restart policy."""

    ERROR = "run-error"

    def __init__(self, image: str = "") -> None:
        super().__init__()
        self._image = image

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="run-dialog"):
            yield Label("Run a new container  [dim](run -d)[/]", classes="dialog-title")
            with VerticalScroll(classes="form-body"):
                for field_id, label, value, hint in (
                        ("image", "Image", self._image, "busybox:1.37.0-musl"),
                        ("name", "Name", "", "optional"),
                        ("command", "Command", "", "empty: the image's CMD"),
                        ("publish", "Ports (-p)", "", "8080:80, …"),
                        ("env", "Env (-e)", "", "KEY=value, …"),
                        ("volumes", "Volumes (-v)", "", "name:/path, /host:/path, …")):
                    with Horizontal(classes="form-row"):
                        yield Label(label, classes="form-label")
                        yield Input(value, placeholder=hint, id=field_id)
                with Horizontal(classes="form-row"):
                    yield Label("Restart", classes="form-label")
                    yield Select([(p, p) for p in RESTART_POLICIES], value="no",
                                 allow_blank=False, id="restart")
            yield from self.error_and_buttons("Run")

    def on_mount(self) -> None:
        self.query_one("#image" if not self._image else "#name", Input).focus()

    def submit(self) -> None:
        image = self.value("image")
        if not image:
            self.say("Which image?")
            return
        try:
            command = tuple(shlex.split(self.value("command")))
        except ValueError as e:
            self.say(f"command: {e}")
            return
        self.dismiss(CreateOptions(
            image=image, name=self.value("name"), command=command,
            publish=_items(self.value("publish")), env=_items(self.value("env")),
            volumes=_items(self.value("volumes")),
            restart=str(self.query_one("#restart", Select).value)))

    @on(Input.Submitted)
    def _entered(self) -> None:
        self.submit()
