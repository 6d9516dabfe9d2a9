"""Expressions: the built mini-Xception through the faces detector, on 140 labelled faces.

The faces are ``../shared/samples/expressions`` (7 classes, 20 each; see its README). They are
face photos already, but run through the real faces detector with the built models as the only
extra search path (so HOG finds the faces, as on a machine with nothing fetched); where it finds
none (small, tight crops) the whole image is the face box. The samples are split by sorted file
name: even positions calibrate the smiling threshold, odd positions are held out. Each row's value
is the held-out half; the notes give the calibration half and the per-class accuracy.

Rows:

* ``expressions.accuracy``: the 7-class label (after the smiling rule). Goal from issue #14: >= 0.6.
* ``expressions.smiling_precision`` / ``.smiling_recall``: ``smiling`` against "labelled happy".
  Goal: precision >= 0.8.
* ``expressions.ms_per_face``: the expression model alone (crop, grey, resize, run) on one face,
  median over the faces, the model loaded.

Building the model is timed by ``models.build_s.fer-mini-xception`` (``rows_defaults.py``).
"""

from __future__ import annotations

import csv
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness import BUILT_MODELS, Context, Measurement, Skip, median, row, spread

GOAL_ACCURACY, GOAL_SMILING_PRECISION = 0.6, 0.8
MODEL_ID = "fer-mini-xception"
# The samples' label words -> the project's class names.
LABELS = {
    "anger": "angry",
    "disgust": "disgust",
    "fear": "fearful",
    "happiness": "happy",
    "sadness": "sad",
    "surprise": "surprised",
    "neutral": "neutral",
}


@dataclass
class Face:
    image: str
    truth: str
    label: str
    smiling: bool
    found_by_detector: bool


def samples_dir(ctx: Context) -> Path:
    folder = ctx.repo.parent / "shared" / "samples" / "expressions"
    if not (folder / "labels.csv").is_file():
        raise Skip(f"the labelled expression samples are missing: expected {folder}/labels.csv")
    return folder


def _evaluate(ctx: Context) -> dict[str, Any]:
    from shadowlens.daemon.analysis.decode import open_photo
    from shadowlens.daemon.api import FaceFinding, PhotoContext
    from shadowlens.daemon.config import Config
    from shadowlens.daemon.detectors.faces.detector import FacesDetector, FacesSettings
    from shadowlens.daemon.detectors.faces.types import FaceAttributes, RawFace
    from shadowlens.models.registry import Registry

    folder = samples_dir(ctx)
    registry = Registry(ctx.tempdir("expression-models"), [BUILT_MODELS])
    if not registry.available(MODEL_ID):
        raise Skip(f"{MODEL_ID} is not built in {BUILT_MODELS}: run `make models`")
    detector = FacesDetector(FacesSettings(embedder="off", agesex="off"), registry=registry)
    model = detector.roles["expression"].model
    assert detector.roles["expression"].model_id == MODEL_ID, detector.roles
    with open(folder / "labels.csv", newline="", encoding="utf-8") as handle:
        rows = sorted(csv.DictReader(handle), key=lambda r: r["image"])
    faces: list[Face] = []
    ms: list[float] = []
    for entry in rows:
        path = folder / "images" / entry["image"]
        decoded = open_photo(
            path, want_side=detector.needs.pixels, max_megapixels=Config().decode.max_megapixels
        )
        photo = PhotoContext(path=path, decoded=decoded)
        found = [f for f in detector.detect(photo) if isinstance(f, FaceFinding) and f.bbox]
        image, _ = photo.rgb(detector.options.long_side)
        box = RawFace(0.0, 0.0, float(image.shape[1]), float(image.shape[0]), 1.0)
        if found:
            biggest = max(found, key=lambda f: f.bbox[2] * f.bbox[3] if f.bbox else 0.0)
            assert biggest.expression is not None and biggest.smiling is not None
            label, smiling = str(biggest.expression["label"]), biggest.smiling
        else:
            attrs = [FaceAttributes()]
            with model.using():
                model.describe(image, [box], attrs)
            label, smiling = str(attrs[0].expression), bool(attrs[0].smiling)
        faces.append(Face(entry["image"], LABELS[entry["expression"]], label, smiling, bool(found)))
        with model.using():  # the model alone, on one face box, loaded
            started = time.perf_counter()
            model.describe(image, [box], [FaceAttributes()])
            ms.append((time.perf_counter() - started) * 1000)
    return {"faces": faces, "ms": ms}


def _halves(faces: list[Face]) -> dict[str, list[Face]]:
    return {"calibration": faces[0::2], "held-out": faces[1::2]}


def accuracy(faces: list[Face]) -> float:
    return sum(f.label == f.truth for f in faces) / len(faces)


def smiling_scores(faces: list[Face]) -> tuple[float, float]:
    """Precision and recall of ``smiling`` against the faces labelled happy."""
    hits = sum(f.smiling and f.truth == "happy" for f in faces)
    said = sum(f.smiling for f in faces)
    happy = sum(f.truth == "happy" for f in faces)
    return hits / max(said, 1), hits / max(happy, 1)


def per_class(faces: list[Face]) -> str:
    classes = sorted({f.truth for f in faces})
    return ", ".join(
        f"{c} {accuracy([f for f in faces if f.truth == c]):.2f}"
        for c in classes
        if any(f.truth == c for f in faces)
    )


def _faces(ctx: Context) -> list[Face]:
    faces: list[Face] = ctx.memo("expressions", lambda: _evaluate(ctx))["faces"]
    return faces


@row("expressions.accuracy", unit="fraction")
def expression_accuracy(ctx: Context) -> Measurement:
    faces = _faces(ctx)
    halves = _halves(faces)
    held = accuracy(halves["held-out"])
    notes = (
        f"held-out {held:.3f}, calibration {accuracy(halves['calibration']):.3f}, all {accuracy(faces):.3f}; "
        f"goal >= {GOAL_ACCURACY} ({'met' if held >= GOAL_ACCURACY else 'MISSED'}); "
        f"{sum(f.found_by_detector for f in faces)}/{len(faces)} faces found by the detector, "
        f"the rest whole-image crops; per class (held-out): {per_class(halves['held-out'])}; "
        f"per class (calibration): {per_class(halves['calibration'])}"
    )
    return Measurement(held, notes)


def _smiling_row(ctx: Context, which: int) -> Measurement:
    halves = _halves(_faces(ctx))
    held, calibration = smiling_scores(halves["held-out"]), smiling_scores(halves["calibration"])
    said = sum(f.smiling for f in halves["held-out"])
    notes = f"held-out {held[which]:.2f} ({said} faces said smiling), calibration {calibration[which]:.2f}"
    if which == 0:
        notes += (
            f"; goal >= {GOAL_SMILING_PRECISION} ({'met' if held[0] >= GOAL_SMILING_PRECISION else 'MISSED'})"
        )
    return Measurement(held[which], notes)


@row("expressions.smiling_precision", unit="fraction")
def smiling_precision(ctx: Context) -> Measurement:
    return _smiling_row(ctx, 0)


@row("expressions.smiling_recall", unit="fraction")
def smiling_recall(ctx: Context) -> Measurement:
    return _smiling_row(ctx, 1)


@row("expressions.ms_per_face", unit="ms")
def ms_per_face(ctx: Context) -> Measurement:
    ms: list[float] = ctx.memo("expressions", lambda: _evaluate(ctx))["ms"]
    value = median(ms)
    return Measurement(
        value, f"{len(ms)} faces, one per call; deciles {spread(sorted(ms)[:: len(ms) // 10], '{:.2f}')}"
    )
