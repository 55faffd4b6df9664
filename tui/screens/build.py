"""``b`` in the Images pane: the build form, then the build's live progress.

Lifecycle: :class:`BuildFormScreen` asks for the context directory, the
Dockerfile (relative to the context), tags, build args and ``--no-cache``;
a worker checks the paths (:func:`check_request`) and the form dismisses
with the checked :class:`BuildRequest`.  :class:`BuildScreen` then runs the
engine's build generator in a worker and shows its events as BuildKit's
plain progress does (``#5 [2/3] RUN …``, the step's output lines, ``#5
CACHED``, ``#5 DONE 0.3s``) under a live ``[+] Building 2.1s (5/9)`` line.
esc cancels a running build (the engine kills the step's container and
records no image), and closes a finished one.  A failed build shows the
failing step's output and the Dockerfile excerpt here; its one line goes
to the App's error dialog.
"""

from __future__ import annotations

import os
import shlex
import threading
import time
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, ClassVar, cast

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Label, RichLog, Static

from engine.build.events import BuildError, BuildEvent
from engine.build.plain import error_text
from engine.errors import EngineError, InvalidArgument
from engine.images.reference import parse

from ..state import BuildChecked, BuildFinished, BuildProgress
from .dialogs import FormScreen

if TYPE_CHECKING:
    from ..app import DockyardApp

__all__ = ["BuildFormScreen", "BuildRequest", "BuildScreen", "check_request"]


@dataclass(frozen=True)
class BuildRequest:
    """What the form asked for.  ``dockerfile`` is kept as typed (the next
    form starts from it); ``dockerfile_path`` is the file it names, set by
    :func:`check_request`."""

    context: str
    dockerfile: str = "Dockerfile"
    tags: tuple[str, ...] = ()
    build_args: tuple[tuple[str, str], ...] = ()
    no_cache: bool = False
    dockerfile_path: str = ""

    def command(self) -> str:
        """The equivalent ``dockyard build`` command line."""
        words = ["build"]
        for t in self.tags:
            words += ["-t", t]
        if self.dockerfile != "Dockerfile":
            words += ["-f", self.dockerfile]
        for k, v in self.build_args:
            words += ["--build-arg", f"{k}={v}"]
        if self.no_cache:
            words.append("--no-cache")
        return shlex.join([*words, self.context])


def check_request(request: BuildRequest) -> BuildRequest:
    """Resolve and check the form's paths and tags (file system I/O: call it
    from a worker).  Raises ``InvalidArgument`` with docker build's words."""
    context = os.path.abspath(os.path.expanduser(request.context.strip() or "."))
    if not os.path.isdir(context):
        raise InvalidArgument(f'unable to prepare context: path "{request.context}" not found')
    name = os.path.expanduser(request.dockerfile.strip() or "Dockerfile")
    path = name if os.path.isabs(name) else os.path.join(context, name)
    if not os.path.isfile(path):
        raise InvalidArgument(f"failed to read dockerfile: open {path}: no such file")
    for tag in request.tags:
        try:
            parse(tag)
        except InvalidArgument as e:
            raise InvalidArgument(f'invalid tag "{tag}": {e}') from None
    return replace(request, context=context, dockerfile_path=path)


def _words(text: str) -> list[str]:
    return shlex.split(text.replace(",", " "))


def parse_build_args(text: str) -> tuple[tuple[str, str], ...]:
    """``KEY=value KEY2="a b" NAME`` → pairs; a bare NAME takes the
    variable from the environment, as ``--build-arg NAME`` does."""
    out: list[tuple[str, str]] = []
    for word in shlex.split(text):
        key, eq, value = word.partition("=")
        if not key:
            raise InvalidArgument(f"invalid build-arg: {word!r}")
        if eq:
            out.append((key, value))
        elif key in os.environ:
            out.append((key, os.environ[key]))
    return tuple(out)


class BuildFormScreen(FormScreen[BuildRequest | None]):
    """Dismisses with the checked request, or None."""

    ERROR = "build-error"

    def __init__(self, request: BuildRequest) -> None:
        super().__init__()
        self.request = request

    @property
    def dockyard(self) -> DockyardApp:
        return cast("DockyardApp", self.app)

    def compose(self) -> ComposeResult:
        r = self.request
        args = " ".join(shlex.quote(f"{k}={v}") for k, v in r.build_args)
        with Vertical(classes="dialog", id="build-dialog"):
            yield Label("Build an image  [dim](build)[/]", classes="dialog-title")
            with VerticalScroll(classes="form-body"):
                for field_id, label, value, hint in (
                        ("context", "Context", r.context, "the build context directory"),
                        ("dockerfile", "Dockerfile", r.dockerfile, "relative to the context"),
                        ("tags", "Tags (-t)", " ".join(r.tags), "name:tag, …"),
                        ("build-args", "Build args", args, "KEY=value, …")):
                    with Horizontal(classes="form-row"):
                        yield Label(label, classes="form-label")
                        yield Input(value, placeholder=hint, id=field_id)
                yield Checkbox("Do not use the build cache (--no-cache)", r.no_cache,
                               id="no-cache")
            yield from self.error_and_buttons("Build")

    def on_mount(self) -> None:
        self.focus_field("context")

    def submit(self) -> None:
        if self.query_one("#ok", Button).disabled:
            return  # the last submit is still being checked
        try:
            tags = tuple(_words(self.value("tags")))
            args = parse_build_args(self.value("build-args"))
        except (ValueError, InvalidArgument) as e:
            self.say(str(e))
            return
        request = BuildRequest(self.value("context"), self.value("dockerfile") or "Dockerfile",
                               tags, args, self.query_one("#no-cache", Checkbox).value)
        self.say("Checking the paths…")
        self.query_one("#ok", Button).disabled = True
        self.dockyard.check_build(self, request)

    def on_build_checked(self, message: BuildChecked) -> None:
        message.stop()
        self.query_one("#ok", Button).disabled = False
        if message.error:
            self.say(message.error)
        else:
            self.dismiss(message.request)

    @on(Input.Submitted)
    def _entered(self) -> None:
        self.submit()


STEP_STYLE = {"cached": "bold blue", "done": "green", "error": "bold red"}


class BuildScreen(ModalScreen[None]):
    """The build's live progress.  ``state`` is running, cancelling,
    finished, failed or cancelled; ``steps`` maps each vertex to its last
    kind (start, done, cached, error); ``lines`` is the log as plain text."""

    DEFAULT_CSS = """
    BuildScreen #build-status { height: 1; }
    BuildScreen #build-log { height: 1fr; scrollbar-size-vertical: 1; overflow-x: hidden; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "cancel or close", id="build.back"),
    ]

    def __init__(self, request: BuildRequest) -> None:
        super().__init__(classes="view-screen")
        self.request = request
        self.cancel = threading.Event()
        self.state = "running"
        self.steps: dict[int, str] = {}
        self.lines: list[str] = []
        self.image_id = ""
        self.error: EngineError | None = None
        self._started = time.monotonic()
        self._elapsed = 0.0

    @property
    def dockyard(self) -> DockyardApp:
        return cast("DockyardApp", self.app)

    def compose(self) -> ComposeResult:
        with Vertical(classes="view", id="build-view"):
            yield Label(self._title(), id="build-title", classes="dialog-title")
            yield Static(self.status_text(), id="build-status")
            yield RichLog(id="build-log", max_lines=20_000, min_width=20, wrap=True,
                          markup=False)

    def on_mount(self) -> None:
        self.query_one(RichLog).focus()
        self.set_interval(0.1, self._tick)
        self.dockyard.run_build(self, self.request, self.cancel)

    def on_unmount(self) -> None:
        self.cancel.set()  # the App is closing under a running build: stop it

    def _title(self) -> str:
        hint = {"running": "esc cancels", "cancelling": "cancelling…"}.get(self.state,
                                                                           "esc closes")
        return f"{Text(self.request.command()).markup}  [dim]({hint})[/]"

    def status_text(self) -> Text:
        if self.state in ("running", "cancelling"):
            self._elapsed = time.monotonic() - self._started
        done = sum(1 for kind in self.steps.values() if kind != "start")
        text = Text(f"[+] Building {self._elapsed:.1f}s ({done}/{len(self.steps)})",
                    style="bold")
        word, style = {"finished": (" FINISHED", "bold green"), "failed": (" ERROR", "bold red"),
                       "cancelling": (" CANCELLING", "bold yellow"),
                       "cancelled": (" CANCELLED", "bold yellow")}.get(self.state, ("", ""))
        text.append(word, style=style)
        return text

    def _tick(self) -> None:
        if self.state in ("running", "cancelling"):
            self.query_one("#build-status", Static).update(self.status_text())

    def _write(self, text: Text) -> None:
        self.lines.append(text.plain)
        self.query_one(RichLog).write(text)

    def on_build_progress(self, message: BuildProgress) -> None:
        message.stop()
        ev: BuildEvent = message.event
        n = f"#{ev.vertex} "
        if ev.vertex:
            self.steps[ev.vertex] = ev.kind if ev.kind in STEP_STYLE else \
                self.steps.get(ev.vertex, "start")
        if ev.kind == "start":
            self._write(Text.assemble((n, "bold"), (ev.name, "bold cyan")))
        elif ev.kind == "log":
            self._write(Text.assemble((f"{n}{ev.elapsed:.3f} ", "dim"),
                                      (ev.text, "red" if ev.stream == 2 else "")))
        elif ev.kind == "status":
            self._write(Text.assemble((n, "bold"), (ev.text, "dim")))
        elif ev.kind == "cached":
            self._write(Text.assemble((n, "bold"), ("CACHED", STEP_STYLE["cached"])))
        elif ev.kind == "done":
            self._write(Text.assemble((n, "bold"), (f"DONE {ev.elapsed:.1f}s", "green")))
        elif ev.kind == "error":
            self._write(Text.assemble((n, "bold"), (f"ERROR: {ev.text}", "bold red")))
        elif ev.kind == "warning":
            self._write(Text(f"WARNING: {ev.text}", style="yellow"))
        elif ev.kind == "result":
            self.image_id = ev.image_id

    def on_build_finished(self, message: BuildFinished) -> None:
        message.stop()
        if message.cancelled:
            self.state = "cancelled"
            if self.is_current:
                self.dismiss(None)
            self.dockyard.notify("Build cancelled: no image was recorded", timeout=4)
            return
        if message.error is not None:
            self.state, self.error = "failed", message.error
            err = message.error
            text = error_text(err) if isinstance(err, BuildError) else f"ERROR: {err}\n"
            for line in text.rstrip("\n").split("\n"):
                self._write(Text(line, style="red"))
        else:
            self.state, self.image_id = "finished", message.image_id
            tags = self.request.tags
            self.dockyard.show_new_image(message.image_id, tags[0] if tags else "")
        self._refresh_labels()

    def _refresh_labels(self) -> None:
        self.query_one("#build-status", Static).update(self.status_text())
        self.query_one("#build-title", Label).update(self._title())

    def action_back(self) -> None:
        if self.state == "running":
            self.state = "cancelling"
            self.cancel.set()
            self._refresh_labels()
        else:  # finished, failed, or a second esc while the build stops by itself
            self.cancel.set()
            self.dismiss(None)
