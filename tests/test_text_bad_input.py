"""Bad input for the text, code and nudity detectors: the whole default pipeline, real models.

Blank, tiny, huge and very long images, a script the OCR model does not read, and codes that
are damaged or carry garbage. Each must finish with a clear outcome: no crash, no hang, no
invented brand or personal data (and, on the blank, tiny and noise images, no invented object or
image label).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw
from shadowlens.daemon.analysis.pipeline import Pipeline
from shadowlens.daemon.analysis.plugins import build_detectors
from shadowlens.daemon.analysis.results import AnalysisResult
from shadowlens.daemon.config import Config
from shadowlens.daemon.detectors.text.ocr import text_regions

from tests.conftest import BUILT_MODELS, built_model_or_skip, corpus_or_skip

EXPOSING = {"brand", "pii", "code", "nudity"}
INVENTED = {"text", "face", "object", "label"}


@pytest.fixture(scope="module")
def pipeline() -> Pipeline:
    # The built offline models too, so that objects and labels really look at these images.
    for model_id in ("nanodet-coco", "efficientnet-lite0-imagenet"):
        built_model_or_skip(model_id)
    config = Config.model_validate({"models": {"search_paths": [str(BUILT_MODELS)]}})
    detectors = build_detectors(config)
    versions = {d.name: d.version for d in detectors}
    assert versions["objects"] == "1+nanodet-coco" and versions["labels"] == "2+efficientnet-lite0-imagenet"
    return Pipeline(config, detectors)


def analyse(pipeline: Pipeline, path: Path) -> AnalysisResult:
    [result] = pipeline.analyse([path], force=True)
    assert result.file_error is None, result.file_error
    failed = {run.detector: run.error for run in result.runs if run.error}
    assert failed == {}, failed
    return result


def kinds(result: AnalysisResult) -> set[str]:
    return {f.kind for f in result.findings}


def test_blank_tiny_huge_and_very_long_images_give_no_exposure(pipeline: Pipeline, tmp_path: Path) -> None:
    shapes = {
        "blank.jpg": (4032, 3024),
        "tiny.png": (3, 2),
        "one-pixel.png": (1, 1),
        "eight-pixels.png": (8, 8),
        "huge.png": (12000, 9000),
        "long-strip.png": (24000, 180),
        "tall-strip.png": (90, 9000),
    }
    for name, size in shapes.items():
        Image.new("RGB", size, (240, 240, 236)).save(tmp_path / name)
        result = analyse(pipeline, tmp_path / name)
        assert result.error is None and (result.width, result.height) == size, name
        assert kinds(result) & (EXPOSING | INVENTED) == set(), (name, result.findings)


def test_noise_gives_no_brand_or_personal_data(pipeline: Pipeline, tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    Image.fromarray(rng.integers(0, 256, (1500, 2000, 3), dtype=np.uint8)).save(tmp_path / "noise.png")
    assert kinds(analyse(pipeline, tmp_path / "noise.png")) & (EXPOSING | {"object", "label"}) == set()


@pytest.mark.corpus
def test_a_script_the_model_does_not_read_gives_text_but_no_brand_or_personal_data(
    pipeline: Pipeline,
) -> None:
    # PP-OCR's bundled recogniser reads Latin and CJK, not Thai: it returns low-confidence
    # Latin-looking guesses, which must not become brands or personal data.
    result = analyse(pipeline, corpus_or_skip() / "easyocr-text" / "thai.jpg")
    assert kinds(result) & {"brand", "pii"} == set(), result.findings


def _qr(text: str | bytes, scale: int = 8) -> Image.Image:
    import zxingcpp

    code = zxingcpp.create_barcode(text, zxingcpp.BarcodeFormat.QRCode)
    return Image.fromarray(np.asarray(code.to_image(scale=scale))).convert("RGB")


def test_damaged_and_garbage_codes(pipeline: Pipeline, tmp_path: Path) -> None:
    symbol = _qr("WIFI:S:home;T:WPA;P:hunter22;;")
    torn = Image.new("RGB", (1600, 1200), "white")
    torn.paste(symbol.crop((0, 0, symbol.width, symbol.height // 2)), (100, 100))
    draw = ImageDraw.Draw(torn)
    draw.rectangle((100 + symbol.width // 3, 100, 100 + symbol.width // 2, 100 + symbol.height), fill="black")
    torn.save(tmp_path / "torn.png")
    assert "code" not in kinds(analyse(pipeline, tmp_path / "torn.png"))

    garbage = Image.new("RGB", (1600, 1200), "white")
    garbage.paste(_qr(bytes(range(256))), (100, 100))
    garbage.save(tmp_path / "garbage.png")
    codes = [f for f in analyse(pipeline, tmp_path / "garbage.png").findings if f.kind == "code"]
    # Binary payloads are reported as an unknown code, never parsed as Wi-Fi, a contact or a pass.
    assert len(codes) == 1 and codes[0].attrs()["payload_type"] not in {
        "wifi",
        "contact",
        "boarding_pass",
        "url",
    }


def test_text_regions_merge_neighbours_and_fall_back_to_the_whole_photo() -> None:
    def box(x0: float, y0: float, x1: float, y1: float) -> list[list[float]]:
        return [[x0, y0], [x1, y0], [x1, y1], [x0, y1]]

    shape = (1000, 2000, 3)
    apart = np.array([box(100, 100, 200, 130), box(1500, 800, 1700, 830)])
    assert text_regions(apart, shape, 0.0) == [(100, 100, 201, 131), (1500, 800, 1701, 831)]
    near = np.array([box(100, 100, 200, 130), box(210, 100, 300, 130)])
    assert text_regions(near, shape, 0.01) == [(80, 80, 321, 151)]
    assert text_regions(apart, shape, 0.5) == [(0, 0, 2000, 1000)]
