"""Places named in OCR lines as someone's: a birthplace, a home town, the city of an address.

A place on a road sign or a menu ("Paris 12 km", "Santa Maria", "Nice salad") is where the photo
was taken at most, and the photo's GPS says that better. A place counts as personal data here when:

- a label says whose place it is ("City:", "Place of birth:", "Wohnort:", "née à", "born ... in",
  "Address:"); a labelled word need not be in the gazetteer ("Place of birth: Smallville");
- a second place cue follows it: a region, a country or a state code ("Bath, England",
  "Springfield, IL", "Arezzo (AR)"), which makes even a common word ("Nice", "Reading", "Split")
  a city;
- or the text holds other personal data (a letter, a form) and the run of capitalised words is
  itself a city or region that is not also an ordinary word or a person's name.

Cities and regions come from GeoNames and ISO 3166-2 (see ``pii_gazetteers``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence

from shadowlens.daemon.detectors.text.lexicon import word_zipf
from shadowlens.daemon.detectors.text.pii_gazetteers import (
    Place,
    countries,
    english_zipf,
    first_names,
    foreign_zipf,
    places,
    regions,
)
from shadowlens.daemon.detectors.text.pii_patterns import CA_PROVINCES, US_STATES, Hit
from shadowlens.daemon.detectors.text.pii_words import FIELD_START, Run, Word, runs

_PLACE_WORDS = (
    r"(?:city|town|place\s+of\s+(?:birth|residence)|birth\s*place|pob|home\s*town|residence"
    r"|country(?:\s+of\s+(?:birth|residence))?|ort|wohnort|geburtsort|stadt|land|ville|lieu\s+de\s+naissance"
    r"|domicile|pays|ciudad|lugar\s+de\s+nacimiento|localidad|poblaci[óo]n|domicilio|pa[íi]s|citt[àa]"
    r"|luogo\s+di\s+nascita|residenza|comune|paese|plaats|woonplaats|geboorteplaats)(?!\w)"
)
# One label, or the same label in several languages ("Place of birth / Lieu de naissance").
_FIELD = re.compile(rf"(?i){FIELD_START}{_PLACE_WORDS}(?:\s*/\s*{_PLACE_WORDS})*\s*(?::|-|$)\s*")
_PHRASE = re.compile(
    r"(?i)\b(?:(?:born|geboren|n[ée]e?|nacid[oa]|nat[oa])\b[^.;:]{0,40}?\s(?:in|à|a|en)"
    r"|(?:lives?|living|resident|wohnhaft|residing)\s+in|(?:domicili[ée]e?)\s+à)\s+"
)
_ADDRESS = re.compile(
    rf"(?i){FIELD_START}(?:home\s+|postal\s+)?(?:address|addr\.?|anschrift|adresse|direcci[óo]n|indirizzo|adres)\s*(?::|-|$)"
)
_CODE_CUE = re.compile(r"\s*,\s*(?P<code>[A-Z]{2}|USA|U\.S\.A\.|UK)(?![\w.])|\s*\((?P<paren>[A-Z]{2})\)")
_CODES = US_STATES | CA_PROVINCES | {"USA", "U.S.A.", "UK"}
_COMMA = re.compile(r"\s*,\s*")
# An English word this common ("nice", "reading", "split", "of"), or a word of another covered
# language a little more common ("essen"), is a city only with a cue, unless the city is one of the
# world's largest, whose names are common because they are cities.
_ORDINARY_ZIPF = 4.0
_FOREIGN_ORDINARY_ZIPF = 4.5
_WORLD_CITY = 1_000_000


def _place(words: Sequence[Word]) -> tuple[int, Place] | None:
    """The longest leading part of ``words`` that names a place: (its word count, the place)."""
    for size in range(min(len(words), 4), 0, -1):
        key = " ".join(w.key for w in words[:size])
        if key in places():
            return size, places()[key]
    return None


def _ambiguous(key: str, place: Place) -> bool:
    """A city whose name is also an ordinary word ("Nice", "Reading", "Bath", "Essen") or a
    person's name ("Florence", "Austin"). Word lists count cities too, so the bar is higher
    in the other languages, where "Arezzo" or "Lyon" is common only as the city."""
    if place.kind != "city" or place.population >= _WORLD_CITY:
        return place.kind == "country"  # "France" alone says nothing of anyone's place
    if english_zipf(key) >= _ORDINARY_ZIPF or foreign_zipf(key) >= _FOREIGN_ORDINARY_ZIPF:
        return True
    return first_names().get(key, 0) >= 5


def _cue(line: str, end: int) -> int | None:
    """Where a region, country or state code right after column ``end`` ends, or None."""
    code = _CODE_CUE.match(line, end)
    if code and (code.group("paren") or code.group("code") in _CODES):
        return code.end()
    comma = _COMMA.match(line, end)
    if comma:
        after = runs(line[comma.end() :])
        if after and after[0].start == 0:
            key = " ".join(w.key for w in after[0].words)
            if key in regions() or key in countries():
                return comma.end() + after[0].end
    return None


def _hit(
    line: str, index: int, start: int, end: int, place: Place | None, confidence: float, cue: str
) -> Hit:
    details: dict[str, object] = {"cue": cue, "kind": place.kind if place else None}
    if place:
        details["country"] = place.country
    return Hit("place", " ".join(line[start:end].split()), index, start, end, confidence, details)


def _after_label(line: str, index: int, column: int, loose: bool) -> Hit | None:
    """The place that starts at ``column`` (right after a label); ``loose``: an unknown word counts."""
    found = runs(line[column:])
    if not found or line[column : column + found[0].start].strip(" :-,\t"):
        return None
    run = found[0]
    words = [Word(w.text, w.start + column, w.end + column, w.dotted) for w in run.words]
    known = _place(words)
    if known:
        end = words[known[0] - 1].end
        return _hit(line, index, words[0].start, _cue(line, end) or end, known[1], 0.85, "label")
    if loose and len(words) <= 4 and all(word_zipf(w.key) < _ORDINARY_ZIPF for w in words):
        return _hit(line, index, words[0].start, words[-1].end, None, 0.7, "label")
    return None


def _labelled(lines: Sequence[str]) -> Iterator[Hit]:
    for index, line in enumerate(lines):
        for pattern in (_FIELD, _PHRASE):
            for label in pattern.finditer(line):
                hit = _after_label(line, index, label.end(), loose=True)
                alone = not (line[: label.start()] + line[label.end() :]).strip()  # the label is the line
                if hit is None and alone and index + 1 < len(lines):
                    hit = _after_label(lines[index + 1], index + 1, 0, loose=True)
                if hit:
                    yield hit
        address = _ADDRESS.search(line)
        if address:  # any known place in the rest of the address line, or on the line below
            below = [(index + 1, lines[index + 1])] if index + 1 < len(lines) else []
            for at, text in [(index, line[address.end() :]), *below]:
                offset = address.end() if at == index else 0
                for run in runs(text):
                    hit = _after_label(lines[at], at, run.start + offset, loose=False)
                    if hit:
                        yield hit


def _unlabelled(line: str, index: int, run: Run, context: bool) -> Hit | None:
    known = _place(run.words)
    if not known:
        return None
    size, place = known
    if size != len(run.words):
        return None  # "Paris Hilton Hotel": a longer name that merely starts with a city
    cue_end = _cue(line, run.end)
    if cue_end is not None and place.kind == "city":
        return _hit(line, index, run.start, cue_end, place, 0.75, "region")
    key = " ".join(w.key for w in run.words)
    if context and not _ambiguous(key, place):
        return _hit(line, index, run.start, run.end, place, 0.6, "context")
    return None


def find_places(lines: Sequence[str], context: bool) -> list[Hit]:
    """Places in ``lines``; ``context``: the text holds other personal data (a form, a letter)."""
    hits = list(_labelled(lines))
    for index, line in enumerate(lines):
        for run in runs(line):
            hit = _unlabelled(line, index, run, context)
            if hit:
                hits.append(hit)
    return hits
