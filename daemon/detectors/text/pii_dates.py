"""Labelled dates (a visit, an exam, an ID's issue and expiry) and sex or gender fields.

A bare date is everywhere (a receipt's, a newspaper's, a "best before"); a date is personal data
here only after a label that ties it to someone: "Date of service:", "Exam date", "Issued",
"Expires", "Valid thru", "Datum:", "Date:". An expiry label also takes a month and year ("08/27").
A label of the date of birth is ``pii_patterns``' (it wins where both read the same date).

Sex is read only where a form says it ("Sex: F", "Gender: male", "Geschlecht: weiblich", "M/F: M",
a passport's "Sex / Sexe" line with its value below), never guessed from a name or a title.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator, Sequence

from shadowlens.daemon.detectors.text.pii_patterns import DATES, Hit, read_date
from shadowlens.daemon.detectors.text.pii_words import FIELD_START, word_set

_DATE_WORDS = (
    r"(?:date\s+of\s+(?:visit|service|exam(?:ination)?|issue|expiry|expiration|admission|discharge|appointment"
    r"|test|consultation)|(?:visit|exam(?:ination)?|appointment|admission|discharge|issue|expiry|expiration"
    r"|service|test|collection|sample|report|procedure|surgery|vaccination|consultation)\s+date|date\s+issued"
    r"|issued(?:\s+on)?|expires?(?:\s+on)?|appointment\s+on|valid\s+(?:until|thru|through|till|from)|dos|ausstellungsdatum"
    r"|ausgestellt\s+am|g[üu]ltig\s+bis|ablaufdatum|untersuchungsdatum|behandlungsdatum|aufnahmedatum"
    r"|entlassungsdatum|termin|date\s+(?:de\s+|d['’])(?:d[ée]livrance|validit[ée]|expiration|l['’]examen|visite"
    r"|consultation)|d[ée]livr[ée]e?\s+le|valable\s+jusqu['’]au|fecha\s+de\s+(?:expedici[óo]n|caducidad"
    r"|emisi[óo]n|consulta|visita)|v[áa]lido\s+hasta|data\s+di\s+(?:rilascio|scadenza|emissione|visita)"
    r"|scadenza|rilasciat[oa]\s+il|geldig\s+tot|afgiftedatum|vervaldatum)(?![\w-])"
)
# A bare "Date:" labels a person's date only as a field of its own: "Due date", "Release date" and
# "Order date" label other things.
_BARE_DATE = r"(?:date|datum|fecha|data)(?![\w-])"
# One label, or the same label in several languages ("Date of issue / Date de délivrance").
_DATE_LABEL = re.compile(
    rf"(?i)(?:(?<![\w-]){_DATE_WORDS}|{FIELD_START}{_BARE_DATE})(?:\s*/\s*(?:{_DATE_WORDS}|{_BARE_DATE}))*"
    r"\s*[:.]?\s*"
)
# Product dates, which say nothing about a person ("Best before date:"), and the date of birth,
# which has a type of its own.
_PRODUCT_DATE = re.compile(
    r"(?i)(?:best\s+before|use\s+by|sell\s+by|\bbb|\bmhd|mindestens\s+haltbar|à\s+consommer|consumir"
    r"|da\s+consumarsi)\b[^\d]*$"
)
_OF_BIRTH = re.compile(r"(?i)(?:of\s+birth|de\s+naissance|de\s+nacimiento|di\s+nascita)\b")
_EXPIRY = re.compile(r"(?i)exp|valid|g[üu]ltig|valable|v[áa]lido|scadenza|geldig|caducidad|verval|ablauf")
_MONTH_YEAR = re.compile(r"(?<![\d/.-])(?P<m>0?[1-9]|1[0-2])\s?[/.-]\s?(?P<y>\d{4}|\d{2})(?![\d/.-])")
_WITHIN = 12  # characters between a label and its date: "Date of service: 03/14/2024" but not a later one
_FUTURE_YEARS = 30  # an expiry's two-digit year: up to this far ahead of today is this century

_SEX_WORDS_WRITTEN = r"(?:sexe|sexo|sesso|sex|gender|geschlecht|geslacht|kön|płeć)(?!\w)"
_SEX_LABEL = re.compile(
    rf"(?i)(?<![\w/]){_SEX_WORDS_WRITTEN}(?:\s*/\s*{_SEX_WORDS_WRITTEN})*"
    r"(?:\s*\(\s*[mfhw]\s*/\s*[mfwhxd]\s*\))?\s*[:.-]?\s*|(?<![\w/])[MF]\s*/\s*[FM]\s*:\s*"
)
_SEX_VALUE = re.compile(
    r"(?i)(?P<v>male|female|man|woman|männlich|maennlich|weiblich|divers|masculin|féminin|feminin|masculino"
    r"|femenino|maschile|femminile|maschio|femmina|vrouw|hombre|mujer|non[- ]?binary|diverse|[mfxwvdh])"
    r"(?![\w/])"
)
_SEX_WORDS = {
    **dict.fromkeys(
        word_set("m h male man männlich maennlich masculin masculino maschile maschio hombre"), "male"
    ),
    **dict.fromkeys(
        word_set("f w v female woman weiblich féminin feminin femenino femminile femmina vrouw mujer"),
        "female",
    ),
    **dict.fromkeys(word_set("x d divers diverse nonbinary"), "other"),
}


def _date_at(text: str, region: str | None, expiry: bool) -> tuple[int, int, str] | None:
    """The date starting within ``_WITHIN`` characters of ``text``: (start, end, ISO value)."""
    window = text[: _WITHIN + 30]
    found: list[tuple[int, int, str]] = []
    for pattern in DATES:
        for match in pattern.finditer(window):
            if match.start() > _WITHIN:
                break
            day = read_date(match, region, _FUTURE_YEARS if expiry else 0)
            if day and dt.date(1900, 1, 1) <= day <= dt.date(2099, 12, 31):
                found.append((match.start(), match.end(), day.isoformat()))
    if not found and expiry:
        month = _MONTH_YEAR.match(window, len(window) - len(window.lstrip()))
        if month:
            year = int(month.group("y")) + (2000 if len(month.group("y")) == 2 else 0)
            found.append((month.start(), month.end(), f"{year:04d}-{int(month.group('m')):02d}"))
    return min(found) if found else None


def find_dates(lines: Sequence[str], region: str | None) -> Iterator[Hit]:
    """Dates after a label, on its line or at the start of the next."""
    for index, line in enumerate(lines):
        for label in _DATE_LABEL.finditer(line):
            if _PRODUCT_DATE.search(line[: label.end()]) or _OF_BIRTH.match(line, label.end()):
                continue
            words = " ".join(label.group().split()).rstrip(":. ")
            expiry = _EXPIRY.search(words) is not None
            details: dict[str, object] = {"label": words}
            found = _date_at(line[label.end() :], region, expiry)
            if found:
                start, end, value = found
                yield Hit("date", value, index, label.end() + start, label.end() + end, 0.85, details)
            elif not (line[: label.start()] + line[label.end() :]).strip() and index + 1 < len(lines):
                found = _date_at(lines[index + 1].lstrip(), region, expiry)
                if found:
                    pad = len(lines[index + 1]) - len(lines[index + 1].lstrip())
                    start, end, value = found
                    yield Hit("date", value, index + 1, pad + start, pad + end, 0.8, details)


def find_sex(lines: Sequence[str]) -> Iterator[Hit]:
    """Sex or gender after a label, on its line or alone at the start of the next."""
    for index, line in enumerate(lines):
        for label in _SEX_LABEL.finditer(line):
            at, text = index, line[label.end() :]
            if not text.strip() and index + 1 < len(lines):
                at, text = index + 1, lines[index + 1]
            offset = label.end() if at == index else 0
            start = len(text) - len(text.lstrip())
            value = _SEX_VALUE.match(text, start)
            if value is None:
                continue
            written = value.group("v")
            if len(written) == 1 and re.match(r"\s*/\s*[A-Za-z](?![\w])", text[value.end() :]):
                continue  # "Sex: M/F" is the blank form's template, not an answer
            meaning = _SEX_WORDS.get(written.lower().replace("-", " ").replace(" ", ""), "other")
            details: dict[str, object] = {
                "label": " ".join(label.group().split()).rstrip(":.- "),
                "written": written,
            }
            yield Hit("sex", meaning, at, offset + value.start(), offset + value.end(), 0.9, details)
