"""The stable plugin surface: everything a detector, built-in or third-party, may import.

A detector package depends on this module only. What lies behind it (the pipeline, the pool, the
index) may move; these names stay:

- ``Detector``, ``DetectorSettings`` (its ``[detectors.<name>]`` section), ``Needs`` (pixels or
  metadata only) and ``PhotoContext`` (one photo as the detector sees it);
- the typed findings it returns, and ``BBox``;
- the hooks through which its findings count (as profile facts, exposure reasons, boxes that
  ``scrub`` must cover, and how they are shown), declared on the detector class.

Register a detector under the ``shadowlens.detectors`` entry-point group, as the built-ins do.
"""

from __future__ import annotations

from shadowlens.daemon.analysis.detector import Detector, DetectorSettings, Needs, PhotoContext
from shadowlens.daemon.analysis.findings import (
    BBox,
    BrandFinding,
    CodeFinding,
    DeviceFinding,
    FaceFinding,
    Finding,
    GpsFinding,
    MetadataIssue,
    NameFinding,
    NudityFinding,
    PlaceFinding,
    TextFinding,
    TimeFinding,
    first_of,
)

__all__ = [
    "BBox",
    "BrandFinding",
    "CodeFinding",
    "Detector",
    "DetectorSettings",
    "DeviceFinding",
    "FaceFinding",
    "Finding",
    "GpsFinding",
    "MetadataIssue",
    "NameFinding",
    "Needs",
    "NudityFinding",
    "PhotoContext",
    "PlaceFinding",
    "TextFinding",
    "TimeFinding",
    "first_of",
]
