"""Assembles the shadow profile from PhotoFacts and the persons table: one pure function.

Each part comes from its own small module (places, habits, taste, segments); a part whose
findings are missing (no GPS, no faces, a detector turned off) is simply empty.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shadowlens.daemon.config import ProfileSettings
from shadowlens.daemon.profile.claims import (
    Claim,
    claim_dicts,
    enjoyment_claim,
    from_said,
    gps_claim,
    segment_claim,
)
from shadowlens.daemon.profile.company import company_claims
from shadowlens.daemon.profile.devices import device_claims
from shadowlens.daemon.profile.enjoyment import enjoyment
from shadowlens.daemon.profile.facts import PhotoFacts
from shadowlens.daemon.profile.going_out import going_out_claims
from shadowlens.daemon.profile.habit_evidence import HabitRule, newest
from shadowlens.daemon.profile.habits import habits
from shadowlens.daemon.profile.place_days import PlaceRules
from shadowlens.daemon.profile.places import cluster_places, find_trips
from shadowlens.daemon.profile.rhythm import rhythm_claims
from shadowlens.daemon.profile.segments import SegmentContext, evaluate, installed_signal_keys, load_rules
from shadowlens.daemon.profile.taste import brand_affinity, category_counts, mood, parent_counts
from shadowlens.daemon.profile.travel import place_claims, travel_claims, visited

MAX_SEEN_WITH = 10


@dataclass(frozen=True)
class PersonRecord:
    id: int
    name: str | None
    is_owner: bool | None
    is_child: bool
    child_override: bool | None
    photo_count: int
    face_count: int
    engine: str

    @property
    def child(self) -> bool:
        return self.child_override if self.child_override is not None else self.is_child


def choose_owner(persons: Sequence[PersonRecord]) -> tuple[PersonRecord | None, str]:
    """The user's choice, else the person who appears most (the phone's owner takes the selfies)."""
    chosen = [p for p in persons if p.is_owner]
    if chosen:
        return chosen[0], "user"
    ranked = sorted((p for p in persons if not p.child), key=lambda p: (-p.photo_count, p.id))
    return (ranked[0], "most photos") if ranked and ranked[0].photo_count >= 2 else (None, "unknown")


def build_profile(
    facts: Sequence[PhotoFacts], persons: Sequence[PersonRecord], settings: ProfileSettings, now: datetime
) -> dict[str, Any]:
    owner, owner_source = choose_owner(persons)
    owner_id = owner.id if owner else None
    places = cluster_places(
        facts, settings.place_radius_m, settings.place_min_photos, _place_rules(settings), now.date()
    )
    home = next((p for p in places if p.label == "home"), None)
    # Trips are measured from where the user lives now: from a home left years ago, every
    # photo since would be "away".
    trips = find_trips(facts, home if home and home.current else None, settings.trip_min_km)
    trip_ids = frozenset(i for t in trips for i in t.photo_ids)
    # A spot visited only during one trip is that trip, not a place the user frequents.
    places = [p for p in places if p.label in ("home", "work") or not set(p.photo_ids) <= trip_ids]
    countries, cities = visited(facts, by_city=False), visited(facts, by_city=True)

    # Each photo's place, worked out once: mood and segments ask for every photo, and a
    # nearest-place search per call was most of a 100,000-photo rebuild. A one-off visit is no
    # place of the user's: its photos go by their city, like photos in no place.
    member_of = {photo_id: p.label for p in places if p.label != "visit" for photo_id in p.photo_ids}
    labels: dict[int, str | None] = {}
    for photo in facts:
        if photo.photo_id in trip_ids:
            labels[photo.photo_id] = "trip"
        elif photo.lat is not None and photo.lon is not None:
            labels[photo.photo_id] = member_of.get(photo.photo_id) or photo.city or None
        else:
            labels[photo.photo_id] = None

    def place_of(photo: PhotoFacts) -> str | None:
        return labels.get(photo.photo_id)

    paths = {f.photo_id: f.path for f in facts}

    def path_of(photo_id: int) -> str:
        return paths.get(photo_id, "")

    affinities = brand_affinity(facts, owner_id, now)
    # A file of the user's own is checked against the installed detectors' fact keys (a typo
    # would silently never fire); the packaged one is checked by the test suite, so that a
    # detector that fails to load does not stop every profile.
    known = installed_signal_keys() if settings.segments_file is not None else None
    rules = load_rules(settings.segments_file, known)
    segments = evaluate(facts, rules, SegmentContext(owner_id, trip_ids, place_of))
    named = {p.id: p.name for p in persons if p.name}
    enjoyed = enjoyment(facts, owner_id, place_of, named)
    # The plain sentences first, as "statements" always listed them; then what the rules read.
    said = [
        *(from_said(s) for s in place_claims(places, trips)),
        *(from_said(s) for s in travel_claims(countries, cities, settings.travel_min_countries)),
        *_gps(facts),
    ]
    rule = HabitRule(settings.habit_min_days, settings.habit_full_days, settings.habit_min_confidence)
    children = frozenset(p.id for p in persons if p.child)
    latest = newest(facts) or now
    habit_claims = [
        *device_claims(facts, rule, latest),
        *rhythm_claims(facts, rule),
        *company_claims(facts, owner_id, named, children, rule, latest),
        *going_out_claims(facts, place_of, home is not None and home.current, rule, latest),
    ]
    claims = [
        *said,
        *habit_claims,
        *(segment_claim(s) for s in segments),
        *(enjoyment_claim(s) for s in enjoyed.statements),
    ]
    return {
        "built_at": now.isoformat(timespec="seconds"),
        "photo_count": len(facts),
        "owner": _owner_view(owner, owner_source),
        "people": _people(facts, persons, owner_id),
        "places": [p.as_dict() for p in places] + [t.as_dict() for t in trips],
        "travel": {
            "countries": [c.as_dict(path_of) for c in countries],
            "cities": [c.as_dict(path_of) for c in cities],
        },
        "brands": [a.as_dict() for a in affinities],
        "categories": category_counts(affinities),
        "parents": parent_counts(affinities),
        "mood": mood(facts, owner_id, place_of).as_dict(),
        "enjoyment": enjoyed.as_dict(path_of),
        "habits": habits(facts).as_dict(),
        "segments": [s.as_dict(path_of) for s in segments],
        "home": {"lat": home.lat, "lon": home.lon} if home else None,
        "child_persons": sorted(p.id for p in persons if p.child),
        "adult_persons": sorted(p.id for p in persons if p.child_override is False),
        # The texts alone, for older readers (the weekly digest); "claims" has every statement.
        "statements": [c.text for c in said],
        "claims": claim_dicts(claims, facts),
    }


def _owner_view(owner: PersonRecord | None, source: str) -> dict[str, Any] | None:
    if owner is None:
        return None
    return {"person_id": owner.id, "name": owner.name, "photo_count": owner.photo_count, "source": source}


def _people(
    facts: Sequence[PhotoFacts], persons: Sequence[PersonRecord], owner: int | None
) -> list[dict[str, Any]]:
    together: dict[int, Counter[int]] = {p.id: Counter() for p in persons}
    cities: dict[tuple[int, int], Counter[str]] = {}
    spans: dict[tuple[int, int], list[datetime]] = {}
    for photo in facts:
        present = sorted({f.person_id for f in photo.faces if f.person_id is not None})
        for a in present:
            for b in present:
                if a == b or a not in together:
                    continue
                together[a][b] += 1
                if photo.city:
                    cities.setdefault((a, b), Counter())[photo.city] += 1
                if photo.taken_at:
                    span = spans.setdefault((a, b), [photo.taken_at, photo.taken_at])
                    span[0], span[1] = min(span[0], photo.taken_at), max(span[1], photo.taken_at)
    names = {p.id: p.name for p in persons}
    people = []
    for person in sorted(persons, key=lambda p: (-p.photo_count, p.id)):
        seen_with = []
        for other, count in together[person.id].most_common(MAX_SEEN_WITH):
            when = spans.get((person.id, other))
            seen_with.append(
                {
                    "person_id": other,
                    "name": names.get(other),
                    "photos": count,
                    "places": [c for c, _ in cities.get((person.id, other), Counter()).most_common(3)],
                    "first": when[0].isoformat() if when else None,
                    "last": when[1].isoformat() if when else None,
                }
            )
        people.append(
            {
                "id": person.id,
                "name": person.name,
                "photo_count": person.photo_count,
                "face_count": person.face_count,
                "is_child": person.child,
                "is_owner": person.id == owner,
                "engine": person.engine,
                "seen_with": seen_with,
            }
        )
    return people


def _place_rules(settings: ProfileSettings) -> PlaceRules:
    return PlaceRules(
        home_min_days=settings.home_min_days,
        home_min_weeks=settings.home_min_weeks,
        work_min_days=settings.work_min_days,
        work_min_weeks=settings.work_min_weeks,
        frequent_min_days=settings.frequent_min_days,
        min_visits=settings.place_min_visits,
        half_life_days=settings.place_half_life_days,
    )


def _gps(facts: Sequence[PhotoFacts]) -> list[Claim]:
    claim = gps_claim(facts)
    return [claim] if claim else []
