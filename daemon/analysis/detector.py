"""The detector interface. The pipeline knows only this module, never a concrete detector.

A detector is a small class with one job. It declares its name, version and what it needs
(metadata only, or pixels at a given size), receives a ``PhotoContext`` and returns typed
findings. Built-in detectors register through the ``shadowlens.detectors`` entry-point group,
exactly as a third-party package would.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

import numpy as np
from numpy.typing import NDArray
from PIL import Image
from pydantic import BaseModel, ConfigDict, Field
from shadowlens.daemon.analysis.decode import DecodedPhoto
from shadowlens.daemon.analysis.findings import Finding
from shadowlens.daemon.analysis.hooks import FindingHooks

if TYPE_CHECKING:
    from shadowlens.daemon.config import Config


class DetectorSettings(BaseModel):
    """Base for a detector's ``[detectors.<name>]`` section."""

    model_config = ConfigDict(extra="forbid")
    enabled: bool = True
    # A detector that takes longer on one photo is stopped and recorded as that photo's error.
    time_limit_seconds: float = Field(default=120.0, gt=0)


@dataclass(frozen=True)
class Needs:
    """What a detector consumes. ``pixels`` is the long side it wants, or None for metadata only."""

    pixels: int | None = None
    full_resolution: bool = False


@dataclass
class PhotoContext:
    """Everything a detector may read about one photo, plus the findings of earlier detectors."""

    path: Path
    decoded: DecodedPhoto
    findings: list[Finding] = field(default_factory=list)

    def pixels(self, max_side: int | None) -> Image.Image:
        return self.decoded.pixels(max_side)

    def rgb(self, max_side: int | None) -> tuple[NDArray[np.uint8], float]:
        """The upright image as an H x W x 3 array, and the factor from its pixels to full size."""
        array = self.decoded.array(max_side)
        return array, self.decoded.width / array.shape[1]

    def found(self, kind: str) -> list[Finding]:
        return [f for f in self.findings if f.kind == kind]


class Detector(FindingHooks, ABC):
    """Finds things in photos. How its findings count (profile facts, exposure reasons, boxes a
    safe copy must cover, how they are shown) is said by the class-level hooks it inherits from
    ``FindingHooks`` and may override: see daemon/analysis/hooks.py."""

    name: ClassVar[str]
    # Instances may refine these from their settings (say, the models they chose).
    version: str
    needs: Needs = Needs()
    # Names of detectors whose findings this one reads; they run first.
    after: ClassVar[tuple[str, ...]] = ()
    Settings: ClassVar[type[DetectorSettings]] = DetectorSettings

    def __init__(self, settings: DetectorSettings) -> None:
        self.settings = settings

    @abstractmethod
    def detect(self, photo: PhotoContext) -> list[Finding]:
        """Findings for one photo. Raising records an error for this photo and detector only."""

    def detect_batch(self, photos: Sequence[PhotoContext]) -> list[list[Finding]]:
        """Findings for several photos at once; override when bulk work is cheaper."""
        return [self.detect(photo) for photo in photos]

    @classmethod  # optional hook: most detectors need no global settings
    def configure(cls, config: Config) -> None:
        """Read global settings (paths, model search folders) before instances are made."""

    def pop_timings(self, photo: PhotoContext) -> dict[str, float]:
        """Per-stage seconds of the last ``detect`` on ``photo``, if the detector measures them."""
        return {}

    def close(self) -> None:  # optional hook, most detectors hold nothing
        """Release models or other resources; called when the pipeline shuts down."""
