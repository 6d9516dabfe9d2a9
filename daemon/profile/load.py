"""Reads the index into PhotoFacts: the profile builders' input, made by ``facts.photo_facts``.

Each detector says which kinds of its findings count and which attrs its hooks read
(``counts``, ``reads``); only those rows are read, and only those values, pulled out of the attrs
JSON by SQLite's json_extract. So a library of 100,000 photos and a million findings loads without
parsing a million JSON documents in Python. Rows stream in photo order, one photo at a time.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

from shadowlens.daemon.analysis.hooks import NO_ATTRS, Hooks, StoredFinding
from shadowlens.daemon.fsnames import from_index_text
from shadowlens.daemon.profile.facts import PhotoCore, PhotoFacts, installed_hooks, local_time, photo_facts
from shadowlens.daemon.wording import device_name
from sqlalchemy import text
from sqlalchemy.orm import Session

_PHOTOS = """
SELECT p.id, p.taken_at, p.lat, p.lon, p.city, p.country_code, p.device_make, p.device_model,
       (SELECT min(f.path) FROM files f WHERE f.photo_id = p.id) AS path
FROM photos p
WHERE p.status = 'indexed' AND EXISTS (SELECT 1 FROM files f WHERE f.photo_id = p.id)
  AND NOT EXISTS (
    SELECT 1 FROM findings rp JOIN files twin ON twin.path = json_extract(rp.attrs, '$.sibling')
    WHERE rp.photo_id = p.id AND rp.kind = 'raw_pair' AND twin.status = 'indexed'
  ) {where}
"""

_FINDINGS = """
SELECT f.photo_id, f.detector, f.kind, f.label, f.confidence, fa.id, fa.person_id{columns}
FROM findings f LEFT JOIN faces fa ON fa.finding_id = f.id
WHERE ({counted}) {where}
ORDER BY f.photo_id, f.id
"""
_FIXED = 7  # columns before the attrs ones


@dataclass(frozen=True)
class _Plan:
    """The findings query for a set of hooks, and where each detector's attrs are in its rows."""

    sql: str
    params: dict[str, Any]
    keys: dict[str, tuple[tuple[str, ...], tuple[int, ...]]]  # detector -> the keys it reads, their columns
    whole: int | None  # the column of whole attrs documents, for detectors that read them all

    @classmethod
    def of(cls, hooks: Hooks) -> _Plan:
        params: dict[str, Any] = {}

        def bind(value: str) -> str:
            params[f"p{len(params)}"] = value
            return f":p{len(params) - 1}"

        installed = sorted(hooks.classes)
        counted: list[str] = []
        readers: dict[str, list[str]] = {}  # attrs key -> the detectors that read it
        whole: list[str] = []  # detectors that read every attr
        for name in installed:
            hook = hooks.of(name)
            if hook.counts is not None and not hook.counts:
                continue  # nothing of this detector counts (text lines, times, devices)
            kinds = (
                "" if hook.counts is None else f" AND f.kind IN ({', '.join(map(bind, sorted(hook.counts)))})"
            )
            counted.append(f"(f.detector = {bind(name)}{kinds})")
            if hook.reads is None:
                whole.append(name)
            for key in hook.reads or ():
                readers.setdefault(key, []).append(name)
        # The findings of detectors no longer installed count by kind and label.
        known = ", ".join(map(bind, installed)) or "''"
        counted.append(f"f.detector NOT IN ({known})")
        select: list[str] = []
        keys: dict[str, tuple[tuple[str, ...], tuple[int, ...]]] = {}
        for key, names in sorted(readers.items()):
            column = _FIXED + len(select)
            who = ", ".join(map(bind, names))
            select.append(
                f"CASE WHEN f.detector IN ({who}) THEN json_extract(f.attrs, {bind('$.' + key)}) END"
            )
            for name in names:
                had, columns = keys.get(name, ((), ()))
                keys[name] = ((*had, key), (*columns, column))
        whole_column = None
        if whole:
            whole_column = _FIXED + len(select)
            select.append(f"CASE WHEN f.detector IN ({', '.join(map(bind, whole))}) THEN f.attrs END")
        sql = _FINDINGS.format(
            columns="".join(f", {c}" for c in select), counted=" OR ".join(counted), where="{where}"
        )
        return cls(sql, params, keys, whole_column)

    def reader(self) -> Callable[[tuple[Any, ...]], Mapping[str, Any]]:
        """The function that makes a row's attrs: a million calls, so kept lean."""
        # The photo id pads each getter, so that it gives a tuple even for one column.
        getters = {name: (keys, itemgetter(*columns, 0)) for name, (keys, columns) in self.keys.items()}
        whole = self.whole

        def attrs(row: tuple[Any, ...]) -> Mapping[str, Any]:
            picked = getters.get(row[1])
            if picked is not None:
                return dict(zip(picked[0], picked[1](row), strict=False))  # the pad drops out
            if whole is not None and row[whole] is not None:
                parsed: dict[str, Any] = json.loads(row[whole])
                return parsed
            return NO_ATTRS

        return attrs


def load_facts(
    session: Session, photo_ids: Sequence[int] | None = None, hooks: Hooks | None = None
) -> list[PhotoFacts]:
    """Every indexed photo that still has a file, or just ``photo_ids``; ``hooks`` default to
    the installed detectors'."""
    hooks = hooks or installed_hooks()
    photos: dict[int, tuple[str, PhotoCore]] = {}
    for chunk in _chunks(photo_ids):
        where = "" if chunk is None else f"AND p.id IN ({','.join(str(int(i)) for i in chunk)})"
        for row in session.execute(text(_PHOTOS.format(where=where))):
            device = device_name(row.device_make, row.device_model)
            core = PhotoCore(
                taken_at=local_time(row.taken_at),
                lat=row.lat,
                lon=row.lon,
                city=row.city,
                country_code=row.country_code,
                device=device,
            )
            photos[row.id] = (from_index_text(row.path), core)
    plan = _Plan.of(hooks)
    attrs = plan.reader()
    built: dict[int, PhotoFacts] = {}
    # The driver's own cursor: plain tuples, cheaper per row than SQLAlchemy's rows.
    cursor = session.connection().connection.cursor()
    try:
        for chunk in _chunks(photo_ids):
            where = "" if chunk is None else f"AND f.photo_id IN ({','.join(str(int(i)) for i in chunk)})"
            rows = cursor.execute(plan.sql.format(where=where), plan.params)
            for photo_id, group in itertools.groupby(rows, key=itemgetter(0)):
                if photo_id not in photos:
                    continue
                found = list(group)
                faces = [int(r[5]) if r[5] is not None else -1 for r in found if r[2] == "face"]
                findings = [StoredFinding(r[1], r[2], r[3], r[4], None, attrs(r), r[6]) for r in found]
                path, core = photos[photo_id]
                built[photo_id] = photo_facts(photo_id, path, core, findings, hooks, True, faces)
    finally:
        cursor.close()
    return [
        built.get(photo_id) or photo_facts(photo_id, path, core, (), hooks)
        for photo_id, (path, core) in sorted(photos.items())
    ]


def _chunks(ids: Sequence[int] | None, size: int = 900) -> Iterator[Sequence[int] | None]:
    if ids is None:
        yield None
        return
    for start in range(0, len(ids), size):
        yield ids[start : start + size]
