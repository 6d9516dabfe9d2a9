"""Places: home, work, the other haunts and the trips the profile read from GPS, each with the
photos taken there.

The table's count and the list under it are the same photos: the ones the profile counted for
the place (its ``photo_ids``). A profile built before places kept their photos falls back to the
photos within the place's radius, and the caption then says both numbers and what each is.
"""

from __future__ import annotations

from typing import Any

from shadowlens.daemon.index.reads.browse import PhotoRow
from shadowlens.tui.formats import plural
from shadowlens.tui.screens.evidence import EvidenceScreen, day
from shadowlens.tui.tables import plain

TRIP_RADIUS_M = 5000.0  # trips have no radius; their photos lie around the centre
# What each label means, in the caption's words ({where}: "Arezzo, IT").
COUNTED_AS = {
    "home": "counted as your home in {where}",
    "work": "counted as your work place in {where}",
    "frequent": "counted at a place you often go to in {where}",
    "visit": "taken at a place you visited in {where}",
    "trip": "taken on this trip to {where}",
}


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
        if item.get("photo_ids") is not None:
            return self.library.photos_by_id([int(i) for i in item["photo_ids"]])
        return self.library.photos_near(float(item["lat"]), float(item["lon"]), self._radius(item))

    def caption(self, item: dict[str, Any], photos: list[PhotoRow]) -> str:
        where = ", ".join(x for x in (item.get("city"), item.get("country_code")) if x) or "this spot"
        counted = int(item.get("photo_count") or 0)
        label = str(item["label"])
        what = COUNTED_AS.get(label, f"counted as {label} in {{where}}").format(where=where)
        if label == "trip" and item.get("distance_km") is not None:
            what += f", {float(item['distance_km']):.0f} km from home"
        if item.get("photo_ids") is None:
            # An older profile: no list of its photos, so show what lies around it and say so.
            return (
                f"{plural(counted, 'photo')} {what}; listed: {plural(len(photos), 'photo')} "
                f"within {_metres(self._radius(item))} of it (enter opens one)"
            )
        shown = "" if len(photos) >= counted else f", newest {len(photos)} listed"
        return f"{plural(counted, 'photo')} {what}{shown} (enter opens one)"


def _metres(radius: float) -> str:
    return f"{radius / 1000:.0f} km" if radius >= 1000 else f"{radius:.0f} m"
