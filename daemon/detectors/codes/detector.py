"""Barcodes and QR codes with zxing-cpp, every format it reads."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import ClassVar

from pydantic import Field
from shadowlens.daemon.api import (
    CodeFinding,
    Detector,
    DetectorSettings,
    ExposureContext,
    ExposurePoints,
    Fact,
    Finding,
    Needs,
    Part,
    PhotoContext,
    Reason,
    ScrubBox,
    StoredFinding,
    document_reasons,
)
from shadowlens.daemon.detectors.codes.payloads import classify


class CodesSettings(DetectorSettings):
    long_side: int = Field(default=1600, ge=320, le=8192)


# Payloads that are personal data in themselves, in words (reasons never carry the value).
PERSONAL = {"wifi": "Wi-Fi password (QR code)", "contact": "contact card (QR code)"}
# A boarding pass names its passenger and flight: an identity document (as the exposure score
# counts it) that a safe copy fills like personal data.
IDENTITY = {"boarding_pass": "a boarding pass"}


class CodesDetector(Detector):
    name = "codes"
    version = "1"
    Settings: ClassVar[type[DetectorSettings]] = CodesSettings
    counts: ClassVar[frozenset[str] | None] = frozenset({"code"})
    reads: ClassVar[tuple[str, ...] | None] = ("payload_type",)

    @classmethod
    def facts(cls, finding: StoredFinding) -> Iterable[Fact]:
        return (("code", _payload(finding)),)

    @classmethod
    def exposure(
        cls, findings: Sequence[StoredFinding], context: ExposureContext, points: ExposurePoints
    ) -> list[Reason]:
        types = {_payload(f) for f in findings}
        # After the ID card (rank 0) and the personal data's own parts (rank 1), as a pass is read.
        identity = tuple(Part(2, t, words) for t, words in IDENTITY.items() if t in types)
        personal = tuple(Part(1, t, words) for t, words in PERSONAL.items() if t in types)
        return document_reasons(identity, personal, points)

    @classmethod
    def scrub_boxes(cls, finding: StoredFinding) -> Iterable[ScrubBox]:
        if finding.bbox is None:
            return ()
        personal = _payload(finding) in PERSONAL or _payload(finding) in IDENTITY
        return (ScrubBox(finding.bbox, "personal_data" if personal else "text"),)

    @classmethod
    def shown(cls, finding: StoredFinding) -> str:
        payload = finding.attrs.get("payload")
        return f"code {finding.label}: {_payload(finding)}" + (f" {payload}" if payload else "")

    def __init__(self, settings: DetectorSettings) -> None:
        super().__init__(settings)
        assert isinstance(settings, CodesSettings)
        self.long_side = settings.long_side
        self.needs = Needs(pixels=settings.long_side)

    def detect(self, photo: PhotoContext) -> list[Finding]:
        import zxingcpp

        image, scale = photo.rgb(self.long_side)
        findings: list[Finding] = []
        for code in zxingcpp.read_barcodes(image):
            if not code.valid or not code.text:
                continue
            fmt = code.format.name
            payload = classify(code.text, fmt)
            corners = [
                code.position.top_left,
                code.position.top_right,
                code.position.bottom_right,
                code.position.bottom_left,
            ]
            xs, ys = [p.x * scale for p in corners], [p.y * scale for p in corners]
            box = (min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys))
            findings.append(
                CodeFinding(
                    label=fmt,
                    bbox=box,
                    payload_type=payload.type,
                    payload=payload.shown,
                    details=payload.details,
                )
            )
        return findings


def _payload(finding: StoredFinding) -> str:
    return str(finding.attrs.get("payload_type") or "text")
