"""``u`` pull and ``P`` push in the Images pane: a small form, then the
transfer's progress drawn the way ``docker pull``/``docker push`` draw it —
one line per layer, updated in place, with a bar and bytes while it moves::

    a1b2c3d4e5f6: Downloading [=======>          ]  1.2MB/3.4MB
    0f1e2d3c4b5a: Pull complete
    Digest: sha256:…
    Status: Downloaded newer image for registry:5000/app:1

The transfer runs in a worker fed by the registry client's progress
callbacks.  esc cancels it (the engine leaves the store as it was) and
closes the dialog once it ended.  A failure's one line goes to the App's
error dialog; the dialog keeps the progress so far.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, ClassVar, Literal, cast

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.widgets import Button, Checkbox, Input, Label, Static

from engine.cli.output import size_text
from engine.errors import InvalidArgument
from engine.images.reference import parse
from engine.progress import Progress

from ..state import TransferFinished, TransferProgress
from .dialogs import FormDialog

if TYPE_CHECKING:
    from ..app import DockyardApp

__all__ = ["TransferScreen", "progress_line"]

MOVING = {"Downloading", "Extracting", "Pushing"}  # the statuses that carry bytes
BAR_WIDTH = 24  # fits a 76-column dialog next to a short ID and the byte counts


def progress_line(p: Progress) -> str:
    """One layer's line, as Docker's CLI prints it on a terminal."""
    text = p.status
    if p.status in MOVING:
        if p.total > 0:
            done = min(p.current, p.total)
            filled = BAR_WIDTH * done // p.total
            arrow = ">" if filled < BAR_WIDTH else ""
            bar = "=" * filled + arrow + " " * (BAR_WIDTH - filled - len(arrow))
            text = f"{p.status} [{bar}] {size_text(done):>8}/{size_text(p.total)}"
        else:
            text = f"{p.status} {size_text(p.current)}"
    return f"{p.id}: {text}" if p.id else text


class TransferScreen(FormDialog[None]):
    """``pull REF`` or ``push REF``.  ``state``: form, running, cancelling,
    done, failed or cancelled; ``lines`` maps each layer (or message) to
    its line, in the order they first appeared."""

    ERROR = "transfer-error"

    DEFAULT_CSS = """
    TransferScreen #transfer-progress { display: none; height: auto; max-height: 16; }
    TransferScreen.-running #transfer-progress { display: block; }
    TransferScreen.-running #transfer-form { display: none; }
    TransferScreen #transfer-form { height: auto; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "cancel or close", id="transfer.back"),
    ]

    def __init__(self, verb: Literal["pull", "push"], reference: str = "") -> None:
        super().__init__()
        self.verb = verb
        self.reference = reference
        self.state = "form"
        self.lines: dict[str, str] = {}
        self.image_id = ""
        self.cancel = threading.Event()

    @property
    def dockyard(self) -> DockyardApp:
        return cast("DockyardApp", self.app)

    def compose(self) -> ComposeResult:
        what = "Pull an image from a registry" if self.verb == "pull" else \
            "Push an image to a registry"
        with Vertical(classes="dialog", id="transfer-dialog"):
            yield Label(f"{what}  [dim]({self.verb})[/]", id="transfer-title",
                        classes="dialog-title")
            with Vertical(id="transfer-form"):
                yield Label("Reference  [dim](\\[registry/]repository\\[:tag]; "
                            "a loopback registry uses HTTP)[/]")
                yield Input(self.reference, placeholder="registry.example:5000/app:1",
                            id="reference")
                yield Checkbox("Skip TLS verification (--tls-verify=false)", id="insecure")
            with VerticalScroll(id="transfer-progress"):
                yield Static("", id="transfer-lines", markup=False)
            yield from self.error_and_buttons(self.verb.title())

    def on_mount(self) -> None:
        self.focus_field("reference")

    def on_unmount(self) -> None:
        self.cancel.set()  # the App is closing under a running transfer: stop it

    def submit(self) -> None:
        if self.state != "form":
            return
        ref = self.value("reference")
        try:
            parsed = parse(ref) if ref else None
        except InvalidArgument as e:
            self.say(f"invalid reference format: {e}")
            return
        if parsed is None:
            self.say(f"Which image? (a name like repository:tag to {self.verb})")
            return
        self.reference, self.state = ref, "running"
        self.add_class("-running")
        self.query_one("#ok", Button).display = False
        self.say("")
        self.query_one("#cancel", Button).focus()
        if not parsed.tag and not parsed.digest:
            self.lines["\0default"] = "Using default tag: latest"
        self._show()
        tls_verify = not self.query_one("#insecure", Checkbox).value
        if self.verb == "pull":
            self.dockyard.pull_image(self, ref, tls_verify=tls_verify, cancel=self.cancel)
        else:
            self.dockyard.push_image(self, ref, tls_verify=tls_verify, cancel=self.cancel)

    def _show(self) -> None:
        self.query_one("#transfer-lines", Static).update(Text("\n".join(self.lines.values())))
        self.query_one("#transfer-progress", VerticalScroll).scroll_end(animate=False)

    def on_transfer_progress(self, message: TransferProgress) -> None:
        message.stop()
        p = message.progress
        self.lines[p.id or f"\0{len(self.lines)}"] = progress_line(p)
        self._show()

    def on_transfer_finished(self, message: TransferFinished) -> None:
        message.stop()
        button = self.query_one("#cancel", Button)
        button.label = "Close"
        if message.cancelled:
            self.state = "cancelled"
            if self.is_current:
                self.dismiss(None)
            self.dockyard.notify(f"{self.verb.title()} cancelled", timeout=4)
            return
        if message.error:
            self.state = "failed"
            self.say(f"{self.verb} failed: {message.error}")
            return
        self.state, self.image_id = "done", message.image_id
        self.say(Text(f"{self.verb.title()} complete: {message.reference}", style="green"))
        if self.verb == "pull":
            self.dockyard.show_new_image(message.image_id, message.reference)

    def action_back(self) -> None:
        if self.state == "running":
            self.state = "cancelling"
            self.cancel.set()
            self.say("Cancelling…")
        else:
            self.cancel.set()
            self.dismiss(None)

    def action_cancel(self) -> None:
        """The Cancel button (Close once the transfer ended) does what esc does."""
        self.action_back()

    @on(Input.Submitted)
    def _entered(self) -> None:
        self.submit()
