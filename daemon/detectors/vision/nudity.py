"""Nudity and skin exposure: NudeNet's 320n detector, whose ONNX file ships in its wheel."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from pydantic import Field
from shadowlens.daemon.api import (
    Detector,
    DetectorSettings,
    ExposureContext,
    ExposurePoints,
    Finding,
    Needs,
    NudityFinding,
    PhotoContext,
    Reason,
    StoredFinding,
)
from shadowlens.models.sessions import LazyModel, onnx_session

INFERENCE_SIDE = 320  # the 320n model's input, as NudeDetector's default inference_resolution


class NuditySettings(DetectorSettings):
    long_side: int = Field(default=1280, ge=320, le=8192)
    # Measured here: 0.53 false "exposed belly" on a collage of heads; nothing real scores that low.
    min_confidence: float = Field(default=0.6, ge=0, le=1)


class NudeNetModel(LazyModel):
    def __init__(self, ttl: float = 300.0) -> None:
        super().__init__(ttl)
        self._model: Any = None

    def _load(self) -> None:
        import nudenet
        from nudenet import NudeDetector

        path = Path(nudenet.__file__).parent / "320n.onnx"
        # NudeDetector's constructor opens its own session with every core's threads; it is
        # skipped, so the model is read once (a worker restart waits for every first load), and
        # given what the constructor would set beside a session of the worker's size.
        detector = NudeDetector.__new__(NudeDetector)
        detector.onnx_session = onnx_session(path)
        detector.input_width = detector.input_height = INFERENCE_SIDE
        detector.input_name = detector.onnx_session.get_inputs()[0].name
        self._model = detector

    def _unload(self) -> None:
        self._model = None

    def detect(self, bgr: np.ndarray) -> list[dict[str, Any]]:
        with self.using():
            return list(self._model.detect(bgr))


class NudityDetector(Detector):
    name = "nudity"
    version = "1"
    Settings: ClassVar[type[DetectorSettings]] = NuditySettings
    # Each hit counts as the fact ("nudity", its NudeNet class); exposed ones raise the reason.
    counts: ClassVar[frozenset[str] | None] = frozenset({"nudity"})
    reads: ClassVar[tuple[str, ...] | None] = ("exposed",)

    @classmethod
    def exposure(
        cls, findings: Sequence[StoredFinding], context: ExposureContext, points: ExposurePoints
    ) -> list[Reason]:
        if any(f.attrs.get("exposed") for f in findings):
            return [Reason("nudity", points.nudity, "nudity or exposed skin")]
        return []

    def __init__(self, settings: DetectorSettings) -> None:
        super().__init__(settings)
        assert isinstance(settings, NuditySettings)
        self.options = settings
        self.needs = Needs(pixels=settings.long_side)
        self.model = NudeNetModel()

    def detect(self, photo: PhotoContext) -> list[Finding]:
        image, scale = photo.rgb(self.options.long_side)
        findings: list[Finding] = []
        for hit in self.model.detect(np.ascontiguousarray(image[:, :, ::-1])):
            # NudeNet also boxes faces (FACE_FEMALE, FACE_MALE); the faces detector covers those.
            if float(hit["score"]) < self.options.min_confidence or str(hit["class"]).startswith("FACE_"):
                continue
            x, y, w, h = (float(v) * scale for v in hit["box"])
            label = str(hit["class"])
            part = label.replace("_EXPOSED", "").replace("_COVERED", "").lower()
            findings.append(
                NudityFinding(
                    label=label,
                    confidence=round(float(hit["score"]), 4),
                    bbox=(x, y, w, h),
                    exposed=label.endswith("_EXPOSED"),
                    body_part=part,
                )
            )
        return findings

    def close(self) -> None:
        self.model.unload()
