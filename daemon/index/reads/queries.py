"""The read API of the index, used by the CLI and the TUI. Nothing here writes.

Results are plain dicts in the documented ``photos --json`` shape, so every consumer sees
the same fields.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from shadowlens.daemon.index.db import make_engine
from shadowlens.daemon.index.profile_writes import PROFILE_KEY
from shadowlens.daemon.index.reads.findings import shown
from shadowlens.daemon.index.reads.signatures import signature_lookup
from shadowlens.daemon.index.schema import (
    Alert,
    DaemonState,
    DetectorRunRow,
    Face,
    File,
    FindingRow,
    Job,
    Photo,
    ScanError,
)
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session

STATUSES = ("indexed", "error", "pending", "skipped")
# The people screen's list, most photos first; the user's child mark wins over the estimate.
PERSONS = text(
    "SELECT id, name, engine, photo_count, face_count, is_owner,"
    " coalesce(child_override, is_child) AS is_child, cover_face_id"
    " FROM persons ORDER BY photo_count DESC, id"
)


class Reader:
    """A read-only view of the index; in WAL mode it never blocks the daemon's writer."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @classmethod
    def open(cls, path: Path) -> Reader:
        return cls(make_engine(path, writer=False))

    def close(self) -> None:
        self.engine.dispose()

    def signature_for(self, sha256: str) -> str | None:
        with Session(self.engine) as session:
            return session.scalar(select(Photo.signature).where(Photo.sha256 == sha256))

    def photos(self, status: str | None = None) -> list[dict[str, Any]]:
        with Session(self.engine) as session:
            query = select(File, Photo).outerjoin(Photo, File.photo_id == Photo.id).order_by(File.path)
            if status:
                query = query.where(File.status == status)
            rows = session.execute(query).all()
            photo_ids = [photo.id for _, photo in rows if photo is not None]
            findings = _findings_by_photo(session, photo_ids)
            runs = _runs_by_photo(session, photo_ids)
            return [_file_view(file, photo, findings, runs) for file, photo in rows]

    def photo(self, path: Path | str) -> dict[str, Any] | None:
        with Session(self.engine) as session:
            row = session.execute(
                select(File, Photo).outerjoin(Photo, File.photo_id == Photo.id).where(File.path == str(path))
            ).first()
            if row is None:
                return None
            file, photo = row
            ids = [photo.id] if photo else []
            view = _file_view(file, photo, _findings_by_photo(session, ids), _runs_by_photo(session, ids))
            view["other_paths"] = sorted(f.path for f in photo.files if f.path != file.path) if photo else []
            return view

    def counts(self) -> dict[str, int]:
        with Session(self.engine) as session:
            by_status = dict(session.execute(select(File.status, func.count()).group_by(File.status)).all())
            return {
                "files": sum(by_status.values()),
                **{status: int(by_status.get(status, 0)) for status in STATUSES},
                "photos": int(session.scalar(select(func.count()).select_from(Photo)) or 0),
                "findings": int(session.scalar(select(func.count()).select_from(FindingRow)) or 0),
            }

    def countries(self) -> list[str]:
        """The countries the photos were taken in, most photos first: the regions a phone number
        without a country code most likely belongs to when its own photo has no GPS."""
        with Session(self.engine) as session:
            rows = session.execute(
                select(Photo.country_code, func.count().label("n"))
                .where(Photo.country_code.is_not(None))
                .group_by(Photo.country_code)
                .order_by(func.count().desc(), Photo.country_code)
            ).all()
            return [str(code) for code, _ in rows]

    def job_counts(self) -> dict[str, int]:
        with Session(self.engine) as session:
            rows = session.execute(select(Job.state, func.count()).group_by(Job.state)).all()
            return {str(state): int(n) for state, n in rows}

    def profile(self) -> dict[str, Any] | None:
        """The last built profile (see ``shadowlens profile --json``), or None before the first."""
        with Session(self.engine) as session:
            row = session.get(DaemonState, PROFILE_KEY)
            return dict(row.value) if row else None

    def alerts(self, include_all: bool = False, limit: int | None = None) -> list[dict[str, Any]]:
        """Newest first; only new ones unless ``include_all``. Reasons are masked by construction."""
        with Session(self.engine) as session:
            path = select(func.min(File.path)).where(File.photo_id == Alert.photo_id).scalar_subquery()
            query = select(Alert, path).order_by(Alert.created_at.desc(), Alert.id.desc())
            if not include_all:
                query = query.where(Alert.state == "new")
            if limit:
                query = query.limit(limit)
            return [
                {
                    "id": alert.id,
                    "photo_id": alert.photo_id,
                    "path": file_path,
                    "score": alert.score,
                    "reasons": alert.reasons,
                    "state": alert.state,
                    "created_at": alert.created_at.isoformat(timespec="seconds"),
                    "notified_at": alert.notified_at.isoformat(timespec="seconds")
                    if alert.notified_at
                    else None,
                }
                for alert, file_path in session.execute(query)
            ]

    def persons(self) -> list[dict[str, Any]]:
        # Plain tuples made into dicts here: ORM objects, or SQLAlchemy's typed columns, cost
        # twice the query itself for a library's 3,000 persons (the people screen asks often).
        with self.engine.connect() as connection:
            result = connection.execute(PERSONS)
            keys = list(result.keys())
            rows = [dict(zip(keys, row, strict=True)) for row in result]
        for row in rows:  # SQLite's booleans are integers
            row["is_owner"] = None if row["is_owner"] is None else bool(row["is_owner"])
            row["is_child"] = bool(row["is_child"])
        return rows

    def scan_errors(self) -> list[dict[str, Any]]:
        with Session(self.engine) as session:
            rows = session.scalars(select(ScanError).order_by(ScanError.path))
            return [
                {"path": e.path, "stage": e.stage, "error": e.message, "at": e.at.isoformat()} for e in rows
            ]


def _findings_by_photo(session: Session, ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    out: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        query = (
            select(FindingRow, Face.person_id)
            .outerjoin(Face, Face.finding_id == FindingRow.id)
            .where(FindingRow.photo_id.in_(chunk))
            .order_by(FindingRow.id)
        )
        for f, person_id in session.execute(query):
            view = {
                "kind": f.kind,
                "label": f.label,
                "confidence": f.confidence,
                "bbox": f.bbox,
                "attrs": f.attrs,
                "detector": f.detector,
            }
            if f.kind == "face":
                view["person_id"] = person_id
            view["shown"] = shown(view)  # the detector's own words (its ``shown`` hook)
            out[f.photo_id].append(view)
    return out


def _runs_by_photo(session: Session, ids: list[int]) -> dict[int, list[DetectorRunRow]]:
    out: dict[int, list[DetectorRunRow]] = defaultdict(list)
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        for run in session.scalars(select(DetectorRunRow).where(DetectorRunRow.photo_id.in_(chunk))):
            out[run.photo_id].append(run)
    return out


def _file_view(
    file: File,
    photo: Photo | None,
    findings: dict[int, list[dict[str, Any]]],
    runs: dict[int, list[DetectorRunRow]],
) -> dict[str, Any]:
    place = None
    if photo is not None and photo.country_code:
        place = {"city": photo.city, "admin": photo.admin, "country_code": photo.country_code}
    device = None
    if photo is not None and (photo.device_make or photo.device_model):
        device = {"make": photo.device_make, "model": photo.device_model}
    return {
        "path": file.path,
        "photo_id": photo.id if photo else None,
        "sha256": photo.sha256 if photo else None,
        "status": file.status,
        "error": file.error,
        "format": photo.format if photo else None,
        "width": photo.width if photo else None,
        "height": photo.height if photo else None,
        "taken_at": photo.taken_at if photo else None,
        "gps": {"lat": photo.lat, "lon": photo.lon} if photo and photo.lat is not None else None,
        "place": place,
        "device": device,
        "exposure": photo.exposure if photo else None,
        "reasons": (photo.exposure_reasons or []) if photo else [],
        "marked_safe": photo.marked_safe if photo else False,
        "findings": findings.get(photo.id, []) if photo else [],
        "detector_errors": [
            {"detector": r.detector, "error": r.error}
            for r in (runs.get(photo.id, []) if photo else [])
            if r.error
        ],
    }


def signature_source(index_path: Path | None) -> Callable[[], Callable[[str], str | None]] | None:
    """What makes a worker's lookup of the analysis stored for a content: signatures.py, which a
    worker imports without SQLAlchemy."""
    return functools.partial(signature_lookup, str(index_path)) if index_path is not None else None
