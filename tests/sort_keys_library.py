"""A small index written through ``Store.save``, and the photos screen's queries as they were
before migration 0007 (sort keys computed per row, a LIKE over every path and brand): the
reference ``test_sort_keys_and_search.py`` holds the stored keys and the trigram search to.

The photos sit on the edges of what the queries mean: one person twice in a photo (the People
sort counts faces, the People column distinct persons), ties in face confidence and in exposure,
brands whose alphabetical order is not their order in the photo, a copy under a second path, names
that are not ASCII (LIKE folds ASCII letters only), names holding LIKE's wildcards.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from shadowlens.daemon.analysis.findings import BrandFinding, FaceFinding, Finding, PlaceFinding
from shadowlens.daemon.analysis.results import AnalysisResult, DetectorRun, FileStat
from shadowlens.daemon.index.reads import browse
from shadowlens.daemon.index.reads.browse import PhotoFilter
from shadowlens.daemon.index.writer import Store
from sqlalchemy import Engine, text

ENGINE, DIM = "test-embedder", 4
LIB = "/lib"

# name: (city, brands, face confidences)
PHOTOS: dict[str, tuple[str | None, list[str], list[float]]] = {
    "Paris/a.jpg": ("Paris", ["Heineken", "Coca-Cola"], [0.9, 0.8, 0.8]),
    "Lyon/b.jpg": ("Lyon", ["Starbucks"], [0.8, 0.95]),
    "Évry/Élan.jpg": ("Évry", [], [0.7]),
    "IMG_0001.jpg": (None, ["heineken"], []),
    "IMGX0001.jpg": ("Lyon", [], [0.8, 0.8, 0.6, 0.99]),
    "100%.jpg": (None, [], []),
    "Paris/night.jpg": ("Paris", ["Absolut", "Starbucks"], [0.5]),
}
COPY, ORIGINAL = "Backup/a.jpg", "Paris/a.jpg"  # the same content under a second path
# Every branch of the search: trigram candidates, texts with no trigram, wildcards, non-ASCII
# case, texts only a photo's whole search row holds (across its lines), a quote.
SEARCHES = (
    "",
    "paris",
    "PARIS",
    "heine",
    "coca",
    "Backup",
    "évry",
    "ÉVRY",
    "Évry",
    "IMG_0001",
    "0%.j",
    "a.j",
    "a",
    "Pa",
    "Paris%Backup",
    "Lyon\n/lib",
    'quo"te',
    "nothing",
)
OLD_SORTS = {
    "exposure": "p.exposure",
    "date": "p.taken_at",
    "place": "p.city",
    "person": "(SELECT count(*) FROM faces fa WHERE fa.photo_id = p.id AND fa.person_id IS NOT NULL)",
    "brand": "(SELECT min(b.label) FROM findings b WHERE b.photo_id = p.id AND b.kind = 'brand')",
    "path": "(SELECT min(f.path) FROM files f WHERE f.photo_id = p.id)",
}
OLD_SEARCH = (
    "(p.city LIKE :like OR p.id IN (SELECT fs.photo_id FROM files fs WHERE fs.path LIKE :like)"
    " OR p.id IN (SELECT s.photo_id FROM findings s WHERE s.kind = 'brand' AND s.label LIKE :like))"
)


def result(
    name: str, city: str | None, brands: list[str], faces: list[float], content: str | None = None
) -> AnalysisResult:
    """A photo as the pipeline hands it to the store; its sha256 follows ``content`` (or the name)."""
    found: list[Finding] = [
        BrandFinding(label=b, category="c", parent="p", via="text", matched=b, score=1.0) for b in brands
    ]
    if city:
        found.append(
            PlaceFinding(
                label=city, city=city, admin=None, country_code="FR", lat=1.0, lon=2.0, distance_km=1.0
            )
        )
    for i, confidence in enumerate(faces):
        found.append(
            FaceFinding(
                label="face",
                confidence=confidence,
                bbox=(10.0 * i, 0.0, 5.0, 5.0),
                embedding=bytes([i + 1] * 4 * DIM),
                embedder=ENGINE,
                embedding_dim=DIM,
            )
        )
    return AnalysisResult(
        path=f"{LIB}/{name}",
        stat=FileStat(10, 1, 2, 3),
        sha256=(content or name).encode().hex()[:64].ljust(64, "0"),
        format="JPEG",
        width=4,
        height=3,
        runs=[DetectorRun("test", "1", found)],
        signature="test@1",
    )


def build(index: Path) -> Store:
    """The photos, the copy, and persons as the profile makes them: in a photo with three faces
    or more, all but the last are one person (so one person twice); elsewhere the first face."""
    store = Store.open(index)
    for name, (city, brands, faces) in PHOTOS.items():
        store.save(result(name, city, brands, faces))
    linked = AnalysisResult(
        path=f"{LIB}/{COPY}",
        stat=FileStat(10, 1, 2, 4),
        sha256=result(ORIGINAL, None, [], []).sha256,
        linked=True,
    )
    store.save(linked)
    with store.engine.connect() as connection:
        face_rows = connection.execute(text("SELECT photo_id, id FROM faces ORDER BY photo_id, id")).all()
        photo_ids = connection.execute(text("SELECT id FROM photos ORDER BY id")).scalars().all()
    by_photo: dict[int, list[int]] = {}
    for photo_id, face_id in face_rows:
        by_photo.setdefault(photo_id, []).append(face_id)
    store.profile.assign_faces(
        ENGINE, {}, [ids[:-1] if len(ids) > 2 else ids[:1] for ids in by_photo.values()]
    )
    store.profile.set_exposures([(photo_id, 10 * (photo_id % 3), []) for photo_id in photo_ids])
    return store


def old_page(engine: Engine, sort: str, descending: bool, search: str = "") -> list[tuple[Any, ...]]:
    """``browse.photo_page`` before migration 0007, as (photo id, people, brands) rows."""
    order = OLD_SORTS[sort]
    where, params = "p.status = 'indexed' AND p.orphaned_at IS NULL", {}
    if search.strip():
        where += f" AND {OLD_SEARCH}"
        params["like"] = f"%{search.strip()}%"
    nulls_last = "" if descending else f"{order} IS NULL, "
    sql = f"""
        SELECT p.id, (SELECT count(DISTINCT fa.person_id) FROM faces fa WHERE fa.photo_id = p.id),
            (SELECT group_concat(DISTINCT b.label) FROM findings b WHERE b.photo_id = p.id AND b.kind = 'brand')
        FROM photos p WHERE {where}
        ORDER BY {nulls_last}{order} {"DESC" if descending else "ASC"}, p.id LIMIT 1000
    """
    with engine.connect() as connection:
        return [tuple(row) for row in connection.execute(text(sql), params)]


def new_page(engine: Engine, sort: str, descending: bool, search: str = "") -> list[tuple[Any, ...]]:
    rows = browse.photo_page(engine, PhotoFilter(search=search), sort, descending, limit=1000)
    return [(r.photo_id, r.people, r.brands) for r in rows]


def old_person_faces(engine: Engine, person_id: int, limit: int = 60) -> list[dict[str, Any]]:
    """``browse.person_faces`` before migration 0007: every face joined to its finding, sorted."""
    sql = """
        SELECT fa.id AS face_id, fa.photo_id, fi.bbox,
               (SELECT min(f.path) FROM files f WHERE f.photo_id = fa.photo_id) AS path
        FROM faces fa JOIN findings fi ON fi.id = fa.finding_id
        WHERE fa.person_id = :person ORDER BY fi.confidence DESC LIMIT :limit
    """
    with engine.connect() as connection:
        return [
            dict(r._mapping) for r in connection.execute(text(sql), {"person": person_id, "limit": limit})
        ]


KEYS = {
    "person_faces": "SELECT id, person_faces, (SELECT count(person_id) FROM faces WHERE photo_id = photos.id) FROM photos",
    "first_brand": (
        "SELECT id, first_brand, (SELECT min(label) FROM findings WHERE photo_id = photos.id AND kind = 'brand') "
        "FROM photos"
    ),
    "first_path": "SELECT id, first_path, (SELECT min(path) FROM files WHERE photo_id = photos.id) FROM photos",
    "faces.confidence": "SELECT fa.id, fa.confidence, fi.confidence FROM faces fa JOIN findings fi ON fi.id = fa.finding_id",
}


def stored_keys_problems(engine: Engine) -> list[str]:
    """Each stored sort key, face confidence and search row that differs from what the rows hold."""
    problems = []
    with engine.connect() as connection:
        for what, sql in KEYS.items():
            for key, stored, expected in connection.execute(text(sql)):
                if stored != expected:
                    problems.append(f"{what} of {key}: stored {stored!r}, expected {expected!r}")
        words = {
            int(r[0]): str(r[1]) for r in connection.execute(text("SELECT rowid, words FROM photo_search"))
        }
        for photo_id, city in connection.execute(text("SELECT id, city FROM photos")).all():
            paths = connection.execute(text("SELECT path FROM files WHERE photo_id = :p"), {"p": photo_id})
            brands = connection.execute(
                text("SELECT label FROM findings WHERE photo_id = :p AND kind = 'brand'"), {"p": photo_id}
            )
            # One line for the city, then the paths, then the brands (an empty line for none).
            lines = [city or "", *(paths.scalars().all() or [""]), *(brands.scalars().all() or [""])]
            stored_lines = sorted(words.pop(photo_id, "<no row>").split("\n"))
            if stored_lines != sorted(lines):
                problems.append(f"photo_search of {photo_id}: {stored_lines!r}, expected {sorted(lines)!r}")
        problems += [f"photo_search row {rowid} of no photo" for rowid in words]
    return problems
