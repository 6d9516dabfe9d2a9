"""Personal data in OCR'd text: what a marketer could read off a photo.

``find_pii`` takes OCR lines in reading order and returns typed matches, each with its normalised value
and a masked form. Only the masked form may leave the index (notifications, logs). Pure functions: no
OCR, no images, no I/O. Checksums come from ``python-stdnum`` (IBAN, Luhn) and phone numbers from
``phonenumbers``; country patterns live in ``pii_patterns`` and machine-readable zones in ``mrz``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import phonenumbers
from shadowlens.daemon.detectors.text import mrz
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
        )
    )
}


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


_PHONE_LABEL = re.compile(
    r"(?i)\b(?:tel|phone|mob(?:ile)?|cell|fon|telefon|tél|téléphone|whatsapp|call)\b|☎|📞"
)
_PART_OF_NUMBER = re.compile(
    r"(?:\d[.,:/]|[A-Za-z]/|[:=#~])$"
)  # a decimal, a time or a key=value before the match
_PART_OF_NUMBER_AFTER = re.compile(r"[.,:/]\d|\+\d")
_VERSION_LIKE = re.compile(r"(?:^|\.)\d\.|\.\d(?:$|\.)")  # a one-digit group between dots: 2.13.90.0.18
_PHONE_TYPES = {
    phonenumbers.PhoneNumberType.MOBILE: "mobile",
    phonenumbers.PhoneNumberType.FIXED_LINE: "fixed_line",
    phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE: "fixed_line_or_mobile",
    phonenumbers.PhoneNumberType.TOLL_FREE: "toll_free",
    phonenumbers.PhoneNumberType.VOIP: "voip",
}
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


def _phones(text: str, line: int, region: str | None) -> Iterator[Hit]:
    """Valid numbers; without a region only those written with their +country code.

    A number written in national form must also keep the grouping its country uses (phonenumbers'
    STRICT_GROUPING), which rules out versions, dates and serials that happen to be valid numbers.
    """
    labelled = _PHONE_LABEL.search(text) is not None
    matcher_region = region or "ZZ"
    grouped: set[tuple[int, int]] | None = None
    for match in phonenumbers.PhoneNumberMatcher(text, matcher_region, leniency=phonenumbers.Leniency.VALID):
        international = match.raw_string.lstrip().startswith("+")
        if region is None and not international:
            continue
        if _PART_OF_NUMBER.search(text[max(match.start - 2, 0) : match.start]):
            continue
        if _PART_OF_NUMBER_AFTER.match(text, match.end) or _VERSION_LIKE.search(match.raw_string):
            continue
        number = match.number
        if not international:
            if len(phonenumbers.national_significant_number(number)) < 6:
                continue
            if grouped is None:
                strict = phonenumbers.PhoneNumberMatcher(
                    text, matcher_region, leniency=phonenumbers.Leniency.STRICT_GROUPING
                )
                grouped = {(m.start, m.end) for m in strict}
            if (match.start, match.end) not in grouped:
                continue
        details: dict[str, object] = {
            "country": phonenumbers.region_code_for_number(number),
            "international": international,
        }
        kind = _PHONE_TYPES.get(phonenumbers.number_type(number))
        if kind:
            details["kind"] = kind
        confidence = (0.9 if international else 0.75) + (0.05 if labelled else 0.0)
        value = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        yield Hit("phone", value, line, match.start, match.end, confidence, details)


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


def _normalise_region(region: str | None) -> str | None:
    if region is None:
        return None
    region = region.strip().upper()
    return region if len(region) == 2 and region.isalpha() else None


def find_pii(lines: Sequence[str], region: str | None = None) -> list[PiiMatch]:
    """Personal data in OCR ``lines`` (reading order). ``region``: ISO 3166 alpha-2 of the photo's place.

    Spans index the text ``"\\n".join(lines)``; a match spanning lines (an MRZ, an address with its postcode
    line) has ``line`` set to its first line. Overlapping matches keep the most specific type.
    """
    region = _normalise_region(region)
    offsets = [0]
    for text in lines:
        offsets.append(offsets[-1] + len(text) + 1)
    zones, mrz_births = _mrz_hits(lines)
    hits = list(zones)
    for index, text in enumerate(lines):
        hits += _ibans(text, index)
        hits += _cards(text, index)
        hits += find_emails(text, index)
        hits += find_urls(text, index)
        hits += _phones(text, index, region)
        hits += find_handles(text, index)
    hits += find_addresses(lines, region)
    hits += find_plates(lines, region)
    hits += find_dates_of_birth(lines, region)

    def span(hit: Hit) -> tuple[int, int]:
        end_line = hit.line if hit.end_line is None else hit.end_line
        return offsets[hit.line] + hit.start, offsets[end_line] + hit.end

    kept: list[tuple[Hit, tuple[int, int]]] = []
    for hit in sorted(hits, key=lambda h: (_PRIORITY[h.type], -(span(h)[1] - span(h)[0]), span(h)[0])):
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
    if type == "date_of_birth":
        return value[:4] + "-**-**" if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value) else _stars(value)
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
