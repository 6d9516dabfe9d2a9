"""Faces on real photos with real models: recall, identity, expression, and bad input."""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from shadowlens.daemon.analysis.decode import open_photo
from shadowlens.daemon.api import FaceFinding, PhotoContext
from shadowlens.daemon.config import Config
from shadowlens.daemon.detectors.faces.detector import FacesDetector, FacesSettings
from shadowlens.models.registry import Registry

from tests.conftest import SHARED, Env, corpus_or_skip

MODELS = SHARED / "models"
SCRFD = "insightface-buffalo_sc"
YUNET = "opencv-yunet-2023mar"
HOG = "dlib-hog"


def shared_models_or_skip() -> Path:
    if not (MODELS / "README.md").exists():
        pytest.skip(f"the shared test models are missing: expected {MODELS}")
    return MODELS


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Registry:
    return Registry(tmp_path_factory.mktemp("models"), [shared_models_or_skip()])


def faces_detector(registry: Registry, **settings: object) -> FacesDetector:
    return FacesDetector(FacesSettings(**settings), registry=registry)


def detect(detector: FacesDetector, path: Path) -> list[FaceFinding]:
    decoded = open_photo(path, want_side=detector.needs.pixels, max_megapixels=Config().decode.max_megapixels)
    found = detector.detect(PhotoContext(path=path, decoded=decoded))
    return [f for f in found if isinstance(f, FaceFinding)]


def iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    ax2, ay2, bx2, by2 = a[0] + a[2], a[1] + a[3], b[0] + b[2], b[1] + b[3]
    inter = max(0.0, min(ax2, bx2) - max(a[0], b[0])) * max(0.0, min(ay2, by2) - max(a[1], b[1]))
    return inter / (a[2] * a[3] + b[2] * b[3] - inter)


def labelled_boxes() -> dict[str, list[tuple[float, ...]]]:
    boxes: dict[str, list[tuple[float, ...]]] = defaultdict(list)
    with open(corpus_or_skip() / "dlib-faces" / "face_boxes.csv", newline="") as handle:
        for row in csv.DictReader(handle):
            boxes[row["path"]].append(tuple(float(row[k]) for k in ("left", "top", "width", "height")))
    return boxes


def recall_and_false_positives(detector: FacesDetector) -> tuple[float, float]:
    corpus, hits, total, false_positives = corpus_or_skip(), 0, 0, 0
    truth = labelled_boxes()
    for path, boxes in truth.items():
        found = [f.bbox for f in detect(detector, corpus / path) if f.bbox]
        matched = {i for i, box in enumerate(boxes) if any(iou(box, f) >= 0.4 for f in found)}
        hits, total = hits + len(matched), total + len(boxes)
        false_positives += sum(1 for f in found if not any(iou(box, f) >= 0.4 for box in boxes))
    return hits / total, false_positives / len(truth)


# Thresholds: measured on the 9 labelled PASCAL VOC photos (dlib's examples) with min_face_px=8,
# set a little below what each detector reaches here so that a regression, not noise, fails.
# HOG misses small and turned faces by design; the CNN detectors should find nearly all.
EXPECTED = {SCRFD: (0.0, 0.0), YUNET: (0.0, 0.0), HOG: (0.0, 0.0)}
EXPECTED = {SCRFD: (0.95, 0.3), YUNET: (0.95, 0.3), HOG: (0.9, 0.3)}


@pytest.mark.corpus
@pytest.mark.parametrize("model_id", [SCRFD, YUNET, HOG])
def test_each_detector_finds_the_labelled_faces(registry: Registry, model_id: str) -> None:
    # Measured here: recall 1.0 for all three; false positives per photo 0.0 (SCRFD, HOG) and 0.0
    # (YuNet at its 0.8 default; 0.11 at 0.6). The thresholds leave room for one missed face.
    detector = faces_detector(
        registry, detector=model_id, embedder="off", agesex="off", expression="off", min_face_px=8
    )
    assert detector.roles["detector"].model_id == model_id
    recall, false_positives = recall_and_false_positives(detector)
    min_recall, max_fp = EXPECTED[model_id]
    assert recall >= min_recall, f"{model_id} recall {recall:.2f}"
    assert false_positives <= max_fp, f"{model_id} {false_positives:.2f} false positives per photo"


def test_scrfd_finds_the_six_faces_of_insightfaces_sample(registry: Registry) -> None:
    import insightface

    sample = Path(insightface.__file__).parent / "data" / "images" / "t1.jpg"
    detector = faces_detector(registry, detector=SCRFD, embedder="off", agesex="off", expression="off")
    assert len(detect(detector, sample)) == 6


@pytest.mark.corpus
def test_dlib_embedder_tells_obama_from_biden(registry: Registry) -> None:
    corpus = corpus_or_skip() / "face_recognition"
    detector = faces_detector(
        registry, detector=YUNET, embedder="dlib-resnet-128", agesex="off", expression="off"
    )

    def vector(face: FaceFinding) -> np.ndarray:
        assert face.embedding is not None and face.embedder == "dlib-resnet-128" and face.embedding_dim == 128
        row = np.frombuffer(face.embedding, dtype=np.float32)
        assert abs(float(np.linalg.norm(row)) - 1) < 1e-4, "embeddings are L2-normalised"
        return row

    (obama,) = detect(detector, corpus / "obama.jpg")
    (obama_small,) = detect(detector, corpus / "obama-240p.jpg")
    pair = sorted(
        detect(detector, corpus / "obama_and_biden.jpg"), key=lambda f: -(f.bbox or (0, 0, 0, 0))[2]
    )[:2]
    biden = min(pair, key=lambda f: (f.bbox or (0.0,))[0])  # Biden stands on the left of that photo
    same = float(np.dot(vector(obama), vector(obama_small)))
    assert same > float(np.dot(vector(obama), vector(biden)))
    assert same > float(np.dot(vector(obama_small), vector(biden)))


@pytest.mark.corpus
def test_expression_model_sees_smiles_and_biden_s_closed_mouth(registry: Registry) -> None:
    corpus = corpus_or_skip() / "face_recognition"
    detector = faces_detector(registry, detector=YUNET, embedder="off", agesex="off")
    assert detector.roles["expression"].model_id == "opencv-fer-mobilefacenet-2022july-int8"
    (obama,) = detect(detector, corpus / "obama.jpg")
    assert obama.expression and obama.expression["label"] == "happy" and obama.smiling
    left, right = sorted(detect(detector, corpus / "two_people.jpg"), key=lambda f: (f.bbox or (0.0,))[0])
    assert right.expression and right.expression["label"] != "happy" and not right.smiling  # Biden
    assert left.expression and left.expression["label"] == "happy"  # Obama's slight smile


@pytest.mark.corpus
def test_without_an_expression_model_the_landmark_estimate_is_labelled_as_such(tmp_path: Path) -> None:
    registry = Registry(tmp_path / "models", [])  # only the models shipped inside packages
    detector = faces_detector(registry)
    assert (
        detector.roles["detector"].model_id == HOG
        and detector.roles["expression"].model_id == "dlib-landmarks-68"
    )
    (obama,) = detect(detector, corpus_or_skip() / "face_recognition" / "obama.jpg")
    assert obama.expression and "landmark heuristic" in obama.expression["method"]
    assert obama.smiling is True and obama.age is not None and obama.sex in ("male", "female")


def test_arcface_and_genderage_load_align_and_batch_through_real_sessions(tmp_path: Path) -> None:
    """Tiny graphs with the InsightFace signatures (the real weights cannot be had here)."""
    from shadowlens.daemon.detectors.faces.attributes import InsightfaceGenderAge
    from shadowlens.daemon.detectors.faces.embedders import OnnxEmbedder
    from shadowlens.daemon.detectors.faces.types import FaceAttributes, RawFace

    from tests.onnx_graphs import arcface_like, genderage_like

    image = np.zeros((200, 400, 3), dtype=np.uint8)
    image[:, :200] = (220, 40, 40)  # a red face on the left, a blue one on the right
    image[:, 200:] = (40, 40, 220)
    image[::4] //= 2  # stripes: a flat colour has no detail, and no age is read from it
    marks = np.array([[70, 80], [130, 80], [100, 110], [75, 140], [125, 140]], dtype=np.float32)
    faces = [
        RawFace(50, 50, 100, 110, 0.9, marks),
        RawFace(250, 50, 100, 110, 0.9, marks + np.array([200, 0], dtype=np.float32)),
    ]
    embedder = OnnxEmbedder("tiny-arcface", arcface_like(tmp_path / "w600k_mbf.onnx"), ttl=60)
    rows = embedder.embed(image, faces)
    assert rows.shape == (2, 512) and embedder.dim == 512
    assert np.allclose(np.linalg.norm(rows, axis=1), 1, atol=1e-5)
    assert float(np.dot(rows[0], rows[1])) < 0.99, "each row comes from its own aligned face"
    again = embedder.embed(image, faces[:1])
    assert np.allclose(again[0], rows[0], atol=1e-5), "batching does not change a face's vector"
    genderage = InsightfaceGenderAge(
        "tiny-genderage", genderage_like(tmp_path / "genderage.onnx", 3.0, 34.0), 60
    )
    out = [FaceAttributes(), FaceAttributes()]
    genderage.describe(image, faces, out)
    assert [(a.sex, a.age) for a in out] == [("male", 34.0), ("male", 34.0)]
    embedder.unload()
    assert not embedder.loaded
    assert embedder.embed(image, faces).shape == (2, 512), "a later call loads it again"


@pytest.mark.corpus
def test_boxes_land_on_the_upright_image_whatever_the_exif_orientation(registry: Registry) -> None:
    corpus = corpus_or_skip() / "pillow"
    detector = faces_detector(registry, detector=YUNET, embedder="off", agesex="off", expression="off")
    (upright,) = detect(detector, corpus / "hopper.jpg")
    (rotated,) = detect(detector, corpus / "hopper_orientation_6.jpg")
    assert upright.bbox and rotated.bbox and iou(upright.bbox, rotated.bbox) > 0.8


@pytest.mark.corpus
def test_greyscale_cmyk_tiny_and_fifty_faces(registry: Registry, tmp_path: Path) -> None:
    hopper = Image.open(corpus_or_skip() / "pillow" / "hopper.jpg")
    detector = faces_detector(registry, detector=YUNET, embedder="dlib-resnet-128", expression="off")
    for mode in ("L", "CMYK"):
        hopper.convert(mode).save(tmp_path / f"{mode}.jpg")
        assert len(detect(detector, tmp_path / f"{mode}.jpg")) == 1, mode
    grid = Image.new("RGB", (128 * 8, 128 * 7))
    for i in range(56):
        grid.paste(hopper, ((i % 8) * 128, (i // 8) * 128))
    grid.save(tmp_path / "crowd.jpg")
    crowd = detect(detector, tmp_path / "crowd.jpg")
    assert len(crowd) >= 50 and all(f.embedding_dim == 128 for f in crowd)
    hopper.resize((24, 24)).save(tmp_path / "thumb.jpg")
    large_minimum = faces_detector(registry, detector=YUNET, min_face_px=40)
    assert detect(large_minimum, tmp_path / "crowd.jpg"), "128 px faces pass a 40 px minimum"
    assert detect(large_minimum, tmp_path / "thumb.jpg") == [], "faces under the minimum size are dropped"
    assert detect(detector, corpus_or_skip() / "exif-samples" / "gps" / "DSCN0010.jpg") == []


def test_a_missing_or_corrupt_model_is_a_clear_error_and_is_retried_when_fixed(tmp_path: Path) -> None:
    source = shared_models_or_skip() / "opencv" / "face_detection_yunet_2023mar.onnx"
    folder = tmp_path / "models"
    folder.mkdir()
    registry = Registry(tmp_path / "data", [folder])
    broken = faces_detector(registry, detector=YUNET)
    assert broken.roles["detector"].problem and "missing" in broken.version
    photo = corpus_or_skip() / "pillow" / "hopper.jpg"
    with pytest.raises(Exception, match="shadowlens models fetch opencv-yunet-2023mar"):
        detect(broken, photo)
    (folder / source.name).write_bytes(source.read_bytes()[:1000])  # truncated
    truncated = faces_detector(Registry(tmp_path / "data", [folder]), detector=YUNET)
    assert truncated.roles["detector"].problem and "wrong size" in truncated.roles["detector"].problem
    (folder / source.name).write_bytes(source.read_bytes())
    fixed = faces_detector(Registry(tmp_path / "data", [folder]), detector=YUNET)
    assert fixed.roles["detector"].problem is None
    assert fixed.version != broken.version, "a new version re-analyses the photos analysed without the model"
    assert len(detect(fixed, photo)) == 1


@pytest.mark.corpus
def test_a_scan_stores_face_findings_embeddings_and_stage_timings(env: Env, tmp_path: Path) -> None:
    import shutil
    import sqlite3

    folder = tmp_path / "people"
    folder.mkdir()
    for name in ("obama.jpg", "two_people.jpg"):
        shutil.copy(corpus_or_skip() / "face_recognition" / name, folder / name)
    env.write_config(f'[models]\nsearch_paths = ["{shared_models_or_skip()}"]\n')
    env.run("scan", str(folder))
    photos = {Path(p["path"]).name: p for p in env.json("photos")}
    faces = [f for f in photos["two_people.jpg"]["findings"] if f["kind"] == "face"]
    assert len(faces) == 2
    for face in faces:
        attrs = face["attrs"]
        assert attrs["person_id"] is None and attrs["embedding_dim"] == 128
        assert attrs["models"]["detector"] == YUNET and attrs["models"]["embedder"] == "dlib-resnet-128"
        assert set(attrs["expression"]["probs"]) == {
            "angry",
            "disgust",
            "fearful",
            "happy",
            "neutral",
            "sad",
            "surprised",
        }
        assert attrs["sex"] in ("male", "female") and 0 < attrs["age"] < 100
        assert "embedding" not in attrs
    with sqlite3.connect(env.index) as db:
        rows = db.execute("SELECT engine, dim, length(embedding) FROM faces").fetchall()
        timings = db.execute("SELECT timings FROM detector_runs WHERE detector = 'faces'").fetchall()
    assert sorted(rows) == [("dlib-resnet-128", 128, 512)] * 3
    assert all({"detector", "embedder", "agesex", "expression"} <= set(json.loads(t[0])) for t in timings)
