"""How every part of shadowlens says a count, a rate and a device, so the CLI, the TUI, the
digest and the notifications never print "1 photos", "0.0 photos a week" or "Canon Canon EOS 40D".

At the bottom layer (next to config and paths): the CLI, the TUI, the profile and the detectors
all import it, and it imports nothing of theirs.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_DAYS_PER_WEEK = 7.0
_WEEKS_PER_MONTH = 365.25 / 12 / _DAYS_PER_WEEK
_WEEKS_PER_YEAR = 365.25 / _DAYS_PER_WEEK
# Words of a maker's name that say "company", not which company: "NIKON CORPORATION",
# "OLYMPUS IMAGING CORP.", "Minolta Co., Ltd.", "LG Electronics", "Eastman Kodak Company".
_COMPANY_WORDS = frozenset(
    [
        "co",
        "company",
        "corp",
        "corporation",
        "electronics",
        "imaging",
        "inc",
        "incorporated",
        "limited",
        "ltd",
        "gmbh",
        "ag",
        "sa",
    ]
)
_WORD = re.compile(r"[0-9a-z]+")


def plural(count: int, noun: str, many: str | None = None) -> str:
    """``1 photo``, ``2 photos``, ``1,234 photos``; ``many`` for irregular nouns (person, people)."""
    word = noun if count == 1 else (many or noun + "s")
    return f"{count:,} {word}"


def rate_per_week(per_week: float, noun: str = "photo", many: str | None = None) -> str:
    """A rate in the largest unit that says at least one: "3.5 photos a week", "about 2 photos a
    month", "about 1 photo a year", "less than one photo a year"; never "0.0 photos a week"."""
    if per_week <= 0:
        return f"no {many or noun + 's'}"
    for unit, factor in (("week", 1.0), ("month", _WEEKS_PER_MONTH), ("year", _WEEKS_PER_YEAR)):
        rate = per_week * factor
        if round(rate, 1) >= 1:
            # A week's rate keeps its decimal (1.5 a week is a habit); longer units are rough.
            if unit == "week":
                shown = f"{rate:.1f}".removesuffix(".0")
                return f"{shown} {noun if shown == '1' else many or noun + 's'} a week"
            whole = max(1, round(rate))
            return f"about {plural(whole, noun, many)} a {unit}"
    return f"less than one {noun} a year"


def device_name(make: str | None, model: str | None) -> str | None:
    """The camera or phone in the words a person uses: "Canon EOS 40D", not "Canon Canon EOS 40D";
    "Jolla", not "Jolla Jolla"; "OLYMPUS E-M5" from "OLYMPUS IMAGING CORP." and "E-M5".

    EXIF's Make is the maker's legal name and Model often already starts with the brand, so the
    make is added only when the model does not name it."""
    make, model = (make or "").strip(), (model or "").strip()
    if not model:
        return make or None
    if not make:
        return model
    maker_words = [w for w in _WORD.findall(make.casefold()) if w not in _COMPANY_WORDS]
    model_words = _WORD.findall(model.casefold())
    if not maker_words or (model_words and model_words[0] in maker_words):
        return model  # "Canon EOS 40D", "KODAK DX6490" (Eastman Kodak Company), "LG-H850"
    if model.casefold().startswith(make.casefold()):
        return model
    return f"{_short_make(make)} {model}"


def _short_make(make: str) -> str:
    """The make without its company words: "OLYMPUS IMAGING CORP." -> "OLYMPUS"."""
    words = make.replace(",", " ").split()
    kept = [w for w in words if w.casefold().strip(".") not in _COMPANY_WORDS]
    return " ".join(kept) or make


def agree(count: int, one: str, many: str) -> str:
    """The word that agrees with ``count``: ``agree(n, "tells", "tell")``."""
    return one if count == 1 else many


def backing(claim: Mapping[str, Any]) -> str:
    """``4 photos on 3 days, confidence 44%``: what a profile statement rests on, in one phrase
    (the CLI and the TUI say it alike)."""
    said = plural(int(claim.get("count") or 0), "photo")
    if claim.get("days"):
        said += f" on {plural(int(claim['days']), 'day')}"
    if claim.get("confidence") is not None:
        said += f", confidence {float(claim['confidence']):.0%}"
    return said
