"""Personal data in the text of a photo: e-mail, phones, addresses, cards, IBANs, MRZ and more.

The value is kept in the index (it is the user's own data, in their own private index); every
place that shows it outside the index (notifications, logs) uses the masked form.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from shadowlens.daemon.api import (
    BBox,
    Detector,
    DetectorSettings,
    ExposureContext,
    ExposurePoints,
    Finding,
    Part,
    PhotoContext,
    PlaceFinding,
    Reason,
    ScrubBox,
    StoredFinding,
    TextFinding,
    document_reasons,
)
from shadowlens.daemon.detectors.text.pii import find_pii


@dataclass(frozen=True, kw_only=True)
class PiiFinding(Finding):
    kind: ClassVar[str] = "pii"
    value: str
    masked: str
    details: dict[str, Any] = field(default_factory=dict)


def _union(boxes: list[BBox]) -> BBox | None:
    if not boxes:
        return None
    x0, y0 = min(b[0] for b in boxes), min(b[1] for b in boxes)
    x1, y1 = max(b[0] + b[2] for b in boxes), max(b[1] + b[3] for b in boxes)
    return (x0, y0, x1 - x0, y1 - y0)


# The types that make a photo an identity or payment document, and those that are personal data,
# in the words reasons use (never the value: reasons reach notifications and logs). URLs are neither.
IDENTITY = {
    "mrz": "passport/ID machine-readable zone",
    "card": "payment card number",
    "iban": "bank account (IBAN)",
}
PERSONAL = {
    "email": "e-mail address",
    "phone": "phone number",
    "address": "street address",
    "postcode": "postcode",
    "date_of_birth": "date of birth",
    "plate": "number plate",
    "handle": "social media handle",
}


class PersonalDataDetector(Detector):
    name = "pii"
    version = "1"
    after = ("text", "place")
    Settings: ClassVar[type[DetectorSettings]] = DetectorSettings
    counts: ClassVar[frozenset[str] | None] = frozenset({"pii"})
    reads: ClassVar[tuple[str, ...] | None] = ()

    @classmethod
    def exposure(
        cls, findings: Sequence[StoredFinding], context: ExposureContext, points: ExposurePoints
    ) -> list[Reason]:
        types = {f.label for f in findings}
        identity = tuple(Part(1, t, words) for t, words in IDENTITY.items() if t in types)
        personal = tuple(Part(1, t, words) for t, words in PERSONAL.items() if t in types)
        return document_reasons(identity, personal, points)

    @classmethod
    def scrub_boxes(cls, finding: StoredFinding) -> Iterable[ScrubBox]:
        return (ScrubBox(finding.bbox, "personal_data"),) if finding.bbox else ()

    @classmethod
    def shown(cls, finding: StoredFinding) -> str:
        words = IDENTITY.get(finding.label) or PERSONAL.get(finding.label) or finding.label
        masked = finding.attrs.get("masked")
        return f"{words}: {masked}" if masked else words

    def detect(self, photo: PhotoContext) -> list[Finding]:
        lines = [f for f in photo.findings if isinstance(f, TextFinding)]
        if not lines:
            return []
        place = next((f for f in photo.findings if isinstance(f, PlaceFinding)), None)
        region = place.country_code if place else None
        findings: list[Finding] = []
        for match in find_pii([line.label for line in lines], region):
            # A match spans one line, or a few consecutive ones (an address block, an MRZ).
            text = "\n".join(line.label for line in lines)
            first = text.count("\n", 0, match.start)
            last = text.count("\n", 0, max(match.start, match.end - 1))
            boxes = [line.bbox for line in lines[first : last + 1] if line.bbox]
            confidence = min(line.confidence for line in lines[first : last + 1]) * match.confidence
            findings.append(
                PiiFinding(
                    label=match.type,
                    confidence=round(confidence, 4),
                    bbox=_union(boxes),
                    value=match.value,
                    masked=match.masked,
                    details=dict(match.details),
                )
            )
        return findings
