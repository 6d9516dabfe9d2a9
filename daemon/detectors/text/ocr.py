"""Text in photos: PP-OCR through rapidocr (ocr_engine.py), in up to three passes.

1. The gate: text detection alone on the photo shrunk to ``gate_side``. Most photos stop here, so
   a photo with no text costs one small detection pass.
2. The read pass, around what the gate found: detection again in those regions (each at most
   ``read_side``) and recognition of the lines there.
3. Small print: the gate cannot see text ``small_text_px`` high on a large image (12 px lines on
   a 3000 px scan are 1.7 px at 416). Images that are not camera photos (scans, screenshots,
   exports), and camera photos whose gate found several lines (a document, a receipt), are looked
   at on a scale where such text is ``DETECTABLE_TEXT_PX`` high: where that image holds print
   (``print_regions``), it is detected in tiles, and every line is then read from the photo at up
   to ``small_print_side``, decoded again if the pipeline decoded it smaller. Camera photos of
   scenes, with big text or none, never pay for it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import ClassVar

import numpy as np
from numpy.typing import NDArray
from pydantic import Field
from shadowlens.daemon.analysis.decode import DecodedPhoto, DecodeError, open_photo
from shadowlens.daemon.api import (
    Detector,
    DetectorSettings,
    Finding,
    Needs,
    PhotoContext,
    ScrubBox,
    StoredFinding,
    TextFinding,
)
from shadowlens.daemon.config import Config, DecodeSettings
from shadowlens.daemon.detectors.text.ocr_engine import OcrLine, RapidOcrEngine, bundled_models, resized
from shadowlens.daemon.detectors.text.ocr_tiles import (
    PRINT_STEP,
    Boxes,
    has_print,
    no_boxes,
    print_regions,
    text_regions,
    unseen,
)

__all__ = ["OcrDetector", "OcrSettings", "RapidOcrEngine", "bundled_models", "text_regions"]

# The detector finds lines this many pixels high at its input (measured on PP-OCRv6 det: 5 px
# lines on plain ground, with a pixel to spare), so small print is detected at
# DETECTABLE_TEXT_PX / small_text_px of its size.
DETECTABLE_TEXT_PX = 6.0
# EXIF tags only a lens writes (exposure time, f-number, ISO, focal length); with a camera make
# or model they tell a camera photo from a scan, a screenshot or an export.
CAMERA_MAKE, CAMERA_MODEL, EXIF_IFD = 0x010F, 0x0110, 0x8769
EXPOSURE_TAGS = (0x829A, 0x829D, 0x8827, 0x920A)


class OcrSettings(DetectorSettings):
    long_side: int = Field(default=1600, ge=320, le=8192)
    # The cheap first pass: text detection alone on an image this small. Most photos stop here.
    gate_side: int = Field(default=416, ge=160, le=4096)
    # The second pass looks closer only around what the gate found: it detects again in those
    # regions (each at most this size) and recognises the lines there.
    read_side: int = Field(default=960, ge=320, le=8192)
    # How far around a gate box the second pass looks, as a share of the photo's long side:
    # small print (a plate's city line, a label's address) sits near the large text.
    read_margin: float = Field(default=0.12, ge=0, le=1)
    min_confidence: float = Field(default=0.6, ge=0, le=1)
    # Look for small print the gate cannot see (the third pass); false reads as version 1 did.
    small_print: bool = True
    # The height, in full-size pixels, of the smallest text the small-print pass must find.
    small_text_px: int = Field(default=12, ge=4, le=400)
    # A camera photo gets the small-print pass when its gate finds at least this many lines.
    small_print_lines: int = Field(default=4, ge=1)
    # The long side small print is read at: bounds memory and time on 100-megapixel images.
    small_print_side: int = Field(default=4800, ge=320, le=16384)
    # One tile of the small-print pass, at detection scale.
    tile_side: int = Field(default=960, ge=320, le=4096)


def taken_by_camera(decoded: DecodedPhoto) -> bool:
    """Whether the metadata names a camera (make, model, or exposure settings)."""
    exif = decoded.exif
    if any(str(exif.get(tag) or "").strip("\x00 ") for tag in (CAMERA_MAKE, CAMERA_MODEL)):
        return True
    try:
        details = exif.get_ifd(EXIF_IFD)
    except Exception:  # a damaged IFD pointer: Pillow raises several types
        return False
    return any(tag in details for tag in EXPOSURE_TAGS)


class OcrDetector(Detector):
    name = "text"
    version = "2"
    Settings: ClassVar[type[DetectorSettings]] = OcrSettings
    # A line of text is no signal by itself: what it says counts through brands and personal data.
    counts: ClassVar[frozenset[str] | None] = frozenset()
    # Decoding the photo again for small print honours the same decompression-bomb limit.
    max_megapixels: ClassVar[float] = DecodeSettings().max_megapixels

    @classmethod
    def configure(cls, config: Config) -> None:
        cls.max_megapixels = config.decode.max_megapixels

    @classmethod
    def scrub_boxes(cls, finding: StoredFinding) -> Iterable[ScrubBox]:
        return (ScrubBox(finding.bbox, "text"),) if finding.bbox else ()

    @classmethod
    def shown(cls, finding: StoredFinding) -> str:
        return f'text "{finding.label}"'

    def __init__(self, settings: DetectorSettings) -> None:
        super().__init__(settings)
        assert isinstance(settings, OcrSettings)
        self.options = settings
        self.needs = Needs(pixels=settings.long_side)
        self.engine = RapidOcrEngine(
            settings.gate_side, settings.read_side, settings.read_margin, tile_side=settings.tile_side
        )

    def detect(self, photo: PhotoContext) -> list[Finding]:
        view, view_scale = photo.rgb(self.options.long_side)
        with self.engine.using():
            gate = self.engine.detect(view, self.options.gate_side)
            read = self._read_pass(view, gate)
            image, scale, boxes = view, view_scale, read
            small = self._small_print(photo, view, gate)
            if len(small):
                # Every line is read from the larger image then, the read pass's too: its lines
                # of small print come out better there.
                image, scale = self._large_image(photo)
                seen = read * (view_scale / scale)
                boxes = np.concatenate([seen, unseen(small / scale, seen)])
            lines = self.engine.recognise(image, boxes)
        found = [finding for line in lines if (finding := self._finding(line, scale))]
        return list(reading_order(found))

    def _read_pass(self, view: NDArray[np.uint8], gate: Boxes) -> Boxes:
        boxes = [no_boxes()]
        for x0, y0, x1, y1 in text_regions(gate, view.shape, self.options.read_margin):
            region = self.engine.detect(view[y0:y1, x0:x1], self.options.read_side)
            boxes.append(region + np.array([x0, y0], dtype=np.float32))
        return np.concatenate(boxes)

    @property
    def small_print_scale(self) -> float:
        """Detection pixels per full-size pixel at which small print is just detectable."""
        return min(1.0, DETECTABLE_TEXT_PX / self.options.small_text_px)

    def _wants_small_print(self, photo: PhotoContext, view: NDArray[np.uint8], gate: Boxes) -> bool:
        if not self.options.small_print:
            return False
        full = max(photo.decoded.width, photo.decoded.height)
        if self.options.gate_side / full >= self.small_print_scale:
            return False  # the gate itself sees small print on an image this small
        regions = text_regions(gate, view.shape, self.options.read_margin) if len(gate) else []
        whole = regions == [(0, 0, view.shape[1], view.shape[0])]
        if whole and self.options.read_side / full >= self.small_print_scale:
            return False  # the read pass went over all of it closely enough
        # A camera photo is a scene, with big text or none, unless the gate saw a page of it.
        return not taken_by_camera(photo.decoded) or len(gate) >= self.options.small_print_lines

    def _small_print(self, photo: PhotoContext, view: NDArray[np.uint8], gate: Boxes) -> Boxes:
        """Boxes (in full-size pixels) of small print: the photo at the scale that makes it
        detectable, detected where it holds print (``print_regions``)."""
        if not self._wants_small_print(photo, view, gate):
            return no_boxes()
        decoded = photo.decoded
        side = round(
            min(max(decoded.width, decoded.height) * self.small_print_scale, self.options.small_print_side)
        )
        if max(view.shape[:2]) >= side:
            image = view
        elif has_print(view, PRINT_STEP // 2):
            image = self._decoded_again(photo, side)
        else:
            return no_boxes()  # not even faint edges: blank, not worth decoding again
        image, _ = resized(image, side)
        regions = print_regions(image)
        if not regions:
            return no_boxes()
        boxes: Boxes = self.engine.detect_regions(image, regions) * np.float32(decoded.width / image.shape[1])
        return boxes

    def _large_image(self, photo: PhotoContext) -> tuple[NDArray[np.uint8], float]:
        """The photo at up to ``small_print_side``, and the factor from its pixels to full size."""
        image = self._decoded_again(photo, self.options.small_print_side)
        return image, photo.decoded.width / image.shape[1]

    def _decoded_again(self, photo: PhotoContext, side: int) -> NDArray[np.uint8]:
        """The photo at up to ``side``: from the pipeline's decode when that is large enough, else
        decoded again (or the pipeline's, if the file is gone or changed since)."""
        decoded = photo.decoded
        if decoded.image is not None and max(decoded.image.size) >= min(
            side, max(decoded.width, decoded.height)
        ):
            return photo.rgb(side)[0]
        try:
            again = open_photo(photo.path, want_side=side, max_megapixels=self.max_megapixels)
        except (DecodeError, OSError):
            return photo.rgb(side)[0]
        try:
            if again.image is None or (again.width, again.height) != (decoded.width, decoded.height):
                return photo.rgb(side)[0]
            return np.asarray(again.pixels(side), dtype=np.uint8)
        finally:
            again.release()

    def _finding(self, line: OcrLine, scale: float) -> TextFinding | None:
        if line.score < self.options.min_confidence or not any(ch.isalnum() for ch in line.text):
            return None
        full = line.quad * scale
        x0, y0 = float(full[:, 0].min()), float(full[:, 1].min())
        box = (x0, y0, float(full[:, 0].max()) - x0, float(full[:, 1].max()) - y0)
        return TextFinding(
            label=line.text,
            confidence=round(line.score, 4),
            bbox=box,
            polygon=np.round(full, 1).tolist(),
            char_edges=line.char_edges,
        )

    def close(self) -> None:
        self.engine.unload()


def reading_order(lines: Sequence[TextFinding]) -> list[TextFinding]:
    """Top to bottom, then left to right within a row: the passes and tiles find lines in any
    order, and what reads the text (an address over two lines, a label and its value on the next)
    needs them as a person reads them. Lines whose vertical centres lie within half a line's
    height of each other are one row."""
    boxed = [line for line in lines if line.bbox is not None]
    if len(boxed) < 2:
        return list(lines)
    heights = sorted(line.bbox[3] for line in boxed if line.bbox is not None)
    band = max(1.0, heights[len(heights) // 2] / 2)

    def centre(line: TextFinding) -> float:
        assert line.bbox is not None
        return line.bbox[1] + line.bbox[3] / 2

    ordered = sorted(boxed, key=centre)
    rows: list[list[TextFinding]] = []
    for line in ordered:
        if rows and centre(line) - centre(rows[-1][0]) <= band:
            rows[-1].append(line)
        else:
            rows.append([line])
    unboxed = [line for line in lines if line.bbox is None]
    return [
        line for row in rows for line in sorted(row, key=lambda f: f.bbox[0] if f.bbox else 0.0)
    ] + unboxed
