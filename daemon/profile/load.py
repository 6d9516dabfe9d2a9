"""Reads the index into PhotoFacts: the one place the profile builders' input comes from.

Values inside ``attrs`` are pulled out by SQLite's json_extract, so a library of 100,000 photos
and a million findings loads without parsing a million JSON documents in Python.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from shadowlens.daemon.fsnames import from_index_text
from shadowlens.daemon.profile.facts import BrandHit, FaceFact, PhotoFacts
from sqlalchemy import text
from sqlalchemy.orm import Session

KINDS = ("face", "brand", "object", "scene", "pii", "code", "nudity")

_PHOTOS = """
SELECT p.id, p.taken_at, p.lat, p.lon, p.city, p.country_code, p.device_make, p.device_model,
       (SELECT min(f.path) FROM files f WHERE f.photo_id = p.id) AS path
FROM photos p
WHERE p.status = 'indexed' AND EXISTS (SELECT 1 FROM files f WHERE f.photo_id = p.id) {where}
"""

_FINDINGS = """
SELECT f.photo_id, f.kind, f.label, f.bbox,
       json_extract(f.attrs, '$.age'), json_extract(f.attrs, '$.smiling'),
       json_extract(f.attrs, '$.expression.label'),
       json_extract(f.attrs, '$.category'), json_extract(f.attrs, '$.parent'),
       json_extract(f.attrs, '$.via'), json_extract(f.attrs, '$.payload_type'),
       json_extract(f.attrs, '$.exposed'), fa.id, fa.person_id
FROM findings f LEFT JOIN faces fa ON fa.finding_id = f.id
WHERE f.kind IN ('face', 'brand', 'object', 'scene', 'pii', 'code', 'nudity') {where}
ORDER BY f.photo_id, f.id
"""


def load_facts(session: Session, photo_ids: Sequence[int] | None = None) -> list[PhotoFacts]:
    """Every indexed photo that still has a file, or just ``photo_ids``."""
    photos: dict[int, dict[str, Any]] = {}
    for chunk in _chunks(photo_ids):
        where = "" if chunk is None else f"AND p.id IN ({','.join(str(int(i)) for i in chunk)})"
        for row in session.execute(text(_PHOTOS.format(where=where))):
            device = " ".join(part for part in (row.device_make, row.device_model) if part) or None
            photos[row.id] = {
                "photo_id": row.id,
                "path": from_index_text(row.path),
                "taken_at": _parse_time(row.taken_at),
                "lat": row.lat,
                "lon": row.lon,
                "city": row.city,
                "country_code": row.country_code,
                "device": device,
            }
    found: dict[int, dict[str, list[Any]]] = defaultdict(lambda: defaultdict(list))
    for chunk in _chunks(photo_ids):
        where = "" if chunk is None else f"AND f.photo_id IN ({','.join(str(int(i)) for i in chunk)})"
        for row in session.execute(text(_FINDINGS.format(where=where))):
            photo_id, kind, label, bbox = row[0], row[1], row[2], row[3]
            if photo_id not in photos:
                continue
            bucket = found[photo_id]
            if kind == "face":
                bucket["faces"].append(_face(row, bbox))
            elif kind == "brand":
                bucket["brands"].append(BrandHit(label, row[7] or "", row[8] or "", row[9] or "text"))
            elif kind == "code":
                bucket["codes"].append(row[10] or "text")
            elif kind == "nudity":
                bucket["nudity_exposed" if row[11] else "nudity_covered"].append(label)
            else:
                bucket[{"object": "objects", "scene": "scenes", "pii": "pii"}[kind]].append(label)
    facts = []
    for photo_id, fields in sorted(photos.items()):
        merged: dict[str, Any] = {**fields, **{k: tuple(v) for k, v in found.get(photo_id, {}).items()}}
        facts.append(PhotoFacts(**merged))
    return facts


def _face(row: Any, bbox: Any) -> FaceFact:
    if isinstance(bbox, str):
        bbox = json.loads(bbox)
    box = tuple(float(v) for v in bbox) if isinstance(bbox, list | tuple) and len(bbox) == 4 else None
    return FaceFact(
        face_id=int(row[12]) if row[12] is not None else -1,
        person_id=row[13],
        age=float(row[4]) if row[4] is not None else None,
        smiling=bool(row[5]) if row[5] is not None else None,
        expression=row[6],
        bbox=box,  # type: ignore[arg-type]
    )


def _parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value).replace(tzinfo=None)
    except ValueError:
        return None


def _chunks(ids: Sequence[int] | None, size: int = 900) -> Iterator[Sequence[int] | None]:
    if ids is None:
        yield None
        return
    for start in range(0, len(ids), size):
        yield ids[start : start + size]
