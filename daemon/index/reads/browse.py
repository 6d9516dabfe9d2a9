"""Paged, sorted and filtered reads for the TUI: a library of 100,000 photos, one screenful at a time.

Every query here is one SQL statement served by an index (see migrations 0005 to 0007), so each
stays in tens of milliseconds however large the library grows; a search asks the trigram index
how many photos it finds first (``search.py``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from shadowlens.daemon.fsnames import from_index_text, index_text
from shadowlens.daemon.index.reads.search import search_clause
from sqlalchemy import Connection, Engine, text

EARTH_RADIUS_M = 6_371_000.0  # as daemon.profile.places has it
# The columns of a PhotoRow, as every photo list selects them.
PHOTO_ROW_COLUMNS = """p.id, (SELECT min(f.path) FROM files f WHERE f.photo_id = p.id) AS path, p.exposure,
    p.taken_at, p.city, p.country_code, p.marked_safe,
    (SELECT count(DISTINCT fa.person_id) FROM faces fa WHERE fa.photo_id = p.id) AS people,
    (SELECT group_concat(DISTINCT b.label) FROM findings b WHERE b.photo_id = p.id AND b.kind = 'brand') AS brands"""
# Each sort key is a stored column with its indexes (migrations 0005-0007: one on the key, one on
# "key IS NULL, key" for ascending pages), so a page walks an index and stops.
SORTS = {
    "exposure": "p.exposure",
    "date": "p.taken_at",
    "place": "p.city",
    "person": "p.person_faces",  # faces that belong to a person (index/sort_keys.py)
    "brand": "p.first_brand",  # the alphabetically first brand
    "path": "p.first_path",  # the first of its paths (kept by triggers on files)
}
NOT_NULL_SORTS = frozenset({"person"})


@dataclass(frozen=True)
class PhotoFilter:
    min_exposure: int = 0
    has_gps: bool = False
    has_children: bool = False
    kind: str | None = None  # photos with at least one finding of this kind
    folder: str | None = None  # path prefix
    search: str = ""  # in the path, the city or a brand's name
    person_id: int | None = None
    brand: str | None = None


@dataclass(frozen=True)
class PhotoRow:
    photo_id: int
    path: str
    exposure: int | None
    taken_at: str | None
    city: str | None
    country_code: str | None
    people: int
    brands: str | None
    marked_safe: bool


def _where(connection: Connection, f: PhotoFilter) -> tuple[str, dict[str, Any]]:
    # orphaned_at marks a photo no file points at: cheaper than looking for its files per row.
    clauses: list[str] = ["p.status = 'indexed'", "p.orphaned_at IS NULL"]
    params: dict[str, Any] = {}
    if f.min_exposure:
        clauses.append("p.exposure >= :min_exposure")
        params["min_exposure"] = f.min_exposure
    if f.has_gps:
        clauses.append("p.lat IS NOT NULL")
    if f.has_children:
        clauses.append("p.exposure_reasons LIKE '%\"child\"%'")
    if f.kind:
        clauses.append("EXISTS (SELECT 1 FROM findings k WHERE k.photo_id = p.id AND k.kind = :kind)")
        params["kind"] = f.kind
    if f.folder:
        clauses.append(
            "EXISTS (SELECT 1 FROM files fd WHERE fd.photo_id = p.id AND fd.path >= :folder AND fd.path < :folder_end)"
        )
        # Paths are compared in their stored form, which keeps prefixes ("/" + 1 == "0").
        folder = index_text(f.folder.rstrip("/"))
        params["folder"], params["folder_end"] = folder + "/", folder + "0"
    if f.person_id is not None:
        clauses.append("EXISTS (SELECT 1 FROM faces fp WHERE fp.photo_id = p.id AND fp.person_id = :person)")
        params["person"] = f.person_id
    if f.brand:
        clauses.append(
            "EXISTS (SELECT 1 FROM findings fb WHERE fb.photo_id = p.id AND fb.kind = 'brand' AND fb.label = :brand)"
        )
        params["brand"] = f.brand
    if f.search.strip():
        clause, search_params = search_clause(connection, f.search.strip())
        clauses.append(clause)
        params.update(search_params)
    return " AND ".join(clauses), params


def photo_page(
    engine: Engine,
    filters: PhotoFilter = PhotoFilter(),
    sort: str = "exposure",
    descending: bool = True,
    limit: int = 200,
    offset: int = 0,
) -> list[PhotoRow]:
    order = SORTS[sort]
    direction = "DESC" if descending else "ASC"
    # SQLite already puts NULLs last when descending; an extra "IS NULL" key there would stop
    # it from walking the column's index and make it sort all 100,000 photos for each page.
    # Ascending, "key IS NULL, key" is what the expression indexes of migration 0007 hold.
    nulls_last = "" if descending or sort in NOT_NULL_SORTS else f"{order} IS NULL, "
    with engine.connect() as connection:
        where, params = _where(connection, filters)
        sql = f"""
            SELECT {PHOTO_ROW_COLUMNS}
            FROM photos p
            WHERE {where}
            ORDER BY {nulls_last}{order} {direction}, p.id
            LIMIT :limit OFFSET :offset
        """
        rows = connection.execute(text(sql), {**params, "limit": limit, "offset": offset}).all()
    return [_photo_row(r) for r in rows]


def photo_count(engine: Engine, filters: PhotoFilter = PhotoFilter()) -> int:
    with engine.connect() as connection:
        where, params = _where(connection, filters)
        return int(
            connection.execute(text(f"SELECT count(*) FROM photos p WHERE {where}"), params).scalar_one()
        )


def person_faces(engine: Engine, person_id: int, limit: int = 60) -> list[dict[str, Any]]:
    """A person's most confident faces: a walk of the (person_id, confidence) index, which stops
    after ``limit``; only those few faces are joined to their findings for the box. Ties go to
    the older face, as they did when SQLite sorted every face of the person."""
    sql = """
        SELECT fa.id AS face_id, fa.photo_id, fi.bbox,
               (SELECT min(f.path) FROM files f WHERE f.photo_id = fa.photo_id) AS path
        FROM faces fa JOIN findings fi ON fi.id = fa.finding_id
        WHERE fa.person_id = :person ORDER BY fa.confidence DESC, fa.id LIMIT :limit
    """
    with engine.connect() as connection:
        rows = connection.execute(text(sql), {"person": person_id, "limit": limit})
        return [{**r._mapping, "path": r.path and from_index_text(r.path)} for r in rows]


def photos_by_id(engine: Engine, photo_ids: Sequence[int], limit: int = 200) -> list[PhotoRow]:
    """The photos behind a conclusion, newest first: exactly the ones the profile counted."""
    ids = sorted({int(i) for i in photo_ids})
    if not ids:
        return []
    # Literal integers, not one bound parameter each: SQLite caps the parameters of a statement.
    sql = f"""
        SELECT {PHOTO_ROW_COLUMNS}
        FROM photos p WHERE p.id IN ({",".join(map(str, ids))})
        ORDER BY p.taken_at IS NULL, p.taken_at DESC, p.id LIMIT :limit
    """
    with engine.connect() as connection:
        rows = connection.execute(text(sql), {"limit": limit}).all()
    return [_photo_row(r) for r in rows if r.path]


def photos_near(engine: Engine, lat: float, lon: float, radius_m: float, limit: int = 200) -> list[PhotoRow]:
    """Photos within ``radius_m`` of a point, newest first: a bounding box served by the index,
    then the true distance, so "within 208 m" holds for every photo listed."""
    dlat = radius_m / 111_000 + 0.0005
    dlon = dlat / max(math.cos(math.radians(lat)), 0.01)
    # "+p.lat": walk the date index and stop at ``limit`` (a home holds thousands of photos);
    # the latitude index would fetch them all, then sort.
    where = "+p.lat BETWEEN :lat0 AND :lat1 AND p.lon BETWEEN :lon0 AND :lon1"
    params = {"lat0": lat - dlat, "lat1": lat + dlat, "lon0": lon - dlon, "lon1": lon + dlon}
    sql = f"""
        SELECT p.id, (SELECT min(f.path) FROM files f WHERE f.photo_id = p.id) AS path, p.exposure,
               p.taken_at, p.city, p.country_code, p.marked_safe, 0 AS people, NULL AS brands, p.lat, p.lon
        FROM photos p WHERE {where} ORDER BY p.taken_at DESC LIMIT :limit
    """
    with engine.connect() as connection:
        rows = connection.execute(text(sql), {**params, "limit": limit}).all()
    # Half a metre of slack: the place's own farthest photo lies exactly on its radius.
    return [_photo_row(r) for r in rows if r.path and _metres(lat, lon, r.lat, r.lon) <= radius_m + 0.5]


def _metres(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine), as the profile's places measure it."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    half = (
        math.sin((p2 - p1) / 2) ** 2
        + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(min(1.0, half)))


def _photo_row(r: Any) -> PhotoRow:
    return PhotoRow(
        r.id,
        from_index_text(r.path),
        r.exposure,
        r.taken_at,
        r.city,
        r.country_code,
        int(r.people),
        r.brands,
        bool(r.marked_safe),
    )
