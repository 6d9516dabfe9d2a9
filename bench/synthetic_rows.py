"""The synthetic index's rows, table by table, with ids assigned here, and their one write.

Written straight into SQLite (schema from ``open_index``, rows by ``executemany`` in one
transaction), as if a full scan had filled it. Part of ``synthetic_index``.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime
from pathlib import Path
from typing import Any


def json_text(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f")


class IndexRows:
    """Accumulates the rows of every table, with ids assigned here."""

    def __init__(self) -> None:
        self.photos: list[tuple[Any, ...]] = []
        self.files: list[tuple[Any, ...]] = []
        self.findings: list[tuple[Any, ...]] = []
        self.faces: list[tuple[Any, ...]] = []
        self.next_finding = 1
        # The findings of the photo being built, as the profile reads them back (for its score).
        self.current: list[Any] = []

    def finding(
        self,
        photo_id: int,
        kind: str,
        label: str,
        attrs: dict[str, Any],
        detector: str,
        version: str = "1",
        confidence: float = 1.0,
        bbox: list[float] | None = None,
        person_id: int | None = None,
    ) -> int:
        from shadowlens.daemon.analysis.hooks import StoredFinding

        box = tuple(bbox) if bbox is not None else None
        self.current.append(StoredFinding(detector, kind, label, confidence, box, attrs, person_id))  # type: ignore[arg-type]
        finding_id = self.next_finding
        self.next_finding += 1
        stored_box = json_text(bbox) if bbox is not None else "null"
        self.findings.append(
            (finding_id, photo_id, kind, label, confidence, stored_box, json_text(attrs), detector, version)
        )
        return finding_id


def insert(
    path: Path, rows: IndexRows, persons: list[tuple[Any, ...]], snapshot: dict[str, Any], when: str
) -> None:
    con = sqlite3.connect(path, isolation_level=None)
    try:
        con.execute("PRAGMA synchronous = OFF")
        con.execute("BEGIN")
        con.executemany(
            "INSERT INTO photos (id, sha256, size, format, width, height, status, error, signature, "
            "taken_at, taken_utc, lat, lon, city, admin, country_code, device_make, device_model, "
            "exposure, exposure_reasons, marked_safe, analysed_at, orphaned_at) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            rows.photos,
        )
        con.executemany(
            "INSERT INTO files (id, path, photo_id, size, mtime_ns, inode, device, status, error, "
            "first_seen, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            rows.files,
        )
        con.executemany(
            "INSERT INTO findings (id, photo_id, kind, label, confidence, bbox, attrs, detector, "
            "detector_version) VALUES (?,?,?,?,?,?,?,?,?)",
            rows.findings,
        )
        con.executemany(
            "INSERT INTO faces (id, photo_id, finding_id, engine, dim, embedding, confidence, person_id) "
            "VALUES (?,?,?,?,?,?,?,?)",
            rows.faces,
        )
        con.executemany(
            "INSERT INTO persons (id, engine, name, is_owner, is_child, child_override, face_count, "
            "photo_count, cover_face_id, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            persons,
        )
        con.execute(
            "INSERT INTO daemon_state (key, value, updated_at) VALUES ('profile', ?, ?)",
            (json_text(snapshot), when),
        )
        con.execute("COMMIT")
    finally:
        con.close()
    _store_sort_keys(path, len(rows.photos))
    con = sqlite3.connect(path, isolation_level=None)
    try:
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        con.close()


def _store_sort_keys(path: Path, photos: int) -> None:
    """The photos screen's sort keys, as the writer and the profile keep them (photo ids 1..n)."""
    from shadowlens.daemon.index import sort_keys
    from shadowlens.daemon.index.writer import Store

    store = Store.open(path)
    try:
        with store.transaction() as session:
            sort_keys.refresh_photos(session, range(1, photos + 1))
    finally:
        store.close()
