"""Phone numbers in one OCR line, validated by ``phonenumbers``.

A number written with its +country code stands on its own. One written the national way is read
in the countries ``Regions`` gives, in order; when none of them makes it a valid number but a phone
label ("Tel", "Fax", "Mobil", ...) stands before it, in ``LABELLED_REGIONS``. A national number
must also keep the grouping its country uses (phonenumbers' STRICT_GROUPING), which rules out
versions, dates and serials that happen to be valid numbers. Each finding says which country was
assumed (``region``) and why (``region_from``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import phonenumbers
from shadowlens.daemon.detectors.text.pii_patterns import Hit
from shadowlens.daemon.detectors.text.pii_regions import LABELLED_REGIONS, Regions, RegionSource

PHONE_LABEL = re.compile(
    r"(?i)\b(?:tel|phone|ph|mob(?:ile)?|cell|fon|telefon|telefono|teléfono|tél|téléphone|whatsapp|call"
    r"|fax|telefax|handy|mobil|móvil|movil|cellulare|portable|gsm)\b|☎|📞|📱"
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


def _plausible(text: str, match: phonenumbers.PhoneNumberMatch) -> bool:
    """Not part of a decimal, a time, a key=value or a version string."""
    if _PART_OF_NUMBER.search(text[max(match.start - 2, 0) : match.start]):
        return False
    return not (_PART_OF_NUMBER_AFTER.match(text, match.end) or _VERSION_LIKE.search(match.raw_string))


def _national(text: str, region: str) -> Iterator[phonenumbers.PhoneNumberMatch]:
    """Valid numbers of ``region`` written the national way, keeping their country's grouping."""
    grouped: set[tuple[int, int]] | None = None
    for match in phonenumbers.PhoneNumberMatcher(text, region, leniency=phonenumbers.Leniency.VALID):
        if match.raw_string.lstrip().startswith("+") or not _plausible(text, match):
            continue
        if len(phonenumbers.national_significant_number(match.number)) < 6:
            continue
        if grouped is None:
            strict = phonenumbers.PhoneNumberMatcher(
                text, region, leniency=phonenumbers.Leniency.STRICT_GROUPING
            )
            grouped = {(m.start, m.end) for m in strict}
        if (match.start, match.end) in grouped:
            yield match


def _hit(
    match: phonenumbers.PhoneNumberMatch,
    line: int,
    confidence: float,
    assumed: tuple[str, RegionSource] | None = None,
) -> Hit:
    """``assumed``: the country a national number was read in, and why; None for +country numbers."""
    number = match.number
    details: dict[str, object] = {
        "country": phonenumbers.region_code_for_number(number),
        "international": assumed is None,
    }
    if assumed:
        details.update(region=assumed[0], region_from=assumed[1])
    kind = _PHONE_TYPES.get(phonenumbers.number_type(number))
    if kind:
        details["kind"] = kind
    value = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return Hit("phone", value, line, match.start, match.end, confidence, details)


def find_phones(text: str, line: int, regions: Regions) -> Iterator[Hit]:
    """Phone numbers in one line: international ones, then national ones of ``regions``, then
    (after a phone label) of ``LABELLED_REGIONS``. A span is claimed by the first reading."""
    label = PHONE_LABEL.search(text)
    bonus = 0.05 if label else 0.0
    taken: list[tuple[int, int]] = []

    def free(match: phonenumbers.PhoneNumberMatch) -> bool:
        return all(match.end <= s or e <= match.start for s, e in taken)

    for match in phonenumbers.PhoneNumberMatcher(text, "ZZ", leniency=phonenumbers.Leniency.VALID):
        if match.raw_string.lstrip().startswith("+") and _plausible(text, match):
            taken.append((match.start, match.end))
            yield _hit(match, line, 0.9 + bonus)
    tries: list[tuple[str, RegionSource, float]] = [(r, regions.source, 0.75 + bonus) for r in regions.codes]
    if label:
        tries += [(r, "label", 0.7) for r in LABELLED_REGIONS if r not in regions.codes]
    for region, source, confidence in tries:
        for match in _national(text, region):
            after_label = source != "label" or (label is not None and label.start() < match.start)
            if free(match) and after_label:
                taken.append((match.start, match.end))
                yield _hit(match, line, confidence, (region, source))
