"""ListPane: the table every pane is built on.

A pane holds all its rows (fetched by a worker) and shows them filtered
(the "/" box: free text plus ``key=value`` through ``engine.filters``),
sorted (shift+letter per column, again to reverse) and marked (space).
Refreshes replace the rows; the cursor stays on the same row key, marks on
rows that still exist, and nothing is redrawn when nothing changed.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

from rich.cells import cell_len
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.coordinate import Coordinate
from textual.message import Message
from textual.widget import Widget
from textual.widgets import DataTable, Input, Static

from engine.errors import EngineError
from engine.filters import Filters, match_text, parse_text_filter

from ..model import Col, Row
from ..widgets.statictext import update_static

__all__ = ["ListPane", "sort_bindings"]

MARK = "●"
SCROLLBAR = 2


def sort_bindings(pane: str, columns: Iterable[Col]) -> list[BindingType]:
    """One hidden shift+letter binding per sortable column, each with an id."""
    return [Binding(c.sort_key, f"sort('{c.key}')", f"sort by {c.label.lower()}", show=False,
                    id=f"{pane}.sort.{c.key}")
            for c in columns if c.sort_key]


def _fit(cell: Any, width: int, right: bool) -> Text:
    text = cell.copy() if isinstance(cell, Text) else Text(str(cell))
    if text.cell_len > width:
        text.truncate(width, overflow="ellipsis")
    if right:
        text.justify = "right"
    return text


def _focus_now(widget: Widget) -> None:
    """Focus at once: ``Widget.focus`` defers it, and keys typed right after
    "/" or "2" (a paste, a fast typist, tmux send-keys) would still go to
    the widget that had focus before."""
    widget.screen.set_focus(widget)


class ListPane(Vertical):
    PANE_ID: ClassVar[str] = "list"
    TITLE: ClassVar[str] = "Items"
    NOUN: ClassVar[tuple[str, str]] = ("item", "items")
    COLUMNS: ClassVar[tuple[Col, ...]] = ()
    FILTER_KEYS: ClassVar[frozenset[str]] = frozenset()
    FILTER_HINT: ClassVar[str] = "text"
    DEFAULT_SORT: ClassVar[tuple[str, bool] | None] = None  # (column key, descending)
    EMPTY: ClassVar[str] = "Nothing here yet"
    ROW_ACTIONS: ClassVar[frozenset[str]] = frozenset()  # need a row under the cursor

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("space", "toggle_mark", "mark", id="list.mark"),
    ]

    class CursorMoved(Message):
        """The row under the cursor changed (to another key, or to none)."""

        def __init__(self, pane: ListPane, row: Row | None) -> None:
            super().__init__()
            self.pane = pane
            self.row = row

    def __init__(self) -> None:
        super().__init__(id=self.PANE_ID, classes="pane")
        self._rows: list[Row] = []
        self._shown: list[Row] = []
        self._signature: tuple = ()
        self._loaded = False
        self.filter_text = ""
        self.filter_error = ""
        self.marked: set[str] = set()
        self.sort_col, self.sort_desc = self.DEFAULT_SORT or (None, False)
        self._last_key: str | None = None
        self._pending_key: str | None = None

    # -- layout ---------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield Static(classes="pane-title")
        yield DataTable(cursor_type="row", zebra_stripes=True,
                        cursor_foreground_priority="renderable")
        yield Static(self.EMPTY, classes="empty")
        yield Input(placeholder=f"filter: {self.FILTER_HINT}   (enter keeps it, esc clears)",
                    classes="filter")

    @property
    def table(self) -> DataTable:
        return self.query_one(DataTable)

    @property
    def filter_input(self) -> Input:
        return self.query_one(Input)

    def on_mount(self) -> None:
        self.filter_input.display = False
        self._update_title()
        self._update_empty()

    def on_resize(self) -> None:
        self.refresh_view(force=True)

    def focus_list(self) -> None:
        _focus_now(self.table)

    # -- data -----------------------------------------------------------------
    def set_rows(self, rows: list[Row]) -> None:
        self._rows = rows
        self._loaded = True
        keys = {r.key for r in rows}
        self.marked &= keys
        self.refresh_view()

    def select_key(self, key: str) -> None:
        """Put the cursor on ``key`` now, or as soon as a refresh brings it."""
        self._pending_key = key
        self._restore_cursor(None, 0)

    @property
    def shown(self) -> list[Row]:
        """The rows on screen now, in order (after filter and sort)."""
        return list(self._shown)

    @property
    def loaded(self) -> bool:
        return self._loaded

    def current_row(self) -> Row | None:
        table = self.table
        if not self._shown or table.row_count == 0:
            return None
        key = table.coordinate_to_cell_key(Coordinate(table.cursor_row, 0)).row_key.value
        return next((r for r in self._shown if r.key == key), None)

    def selected_rows(self) -> list[Row]:
        """The marked rows (in display order), else the row under the cursor."""
        marked = [r for r in self._shown if r.key in self.marked]
        if marked:
            return marked
        row = self.current_row()
        return [row] if row else []

    def matches(self, row: Row, filters: Filters, term: str) -> bool:
        """Whether ``row`` passes the "/" box; panes add their key=value filters."""
        return match_text(term, *row.text)

    def visible_rows(self) -> list[Row]:
        rows = self._rows
        self.filter_error = ""
        if self.filter_text.strip():
            try:
                filters, term = parse_text_filter(self.filter_text, self.FILTER_KEYS)
                rows = [r for r in rows if self.matches(r, filters, term)]
            except EngineError as e:
                self.filter_error = str(e)
                rows = []
        if self.sort_col is not None:
            i = [c.key for c in self.COLUMNS].index(self.sort_col)
            rows = sorted(rows, key=lambda r: (r.sort[i], r.sort), reverse=self.sort_desc)
        return rows

    # -- drawing --------------------------------------------------------------
    def _pane_width(self) -> int:
        return self.table.size.width or self.size.width or self.app.size.width

    def visible_columns(self) -> list[tuple[int, Col]]:
        width = self._pane_width()
        return [(i, c) for i, c in enumerate(self.COLUMNS) if width >= c.hide_below]

    def _widths(self, rows: list[Row], cols: list[tuple[int, Col]]) -> list[int]:
        pad = 2 * self.table.cell_padding
        widths: list[int] = []
        for i, c in cols:
            if c.width is not None:
                widths.append(c.width)
            elif c.flex:
                widths.append(0)
            else:
                content = max((cell_len(r.cells[i].plain if isinstance(r.cells[i], Text)
                                        else str(r.cells[i])) for r in rows), default=0)
                widths.append(min(max(content, cell_len(c.label) + 2, c.min), c.max))
        left = self._pane_width() - (1 + pad) - SCROLLBAR - sum(
            w + pad for w, (_, c) in zip(widths, cols, strict=True) if not c.flex)
        flexes = [c for _, c in cols if c.flex]
        if flexes:
            left -= pad * len(flexes)
            weight = sum(c.flex for c in flexes)
            for n, (_, c) in enumerate(cols):
                if c.flex:
                    widths[n] = max(c.min, left * c.flex // weight)
        return widths

    def _label(self, c: Col) -> Text:
        if c.key != self.sort_col:
            return Text(c.label, justify="right" if c.right else "left")
        return Text(f"{c.label} {'▼' if self.sort_desc else '▲'}", style="bold",
                    justify="right" if c.right else "left")

    def refresh_view(self, force: bool = False) -> None:
        if not self.is_mounted:
            return
        shown = self.visible_rows()
        cols = self.visible_columns()
        widths = self._widths(shown, cols)
        signature = (tuple((r.key, r.cells) for r in shown), frozenset(self.marked),
                     tuple(widths), tuple(i for i, _ in cols), self.sort_col, self.sort_desc)
        if force or signature != self._signature:
            self._signature = signature
            self._redraw(shown, cols, widths)
        self._update_title()
        self._update_empty()

    def _redraw(self, shown: list[Row], cols: list[tuple[int, Col]], widths: list[int]) -> None:
        table = self.table
        old_key = self._current_key()
        old_index, old_scroll = table.cursor_row, table.scroll_y
        self._shown = shown
        table.clear(columns=True)
        table.add_column("", width=1, key="_mark")
        for (_, c), w in zip(cols, widths, strict=True):
            table.add_column(self._label(c), width=w, key=c.key)
        for r in shown:
            mark = Text(MARK, style="bold magenta") if r.key in self.marked else Text(" ")
            table.add_row(mark, *(_fit(r.cells[i], w, c.right) for (i, c), w in
                                  zip(cols, widths, strict=True)), key=r.key)
        self._restore_cursor(old_key, old_index, old_scroll)

    def _current_key(self) -> str | None:
        row = self.current_row() if self.table.row_count else None
        return row.key if row else None

    def _restore_cursor(self, old_key: str | None, old_index: int,
                        old_scroll: float | None = None) -> None:
        table = self.table
        keys = [r.key for r in self._shown]
        if self._pending_key in keys:
            index = keys.index(self._pending_key)
            self._pending_key = None
        elif old_key in keys:
            index = keys.index(old_key)  # type: ignore[arg-type]
        else:
            index = min(old_index, len(keys) - 1)
        if index < 0:
            self._cursor_changed()
            return
        table.move_cursor(row=index, scroll=old_scroll is None)
        if old_scroll is not None:
            # clear() scrolled to the top: put the view back where it was once
            # the new rows are measured, then make sure the cursor is in it
            def settle() -> None:
                table.scroll_to(y=old_scroll, animate=False, immediate=True)
                table.move_cursor(row=table.cursor_row)
            self.call_after_refresh(settle)
        self._cursor_changed()

    def _cursor_changed(self) -> None:
        row = self.current_row()
        key = row.key if row else None
        if key != self._last_key:
            self._last_key = key
            self.post_message(self.CursorMoved(self, row))
            self.screen.refresh_bindings()

    @on(DataTable.RowHighlighted)
    def _row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        self._cursor_changed()

    def status_text(self) -> Text:
        """The pane's title line; panes extend it with their context."""
        t = Text.assemble((self.TITLE, "bold"), "  ", (self.count_text(), "dim"))
        if self.filter_text.strip():
            t.append("  filter ", style="dim")
            t.append(self.filter_text.strip(), style="yellow")
        if self.marked:
            t.append(f"  {len(self.marked)} marked", style="magenta")
        if self.filter_error:
            t.append(f"  {self.filter_error}", style="bold red")
        return t

    def count_text(self) -> str:
        n, total = len(self._shown), len(self._rows)
        one, many = self.NOUN
        if n == total:
            return f"{total} {one if total == 1 else many}"
        return f"{n} of {total} {many}"

    def _update_title(self) -> None:
        update_static(self.query_one(".pane-title", Static), self.status_text())

    def empty_text(self) -> str:
        if not self._loaded:
            return "Loading…"
        if not self._rows:
            return self.EMPTY
        if not self._shown:
            return f"No {self.NOUN[1]} match the filter — esc clears it"
        return ""

    def _update_empty(self) -> None:
        text = self.empty_text()
        self.set_class(bool(text), "-empty")
        update_static(self.query_one(".empty", Static), text)

    # -- actions ----------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if (action in self.ROW_ACTIONS or action == "toggle_mark") and self.current_row() is None:
            return False  # the footer shows only the keys that apply now
        return True

    def action_toggle_mark(self) -> None:
        row = self.current_row()
        if row is None:
            return
        self.marked.symmetric_difference_update({row.key})
        self.refresh_view()
        self.table.action_cursor_down()

    def action_sort(self, column: str) -> None:
        col = next(c for c in self.COLUMNS if c.key == column)
        if self.sort_col == column:
            self.sort_desc = not self.sort_desc
        else:
            self.sort_col, self.sort_desc = column, col.descending
        self.refresh_view()

    def open_filter(self) -> None:
        box = self.filter_input
        box.display = True
        _focus_now(box)

    def set_filter(self, text: str) -> None:
        self.filter_text = text
        self.refresh_view()
        self.filter_input.set_class(bool(self.filter_error), "-invalid")

    def clear_filter(self) -> None:
        box = self.filter_input
        box.value = ""
        box.display = False
        self.set_filter("")
        self.focus_list()

    def back(self) -> bool:
        """esc: clear the filter (and close its box), else clear the marks."""
        if self.filter_text or self.filter_input.display:
            self.clear_filter()
            return True
        if self.marked:
            self.marked.clear()
            self.refresh_view()
            return True
        return False

    @on(Input.Changed, ".filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        event.stop()
        self.set_filter(event.value)

    @on(Input.Submitted, ".filter")
    def _filter_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if not event.value.strip():
            self.clear_filter()
        else:
            self.focus_list()
