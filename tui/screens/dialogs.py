"""Small modal dialogs: confirm, error, the form base classes and the tag form."""

from __future__ import annotations

from typing import ClassVar, TypeVar

from rich.console import RenderableType
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

from engine.errors import InvalidReference
from engine.images.reference import parse

__all__ = ["ConfirmScreen", "ErrorScreen", "FormDialog", "FormScreen", "TagScreen"]


ResultT = TypeVar("ResultT")


class ConfirmScreen(ModalScreen[bool]):
    """Asks yes/no; dismisses with True only on an explicit yes."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "yes", id="dialog.yes"),
        Binding("n,escape", "answer(False)", "no", id="dialog.no"),
    ]

    def __init__(self, title: str, body: list[RenderableType], confirm: str = "Delete",
                 danger: bool = True) -> None:
        super().__init__(classes="dialog-screen")
        self._title, self._body, self._confirm, self._danger = title, body, confirm, danger

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="confirm-dialog"):
            yield Label(self._title, classes="dialog-title")
            with VerticalScroll(classes="dialog-body"):
                for part in self._body:
                    yield Static(part)
            with Horizontal(classes="dialog-buttons"):
                yield Button(f"{self._confirm} (y)", id="yes",
                             variant="error" if self._danger else "primary")
                yield Button("Cancel (n)", id="no")

    def on_mount(self) -> None:
        self.query_one("#yes", Button).focus()

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")


class ErrorScreen(ModalScreen[None]):
    """The one place an EngineError is shown: its one line, and what failed."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,enter,q", "close", "close", id="dialog.close"),
    ]

    def __init__(self, message: str, title: str = "Error") -> None:
        super().__init__(classes="dialog-screen")
        self.message, self._title = message, title

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog error", id="error-dialog"):
            yield Label(self._title, classes="dialog-title")
            yield Static(self.message, classes="error-message", markup=False)
            with Horizontal(classes="dialog-buttons"):
                yield Button("OK", id="ok", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#ok", Button).focus()

    def action_close(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed)
    def _pressed(self) -> None:
        self.dismiss(None)


def reference_problem(text: str, *, optional: bool = False) -> str:
    """Why ``text`` is no image name, in the engine's words ("" if it is one)."""
    if not text:
        return "" if optional else "Enter a name like repository:tag"
    try:
        parse(text)
    except InvalidReference as e:
        return str(e)
    return ""


class FormDialog(ModalScreen[ResultT]):
    """A dialog of fields with OK and Cancel buttons.  OK (or enter, where a
    subclass says so) calls :meth:`submit`, which dismisses with the answer
    or says in the ``ERROR`` label (its id) why it cannot; Cancel calls
    :meth:`action_cancel`, which dismisses with None.  A form's compose ends
    with :meth:`error_and_buttons`.  It binds no key: :class:`FormScreen`
    adds esc, and a dialog whose esc does more (pull and push cancel a
    running transfer) binds its own."""

    ERROR = "form-error"

    def __init__(self) -> None:
        super().__init__(classes="dialog-screen")

    def error_and_buttons(self, ok: str) -> ComposeResult:
        """The end of every form: the line that says what is wrong, then the
        OK button (labelled ``ok``) and Cancel."""
        yield Label("", id=self.ERROR, classes="field-error")
        with Horizontal(classes="dialog-buttons"):
            yield Button(ok, id="ok", variant="primary")
            yield Button("Cancel", id="cancel")

    def value(self, field_id: str) -> str:
        """The text in the field ``field_id``, stripped."""
        return self.query_one(f"#{field_id}", Input).value.strip()

    def focus_field(self, field_id: str) -> None:
        box = self.query_one(f"#{field_id}", Input)
        box.focus()
        box.cursor_position = len(box.value)

    def say(self, problem: str | Text) -> None:
        self.query_one(f"#{self.ERROR}", Label).update(problem)

    def action_cancel(self) -> None:
        self.dismiss(None)

    def submit(self) -> None:
        raise NotImplementedError

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "ok":
            self.submit()
        else:
            self.action_cancel()


class FormScreen(FormDialog[ResultT]):
    """A :class:`FormDialog` that esc cancels."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "cancel", id="dialog.cancel"),
    ]


class TagScreen(FormScreen[str | None]):
    """``tag SOURCE TARGET``: asks for the target; dismisses with it or None."""

    ERROR = "tag-error"

    def __init__(self, source: str, suggestion: str) -> None:
        super().__init__()
        self._source, self._suggestion = source, suggestion

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="tag-dialog"):
            yield Label(f"Tag {self._source}", classes="dialog-title")
            yield Label("New name  [dim](repository[:tag], e.g. myapp:1.0)[/]")
            yield Input(self._suggestion, placeholder="repository[:tag]", id="target")
            yield from self.error_and_buttons("Tag")

    def on_mount(self) -> None:
        self.focus_field("target")

    def submit(self) -> None:
        target = self.value("target")
        problem = reference_problem(target)
        if problem:
            self.say(problem)
            return
        self.dismiss(target)

    @on(Input.Submitted)
    def _entered(self) -> None:
        self.submit()
