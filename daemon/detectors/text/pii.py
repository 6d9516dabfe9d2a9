"""Personal data in OCR'd text: what a marketer could read off a photo.

``find_pii`` takes OCR lines in reading order and returns typed matches, each with its normalised value
and a masked form. Only the masked form may leave the index (notifications, logs). Pure functions: no
OCR, no images, no I/O. Checksums come from ``python-stdnum`` (IBAN, Luhn) and phone numbers from
``phonenumbers`` (``pii_phones``, with the countries of ``pii_regions``); country patterns live in
``pii_patterns``, machine-readable zones in ``mrz``, names in ``pii_names``, places in
``pii_places``, labelled dates and sex in ``pii_dates``, and second readings that undo OCR
confusions in ``pii_ocr``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import phonenumbers
from shadowlens.daemon.detectors.text import mrz
from shadowlens.daemon.detectors.text.pii_dates import find_dates, find_sex
from shadowlens.daemon.detectors.text.pii_names import find_names
from shadowlens.daemon.detectors.text.pii_ocr import digit_reading, link_reading, repaired
from shadowlens.daemon.detectors.text.pii_patterns import (
    PUBLIC_HOSTS,
    Hit,
    find_addresses,
    find_dates_of_birth,
    find_emails,
    find_handles,
    find_plates,
    find_urls,
)
from shadowlens.daemon.detectors.text.pii_phones import find_phones
from shadowlens.daemon.detectors.text.pii_places import find_places
from shadowlens.daemon.detectors.text.pii_regions import Regions
from stdnum import iban, luhn

PII_TYPES = (
    "email",
    "phone",
    "address",
    "postcode",
    "card",
    "iban",
    "mrz",
    "date_of_birth",
    "plate",
    "handle",
    "url",
    "name",
    "place",
    "date",
    "sex",
)
# When two matches overlap, the one earlier here wins.
_PRIORITY = {
    t: i
    for i, t in enumerate(
        (
            "mrz",
            "iban",
            "card",
            "email",
            "url",
            "date_of_birth",
            "phone",
            "address",
            "postcode",
            "plate",
            "handle",
            "name",
            "sex",
            "date",
            "place",
        )
    )
}
# Types whose presence makes the text a letter or a form rather than a sign: with them a surname
# that is a common word ("Rose Gold") counts too, and so does a city named without a label. An
# address is cue enough for a name (the name above it on an envelope) but not for a city: a shop
# sign has an address too.
_NAME_CONTEXT = frozenset(
    {"email", "phone", "address", "postcode", "card", "iban", "mrz", "date_of_birth", "sex", "date", "name"}
)
_PLACE_CONTEXT = _NAME_CONTEXT - {"address", "postcode"}


@dataclass(frozen=True)
class PiiMatch:
    """One piece of personal data. ``start``/``end`` index ``"\\n".join(lines)``; ``line`` is the first line."""

    type: str
    value: str
    masked: str
    start: int
    end: int
    line: int
    confidence: float
    details: dict[str, object] = field(default_factory=dict)


_DIGIT_RUN = re.compile(r"(?<![\w.,/])\d+(?:(?: ?[- ] ?| )\d+)*(?![\w/]|[.,]\d)")
# (network, lengths, IIN ranges as (low, high) prefixes of equal length)
_NETWORKS: tuple[tuple[str, tuple[int, ...], tuple[tuple[int, int], ...]], ...] = (
    ("amex", (15,), ((34, 34), (37, 37))),
    ("mir", (16, 17, 18, 19), ((2200, 2204),)),
    ("mastercard", (16,), ((51, 55), (2221, 2720))),
    ("visa", (16, 19), ((4, 4),)),
    ("discover", (16, 17, 18, 19), ((6011, 6011), (644, 649), (65, 65), (622126, 622925))),
    ("jcb", (16, 17, 18, 19), ((3528, 3589),)),
    ("diners", (14, 15, 16, 17, 18, 19), ((300, 305), (36, 36), (38, 39))),
    ("unionpay", (16, 17, 18, 19), ((62, 62),)),
    (
        "maestro",
        (13, 14, 15, 16, 17, 18, 19),
        ((50, 50), (56, 58), (6304, 6304), (6759, 6759), (676770, 676774)),
    ),
)


def _network(digits: str) -> str | None:
    for name, lengths, ranges in _NETWORKS:
        if len(digits) in lengths and any(
            low <= int(digits[: len(str(low))]) <= high for low, high in ranges
        ):
            return name
    return None


def _cards(text: str, line: int) -> Iterator[Hit]:
    """Card numbers: 13–19 digits in plausible groups, a known IIN range and a passing Luhn check."""
    for run in _DIGIT_RUN.finditer(text):
        groups = [(m.start() + run.start(), m.end() + run.start()) for m in re.finditer(r"\d+", run.group())]
        n = len(groups)
        # A card starts the run or ends it (an expiry date or a label may sit on the other side).
        windows = {(0, j) for j in range(1, min(n, 19) + 1)} | {(i, n) for i in range(max(n - 19, 0), n)}
        best: tuple[int, int, str, str] | None = None
        for i, j in sorted(windows):
            window = groups[i:j]
            if any(e - s < 3 for s, e in window[:-1]):
                continue
            digits = "".join(text[s:e] for s, e in window)
            if not 13 <= len(digits) <= 19 or len(set(digits)) == 1 or not luhn.is_valid(digits):
                continue
            network = _network(digits)
            if network and (best is None or len(digits) > len(best[2])):
                best = (window[0][0], window[-1][1], digits, network)
        if best:
            yield Hit(
                "card", best[2], line, best[0], best[1], 0.95, {"network": best[3], "length": len(best[2])}
            )


_IBAN_START = re.compile(r"(?<![A-Za-z0-9])(?=[A-Za-z]{2}\d{2})")


def _ibans(text: str, line: int) -> Iterator[Hit]:
    """IBANs, any case, spaced or not: the longest reading at group boundaries that passes mod 97."""
    taken = 0
    for start_match in _IBAN_START.finditer(text):
        start = start_match.start()
        if start < taken:
            continue
        chars: list[tuple[int, str]] = []
        for offset, char in enumerate(text[start : start + 50], start):
            if char.isalnum():
                chars.append((offset, char.upper()))
            elif char not in " -" or (offset + 1 < len(text) and not text[offset + 1].isalnum()):
                break
        for length in range(min(len(chars), 34), 14, -1):
            end = chars[length - 1][0] + 1
            if end < len(text) and text[end].isalnum():
                continue
            compact = "".join(c for _, c in chars[:length])
            if iban.is_valid(compact):
                taken = end
                yield Hit("iban", compact, line, start, end, 0.97, {"country": compact[:2]})
                break


def _mrz_hits(lines: Sequence[str]) -> tuple[list[Hit], list[Hit]]:
    """(zones, their birth dates): the dates sit inside the zones, so they skip the overlap check."""
    zones: list[Hit] = []
    births: list[Hit] = []
    for zone in mrz.find_mrz(lines):
        fields = dict(zone.fields)
        details: dict[str, object] = {
            "format": zone.format,
            "document_type": fields.get("document_type"),
            "country": fields.get("issuing_country") or fields.get("nationality"),
            "fields": fields,
            "masked_fields": mrz.masked_fields(fields),
            "checks": dict(zone.checks),
        }
        first, last = lines[zone.first_line], lines[zone.last_line]
        start = len(first) - len(first.lstrip())
        end = len(last.rstrip())
        value = "\n".join(zone.lines)
        zones.append(Hit("mrz", value, zone.first_line, start, end, zone.confidence, details, zone.last_line))
        index, b_start, b_end = zone.birth_span
        born = {"source": "mrz", "document_type": fields.get("document_type")}
        births.append(
            Hit("date_of_birth", str(fields["birth_date"]), index, b_start, b_end, zone.confidence, born)
        )
    return zones, births


def _regions(region: str | Regions | None) -> Regions:
    """A bare region is the photo's place (how callers without the other sources pass it)."""
    if isinstance(region, Regions):
        return region
    code = (region or "").strip().upper()
    return Regions((code,), "place") if len(code) == 2 and code.isalpha() else Regions()


def _line_hits(text: str, index: int, regions: Regions) -> list[Hit]:
    """The one-line finders, on the line as read and on its OCR-repaired readings."""
    hits = [*_ibans(text, index), *_cards(text, index), *find_emails(text, index), *find_urls(text, index)]
    hits += [*find_phones(text, index, regions), *find_handles(text, index)]
    digits, changed = digit_reading(text)
    if changed:
        found = [*_ibans(digits, index), *_cards(digits, index), *find_phones(digits, index, regions)]
        hits += repaired(found, changed)
    links, changed = link_reading(text)
    if changed:
        hits += repaired([*find_emails(links, index), *find_urls(links, index)], changed)
    return hits


def find_pii(lines: Sequence[str], region: str | Regions | None = None) -> list[PiiMatch]:
    """Personal data in OCR ``lines`` (reading order). ``region``: the ISO 3166 alpha-2 code of the
    photo's place, or ``Regions`` (the countries to read national phone numbers in, and why).

    Spans index the text ``"\\n".join(lines)``; a match spanning lines (an MRZ, an address with its postcode
    line) has ``line`` set to its first line. Overlapping matches keep the most specific type.
    """
    regions = _regions(region)
    primary = regions.primary
    offsets = [0]
    for text in lines:
        offsets.append(offsets[-1] + len(text) + 1)
    zones, mrz_births = _mrz_hits(lines)
    hits = list(zones)
    for index, text in enumerate(lines):
        hits += _line_hits(text, index, regions)
    hits += find_addresses(lines, primary)
    hits += find_plates(lines, primary)
    hits += find_dates_of_birth(lines, primary)
    hits += [*find_dates(lines, primary), *find_sex(lines)]
    hits += find_names(lines, any(h.type in _NAME_CONTEXT for h in [*hits, *mrz_births]))
    # A name read without a label ("Tom Collins") could be a cocktail: it makes no context.
    said = [h for h in [*hits, *mrz_births] if h.details.get("form") != "first_last"]
    hits += find_places(lines, any(h.type in _PLACE_CONTEXT for h in said))

    def span(hit: Hit) -> tuple[int, int]:
        end_line = hit.line if hit.end_line is None else hit.end_line
        return offsets[hit.line] + hit.start, offsets[end_line] + hit.end

    kept: list[tuple[Hit, tuple[int, int]]] = []
    for hit in sorted(
        hits, key=lambda h: (_PRIORITY[h.type], -(span(h)[1] - span(h)[0]), span(h)[0], -h.confidence)
    ):
        start, end = span(hit)
        if all(end <= s or e <= start for _, (s, e) in kept):
            kept.append((hit, (start, end)))
    kept += [(hit, span(hit)) for hit in mrz_births]
    kept.sort(key=lambda pair: (pair[1][0], _PRIORITY[pair[0].type]))
    return [
        PiiMatch(
            type=hit.type,
            value=hit.value,
            masked=mask(hit.value, hit.type),
            start=start,
            end=end,
            line=hit.line,
            confidence=round(min(hit.confidence, 0.99), 2),
            details=hit.details,
        )
        for hit, (start, end) in kept
    ]


def _stars(text: str, keep_start: int = 0, keep_end: int = 0) -> str:
    """``text`` with its letters and digits starred, except the first ``keep_start`` and last ``keep_end``."""
    positions = [i for i, c in enumerate(text) if c.isalnum()]
    hidden = set(positions[keep_start : len(positions) - keep_end])
    return "".join("*" if i in hidden else c for i, c in enumerate(text))


def _grouped(text: str, size: int = 4) -> str:
    return " ".join(text[i : i + size] for i in range(0, len(text), size))


def _mask_phone(value: str) -> str:
    try:
        number = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException:
        return _stars(value, 0, 3)
    national = phonenumbers.national_significant_number(number)
    hidden = "*" * max(len(national) - 3, 1) + national[-3:]
    return (
        f"+{number.country_code} {hidden[:4]} {hidden[4:]}"
        if len(hidden) > 7
        else f"+{number.country_code} {hidden}"
    )


def _mask_url(value: str) -> str:
    scheme, _, rest = value.rpartition("://")
    host, slash, path = rest.partition("/")
    prefix = f"{scheme}://" if scheme else ""
    if host.removeprefix("www.") in PUBLIC_HOSTS:
        return f"{prefix}{host}/***" if path else f"{prefix}{host}"
    labels = host.split(".")
    second_level = (
        len(labels) > 2 and len(labels[-1]) == 2 and labels[-2] in {"co", "com", "org", "ac", "gov", "net"}
    )
    named = max(len(labels) - (3 if second_level else 2), 0)
    labels[named] = labels[named][:1] + "*" * max(len(labels[named]) - 1, 1)
    return prefix + ".".join(labels) + ("/***" if slash and path else "")


def mask(value: str, type: str) -> str:
    """A form of ``value`` (a ``PiiMatch.value`` of ``type``) safe for notifications and logs."""
    if type == "card":
        digits = re.sub(r"\D", "", value)
        return f"{_grouped('*' * (len(digits) - 4))} {digits[-4:]}"
    if type == "iban":
        compact = re.sub(r"\s", "", value).upper()
        return _grouped(compact[:2] + "*" * (len(compact) - 6) + compact[-4:])
    if type == "email":
        local, _, domain = value.partition("@")
        return f"{local[:1]}***@{domain}"
    if type == "phone":
        return _mask_phone(value)
    if type == "handle":
        return "@" + value.lstrip("@")[:1] + "***"
    if type == "url":
        return _mask_url(value)
    if type in {"date_of_birth", "date"}:
        # The year alone says little; the day of a birth, a visit or an expiry says much more.
        if re.fullmatch(r"\d{4}-\d{2}(?:-\d{2})?", value):
            return value[:4] + re.sub(r"\d", "*", value[4:])
        return _stars(value)
    if type in {"name", "place"}:
        return " ".join(word[:1] + "***" for word in value.split())
    if type == "sex":
        return "*"
    if type == "mrz":
        zones = mrz.find_mrz(value.split("\n"))
        return mrz.describe_masked(zones[0]) if zones else "MRZ ****"
    if type == "postcode":
        head, space, tail = value.partition(" ")
        return f"{head} {_stars(tail)}" if space else _stars(value, 2)
    if type == "plate":
        return _stars(value, 2)
    if type == "address":
        return " ".join(
            _stars(word) if any(c.isdigit() for c in word) else _stars(word, 1) for word in value.split()
        )
    return _stars(value)
