"""The stable plugin surface: everything a detector, built-in or third-party, may import.

A detector package depends on this module only. What lies behind it (the pipeline, the pool, the
index) may move; these names stay:

- ``Detector``, ``DetectorSettings`` (its ``[detectors.<name>]`` section), ``Needs`` (pixels or
  metadata only) and ``PhotoContext`` (one photo as the detector sees it);
- the typed findings it returns, and ``BBox``;
- the hooks through which its findings count, declared on the detector class (classmethods
  with neutral defaults, from ``FindingHooks``), and what they take and give:

  - ``counts`` / ``reads``: which kinds of its findings count for the profile, and which attrs
    ``facts`` and ``exposure`` read (the index hands over only those);
  - ``facts(finding) -> Iterable[Fact]``: (key, value) signals for the profile; segment rules
    match them by key (``{ tattoo = ["anchor"] }``). Default: (kind, label);
  - ``exposure(findings, context, points) -> list[Reason]``: the reasons a photo's findings of
    this detector add to its exposure score, with the detector's default points
    (``[alerts.points]`` overrides any code). Default: none; ``exposure_sees`` names kinds of
    the other detectors' findings of the photo it receives too (``{"face"}``: a child nearby);
  - ``scrub_boxes(finding) -> Iterable[ScrubBox]``: areas a safe copy pixelates ("face") or
    fills ("personal_data", "text"). Default: none;
  - ``shown(finding) -> str``: one line for people. Default: "kind label".

  They receive ``StoredFinding``s: one shape whether a finding comes from the index or a fresh
  analysis.

Register a detector under the ``shadowlens.detectors`` entry-point group, as the built-ins do.
"""

from __future__ import annotations

from shadowlens.daemon.analysis.detector import Detector, DetectorSettings, Needs, PhotoContext
from shadowlens.daemon.analysis.findings import (
    BBox,
    BrandFinding,
    CaptionFinding,
    CodeFinding,
    DeviceFinding,
    FaceFinding,
    Finding,
    GpsFinding,
    KeywordsFinding,
    MetadataIssue,
    NameFinding,
    NudityFinding,
    PlaceFinding,
    RawPairFinding,
    TextFinding,
    TimeFinding,
    WrittenPlaceFinding,
    first_of,
)
from shadowlens.daemon.analysis.hooks import (
    ExposureContext,
    Fact,
    FindingHooks,
    Part,
    Reason,
    ScrubBox,
    StoredFinding,
    document_reasons,
)
from shadowlens.daemon.config import ExposurePoints

__all__ = [
    "BBox",
    "BrandFinding",
    "CaptionFinding",
    "CodeFinding",
    "Detector",
    "DetectorSettings",
    "DeviceFinding",
    "ExposureContext",
    "ExposurePoints",
    "FaceFinding",
    "Fact",
    "Finding",
    "FindingHooks",
    "GpsFinding",
    "KeywordsFinding",
    "MetadataIssue",
    "NameFinding",
    "Needs",
    "NudityFinding",
    "Part",
    "PhotoContext",
    "PlaceFinding",
    "RawPairFinding",
    "Reason",
    "ScrubBox",
    "StoredFinding",
    "TextFinding",
    "TimeFinding",
    "WrittenPlaceFinding",
    "document_reasons",
    "first_of",
]
