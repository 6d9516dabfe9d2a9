"""The brand lexicon (daemon/data/brands.toml) and matching OCR text against it.

Matching tolerates OCR errors (an edit distance that grows with the word's length, via rapidfuzz)
but keeps false positives rare:

* Spellings that are also ordinary words ("Apple", "Total", "Shell") match only exactly, and count
  only with stronger evidence, which the brands detector weighs (see brands.py). Which spellings are
  ordinary is decided in brands.toml (common_forms); tests/test_brand_audit.py keeps that decision in
  step with real word lists (wordfreq) for the languages below.
* Fuzzy matching repairs OCR slips, and slips make non-words: a phrase holding a common word that the
  brand's spelling does not have never matches fuzzily. "Phone" read right is far likelier than
  "iPhone" with its "i" lost, "Santa" is not a misread "Fanta", "Lloyds and" is not "Lloyds Bank".
* Every brand has a category from CATEGORIES; the loader rejects any other in one line.
"""

from __future__ import annotations

import re
import tomllib
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

# wordfreq and rapidfuzz are imported where they are used: a worker imports this module while it
# builds its detectors, and most photos have no text to match (0.14 s of every worker's start;
# bench: daemon.pool_restart_s).

LEXICON = Path(__file__).resolve().parents[2] / "data" / "brands.toml"
MAX_WORDS = 4
ISOLATED_CONFIDENCE = 0.85
CATEGORIES = frozenset(
    {
        *("food", "soft drinks", "energy drinks", "alcohol", "tobacco", "fashion", "sportswear", "tech"),
        *("cars", "retail", "fast food", "coffee", "finance", "travel", "beauty", "toys", "luxury"),
        *("streaming", "telecom", "fuel", "media", "household", "pet food", "oral care"),
    }
)
# The languages of the lexicon's own spellings and of the markets it covers.
LANGUAGES = ("en", "de", "fr", "es", "it", "nl", "pt")
# Zipf 3 is once per million words: the 30,000 to 40,000 most used words of each language (wordfreq's
# English, German and French lists), about an adult's everyday vocabulary. A word used that often turns
# up in letters, receipts, menus and signs by itself; below it, the word lists start to hold brand
# misspellings ("cocacola" 2.8, "mcdonals" 2.0) that the fuzzy matcher should still repair.
ORDINARY_ZIPF = 3.0
# Zipf 4 (ten per million words, the ~7,000 most used: "total", "orange", "apple", "shell") is so common
# that even alone on a line it is more likely a heading or a list item than a brand.
VERY_COMMON_ZIPF = 4.0
# wordfreq's "small" lists hold every word down to once per million (Zipf 3), so for thresholds of 3
# and above they answer exactly as the large ones do, in 24 MB and 0.06 s instead of 250 MB and 0.8 s:
# every analysis worker loads them.
WORDLIST = "small"


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
    ordinary: bool  # the spelling is an ordinary word: it needs stronger evidence
    stands_alone: bool  # alone on its line, read confidently, and not a very common word


def normalise(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in folded if ch.isalnum())


def words_of(text: str) -> list[str]:
    return [key for w in re.split(r"[\s\-_/]+", text) if (key := normalise(w))]


def word_count(text: str) -> int:
    return len(words_of(text))


def allowed_edits(length: int) -> int:
    """Short words must match exactly; longer ones may carry one or two OCR slips."""
    return 0 if length < 5 else 1 if length < 9 else 2


@lru_cache(maxsize=65536)
def word_zipf(text: str) -> float:
    """How common ``text`` is in the covered languages (wordfreq's Zipf scale, highest language).

    For several words wordfreq combines their frequencies, which is about the rarest word's: it says
    whether every word is common, not how common the phrase is."""
    from wordfreq import zipf_frequency

    return max(zipf_frequency(text, lang, wordlist=WORDLIST) for lang in LANGUAGES)


def spelling_zipf(spelling: str) -> float:
    """The Zipf frequency of a one-word spelling in the covered languages; 0 for a phrase, whose
    frequency word lists cannot tell (phrases are decided by hand in brands.toml)."""
    from wordfreq import zipf_frequency
    from wordfreq.tokens import tokenize

    best = 0.0
    for lang in LANGUAGES:
        if len(tokenize(spelling, lang)) == 1:
            best = max(best, zipf_frequency(spelling, lang, wordlist=WORDLIST))
    return best


class LexiconError(ValueError):
    """brands.toml is malformed; the message is one line naming the brand and the problem."""


class Lexicon:
    def __init__(
        self,
        brands: list[Brand],
        spellings: dict[str, Brand],
        written: dict[str, str],
        too_common_alone: frozenset[str] = frozenset(),
    ) -> None:
        """``spellings`` by normalised key; ``written``: each key's spelling as brands.toml writes it."""
        self.brands = brands
        self.spellings = spellings
        self._spelling_words = {key: words_of(text) for key, text in written.items()}
        # Ordinary spellings so common that standing alone on a line is no evidence.
        self.too_common_alone = too_common_alone
        # Fuzzy matching compares a phrase only with spellings of as many words, so that a slip across
        # a word boundary ("an apple" -> "snapple") cannot make a brand.
        self._keys_by_words: dict[int, list[str]] = {}
        for key, words in self._spelling_words.items():
            self._keys_by_words.setdefault(len(words), []).append(key)

    @classmethod
    def load(cls, path: Path = LEXICON) -> Lexicon:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        brands: list[Brand] = []
        spellings: dict[str, Brand] = {}
        written: dict[str, str] = {}
        too_common: set[str] = set()
        for entry in data["brand"]:
            if entry.get("category") not in CATEGORIES:
                raise LexiconError(
                    f"{path.name}: brand {entry.get('name')!r} has unknown category {entry.get('category')!r}"
                )
            forms = entry.get("common_forms", [])
            brand = Brand(
                name=entry["name"],
                category=entry["category"],
                parent=entry["parent"],
                common_forms=frozenset(normalise(f) for f in forms),
                gs1_prefixes=tuple(entry.get("gs1_prefixes", [])),
            )
            brands.append(brand)
            too_common |= {normalise(f) for f in forms if spelling_zipf(f) >= VERY_COMMON_ZIPF}
            for spelling in [entry["name"], *entry.get("aliases", [])]:
                key = normalise(spelling)
                if key and key not in spellings:
                    spellings[key] = brand
                    written[key] = spelling
        return cls(brands, spellings, written, frozenset(too_common))

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
                if match and (match.brand.name not in found or _better(match, found[match.brand.name])):
                    found[match.brand.name] = match
        return list(found.values())

    def _lookup(self, phrase: str, whole_line: str, confidence: float) -> Match | None:
        key = normalise(phrase)
        if len(key) < 2:
            return None
        brand = self.spellings.get(key)
        if brand is not None:
            ordinary = key in brand.common_forms
            alone = (
                key == whole_line and confidence >= ISOLATED_CONFIDENCE and key not in self.too_common_alone
            )
            return Match(brand, phrase, 1.0, ordinary=ordinary, stands_alone=alone)
        edits = allowed_edits(len(key))
        if edits == 0:
            return None  # too short to repair
        from rapidfuzz import process
        from rapidfuzz.distance import Levenshtein

        keys = self._keys_by_words.get(word_count(phrase), [])
        hit = process.extractOne(key, keys, scorer=Levenshtein.distance, score_cutoff=edits)
        if hit is None:
            return None
        candidate, distance, _ = hit
        brand = self.spellings[candidate]
        if candidate in brand.common_forms or abs(len(candidate) - len(key)) > edits:
            return None
        # OCR slips make non-words. A common word that the spelling does not have was read right, so
        # the phrase is another one: "Phone" is not "iPhone", "Lloyds and" is not "Lloyds Bank".
        spelled = self._spelling_words[candidate]
        if any(w not in spelled and word_zipf(w) >= ORDINARY_ZIPF for w in words_of(phrase)):
            return None
        score = round(1 - distance / max(len(candidate), 1), 3)
        return Match(brand, phrase, score, ordinary=False, stands_alone=False)


def _better(new: Match, old: Match) -> bool:
    """A distinctive spelling beats an ordinary one of the same brand; then the closer match wins."""
    return (not new.ordinary, new.score) > (not old.ordinary, old.score)


@lru_cache(maxsize=1)
def default_lexicon() -> Lexicon:
    return Lexicon.load()
