"""Where the photos have been, and the profile's sentences about places, trips and travel.

Countries and cities come from each photo's reverse-geocoded place, so they need no home: a
library of holidays with no photo taken at home still tells a marketer "6 countries since 2005".
Every sentence says how many distinct days back it.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import NamedTuple

from shadowlens.daemon.profile.facts import PhotoFacts
from shadowlens.daemon.profile.places import Place, Trip
from shadowlens.daemon.wording import plural

MAX_EVIDENCE = 20
MAX_LISTED_COUNTRIES = 8
MAX_LISTED_CITIES = 5


class Said(NamedTuple):
    """One sentence with its stable id (``place.home``) and the photos behind it."""

    id: str
    text: str
    photo_ids: list[int]


@dataclass(frozen=True)
class Visited:
    """A country or a city, with the days the photos were taken there."""

    country_code: str
    city: str | None  # None: the whole country
    first_day: date
    last_day: date
    days: int  # distinct days with a photo there
    photo_ids: list[int]  # newest first

    @property
    def name(self) -> str:
        return self.city or country_name(self.country_code)

    def as_dict(self, path_of: Callable[[int], str]) -> dict[str, object]:
        return {
            "name": self.name,
            "city": self.city,
            "country_code": self.country_code,
            "first_day": self.first_day.isoformat(),
            "last_day": self.last_day.isoformat(),
            "days": self.days,
            "photo_count": len(self.photo_ids),
            "evidence": [path_of(i) for i in self.photo_ids[:MAX_EVIDENCE]],
        }


@functools.cache
def country_name(code: str) -> str:
    """ "Italy" for "IT"; the code itself when the name is unknown."""
    try:
        name = _country_names().get(code.upper())
    except Exception:  # a phonenumbers without that table: the code still says where
        return code
    return name or code


@functools.cache
def _country_names() -> dict[str, str]:
    """Every ISO country's English name, from phonenumbers' locale table, as its geocoder reads
    it ("*xx": the name in language xx). That one file only: importing ``geocoder`` would load
    its per-prefix tables too, 100 MB that the daemon would then keep for good."""
    import importlib.util

    import phonenumbers

    path = Path(phonenumbers.__file__).parent / "geodata" / "locale.py"
    spec = importlib.util.spec_from_file_location("phonenumbers.geodata.locale", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    names = {}
    for code, by_language in module.LOCALE_DATA.items():
        name = by_language.get("en", "")
        if name.startswith("*"):
            name = by_language.get(name[1:], "")
        if name:
            names[code] = str(name)
    return names


def visited(photos: Sequence[PhotoFacts], by_city: bool) -> list[Visited]:
    """Countries (or cities) of the dated, geocoded photos, in the order they were first visited."""
    groups: dict[tuple[str, str | None], list[PhotoFacts]] = defaultdict(list)
    for photo in photos:
        if photo.taken_at is None or not photo.country_code or (by_city and not photo.city):
            continue
        groups[(photo.country_code, photo.city if by_city else None)].append(photo)
    result = []
    for (country, city), members in groups.items():
        members.sort(key=lambda p: (p.taken_at, p.photo_id), reverse=True)
        days = {p.taken_at.date() for p in members if p.taken_at is not None}
        result.append(Visited(country, city, min(days), max(days), len(days), [p.photo_id for p in members]))
    result.sort(key=lambda v: (v.first_day, v.name))
    return result


MIN_TRIPS, MIN_DAYS_AWAY = 2, 3


def when(first: date, last: date) -> str:
    return str(first.year) if first.year == last.year else f"{first.year}-{last.year}"


def _listed(items: Sequence[Visited], limit: int) -> str:
    shown = ", ".join(
        f"{v.name} ({when(v.first_day, v.last_day)}, {plural(v.days, 'day')})" for v in items[:limit]
    )
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


def travel_sentences(
    countries: Sequence[Visited], cities: Sequence[Visited], min_countries: int
) -> list[str]:
    return [said.text for said in travel_claims(countries, cities, min_countries)]


def travel_claims(countries: Sequence[Visited], cities: Sequence[Visited], min_countries: int) -> list[Said]:
    said = []
    if len(countries) >= min_countries:
        since = min(c.first_day for c in countries).year
        said.append(
            Said(
                "travel.countries",
                f"You have been to {len(countries)} countries since {since}: "
                + _listed(countries, MAX_LISTED_COUNTRIES),
                _photos_of(countries),
            )
        )
    if len(cities) >= 2:
        most = sorted(cities, key=lambda v: (-v.days, v.first_day, v.name))
        # "most days in" only when some cities have more days than others; with one day each
        # the list is just the first ones visited
        lead = "most days in" if most[0].days > most[-1].days else "among them"
        said.append(
            Said(
                "travel.cities",
                f"Your photos were taken in {len(cities)} cities, {lead} " + _listed(most, MAX_LISTED_CITIES),
                _photos_of(cities),
            )
        )
    return said


def _photos_of(visited: Sequence[Visited]) -> list[int]:
    return list(dict.fromkeys(i for v in visited for i in v.photo_ids))


def _span(place: Place) -> str:
    first, last = place.first_visit, place.last_visit
    return when(first.date(), last.date()) if first and last else "undated"


def place_sentences(places: Sequence[Place], trips: Sequence[Trip]) -> list[str]:
    return [said.text for said in place_claims(places, trips)]


def place_claims(places: Sequence[Place], trips: Sequence[Trip]) -> list[Said]:
    """Where you live and work, in the past tense when the evidence is old, and your trips."""
    said = []
    home = next((p for p in places if p.label == "home"), None)
    work = next((p for p in places if p.label == "work"), None)
    if home:
        where = f" in {home.city}" if home.city else " at one place"
        evidence = (
            f"{plural(home.night_or_weekend, 'photo')} on {plural(home.evidence_days, 'night')} and weekends"
            if home.evidence_days != 1
            else f"{plural(home.night_or_weekend, 'photo')} on 1 night or weekend day"
        )
        weeks = plural(home.evidence_weeks, "week")
        if home.current:
            text = f"You probably live{where}: {evidence} in {weeks}"
        else:
            text = f"You lived{where} ({_span(home)}): {evidence} in {weeks}, none lately"
        said.append(Said("place.home", text, list(home.photo_ids)))
    if work:
        where = f" in {work.city}" if work.city else " at one place"
        evidence = (
            f"{plural(work.weekday_daytime, 'photo')} in office hours on "
            f"{plural(work.evidence_days, 'weekday')} in {plural(work.evidence_weeks, 'week')}"
        )
        if work.current:
            text = f"You probably work{where}: {evidence}"
        else:
            text = f"You worked{where} ({_span(work)}): {evidence}, none lately"
        said.append(Said("place.work", text, list(work.photo_ids)))
    away = sum(t.photo_days for t in trips)
    # "You travel" claims a habit: one outing is not one.
    if len(trips) >= MIN_TRIPS or away >= MIN_DAYS_AWAY:
        outings = sum(1 for t in trips if t.day_trip)
        kinds = " and ".join(
            plural(count, noun)
            for count, noun in ((len(trips) - outings, "trip"), (outings, "day trip"))
            if count
        )
        text = f"You travel: {kinds} away from home, with photos on {plural(away, 'day')}"
        said.append(Said("trips", text, list(dict.fromkeys(i for t in trips for i in t.photo_ids))))
    return said
