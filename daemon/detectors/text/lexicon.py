"""The brand lexicon (daemon/data/brands.toml) and matching OCR text against it.

Matching tolerates OCR errors (an edit distance that grows with the word's length, via rapidfuzz)
but keeps false positives rare: spellings that are also ordinary words ("Apple", "Shell", "Coke")
match only exactly, and only with stronger evidence: alone on their line and read confidently, or
next to another brand of the same company.
"""

from __future__ import annotations

import re
import tomllib
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from rapidfuzz import process
from rapidfuzz.distance import Levenshtein

LEXICON = Path(__file__).resolve().parents[2] / "data" / "brands.toml"
MAX_WORDS = 4
ISOLATED_CONFIDENCE = 0.85


@dataclass(frozen=True)
class Brand:
    name: str
    category: str
    parent: str
    common_forms: frozenset[str]
    gs1_prefixes: tuple[str, ...]


@dataclass(frozen=True)
class Match:
    brand: Brand
    matched: str
    score: float
    common: bool
    isolated: bool


def normalise(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in folded if ch.isalnum())


def word_count(text: str) -> int:
    return len([w for w in re.split(r"[\s\-_/]+", text) if normalise(w)])


def allowed_edits(length: int) -> int:
    """Short words must match exactly; longer ones may carry one or two OCR slips."""
    return 0 if length < 5 else 1 if length < 9 else 2


class Lexicon:
    def __init__(self, brands: list[Brand], spellings: dict[str, Brand], words: dict[str, int]) -> None:
        self.brands = brands
        self.spellings = spellings
        # Fuzzy matching compares a phrase only with spellings of as many words, so that a slip across
        # a word boundary ("an apple" -> "snapple") cannot make a brand.
        self._keys_by_words: dict[int, list[str]] = {}
        for key, count in words.items():
            self._keys_by_words.setdefault(count, []).append(key)

    @classmethod
    def load(cls, path: Path = LEXICON) -> Lexicon:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        brands: list[Brand] = []
        spellings: dict[str, Brand] = {}
        words: dict[str, int] = {}
        for entry in data["brand"]:
            brand = Brand(
                name=entry["name"],
                category=entry["category"],
                parent=entry["parent"],
                common_forms=frozenset(normalise(f) for f in entry.get("common_forms", [])),
                gs1_prefixes=tuple(entry.get("gs1_prefixes", [])),
            )
            brands.append(brand)
            for spelling in [entry["name"], *entry.get("aliases", [])]:
                key = normalise(spelling)
                if key and key not in spellings:
                    spellings[key] = brand
                    words[key] = word_count(spelling)
        return cls(brands, spellings, words)

    def by_gtin(self, gtin: str) -> Brand | None:
        digits = gtin.lstrip("0") if len(gtin) == 13 and gtin.startswith("0") else gtin
        best: tuple[int, Brand] | None = None
        for brand in self.brands:
            for prefix in brand.gs1_prefixes:
                if (gtin.startswith(prefix) or digits.startswith(prefix)) and (
                    best is None or len(prefix) > best[0]
                ):
                    best = (len(prefix), brand)
        return best[1] if best else None

    def match_line(self, line: str, confidence: float) -> list[Match]:
        words = [w for w in line.split() if normalise(w)]
        whole = normalise(line)
        found: dict[str, Match] = {}
        for size in range(min(MAX_WORDS, len(words)), 0, -1):
            for start in range(len(words) - size + 1):
                phrase = " ".join(words[start : start + size])
                match = self._lookup(phrase, whole, confidence)
                if match and (match.brand.name not in found or match.score > found[match.brand.name].score):
                    found[match.brand.name] = match
        return list(found.values())

    def _lookup(self, phrase: str, whole_line: str, confidence: float) -> Match | None:
        key = normalise(phrase)
        if len(key) < 2:
            return None
        isolated = key == whole_line
        brand = self.spellings.get(key)
        if brand is not None:
            common = key in brand.common_forms
            if common and not (isolated and confidence >= ISOLATED_CONFIDENCE):
                return Match(brand, phrase, 1.0, common=True, isolated=isolated)  # needs a second cue
            return Match(brand, phrase, 1.0, common=common, isolated=isolated)
        edits = allowed_edits(len(key))
        if edits == 0:
            return None
        keys = self._keys_by_words.get(word_count(phrase), [])
        hit = process.extractOne(key, keys, scorer=Levenshtein.distance, score_cutoff=edits)
        if hit is None:
            return None
        candidate, distance, _ = hit
        brand = self.spellings[candidate]
        if candidate in brand.common_forms or abs(len(candidate) - len(key)) > edits:
            return None
        return Match(
            brand, phrase, round(1 - distance / max(len(candidate), 1), 3), common=False, isolated=isolated
        )


@lru_cache(maxsize=1)
def default_lexicon() -> Lexicon:
    return Lexicon.load()
