"""Installing a throwaway third-party detector distribution for a test (a real dist-info on PYTHONPATH)."""

from __future__ import annotations

import textwrap
from pathlib import Path


def install_plugin(site: Path, module: str, entry_name: str, class_name: str, source: str) -> Path:
    site.mkdir(parents=True, exist_ok=True)
    (site / f"{module}.py").write_text(textwrap.dedent(source))
    dist = site / f"{module}-0.1.dist-info"
    dist.mkdir(exist_ok=True)
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {module}\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(f"[shadowlens.detectors]\n{entry_name} = {module}:{class_name}\n")
    return site


SLEEPY = """
from __future__ import annotations

import os
import time

from shadowlens.daemon.api import Detector, Finding, PhotoContext


class SleepyDetector(Detector):
    '''Takes SLEEPY_SECONDS on photos named slow-*: a stand-in for a slow model.'''

    name = "sleepy"
    version = "1"

    def detect(self, photo: PhotoContext) -> list[Finding]:
        if photo.path.name.startswith("slow-"):
            time.sleep(float(os.environ.get("SLEEPY_SECONDS", "0")))
        return []
"""


TATTOO = """
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from shadowlens.daemon.api import (
    Detector,
    ExposureContext,
    ExposurePoints,
    Fact,
    Finding,
    Needs,
    PhotoContext,
    Reason,
    ScrubBox,
    StoredFinding,
)


@dataclass(frozen=True, kw_only=True)
class TattooFinding(Finding):
    kind: ClassVar[str] = "tattoo"
    motif: str


class TattooDetector(Detector):
    '''Finds a "tattoo" (a bright green patch: a stand-in for a model) and says how it counts:
    a profile fact, an exposure reason with its own points, an area a safe copy must fill.'''

    name = "tattoo"
    version = "1"
    needs = Needs(pixels=1024)
    reads: ClassVar[tuple[str, ...] | None] = ("motif",)

    def detect(self, photo: PhotoContext) -> list[Finding]:
        rgb, scale = photo.rgb(self.needs.pixels)
        r, g, b = (rgb[:, :, i].astype(int) for i in range(3))
        ys, xs = np.nonzero((g > 150) & (r < 100) & (b < 100))
        if len(xs) < 50:
            return []
        box = (xs.min() * scale, ys.min() * scale, (xs.max() - xs.min() + 1) * scale, (ys.max() - ys.min() + 1) * scale)
        return [TattooFinding(label="anchor", bbox=tuple(float(v) for v in box), motif="anchor")]

    @classmethod
    def facts(cls, finding: StoredFinding) -> Iterable[Fact]:
        return (("tattoo", str(finding.attrs.get("motif"))),)

    @classmethod
    def exposure(
        cls, findings: Sequence[StoredFinding], context: ExposureContext, points: ExposurePoints
    ) -> list[Reason]:
        return [Reason("tattoo", 20, "a tattoo that can identify you")] if findings else []

    @classmethod
    def scrub_boxes(cls, finding: StoredFinding) -> Iterable[ScrubBox]:
        return (ScrubBox(finding.bbox, "personal_data"),) if finding.bbox else ()

    @classmethod
    def shown(cls, finding: StoredFinding) -> str:
        return f"tattoo: {finding.attrs.get('motif')} motif"
"""

# Kills its process on photos named crash-*: how a native decoder's segfault looks to the pool.
CRASHER = """
from __future__ import annotations

import os

from shadowlens.daemon.api import Detector, Finding, PhotoContext


class CrashDetector(Detector):
    '''Kills its process on photos named crash-*, as a native decoder bug would.'''

    name = "crasher"
    version = "1"

    def detect(self, photo: PhotoContext) -> list[Finding]:
        if photo.path.name.startswith("crash-"):
            os._exit(70)
        return []
"""
