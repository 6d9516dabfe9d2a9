"""Text in photos: PP-OCR through rapidocr, with the models that ship inside its wheel.

rapidocr finds text regions on a reduced image and recognises only those regions, so a photo
with no text costs one small detection pass.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from pydantic import Field
from shadowlens.daemon.detectors.base import Detector, DetectorSettings, Needs, PhotoContext
from shadowlens.daemon.detectors.text.findings import TextFinding
from shadowlens.daemon.findings import Finding
from shadowlens.models.sessions import LazyModel, threads_per_worker


class OcrSettings(DetectorSettings):
    long_side: int = Field(default=1600, ge=320, le=8192)
    # The cheap first pass: text detection alone on an image this small. Most photos stop here.
    gate_side: int = Field(default=640, ge=160, le=4096)
    # The second pass detects again at this size and recognises only the regions it finds.
    read_side: int = Field(default=960, ge=320, le=8192)
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


class RapidOcrEngine(LazyModel):
    def __init__(self, gate_side: int = 640, read_side: int = 960, ttl: float = 300.0) -> None:
        super().__init__(ttl)
        self.gate_side, self.read_side = gate_side, read_side
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
            output = self._engine(bgr, use_cls=False)
        if output.boxes is None or output.txts is None:
            return []
        return [
            (str(t), float(s), np.asarray(b, dtype=np.float32))
            for t, s, b in zip(output.txts, output.scores, output.boxes, strict=True)
        ]


class OcrDetector(Detector):
    name = "text"
    version = "1"
    Settings: ClassVar[type[DetectorSettings]] = OcrSettings

    def __init__(self, settings: DetectorSettings) -> None:
        super().__init__(settings)
        assert isinstance(settings, OcrSettings)
        self.options = settings
        self.needs = Needs(pixels=settings.long_side)
        self.engine = RapidOcrEngine(settings.gate_side, settings.read_side)

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
