"""Objects, scenes and logos through pluggable YOLO-format ONNX models from the registry.

No such weights ship in a package reachable offline, so these detectors find nothing until a
model is fetched (`shadowlens models fetch yolo-objects`); their version says which model ran.
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
from shadowlens.daemon.detectors.vision.yolo import YoloModel
from shadowlens.daemon.paths import app_paths
from shadowlens.models.registry import ModelUnavailable, Registry


@dataclass(frozen=True, kw_only=True)
class ObjectFinding(Finding):
    kind: ClassVar[str] = "object"
    model: str


class YoloSettings(DetectorSettings):
    model: str = "auto"
    threshold: float = Field(default=0.4, gt=0, lt=1)
    long_side: int = Field(default=1280, ge=320, le=8192)


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
        self.model: YoloModel | None = None
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
        self.model = YoloModel(spec.id, path, labels, settings.threshold)
        self.version = f"1+{spec.id}"

    def _detections(self, photo: PhotoContext) -> tuple[list[Any], float]:
        if self.model is None:
            return [], 1.0
        image, scale = photo.rgb(self.options.long_side)
        return self.model.detect(image), scale


class ObjectsDetector(_YoloDetector):
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
