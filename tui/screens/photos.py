"""Photos: every indexed photo in one table, sorted and filtered in SQL, loaded a page at a time.

A library can hold 100,000 photos, so the table only ever holds the pages the cursor has
reached. Reloads (the daemon wrote) rewrite the loaded rows in place (``PhotoTable``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from typing import ClassVar

from rich.text import Text
from shadowlens.daemon.index.reads.browse import PhotoFilter, PhotoRow
from shadowlens.tui.base import LibraryScreen
from shadowlens.tui.formats import plural
from shadowlens.tui.photo_table import SORT_BY_COLUMN, PhotoTable
from shadowlens.tui.safe_copy import flagged_paths, run_safe_copies
from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.timer import Timer
from textual.widgets import DataTable, Footer, Header, Input, Static

PAGE = 200
# Load the next page this many rows before the end, so scrolling rarely waits on SQL.
PREFETCH = 20
SEARCH_DEBOUNCE = 0.3
EXPOSURE_STEP = 10
KINDS: tuple[str | None, ...] = (None, "face", "brand", "pii", "code", "nudity", "scene", "text", "object")
# Newest, riskiest and most populated first; names read best A to Z.
DEFAULT_DESCENDING = {
    "exposure": True,
    "date": True,
    "person": True,
    "place": False,
    "brand": False,
    "path": False,
}
# The footer shows a group as its keys and one word: all of it fits in 80 columns.
SORT_GROUP = Binding.Group("Sort", compact=True)
MIN_GROUP = Binding.Group("Min", compact=True)


@dataclass(frozen=True)
class _Query:
    filters: PhotoFilter
    sort: str
    descending: bool


@dataclass(frozen=True)
class _Page:
    query: _Query
    rows: list[PhotoRow]
    total: int
    offset: int


class PhotosScreen(LibraryScreen):
    DEFAULT_CSS = """
    PhotosScreen #photos-bar { height: 1; }
    PhotosScreen #search { width: 2fr; }
    PhotosScreen #folder { width: 1fr; margin-left: 1; }
    PhotosScreen #photos-status { height: 1; }
    PhotosScreen #photos-count { width: auto; text-style: bold; margin-right: 2; }
    PhotosScreen #photos-filters { width: 1fr; }
    """
    # The table, not the first Input, takes the keys: letters are bindings here.
    AUTO_FOCUS = "#photos-table"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("e", "sort('exposure')", "Exposure", group=SORT_GROUP),
        Binding("d", "sort('date')", "Date", group=SORT_GROUP),
        Binding("l", "sort('place')", "Place", group=SORT_GROUP),
        Binding("p", "sort('person')", "People", group=SORT_GROUP),
        Binding("b", "sort('brand')", "Brand", group=SORT_GROUP),
        Binding("plus", f"min_exposure({EXPOSURE_STEP})", "Min +10", group=MIN_GROUP),
        Binding("minus", f"min_exposure({-EXPOSURE_STEP})", "Min -10", group=MIN_GROUP),
        Binding("g", "toggle_gps", "GPS"),
        Binding("c", "toggle_children", "Kids"),
        Binding("k", "cycle_kind", "Kind"),
        Binding("slash", "focus_search", "Search"),
        Binding("C", "safe_copies", "Copy risky"),
        Binding("escape", "focus_table", "Table", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.filters = PhotoFilter()
        self.sort = "exposure"
        self.descending = True
        self.total = 0
        self._shown: _Query | None = None
        self._paging = False
        self._debounce: Timer | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="photos-bar"):
            yield Input(placeholder="/ search path, place, brand", id="search", compact=True)
            yield Input(placeholder="folder", id="folder", compact=True)
        with Horizontal(id="photos-status"):
            yield Static("", id="photos-count")
            yield Static("", id="photos-filters", classes="muted")
        yield PhotoTable(self.library.alert_threshold, id="photos-table")
        yield Footer()

    def on_mount(self) -> None:
        # Textual also runs LibraryScreen.on_mount (handlers run along the MRO): it starts the load.
        self._table.fit(self.app.size.width)
        self.watch(self._table, "scroll_y", self._on_scroll, init=False)
        # Not described yet: "0 photos, sort exposure" over a table still loading would be wrong.

    def on_resize(self, event: events.Resize) -> None:
        self._table.fit(event.size.width)

    @property
    def _table(self) -> PhotoTable:
        return self.query_one("#photos-table", PhotoTable)

    @property
    def paths(self) -> list[str]:
        """The loaded rows' paths, in table order."""
        return self._table.paths

    def _query_now(self) -> _Query:
        return _Query(self.filters, self.sort, self.descending)

    # -- loading -------------------------------------------------------------------------------

    def fetch(self) -> _Page:
        query = self._query_now()
        # A reload keeps what was already paged in, so the cursor's row is still there.
        loaded = len(self._table.photos)
        limit = max(PAGE, loaded) if query == self._shown else PAGE
        rows = self.library.photos(query.filters, query.sort, query.descending, limit, 0)
        return _Page(query, rows, self.library.photo_count(query.filters), 0)

    def show(self, data: _Page) -> None:
        if data.query != self._query_now():
            return  # superseded: a load for the current filters is already running
        table = self._table
        self.total = data.total
        rows = list({row.path: row for row in data.rows if row.path}.values())
        if data.query != self._shown or len(table.photos) - len(rows) > PAGE:
            # New results (or far fewer): start again from the top.
            self._shown, self._paging = data.query, False
            table.replace(rows)
        else:
            table.rewrite(rows)
        self._describe()

    def _maybe_load_more(self) -> None:
        query = self._query_now()
        loaded = len(self._table.photos)
        if self._paging or query != self._shown or loaded >= self.total:
            return
        self._paging = True
        self._load_page(query, loaded)

    @work(thread=True, group="page")
    def _load_page(self, query: _Query, offset: int) -> None:
        rows = self.library.photos(query.filters, query.sort, query.descending, PAGE, offset)
        self.app.call_from_thread(self._append, _Page(query, rows, self.total, offset))

    def _append(self, page: _Page) -> None:
        self._paging = False
        if not self.is_attached or page.query != self._shown or page.offset != len(self._table.photos):
            return  # the filters changed or a reload replaced the rows meanwhile
        self._table.extend(page.rows)
        self._describe()

    def _on_scroll(self) -> None:
        # The mouse wheel scrolls without moving the cursor: page in from the scroll position too.
        table = self._table
        if table.max_scroll_y and table.scroll_y >= table.max_scroll_y - PREFETCH:
            self._maybe_load_more()

    @on(DataTable.RowHighlighted, "#photos-table")
    def _on_highlight(self, event: DataTable.RowHighlighted) -> None:
        if event.cursor_row >= len(self._table.photos) - PREFETCH:
            self._maybe_load_more()

    @on(DataTable.RowSelected, "#photos-table")
    def _on_select(self, event: DataTable.RowSelected) -> None:
        photos = self._table.photos
        if 0 <= event.cursor_row < len(photos):
            self.shadowlens.open_photo(photos[event.cursor_row].path)

    @on(DataTable.HeaderSelected, "#photos-table")
    def _on_header(self, event: DataTable.HeaderSelected) -> None:
        sort = SORT_BY_COLUMN.get(str(event.column_key.value))
        if sort is not None:
            self.action_sort(sort)

    # -- filters and sorting -------------------------------------------------------------------

    def _requery(self, filters: PhotoFilter | None = None) -> None:
        if filters is not None:
            self.filters = filters
        self._describe()
        self.reload()

    def action_sort(self, sort: str) -> None:
        if sort == self.sort:
            self.descending = not self.descending
        else:
            self.sort, self.descending = sort, DEFAULT_DESCENDING.get(sort, False)
        self._table.show_order(self.sort, self.descending)
        self._requery()

    def action_min_exposure(self, step: int) -> None:
        value = min(100, max(0, self.filters.min_exposure + step))
        self._requery(replace(self.filters, min_exposure=value))

    def action_toggle_gps(self) -> None:
        self._requery(replace(self.filters, has_gps=not self.filters.has_gps))

    def action_toggle_children(self) -> None:
        self._requery(replace(self.filters, has_children=not self.filters.has_children))

    def action_cycle_kind(self) -> None:
        index = KINDS.index(self.filters.kind) if self.filters.kind in KINDS else 0
        self._requery(replace(self.filters, kind=KINDS[(index + 1) % len(KINDS)]))

    def action_safe_copies(self) -> None:
        """Safe copies of every flagged photo (exposure at or over the alert threshold)."""
        self._safe_copies()

    @work(thread=True, group="safe-copy")
    def _safe_copies(self) -> None:
        run_safe_copies(self, self.library, flagged_paths(self.library))

    def action_focus_search(self) -> None:
        self.query_one("#search", Input).focus()

    def action_focus_table(self) -> None:
        self._table.focus()

    @on(Input.Changed)
    def _on_typing(self, event: Input.Changed) -> None:
        # Search as you type, but one query per pause rather than one per key.
        if self._debounce is not None:
            self._debounce.stop()
        self._debounce = self.set_timer(SEARCH_DEBOUNCE, self._apply_inputs)

    @on(Input.Submitted)
    def _on_submit(self, event: Input.Submitted) -> None:
        if self._debounce is not None:
            self._debounce.stop()
        self._apply_inputs()
        self._table.focus()

    def _apply_inputs(self) -> None:
        search = self.query_one("#search", Input).value.strip()
        folder = self.query_one("#folder", Input).value.strip()
        # Paths are stored absolute: accept ~ and relative folders as the shell would.
        folder_path = os.path.abspath(os.path.expanduser(folder)) if folder else None
        filters = replace(self.filters, search=search, folder=folder_path)
        if filters != self.filters:
            self._requery(filters)

    def _describe(self) -> None:
        count = plural(self.total, "photo")
        self.query_one("#photos-count", Static).update(count)
        f, loaded = self.filters, len(self._table.photos)
        parts = [f"sort {self.sort} {'▼' if self.descending else '▲'}"]
        if f.min_exposure:
            parts.append(f"exposure ≥ {f.min_exposure}")
        if f.has_gps:
            parts.append("with GPS")
        if f.has_children:
            parts.append("with children")
        if f.kind:
            parts.append(f"kind {f.kind}")
        if f.folder:
            parts.append(f"in {f.folder}")
        if loaded and loaded < self.total:
            parts.append(f"{loaded:,} loaded")
        self.query_one("#photos-filters", Static).update(Text(" · ".join(parts)))
