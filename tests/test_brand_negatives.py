"""Ordinary text that must give no brand, and real brand mentions that must still give theirs.

Each "photo" is the list of lines OCR reads from it: letters, receipts, signs and menus in English,
German, French, Spanish and Italian, full of words that are also brand spellings ("TOTAL", "Phone",
"Shell", "Orange", "Apple", "Mercury", "Kinder", "Esso"). They go through the real brands detector as
text findings, as the OCR detector would hand them over (rendering and OCR would only add minutes).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from shadowlens.daemon.analysis.detector import DetectorSettings, PhotoContext
from shadowlens.daemon.analysis.findings import BrandFinding, CodeFinding, Finding, TextFinding
from shadowlens.daemon.detectors.text.brands import BrandsDetector

LETTERS = {
    "letter_en": [
        "Dear Anna,",
        "Thank you for your letter from Orange County.",
        "We will always remember the apple trees in your garden.",
        "Phone: +49 30 1234567",
        "Total amount due: 120.00 EUR",
        "Next appointment: Monday",
        "Kind regards, Michael Wilson",
    ],
    "letter_de": [
        "Sehr geehrte Frau Becker,",
        "die Kinder freuen sich auf den Ausflug.",
        "Telefon: 030 1234567",
        "Mit freundlichen Grüßen",
        "Absolut pünktlich, wie immer.",
    ],
    "letter_it": [
        "Cara Giulia,",
        "esso arriva domani alle dieci.",
        "Telefono: +39 06 1234567",
        "Un abbraccio dalla costa",
    ],
}
RECEIPTS = {
    "receipt_en": ["SUBTOTAL 21.90", "TOTAL 23.40", "CASH 30.00", "CHANGE 6.60", "Thank you!"],
    "receipt_split": ["TOTAL", "23.40", "CASH", "CHANGE"],  # OCR often splits the amount off
    "receipt_de": ["SUMME EUR 18,20", "Total", "Bar 20,00", "Rückgeld 1,80"],
    "receipt_fr": ["TOTAL TTC 14,50", "Espèces 20,00", "Rendu 5,50", "Merci de votre visite"],
    "receipt_es": ["Total 9,80 €", "Efectivo 10,00", "Cambio 0,20", "Gracias por su visita"],
}
SIGNS = {
    "beach": ["Shell beach"],
    "orchard": ["Apple orchard", "Pick your own"],
    "street": ["Mercury Street"],
    "gap": ["Mind the gap"],
    "target": ["Target practice"],
    "sign_fr": ["Sortie", "Attention au chien"],
    "sign_es": ["Santa Maria", "Playa"],
    "sign_de": ["Vorsicht, böser Hund"],
    "lone_shell": ["SHELL"],  # a shell shop, a beach hut: the word alone is no petrol station
}
MENUS = {
    "menu_en": ["Orange juice 3.50", "Apple pie 4.20", "Carrot cake 3.90", "Chicken wings 6.00"],
    "menu_fr": ["Jus d'orange 3,00", "Tarte aux pommes 4,50", "Café crème 2,80"],
    "menu_it": ["Spremuta d'arancia 3,00", "Torta di mele 4,00", "Caffè 1,20"],
    "menu_es": ["Zumo de naranja 3,00", "Tarta de manzana 4,00", "Café solo 1,50"],
}
NEGATIVES = LETTERS | RECEIPTS | SIGNS | MENUS


def _photo(lines: list[str], confidence: float = 0.97, extra: list[Finding] | None = None) -> PhotoContext:
    photo = PhotoContext(path=Path("photo.jpg"), decoded=None)  # type: ignore[arg-type]  # brands never reads pixels
    photo.findings.extend(TextFinding(label=line, confidence=confidence) for line in lines)
    photo.findings.extend(extra or [])
    return photo


def _brands(lines: list[str], confidence: float = 0.97, extra: list[Finding] | None = None) -> list[str]:
    found = BrandsDetector(DetectorSettings()).detect(_photo(lines, confidence, extra))
    return sorted(f.label for f in found if isinstance(f, BrandFinding))


def test_the_negative_corpus_is_broad() -> None:
    assert sum(len(lines) for lines in NEGATIVES.values()) >= 40
    assert len(NEGATIVES) >= 20


@pytest.mark.parametrize("name", sorted(NEGATIVES))
def test_ordinary_text_gives_no_brand(name: str) -> None:
    assert _brands(NEGATIVES[name]) == [], NEGATIVES[name]


def test_the_issue_cases_give_no_brand_even_read_perfectly() -> None:
    assert _brands(["Phone: +49 30 1234567"], confidence=1.0) == []
    assert _brands(["TOTAL"], confidence=1.0) == []
    assert _brands(["Phone"], confidence=1.0) == []


@pytest.mark.parametrize(
    ("lines", "brand"),
    [
        (["Heineken"], "Heineken"),
        (["Heineken 0.0", "4.50"], "Heineken"),
        (["Heinekn"], "Heineken"),  # one OCR slip in a word that is no word
        (["iPhone 13 Pro", "128 GB"], "Apple"),
        (["Shell V-Power"], "Shell"),
        (["SHELL", "V-Power 1,99"], "Shell"),  # the ordinary "SHELL" with its company's product name
        (["Apple", "iPhone 15"], "Apple"),
        (["Coca-Cola", "330 ml"], "Coca-Cola"),
        (["Mars bar cake 3.90"], "Mars"),  # a Mars bar is the brand, on a menu too
        (["Skittles"], "Skittles"),  # ordinary, but rare enough to stand alone when read crisply
    ],
)
def test_real_brand_mentions_still_match(lines: list[str], brand: str) -> None:
    assert brand in _brands(lines)


def test_a_same_company_cue_makes_an_ordinary_spelling_count() -> None:
    assert _brands(["We stopped at Total on the way"]) == []
    assert _brands(["We stopped at Total on the way", "TotalEnergies"]) == ["TotalEnergies"]
    assert _brands(["Coke float 3.50"]) == []
    can = CodeFinding(
        label="EAN13", payload_type="product", payload="5449000000996", details={"gtin": "5449000000996"}
    )
    assert _brands(["Coke float 3.50"], extra=[can]) == ["Coca-Cola"]  # a Coca-Cola barcode in the photo


def test_a_logo_of_the_company_makes_an_ordinary_spelling_count() -> None:
    logo = BrandFinding(
        label="Shell",
        confidence=0.8,
        category="fuel",
        parent="Shell plc",
        via="logo",
        matched="shell",
        score=0.8,
    )
    assert _brands(["Shell station open 24h"]) == []
    assert "Shell" in _brands(["Shell station open 24h"], extra=[logo])


def test_isolation_needs_confidence() -> None:
    assert _brands(["Skittles"], confidence=0.97) == ["Skittles"]
    assert _brands(["Skittles"], confidence=0.6) == []
