"""Brands: the brands read in your photos as a bar chart and a table, each with the photos
showing it."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from shadowlens.daemon.analysis.states import describe
from shadowlens.daemon.index.reads.browse import PhotoFilter, PhotoRow
from shadowlens.tui.formats import plural
from shadowlens.tui.screens.evidence import NO_PROFILE, EvidenceScreen, day
from shadowlens.tui.tables import plain
from textual.app import ComposeResult
from textual.widgets import Static

CHART_BARS = 6
BAR_WIDTH = 20


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

    def __init__(self) -> None:
        super().__init__()
        self._versions: dict[str, str] = {}

    def compose_top(self) -> ComposeResult:
        yield Static("", id="brand-chart")

    def fetch(self) -> dict[str, Any] | None:
        # Read in the worker, shown by show(): which detectors find brands on this machine.
        self._versions = self.library.detector_versions()
        return super().fetch()

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
            day(item.get("first_seen")),
            day(item.get("last_seen")),
        )

    def show_top(self, profile: dict[str, Any], items: list[dict[str, Any]]) -> None:
        chart = self.query_one("#brand-chart", Static)
        if not items:
            chart.update(Text(no_brands_yet(self._versions) if profile else NO_PROFILE))
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


def no_brands_yet(versions: dict[str, str]) -> str:
    """What finds brands on this machine, from the detectors' stored versions: the text on a
    photo always; product barcodes unless the codes detector is off; logos only with a logo
    model, and none is pinned, so the screen must not promise them."""
    ran = bool(versions)  # nothing analysed yet: say what the default detectors do
    sources = ["the text on your photos (shop signs, packaging, receipts)"]
    if "codes" in versions or not ran:
        sources.append("product barcodes")
    logos = "logos" in versions and not describe("logos", versions["logos"]).finds_nothing
    if logos:
        sources.append("logos")
    said = f"No brands read in your photos yet. Brands are found in {_listed(sources)}."
    if ran and "codes" not in versions:
        said += " Product barcodes are not read: the codes detector is off."
    if not logos:
        said += " Logos are not recognised: no logo model is installed."
    return said


def _listed(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
