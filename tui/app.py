"""dockyard's Textual App: global keys, the command palette, dialogs, and the
one handler that turns a failed worker into an error dialog.

The layout lives in ``screens/main.py``, the panes in ``panes/``, every
engine call in ``workers.py``.  ``run(root)`` is what ``dockyard`` (no
arguments) calls.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from typing import ClassVar

from rich.text import Text
from textual.app import App, SuspendNotSupported
from textual.binding import Binding, BindingType
from textual.worker import Worker, WorkerState

from engine import ContainerSummary, Engine
from engine.cli.output import size_text
from engine.errors import EngineError
from engine.runtime.options import CreateOptions

from . import state
from .config import Config, load_config
from .model import ImageRef
from .palette import PaletteCommands
from .panes.base import ListPane
from .panes.containers import ContainersPane
from .panes.disk import DiskPane
from .panes.images import ImagesPane
from .panes.layers import LayersPane
from .screens.build import BuildFormScreen, BuildRequest, BuildScreen
from .screens.container_details import ContainerDetailsScreen
from .screens.dialogs import ConfirmScreen, ErrorScreen, FormScreen, TagScreen
from .screens.forms import CommitRequest, CommitScreen, DeleteContainerScreen, RunScreen
from .screens.help import HelpScreen
from .screens.logs import LogsScreen, LogView
from .screens.main import MainScreen
from .screens.prune import PruneScreen
from .screens.registry import TransferScreen
from .screens.viewers import CLOSE, HistoryScreen, InspectScreen
from .workers import EngineWorkers

__all__ = ["DockyardApp", "run"]

MAX_PLAN_LINES = 12
_DIGEST = re.compile(r"(sha256:[0-9a-f]{12})[0-9a-f]{52}")  # shown short, as docker does


class DockyardApp(PaletteCommands, EngineWorkers, App[None]):
    CSS_PATH = "app.tcss"
    TITLE = "dockyard"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit", "quit", id="app.quit"),
        Binding("question_mark", "help", "help", id="app.help"),
        Binding("colon", "command_palette", "commands", id="app.palette"),
        Binding("ctrl+p", "command_palette", "commands", show=False, priority=True,
                id="app.palette.ctrl"),
    ]

    def __init__(self, engine: Engine, *, config: Config | None = None,
                 clock: Callable[[], float] = time.time, poll_interval: float = 0.5,
                 first_pane: str = "images") -> None:
        """``clock`` is the "now" of every "N minutes ago" (tests freeze it)."""
        super().__init__()
        import threading

        self.engine = engine
        self.config = config or Config()
        self.clock = clock
        self.refresh_interval = self.config.refresh_interval
        self.poll_interval = poll_interval
        self.first_pane = first_pane
        self._wake = threading.Event()
        self._stopping = threading.Event()

    # -- lifecycle ----------------------------------------------------------------
    def on_mount(self) -> None:
        self.apply_config(self.config)
        self.push_screen(MainScreen(self.first_pane))
        self.live()

    def on_unmount(self) -> None:
        self.stop_live()

    def apply_config(self, config: Config) -> None:
        self.config = config
        self.refresh_interval = config.refresh_interval
        known = {b.id for _, bindings in self.key_sections() for b in bindings if b.id}
        for binding_id in sorted(set(config.keys) - known):
            self.notify(f"config: no key binding has the id {binding_id!r}",
                        severity="warning", timeout=8)
        self.set_keymap(config.keys)
        if config.theme:
            if config.theme in self.available_themes:
                self.theme = config.theme
            else:
                self.notify(f"config: unknown theme {config.theme!r}", severity="warning")
        for warning in config.warnings:
            self.notify(warning, severity="warning", timeout=8)
        if isinstance(self.screen, MainScreen):
            self.screen.refresh_keys()

    @property
    def main(self) -> MainScreen:
        for screen in self.screen_stack:
            if isinstance(screen, MainScreen):
                return screen
        raise LookupError("the main screen is not up")

    # -- the one error handler --------------------------------------------------------
    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR and event.worker.error is not None:
            self.show_error(event.worker.error, event.worker.group)

    def on_engine_failed(self, message: state.EngineFailed) -> None:
        self.show_error(message.error, "live")

    def show_error(self, error: BaseException, what: str = "") -> None:
        noun, _, verb = what.partition(".")
        title = f"{noun}: {verb} failed" if verb else f"{what or 'dockyard'} failed"
        if isinstance(error, EngineError):
            text = str(error)
        else:  # a bug, not a user error: still a dialog, and the log has the traceback
            text = f"internal error: {type(error).__name__}: {error}"
            self.log.error(error)
        if any(isinstance(s, ErrorScreen) and s.message == text for s in self.screen_stack):
            return
        self.push_screen(ErrorScreen(text, title=title))

    # -- messages from the workers --------------------------------------------------
    def on_state_loaded(self, message: state.StateLoaded) -> None:
        if not any(isinstance(s, MainScreen) for s in self.screen_stack):
            return  # a late refresh while the App shuts down
        self.main.apply_state(message.state)

    def on_layers_loaded(self, message: state.LayersLoaded) -> None:
        self.main.show_layers(message.image_id, message.layers, message.total_images)

    def on_analysis_loaded(self, message: state.AnalysisLoaded) -> None:
        self.main.layers_pane.set_analysis(message.image_id, message.analysis)

    def on_family_tree_loaded(self, message: state.FamilyTreeLoaded) -> None:
        self.main.layers_pane.set_family(message.roots, message.containers)

    def on_layer_files_loaded(self, message: state.LayerFilesLoaded) -> None:
        self.main.layers_pane.set_files(message.image_id, message.index, message.aggregated,
                                        message.root, message.counts)

    def on_writable_sampled(self, message: state.WritableSampled) -> None:
        self.main.containers_pane.show_sample(message.container_id, message.sample,
                                              message.sizes)

    def on_stats_sampled(self, message: state.StatsSampled) -> None:
        self.main.containers_pane.show_stats(message.stats)

    def on_disk_loaded(self, message: state.DiskLoaded) -> None:
        self.main.show_disk(message.usage)

    def on_history_loaded(self, message: state.HistoryLoaded) -> None:
        self.push_screen(HistoryScreen(message.ref, message.entries, self.clock()))

    def on_inspect_loaded(self, message: state.InspectLoaded) -> None:
        self.push_screen(InspectScreen(message.ref, message.data))

    def on_image_tagged(self, message: state.ImageTagged) -> None:
        self.notify(f"Tagged {message.target}", timeout=4)
        self.main.images_pane.select_image(message.image_id, message.target)

    def on_images_removed(self, message: state.ImagesRemoved) -> None:
        untagged = sum(1 for line in message.lines if line.startswith("Untagged:"))
        deleted = [line for line in message.lines if line.startswith("Deleted:")]
        self.main.images_pane.marked.clear()
        if message.lines:
            self.notify(f"{untagged} untagged, {len(deleted)} deleted (images and layers)",
                        title="rmi", timeout=5)

    def on_delete_planned(self, message: state.DeletePlanned) -> None:
        plan = message.plan
        body: list[Text | str] = []
        for step in plan.steps:
            style = "bold red" if step.refused else "bold"
            body.append(Text(step.summary, style=style))
        lines = [line for s in plan.steps for line in s.lines]
        if not plan.refs:
            self.push_screen(ErrorScreen("\n".join(s.summary for s in plan.steps),
                                         title="image: delete refused"))
            return
        body.append(Text("\nrmi will print:", style="dim"))
        shown = [_DIGEST.sub(lambda m: m.group(1) + "…", line) for line in lines[:MAX_PLAN_LINES]]
        body.append(Text("\n".join(shown), style="dim", overflow="fold"))
        if len(lines) > len(shown):
            body.append(Text(f"… and {len(lines) - len(shown)} more", style="dim"))
        if plan.freed:
            body.append(Text(f"\n{size_text(plan.freed)} of layers freed", style="bold"))
        verb = "Untag" if plan.untag_only else "Delete"

        def answered(yes: bool | None) -> None:
            if yes:
                self.remove_images(plan.refs)

        self.push_screen(ConfirmScreen(plan.title, body, confirm=verb), answered)

    # -- asks (dialogs first, then a worker) -----------------------------------------
    def ask_tag(self, ref: ImageRef) -> None:
        source = ref.ref if ref.by_name else ref.image.id
        suggestion = f"{ref.repository}:" if ref.repository != "<none>" else ""

        def answered(target: str | None) -> None:
            if target:
                self.tag_image(source, target)

        self.push_screen(TagScreen(ref.ref if ref.by_name else ref.image.id[:19], suggestion),
                         answered)

    def ask_delete(self, refs: list[ImageRef]) -> None:
        self.plan_delete(refs)

    def ask_prune(self, kind: str = "images") -> None:
        def answered(chosen: str | None) -> None:
            if chosen:
                self.run_prune(chosen)

        self.push_screen(PruneScreen(kind), answered)

    def on_pruned(self, message: state.Pruned) -> None:
        self.main.disk_pane.show_freed(message.kind, message.report)
        self.main.mark_disk_stale()

    def ask_delete_containers(self, containers: list[ContainerSummary]) -> None:
        def answered(volumes: bool | None) -> None:
            if volumes is not None:
                self.container_action([("remove", c.id) for c in containers], volumes=volumes)

        self.push_screen(DeleteContainerScreen(
            [c.name for c in containers],
            [c.name for c in containers if c.state in ("running", "paused", "restarting")]),
            answered)

    def ask_run(self, image: str = "") -> None:
        def answered(opts: CreateOptions | None) -> None:
            if opts is not None:
                self.run_container(opts)

        self.push_screen(RunScreen(image), answered)

    def ask_commit(self, c: ContainerSummary) -> None:
        def answered(req: CommitRequest | None) -> None:
            if req is not None:
                self.commit_container(c.id, req.reference, req.message)

        self.push_screen(CommitScreen(c.name), answered)

    def show_logs(self, c: ContainerSummary) -> None:
        self.push_screen(LogsScreen(c.id, c.name))

    def exec_command(self, c: ContainerSummary) -> list[str]:
        """What ``e`` runs in the terminal: the CLI, on this root."""
        cli = shutil.which("dockyard") or ""
        base = [cli] if cli else [sys.executable, "-m", "engine"]
        return [*base, "--root", str(self.engine.root), "exec", "-it", c.id[:12], "sh"]

    def exec_shell(self, c: ContainerSummary) -> None:
        """Hand the terminal to ``dockyard exec -it ID sh``, then come back."""
        if c.state != "running":
            self.notify(f"{c.name} is not running", severity="warning")
            return
        argv = self.exec_command(c)
        try:
            with self.suspend():
                subprocess.run(argv, check=False)
        except SuspendNotSupported:
            self.notify("exec needs a real terminal: run " + " ".join(argv[-5:]),
                        severity="warning", timeout=8)
        self.request_refresh()

    def on_container_changed(self, message: state.ContainerChanged) -> None:
        if message.verb == "run":
            self.main.containers_pane.select_key(message.container_id)
        done = {"run": "Started", "stop": "Stopped", "start": "Started", "restart": "Restarted",
                "pause": "Paused", "unpause": "Unpaused", "remove": "Removed"}
        self.notify(f"{done.get(message.verb, message.verb)} {message.container_id[:12]}",
                    timeout=3)

    def on_container_committed(self, message: state.ContainerCommitted) -> None:
        self.notify(f"Committed {message.reference or message.image_id[:19]}", timeout=4)
        main = self.main
        main.action_show_pane("images")
        main.images_pane.select_image(message.image_id, message.reference or None)

    # -- build, pull, push (the Images pane's b, u, P) ---------------------------------
    last_build: BuildRequest | None = None  # the next build form starts from it

    def ask_build(self) -> None:
        def answered(request: BuildRequest | None) -> None:
            if request is not None:
                self.last_build = request
                self.push_screen(BuildScreen(request))

        import os

        self.push_screen(BuildFormScreen(self.last_build or BuildRequest(os.getcwd())),
                         answered)

    def ask_pull(self, reference: str = "") -> None:
        self.push_screen(TransferScreen("pull", reference))

    def ask_push(self, reference: str) -> None:
        self.push_screen(TransferScreen("push", reference))

    def show_new_image(self, image_id: str, reference: str = "") -> None:
        """A build or pull made ``image_id``: select it (the row named
        ``reference``, familiar "repo:tag") in the Images pane."""
        main = self.main
        if main.current != "images":
            main.action_show_pane("images")
        main.images_pane.select_image(image_id, reference or image_id)

    # -- global actions ---------------------------------------------------------------
    def action_help(self) -> None:
        self.push_screen(HelpScreen(self.key_sections()))

    def key_sections(self) -> list[tuple[str, list[Binding]]]:
        """Every binding, grouped by where it works (the help screen, and the
        set of ids the config file may remap)."""
        def own(cls: type) -> list[Binding]:
            return [b for b in cls.__dict__.get("BINDINGS", []) if isinstance(b, Binding)]

        return [
            ("Everywhere", own(DockyardApp) + own(MainScreen)),
            ("Lists", own(ListPane)),
            ("Images", own(ImagesPane)
             + [Binding("enter", "history", "history (as h)", id=None)]),
            ("Layers", own(LayersPane) + LayersPane.tree_bindings()),
            ("Containers", own(ContainersPane)),
            ("Disk", own(DiskPane)),
            ("Logs", own(LogsScreen) + own(LogView)),
            ("Container details", own(ContainerDetailsScreen)),
            ("Prune", own(PruneScreen)),
            # the build form's esc is FormScreen's
            ("Build, pull, push", own(FormScreen) + own(BuildScreen) + own(TransferScreen)),
            ("Dialogs", own(ConfirmScreen) + own(FormScreen) + own(ErrorScreen)
             + own(DeleteContainerScreen) + own(CommitScreen) + own(RunScreen)
             + [b for b in CLOSE if isinstance(b, Binding)] + own(HelpScreen)),
        ]


def run(root: str) -> None:
    """Open the TUI on the state root ``root`` (``dockyard`` with no command)."""
    config = load_config()
    with Engine(root) as engine:
        DockyardApp(engine, config=config).run()
