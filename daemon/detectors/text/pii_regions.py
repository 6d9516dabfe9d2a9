"""Which country a phone number written without its +country code belongs to.

A screenshot or a scanned letter has no GPS, yet most numbers on it are written the national way
("(212) 555-0142", "030 1234567"). ``Regions`` says which countries to read them in, in order, and
where that guess came from, so a finding can say why it assumed a country: the photo's place, the
user's home country (``[detectors.pii] home_country``), the system locale, or the countries of the
user's library (``[detectors.pii] regions``). A number next to a phone label ("Tel", "Fax", ...)
that none of those explains may still be read in ``LABELLED_REGIONS``.
"""

from __future__ import annotations

import locale
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

import pycountry

RegionSource = Literal["place", "home_country", "locale", "library", "label"]

# Tried, after the photo's own regions, only for a number that carries a phone label: the
# countries whose numbers most photos of this tool's users show, the markets the address and
# postcode patterns cover first. Order matters: the first country in which a number is valid wins.
LABELLED_REGIONS = (
    *("US", "GB", "DE", "FR", "IT", "ES", "NL", "BE", "CH", "AT", "CA", "AU", "IE", "PT", "SE", "DK"),
    *("NO", "FI", "PL", "CZ", "IN", "BR", "MX", "JP", "NZ", "ZA"),
)

_TERRITORY = re.compile(r"^[A-Za-z]{2,3}_([A-Za-z]{2})(?![A-Za-z])")


@dataclass(frozen=True)
class Regions:
    """The countries (ISO 3166 alpha-2) to read national-format numbers in, first one first."""

    codes: tuple[str, ...] = ()
    source: RegionSource = "place"

    @property
    def primary(self) -> str | None:
        """The one country that decides address, plate and date conventions."""
        return self.codes[0] if self.codes else None


@lru_cache(maxsize=1)
def country_codes() -> frozenset[str]:
    """Every ISO 3166-1 alpha-2 code (pycountry's table)."""
    return frozenset(country.alpha_2 for country in pycountry.countries)


def country_code(value: str) -> str:
    """``value`` as an upper-case ISO 3166 alpha-2 code; ValueError in one line otherwise."""
    code = value.strip().upper()
    if code not in country_codes():
        raise ValueError(f"{value!r} is not an ISO 3166 alpha-2 country code (such as 'US', 'DE' or 'GB')")
    return code


def _territory(name: str | None) -> str | None:
    match = _TERRITORY.match(name or "")
    code = match.group(1).upper() if match else None
    return code if code in country_codes() else None


def locale_region(
    environ: Mapping[str, str] | None = None, current: Callable[[], str] | None = None
) -> str | None:
    """The country of the user's locale ("de_DE.UTF-8" -> "DE"), or None for C/POSIX or a bare
    language ("de"). The variables come first, in POSIX order for the phone category; then the
    process's LC_CTYPE. ``locale.getlocale`` is not used: it turns C.UTF-8 into en_US, inventing
    a country the user never chose."""
    environ = os.environ if environ is None else environ
    for variable in ("LC_ALL", "LC_TELEPHONE", "LANG"):
        if environ.get(variable):
            return _territory(environ[variable])
    return _territory((current or (lambda: locale.setlocale(locale.LC_CTYPE)))())


def choose_regions(
    place: str | None,
    home_country: str | None,
    system: str | None,
    library: Sequence[str] = (),
) -> Regions:
    """The first of: the photo's place, the home country, the system locale, the library's
    countries. None of them known: no country, and only numbers with their +code (or a label)."""
    if place and place.upper() in country_codes():
        return Regions((place.upper(),), "place")
    if home_country:
        return Regions((home_country,), "home_country")
    if system:
        return Regions((system,), "locale")
    return Regions(tuple(dict.fromkeys(library)), "library")
