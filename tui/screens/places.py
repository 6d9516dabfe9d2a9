"""Places and Brands: what the profile concluded, each line backed by the photos that show it.

Both screens are one table of conclusions above a table of evidence photos; the evidence of
the row under the cursor is read in a worker, and enter on an evidence row opens the photo.
"""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from shadowlens.daemon.index.reads.browse import PhotoFilter, PhotoRow
from shadowlens.tui.base import LibraryScreen
from shadowlens.tui.screens.dialogs import (
    PHOTO_COLUMNS,
    Columns,
    fixed_table,
    photo_rows,
    plain,
    plural,
    selected_key,
    sync_table,
)
from textual import work
from textual.app import ComposeResult
from textual.widgets import DataTable, Footer, Header, Static
from textual.worker import get_current_worker

NO_PROFILE = "No profile yet: it is built after `shadowlens scan` and kept current by the daemon."
TRIP_RADIUS_M = 5000.0  # trips have no radius; their photos lie around the centre
CHART_BARS = 6
BAR_WIDTH = 20


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


def _day(value: object) -> str:
    return str(value)[:10] if value else ""


class PlacesScreen(EvidenceScreen):
    DEFAULT_CSS = """
    #places-table { height: 2fr; }
    #place-photos { height: 3fr; }
    """
    ITEMS_ID, PHOTOS_ID = "places-table", "place-photos"
    COLUMNS = (
        ("label", "Place", 8),
        ("city", "City", 14),
        ("country", "Country", 7),
        ("photos", "Photos", 6),
        ("first", "First", 10),
        ("last", "Last", 10),
        ("days", "Trip days", 9),
    )
    EMPTY = "No GPS in your photos yet: places appear once photos with a location are indexed."

    def item_list(self, profile: dict[str, Any]) -> list[dict[str, Any]]:
        return list(profile.get("places") or [])

    def item_key(self, item: dict[str, Any]) -> str:
        return f"{item['label']}:{float(item['lat']):.5f},{float(item['lon']):.5f}"

    def cells(self, item: dict[str, Any]) -> tuple[Any, ...]:
        days = item.get("days") if item["label"] == "trip" else None
        return (
            item["label"],
            plain(item.get("city") or "?"),
            plain(item.get("country_code") or ""),
            item.get("photo_count", 0),
            _day(item.get("first_visit")),
            _day(item.get("last_visit")),
            "" if days is None else days,
        )

    def _radius(self, item: dict[str, Any]) -> float:
        return float(item.get("radius_m") or TRIP_RADIUS_M)

    def evidence(self, item: dict[str, Any]) -> list[PhotoRow]:
        return self.library.photos_near(float(item["lat"]), float(item["lon"]), self._radius(item))

    def caption(self, item: dict[str, Any], photos: list[PhotoRow]) -> str:
        where = ", ".join(x for x in (item.get("city"), item.get("country_code")) if x) or "this spot"
        radius = self._radius(item)
        near = f"{radius / 1000:.0f} km" if radius >= 1000 else f"{radius:.0f} m"
        trip = (
            f" · trip, {float(item.get('distance_km') or 0):.0f} km from home"
            if item["label"] == "trip"
            else ""
        )
        return f"{plural(len(photos), 'photo')} within {near} of {where}{trip} (enter opens one)"


class BrandsScreen(EvidenceScreen):
    DEFAULT_CSS = """
    #brand-chart { height: auto; max-height: 35%; padding: 0 1; }
    #brands-table { height: 1fr; }
    #brand-photos { height: 1fr; }
    """
    ITEMS_ID, PHOTOS_ID = "brands-table", "brand-photos"
    # What matters first: at 80 columns the dates scroll off to the right.
    COLUMNS = (
        ("name", "Brand", 14),
        ("category", "Category", 12),
        ("parent", "Parent", 12),
        ("photos", "Photos", 6),
        ("days", "Days", 4),
        ("with_owner", "With you", 8),
        ("score", "Score", 5),
        ("first", "First", 10),
        ("last", "Last", 10),
    )
    EMPTY = "No brands read in your photos yet: logos and names appear as photos are indexed."

    def compose_top(self) -> ComposeResult:
        yield Static("", id="brand-chart")

    def item_list(self, profile: dict[str, Any]) -> list[dict[str, Any]]:
        return list(profile.get("brands") or [])

    def item_key(self, item: dict[str, Any]) -> str:
        return str(item["name"])

    def cells(self, item: dict[str, Any]) -> tuple[Any, ...]:
        return (
            plain(item["name"]),
            plain(item.get("category") or ""),
            plain(item.get("parent") or ""),
            item.get("photo_count", 0),
            item.get("days", 0),
            item.get("with_owner", 0),
            f"{float(item.get('score') or 0):.2f}",
            _day(item.get("first_seen")),
            _day(item.get("last_seen")),
        )

    def show_top(self, profile: dict[str, Any], items: list[dict[str, Any]]) -> None:
        chart = self.query_one("#brand-chart", Static)
        if not items:
            chart.update(Text(self.EMPTY if profile else NO_PROFILE))
            return
        ranked = sorted(items, key=lambda b: -int(b.get("photo_count") or 0))
        top = max(int(b.get("photo_count") or 0) for b in ranked) or 1
        text = Text("Brands in your photos, by photos\n", style="bold")
        for brand in ranked[:CHART_BARS]:
            count = int(brand.get("photo_count") or 0)
            bar = "█" * max(1 if count else 0, round(BAR_WIDTH * count / top))
            origin = " · ".join(str(x) for x in (brand.get("category"), brand.get("parent")) if x)
            text.append(f"{str(brand['name'])[:16]:<16} ")
            text.append(f"{bar:<{BAR_WIDTH}}", style="bold")
            text.append(f" {count:>4}  {origin}\n")
        if len(ranked) > CHART_BARS:
            text.append(f"… and {len(ranked) - CHART_BARS} more in the table below", style="dim")
        text.rstrip()
        chart.update(text)

    def empty_caption(self, profile: dict[str, Any]) -> str:
        return ""  # the chart above already says why there is nothing

    def evidence(self, item: dict[str, Any]) -> list[PhotoRow]:
        return self.library.photos(PhotoFilter(brand=str(item["name"])), sort="date")

    def caption(self, item: dict[str, Any], photos: list[PhotoRow]) -> str:
        return f"{plural(len(photos), 'photo')} showing {item['name']} (enter opens one)"
