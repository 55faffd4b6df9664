"""Images pane: one row per tag, as ``docker images`` shows them.

Actions run on the marked rows, else the row under the cursor: ``t`` tag,
``d`` delete (the dialog says exactly what rmi will do), enter/``h``
history, ``i`` inspect, ``n`` run, ``P`` push; ``b`` build and ``u`` pull
need no row.  The engine calls run in the App's workers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, cast

from textual import on
from textual.binding import Binding, BindingType
from textual.widgets import DataTable

from engine import ImageSummary
from engine.filters import IMAGE_FILTERS, Filters, match_image, match_text

from ..model import Col, ImageRef, Row, image_resolver, image_rows
from .base import ListPane, sort_bindings

if TYPE_CHECKING:
    from ..app import DockyardApp

__all__ = ["ImagesPane"]

COLUMNS = (
    Col("repository", "Repository", "R", flex=3, min=10),
    Col("tag", "Tag", "T", flex=2, min=8),
    Col("id", "Image ID", "I", width=12),
    Col("created", "Created", "C", min=7, max=18, descending=True),
    Col("size", "Size", "S", min=6, right=True, descending=True),
    Col("containers", "Containers", "N", width=10, right=True, descending=True,
        hide_below=100),
)


class ImagesPane(ListPane):
    PANE_ID = "images"
    TITLE = "Images"
    NOUN = ("image", "images")
    COLUMNS = COLUMNS
    FILTER_KEYS = IMAGE_FILTERS
    FILTER_HINT = "text, dangling=true, reference=busybox*, label=k=v, before=, since="
    DEFAULT_SORT = ("created", True)
    EMPTY = "No images — b builds one, u pulls one, or `dockyard load -i FILE`"
    ROW_ACTIONS = frozenset({"tag", "delete", "history", "inspect", "run", "push"})

    # b, u and P stay out of the footer, which must fit 80 columns
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("b", "build", "build", id="image.build", show=False),
        Binding("u", "pull", "pull", id="image.pull", show=False),
        Binding("P", "push", "push", id="image.push", show=False),
        Binding("n", "run", "run", id="image.run", show=False),
        Binding("p", "prune", "prune", id="image.prune", show=False),
        Binding("t", "tag", "tag", id="image.tag"),
        Binding("d", "delete", "delete", id="image.delete"),
        Binding("h", "history", "history", id="image.history"),
        Binding("i", "inspect", "inspect", id="image.inspect"),
        *sort_bindings("images", COLUMNS),
    ]

    def __init__(self) -> None:
        super().__init__()
        self._images: tuple[ImageSummary, ...] = ()

    @property
    def dockyard(self) -> DockyardApp:
        return cast("DockyardApp", self.app)

    def set_images(self, images: tuple[ImageSummary, ...], now: float) -> None:
        self._images = images
        self.set_rows(image_rows(images, now))

    def matches(self, row: Row, filters: Filters, term: str) -> bool:
        ref: ImageRef = row.obj
        if filters and not match_image(ref.image, filters, resolve=image_resolver(self._images),
                                       now=self.dockyard.clock()):
            return False
        return match_text(term, *row.text)

    def count_text(self) -> str:
        ids = {r.obj.image.id for r in self._shown}
        n = len(self._images)
        images = f"{n} image{'s' if n != 1 else ''}" if len(ids) == n else \
            f"{len(ids)} of {n} images"
        return f"{images}, {len(self._shown)} row{'s' if len(self._shown) != 1 else ''}"

    def current_ref(self) -> ImageRef | None:
        row = self.current_row()
        return row.obj if row else None

    def selected_refs(self) -> list[ImageRef]:
        return [r.obj for r in self.selected_rows()]

    def select_image(self, image_id: str, ref: str | None = None) -> None:
        key = f"{image_id} {ref}" if ref else next(
            (r.key for r in self._rows if r.obj.image.id == image_id), image_id)
        self.select_key(key)

    # -- actions: each asks the App, which does the I/O in a worker -------------
    def action_tag(self) -> None:
        if ref := self.current_ref():
            self.dockyard.ask_tag(ref)

    def action_delete(self) -> None:
        if refs := self.selected_refs():
            self.dockyard.ask_delete(refs)

    def action_run(self) -> None:
        if ref := self.current_ref():
            self.dockyard.ask_run(ref.ref)

    def action_build(self) -> None:
        self.dockyard.ask_build()

    def action_pull(self) -> None:
        self.dockyard.ask_pull()

    def action_push(self) -> None:
        if ref := self.current_ref():  # push takes a tag: suggest the repository otherwise
            name = ref.ref if ref.tag != "<none>" else ref.repository.replace("<none>", "")
            self.dockyard.ask_push(name)

    def action_prune(self) -> None:
        self.dockyard.ask_prune("images")

    def action_history(self) -> None:
        if ref := self.current_ref():
            self.dockyard.load_history(ref.ref)

    def action_inspect(self) -> None:
        if ref := self.current_ref():
            self.dockyard.load_inspect(ref.ref)

    @on(DataTable.RowSelected)
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_history()
