"""What the Places and Brands screens share: one table of the profile's conclusions above a
table of the photos behind the conclusion under the cursor.

The evidence of the selected row is read in a worker, and enter on an evidence row opens the photo.
"""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from shadowlens.daemon.index.reads.browse import PhotoRow
from shadowlens.tui.base import LibraryScreen
from shadowlens.tui.tables import PHOTO_COLUMNS, Columns, fixed_table, photo_rows, selected_key, sync_table
from textual import work
from textual.app import ComposeResult
from textual.widgets import DataTable, Footer, Header, Static
from textual.worker import get_current_worker

NO_PROFILE = "No profile yet: it is built after `shadowlens scan` and kept current by the daemon."


class EvidenceScreen(LibraryScreen):
    """A table of the profile's conclusions (``items``) over the photos behind the selected one."""

    ITEMS_ID: ClassVar[str] = ""
    PHOTOS_ID: ClassVar[str] = ""
    COLUMNS: ClassVar[Columns] = ()
    EMPTY: ClassVar[str] = ""

    def __init__(self) -> None:
        super().__init__()
        self.items: dict[str, dict[str, Any]] = {}
        self._wanted: str | None = None  # key whose evidence is loading or shown

    def compose_top(self) -> ComposeResult:
        yield from ()

    def compose(self) -> ComposeResult:
        yield Header()
        yield from self.compose_top()
        yield fixed_table(self.ITEMS_ID, self.COLUMNS, zebra=True)
        yield Static("", id=f"{self.PHOTOS_ID}-caption", classes="panel-title")
        yield fixed_table(self.PHOTOS_ID, PHOTO_COLUMNS)
        yield Footer()

    # Subclasses say what their items are, how they look, and which photos show them.
    def item_list(self, profile: dict[str, Any]) -> list[dict[str, Any]]:
        raise NotImplementedError

    def item_key(self, item: dict[str, Any]) -> str:
        raise NotImplementedError

    def cells(self, item: dict[str, Any]) -> tuple[Any, ...]:
        raise NotImplementedError

    def evidence(self, item: dict[str, Any]) -> list[PhotoRow]:
        raise NotImplementedError

    def caption(self, item: dict[str, Any], photos: list[PhotoRow]) -> str:
        raise NotImplementedError

    def show_top(self, profile: dict[str, Any], items: list[dict[str, Any]]) -> None:
        pass

    def empty_caption(self, profile: dict[str, Any]) -> str:
        return self.EMPTY if profile else NO_PROFILE

    def fetch(self) -> dict[str, Any] | None:
        return self.library.profile()

    def show(self, data: dict[str, Any] | None) -> None:
        profile = data or {}
        items = self.item_list(profile)
        keyed: dict[str, dict[str, Any]] = {}
        for item in items:
            key = self.item_key(item)
            while key in keyed:  # two conclusions must never share a row key
                key += "+"
            keyed[key] = item
        self.items = keyed
        self.show_top(profile, items)
        sync_table(
            self.query_one(f"#{self.ITEMS_ID}", DataTable), [(k, self.cells(v)) for k, v in keyed.items()]
        )
        current = selected_key(self.query_one(f"#{self.ITEMS_ID}", DataTable))
        if current is None:
            self._wanted = None
            self._caption(self.empty_caption(profile))
            sync_table(self.query_one(f"#{self.PHOTOS_ID}", DataTable), [])
        else:  # reloaded: the evidence may have grown too
            self._load_evidence(current)

    def _caption(self, text: str) -> None:
        self.query_one(f"#{self.PHOTOS_ID}-caption", Static).update(Text(text))

    def _load_evidence(self, key: str) -> None:
        self._wanted = key
        self._fetch_evidence(key, self.items[key])

    @work(thread=True, exclusive=True, group="evidence")
    def _fetch_evidence(self, key: str, item: dict[str, Any]) -> None:
        photos = self.evidence(item)
        if not get_current_worker().is_cancelled:
            self.app.call_from_thread(self._show_evidence, key, item, photos)

    def _show_evidence(self, key: str, item: dict[str, Any], photos: list[PhotoRow]) -> None:
        if self.is_attached and key == self._wanted:
            self._caption(self.caption(item, photos))
            sync_table(self.query_one(f"#{self.PHOTOS_ID}", DataTable), photo_rows(photos))

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        key = event.row_key.value
        if event.data_table.id == self.ITEMS_ID and key in self.items and key != self._wanted:
            self._load_evidence(key)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if event.data_table.id == self.ITEMS_ID:
            self.query_one(f"#{self.PHOTOS_ID}", DataTable).focus()
        elif event.data_table.id == self.PHOTOS_ID and event.row_key.value:
            self.shadowlens.open_photo(event.row_key.value)


def day(value: object) -> str:
    return str(value)[:10] if value else ""
