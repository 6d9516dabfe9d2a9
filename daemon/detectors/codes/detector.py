"""Barcodes and QR codes with zxing-cpp, every format it reads."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field
from shadowlens.daemon.api import CodeFinding, Detector, DetectorSettings, Finding, Needs, PhotoContext
from shadowlens.daemon.detectors.codes.payloads import classify


class CodesSettings(DetectorSettings):
    long_side: int = Field(default=1600, ge=320, le=8192)


class CodesDetector(Detector):
    name = "codes"
    version = "1"
    Settings: ClassVar[type[DetectorSettings]] = CodesSettings

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
