"""The profile at library scale: a synthetic index of 100,000 photos, 300,000 faces, ~1M findings.

The index is written straight into SQLite (schema from ``open_index``, rows by ``executemany`` in
one transaction), as if a full scan had filled it:

* photos over two years, one local ISO time each (offset included), taken in events of ~15
  photos: at home (evenings, nights, weekends), at work (weekday office hours), at ~50 other
  spots around town and on ~14 trips 100+ km away; ~60% carry GPS (and a place), ~92% a device;
* 3,000 identities with Zipf-like popularity (the owner in ~15,000 faces, the rarest in ~20),
  90% of the faces; the other 10% are strangers seen once, left unassigned. Embeddings are the
  geometry of ``rows_people`` (about 0.04 cosine apart within a person, 0.16 between persons);
  a persons row per identity with its face and photo counts, a few named by the user;
* brands from ~50 of ``daemon/data/brands.toml`` (3 per category, Zipf popularity), objects,
  OCR lines, scenes, personal data and codes; exposure scores already set with the daemon's own
  ``score``, and a stored profile that knows home, the owner and the children, as a running
  daemon would have.

Rows (in this order; each uses the one ``ProfileUpdater``, ``load()``-ed once, as the daemon does):

* ``profile.incremental_update_ms``: one new photo (3 faces of known persons, a brand, GPS)
  inserted with sqlite3, then ``photo_indexed`` timed; median of 30 photos. Goal: < 100 ms.
* ``profile.refresh_s``: ``refresh(force=True)``: every fact loaded, profile built, every photo
  rescored.
* ``profile.recluster_s``: ``recluster()`` of every face, persons written back (and reloaded).
* ``profile.load_s``: ``load()``: every embedding read into memory; median of 3.

``--quick``: 10,000 photos, 300 identities, 30,000 faces; 10 new photos; one load.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import sqlite3
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
from harness import Context, Measurement, median, row, spread

ENGINE, DIM = "dlib-resnet-128", 128
WITHIN, BETWEEN = 0.04, 0.16  # cosine distances within one person and between two (rows_people)
ASSIGNED_SHARE = 0.9  # faces of the identities; the rest are strangers seen once
ZIPF = 0.8  # identity popularity ~ rank ** -ZIPF
MIN_FACES = 5
PHOTOS_PER_EVENT = 15
DAYS = 730
GOAL_MS = 100.0
NEW_PHOTOS, QUICK_NEW_PHOTOS = 30, 10
LOADS, QUICK_LOADS = 3, 1
BIG_PERSON = 3_000  # faces (600 with --quick): the owner, a partner, children
USER = "/home/alex/Pictures"

HOME = ("Lyon", "Auvergne-Rhône-Alpes", "FR", 45.76405, 4.83566)
WORK = ("Villeurbanne", "Auvergne-Rhône-Alpes", "FR", 45.77132, 4.89017)
TOWNS = [  # where the other spots are: (city, lat, lon), all within ~15 km of home
    ("Lyon", 45.7578, 4.8320),
    ("Lyon", 45.7676, 4.8344),
    ("Lyon", 45.7485, 4.8467),
    ("Villeurbanne", 45.7667, 4.8803),
    ("Caluire-et-Cuire", 45.7953, 4.8464),
    ("Vénissieux", 45.6973, 4.8859),
    ("Bron", 45.7386, 4.9131),
    ("Écully", 45.7744, 4.7775),
    ("Oullins", 45.7146, 4.8078),
    ("Vaulx-en-Velin", 45.7786, 4.9225),
    ("Sainte-Foy-lès-Lyon", 45.7336, 4.8025),
]
TRIPS = [  # (city, admin, country, lat, lon, standard UTC offset in hours)
    ("Paris", "Île-de-France", "FR", 48.8566, 2.3522, 1),
    ("Marseille", "Provence-Alpes-Côte d'Azur", "FR", 43.2965, 5.3698, 1),
    ("Barcelona", "Catalonia", "ES", 41.3874, 2.1686, 1),
    ("Rome", "Lazio", "IT", 41.9028, 12.4964, 1),
    ("London", "England", "GB", 51.5072, -0.1276, 0),
    ("Lisbon", "Lisbon", "PT", 38.7223, -9.1393, 0),
    ("Berlin", "Berlin", "DE", 52.5200, 13.4050, 1),
    ("Amsterdam", "North Holland", "NL", 52.3676, 4.9041, 1),
    ("Nice", "Provence-Alpes-Côte d'Azur", "FR", 43.7102, 7.2620, 1),
    ("Athens", "Attica", "GR", 37.9838, 23.7275, 2),
    ("New York City", "New York", "US", 40.7128, -74.0060, -5),
    ("Annecy", "Auvergne-Rhône-Alpes", "FR", 45.8992, 6.1294, 1),
    ("Geneva", "Geneva", "CH", 46.2044, 6.1432, 1),
    ("Bordeaux", "Nouvelle-Aquitaine", "FR", 44.8378, -0.5792, 1),
]
OBJECTS = {  # COCO labels and their weights among detected objects
    "person": 30,
    "cup": 6,
    "bottle": 6,
    "chair": 6,
    "dining table": 5,
    "car": 5,
    "cell phone": 4,
    "potted plant": 3,
    "dog": 3,
    "laptop": 2,
    "tv": 2,
    "book": 2,
    "couch": 2,
    "handbag": 2,
    "bicycle": 2,
    "wine glass": 2,
    "bed": 1,
    "backpack": 1,
    "umbrella": 1,
    "clock": 1,
    "cake": 1,
    "pizza": 1,
    "sports ball": 1,
    "donut": 0.5,
    "hot dog": 0.3,
    "teddy bear": 1,
}
WORDS = ("sale", "open", "daily", "menu", "exit", "welcome", "coffee", "station", "street", "total", "price")
EXPRESSIONS = ("neutral", "surprise", "sad", "angry", "fear", "disgust")
NAMES = ("Alex", "Sam", "Léa", "Tom", "Maman", "Papa", "Julie", "Hugo")
FACES_VERSION = "1+opencv-yunet-2023mar+dlib-resnet-128+insightface-genderage+fer-mobilenet"


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


@dataclass
class Live:
    """The daemon's side: one Store and one ProfileUpdater on the built index."""

    store: Any  # Store
    updater: Any  # ProfileUpdater
    first_load_s: float


def _unit(rows: Any) -> Any:
    return (rows / np.linalg.norm(rows, axis=-1, keepdims=True)).astype(np.float32)


def _noise_scale() -> float:
    # Per-axis noise s puts two faces of one person d*s^2 / (1 + d*s^2) = WITHIN apart.
    return float(np.sqrt(WITHIN / (1 - WITHIN) / DIM))


def _pick_brands() -> list[tuple[str, str, str]]:
    """~50 brands of the lexicon: the first three of each category, in file order."""
    import tomllib

    import shadowlens.daemon

    lexicon = Path(shadowlens.daemon.__file__).parent / "data" / "brands.toml"
    by_category: dict[str, list[tuple[str, str, str]]] = defaultdict(list)
    for brand in tomllib.loads(lexicon.read_text(encoding="utf-8"))["brand"]:
        by_category[brand["category"]].append((brand["name"], brand["category"], brand["parent"]))
    picked = [
        b for rank in range(3) for group in by_category.values() if rank < len(group) for b in [group[rank]]
    ]
    return picked[:50]


# -- the people ---------------------------------------------------------------------------------


@dataclass
class People:
    labels: Any  # identity per face, strangers numbered from n_identities on
    vectors: Any  # float32 unit rows, one per face
    centres: Any  # identity centres (strangers excluded)
    popularity: Any
    base_age: Any  # age of each identity (and stranger) at the first day
    female: Any
    smiles: Any  # how often each identity smiles


def _people(rng: np.random.Generator, identities: int, faces: int) -> People:
    assigned = round(faces * ASSIGNED_SHARE)
    strangers = faces - assigned
    popularity = np.arange(1, identities + 1, dtype=np.float64) ** -ZIPF
    popularity /= popularity.sum()
    sizes = np.maximum(MIN_FACES, np.floor(popularity * assigned).astype(np.int64))
    sizes[0] += assigned - sizes.sum()  # the owner takes the rounding
    common = _unit(rng.standard_normal(DIM))
    spread_ = np.sqrt(BETWEEN / (1 - BETWEEN))
    centres = _unit(common + spread_ * _unit(rng.standard_normal((identities + strangers, DIM))))
    labels = np.concatenate([np.repeat(np.arange(identities), sizes), identities + np.arange(strangers)])
    noise = np.float32(_noise_scale())
    vectors = _unit(centres[labels] + noise * rng.standard_normal((faces, DIM), dtype=np.float32))
    everyone = identities + strangers
    base_age = rng.uniform(16, 75, everyone)
    children = rng.random(everyone) < 0.05
    base_age[children] = rng.uniform(1, 10, int(children.sum()))
    base_age[:4] = (34.0, 33.0, 6.0, 3.0)  # the owner, a partner and two children
    return People(
        labels=labels,
        vectors=vectors,
        centres=centres[:identities],
        popularity=popularity,
        base_age=base_age,
        female=rng.random(everyone) < 0.5,
        smiles=rng.uniform(0.3, 0.75, everyone),
    )


# -- the photos -----------------------------------------------------------------------------------


@dataclass
class Event:
    kind: str  # home, work, spot, trip
    start: datetime  # local, naive
    where: tuple[str, str, str, float, float]  # city, admin, country, lat, lon
    scatter_m: float
    utc_offset: int  # standard time; summer adds one hour in Europe and the US


def _dst(moment: datetime) -> int:
    return 1 if 4 <= moment.month <= 10 else 0


def _events(rng: np.random.Generator, count: int, first: datetime) -> list[Event]:
    spots = []
    for _ in range(50):
        city, lat, lon = TOWNS[int(rng.integers(len(TOWNS)))]
        d_lat, d_lon = rng.normal(0, 0.012, 2)
        spots.append((city, HOME[1], "FR", lat + d_lat, lon + d_lon))
    spot_weights = np.arange(1, 51, dtype=np.float64) ** -1.0
    spot_weights /= spot_weights.sum()
    slot = DAYS // len(TRIPS)
    trips = [
        (TRIPS[i], i * slot + int(rng.integers(0, slot - 12)), int(rng.integers(3, 11)))
        for i in rng.permutation(len(TRIPS)).tolist()
    ]
    events = []
    kinds = rng.choice(["home", "work", "spot", "trip"], count, p=[0.4, 0.15, 0.3, 0.15])
    for kind in kinds.tolist():
        day = first + timedelta(days=int(rng.integers(DAYS)))
        offset = 1
        if kind == "home":
            where, scatter = HOME, 12.0
            weekend = day.weekday() >= 5
            hour = int(rng.integers(9, 23)) if weekend else int(rng.integers(18, 24))
            if rng.random() < 0.06:
                hour = int(rng.integers(0, 4))  # up late
        elif kind == "work":
            while day.weekday() >= 5:
                day -= timedelta(days=1)
            where, scatter, hour = WORK, 15.0, int(rng.integers(9, 17))
        elif kind == "spot":
            where, scatter = spots[int(rng.choice(50, p=spot_weights))], 25.0
            hour = int(rng.integers(10, 22))
        else:
            (city, admin, country, lat, lon, offset), start, days = trips[int(rng.integers(len(trips)))]
            day = first + timedelta(days=start + int(rng.integers(days)))
            d_lat, d_lon = rng.normal(0, 0.02, 2)
            where, scatter, hour = (
                (city, admin, country, lat + d_lat, lon + d_lon),
                40.0,
                int(rng.integers(8, 22)),
            )
        start_at = day.replace(hour=hour, minute=int(rng.integers(60)), second=int(rng.integers(60)))
        events.append(Event(kind, start_at, where, scatter, offset))
    return events


def _jitter(rng: np.random.Generator, lat: float, lon: float, metres: float) -> tuple[float, float]:
    d_north, d_east = rng.normal(0, metres, 2)
    return (
        round(lat + d_north / 111_320.0, 6),
        round(lon + d_east / (111_320.0 * math.cos(math.radians(lat))), 6),
    )


def _device(draw: float, day_index: int) -> tuple[str, str, str]:
    """(make, model, software) of a phone photo: the owner's phone changed after a year."""
    if draw < 0.09:
        return "samsung", "SM-S911B", "S911BXXU3BWK5"
    if draw < 0.12:
        return "Canon", "Canon EOS R6", "Firmware Version 1.8.1"
    if day_index < DAYS // 2:
        return "Apple", "iPhone 12", "17.5.1"
    return "Apple", "iPhone 15 Pro", "18.1"


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f")


class _Rows:
    """Accumulates the rows of every table, with ids assigned here."""

    def __init__(self) -> None:
        self.photos: list[tuple[Any, ...]] = []
        self.files: list[tuple[Any, ...]] = []
        self.findings: list[tuple[Any, ...]] = []
        self.faces: list[tuple[Any, ...]] = []
        self.next_finding = 1

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
    ) -> int:
        finding_id = self.next_finding
        self.next_finding += 1
        box = _json(bbox) if bbox is not None else "null"
        self.findings.append(
            (finding_id, photo_id, kind, label, confidence, box, _json(attrs), detector, version)
        )
        return finding_id


def _build(path: Path, quick: bool) -> Built:
    from shadowlens.daemon.config import Config
    from shadowlens.daemon.index.db import open_index
    from shadowlens.daemon.profile.exposure import ExposureContext, score
    from shadowlens.daemon.profile.facts import BrandHit, FaceFact, PhotoFacts

    started = time.perf_counter()
    open_index(path).dispose()
    rng = np.random.default_rng(2025)
    n_photos = 10_000 if quick else 100_000
    n_identities = 300 if quick else 3_000
    n_faces = 30_000 if quick else 300_000
    people = _people(rng, n_identities, n_faces)
    brands = _pick_brands()
    brand_weights = np.arange(1, len(brands) + 1, dtype=np.float64) ** -1.1
    brand_weights /= brand_weights.sum()
    object_names = list(OBJECTS)
    object_weights = np.array(list(OBJECTS.values()))
    object_weights /= object_weights.sum()

    end = datetime.now().replace(microsecond=0) - timedelta(days=1)
    first = (end - timedelta(days=DAYS)).replace(hour=0, minute=0, second=0)
    events = _events(rng, max(1, n_photos // PHOTOS_PER_EVENT), first)
    photo_event = np.sort(rng.integers(0, len(events), n_photos))
    # 92% phone photos, 5% screenshots, 3% downloads (messengers strip GPS, often the time too)
    source = rng.choice(["camera", "screenshot", "download"], n_photos, p=[0.92, 0.05, 0.03])
    with_faces = np.flatnonzero(source != "screenshot")
    with_faces = rng.choice(with_faces, min(len(with_faces), round(0.7 * n_photos)), replace=False)
    face_photo = rng.choice(with_faces, n_faces)
    order = np.argsort(face_photo, kind="stable")  # face id i + 1 is order[i]
    face_photo, labels = face_photo[order], people.labels[order]
    vectors = people.vectors[order]
    bounds = np.searchsorted(face_photo, np.arange(n_photos + 1))
    truth = np.where(labels < n_identities, labels, -1).astype(np.int64)
    identity_faces = np.flatnonzero(truth >= 0)
    _, first_of = np.unique(truth[identity_faces], return_index=True)
    sample_face = identity_faces[first_of] + 1  # face id of each identity's first face

    points = Config().alerts.points
    children = frozenset(i + 1 for i in range(n_identities) if _is_child(people, i))
    context = ExposureContext(home=(HOME[3], HOME[4]), owner=1, child_persons=children)
    # Drawn for all photos and faces at once: one numpy call per value would take longer than SQLite.
    face_noise = rng.normal(0, 2.5, n_faces)
    face_draw = rng.random((n_faces, 2))
    face_xyw = rng.uniform((0, 0, 60), (3600, 2600, 500), (n_faces, 3)).round(2)
    face_confidence = rng.uniform(0.6, 0.99, n_faces).round(4)
    screenshot = source == "screenshot"
    n_texts = rng.poisson(np.where(screenshot, 8.0, 1.2))
    n_brands = rng.poisson(np.where(screenshot, 0.8, 0.55))
    n_objects = np.where(screenshot, 0, rng.poisson(2.0, n_photos))
    text_at = np.concatenate([[0], np.cumsum(n_texts)])
    brand_at = np.concatenate([[0], np.cumsum(n_brands)])
    object_at = np.concatenate([[0], np.cumsum(n_objects)])
    text_words = rng.integers(0, len(WORDS), (int(text_at[-1]), 3))
    text_xy = rng.uniform((0, 0), (3000, 2000), (int(text_at[-1]), 2)).round(1)
    brand_pick = rng.choice(len(brands), int(brand_at[-1]), p=brand_weights)
    brand_via = rng.choice(["text", "logo", "code"], int(brand_at[-1]), p=[0.85, 0.1, 0.05])
    object_pick = rng.choice(len(object_names), int(object_at[-1]), p=object_weights)
    photo_draw = rng.random((n_photos, 6))
    photo_gaps = rng.exponential(4.0, n_photos)
    rows = _Rows()
    analysed = _stamp(end)
    event_minutes = 0.0
    for index in range(n_photos):
        photo_id = index + 1
        event = events[int(photo_event[index])]
        if index == 0 or photo_event[index] != photo_event[index - 1]:
            event_minutes = 0.0
        event_minutes += float(photo_gaps[index])
        local = (event.start + timedelta(minutes=event_minutes)).replace(microsecond=0)
        kind = str(source[index])
        draw = photo_draw[index]
        day_index = (local - first).days
        taken_at = taken_utc = None
        lat = lon = None
        city = admin = country = None
        make = model = None
        facts_faces: list[Any] = []
        facts_brands: list[Any] = []
        objects: list[str] = []
        scenes: list[str] = []
        pii: list[str] = []
        codes: list[str] = []
        if kind == "screenshot" or (kind == "download" and draw[0] < 0.5):
            taken_at = local.isoformat()  # from the file name: no offset
            attrs = {"source": "filename", "offset": None, "utc": None, "note": None}
            rows.finding(photo_id, "time", taken_at, attrs, "metadata")
        elif kind == "camera":
            offset = event.utc_offset + _dst(local)
            aware = local.replace(tzinfo=timezone(timedelta(hours=offset)))
            taken_at, taken_utc = aware.isoformat(), aware.astimezone(UTC).isoformat()
            attrs = {
                "source": "DateTimeOriginal",
                "offset": aware.strftime("%z"),
                "utc": taken_utc,
                "note": None,
                "offset_source": "OffsetTimeOriginal",
            }
            rows.finding(photo_id, "time", taken_at, attrs, "metadata")
            make, model, software = _device(float(draw[1]), day_index)
            label = model if model.lower().startswith(make.lower()) else f"{make} {model}"
            device_attrs = {"make": make, "model": model, "lens": None, "software": software}
            device_attrs.update(body_serial=None, lens_serial=None)
            rows.finding(photo_id, "device", label, device_attrs, "metadata")
            if make != "Canon" and draw[2] < 0.66:
                lat, lon = _jitter(rng, event.where[3], event.where[4], event.scatter_m)
                city, admin, country = event.where[:3]
                gps = {"lat": lat, "lon": lon, "altitude_m": 170.0, "direction_deg": 90.0}
                gps.update(speed_kmh=0.0, gps_time_utc=taken_utc)
                rows.finding(photo_id, "gps", f"{lat:.6f}, {lon:.6f}", gps, "metadata")
                place = {"city": city, "admin": admin, "country_code": country, "lat": lat, "lon": lon}
                place["distance_km"] = 1.234
                rows.finding(photo_id, "place", f"{city}, {admin}, {country}", place, "place")
        for face in range(int(bounds[index]), int(bounds[index + 1])):
            who = int(labels[face])
            age = max(0.5, round(float(people.base_age[who] + day_index / 365 + face_noise[face]), 1))
            smiling = bool(face_draw[face, 0] < people.smiles[who])
            expression = "happy" if smiling else EXPRESSIONS[int(face_draw[face, 1] * len(EXPRESSIONS))]
            x, y, w = face_xyw[face].tolist()
            box = [x, y, w, round(w * 1.2, 2)]
            marks = [[round(x + w * fx, 1), round(y + w * fy, 1)] for fx, fy in _LANDMARKS]
            person = who + 1 if who < n_identities else None
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
            confidence = float(face_confidence[face])
            finding_id = rows.finding(
                photo_id, "face", "face", attrs, "faces", FACES_VERSION, confidence, box
            )
            rows.faces.append((face + 1, photo_id, finding_id, ENGINE, DIM, vectors[face].tobytes(), person))
            facts_faces.append(FaceFact(face + 1, person, age, smiling, expression))
        for t in range(int(text_at[index]), int(text_at[index + 1])):
            words = " ".join(WORDS[i] for i in text_words[t].tolist())
            x, y = text_xy[t].tolist()
            polygon = [[x, y], [x + 300, y], [x + 300, y + 40], [x, y + 40]]
            rows.finding(
                photo_id, "text", words, {"polygon": polygon}, "text", "1+ppocr-v4", 0.9, [x, y, 300, 40]
            )
        for b in range(int(brand_at[index]), int(brand_at[index + 1])):
            name, category, parent = brands[int(brand_pick[b])]
            via = str(brand_via[b])
            attrs = {"category": category, "parent": parent, "via": via, "matched": name, "score": 0.95}
            rows.finding(photo_id, "brand", name, attrs, "brands", "1", 0.9)
            facts_brands.append(BrandHit(name, category, parent, via))
        for o in range(int(object_at[index]), int(object_at[index + 1])):
            label = object_names[int(object_pick[o])]
            rows.finding(photo_id, "object", label, {"model": "yolov8n"}, "objects", "1+yolov8n", 0.7)
            objects.append(label)
        if kind == "screenshot" and draw[3] < 0.9:
            scenes.append("screenshot")
        elif kind == "camera" and draw[3] < 0.02:
            scenes.append("document")
        elif kind == "camera" and draw[3] < 0.022:
            scenes.append("id_card")
        for label in scenes:
            rows.finding(photo_id, "scene", label, {"evidence": ["lines"]}, "scene", "1", 0.8)
        if draw[4] < (0.2 if kind == "screenshot" else 0.01):
            label = ("email", "phone", "address", "card", "iban")[int(draw[4] * 1000) % 5]
            attrs = {"value": "***", "masked": "***", "details": {}}
            rows.finding(photo_id, "pii", label, attrs, "pii", "1", 0.9)
            pii.append(label)
        if draw[5] < 0.005:
            payload = ("url", "wifi", "product", "boarding_pass")[int(draw[5] * 10_000) % 4]
            attrs = {"payload_type": payload, "payload": "***", "details": {}}
            rows.finding(photo_id, "code", "QRCODE", attrs, "codes", "1", 1.0)
            codes.append(payload)
        # The score the daemon stored when it indexed the photo.
        facts = PhotoFacts(
            photo_id=photo_id,
            path="",
            taken_at=None,
            lat=lat,
            lon=lon,
            city=city,
            country_code=country,
            faces=tuple(facts_faces),
            brands=tuple(facts_brands),
            objects=tuple(objects),
            scenes=tuple(scenes),
            pii=tuple(pii),
            codes=tuple(codes),
        )
        exposure, reasons = score(facts, context, points)
        png = kind == "screenshot"
        if kind == "camera":
            folder, file_name = f"{local:%Y}/{local:%Y-%m-%d}", f"IMG_{photo_id:06d}.JPG"
        elif png:
            folder, file_name = "Screenshots", f"Screenshot_{local:%Y%m%d-%H%M%S}_{photo_id}.png"
        else:
            folder, file_name = "WhatsApp", f"IMG-{local:%Y%m%d}-WA{photo_id:06d}.jpg"
        size = 200_000 + (photo_id * 7919) % (700_000 if png else 5_800_000)
        width, height = (1170, 2532) if png else (4032, 3024)
        rows.photos.append(
            (
                photo_id,
                hashlib.sha256(photo_id.to_bytes(8, "little")).hexdigest(),
                size,
                "PNG" if png else "JPEG",
                width,
                height,
                "indexed",
                None,
                "metadata=1;place=1;faces=" + FACES_VERSION + ";text=1;brands=1;objects=1",
                taken_at,
                taken_utc,
                lat,
                lon,
                city,
                admin,
                country,
                make,
                model,
                exposure,
                _json([r.as_dict() for r in reasons]),
                0,
                analysed,
                None,
            )
        )
        mtime = int(local.timestamp() * 1e9)
        path_ = f"{USER}/{folder}/{file_name}"
        rows.files.append(
            (
                photo_id,
                path_,
                photo_id,
                size,
                mtime,
                10_000 + photo_id,
                2049,
                "indexed",
                None,
                analysed,
                analysed,
            )
        )
        if draw[0] > 0.97:  # a second copy of the same content
            copy = (n_photos + photo_id, f"{USER}/Backup/{folder}/{file_name}", photo_id, size, mtime)
            rows.files.append((*copy, 900_000 + photo_id, 2049, "indexed", None, analysed, analysed))

    persons = _persons(truth, face_photo, rows, children, n_identities, analysed)
    snapshot = {
        "built_at": analysed[:19].replace(" ", "T"),
        "photo_count": n_photos,
        "owner": {"person_id": 1, "name": NAMES[0], "photo_count": persons[0][7], "source": "most photos"},
        "home": {"lat": HOME[3], "lon": HOME[4]},
        "child_persons": sorted(children),
        "adult_persons": [],
    }
    _insert(path, rows, persons, snapshot, analysed)
    return Built(
        path=path,
        photos=n_photos,
        faces=n_faces,
        findings=len(rows.findings),
        persons=len(persons),
        seconds=time.perf_counter() - started,
        centres=people.centres,
        popularity=people.popularity,
        sample_face=sample_face,
        truth=truth,
        brands=brands,
        end=end,
    )


_LANDMARKS = ((0.3, 0.4), (0.7, 0.4), (0.5, 0.6), (0.35, 0.8), (0.65, 0.8))


def _is_child(people: People, identity: int) -> bool:
    return bool(people.base_age[identity] + DAYS / 365 / 2 < 13)  # at the middle of the two years


def _persons(
    truth: Any, face_photo: Any, rows: _Rows, children: frozenset[int], identities: int, stamp: str
) -> list[tuple[Any, ...]]:
    """One persons row per identity, with the counts, child flag and cover face the daemon keeps."""
    assigned = truth >= 0
    span = int(face_photo.max()) + 1
    face_count = np.bincount(truth[assigned], minlength=identities)
    pairs = np.unique(truth[assigned] * span + face_photo[assigned])
    photo_count = np.bincount(pairs // span, minlength=identities)
    confidence = {f[0]: f[4] for f in rows.findings if f[2] == "face"}
    cover: dict[int, tuple[float, int]] = {}
    for face_id, _photo, finding_id, *_rest, person in rows.faces:
        if person is not None:
            best = (confidence[finding_id], face_id)
            cover[person] = max(cover.get(person, best), best)
    result = []
    for i in range(identities):
        person = i + 1
        name = NAMES[i] if i < len(NAMES) else None
        counts = (int(face_count[i]), int(photo_count[i]), cover[person][1])
        result.append((person, ENGINE, name, None, int(person in children), None, *counts, stamp, stamp))
    return result


def _insert(
    path: Path,
    rows: _Rows,
    persons: list[tuple[Any, ...]],
    snapshot: dict[str, Any],
    stamp: str,
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
            "INSERT INTO faces (id, photo_id, finding_id, engine, dim, embedding, person_id) "
            "VALUES (?,?,?,?,?,?,?)",
            rows.faces,
        )
        con.executemany(
            "INSERT INTO persons (id, engine, name, is_owner, is_child, child_override, face_count, "
            "photo_count, cover_face_id, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            persons,
        )
        con.execute(
            "INSERT INTO daemon_state (key, value, updated_at) VALUES ('profile', ?, ?)",
            (_json(snapshot), stamp),
        )
        con.execute("COMMIT")
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        con.close()


# -- shared state ---------------------------------------------------------------------------------


def _built(ctx: Context) -> Built:
    return ctx.memo("profile.index", lambda: _build(ctx.tempdir("profile-index") / "index.db", ctx.quick))


def _live(ctx: Context) -> Live:
    def start() -> Live:
        from shadowlens.daemon.config import Config
        from shadowlens.daemon.index.writer import Store
        from shadowlens.daemon.profile.updater import ProfileUpdater

        built = _built(ctx)
        store = Store.open(built.path)
        updater = ProfileUpdater(store, Config())
        started = time.perf_counter()
        updater.load()
        return Live(store, updater, time.perf_counter() - started)

    return ctx.memo("profile.live", start)


def _quiet() -> tuple[logging.Logger, int]:
    """The updater logs a warning per alert; thirty of them would bury the table."""
    logger = logging.getLogger("shadowlens.daemon.profile.updater")
    level = logger.level
    logger.setLevel(logging.ERROR)
    return logger, level


# -- rows -----------------------------------------------------------------------------------------


def _add_photo(
    con: sqlite3.Connection, built: Built, rng: np.random.Generator, who: list[int], n: int
) -> int:
    """One photo as the writer would store it: file, metadata, 3 faces with embeddings, a brand."""
    local = built.end + timedelta(hours=20, minutes=n)
    aware = local.replace(tzinfo=timezone(timedelta(hours=1 + _dst(local))))
    taken_at, taken_utc = aware.isoformat(), aware.astimezone(UTC).isoformat()
    base = HOME if n % 2 == 0 else ("Villeurbanne", HOME[1], "FR", 45.7667, 4.8803)
    lat, lon = _jitter(rng, base[3], base[4], 12.0)
    stamp = _stamp(datetime.now())
    sha = hashlib.sha256(f"new-{n}-{time.time_ns()}".encode()).hexdigest()
    device, state = ("Apple", "iPhone 15 Pro", 0, stamp), ("indexed", stamp, stamp)
    cur = con.cursor()
    cur.execute(
        "INSERT INTO photos (sha256, size, format, width, height, status, signature, taken_at, taken_utc, "
        "lat, lon, city, admin, country_code, device_make, device_model, marked_safe, analysed_at) "
        "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
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
            (photo_id, kind, label, 0.9, _json(bbox), _json(attrs), detector, "1"),
        )
        return int(cur.lastrowid or 0)

    finding(
        "time",
        taken_at,
        {"source": "DateTimeOriginal", "offset": aware.strftime("%z"), "utc": taken_utc},
        "metadata",
    )
    finding("device", "iPhone 15 Pro", {"make": "Apple", "model": "iPhone 15 Pro"}, "metadata")
    finding("gps", f"{lat:.6f}, {lon:.6f}", {"lat": lat, "lon": lon}, "metadata")
    finding("place", f"{base[0]}, {base[1]}, FR", {"city": base[0], "country_code": "FR"}, "place")
    vectors = _unit(built.centres[who] + _noise_scale() * rng.standard_normal((len(who), DIM)))
    for k, vector in enumerate(vectors):
        attrs = {"age": 30.0, "sex": "F", "expression": {"label": "happy"}, "smiling": True}
        finding_id = finding("face", "face", attrs, "faces", [100.0 + 400 * k, 200.0, 300.0, 360.0])
        cur.execute(
            "INSERT INTO faces (photo_id, finding_id, engine, dim, embedding, person_id) VALUES (?,?,?,?,?,NULL)",
            (photo_id, finding_id, ENGINE, DIM, vector.astype(np.float32).tobytes()),
        )
    name, category, parent = built.brands[n % len(built.brands)]
    finding("brand", name, {"category": category, "parent": parent, "via": "text", "matched": name}, "brands")
    con.commit()
    return photo_id


@row("profile.incremental_update_ms", unit="ms")
def incremental_update_ms(ctx: Context) -> Measurement:
    built, live = _built(ctx), _live(ctx)
    rng = np.random.default_rng(11)
    photos = QUICK_NEW_PHOTOS if ctx.quick else NEW_PHOTOS
    big_person = BIG_PERSON // 5 if ctx.quick else BIG_PERSON
    samples: list[float] = []
    big: list[float] = []
    small: list[float] = []
    problems: list[str] = []
    alerts = 0
    logger, level = _quiet()
    con = sqlite3.connect(built.path)
    try:
        con.execute("PRAGMA busy_timeout = 10000")
        for n in range(photos):
            # Who is in a new photo follows the library: the owner and the regulars most often.
            who = [int(i) for i in rng.choice(len(built.centres), 3, replace=False, p=built.popularity)]
            photo_id = _add_photo(con, built, rng, who, n)
            started = time.perf_counter()
            raised = live.updater.photo_indexed(photo_id)
            samples.append((time.perf_counter() - started) * 1000)
            alerts += raised is not None
            got = [
                r[0]
                for r in con.execute(
                    "SELECT person_id FROM faces WHERE photo_id = ? ORDER BY id", (photo_id,)
                )
            ]
            want = [
                con.execute(
                    "SELECT person_id FROM faces WHERE id = ?", (int(built.sample_face[i]),)
                ).fetchone()[0]
                for i in who
            ]
            if got != want:
                problems.append(f"photo {photo_id}: persons {got}, expected {want}")
            # The persons a photo joins are recounted from all their faces: big ones cost more.
            marks = ",".join("?" * len(want))
            (largest,) = con.execute(
                f"SELECT max(face_count) FROM persons WHERE id IN ({marks})", want
            ).fetchone()
            (big if (largest or 0) >= big_person else small).append(samples[-1])
    finally:
        con.close()
        logger.setLevel(level)
    value = median(samples)
    verdict = "met" if value < GOAL_MS else "MISSED"
    notes = (
        f"{built.size}; 3 faces of known persons + brand + GPS per photo, {photos} photos, "
        f"{alerts} alerts raised; goal < {GOAL_MS:.0f} ms ({verdict}); median {_median_of(big)} of "
        f"{len(big)} photos with a person of >= {big_person:,} faces, {_median_of(small)} of the "
        f"{len(small)} others; ms sorted {spread(sorted(samples), '{:.0f}')}"
    )
    failed = None
    if problems:
        failed = f"{len(problems)} photos assigned wrongly, first: {problems[0]}"
    elif value >= GOAL_MS:
        failed = f"median {value:.0f} ms >= goal {GOAL_MS:.0f} ms"
    extra = {"ms": samples, "alerts": alerts, "ms_big_person": big, "ms_others": small}
    return Measurement(value, notes, extra=extra, check_failed=failed)


def _median_of(samples: list[float]) -> str:
    return f"{median(samples):.0f} ms" if samples else "-"


@row("profile.refresh_s", unit="s")
def refresh_s(ctx: Context) -> Measurement:
    from shadowlens.daemon.profile.places import distance_m

    built, live = _built(ctx), _live(ctx)
    started = time.perf_counter()
    snapshot = live.updater.refresh(force=True)
    seconds = time.perf_counter() - started
    assert snapshot is not None
    home = snapshot.get("home")
    off = distance_m(home["lat"], home["lon"], HOME[3], HOME[4]) if home else None
    places = snapshot["places"]
    trips = sum(1 for p in places if p["label"] == "trip")
    owner = (snapshot.get("owner") or {}).get("person_id")
    notes = (
        f"{built.size}; {snapshot['photo_count']:,} photos rescored; {len(places) - trips} places, "
        f"{trips} trips, {len(snapshot['brands'])} brands, {len(snapshot['segments'])} segments, "
        f"owner person {owner}, home {f'{off:.0f} m from the true one' if off is not None else 'not found'}"
    )
    failed = None
    if off is None or off > 200:
        failed = "the profile did not find the synthetic home"
    return Measurement(
        seconds, notes, extra={"places": len(places) - trips, "trips": trips}, check_failed=failed
    )


@row("profile.recluster_s", unit="s")
def recluster_s(ctx: Context) -> Measurement:
    from sklearn.metrics import adjusted_rand_score

    built, live = _built(ctx), _live(ctx)
    started = time.perf_counter()
    live.updater.recluster()
    seconds = time.perf_counter() - started
    con = sqlite3.connect(built.path)
    try:
        stored = con.execute(
            "SELECT id, person_id FROM faces WHERE id <= ? ORDER BY id", (built.faces,)
        ).fetchall()
        persons = con.execute("SELECT count(*) FROM persons").fetchone()[0]
    finally:
        con.close()
    ids = np.array([r[0] for r in stored], dtype=np.int64)
    found = np.array([-1 if r[1] is None else r[1] for r in stored], dtype=np.int64)
    truth = built.truth[ids - 1]
    # Faces left alone (and strangers) count as clusters of their own.
    found_own = np.where(found >= 0, found, found.max() + 1 + np.arange(len(found)))
    truth_own = np.where(truth >= 0, truth, -1 - np.arange(len(truth)))
    ari = float(adjusted_rand_score(truth_own, found_own))
    unassigned = int((found < 0).sum())
    notes = (
        f"{built.size}; {persons:,} persons after ({len(built.centres):,} identities), {unassigned:,} faces "
        f"unassigned; ARI {ari:.4f} against the identities; includes the reload of the matrix"
    )
    failed = None if ari >= 0.99 else f"ARI {ari:.4f} < 0.99 against the identities the faces came from"
    return Measurement(seconds, notes, extra={"ari": ari, "persons": persons}, check_failed=failed)


@row("profile.load_s", unit="s")
def load_s(ctx: Context) -> Measurement:
    built, live = _built(ctx), _live(ctx)
    samples = []
    for _ in range(QUICK_LOADS if ctx.quick else LOADS):
        started = time.perf_counter()
        live.updater.load()
        samples.append(time.perf_counter() - started)
    held = sum(len(m) for m in live.updater.matrices.values())
    notes = (
        f"{built.size}; {held:,} embeddings in memory; s {spread(samples)}; the first load (before the "
        f"other rows) took {live.first_load_s:.2f} s; index built in {built.seconds:.1f} s"
    )
    return Measurement(median(samples), notes, extra={"s": samples, "build_s": built.seconds})
