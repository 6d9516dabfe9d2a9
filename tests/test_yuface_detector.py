"""The offline face detector ahead of dlib's HOG: libfacedetection's YuNet from the `yuface` wheel.

Measured against HOG on the same inputs, through the faces stage as the daemon runs it: the 9
labelled PASCAL VOC photos of dlib's examples, and the 140 labelled expression close-ups (faces
that fill the frame, which a single 640 px pass misses).
"""

from __future__ import annotations

import csv
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from shadowlens.daemon.analysis.decode import open_photo
from shadowlens.daemon.api import FaceFinding, PhotoContext
from shadowlens.daemon.config import Config
from shadowlens.daemon.detectors.faces.detector import FacesDetector, FacesSettings
from shadowlens.models.registry import Registry

from tests.conftest import REPO, SHARED, corpus_or_skip

pytest.importorskip("yuface", reason="yuface has no wheel for this Python; the stage uses dlib's HOG")

YUFACE = "libfacedetection-yuface"
HOG = "dlib-hog"
YUNET = "opencv-yunet-2023mar"
SAMPLES = SHARED / "samples" / "expressions"
IOU_MIN = 0.4  # as tests/test_faces.py matches the labelled boxes


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Registry:
    # No fetched models: both detectors are the package-shipped ones.
    return Registry(tmp_path_factory.mktemp("models"))


def stage(registry: Registry, model_id: str, **settings: object) -> FacesDetector:
    detector = FacesDetector(
        FacesSettings(detector=model_id, embedder="off", agesex="off", expression="off", **settings),
        registry=registry,
    )
    assert detector.roles["detector"].model_id == model_id, detector.roles["detector"].problem
    return detector


def boxes(detector: FacesDetector, path: Path) -> list[tuple[float, ...]]:
    decoded = open_photo(path, want_side=detector.needs.pixels, max_megapixels=Config().decode.max_megapixels)
    found = detector.detect(PhotoContext(path=path, decoded=decoded))
    return [tuple(f.bbox) for f in found if isinstance(f, FaceFinding) and f.bbox]


def iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    ax2, ay2, bx2, by2 = a[0] + a[2], a[1] + a[3], b[0] + b[2], b[1] + b[3]
    inter = max(0.0, min(ax2, bx2) - max(a[0], b[0])) * max(0.0, min(ay2, by2) - max(a[1], b[1]))
    return inter / (a[2] * a[3] + b[2] * b[3] - inter)


def labelled(corpus: Path) -> dict[str, list[tuple[float, ...]]]:
    truth: dict[str, list[tuple[float, ...]]] = {}
    with open(corpus / "dlib-faces" / "face_boxes.csv", newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            box = tuple(float(row[k]) for k in ("left", "top", "width", "height"))
            truth.setdefault(row["path"], []).append(box)
    return truth


def hits_and_extras(detector: FacesDetector, corpus: Path) -> tuple[int, int, int]:
    hits = total = extras = 0
    for path, truth in labelled(corpus).items():
        found = boxes(detector, corpus / path)
        hits += sum(1 for box in truth if any(iou(box, f) >= IOU_MIN for f in found))
        extras += sum(1 for f in found if not any(iou(box, f) >= IOU_MIN for box in truth))
        total += len(truth)
    return hits, total, extras


def sample_images() -> list[Path]:
    if not (SAMPLES / "labels.csv").is_file():
        pytest.skip(f"the labelled expression samples are missing: expected {SAMPLES}/labels.csv")
    return sorted((SAMPLES / "images").iterdir())


@pytest.mark.corpus
def test_it_finds_every_labelled_face_hog_finds_with_no_extra_box(registry: Registry) -> None:
    # Measured: both 43/43 with no extra box (min_face_px 8, as tests/test_faces.py counts).
    corpus = corpus_or_skip()
    mine = hits_and_extras(stage(registry, YUFACE, min_face_px=8), corpus)
    hog = hits_and_extras(stage(registry, HOG, min_face_px=8), corpus)
    assert mine[0] >= hog[0], f"yuface {mine[0]}/{mine[1]}, HOG {hog[0]}/{hog[1]}"
    assert mine[2] == 0, f"{mine[2]} boxes match no labelled face"


def test_it_finds_the_close_ups_hog_finds_and_more(registry: Registry) -> None:
    # Measured: 138 of 140 (HOG 108). The two misses are 65x59 and 57x38 px images, which the
    # detector does not upscale. A single 640 px pass found 34: the half-size pass finds the rest.
    images = sample_images()
    yuface, hog_stage = stage(registry, YUFACE), stage(registry, HOG)
    mine = sum(1 for path in images if boxes(yuface, path))
    hog = sum(1 for path in images if boxes(hog_stage, path))
    assert mine >= hog, f"yuface found faces in {mine} of {len(images)}, HOG in {hog}"
    assert mine >= 0.95 * len(images)


@pytest.mark.corpus
@pytest.mark.xfail(
    strict=True,
    reason="a known false face: the CNN scores the Pomeranian's face 0.85 at 640 px and 0.87 at 320 "
    "px (HOG finds none), above the lowest labelled face (0.86), so no threshold drops it alone",
)
def test_no_face_on_the_dogs(registry: Registry) -> None:
    assert boxes(stage(registry, YUFACE), corpus_or_skip() / "dlib-faces" / "dogs.jpg") == []


def test_landmarks_are_in_the_order_the_alignment_expects(registry: Registry) -> None:
    import cv2

    detector = stage(registry, YUFACE).roles["detector"].model
    checked = 0
    for path in sample_images()[::7]:
        image = cv2.imread(str(path))[:, :, ::-1]
        for face in detector.detect(np.ascontiguousarray(image)):
            marks = face.landmarks
            assert marks is not None and marks.shape == (5, 2)
            right_eye, left_eye, nose, mouth_right, mouth_left = marks
            assert right_eye[0] < left_eye[0], f"{path.name}: the subject's right eye is image-left"
            assert mouth_right[0] < mouth_left[0], path.name
            assert max(right_eye[1], left_eye[1]) < nose[1] < min(mouth_right[1], mouth_left[1]), path.name
            assert face.x <= nose[0] <= face.x + face.w and face.y <= nose[1] <= face.y + face.h
            checked += 1
    assert checked >= 15


@pytest.mark.corpus
def test_landmarks_match_opencv_yunets_row_order(tmp_path: Path) -> None:
    models = SHARED / "models"
    registry = Registry(tmp_path, [models])
    if not registry.available(YUNET):
        pytest.skip(f"OpenCV's YuNet is missing from the shared test models: expected under {models}")
    photo = corpus_or_skip() / "face_recognition" / "obama_and_biden.jpg"
    decoded = open_photo(photo, want_side=1280, max_megapixels=Config().decode.max_megapixels)
    image, _ = PhotoContext(path=photo, decoded=decoded).rgb(1280)
    mine = stage(registry, YUFACE).roles["detector"].model.detect(image)
    theirs = stage(registry, YUNET).roles["detector"].model.detect(image)
    assert len(mine) == len(theirs) >= 2
    for face in mine:
        other = max(theirs, key=lambda t: iou((face.x, face.y, face.w, face.h), (t.x, t.y, t.w, t.h)))
        # Point by point, within a tenth of the face: the same five points in the same order.
        assert np.abs(face.landmarks - other.landmarks).max() < 0.1 * face.w


def detector_picked(choice: str, block_import: bool) -> str:
    # Mocked on purpose: no supported way to uninstall a wheel for one test. Python 3.12+ has no
    # yuface wheel, and a None entry in sys.modules makes `import yuface` raise ImportError, as a
    # missing or broken wheel does; a fresh process so the real module is not already imported.
    shim = "sys.modules['yuface'] = None" if block_import else ""
    code = textwrap.dedent(f"""
        import sys, tempfile
        {shim}
        from pathlib import Path
        from shadowlens.daemon.detectors.faces.detector import FacesDetector, FacesSettings
        from shadowlens.models.registry import Registry
        registry = Registry(Path(tempfile.mkdtemp()))
        settings = FacesSettings(detector={choice!r}, embedder="off", agesex="off", expression="off")
        chosen = FacesDetector(settings, registry=registry).roles["detector"]
        print(chosen.problem or chosen.model_id)
    """)
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120, check=True
    )
    return done.stdout.strip().splitlines()[-1]


def test_it_is_opt_in_and_unavailable_when_the_import_fails() -> None:
    # Opt-in until the age and expression crops stop following the box shape (manifest.toml).
    assert detector_picked("auto", block_import=False) == HOG
    assert detector_picked(YUFACE, block_import=False) == YUFACE
    assert detector_picked("auto", block_import=True) == HOG
    assert detector_picked(YUFACE, block_import=True) != YUFACE
