"""Expressions from the built mini-Xception, through the real faces detector.

Measured on the 140 labelled faces of ``../shared/samples/expressions`` (7 classes, 20 each), run
through the faces detector with the built models (HOG finds 108 of them; the rest are small tight
crops, whose whole image is then the face box). Split by sorted file name: even positions
calibrated the smiling threshold, odd positions are held out. Accuracy is of the top class;
smiling is P(happy) >= the threshold. Measured (threshold 0.80):

    half         accuracy  smiling precision  smiling recall
    calibration  0.443     1.00 (9 of 9)      0.82
    held-out     0.429     0.80 (4 of 5)      0.44

The issue's goal of 0.6 accuracy is not reached: these are hard, loosely labelled faces (the
OpenCV zoo model reaches 0.53 on them). The thresholds below sit a little under the measurement,
so a regression in the crop, the conversion or the rule fails, not a one-face wobble.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from shadowlens.daemon.analysis.decode import open_photo
from shadowlens.daemon.analysis.states import describe
from shadowlens.daemon.api import FaceFinding, PhotoContext
from shadowlens.daemon.config import Config
from shadowlens.daemon.detectors.faces.attributes import (
    MINI_XCEPTION_CLASSES,
    MiniXceptionExpression,
)
from shadowlens.daemon.detectors.faces.detector import FacesDetector, FacesSettings
from shadowlens.daemon.detectors.faces.types import FaceAttributes, RawFace
from shadowlens.models.manifest import load_manifest
from shadowlens.models.registry import Registry

from tests.conftest import BUILT_MODELS, SHARED, built_model_or_skip, corpus_or_skip

MODEL_ID = "fer-mini-xception"
SAMPLES = SHARED / "samples" / "expressions"
LABELS = {
    "anger": "angry",
    "disgust": "disgust",
    "fear": "fearful",
    "happiness": "happy",
    "sadness": "sad",
    "surprise": "surprised",
    "neutral": "neutral",
}
THRESHOLDS = [round(0.5 + 0.05 * i, 2) for i in range(10)]  # the grid the calibration searched


@dataclass
class Face:
    truth: str
    label: str
    smiling: bool
    happy: float  # the model's probability of "happy", before the smiling rule


def faces_detector(tmp: Path, **settings: object) -> FacesDetector:
    registry = Registry(tmp / "models", [BUILT_MODELS])
    return FacesDetector(FacesSettings(embedder="off", agesex="off", **settings), registry=registry)


def detect(detector: FacesDetector, path: Path) -> list[FaceFinding]:
    decoded = open_photo(path, want_side=detector.needs.pixels, max_megapixels=Config().decode.max_megapixels)
    return [
        f for f in detector.detect(PhotoContext(path=path, decoded=decoded)) if isinstance(f, FaceFinding)
    ]


@pytest.fixture(scope="module")
def detector(tmp_path_factory: pytest.TempPathFactory) -> FacesDetector:
    built_model_or_skip(MODEL_ID)
    found = faces_detector(tmp_path_factory.mktemp("expressions"))
    assert found.roles["expression"].model_id == MODEL_ID, "the built model is the default expression model"
    return found


@pytest.fixture(scope="module")
def samples(detector: FacesDetector) -> list[Face]:
    if not (SAMPLES / "labels.csv").is_file():
        pytest.skip(f"the labelled expression samples are missing: expected {SAMPLES}/labels.csv")
    with open(SAMPLES / "labels.csv", newline="", encoding="utf-8") as handle:
        rows = sorted(csv.DictReader(handle), key=lambda r: r["image"])
    model = detector.roles["expression"].model
    faces = []
    for entry in rows:
        path = SAMPLES / "images" / entry["image"]
        decoded = open_photo(
            path, want_side=detector.needs.pixels, max_megapixels=Config().decode.max_megapixels
        )
        photo = PhotoContext(path=path, decoded=decoded)
        found = [f for f in detector.detect(photo) if isinstance(f, FaceFinding)]
        if found:
            face = max(found, key=lambda f: (f.bbox or (0, 0, 0, 0))[2])
            expression, smiling = face.expression, face.smiling
        else:  # a tight crop too small for HOG: the photo is the face
            image, _ = photo.rgb(detector.options.long_side)
            attrs = [FaceAttributes()]
            with model.using():
                model.describe(image, [RawFace(0, 0, image.shape[1], image.shape[0], 1.0)], attrs)
            expression = {"label": attrs[0].expression, "probs": attrs[0].expression_probs}
            smiling = attrs[0].smiling
        assert expression is not None and smiling is not None
        probs = expression["probs"]
        faces.append(Face(LABELS[entry["expression"]], str(expression["label"]), smiling, probs["happy"]))
    return faces


def accuracy(faces: list[Face]) -> float:
    return sum(f.label == f.truth for f in faces) / len(faces)


def precision_recall(faces: list[Face], threshold: float | None = None) -> tuple[float, float]:
    said = [f.happy >= threshold if threshold is not None else f.smiling for f in faces]
    hits = sum(s and f.truth == "happy" for s, f in zip(said, faces, strict=True))
    return hits / max(sum(said), 1), hits / sum(f.truth == "happy" for f in faces)


def calibrated_threshold(faces: list[Face]) -> float:
    """The calibration: the grid threshold with the best F0.5 (precision counts twice), lowest on ties."""

    def f_half(threshold: float) -> float:
        p, r = precision_recall(faces, threshold)
        return 1.25 * p * r / (0.25 * p + r) if p and r else 0.0

    return max(THRESHOLDS, key=lambda t: (round(f_half(t), 6), -t))


def test_the_threshold_is_the_calibration_half_s_own(samples: list[Face]) -> None:
    assert calibrated_threshold(samples[0::2]) == MiniXceptionExpression.SMILE_THRESHOLD
    assert all(f.smiling == (f.happy >= MiniXceptionExpression.SMILE_THRESHOLD) for f in samples)
    # The label is the model's own top class: smiling implies it, not the other way round.
    assert all(f.label == "happy" for f in samples if f.smiling)
    assert any(f.label == "happy" and not f.smiling for f in samples), "a hesitant happy is not smiling"


@pytest.mark.parametrize(
    ("half", "min_accuracy", "min_precision", "min_recall"),
    [
        ("calibration", 0.38, 0.85, 0.7),
        ("held-out", 0.38, 0.75, 0.4),
    ],
)
def test_accuracy_and_smiling_on_both_halves(
    samples: list[Face], half: str, min_accuracy: float, min_precision: float, min_recall: float
) -> None:
    faces = samples[0::2] if half == "calibration" else samples[1::2]
    precision, recall = precision_recall(faces)
    assert accuracy(faces) >= min_accuracy, f"{half} accuracy {accuracy(faces):.3f}"
    assert precision >= min_precision, f"{half} smiling precision {precision:.2f}"
    assert recall >= min_recall, f"{half} smiling recall {recall:.2f}"


def test_the_manifest_names_the_classes_in_the_model_s_order() -> None:
    (spec,) = [s for s in load_manifest() if s.id == MODEL_ID]
    assert tuple(spec.input["expression"]["classes"]) == MINI_XCEPTION_CLASSES


@pytest.mark.corpus
def test_obama_smiles_and_biden_s_closed_mouth_does_not(detector: FacesDetector) -> None:
    corpus = corpus_or_skip() / "face_recognition"
    (obama,) = detect(detector, corpus / "obama.jpg")
    assert obama.expression is not None
    assert obama.expression["label"] == "happy" and obama.smiling is True
    assert obama.expression["method"] == MODEL_ID and obama.models["expression"] == MODEL_ID
    assert set(obama.expression["probs"]) == set(MINI_XCEPTION_CLASSES)
    assert abs(sum(obama.expression["probs"].values()) - 1) < 1e-2
    _obama, biden = sorted(detect(detector, corpus / "two_people.jpg"), key=lambda f: (f.bbox or (0.0,))[0])
    assert biden.expression is not None  # arms crossed, mouth closed
    assert biden.expression["label"] != "happy" and biden.smiling is False
    texts = {m.role: m.text for m in describe("faces", detector.version).models}
    assert texts["expression"] == MODEL_ID, "the status names the model, not a landmark estimate"


@pytest.mark.corpus
def test_with_the_model_set_aside_the_landmark_estimate_is_labelled_as_such(tmp_path: Path) -> None:
    """Naming the landmark model for the role sets the built model aside (tests/test_faces.py
    covers a machine without any expression model); "off" gives no expression at all."""
    built_model_or_skip(MODEL_ID)
    obama_photo = corpus_or_skip() / "face_recognition" / "obama.jpg"
    forced = faces_detector(tmp_path / "forced", expression="dlib-landmarks-68")
    assert forced.roles["expression"].model_id == "dlib-landmarks-68"
    (obama,) = detect(forced, obama_photo)
    assert obama.expression is not None and "landmark heuristic" in obama.expression["method"]
    assert obama.expression["label"] in ("smiling", "not smiling")
    texts = {m.role: m.text for m in describe("faces", forced.version).models}
    assert texts["expression"] == "landmark estimate (dlib 68 points), fallback"
    off = faces_detector(tmp_path / "off", expression="off")
    (obama,) = detect(off, obama_photo)
    assert obama.expression is None and obama.smiling is None
    assert {m.role: m.text for m in describe("faces", off.version).models}["expression"] == "none"


def test_the_crop_is_the_grey_box_square_with_edges_repeated_not_black() -> None:
    from shadowlens.daemon.detectors.faces.attributes import grey_face

    image = np.zeros((40, 60, 3), dtype=np.uint8)
    image[:, :, 1] = 100 + 2 * np.arange(60, dtype=np.uint8)[None, :]  # green ramp, left to right
    inside = grey_face(image, RawFace(10, 5, 20, 30, 1.0), 30, 1.0)  # a 30 x 30 square on the box
    expected = np.round(0.587 * image[5:35, 5:35, 1]).astype(np.int16)
    assert inside.shape == (30, 30) and np.abs(inside.astype(np.int16) - expected).max() <= 1
    past_edge = grey_face(image, RawFace(-10, 0, 20, 20, 1.0), 20, 1.0)  # half outside, on the left
    edge = round(0.587 * 100)
    assert (np.abs(past_edge[:, :10].astype(np.int16) - edge) <= 1).all(), "the edge repeats, no black"
