"""Document, ID card and screenshot hints, from what the other detectors found.

A screenshot has no camera behind it and a screen's shape; a document is mostly text; an ID card
or passport has a machine-readable zone, a card number or the words printed on such cards.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import ClassVar

from pydantic import Field
from shadowlens.daemon.api import (
    CodeFinding,
    Detector,
    DetectorSettings,
    DeviceFinding,
    ExposureContext,
    ExposurePoints,
    Finding,
    Part,
    PhotoContext,
    Reason,
    StoredFinding,
    TextFinding,
)

# Portrait phone screens and common desktop/laptop screens, as width x height in pixels.
SCREEN_SIZES = frozenset(
    {
        (750, 1334),
        (828, 1792),
        (1080, 1920),
        (1080, 2340),
        (1080, 2400),
        (1170, 2532),
        (1179, 2556),
        (1242, 2208),
        (1242, 2688),
        (1284, 2778),
        (1290, 2796),
        (1440, 2560),
        (1440, 3040),
        (1440, 3200),
        (1366, 768),
        (1440, 900),
        (1536, 864),
        (1600, 900),
        (1920, 1080),
        (1920, 1200),
        (2560, 1440),
        (2560, 1600),
        (2880, 1800),
        (3024, 1964),
        (3840, 2160),
    }
)
ID_WORDS = re.compile(
    r"\b(passport|passeport|reisepass|identity card|id card|carte d'identit|personalausweis|"
    r"carta d'identit|documento nacional|driving licen[cs]e|driver'?s licen[cs]e|f[üu]hrerschein|permis de conduire)\b",
    re.IGNORECASE,
)
SCREENSHOT_SOFTWARE = re.compile(
    r"screenshot|screen ?shot|snipping|greenshot|flameshot|gnome-screenshot", re.I
)


@dataclass(frozen=True, kw_only=True)
class SceneFinding(Finding):
    kind: ClassVar[str] = "scene"
    evidence: list[str] = field(default_factory=list)


class SceneSettings(DetectorSettings):
    document_min_lines: int = Field(default=8, ge=2)
    document_min_text_area: float = Field(default=0.15, gt=0, le=1)


class SceneDetector(Detector):
    name = "scene"
    version = "1"
    after = ("metadata", "text", "pii", "codes")
    Settings: ClassVar[type[DetectorSettings]] = SceneSettings
    # Each scene counts as the fact ("scene", label): the default facts hook.
    counts: ClassVar[frozenset[str] | None] = frozenset({"scene"})
    reads: ClassVar[tuple[str, ...] | None] = ()

    @classmethod
    def exposure(
        cls, findings: Sequence[StoredFinding], context: ExposureContext, points: ExposurePoints
    ) -> list[Reason]:
        labels = {f.label for f in findings}
        reasons = []
        if "id_card" in labels:
            # Named first: the card is what the other detectors' parts (its MRZ, its number) are on.
            card = (Part(0, "id_card", "an ID card or passport"),)
            reasons.append(
                Reason(
                    "identity_document",
                    points.identity_document,
                    "identity or payment document",
                    parts=card,
                    supersedes=frozenset({"document"}),
                )
            )
        if "document" in labels:
            reasons.append(Reason("document", points.document, "a document (many lines of text)"))
        if "screenshot" in labels:
            reasons.append(Reason("screenshot", points.screenshot, "a screenshot (messages, accounts, apps)"))
        return reasons

    def detect(self, photo: PhotoContext) -> list[Finding]:
        assert isinstance(self.settings, SceneSettings)
        lines = [f for f in photo.findings if isinstance(f, TextFinding)]
        pii = [f for f in photo.findings if f.kind == "pii"]
        found: list[Finding] = []
        shot = self._screenshot(photo, lines)
        if shot:
            found.append(SceneFinding(label="screenshot", confidence=0.8, evidence=shot))
        id_card = self._id_card(lines, pii, photo)
        if id_card:
            found.append(SceneFinding(label="id_card", confidence=0.85, evidence=id_card))
        document = self._document(photo, lines, pii)
        if document:
            found.append(SceneFinding(label="document", confidence=0.7, evidence=document))
        return found

    @staticmethod
    def _screenshot(photo: PhotoContext, lines: list[TextFinding]) -> list[str]:
        device = next((f for f in photo.findings if isinstance(f, DeviceFinding)), None)
        size = (photo.decoded.width, photo.decoded.height)
        software = device.software if device else None
        if software and SCREENSHOT_SOFTWARE.search(software):
            return [f"made by {software}"]
        if device is not None and (device.make or device.model):
            return []  # a camera took it
        evidence = ["no camera in the metadata"]
        if size in SCREEN_SIZES or size[::-1] in SCREEN_SIZES:
            evidence.append(f"screen-sized ({size[0]}x{size[1]})")
        if lines:
            evidence.append(f"{len(lines)} lines of text")
        return (
            evidence if len(evidence) >= 3 or (len(evidence) == 2 and "screen-sized" in evidence[1]) else []
        )

    @staticmethod
    def _id_card(lines: list[TextFinding], pii: list[Finding], photo: PhotoContext) -> list[str]:
        evidence = [
            f"machine-readable zone ({p.attrs().get('details', {}).get('format', 'MRZ')})"
            for p in pii
            if p.label == "mrz"
        ]
        words = sorted({m.group(0) for line in lines for m in [ID_WORDS.search(line.label)] if m})
        evidence += [f"printed '{w}'" for w in words]
        evidence += ["payment card number" for p in pii if p.label == "card"][:1]
        evidence += [
            "boarding pass barcode"
            for f in photo.findings
            if isinstance(f, CodeFinding) and f.payload_type == "boarding_pass"
        ][:1]
        return evidence

    def _document(self, photo: PhotoContext, lines: list[TextFinding], pii: list[Finding]) -> list[str]:
        assert isinstance(self.settings, SceneSettings)
        area = photo.decoded.width * photo.decoded.height or 1
        covered = sum(f.bbox[2] * f.bbox[3] for f in lines if f.bbox) / area
        evidence: list[str] = []
        if len(lines) >= self.settings.document_min_lines and covered >= self.settings.document_min_text_area:
            evidence.append(f"{len(lines)} lines of text covering {covered:.0%} of the image")
        if evidence and any(p.label in ("address", "postcode", "date_of_birth") for p in pii):
            evidence.append("an address or a date of birth")
        return evidence
