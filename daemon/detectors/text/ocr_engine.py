"""PP-OCR through rapidocr, with the models that ship inside its wheel, as two separate steps:
finding text boxes on an image of a chosen size, and reading boxes from an image of any size.

Keeping them apart lets detection run small (a gate, regions, tiles) while recognition crops the
lines from the largest image at hand, and gives the recogniser's character positions.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from shadowlens.daemon.detectors.text.ocr_chars import char_edges, cleaned
from shadowlens.daemon.detectors.text.ocr_tiles import (
    PRINT_STEP,
    Boxes,
    Region,
    distinct,
    has_print,
    is_flat,
    join_tiles,
    no_boxes,
    overlap_share,
    tile_grid,
)
from shadowlens.models.sessions import LazyModel, threads_per_worker

# OpenCV is imported in the functions that use it: the daemon imports this module only for its
# detector's hooks (how findings count), and an idle daemon must not map OpenCV (25 MB).

# rapidocr's own box threshold (mean text probability inside a box) for detection...
BOX_THRESHOLD = 0.5
# ...and the lower one of the strict read, which would rather read a smudge than miss a line.
STRICT_BOX_THRESHOLD = 0.3
STRICT_MIN_CONFIDENCE = 0.3
# Two reads of one place are one line when their texts match this well (difflib's ratio).
SAME_TEXT = 0.8
# The strict read skips only tiles without even faint print (grey on grey).
STRICT_PRINT_STEP = 16
# Tiles share this many pixels (at detection scale) with their neighbours: more than a line of
# small print is high, so each such line lies whole in one tile.
TILE_OVERLAP = 64
# The detector's input is at least this many pixels on each side (its stride is 32).
MIN_DETECTED_SIDE = 32
# A crop at least this much taller than wide is read turned by rapidocr (vertical text); its
# characters then run down the line, not along it, so it gets no character edges.
VERTICAL = 1.5
# The detector's box around a line of small print is two to four times the text's height, and the
# recogniser, which scales the crop to 48 px high, then sees letters too small and misreads them
# ("7946" as "7046"). Rows whose horizontal contrast reaches this share of the strongest row are
# the text; the crop is cut to them plus this share of their height above and below, when that
# leaves at most MAX_TRIMMED of it.
INK_ROW = 0.2
INK_MARGIN = 0.35
MAX_TRIMMED = 0.7


@dataclass(frozen=True, slots=True)
class OcrLine:
    """One recognised line: ``text`` with whitespace collapsed, the recogniser's ``score``, its
    ``quad`` (tl, tr, br, bl) in the pixels of the image read, and ``char_edges`` (see
    line_geometry.py) when the recogniser placed every character."""

    text: str
    score: float
    quad: NDArray[np.float32]
    char_edges: list[float] | None


def once(lines: list[OcrLine]) -> list[OcrLine]:
    """Each line once: of two that overlap (half the smaller box) and say nearly the same
    (SAME_TEXT), the better read is kept. In reading order of what is kept."""
    kept: list[OcrLine] = []
    for line in sorted(lines, key=lambda line: -line.score):
        words = "".join(line.text.split()).casefold()
        if not any(
            overlap_share(line.quad, other.quad) >= 0.5
            and SequenceMatcher(None, words, "".join(other.text.split()).casefold()).ratio() >= SAME_TEXT
            for other in kept
        ):
            kept.append(line)
    return sorted(kept, key=lambda line: (float(line.quad[:, 1].min()), float(line.quad[:, 0].min())))


def bundled_models() -> dict[str, Path]:
    """The det/cls/rec ONNX files inside the rapidocr wheel; named explicitly so it never downloads."""
    import rapidocr

    folder = Path(rapidocr.__file__).parent / "models"
    found: dict[str, Path] = {}
    for path in sorted(folder.glob("*.onnx")):
        for task in ("det", "cls", "rec"):
            if f"_{task}" in path.name and task not in found:
                found[task] = path
    missing = {"det", "cls", "rec"} - set(found)
    if missing:
        raise FileNotFoundError(
            f"rapidocr's bundled models are missing ({', '.join(sorted(missing))}) in {folder}"
        )
    return found


def _without_memory_plans() -> None:
    """Have rapidocr's sessions skip onnxruntime's memory patterns.

    A memory pattern is a plan of the buffers for one input shape, kept for reuse; the detector
    and the recogniser see a new shape with nearly every photo and line, so a worker grew by 40 to
    185 MB a photo on phone photos (bench: scan.default_set.peak_rss_mb). rapidocr has no setting
    for it, so its session-options factory is wrapped, once, in this worker process.
    """
    from rapidocr.inference_engine.onnxruntime.main import OrtInferSession

    factory = OrtInferSession._init_sess_opts
    if getattr(factory, "shadowlens_lean", False):
        return

    def lean(cfg: Any) -> Any:
        options = factory(cfg)
        options.enable_mem_pattern = False
        return options

    lean.shadowlens_lean = True  # type: ignore[attr-defined]
    OrtInferSession._init_sess_opts = staticmethod(lean)  # type: ignore[method-assign]


def trimmed(crop: NDArray[np.uint8]) -> NDArray[np.uint8]:
    """``crop`` cut down to the rows that hold the text (see INK_ROW), or as it is."""
    if crop.shape[0] < 8 or crop.shape[1] < 4:
        return crop
    contrast = np.abs(np.diff(crop.astype(np.float32).mean(axis=2), axis=1)).mean(axis=1)
    rows = np.flatnonzero(contrast >= INK_ROW * float(contrast.max()))
    if len(rows) == 0:
        return crop
    margin = max(2, round(INK_MARGIN * (rows[-1] + 1 - rows[0])))
    top, bottom = max(0, int(rows[0]) - margin), min(crop.shape[0], int(rows[-1]) + 1 + margin)
    if bottom - top > MAX_TRIMMED * crop.shape[0]:
        return crop
    return np.ascontiguousarray(crop[top:bottom])


def resized(image: NDArray[np.uint8], long_side: int) -> tuple[NDArray[np.uint8], float]:
    """``image`` with ``long_side`` pixels on its long side (never larger), and the factor from
    its pixels back to ``image``'s."""
    import cv2

    height, width = image.shape[:2]
    if long_side >= max(height, width):
        return image, 1.0
    scale = long_side / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    small = np.asarray(cv2.resize(image, size, interpolation=cv2.INTER_AREA), dtype=np.uint8)
    return small, width / size[0]


def shrunk(image: NDArray[np.uint8], side: int | None) -> tuple[NDArray[np.uint8], float, float]:
    """``image`` at most ``side`` long, in sides that are multiples of 32 (as the detector needs,
    so rapidocr does not resize it again), with the factors from its pixels back to ``image``'s."""
    import cv2

    height, width = image.shape[:2]
    scale = min(1.0, side / max(height, width, 1)) if side else 1.0
    w, h = max(1, round(width * scale)), max(1, round(height * scale))
    if w >= 32 and h >= 32:
        w, h = round(w / 32) * 32, round(h / 32) * 32
    if (w, h) == (width, height):
        return image, 1.0, 1.0
    # INTER_AREA averages what it drops: thin strokes of small print stay grey instead of vanishing.
    method = cv2.INTER_AREA if w < width else cv2.INTER_LINEAR
    resized = np.asarray(cv2.resize(image, (w, h), interpolation=method), dtype=np.uint8)
    return resized, width / w, height / h


class RapidOcrEngine(LazyModel):
    def __init__(
        self,
        gate_side: int = 416,
        read_side: int = 960,
        read_margin: float = 0.12,
        ttl: float = 300.0,
        tile_side: int = 960,
    ) -> None:
        super().__init__(ttl)
        self.gate_side, self.read_side, self.read_margin = gate_side, read_side, read_margin
        self.tile_side = tile_side
        self._ocr: Any = None

    def _load(self) -> None:
        from rapidocr import RapidOCR

        _without_memory_plans()
        models = bundled_models()
        threads = threads_per_worker()
        self._ocr = RapidOCR(
            params={
                "Global.log_level": "error",
                "EngineConfig.onnxruntime.intra_op_num_threads": threads,
                "EngineConfig.onnxruntime.inter_op_num_threads": 1,
                "Det.model_path": str(models["det"]),
                "Cls.model_path": str(models["cls"]),
                "Rec.model_path": str(models["rec"]),
                "Global.use_cls": False,  # photos are upright once EXIF orientation is applied
                # Every image arrives at the size it should be detected at (``shrunk``): rapidocr
                # must not shrink it again.
                "Global.max_side_len": 1 << 20,
                "Det.limit_type": "max",
                "Det.limit_side_len": 1 << 20,
                "Global.return_word_box": True,
            }
        )
        logging.getLogger("RapidOCR").setLevel(logging.ERROR)

    def _unload(self) -> None:
        self._ocr = None

    def detect(self, image: NDArray[np.uint8], side: int | None, box_thresh: float = BOX_THRESHOLD) -> Boxes:
        """Text boxes in RGB ``image`` (in its pixels), found on a copy at most ``side`` long."""
        small, fx, fy = shrunk(image, side)
        height, width = small.shape[:2]
        if min(height, width) < MIN_DETECTED_SIDE:
            # rapidocr would stretch a thin strip to 30 px high, so 24000 x 180 becomes a
            # 4000-pixel-wide detection; blank rows below and columns after cost nothing.
            grow = ((0, max(0, MIN_DETECTED_SIDE - height)), (0, max(0, MIN_DETECTED_SIDE - width)), (0, 0))
            small = np.pad(small, grow, mode="edge")
        with self.using():
            found = self._ocr(
                np.ascontiguousarray(small[:, :, ::-1]),
                use_det=True,
                use_cls=False,
                use_rec=False,
                box_thresh=box_thresh,
            )
        if getattr(found, "boxes", None) is None or len(found.boxes) == 0:
            return no_boxes()
        boxes = np.asarray(found.boxes, dtype=np.float32).reshape(-1, 4, 2)
        boxes = np.clip(boxes, 0, np.array([width, height], dtype=np.float32))
        return boxes * np.array([fx, fy], dtype=np.float32)

    def detect_regions(
        self,
        image: NDArray[np.uint8],
        regions: Sequence[Region],
        box_thresh: float = BOX_THRESHOLD,
        print_step: int = PRINT_STEP,
    ) -> Boxes:
        """Text boxes in ``regions`` of RGB ``image``, detected at its own scale in tiles of at
        most ``tile_side``, skipping tiles with no edge of ``print_step`` grey levels; a line two
        tiles saw is one box."""
        per_tile: list[Boxes] = []
        for rx, ry, rx1, ry1 in regions:
            for x0, y0, x1, y1 in tile_grid(rx1 - rx, ry1 - ry, self.tile_side, TILE_OVERLAP):
                tile = image[ry + y0 : ry + y1, rx + x0 : rx + x1]
                if has_print(tile, print_step):
                    found = self.detect(tile, self.tile_side, box_thresh)
                    per_tile.append(found + np.array([rx + x0, ry + y0], dtype=np.float32))
        return join_tiles(per_tile)

    def recognise(self, image: NDArray[np.uint8], boxes: Boxes) -> list[OcrLine]:
        """The text of each box, read from RGB ``image`` (boxes in its pixels)."""
        from rapidocr.utils.process_img import get_rotate_crop_image

        quads, crops, upright = [], [], []
        for quad in boxes:
            points = np.ascontiguousarray(quad, dtype=np.float32)
            width = max(np.linalg.norm(points[0] - points[1]), np.linalg.norm(points[2] - points[3]))
            height = max(np.linalg.norm(points[0] - points[3]), np.linalg.norm(points[1] - points[2]))
            if int(width) < 2 or int(height) < 2:
                continue
            crop = np.ascontiguousarray(get_rotate_crop_image(image, points.copy())[:, :, ::-1])
            flat = int(height) < VERTICAL * int(width)
            quads.append(points)
            crops.append(trimmed(crop) if flat else crop)
            upright.append(flat)
        if not crops:
            return []
        with self.using():
            read = self._ocr.recognize_txt(crops)
        infos = read.word_results or [None] * len(crops)
        lines = []
        for text, score, info, quad, flat in zip(read.txts, read.scores, infos, quads, upright, strict=True):
            if cleaned(str(text)):
                edges = char_edges(str(text), info) if flat else None
                lines.append(OcrLine(cleaned(str(text)), float(score), quad, edges))
        return lines

    def read_strict(
        self, image: NDArray[np.uint8], *, min_confidence: float = STRICT_MIN_CONFIDENCE, scale: float = 1.0
    ) -> list[tuple[str, float, NDArray[np.float32]]]:
        """Every line of text in RGB ``image``, read to prove a safe copy clean: no gate, the whole
        image at ``read_side`` for large text and in tiles at ``scale`` (1.0: full resolution) for
        small print, lower thresholds, each line once. (text, score, quad in ``image``'s pixels)."""
        if is_flat(image):
            return []
        small, factor = resized(image, round(max(image.shape[:2]) * min(1.0, scale)))
        everywhere = [(0, 0, small.shape[1], small.shape[0])]
        tiled = self.detect_regions(small, everywhere, STRICT_BOX_THRESHOLD, STRICT_PRINT_STEP) * factor
        whole = self.detect(image, self.read_side, STRICT_BOX_THRESHOLD)
        lines = self.recognise(image, np.concatenate([tiled, distinct(whole, tiled)]))
        return [(line.text, line.score, line.quad) for line in once(lines) if line.score >= min_confidence]
