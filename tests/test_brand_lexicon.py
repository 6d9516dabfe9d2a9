"""The brand lexicon: a data file the OCR brand matcher reads. These checks keep it loadable and unambiguous."""

from __future__ import annotations

import re
import tomllib
from collections import Counter
from functools import cache
from pathlib import Path
from typing import Any

import pytest

LEXICON = Path(__file__).parents[1] / "daemon" / "data" / "brands.toml"

REQUIRED_CATEGORIES = (
    "food",
    "soft drinks",
    "alcohol",
    "tobacco",
    "fashion",
    "sportswear",
    "tech",
    "cars",
    "retail",
    "fast food",
    "coffee",
    "finance",
    "travel",
    "beauty",
    "toys",
)
# "energy" was split (issue #15): it read as both oil companies and energy drinks.
EXTRA_CATEGORIES = (
    "luxury",
    "streaming",
    "telecom",
    "fuel",
    "energy drinks",
    "media",
    "household",
    "pet food",
    "oral care",
)
ALLOWED_CATEGORIES = frozenset(REQUIRED_CATEGORIES + EXTRA_CATEGORIES)
KNOWN_KEYS = frozenset(
    {
        *("name", "aliases", "category", "parent", "common_word", "common_forms", "brand_only_forms"),
        *("gs1_prefixes", "note"),
    }
)


@cache
def _lexicon() -> dict[str, Any]:
    with LEXICON.open("rb") as handle:
        return tomllib.load(handle)


def _brands() -> list[dict[str, Any]]:
    brands: list[dict[str, Any]] = _lexicon()["brand"]
    return brands


def _by_name() -> dict[str, dict[str, Any]]:
    return {brand["name"]: brand for brand in _brands()}


def _normalise(text: str) -> str:
    return "".join(ch for ch in text.casefold() if ch.isalnum())


def _spellings(brand: dict[str, Any]) -> list[str]:
    return [brand["name"], *brand.get("aliases", [])]


def test_the_lexicon_loads_and_has_a_schema_version() -> None:
    lexicon = _lexicon()
    assert lexicon["schema"] == 1
    assert isinstance(lexicon["brand"], list)


def test_there_are_at_least_400_brands() -> None:
    assert len(_brands()) >= 400


@pytest.mark.parametrize("category", REQUIRED_CATEGORIES)
def test_every_required_category_has_at_least_20_brands(category: str) -> None:
    counts = Counter(brand["category"] for brand in _brands())
    assert counts[category] >= 20, f"{category}: only {counts[category]} brands"


def test_every_brand_has_a_name_an_allowed_category_and_a_parent() -> None:
    problems = []
    for index, brand in enumerate(_brands()):
        label = brand.get("name") or f"brand #{index}"
        if unknown := set(brand) - KNOWN_KEYS:
            problems.append(f"{label}: unknown keys {sorted(unknown)}")
        if not isinstance(brand.get("name"), str) or not brand["name"].strip():
            problems.append(f"{label}: no name")
        if brand.get("category") not in ALLOWED_CATEGORIES:
            problems.append(f"{label}: category {brand.get('category')!r} is not allowed")
        if not isinstance(brand.get("parent"), str) or not brand["parent"].strip():
            problems.append(f"{label}: no parent company")
        aliases = brand.get("aliases")
        if not isinstance(aliases, list) or not all(isinstance(a, str) and a.strip() for a in aliases):
            problems.append(f"{label}: aliases must be a list of non-empty strings")
        if not isinstance(brand.get("common_word"), bool):
            problems.append(f"{label}: common_word must be true or false")
        if "note" in brand and (not isinstance(brand["note"], str) or not brand["note"].strip()):
            problems.append(f"{label}: an empty note")
    assert not problems, "\n".join(problems)


def test_no_spelling_belongs_to_two_brands() -> None:
    owner: dict[str, str] = {}
    clashes = []
    for brand in _brands():
        for key in {_normalise(spelling) for spelling in _spellings(brand)}:
            if not key:
                clashes.append(f"{brand['name']}: a spelling with no letters or digits")
            elif key in owner:
                clashes.append(f"{key!r}: {owner[key]} and {brand['name']}")
            else:
                owner[key] = brand["name"]
    assert not clashes, "\n".join(clashes)


def test_no_brand_repeats_a_spelling() -> None:
    repeats = []
    for brand in _brands():
        counts = Counter(spelling.casefold() for spelling in _spellings(brand))
        repeats += [f"{brand['name']}: {s!r}" for s, n in counts.items() if n > 1]
    assert not repeats, "\n".join(repeats)


def test_common_forms_name_the_ordinary_word_spellings() -> None:
    problems = []
    for brand in _brands():
        forms = brand.get("common_forms", [])
        if brand["common_word"] != bool(forms):
            problems.append(f"{brand['name']}: common_word and common_forms disagree")
        spellings = set(_spellings(brand))
        problems += [
            f"{brand['name']}: common form {f!r} is not a spelling" for f in forms if f not in spellings
        ]
        only = brand.get("brand_only_forms", [])
        problems += [
            f"{brand['name']}: brand-only form {f!r} is not a spelling" for f in only if f not in spellings
        ]
        problems += [
            f"{brand['name']}: {f!r} is both ordinary and brand-only" for f in set(forms) & set(only)
        ]
    assert not problems, "\n".join(problems)


def test_gs1_prefixes_are_6_to_10_digit_strings() -> None:
    bad = [
        f"{brand['name']}: {prefix!r}"
        for brand in _brands()
        for prefix in brand.get("gs1_prefixes", [])
        if not (isinstance(prefix, str) and re.fullmatch(r"[0-9]{6,10}", prefix))
    ]
    assert not bad, "\n".join(bad)
    assert all(brand["gs1_prefixes"] for brand in _brands() if "gs1_prefixes" in brand)


@pytest.mark.parametrize(
    ("name", "parent"),
    [
        ("Coca-Cola", "The Coca-Cola Company"),
        ("Sprite", "The Coca-Cola Company"),
        ("Fanta", "The Coca-Cola Company"),
        ("Kraft", "Kraft Heinz"),
        ("Heinz", "Kraft Heinz"),
        ("Pepsi", "PepsiCo"),
        ("Lay's", "PepsiCo"),
        ("Corona", "AB InBev"),
        ("Nike", "Nike, Inc."),
        ("Converse", "Nike, Inc."),
        ("Zara", "Inditex"),
        ("Louis Vuitton", "LVMH"),
        ("Instagram", "Meta Platforms"),
        ("Apple", "Apple Inc."),
    ],
)
def test_known_brands_have_their_parent_company(name: str, parent: str) -> None:
    assert _by_name()[name]["parent"] == parent


@pytest.mark.parametrize("name", ["Apple", "Target", "Gap", "Shell", "Dove", "Corona"])
def test_brands_that_are_ordinary_words_are_marked(name: str) -> None:
    brand = _by_name()[name]
    assert brand["common_word"] is True
    assert name in brand["common_forms"]


def test_ocr_spelling_variants_find_their_brand() -> None:
    index = {_normalise(s): brand["name"] for brand in _brands() for s in _spellings(brand)}
    for text, name in [
        ("MCDONALDS", "McDonald's"),
        ("Ben and Jerry's", "Ben & Jerry's"),
        ("Lays", "Lay's"),
        ("Mercedes Benz", "Mercedes-Benz"),
        ("Coke", "Coca-Cola"),
        ("H & M", "H&M"),
    ]:
        assert index.get(_normalise(text)) == name, text


def test_the_header_documents_the_categories() -> None:
    header = LEXICON.read_text(encoding="utf-8").split("schema = 1", 1)[0]
    missing = [category for category in sorted(ALLOWED_CATEGORIES) if category not in header]
    assert not missing, f"categories not described in the header: {missing}"
