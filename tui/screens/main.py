"""The main screen: header, pane tabs, the four panes, footer.

It routes data the App's workers fetched to the panes, decides what the
Layers and Disk panes need loaded, and owns the keys that work in every
pane (``1``–``4``, ``tab``, ``/``, ``esc``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, cast

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.css.query import NoMatches
from textual.screen import Screen
from textual.widgets import ContentSwitcher, Footer

from engine import ImageSummary

from ..model import ImageRef
from ..panes.base import ListPane
from ..panes.containers import ContainersPane
from ..panes.disk import DiskPane
from ..panes.images import ImagesPane
from ..panes.layers import LayersPane
from ..state import DiskUsage, EngineState
from ..widgets.header import StatusHeader
from ..widgets.tabs import PaneTabs

if TYPE_CHECKING:
    from ..app import DockyardApp

__all__ = ["PANES", "MainScreen"]

PANES = {"containers": "Containers", "images": "Images", "layers": "Layers", "disk": "Disk"}


class MainScreen(Screen):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("1", "show_pane('containers')", "containers", show=False, id="pane.containers"),
        Binding("2", "show_pane('images')", "images", show=False, id="pane.images"),
        Binding("3", "show_pane('layers')", "layers", show=False, id="pane.layers"),
        Binding("4", "show_pane('disk')", "disk", show=False, id="pane.disk"),
        Binding("tab", "cycle(1)", "next pane", show=False, id="pane.next"),
        Binding("shift+tab", "cycle(-1)", "previous pane", show=False, id="pane.previous"),
        Binding("slash", "filter", "filter", id="list.filter"),
        Binding("escape", "back", "back", show=False, id="back"),
    ]

    def __init__(self, first_pane: str = "images") -> None:
        super().__init__(id="main")
        self.current = first_pane
        self.state: EngineState | None = None
        self._layers_stale = True
        self._disk_stale = True

    @property
    def dockyard(self) -> DockyardApp:
        return cast("DockyardApp", self.app)

    def compose(self) -> ComposeResult:
        yield StatusHeader()
        yield PaneTabs(self._tab_keys(), self.current)
        with ContentSwitcher(initial=self.current, id="panes"):
            yield ContainersPane()
            yield ImagesPane()
            yield LayersPane()
            yield DiskPane()
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self.dockyard.stats_wanted = self.current == "containers"
        self.pane(self.current).focus_list()

    def _tab_keys(self) -> list[tuple[str, str, str]]:
        from .help import key_text

        by_id = {b.id: b for b in self.BINDINGS if isinstance(b, Binding)}
        return [(p, title, key_text(self.app, by_id[f"pane.{p}"], first=True))
                for p, title in PANES.items()]

    def refresh_keys(self) -> None:
        """The keymap changed: redraw the key hints in the tab line."""
        self.query_one(PaneTabs).set_keys(self._tab_keys())

    # -- panes ------------------------------------------------------------------
    def pane(self, pane_id: str) -> ListPane:
        return self.query_one(f"#{pane_id}", ListPane)

    @property
    def images_pane(self) -> ImagesPane:
        return self.query_one(ImagesPane)

    @property
    def layers_pane(self) -> LayersPane:
        return self.query_one(LayersPane)

    @property
    def disk_pane(self) -> DiskPane:
        return self.query_one(DiskPane)

    @property
    def containers_pane(self) -> ContainersPane:
        return self.query_one(ContainersPane)

    def action_show_pane(self, pane_id: str) -> None:
        self.current = pane_id
        self.dockyard.stats_wanted = pane_id == "containers"
        self.query_one(ContentSwitcher).current = pane_id
        self.query_one(PaneTabs).set_current(pane_id)
        self.pane(pane_id).focus_list()
        self._load_for_pane()
        self.refresh_bindings()

    def action_cycle(self, step: int) -> None:
        order = list(PANES)
        self.action_show_pane(order[(order.index(self.current) + step) % len(order)])

    def action_filter(self) -> None:
        self.pane(self.current).open_filter()

    def action_back(self) -> None:
        self.pane(self.current).back()

    # -- data from the workers ----------------------------------------------------
    def apply_state(self, state: EngineState) -> None:
        changed = self.state is None or state != self.state
        self.state = state
        try:
            header = self.query_one(StatusHeader)
        except NoMatches:  # a late worker result while the screen is closing
            return
        header.show_state(state)
        now = self.dockyard.clock()
        self.images_pane.set_images(state.images, now)
        self.containers_pane.set_containers(state.containers, state.images, now)
        if changed:
            self._layers_stale = self._disk_stale = True
        self._sync_layers_image()
        self._load_for_pane()

    def show_layers(self, image_id: str, layers: list, total_images: int) -> None:
        self.layers_pane.set_layers(image_id, layers, total_images)

    def mark_disk_stale(self) -> None:
        """Reload the Disk pane now if it is showing, else when it next is."""
        self._disk_stale = True
        self._load_for_pane()

    def show_disk(self, usage: DiskUsage) -> None:
        self.disk_pane.set_usage(usage)

    def selected_image_ref(self) -> str:
        """What the run form suggests: the image selected in the Images pane."""
        ref: ImageRef | None = self.images_pane.current_ref()
        return ref.ref if ref else ""

    def _selected_image(self) -> tuple[ImageSummary | None, str]:
        ref: ImageRef | None = self.images_pane.current_ref()
        if ref is None:
            return None, ""
        return ref.image, ref.ref if ref.by_name else "<none>:<none>"

    def _sync_layers_image(self) -> None:
        image, label = self._selected_image()
        before = self.layers_pane.image.id if self.layers_pane.image else None
        self.layers_pane.show_image(image, label)
        if image is not None and image.id != before:
            self._layers_stale = True

    def _load_for_pane(self) -> None:
        """Fetch what the visible pane shows, when it is out of date."""
        if self.state is None:
            return
        if self.current == "layers" and self._layers_stale and self.layers_pane.image is not None:
            self._layers_stale = False
            self.dockyard.load_layers(self.layers_pane.image.id)
            self.dockyard.load_analysis(self.layers_pane.image.id)
        elif self.current == "disk" and self._disk_stale:
            self._disk_stale = False
            self.dockyard.load_disk()

    @on(ListPane.CursorMoved)
    def _cursor_moved(self, event: ListPane.CursorMoved) -> None:
        if event.pane is self.images_pane:
            self._sync_layers_image()
            self._load_for_pane()
        elif event.pane is self.containers_pane:
            self.containers_pane.follow_selection()
