"""The brand lexicon audited against real word lists (wordfreq), over every brand and every spelling.

An ordinary word that is also a brand spelling ("Total", "Shell", "Apple") must never make a brand on
its own, and no common word may be bent into a brand by the fuzzy matcher ("Phone" into "iPhone").
These tests fail when a new alias reintroduces either problem.
"""

from __future__ import annotations

import tomllib
from collections import defaultdict
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from rapidfuzz import process
from rapidfuzz.distance import Levenshtein
from shadowlens.daemon.analysis.detector import DetectorSettings, PhotoContext
from shadowlens.daemon.analysis.findings import BrandFinding, TextFinding
from shadowlens.daemon.detectors.text.brands import BrandsDetector
from shadowlens.daemon.detectors.text.lexicon import (
    LANGUAGES,
    LEXICON,
    ORDINARY_ZIPF,
    WORDLIST,
    Lexicon,
    LexiconError,
    allowed_edits,
    default_lexicon,
    normalise,
    spelling_zipf,
    words_of,
)
from wordfreq import get_frequency_dict


@cache
def _brands() -> list[dict[str, Any]]:
    brands: list[dict[str, Any]] = tomllib.loads(LEXICON.read_text(encoding="utf-8"))["brand"]
    return brands


def _spellings(brand: dict[str, Any]) -> list[str]:
    return [brand["name"], *brand.get("aliases", [])]


def _brand_names(lines: list[str], confidence: float = 0.99) -> list[str]:
    """The real brands detector on a photo whose OCR read exactly ``lines`` (brands never reads pixels)."""
    photo = PhotoContext(path=Path("photo.jpg"), decoded=None)  # type: ignore[arg-type]
    photo.findings.extend(TextFinding(label=line, confidence=confidence) for line in lines)
    return sorted(
        f.label for f in BrandsDetector(DetectorSettings()).detect(photo) if isinstance(f, BrandFinding)
    )


def test_every_frequent_one_word_spelling_is_decided() -> None:
    """A spelling word lists see once per million words must be declared ordinary or brand-only."""
    undecided = []
    for brand in _brands():
        decided = {normalise(f) for f in brand.get("common_forms", []) + brand.get("brand_only_forms", [])}
        for spelling in _spellings(brand):
            zipf = spelling_zipf(spelling)
            if zipf >= ORDINARY_ZIPF and normalise(spelling) not in decided:
                undecided.append(f"{brand['name']}: {spelling!r} (Zipf {zipf:.2f})")
    assert not undecided, "add to common_forms or brand_only_forms in brands.toml:\n" + "\n".join(undecided)


def test_brand_only_decisions_are_about_frequent_words() -> None:
    stale = [
        f"{brand['name']}: {spelling!r}"
        for brand in _brands()
        for spelling in brand.get("brand_only_forms", [])
        if spelling_zipf(spelling) < ORDINARY_ZIPF
    ]
    assert not stale, "not frequent in any word list, so no decision is needed:\n" + "\n".join(stale)


def test_the_audit_finds_the_words_of_the_issue() -> None:
    for word in ("Total", "Shell", "Orange", "Apple", "Phone"):
        assert spelling_zipf(word) >= ORDINARY_ZIPF, word
    ordinary = {normalise(f) for b in _brands() for f in b.get("common_forms", [])}
    assert {"total", "shell", "orange", "apple"} <= ordinary


def _ordinary_spellings() -> list[tuple[str, str]]:
    return [(brand["name"], form) for brand in _brands() for form in brand.get("common_forms", [])]


def test_no_ordinary_spelling_makes_a_brand_inside_ordinary_text() -> None:
    """Every ordinary spelling of every brand, in a sentence and in a list, with no other evidence."""
    leaks = []
    for name, form in _ordinary_spellings():
        for lines, confidence in (
            ([f"we talked about {form} for a while"], 0.99),
            ([f"{form} and more", "see you soon"], 0.99),
            ([form], 0.6),  # alone on its line but read with little confidence
        ):
            if name in _brand_names(lines, confidence):
                leaks.append(f"{name}: {lines} at {confidence}")
    assert not leaks, "\n".join(leaks)


def test_very_common_spellings_do_not_stand_alone() -> None:
    """A lone, crisply read "TOTAL" or "Orange" is a heading or a list item, not a brand."""
    lexicon = default_lexicon()
    leaks = [
        f"{name}: {form!r}"
        for name, form in _ordinary_spellings()
        if normalise(form) in lexicon.too_common_alone and name in _brand_names([form])
    ]
    assert not leaks, "\n".join(leaks)
    assert {"total", "shell", "orange", "apple", "target"} <= lexicon.too_common_alone


@cache
def _common_words_by_length() -> dict[int, list[str]]:
    """Every word used at least once per million words in a covered language, normalised, by length
    (in the word lists the matcher itself reads)."""
    words: set[str] = set()
    least = 10 ** (ORDINARY_ZIPF - 9)  # Zipf = log10(frequency * 1e9)
    for lang in LANGUAGES:
        common = [
            word
            for word, frequency in get_frequency_dict(lang, wordlist=WORDLIST).items()
            if frequency >= least
        ]
        words |= {key for word in common if (key := normalise(word)).isalpha() and key == word.casefold()}
    by_length: dict[int, list[str]] = defaultdict(list)
    for word in sorted(words):
        by_length[len(word)].append(word)
    return by_length


@cache
def _confusable_pairs() -> list[tuple[str, str, str]]:
    """(common word, spelling, brand) where the word is within the matcher's fuzzy reach of a
    one-word spelling but is not a spelling itself: "phone" and "iPhone", "santa" and "Fanta"."""
    lexicon = default_lexicon()
    by_length = _common_words_by_length()
    one_word = sorted({normalise(s) for b in _brands() for s in _spellings(b) if len(words_of(s)) == 1})
    pairs = []
    for length in sorted({len(key) for key in one_word}):
        edits = allowed_edits(length)
        if edits == 0:
            continue
        keys = [key for key in one_word if len(key) == length]
        near = [w for n in range(length - edits, length + edits + 1) for w in by_length.get(n, [])]
        distances = process.cdist(keys, near, scorer=Levenshtein.distance, score_cutoff=edits, workers=-1)
        for row, column in zip(*np.nonzero(distances <= edits), strict=True):
            word, key = near[column], keys[row]
            if word != key and word not in lexicon.spellings:
                pairs.append((word, key, lexicon.spellings[key].name))
    return pairs


def test_no_common_word_fuzzily_becomes_a_brand() -> None:
    pairs = _confusable_pairs()
    assert ("phone", "iphone", "Apple") in pairs  # the issue's own case is one of them
    assert len(pairs) > 100
    leaks = sorted(
        {
            f"{word!r} -> {brand} ({key})"
            for word, key, brand in pairs
            if brand in _brand_names([word.title()])
        }
    )
    assert not leaks, "\n".join(leaks)


def test_categories_say_what_they_mean() -> None:
    by_name = {brand["name"]: brand for brand in _brands()}
    for name in ("Red Bull", "Monster Energy", "Rockstar", "Celsius", "Burn", "Relentless"):
        assert by_name[name]["category"] == "energy drinks", name
    for name in ("Shell", "TotalEnergies", "BP", "Aral", "Esso", "ExxonMobil"):
        assert by_name[name]["category"] == "fuel", name
    categories = {brand["category"] for brand in _brands()}
    assert "energy" not in categories
    assert {b.category for b in default_lexicon().brands} == categories


def test_the_loader_rejects_an_unknown_category(tmp_path: Path) -> None:
    path = tmp_path / "brands.toml"
    path.write_text(
        'schema = 1\n[[brand]]\nname = "Shell"\naliases = []\ncategory = "energy"\nparent = "Shell plc"\n'
        "common_word = false\n",
        encoding="utf-8",
    )
    with pytest.raises(LexiconError, match="brand 'Shell' has unknown category 'energy'") as error:
        Lexicon.load(path)
    assert "\n" not in str(error.value)
