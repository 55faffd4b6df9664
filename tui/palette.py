"""The command palette's entries: "noun: verb", each running a pane's action
on the selection (switching to that pane first), as the keys do."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from textual.app import SystemCommand
from textual.screen import Screen

from .screens.main import PANES

__all__ = ["PaletteCommands"]


class PaletteCommands:
    """Mixed into the App (``self`` is the App)."""

    def _on_image(self, action: str) -> Callable[[], None]:
        def run() -> None:
            main = self.main
            if main.current not in ("images", "layers"):
                main.action_show_pane("images")
            if main.images_pane.current_row() is None:
                self.notify("No image selected", severity="warning")
                return
            getattr(main.images_pane, f"action_{action}")()
        return run

    def _on_images_pane(self, action: str) -> Callable[[], None]:
        def run() -> None:
            self.main.action_show_pane("images")
            getattr(self.main.images_pane, f"action_{action}")()
        return run

    def _on_container(self, action: str) -> Callable[[], None]:
        def run() -> None:
            main = self.main
            if main.current != "containers":
                main.action_show_pane("containers")
            pane = main.containers_pane
            if action != "run_new" and pane.current_row() is None:
                self.notify("No container selected", severity="warning")
                return
            getattr(pane, f"action_{action}")()
        return run

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        for pane_id, title in PANES.items():
            yield SystemCommand(f"pane: {title.lower()}", f"Show the {title} pane",
                                lambda p=pane_id: self.main.action_show_pane(p))
        yield SystemCommand("disk: prune", "Prune images, containers or volumes (dry run first)",
                            lambda: self.ask_prune("images"))
        for verb, help_text in (("tag", "Give the selected image another name"),
                                ("delete", "Untag or delete the selected/marked images (rmi)"),
                                ("history", "Show how the selected image was built"),
                                ("inspect", "Show the selected image's JSON")):
            yield SystemCommand(f"image: {verb}", help_text, self._on_image(verb))
        yield SystemCommand("image: prune", "Remove dangling (or all unused) images, dry run first",
                            lambda: self.ask_prune("images"))
        yield SystemCommand("image: build", "Build an image from a Dockerfile, with live progress",
                            self._on_images_pane("build"))
        yield SystemCommand("image: pull", "Download an image from a registry",
                            self._on_images_pane("pull"))
        yield SystemCommand("image: push", "Upload the selected image to a registry",
                            self._on_image("push"))
        for verb, action, help_text in (
                ("run", "run_new", "Run a new container (the run form)"),
                ("stop/start", "stop_start", "Stop the selected container, or start it"),
                ("restart", "restart", "Restart the selected container"),
                ("pause/unpause", "pause", "Pause the selected container, or unpause it"),
                ("delete", "delete", "Remove the selected container (rm -f, -v optional)"),
                ("logs", "logs", "Show the selected container's logs"),
                ("commit", "commit", "Make an image from the selected container"),
                ("exec", "exec", "Open a shell in the selected container"),
                ("attach", "attach", "Attach to the selected container (ctrl-p ctrl-q detaches)"),
                ("details", "details", "Logs, stats charts, inspect and files of the container"),
                ("writable layer", "writable", "Live size of the writable layer")):
            yield SystemCommand(f"container: {verb}", help_text, self._on_container(action))
        yield SystemCommand("image: show dangling", "Filter the Images pane to dangling images",
                            self._filter_dangling)
        yield SystemCommand("list: filter", "Filter the focused list", self._open_filter)
        yield SystemCommand("app: refresh", "Reload everything from the engine",
                            self.request_refresh)
        yield SystemCommand("app: keys", "Show every key", self.action_help)
        yield SystemCommand("app: theme", "Change the colour theme", self.action_change_theme)
        yield SystemCommand("app: screenshot", "Save an SVG screenshot of this screen",
                            lambda: self.set_timer(0.1, self.deliver_screenshot))
        yield SystemCommand("app: quit", "Leave dockyard", self.exit)

    def _filter_dangling(self) -> None:
        main = self.main
        main.action_show_pane("images")
        pane = main.images_pane
        pane.open_filter()
        pane.filter_input.value = "dangling=true"

    def _open_filter(self) -> None:
        self.main.action_filter()
