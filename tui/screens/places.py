"""Places: home, work, the other haunts and the trips the profile read from GPS, each with the
photos taken there."""

from __future__ import annotations

from typing import Any

from shadowlens.daemon.index.reads.browse import PhotoRow
from shadowlens.tui.formats import plural
from shadowlens.tui.screens.evidence import EvidenceScreen, day
from shadowlens.tui.tables import plain

TRIP_RADIUS_M = 5000.0  # trips have no radius; their photos lie around the centre


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
            day(item.get("first_visit")),
            day(item.get("last_visit")),
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
