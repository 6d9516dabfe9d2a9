"""Small print on large images, where each character sits, and the strict read, with the real
rapidocr on text rendered (Pillow's scalable font) over a corpus photo blown up to a scan's size.

The scan is decoded as the pipeline decodes it for the text detector (at ``long_side``, 1600 px),
so reading its 12 px lines needs the detector to decode it again at a larger size itself.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont
from shadowlens.daemon.analysis.decode import open_photo
from shadowlens.daemon.analysis.detector import PhotoContext
from shadowlens.daemon.analysis.findings import Finding, TextFinding
from shadowlens.daemon.config import Config
from shadowlens.daemon.detectors.text.line_geometry import span_box
from shadowlens.daemon.detectors.text.ocr import OcrDetector, OcrSettings
from shadowlens.daemon.detectors.text.ocr_engine import BOX_THRESHOLD
from shadowlens.daemon.detectors.text.ocr_tiles import PRINT_STEP, Region, join_tiles, tile_grid

from tests.conftest import corpus_or_skip

BACKGROUND = "exif-samples/gps/DSCN0010.jpg"
PHONE_PHOTOS = ("exif-samples/mobile/jolla.jpg", "heic/pillow-heif/pug.heic")
DATE_OF_BIRTH, PHONE, NAME = "Date of birth: 14.03.1987", "Phone: +44 20 7946 0958", "Name: Jane Doe"


@dataclass(frozen=True)
class Drawn:
    """A rendered line and the ink box (x0, y0, x1, y1) of each of its words."""

    text: str
    words: dict[str, tuple[float, float, float, float]]


def render_scan(
    path: Path, lines: list[tuple[str, int, tuple[int, int]]], size: tuple[int, int]
) -> list[Drawn]:
    """Lines of ``(text, font px, top-left)`` on white labels over a corpus photo, saved without
    any camera metadata, as a scanner or an export writes it."""
    image = Image.open(corpus_or_skip() / BACKGROUND).convert("RGB").resize(size)
    draw = ImageDraw.Draw(image)
    drawn = []
    for text, px, (x, y) in lines:
        font = ImageFont.load_default(size=px)
        x0, y0, x1, y1 = draw.textbbox((x, y), text, font=font)
        draw.rectangle((x0 - px, y0 - px, x1 + px, y1 + px), fill="white")  # a label's margin
        draw.text((x, y), text, fill="black", font=font)
        words, start = {}, 0
        for word in text.split(" "):
            at = text.index(word, start)
            start = at + len(word)
            left, top, right, bottom = font.getbbox(word)
            offset = x + draw.textlength(text[:at], font=font)
            words[word] = (offset + left, y + top, offset + right, y + bottom)
        drawn.append(Drawn(text, words))
    image.save(path, quality=92)
    return drawn


def detect(detector: OcrDetector, path: Path) -> list[TextFinding]:
    """The detector on ``path`` decoded as the pipeline would decode it for this detector alone."""
    decoded = open_photo(path, want_side=detector.needs.pixels, max_megapixels=Config().decode.max_megapixels)
    found: list[Finding] = detector.detect(PhotoContext(path=path, decoded=decoded))
    assert all(isinstance(f, TextFinding) for f in found)
    return [f for f in found if isinstance(f, TextFinding)]


def regions_looked_at(detector: OcrDetector, monkeypatch: pytest.MonkeyPatch) -> list[Sequence[Region]]:
    """The regions each small-print detection of ``detector`` looks at, from now on."""
    looked: list[Sequence[Region]] = []
    original = detector.engine.detect_regions

    def spy(
        image: np.ndarray,
        regions: Sequence[Region],
        box_thresh: float = BOX_THRESHOLD,
        print_step: int = PRINT_STEP,
    ) -> np.ndarray:
        looked.append(regions)
        return original(image, regions, box_thresh, print_step)

    monkeypatch.setattr(detector.engine, "detect_regions", spy)
    return looked


@pytest.fixture(scope="module")
def ocr() -> OcrDetector:
    return OcrDetector(OcrSettings())


@pytest.fixture(scope="module")
def scan(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Drawn]]:
    path = tmp_path_factory.mktemp("scan") / "scan.jpg"
    # The phone line crosses the seam between two tiles (x 1436..1564 at these sizes).
    lines = [(DATE_OF_BIRTH, 12, (300, 400)), (PHONE, 16, (1400, 1000)), (NAME, 20, (700, 1600))]
    return path, render_scan(path, lines, (3000, 2000))


def line_with(found: list[TextFinding], text: str) -> TextFinding:
    matches = [f for f in found if text in f.label]
    assert len(matches) == 1, (text, [f.label for f in found])
    return matches[0]


@pytest.mark.corpus
def test_12_16_and_20_px_lines_on_a_3000_px_scan_are_read(
    ocr: OcrDetector, scan: tuple[Path, list[Drawn]]
) -> None:
    path, _ = scan
    found = detect(ocr, path)
    assert line_with(found, "14.03.1987").label == DATE_OF_BIRTH
    assert line_with(found, "+44 20 7946 0958").label == PHONE
    assert line_with(found, "Jane Doe").label == NAME
    # Version 1 (the gate and the read pass) never saw the 12 and 16 px lines.
    before = [f.label for f in detect(OcrDetector(OcrSettings(small_print=False)), path)]
    assert not any("1987" in label or "7946" in label for label in before), before
    assert ocr.version == "2"


@pytest.mark.corpus
def test_character_edges_put_each_word_where_it_was_drawn(
    ocr: OcrDetector, scan: tuple[Path, list[Drawn]]
) -> None:
    path, drawn = scan
    found = detect(ocr, path)
    for line in drawn:
        finding = line_with(found, line.text)
        edges = finding.char_edges
        assert edges is not None and len(edges) == len(finding.label) + 1
        assert all(0.0 <= a <= b <= 1.0 for a, b in itertools.pairwise(edges)), edges
        assert finding.polygon is not None
        words = line.text.split(" ")
        for i, word in enumerate(words):
            start = finding.label.index(word)
            span = span_box(finding.polygon, len(finding.label), start, start + len(word), edges)
            left, right, ink = span[0], span[0] + span[2], line.words[word]
            assert left <= ink[0] + 1 and right >= ink[2] - 1, (word, span, ink)
            # The span is grown by half an average character of the line each side (line_geometry's
            # default, for safety): a neighbour may lose part of its nearest letter, never a whole one.
            if i > 0:
                before = line.words[words[i - 1]]
                char = (before[2] - before[0]) / len(words[i - 1])
                assert left > before[2] - char, (word, span, words[i - 1], before)
            if i + 1 < len(words):
                after = line.words[words[i + 1]]
                char = (after[2] - after[0]) / len(words[i + 1])
                assert right < after[0] + char, (word, span, words[i + 1], after)


@pytest.mark.corpus
def test_phone_photos_without_text_give_nothing_and_skip_the_tiles(
    ocr: OcrDetector, monkeypatch: pytest.MonkeyPatch
) -> None:
    tiled = regions_looked_at(ocr, monkeypatch)
    for name in PHONE_PHOTOS:
        assert detect(ocr, corpus_or_skip() / name) == [], name
    assert tiled == []


@pytest.mark.corpus
def test_a_camera_photo_of_a_page_gets_its_small_print_read_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "letter.jpg"
    lines = [(f"Line {i + 1} of a letter about the account", 56, (200, 200 + i * 140)) for i in range(5)]
    render_scan(path, [*lines, (DATE_OF_BIRTH, 12, (220, 1100))], (3000, 2000))
    camera = Image.Exif()
    camera[0x010F], camera[0x0110] = "Google", "Pixel 7"  # EXIF Make, Model
    Image.open(path).save(path, quality=92, exif=camera)
    detector = OcrDetector(OcrSettings())
    looked = regions_looked_at(detector, monkeypatch)
    found = [f.label for f in detect(detector, path)]
    # The gate sees five large lines, a page: worth the small-print pass, camera or not.
    assert looked and DATE_OF_BIRTH in found and len(found) == 6, found


@pytest.mark.corpus
def test_strict_read_finds_what_detection_finds_and_the_small_print(ocr: OcrDetector, tmp_path: Path) -> None:
    path = tmp_path / "parcel.jpg"
    lines = [("PARCEL FOR", 72, (400, 200)), (DATE_OF_BIRTH, 12, (420, 900)), (PHONE, 16, (1900, 1500))]
    render_scan(path, lines, (3000, 2000))
    gate_path = {f.label for f in detect(OcrDetector(OcrSettings(small_print=False)), path)}
    assert "PARCEL FOR" in gate_path and not any("1987" in label for label in gate_path)
    image = np.asarray(Image.open(path).convert("RGB"))
    strict = ocr.engine.read_strict(image)
    read = [text for text, _, _ in strict]
    assert gate_path <= set(read), (gate_path, read)
    assert DATE_OF_BIRTH in read and PHONE in read
    assert len(read) == len(set(read)), "a line seen by two tiles or both passes is read once"
    for text, score, quad in strict:
        assert 0.3 <= score <= 1.0 and quad.shape == (4, 2), text
        assert quad[:, 0].min() >= 0 and quad[:, 0].max() <= 3000 and quad[:, 1].max() <= 2000


def test_tiles_cover_the_image_and_a_line_cut_by_their_seam_becomes_one_box() -> None:
    tiles = tile_grid(3000, 2000, 1920, 128)
    covered = np.zeros((2000, 3000), dtype=bool)
    for x0, y0, x1, y1 in tiles:
        assert x1 - x0 <= 1920 and y1 - y0 <= 1920
        covered[y0:y1, x0:x1] = True
    assert covered.all() and len(tiles) == 4
    assert tiles[0][2] - tiles[1][0] >= 128 and tiles[0][3] - tiles[2][1] >= 128  # the overlaps

    def box(x0: float, y0: float, x1: float, y1: float) -> list[list[float]]:
        return [[x0, y0], [x1, y0], [x1, y1], [x0, y1]]

    cut = np.array([box(1400, 990, 1564, 1030), box(1700, 990, 1800, 1030)], dtype=np.float32)
    rest = np.array([box(1436, 992, 1590, 1028)], dtype=np.float32)
    joined = join_tiles([cut, rest])
    assert sorted(tuple(q[0]) + tuple(q[2]) for q in joined.tolist()) == [
        (1400.0, 990.0, 1590.0, 1030.0),
        (1700.0, 990.0, 1800.0, 1030.0),
    ]
    # Two lines of one tile stay two lines, however close.
    apart = np.array([box(100, 100, 300, 130), box(310, 100, 500, 130)], dtype=np.float32)
    assert len(join_tiles([apart])) == 2
