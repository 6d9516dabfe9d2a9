"""The rows of each synthetic photo, as a full scan would have written them.

~60% of the photos carry GPS (and a place), ~92% a device; each has its faces, what else it
holds (``synthetic_content``) and the exposure score the daemon's own ``score`` gives it. Every
random value is drawn up front (``Draws``) except the GPS jitter: one numpy call per value would
take longer than SQLite. Part of the synthetic index (``synthetic_index.build``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import numpy as np
from synthetic_content import OBJECTS, WORDS, add_content
from synthetic_people import DIM, ENGINE, EXPRESSIONS, FACES_VERSION, LANDMARKS, People
from synthetic_rows import IndexRows, json_text
from synthetic_world import USER, Event, device, dst, jitter


@dataclass
class Draws:
    """Random values of all faces, texts, brands, objects and photos, in the build's draw order."""

    face_noise: Any
    face_draw: Any
    face_xyw: Any
    face_confidence: Any
    text_at: Any  # the texts of photo i are text_at[i]:text_at[i + 1]; brands, objects alike
    brand_at: Any
    object_at: Any
    text_words: Any
    text_xy: Any
    brand_pick: Any
    brand_via: Any
    object_pick: Any
    photo_draw: Any
    photo_gaps: Any

    @classmethod
    def draw(cls, rng: np.random.Generator, source: Any, n_faces: int, n_brands: int) -> Draws:
        n_photos = len(source)
        brand_weights = np.arange(1, n_brands + 1, dtype=np.float64) ** -1.1
        brand_weights /= brand_weights.sum()
        object_weights = np.array(list(OBJECTS.values()))
        object_weights /= object_weights.sum()
        face_noise = rng.normal(0, 2.5, n_faces)
        face_draw = rng.random((n_faces, 2))
        face_xyw = rng.uniform((0, 0, 60), (3600, 2600, 500), (n_faces, 3)).round(2)
        face_confidence = rng.uniform(0.6, 0.99, n_faces).round(4)
        screenshot = source == "screenshot"
        texts = rng.poisson(np.where(screenshot, 8.0, 1.2))
        brands = rng.poisson(np.where(screenshot, 0.8, 0.55))
        objects = np.where(screenshot, 0, rng.poisson(2.0, n_photos))
        text_at = np.concatenate([[0], np.cumsum(texts)])
        brand_at = np.concatenate([[0], np.cumsum(brands)])
        object_at = np.concatenate([[0], np.cumsum(objects)])
        return cls(
            face_noise=face_noise,
            face_draw=face_draw,
            face_xyw=face_xyw,
            face_confidence=face_confidence,
            text_at=text_at,
            brand_at=brand_at,
            object_at=object_at,
            text_words=rng.integers(0, len(WORDS), (int(text_at[-1]), 3)),
            text_xy=rng.uniform((0, 0), (3000, 2000), (int(text_at[-1]), 2)).round(1),
            brand_pick=rng.choice(n_brands, int(brand_at[-1]), p=brand_weights),
            brand_via=rng.choice(["text", "logo", "code"], int(brand_at[-1]), p=[0.85, 0.1, 0.05]),
            object_pick=rng.choice(len(OBJECTS), int(object_at[-1]), p=object_weights),
            photo_draw=rng.random((n_photos, 6)),
            photo_gaps=rng.exponential(4.0, n_photos),
        )


@dataclass
class Plan:
    """What the build decided before any row is written."""

    rng: np.random.Generator  # still drawn from for GPS, photo by photo
    people: People
    identities: int
    events: list[Event]
    photo_event: Any  # the event of each photo, sorted
    source: Any  # camera, screenshot or download
    bounds: Any  # the faces of photo i are face ids bounds[i] + 1 .. bounds[i + 1]
    labels: Any  # the identity of each face, in face id order
    vectors: Any
    brands: list[tuple[str, str, str]]
    draws: Draws
    first: datetime
    analysed: str
    context: Any  # ExposureContext: the profile the daemon had when it scored the photos
    points: Any


@dataclass
class Taken:
    """When, where and with what a photo was taken, as far as its metadata says."""

    taken_at: str | None = None
    taken_utc: str | None = None
    lat: float | None = None
    lon: float | None = None
    city: str | None = None
    admin: str | None = None
    country: str | None = None
    make: str | None = None
    model: str | None = None


def add_photos(rows: IndexRows, plan: Plan) -> None:
    """Every photo's rows, in photo id order; photos of one event a few minutes apart."""
    event_minutes = 0.0
    for index in range(len(plan.source)):
        if index == 0 or plan.photo_event[index] != plan.photo_event[index - 1]:
            event_minutes = 0.0
        event_minutes += float(plan.draws.photo_gaps[index])
        event = plan.events[int(plan.photo_event[index])]
        local = (event.start + timedelta(minutes=event_minutes)).replace(microsecond=0)
        _add_photo(rows, plan, index + 1, event, local)


def _add_photo(rows: IndexRows, plan: Plan, photo_id: int, event: Event, local: datetime) -> None:
    from shadowlens.daemon.profile.exposure import score
    from shadowlens.daemon.profile.facts import PhotoCore, installed_hooks, photo_facts

    index = photo_id - 1
    kind = str(plan.source[index])
    draw = plan.draws.photo_draw[index]
    day_index = (local - plan.first).days
    taken = _metadata(rows, plan.rng, photo_id, event, local, kind, draw, day_index)
    _faces(rows, plan, photo_id, day_index)
    add_content(rows, plan.draws, plan.brands, photo_id, kind, draw)
    # The score the daemon stored when it indexed the photo, from the findings through the hooks.
    core = PhotoCore(lat=taken.lat, lon=taken.lon, city=taken.city, country_code=taken.country)
    facts = photo_facts(photo_id, "", core, rows.current, installed_hooks())
    rows.current = []
    exposure, reasons = score(facts, plan.context, plan.points)
    _stored(rows, plan, photo_id, local, kind, draw, taken, exposure, [r.as_dict() for r in reasons])


def _metadata(
    rows: IndexRows,
    rng: np.random.Generator,
    photo_id: int,
    event: Event,
    local: datetime,
    kind: str,
    draw: Any,
    day_index: int,
) -> Taken:
    taken = Taken()
    if kind == "screenshot" or (kind == "download" and draw[0] < 0.5):
        taken.taken_at = local.isoformat()  # from the file name: no offset
        attrs = {"source": "filename", "offset": None, "utc": None, "note": None}
        rows.finding(photo_id, "time", taken.taken_at, attrs, "metadata")
    elif kind == "camera":
        offset = event.utc_offset + dst(local)
        aware = local.replace(tzinfo=timezone(timedelta(hours=offset)))
        taken.taken_at, taken.taken_utc = aware.isoformat(), aware.astimezone(UTC).isoformat()
        attrs = {
            "source": "DateTimeOriginal",
            "offset": aware.strftime("%z"),
            "utc": taken.taken_utc,
            "note": None,
            "offset_source": "OffsetTimeOriginal",
        }
        rows.finding(photo_id, "time", taken.taken_at, attrs, "metadata")
        make, model, software = device(float(draw[1]), day_index)
        taken.make, taken.model = make, model
        label = model if model.lower().startswith(make.lower()) else f"{make} {model}"
        device_attrs = {"make": make, "model": model, "lens": None, "software": software}
        device_attrs.update(body_serial=None, lens_serial=None)
        rows.finding(photo_id, "device", label, device_attrs, "metadata")
        if make != "Canon" and draw[2] < 0.66:
            lat, lon = jitter(rng, event.where[3], event.where[4], event.scatter_m)
            city, admin, country = event.where[:3]
            taken.lat, taken.lon, taken.city, taken.admin, taken.country = lat, lon, city, admin, country
            gps: dict[str, Any] = {"lat": lat, "lon": lon, "altitude_m": 170.0, "direction_deg": 90.0}
            gps.update(speed_kmh=0.0, gps_time_utc=taken.taken_utc)
            rows.finding(photo_id, "gps", f"{lat:.6f}, {lon:.6f}", gps, "metadata")
            place = {"city": city, "admin": admin, "country_code": country, "lat": lat, "lon": lon}
            place["distance_km"] = 1.234
            rows.finding(photo_id, "place", f"{city}, {admin}, {country}", place, "place")
    return taken


def _faces(rows: IndexRows, plan: Plan, photo_id: int, day_index: int) -> None:
    draws, people = plan.draws, plan.people
    for face in range(int(plan.bounds[photo_id - 1]), int(plan.bounds[photo_id])):
        who = int(plan.labels[face])
        age = max(0.5, round(float(people.base_age[who] + day_index / 365 + draws.face_noise[face]), 1))
        smiling = bool(draws.face_draw[face, 0] < people.smiles[who])
        expression = "happy" if smiling else EXPRESSIONS[int(draws.face_draw[face, 1] * len(EXPRESSIONS))]
        x, y, w = draws.face_xyw[face].tolist()
        box = [x, y, w, round(w * 1.2, 2)]
        marks = [[round(x + w * fx, 1), round(y + w * fy, 1)] for fx, fy in LANDMARKS]
        person = who + 1 if who < plan.identities else None
        attrs = {
            "age": age,
            "sex": "F" if people.female[who] else "M",
            "expression": {"label": expression, "probs": {expression: 0.81}, "method": "fer"},
            "smiling": smiling,
            "models": {"detector": "opencv-yunet-2023mar", "embedder": ENGINE},
            "landmarks": marks,
            "embedding_dim": DIM,
            "person_id": None,
        }
        confidence = float(draws.face_confidence[face])
        finding_id = rows.finding(
            photo_id, "face", "face", attrs, "faces", FACES_VERSION, confidence, box, person
        )
        vector = plan.vectors[face].tobytes()
        rows.faces.append((face + 1, photo_id, finding_id, ENGINE, DIM, vector, confidence, person))


def _stored(
    rows: IndexRows,
    plan: Plan,
    photo_id: int,
    local: datetime,
    kind: str,
    draw: Any,
    taken: Taken,
    exposure: int,
    reasons: list[dict[str, Any]],
) -> None:
    """The photos row and its files: a camera roll, screenshots, messenger downloads; 3% backed up."""
    png = kind == "screenshot"
    if kind == "camera":
        folder, file_name = f"{local:%Y}/{local:%Y-%m-%d}", f"IMG_{photo_id:06d}.JPG"
    elif png:
        folder, file_name = "Screenshots", f"Screenshot_{local:%Y%m%d-%H%M%S}_{photo_id}.png"
    else:
        folder, file_name = "WhatsApp", f"IMG-{local:%Y%m%d}-WA{photo_id:06d}.jpg"
    size = 200_000 + (photo_id * 7919) % (700_000 if png else 5_800_000)
    width, height = (1170, 2532) if png else (4032, 3024)
    sha = hashlib.sha256(photo_id.to_bytes(8, "little")).hexdigest()
    signature = "metadata=1;place=1;faces=" + FACES_VERSION + ";text=1;brands=1;objects=1"
    analysed = plan.analysed
    rows.photos.append(
        (
            *(photo_id, sha, size, "PNG" if png else "JPEG", width, height, "indexed", None, signature),
            *(taken.taken_at, taken.taken_utc, taken.lat, taken.lon, taken.city, taken.admin),
            *(taken.country, taken.make, taken.model, exposure, json_text(reasons), 0, analysed, None),
        )
    )
    mtime, path = int(local.timestamp() * 1e9), f"{USER}/{folder}/{file_name}"
    rows.files.append(
        (photo_id, path, photo_id, size, mtime, 10_000 + photo_id, 2049, "indexed", None, analysed, analysed)
    )
    if draw[0] > 0.97:  # a second copy of the same content
        copy = (len(plan.source) + photo_id, f"{USER}/Backup/{folder}/{file_name}", photo_id, size, mtime)
        rows.files.append((*copy, 900_000 + photo_id, 2049, "indexed", None, analysed, analysed))
