"""A synthetic index at library scale: 100,000 photos, 300,000 faces, ~1M findings.

As if a full scan had filled it: where and when the photos were taken (``synthetic_world``), who
is in them (``synthetic_people``), each photo's rows and exposure score (``synthetic_photos``,
``synthetic_content``), written in one transaction (``synthetic_rows``), and a stored profile
that knows home, the owner and the children, as a running daemon would have. The profile rows
(``rows_profile``) and the TUI rows (``tui_library``) each build one into their own directory:
the profile rows change theirs. ``add_new_photo`` stores one more photo as the writer would.

``quick``: 10,000 photos, 300 identities, 30,000 faces.
"""

from __future__ import annotations

import hashlib
import sqlite3
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
from synthetic_people import DIM, ENGINE, NAMES, is_child, noise_scale, people, persons_rows, unit
from synthetic_photos import Draws, Plan, add_photos
from synthetic_rows import IndexRows, insert, json_text, stamp
from synthetic_world import DAYS, HOME, PHOTOS_PER_EVENT, USER, dst, events, jitter, pick_brands


@dataclass
class Built:
    """The index on disk and what the rows need to know about how it was made."""

    path: Path
    photos: int
    faces: int
    findings: int
    persons: int
    seconds: float
    centres: Any  # NDArray[np.float32]: one unit row per identity
    popularity: Any  # NDArray[np.float64]: the probability of each identity in a face
    sample_face: Any  # NDArray[np.int64]: one face id per identity (its person is the truth)
    truth: Any  # NDArray[np.int64]: identity of face id i + 1; -1 for strangers
    brands: list[tuple[str, str, str]]
    end: datetime

    @property
    def size(self) -> str:
        return f"index {self.photos:,} photos, {self.faces:,} faces, {self.findings:,} findings"


def build(path: Path, quick: bool) -> Built:
    from shadowlens.daemon.config import Config
    from shadowlens.daemon.index.db import open_index
    from shadowlens.daemon.profile.exposure import ExposureContext

    started = time.perf_counter()
    open_index(path).dispose()
    # One generator, drawn from in a fixed order: the same index on every run (but its dates).
    rng = np.random.default_rng(2025)
    n_photos = 10_000 if quick else 100_000
    n_identities = 300 if quick else 3_000
    n_faces = 30_000 if quick else 300_000
    everyone = people(rng, n_identities, n_faces)
    brands = pick_brands()
    end = datetime.now().replace(microsecond=0) - timedelta(days=1)
    first = (end - timedelta(days=DAYS)).replace(hour=0, minute=0, second=0)
    happened = events(rng, max(1, n_photos // PHOTOS_PER_EVENT), first)
    photo_event = np.sort(rng.integers(0, len(happened), n_photos))
    # 92% phone photos, 5% screenshots, 3% downloads (messengers strip GPS, often the time too)
    source = rng.choice(["camera", "screenshot", "download"], n_photos, p=[0.92, 0.05, 0.03])
    with_faces = np.flatnonzero(source != "screenshot")
    with_faces = rng.choice(with_faces, min(len(with_faces), round(0.7 * n_photos)), replace=False)
    face_photo = rng.choice(with_faces, n_faces)
    order = np.argsort(face_photo, kind="stable")  # face id i + 1 is order[i]
    face_photo, labels = face_photo[order], everyone.labels[order]
    truth = np.where(labels < n_identities, labels, -1).astype(np.int64)
    identity_faces = np.flatnonzero(truth >= 0)
    _, first_of = np.unique(truth[identity_faces], return_index=True)
    sample_face = identity_faces[first_of] + 1  # face id of each identity's first face

    children = frozenset(i + 1 for i in range(n_identities) if is_child(everyone, i))
    analysed = stamp(end)
    rows = IndexRows()
    plan = Plan(
        rng=rng,
        people=everyone,
        identities=n_identities,
        events=happened,
        photo_event=photo_event,
        source=source,
        bounds=np.searchsorted(face_photo, np.arange(n_photos + 1)),
        labels=labels,
        vectors=everyone.vectors[order],
        brands=brands,
        draws=Draws.draw(rng, source, n_faces, len(brands)),
        first=first,
        analysed=analysed,
        context=ExposureContext(home=(HOME[3], HOME[4]), owner=1, child_persons=children),
        points=Config().alerts.points,
    )
    add_photos(rows, plan)
    persons = persons_rows(truth, face_photo, rows.faces, rows.findings, children, n_identities, analysed)
    snapshot = {
        "built_at": analysed[:19].replace(" ", "T"),
        "photo_count": n_photos,
        "owner": {"person_id": 1, "name": NAMES[0], "photo_count": persons[0][7], "source": "most photos"},
        "home": {"lat": HOME[3], "lon": HOME[4]},
        "child_persons": sorted(children),
        "adult_persons": [],
    }
    insert(path, rows, persons, snapshot, analysed)
    return Built(
        path=path,
        photos=n_photos,
        faces=n_faces,
        findings=len(rows.findings),
        persons=len(persons),
        seconds=time.perf_counter() - started,
        centres=everyone.centres,
        popularity=everyone.popularity,
        sample_face=sample_face,
        truth=truth,
        brands=brands,
        end=end,
    )


def add_new_photo(
    con: sqlite3.Connection, built: Built, rng: np.random.Generator, who: list[int], n: int
) -> int:
    """One photo as the writer would store it: file, metadata, a face of each identity in
    ``who`` with its embedding (no person yet), a brand. Returns its photo id."""
    local = built.end + timedelta(hours=20, minutes=n)
    aware = local.replace(tzinfo=timezone(timedelta(hours=1 + dst(local))))
    taken_at, taken_utc = aware.isoformat(), aware.astimezone(UTC).isoformat()
    base = HOME if n % 2 == 0 else ("Villeurbanne", HOME[1], "FR", 45.7667, 4.8803)
    lat, lon = jitter(rng, base[3], base[4], 12.0)
    now = stamp(datetime.now())
    sha = hashlib.sha256(f"new-{n}-{time.time_ns()}".encode()).hexdigest()
    device, state = ("Apple", "iPhone 15 Pro", 0, now), ("indexed", now, now)
    brand = built.brands[n % len(built.brands)]  # its one brand (and so its first)
    cur = con.cursor()
    cur.execute(
        "INSERT INTO photos (sha256, size, format, width, height, status, signature, taken_at, taken_utc, "
        "lat, lon, city, admin, country_code, device_make, device_model, marked_safe, analysed_at, "
        "first_brand) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        (
            sha,
            3_100_000,
            "JPEG",
            4032,
            3024,
            "indexed",
            "bench",
            taken_at,
            taken_utc,
            lat,
            lon,
            *base[:3],
            *device,
            brand[0],
        ),
    )
    photo_id = int(cur.lastrowid or 0)
    cur.execute(
        "INSERT INTO files (path, photo_id, size, mtime_ns, inode, device, status, first_seen, updated_at) "
        "VALUES (?,?,?,?,?,?,?,?,?)",
        (f"{USER}/new/IMG_N{photo_id:06d}.JPG", photo_id, 3_100_000, time.time_ns(), photo_id, 2049, *state),
    )

    def finding(kind: str, label: str, attrs: dict[str, Any], detector: str, bbox: Any = None) -> int:
        cur.execute(
            "INSERT INTO findings (photo_id, kind, label, confidence, bbox, attrs, detector, detector_version) "
            "VALUES (?,?,?,?,?,?,?,?)",
            (photo_id, kind, label, 0.9, json_text(bbox), json_text(attrs), detector, "1"),
        )
        return int(cur.lastrowid or 0)

    time_attrs = {"source": "DateTimeOriginal", "offset": aware.strftime("%z"), "utc": taken_utc}
    finding("time", taken_at, time_attrs, "metadata")
    finding("device", "iPhone 15 Pro", {"make": "Apple", "model": "iPhone 15 Pro"}, "metadata")
    finding("gps", f"{lat:.6f}, {lon:.6f}", {"lat": lat, "lon": lon}, "metadata")
    finding("place", f"{base[0]}, {base[1]}, FR", {"city": base[0], "country_code": "FR"}, "place")
    vectors = unit(built.centres[who] + noise_scale() * rng.standard_normal((len(who), DIM)))
    for k, vector in enumerate(vectors):
        attrs = {"age": 30.0, "sex": "F", "expression": {"label": "happy"}, "smiling": True}
        finding_id = finding("face", "face", attrs, "faces", [100.0 + 400 * k, 200.0, 300.0, 360.0])
        cur.execute(
            "INSERT INTO faces (photo_id, finding_id, engine, dim, embedding, confidence, person_id) "
            "VALUES (?,?,?,?,?,0.9,NULL)",
            (photo_id, finding_id, ENGINE, DIM, vector.astype(np.float32).tobytes()),
        )
    name, category, parent = brand
    finding("brand", name, {"category": category, "parent": parent, "via": "text", "matched": name}, "brands")
    con.commit()
    return photo_id
