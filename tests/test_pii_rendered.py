"""Personal data on rendered documents (issue #16), read by the real text detector and then the
personal-data detector, as the pipeline runs them on a file without GPS: form screenshots,
letters, medical-style burned-in headers, national phone numbers and misread links at 12 to 40 px
must give what each line says they give (``tests/rendered_documents.py``); ordinary text nothing.

The detectors run once over the whole set (a module fixture, about 25 s on two cores).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from shadowlens.daemon.analysis.decode import open_photo
from shadowlens.daemon.analysis.detector import PhotoContext
from shadowlens.daemon.analysis.findings import TextFinding
from shadowlens.daemon.config import Config
from shadowlens.daemon.detectors.text.ocr import OcrDetector, OcrSettings
from shadowlens.daemon.detectors.text.personal import PersonalDataDetector, PiiFinding, PiiSettings

from tests.conftest import corpus_or_skip
from tests.rendered_documents import DOCUMENTS, NEGATIVES, POSITIVES, Document, missed, write

# Expected findings the detectors miss today, by document and ``type=part``, with the reason. They
# stay in the set, so recall says what is missed; a test checks they still miss, so a fix is seen
# (and its entry removed).
KNOWN_MISSES = {
    ("form_us_screen_16px", "postcode=62704"): "a ZIP code after a 'ZIP:' label, with no state or "
    "city before it, is no postcode to pii_patterns",
    ("form_uk_screen_24px", "place=Manchester"): "the address runs from 'Address: 10 Downing Street' "
    "to the 'Postcode:' line, over 'Town: Manchester', and the overlap rule drops the place",
    ("form_de_paper_40px", "sex=male"): "PP-OCR reads 'männlich' as 'mønnlich', which is no sex value",
    ("form_de_paper_40px", "postcode=20095"): "a German postcode after 'PLZ / Ort:' with its city, "
    "and no street above, is no postcode to pii_patterns",
    ("form_scan_12px", "name=Maria Garcia"): "the first 12 px line on the 3000 px photo is detected "
    "by neither the read pass nor the small-print pass (the other four lines are)",
    ("letter_us_scan_12px", "address=1600 Oak Avenue"): "the 12 px line's detected box stops "
    "short of its end, so it is read '1600 Oak Ave' (found as an address, without 'nue')",
    ("letter_us_scan_12px", "phone=+12175550199"): "the 12 px line is read 'Phone: (217) 55-0199', "
    "a digit short",
    ("letter_de_photo_24px", "address=Hauptstraße 12"): "PP-OCR reads 'Hauptstraße' as 'Hauptstrae' "
    "(no ß), which has no street suffix left",
    ("medical_xray_24px", "place=Boston"): "'Boston' is as common as an ordinary English word "
    "(Zipf 4.67 >= 4.0) and has no cue (a state, a label) after it",
    ("medical_xray_3000_12px", "name=DOE, JANE"): "the small-print pass finds no print in the 12 px "
    "white-on-dark corner: at most 2 rows of a cell cross 6 sharp edges, print_regions wants 3",
    ("medical_xray_3000_12px", "date_of_birth=1962-04-11"): "the same corner's second line: not detected",
    ("medical_xray_3000_12px", "sex=female"): "the same corner's second line: not detected",
}


@dataclass(frozen=True)
class Read:
    lines: list[str]
    findings: list[PiiFinding]

    @property
    def found(self) -> list[tuple[str, str]]:
        return [(f.label, f.value) for f in self.findings]


def read(document: Document, path: Path, ocr: OcrDetector) -> Read:
    """The text detector, then the personal-data detector, on ``path`` decoded as the pipeline
    decodes it for text; no place finding, as a file without GPS has none."""
    decoded = open_photo(path, want_side=ocr.needs.pixels, max_megapixels=Config().decode.max_megapixels)
    try:
        photo = PhotoContext(path=path, decoded=decoded)
        photo.findings.extend(ocr.detect(photo))
        # No system locale: the country of a national number must not depend on this machine's.
        settings = PiiSettings(home_country=document.page.home_country)
        pii = PersonalDataDetector(settings, system_region=lambda: None)
        found = [f for f in pii.detect(photo) if isinstance(f, PiiFinding)]
        return Read([f.label for f in photo.findings if isinstance(f, TextFinding)], found)
    finally:
        decoded.release()


@pytest.fixture(scope="module")
def reads(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Read]:
    corpus, folder = corpus_or_skip(), tmp_path_factory.mktemp("rendered")
    ocr = OcrDetector(OcrSettings())
    try:
        return {doc.name: read(doc, write(doc, corpus, folder), ocr) for doc in DOCUMENTS}
    finally:
        ocr.close()


def test_the_set_covers_what_issue_16_asks() -> None:
    sizes = {doc.page.text_px for doc in POSITIVES}
    assert {12, 16, 24, 40} <= sizes
    assert any(doc.page.text_px == 12 and doc.page.size[0] >= 3000 for doc in POSITIVES)
    assert {"form", "letter", "medical", "link", "phone"} <= {doc.kind for doc in POSITIVES}
    national = {doc.page.home_country for doc in POSITIVES if doc.kind == "phone"}
    assert {"US", "GB", "DE", None} <= national  # None: a phone label and no home country
    assert len(NEGATIVES) >= 12 and all(not doc.expected for doc in NEGATIVES)
    assert all(doc.expected for doc in POSITIVES)
    names = [doc.name for doc in DOCUMENTS]
    assert len(names) == len(set(names))
    known = {(doc.name, str(e)) for doc in POSITIVES for e in doc.expected}
    assert set(KNOWN_MISSES) <= known, set(KNOWN_MISSES) - known


@pytest.mark.corpus
def test_every_expected_entity_is_found(reads: dict[str, Read]) -> None:
    misses = [
        f"{doc.name}: {wanted} not in {reads[doc.name].found}; lines {reads[doc.name].lines}"
        for doc in POSITIVES
        for wanted in missed(doc, reads[doc.name].found)
        if (doc.name, str(wanted)) not in KNOWN_MISSES
    ]
    assert not misses, "\n".join(misses)


@pytest.mark.corpus
def test_known_misses_still_miss(reads: dict[str, Read]) -> None:
    by_name = {doc.name: doc for doc in POSITIVES}
    fixed = [
        f"{name}: {wanted} is found now ({reason}): remove it from KNOWN_MISSES"
        for (name, wanted), reason in KNOWN_MISSES.items()
        if wanted not in {str(e) for e in missed(by_name[name], reads[name].found)}
    ]
    assert not fixed, "\n".join(fixed)


@pytest.mark.corpus
def test_ordinary_text_gives_no_personal_data(reads: dict[str, Read]) -> None:
    found = {doc.name: reads[doc.name].found for doc in NEGATIVES if reads[doc.name].found}
    assert not found, found
    # The text was read: a page that gave nothing because nothing was read would prove nothing.
    unread = [doc.name for doc in NEGATIVES if len(reads[doc.name].lines) < len(doc.lines)]
    assert not unread, {name: reads[name].lines for name in unread}


@pytest.mark.corpus
def test_national_numbers_are_read_in_the_home_country_or_after_their_label(
    reads: dict[str, Read],
) -> None:
    for doc in POSITIVES:
        for finding in reads[doc.name].findings:
            if finding.label != "phone":
                continue
            details = finding.details
            assert details["international"] is False, (doc.name, finding.value)
            assert details["region_from"] == ("home_country" if doc.page.home_country else "label"), (
                doc.name,
                finding.value,
                details,
            )
