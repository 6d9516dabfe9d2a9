"""Second readings of an OCR line with the recogniser's usual confusions undone.

PP-OCR reads "7" as "T", "0" as "O", "1" as "l", "5" as "S", "8" as "B" inside numbers and "h" as
"n" in "https". A second reading swaps them back, character for character (so a span of the reading
is the same span of the line), and the ordinary finders run on it again. Nothing is trusted for the
swap alone: a repaired number must still pass its check (Luhn for cards, mod 97 for IBANs, validity
and grouping for phone numbers), a repaired link its known scheme or top-level domain. A finding
that needed a repair says so (``details["ocr_fixed"]``) and is a little less certain.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import replace

from shadowlens.daemon.detectors.text.pii_patterns import URL_TLDS, Hit

# Letters the recogniser reads for digits. Only these: every other letter in a number-like token
# means the token is a word or a code, not a misread number.
_AS_DIGIT = {"O": "0", "o": "0", "l": "1", "I": "1", "|": "1", "T": "7", "S": "5", "s": "5", "B": "8"}
# Digits read for letters in a top-level domain (".c0m", ".0rg", ".n1").
_AS_LETTER = {"0": "o", "1": "l", "5": "s", "8": "b", "7": "t"}
_TOKEN = re.compile(r"[0-9A-Za-z|]+")
_SCHEME = re.compile(r"(?<![A-Za-z])[hHnN][tT7lI1][tT7lI1][pP](?P<s>[sS5]?)(?=:\s?//)")
_TLD = re.compile(r"(?<=[A-Za-z0-9-])\.(?P<tld>[A-Za-z0-9]{2,6})(?![A-Za-z0-9-])")
_FIX_PENALTY = 0.05

Reading = tuple[str, frozenset[int]]


def _swap(chars: list[str], start: int, old: str, new: str, changed: set[int]) -> None:
    for offset, (a, b) in enumerate(zip(old, new, strict=True)):
        if a != b:
            chars[start + offset] = b
            changed.add(start + offset)


def digit_reading(text: str) -> Reading:
    """``text`` with confusable letters turned into digits inside tokens that are mostly digits
    ("555-T234", "4111 111l"), and the positions changed."""
    chars, changed = list(text), set[int]()
    for token in _TOKEN.finditer(text):
        word = token.group()
        digits = sum(c.isdigit() for c in word)
        letters = [c for c in word if not c.isdigit()]
        if letters and digits >= 2 and len(letters) <= digits // 2 and all(c in _AS_DIGIT for c in letters):
            _swap(chars, token.start(), word, "".join(_AS_DIGIT.get(c, c) for c in word), changed)
    return "".join(chars), frozenset(changed)


def link_reading(text: str) -> Reading:
    """``text`` with a misread scheme ("nttps://") and misread top-level domains (".c0m") repaired
    where the repair is a known scheme or domain, and the positions changed."""
    chars, changed = list(text), set[int]()
    for scheme in _SCHEME.finditer(text):
        _swap(chars, scheme.start(), scheme.group(), "https"[: len(scheme.group())], changed)
    for tld in _TLD.finditer(text):
        read = tld.group("tld")
        if any(c.isdigit() for c in read) and any(c.isalpha() for c in read):
            repaired = "".join(_AS_LETTER.get(c, c) for c in read)
            if repaired.lower() in URL_TLDS:
                _swap(chars, tld.start("tld"), read, repaired, changed)
    return "".join(chars), frozenset(changed)


def repaired(hits: Iterable[Hit], changed: frozenset[int]) -> Iterator[Hit]:
    """The hits of a second reading that needed one of its repairs, marked as such."""
    for hit in hits:
        if any(hit.start <= position < hit.end for position in changed):
            details = {**hit.details, "ocr_fixed": True}
            yield replace(hit, confidence=hit.confidence - _FIX_PENALTY, details=details)
