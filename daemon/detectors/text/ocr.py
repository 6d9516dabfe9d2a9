"""Text in photos: PP-OCR through rapidocr, with the models that ship inside its wheel.

rapidocr finds text regions on a reduced image and recognises only those regions, so a photo
with no text costs one small detection pass.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from pydantic import Field
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
from shadowlens.models.sessions import LazyModel, threads_per_worker


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


Region = tuple[int, int, int, int]


def text_regions(boxes: np.ndarray, shape: tuple[int, ...], margin: float) -> list[Region]:
    """Rectangles (x0, y0, x1, y1) around the gate's text boxes, grown by ``margin`` of the long
    side and merged where they overlap; one whole-image region when they cover most of it."""
    height, width = shape[:2]
    pad = margin * max(width, height)
    regions: list[Region] = []
    for quad in boxes:
        pts = np.asarray(quad, dtype=np.float32).reshape(-1, 2)
        regions.append(
            (
                max(0, int(pts[:, 0].min() - pad)),
                max(0, int(pts[:, 1].min() - pad)),
                min(width, int(pts[:, 0].max() + pad) + 1),
                min(height, int(pts[:, 1].max() + pad) + 1),
            )
        )
    merged = True
    while merged:
        merged = False
        for i, a in enumerate(regions):
            for j in range(i + 1, len(regions)):
                b = regions[j]
                if a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]:
                    regions[i] = (min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3]))
                    del regions[j]
                    merged = True
                    break
            if merged:
                break
    area = sum((x1 - x0) * (y1 - y0) for x0, y0, x1, y1 in regions)
    # Overlapping crops would read a line twice; past this share one pass over it all is cheaper.
    if area > 0.6 * width * height:
        return [(0, 0, width, height)]
    return regions


class RapidOcrEngine(LazyModel):
    def __init__(
        self, gate_side: int = 416, read_side: int = 960, read_margin: float = 0.12, ttl: float = 300.0
    ) -> None:
        super().__init__(ttl)
        self.gate_side, self.read_side, self.read_margin = gate_side, read_side, read_margin
        self._engine: Any = None
        self._gate: Any = None

    def _load(self) -> None:
        import logging

        from rapidocr import RapidOCR

        models = bundled_models()
        threads = threads_per_worker()
        params: dict[str, Any] = {
            "Global.log_level": "error",
            "EngineConfig.onnxruntime.intra_op_num_threads": threads,
            "EngineConfig.onnxruntime.inter_op_num_threads": 1,
            "Det.model_path": str(models["det"]),
            "Cls.model_path": str(models["cls"]),
            "Rec.model_path": str(models["rec"]),
            "Global.use_cls": False,  # photos are upright once EXIF orientation is applied
            "Det.limit_type": "max",
        }
        self._gate = RapidOCR(params={**params, "Det.limit_side_len": self.gate_side})
        self._engine = RapidOCR(params={**params, "Det.limit_side_len": self.read_side})
        logging.getLogger("RapidOCR").setLevel(logging.ERROR)

    def _unload(self) -> None:
        self._engine = self._gate = None

    def read(self, image: np.ndarray) -> list[tuple[str, float, np.ndarray]]:
        bgr = np.ascontiguousarray(image[:, :, ::-1])
        with self.using():
            gate = self._gate(bgr, use_cls=False, use_rec=False)
            if gate.boxes is None or len(gate.boxes) == 0:
                return []
            lines: list[tuple[str, float, np.ndarray]] = []
            for x0, y0, x1, y1 in text_regions(gate.boxes, bgr.shape, self.read_margin):
                output = self._engine(np.ascontiguousarray(bgr[y0:y1, x0:x1]), use_cls=False)
                if output.boxes is None or output.txts is None:
                    continue
                offset = np.array([x0, y0], dtype=np.float32)
                lines.extend(
                    (str(t), float(s), np.asarray(b, dtype=np.float32) + offset)
                    for t, s, b in zip(output.txts, output.scores, output.boxes, strict=True)
                )
        return lines


class OcrDetector(Detector):
    name = "text"
    version = "1"
    Settings: ClassVar[type[DetectorSettings]] = OcrSettings
    # A line of text is no signal by itself: what it says counts through brands and personal data.
    counts: ClassVar[frozenset[str] | None] = frozenset()

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
        self.engine = RapidOcrEngine(settings.gate_side, settings.read_side, settings.read_margin)

    def detect(self, photo: PhotoContext) -> list[Finding]:
        image, scale = photo.rgb(self.options.long_side)
        findings: list[Finding] = []
        for text, score, quad in self.engine.read(image):
            cleaned = " ".join(text.split())
            if score < self.options.min_confidence or not any(ch.isalnum() for ch in cleaned):
                continue
            full = quad * scale
            x0, y0 = float(full[:, 0].min()), float(full[:, 1].min())
            box = (x0, y0, float(full[:, 0].max()) - x0, float(full[:, 1].max()) - y0)
            findings.append(
                TextFinding(
                    label=cleaned, confidence=round(score, 4), bbox=box, polygon=np.round(full, 1).tolist()
                )
            )
        return findings

    def close(self) -> None:
        self.engine.unload()
