"""Brands read from the text in a photo, and from the product codes on it."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import ClassVar

from shadowlens.daemon.api import (
    BrandFinding,
    CodeFinding,
    Detector,
    DetectorSettings,
    ExposureContext,
    ExposurePoints,
    Fact,
    Finding,
    FindingHooks,
    Part,
    PhotoContext,
    Reason,
    StoredFinding,
    TextFinding,
)
from shadowlens.daemon.detectors.text.lexicon import Lexicon, Match, default_lexicon

# Brands listed by name in a photo's reason; more only make the line longer.
MAX_LISTED = 5


class BrandHooks(FindingHooks):
    """How brand findings count, whoever found them (text, product codes, logos)."""

    counts: ClassVar[frozenset[str] | None] = frozenset({"brand"})
    reads: ClassVar[tuple[str, ...] | None] = ("category", "parent", "via")

    @classmethod
    def facts(cls, finding: StoredFinding) -> Iterable[Fact]:
        category = finding.attrs.get("category")
        return (("brand", finding.label), *((("brand_category", str(category)),) if category else ()))

    @classmethod
    def exposure(
        cls, findings: Sequence[StoredFinding], context: ExposureContext, points: ExposurePoints
    ) -> list[Reason]:
        names = tuple(Part(1, f.label, f.label) for f in findings)
        if not names:
            return []
        return [Reason("brands", points.brands, "brands a marketer can read", parts=names, most=MAX_LISTED)]

    @classmethod
    def shown(cls, finding: StoredFinding) -> str:
        a = finding.attrs
        how = ", ".join(str(a[k]) for k in ("category", "via") if a.get(k))
        return f"brand {finding.label}" + (f" ({how})" if how else "")


class BrandsDetector(BrandHooks, Detector):
    """Brands from product codes and from OCR lines.

    A spelling that is an ordinary word ("Total", "Shell", "Apple") counts only with stronger evidence:
    - a logo finding of the same company (the logos detector runs first when it is enabled);
    - a same-company cue: another brand of the same parent read distinctively or scanned from a GTIN
      ("Shell" next to "V-Power", "Apple" next to "iPhone", "Heinz" on a can whose barcode is Kraft Heinz);
    - isolation plus confidence: alone on its line, read with confidence >= 0.85, and not a very common
      word (see lexicon.VERY_COMMON_ZIPF: a lone "TOTAL" on a receipt is a heading, not a petrol brand).
    A price or product word on the same line is deliberately not evidence: "TOTAL 23.40" and
    "Orange juice 3.50" have both.
    """

    name = "brands"
    # 2: ordinary words need stronger evidence, and fuel and energy drinks are categories of their
    # own; a new version re-analyses indexed photos, dropping the brands version 1 read wrongly.
    # 3: pet food and oral care are categories of their own (dog food made foodies).
    version = "3"
    after = ("text", "codes", "logos")
    Settings: ClassVar[type[DetectorSettings]] = DetectorSettings

    def __init__(self, settings: DetectorSettings, lexicon: Lexicon | None = None) -> None:
        super().__init__(settings)
        self._lexicon = lexicon

    @property
    def lexicon(self) -> Lexicon:
        # Loaded for the first photo with text or a product code, not when a worker starts: it
        # took 0.25 s (wordfreq's lists) of every restarted pool's start, and most photos have neither.
        if self._lexicon is None:
            self._lexicon = default_lexicon()
        return self._lexicon

    def detect(self, photo: PhotoContext) -> list[Finding]:
        found: dict[str, BrandFinding] = {}
        pending: list[tuple[Match, TextFinding]] = []
        logo_parents = {f.parent for f in photo.findings if isinstance(f, BrandFinding) and f.via == "logo"}
        for finding in photo.findings:
            if isinstance(finding, CodeFinding) and finding.payload_type == "product":
                brand = self.lexicon.by_gtin(str(finding.details.get("gtin", "")))
                if brand:
                    found[brand.name] = BrandFinding(
                        label=brand.name,
                        confidence=0.9,
                        bbox=finding.bbox,
                        category=brand.category,
                        parent=brand.parent,
                        via="code",
                        matched=finding.payload,
                        score=1.0,
                    )
            if isinstance(finding, TextFinding):
                for match in self.lexicon.match_line(finding.label, finding.confidence):
                    pending.append((match, finding))
        cues = logo_parents | {b.parent for b in found.values()}
        cues |= {m.brand.parent for m, _ in pending if not m.ordinary or m.stands_alone}
        for match, line in pending:
            if match.ordinary and not match.stands_alone and match.brand.parent not in cues:
                continue  # an ordinary word ("total", "shell") with no stronger evidence
            confidence = round(line.confidence * match.score, 4)
            if match.brand.name in found and found[match.brand.name].confidence >= confidence:
                continue
            found[match.brand.name] = BrandFinding(
                label=match.brand.name,
                confidence=confidence,
                bbox=line.bbox,
                category=match.brand.category,
                parent=match.brand.parent,
                via="text",
                matched=match.matched,
                score=match.score,
            )
        return list(found.values())
