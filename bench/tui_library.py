"""The library the TUI rows browse: ``synthetic_index``'s synthetic index with a full profile.

The index is built again here, into its own directory, because the profile rows change theirs
(new photos, a recluster). One full ``ProfileUpdater.refresh(force=True)`` then stores the
complete profile a running daemon keeps (places, brands, people, habits: ~5 MB of JSON at full
size; the build's own snapshot only knows home and the owner), and every photo at or over the
alert threshold gets the ``new`` alert the daemon would have raised. Building (~1 min) and
refreshing (~40 s) happen once for all ``tui.*`` rows (``ctx.memo``), and so does the one
Library the query rows share, as a TUI session keeps it.
"""

from __future__ import annotations

import os
import sqlite3
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from harness import Context, median
from synthetic_index import Built, build
from synthetic_rows import stamp
from synthetic_world import TRIPS

TRIP_RADIUS_M = 5000.0  # what the places screen uses for a place without a radius


@dataclass
class Picks:
    """What the query rows look at, chosen from the index as a user would find it."""

    photos: int  # indexed, not orphaned: what the photos screen counts
    persons: int
    search: str  # a trip city
    search_hits: int
    detail_path: str  # the photo with the most findings
    detail_findings: int
    person_id: int  # the person with the most faces
    person_faces: int
    home: tuple[float, float, float]  # lat, lon, radius in metres, as the places screen asks
    home_photos: int
    brand: str  # the brand in the most photos
    alerts: int


@dataclass
class Index:
    built: Built
    state_dir: Path
    refresh_s: float
    picks: Picks

    @property
    def path(self) -> Path:
        return self.built.path

    @property
    def made(self) -> str:
        return f"index built in {self.built.seconds:.0f} s, profile refreshed in {self.refresh_s:.0f} s"


def tui_index(ctx: Context) -> Index:
    def make() -> Index:
        from shadowlens.daemon.config import Config
        from shadowlens.daemon.index.writer import Store
        from shadowlens.daemon.profile.updater import ProfileUpdater

        built = build(ctx.tempdir("tui-index") / "index.db", ctx.quick)
        config = Config()
        store = Store.open(built.path)
        try:
            started = time.perf_counter()
            snapshot = ProfileUpdater(store, config).refresh(force=True)
            refresh_s = time.perf_counter() - started
        finally:
            store.close()
        assert snapshot is not None
        _add_alerts(built, config.alerts.threshold)
        picks = _picks(built.path, snapshot)
        return Index(built, ctx.tempdir("tui-state"), refresh_s, picks)

    return ctx.memo("tui.index", make)


def _add_alerts(built: Built, threshold: int) -> None:
    """A ``new`` alert per photo at or over the threshold, five minutes apart in photo order."""
    con = sqlite3.connect(built.path, isolation_level=None)
    try:
        risky = con.execute(
            "SELECT id, exposure, exposure_reasons FROM photos "
            "WHERE status = 'indexed' AND marked_safe = 0 AND exposure >= ? ORDER BY id",
            (threshold,),
        ).fetchall()
        rows = []
        for n, (photo_id, exposure, reasons) in enumerate(risky):
            at = stamp(built.end - timedelta(minutes=5 * (len(risky) - n)))
            rows.append((photo_id, exposure, reasons, "new", at, at))
        con.execute("BEGIN")
        con.executemany(
            "INSERT INTO alerts (photo_id, score, reasons, state, created_at, updated_at) VALUES (?,?,?,?,?,?)",
            rows,
        )
        con.execute("COMMIT")
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        con.close()


def _picks(path: Path, snapshot: dict[str, Any]) -> Picks:
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:

        def one(sql: str, *params: Any) -> Any:
            return con.execute(sql, params).fetchone()

        (photos,) = one("SELECT count(*) FROM photos WHERE status = 'indexed' AND orphaned_at IS NULL")
        (persons,) = one("SELECT count(*) FROM persons")
        trips = [t[0] for t in TRIPS]
        marks = ",".join("?" * len(trips))
        search, hits = one(
            f"SELECT city, count(*) FROM photos WHERE city IN ({marks}) GROUP BY city ORDER BY 2 DESC, 1 LIMIT 1",
            *trips,
        )
        detail_id, findings = one(
            "SELECT photo_id, count(*) FROM findings GROUP BY photo_id ORDER BY 2 DESC, 1 LIMIT 1"
        )
        (detail_path,) = one("SELECT min(path) FROM files WHERE photo_id = ?", detail_id)
        person_id, faces = one("SELECT id, face_count FROM persons ORDER BY face_count DESC, id LIMIT 1")
        (alerts,) = one("SELECT count(*) FROM alerts WHERE state = 'new'")
    finally:
        con.close()
    home = next((p for p in snapshot.get("places", []) if p.get("label") == "home"), None)
    if home is None:
        home = {**snapshot["home"], "photo_count": 0}
    radius = float(home.get("radius_m") or TRIP_RADIUS_M)
    brand = max(snapshot["brands"], key=lambda b: int(b["photo_count"]))["name"]
    return Picks(
        photos=int(photos),
        persons=int(persons),
        search=str(search),
        search_hits=int(hits),
        detail_path=str(detail_path),
        detail_findings=int(findings),
        person_id=int(person_id),
        person_faces=int(faces),
        home=(float(home["lat"]), float(home["lon"]), radius),
        home_photos=int(home.get("photo_count") or 0),
        brand=str(brand),
        alerts=int(alerts),
    )


@dataclass
class Session:
    """One Library, open for all query rows as a TUI session keeps it."""

    library: Any  # Library
    floor_ms: float  # a connection (the Reader does not pool) and SELECT 1


def tui_session(ctx: Context) -> Session:
    def make() -> Session:
        from shadowlens.tui.library import Library
        from sqlalchemy import text

        shared = tui_index(ctx)
        library = Library(shared.path, shared.state_dir)
        samples = []
        for _ in range(20):
            started = time.perf_counter()
            with library.reader.engine.connect() as connection:
                connection.execute(text("SELECT 1")).all()
            samples.append((time.perf_counter() - started) * 1000)
        return Session(library, median(samples))

    return ctx.memo("tui.session", make)


def load_note() -> str:
    """The machine's load: these rows share it with whatever else runs."""
    one, five, _ = os.getloadavg()
    return f"load avg {one:.1f}/{five:.1f} (1/5 min) on {os.cpu_count()} CPUs"
