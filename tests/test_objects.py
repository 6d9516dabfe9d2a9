"""The YOLO-format object and logo slots, end to end with a tiny real ONNX graph emitting known boxes."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
from PIL import Image
from shadowlens.daemon.analysis.decode import open_photo
from shadowlens.daemon.analysis.detector import PhotoContext
from shadowlens.daemon.analysis.findings import BrandFinding
from shadowlens.daemon.config import Config
from shadowlens.daemon.detectors.vision.objects import (
    LogosDetector,
    ObjectFinding,
    ObjectsDetector,
    YoloSettings,
)
from shadowlens.models.registry import Registry

from tests.onnx_graphs import yolo_like

LABELS = ["person", "car", "dog"]


def _raw_output() -> np.ndarray:
    # Anchors: two overlapping people (NMS keeps the stronger), a car under the threshold, a dog.
    anchors = [
        (320, 200, 100, 200, [0.90, 0.0, 0.0]),
        (325, 205, 100, 200, [0.80, 0.0, 0.0]),
        (100, 300, 60, 40, [0.0, 0.30, 0.0]),
        (500, 400, 80, 60, [0.0, 0.0, 0.75]),
    ]
    out = np.zeros((1, 4 + len(LABELS), len(anchors)), dtype=np.float32)
    for i, (cx, cy, w, h, scores) in enumerate(anchors):
        out[0, :4, i] = (cx, cy, w, h)
        out[0, 4:, i] = scores
    return out


def _registry(tmp_path: Path, model_id: str, role: str, labels: list[str]) -> Registry:
    model = yolo_like(tmp_path / "models" / f"{model_id}.onnx", _raw_output())
    data = model.read_bytes()
    manifest = tmp_path / "manifest.toml"
    manifest.write_text(
        f"""
[[model]]
id = "{model_id}"
roles = ["{role}"]
engine = "yolo"
title = "tiny test graph"
licence = "test"
licence_url = "https://example.invalid"
free_for_any_use = true
quality = 1
[model.input.{role}]
classes = {labels!r}
[[model.file]]
name = "{model.name}"
size = {len(data)}
sha256 = "{hashlib.sha256(data).hexdigest()}"
url = "https://example.invalid/{model.name}"
""".replace("'", '"')
    )
    return Registry(tmp_path / "data", [tmp_path / "models"], manifest=manifest)


def _photo(tmp_path: Path) -> PhotoContext:
    path = tmp_path / "wide.jpg"
    Image.new("RGB", (2560, 1280), (90, 120, 150)).save(path)  # letterboxed to 640x320, 160 px bands
    decoded = open_photo(path, want_side=1280, max_megapixels=Config().decode.max_megapixels)
    return PhotoContext(path=path, decoded=decoded)


def test_yolo_output_is_decoded_thresholded_suppressed_and_mapped_to_full_size(tmp_path: Path) -> None:
    detector = ObjectsDetector(
        YoloSettings(threshold=0.5), registry=_registry(tmp_path, "tiny-yolo", "objects", LABELS)
    )
    assert detector.version == "1+tiny-yolo"
    found = [f for f in detector.detect(_photo(tmp_path)) if isinstance(f, ObjectFinding)]
    assert [(f.label, f.confidence) for f in found] == [("person", 0.9), ("dog", 0.75)]
    # 640 input px = 1280 working px = 2560 full-size px (x4); the letterbox band is 160 input px.
    # The person's box starts 60 input px up in the band above the image: it is clipped at the top
    # edge, as a box outside the photo is nothing a safe copy or the TUI could draw.
    person = found[0].bbox
    assert person is not None
    top, bottom = (200 - 100 - 160) * 4, (200 + 100 - 160) * 4
    assert top < 0
    assert np.allclose(person, ((320 - 50) * 4, 0, 100 * 4, bottom))
    dog = found[1].bbox
    assert dog is not None and np.allclose(dog, ((500 - 40) * 4, (400 - 30 - 160) * 4, 80 * 4, 60 * 4))


def test_a_logo_model_gives_brands_via_logo(tmp_path: Path) -> None:
    registry = _registry(tmp_path, "tiny-logos", "logos", ["Nike", "Shell", "unknown-mark"])
    found = LogosDetector(YoloSettings(threshold=0.5), registry=registry).detect(_photo(tmp_path))
    brands = [(f.label, f.via, f.parent) for f in found if isinstance(f, BrandFinding)]
    assert brands == [("Nike", "logo", "Nike, Inc."), ("unknown-mark", "logo", "unknown")]


def test_without_a_model_the_slot_is_empty_and_says_so(tmp_path: Path) -> None:
    detector = ObjectsDetector(YoloSettings(), registry=Registry(tmp_path / "data", []))
    assert detector.version == "1+missing:yolo-objects" or detector.version == "1+off"
    assert detector.detect(_photo(tmp_path)) == []
