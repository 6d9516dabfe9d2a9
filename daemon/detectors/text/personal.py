"""Personal data in the text of a photo: e-mail, phones, addresses, cards, IBANs, MRZ, names,
places, dates, sex and more.

The value is kept in the index (it is the user's own data, in their own private index); every
place that shows it outside the index (notifications, logs) uses the masked form. A finding's box
covers the characters of the value only (from the line's polygon and character positions), so a
safe copy blackens the name, not the whole line it stands on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import Field, field_validator
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
from shadowlens.daemon.detectors.text.line_geometry import span_box
from shadowlens.daemon.detectors.text.pii_regions import choose_regions, country_code, locale_region

if TYPE_CHECKING:
    from shadowlens.daemon.detectors.text.pii import PiiMatch


class PiiSettings(DetectorSettings):
    """``[detectors.pii]``: which country a phone number written without its +code is from when
    the photo has no place (a screenshot, a scan): ``home_country``, else the system locale's,
    else ``regions`` in order (the countries of the library, filled from the index)."""

    home_country: str | None = None
    regions: list[str] = Field(default_factory=list)

    @field_validator("home_country", mode="after")
    @classmethod
    def _home(cls, value: str | None) -> str | None:
        return None if value is None else country_code(value)

    @field_validator("regions", mode="after")
    @classmethod
    def _regions(cls, values: list[str]) -> list[str]:
        return [country_code(v) for v in values]


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
# Types that describe a person rather than reach them: each is a reason of its own, with its own
# points in [alerts.points] (code, words).
DESCRIBING = {
    "name": ("person_name", "a person's name"),
    "place": ("place_name", "a place tied to someone (birthplace, home town, address city)"),
    "date": ("labelled_date", "a labelled date (a visit, an exam, an issue or expiry)"),
    "sex": ("sex", "sex or gender"),
}


def _box(match: PiiMatch, lines: Sequence[TextFinding], offsets: Sequence[int]) -> BBox | None:
    """The box of the match's characters: on each line it touches, the part it covers (the whole
    line's box for a line without a polygon), united."""
    boxes: list[BBox] = []
    for index in range(match.line, len(lines)):
        line, start = lines[index], offsets[index]
        if start >= match.end:
            break
        first, last = max(match.start, start) - start, min(match.end, start + len(line.label)) - start
        if last <= first:
            continue
        if line.polygon and len(line.polygon) >= 4:
            boxes.append(span_box(line.polygon, len(line.label), first, last, line.char_edges))
        elif line.bbox:
            boxes.append(line.bbox)
    return _union(boxes)


class PersonalDataDetector(Detector):
    name = "pii"
    version = "2"
    after = ("text", "place")
    Settings: ClassVar[type[DetectorSettings]] = PiiSettings
    counts: ClassVar[frozenset[str] | None] = frozenset({"pii"})
    reads: ClassVar[tuple[str, ...] | None] = ()

    @classmethod
    def exposure(
        cls, findings: Sequence[StoredFinding], context: ExposureContext, points: ExposurePoints
    ) -> list[Reason]:
        types = {f.label for f in findings}
        identity = tuple(Part(1, t, words) for t, words in IDENTITY.items() if t in types)
        personal = tuple(Part(1, t, words) for t, words in PERSONAL.items() if t in types)
        reasons = document_reasons(identity, personal, points)
        for kind, (code, words) in DESCRIBING.items():
            if kind in types:
                reasons.append(Reason(code, points.of(code, 0), words))
        return reasons

    @classmethod
    def scrub_boxes(cls, finding: StoredFinding) -> Iterable[ScrubBox]:
        return (ScrubBox(finding.bbox, "personal_data"),) if finding.bbox else ()

    @classmethod
    def shown(cls, finding: StoredFinding) -> str:
        describing = DESCRIBING.get(finding.label)
        words = IDENTITY.get(finding.label) or PERSONAL.get(finding.label)
        words = words or (describing[1] if describing else finding.label)
        masked = finding.attrs.get("masked")
        return f"{words}: {masked}" if masked else words

    def __init__(
        self, settings: DetectorSettings, system_region: Callable[[], str | None] = locale_region
    ) -> None:
        super().__init__(settings)
        self.pii = settings if isinstance(settings, PiiSettings) else PiiSettings()
        # Read once: a worker's locale does not change while it runs (and tests pass their own).
        self.system_region = system_region()

    def detect(self, photo: PhotoContext) -> list[Finding]:
        lines = [f for f in photo.findings if isinstance(f, TextFinding)]
        if not lines:
            return []
        # Imported with the first photo that has text, not when a worker builds its detectors: its
        # patterns and phonenumbers' tables delayed every restarted pool by 0.07 s.
        from shadowlens.daemon.detectors.text.pii import find_pii

        place = next((f for f in photo.findings if isinstance(f, PlaceFinding)), None)
        regions = choose_regions(
            place.country_code if place else None, self.pii.home_country, self.system_region, self.pii.regions
        )
        offsets = [0]
        for line in lines:
            offsets.append(offsets[-1] + len(line.label) + 1)
        findings: list[Finding] = []
        for match in find_pii([line.label for line in lines], regions):
            # A match spans one line, or a few consecutive ones (an address block, an MRZ).
            last = next(i for i in range(len(lines)) if offsets[i + 1] > max(match.start, match.end - 1))
            covered = lines[match.line : last + 1]
            confidence = min(line.confidence for line in covered) * match.confidence
            findings.append(
                PiiFinding(
                    label=match.type,
                    confidence=round(confidence, 4),
                    bbox=_box(match, lines, offsets),
                    value=match.value,
                    masked=match.masked,
                    details=dict(match.details),
                )
            )
        return findings
