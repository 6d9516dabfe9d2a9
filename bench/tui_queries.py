"""What each TUI screen asks the index, through the Library API, with a check of each answer."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tui_library import Picks

PAGE = 200  # the photos screen's page

QUERIES = (
    "profile",
    "photos_by_exposure",
    "photos_by_date",
    "photos_by_place",
    "photos_by_person",
    "photos_by_brand",
    "photos_by_path",
    "photos_filtered",
    "photos_search",
    "photo_count",
    "photo_detail",
    "persons",
    "person_faces",
    "place_photos",
    "brand_photos",
    "alerts",
    "status",
)


Check = Callable[[Any], str | None]


def screen_queries(library: Any, picks: Picks) -> dict[str, tuple[str, Callable[[], Any], Check]]:
    """name: (what it asks, the call, a check of its answer returning a problem or None)."""
    from shadowlens.daemon.index.reads.browse import PhotoFilter
    from shadowlens.tui.screens.photos import DEFAULT_DESCENDING

    everything = PhotoFilter()
    filtered = PhotoFilter(min_exposure=60, has_gps=True, kind="face")

    def page(filters: PhotoFilter, sort: str) -> Callable[[], Any]:
        return lambda: library.photos(filters, sort, DEFAULT_DESCENDING.get(sort, False), PAGE, 0)

    def rows(expected: int) -> Check:
        return lambda got: None if len(got) == expected else f"{len(got)} rows, expected {expected}"

    def page_rows(got: Any) -> str | None:
        return rows(min(PAGE, picks.photos))(got)

    def search_rows(got: Any) -> str | None:
        wrong = [r.path for r in got if picks.search not in f"{r.city} {r.path} {r.brands}"]
        problem = rows(min(PAGE, picks.search_hits))(got)
        return problem or (f"{len(wrong)} rows do not mention {picks.search}" if wrong else None)

    def filtered_rows(got: Any) -> str | None:
        wrong = [r for r in got if (r.exposure or 0) < 60]
        return "no rows" if not got else (f"{len(wrong)} rows under exposure 60" if wrong else None)

    def brand_rows(got: Any) -> str | None:
        wrong = [r for r in got if picks.brand not in (r.brands or "")]
        return "no rows" if not got else (f"{len(wrong)} rows without {picks.brand}" if wrong else None)

    lat, lon, radius = picks.home
    return {
        "profile": (
            "library.profile(), the stored profile",
            library.profile,
            lambda got: None if got and got.get("photo_count") == picks.photos else "no full profile",
        ),
        "photos_by_exposure": (f"first page of {PAGE}, by exposure", page(everything, "exposure"), page_rows),
        "photos_by_date": (f"first page of {PAGE}, by date", page(everything, "date"), page_rows),
        "photos_by_place": (f"first page of {PAGE}, by place", page(everything, "place"), page_rows),
        "photos_by_person": (f"first page of {PAGE}, by people", page(everything, "person"), page_rows),
        "photos_by_brand": (f"first page of {PAGE}, by brand", page(everything, "brand"), page_rows),
        "photos_by_path": (f"first page of {PAGE}, by path", page(everything, "path"), page_rows),
        "photos_filtered": (
            "first page, exposure >= 60 + GPS + a face, by exposure",
            page(filtered, "exposure"),
            filtered_rows,
        ),
        "photos_search": (
            f"first page, search {picks.search!r} ({picks.search_hits:,} photos there)",
            page(PhotoFilter(search=picks.search), "exposure"),
            search_rows,
        ),
        "photo_count": (
            "photo_count() of the unfiltered photos screen",
            lambda: library.photo_count(everything),
            lambda got: None if got == picks.photos else f"{got} photos, expected {picks.photos}",
        ),
        "photo_detail": (
            f"photo(path) of the photo with the most findings ({picks.detail_findings})",
            lambda: library.photo(picks.detail_path),
            lambda got: rows(picks.detail_findings)(got["findings"]) if got else "photo not found",
        ),
        "persons": ("persons(), the people screen's list", library.persons, rows(picks.persons)),
        "person_faces": (
            f"person_faces() of the biggest person ({picks.person_faces:,} faces)",
            lambda: library.person_faces(picks.person_id),
            rows(min(60, picks.person_faces)),
        ),
        "place_photos": (
            f"photos_near(home, {radius:.0f} m), the places screen's evidence ({picks.home_photos:,} photos)",
            lambda: library.photos_near(lat, lon, radius),
            lambda got: None if got else "no photos near home",
        ),
        "brand_photos": (
            f"photos(brand={picks.brand!r}) by date, the brands screen's evidence",
            page(PhotoFilter(brand=picks.brand), "date"),
            brand_rows,
        ),
        "alerts": (
            f"alerts(), new ones ({picks.alerts:,}), up to 500",
            library.alerts,
            rows(min(500, picks.alerts)),
        ),
        "status": (
            "status(): daemon state, counts, queue, errors",
            library.status,
            lambda got: None if got.get("indexed") else "no indexed photos counted",
        ),
    }
