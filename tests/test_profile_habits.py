"""The habit statements a marketer makes: devices and ecosystem, daily rhythm, who you are with
most, and where you go out. Each is counted in distinct days, has a confidence from them, and is
said only above a minimum; a burst of photos on one day never makes a habit.

The last test scans a realistic library of five iPhones with the real CLI.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from shadowlens.daemon.analysis.hooks import Fact
from shadowlens.daemon.profile.claims import Claim
from shadowlens.daemon.profile.company import company_claims
from shadowlens.daemon.profile.devices import device_claims
from shadowlens.daemon.profile.facts import BrandHit, FaceFact, PhotoFacts
from shadowlens.daemon.profile.going_out import going_out_claims
from shadowlens.daemon.profile.habit_evidence import HabitRule, newest, years
from shadowlens.daemon.profile.rhythm import rhythm_claims

from tests import realistic_library
from tests.conftest import LIBRARY_NOW, Env
from tests.library_builder import Shot

NOW = datetime(2025, 5, 4, 9, 0)
RULE = HabitRule()
_ids = itertools.count(1)


def photo(
    when: datetime | None,
    device: str | None = None,
    people: Iterable[int] = (),
    facts: Iterable[Fact] = (),
    city: str | None = None,
    brands: Iterable[BrandHit] = (),
) -> PhotoFacts:
    photo_id = next(_ids)
    faces = tuple(FaceFact(-1, person, None, None, None) for person in people)
    return PhotoFacts(
        photo_id,
        f"/p/{photo_id}.jpg",
        when,
        city=city,
        device=device,
        faces=faces,
        brands=tuple(brands),
        facts=tuple(sorted(facts)),
    )


def texts(claims: list[Claim]) -> list[str]:
    return [c.text for c in claims]


def days_from(start: date, count: int, step: int = 9, hour: int = 14) -> list[datetime]:
    return [
        datetime.combine(start + timedelta(days=step * i), datetime.min.time()).replace(hour=hour)
        for i in range(count)
    ]


# Devices and ecosystem


def test_five_iphones_make_an_apple_user_since_the_first() -> None:
    models = ["iPhone 6s", "iPhone 7", "iPhone 8", "iPhone XS", "iPhone 13 Pro"]
    photos = [
        photo(datetime(2016 + 2 * i, 3, day, 12), f"Apple {model}")
        for i, model in enumerate(models)
        for day in (1, 8)
    ]
    [claim] = device_claims(photos, RULE, newest(photos) or NOW)
    assert claim.text == "Apple user, 5 iPhones since 2016"
    assert (claim.id, claim.kind) == ("device.apple", "device")
    assert sorted(claim.photo_ids) == sorted(p.photo_id for p in photos)
    assert claim.confidence == RULE.confidence(10) == 0.9
    samsung = [photo(when, "samsung Galaxy S24 Ultra") for when in days_from(date(2024, 1, 1), 2)]
    samsung += [photo(when, "Samsung Techwin <Digimax i50 MP3>") for when in days_from(date(2007, 1, 1), 1)]
    [claim] = device_claims(samsung, RULE, newest(samsung) or NOW)
    # a Samsung camera is no Android phone
    assert claim.text == "Samsung user, 1 Galaxy phone and 1 other device since 2007"


def test_legal_names_fold_into_one_maker_and_old_use_is_a_span() -> None:
    photos = [
        photo(datetime(2004, 5, 1, 12), "NIKON D70"),  # "NIKON CORPORATION" + "NIKON D70"
        photo(datetime(2006, 7, 2, 12), "NIKON D70s"),
        photo(datetime(2008, 10, 22, 16), "NIKON COOLPIX P6000"),  # Make "NIKON"
        photo(datetime(2008, 10, 23, 16), "NIKON COOLPIX P6000"),
    ]
    assert device_claims(photos, RULE, newest(photos) or NOW)[0].text == "Nikon user, 3 cameras since 2004"
    # measured from the library's newest photo: a phone since then ends the Nikon years
    photos += [photo(when, "Apple iPhone 15") for when in days_from(date(2024, 1, 1), 3)]
    claims = {c.id: c for c in device_claims(photos, RULE, newest(photos) or NOW)}
    assert claims["device.nikon"].text == "Nikon user, 3 cameras 2004-2008"
    assert claims["device.apple"].text == "Apple user, iPhone 15 since 2024"


def test_one_device_on_two_days_or_an_unknown_maker_says_nothing() -> None:
    burst = [photo(datetime(2024, 1, 1, 12, minute), "Apple iPhone 15") for minute in range(40)]
    burst.append(photo(datetime(2024, 1, 2, 12), "Apple iPhone 15"))
    assert device_claims(burst, RULE, newest(burst) or NOW) == []
    odd = [photo(when, "WWL ION230") for when in days_from(date(2024, 1, 1), 5)]
    assert device_claims(odd, RULE, newest(odd) or NOW) == []


def test_android_makers_together_make_an_android_user() -> None:
    photos = [
        *(photo(when, "samsung SM-G930F") for when in days_from(date(2017, 1, 1), 2)),
        *(photo(when, "Google Pixel 6") for when in days_from(date(2022, 1, 1), 2)),
        *(photo(when, "Xiaomi Redmi Note 9S") for when in days_from(date(2021, 1, 1), 1)),
    ]
    claims = {c.id: c for c in device_claims(photos, RULE, newest(photos) or NOW)}
    # no maker alone is seen on three days; together they are five
    assert list(claims) == ["device.android"]
    assert (
        claims["device.android"].text == "Android user, 3 phones from Google, Samsung and Xiaomi since 2017"
    )


def test_confidence_grows_with_days_and_has_a_floor() -> None:
    assert [RULE.confidence(d) for d in (1, 2, 3, 5, 10, 20)] == [0.0, 0.0, 0.5, 0.68, 0.9, 0.99]
    assert not RULE.holds(2) and RULE.holds(3)
    assert not HabitRule(min_days=3, full_days=30, min_confidence=0.5).holds(5)


def test_years_say_since_while_it_goes_on() -> None:
    assert years([photo(datetime(2016, 1, 1)), photo(datetime(2025, 1, 1))], NOW) == "since 2016"
    assert years([photo(datetime(2008, 1, 1)), photo(datetime(2008, 9, 1))], NOW) == "in 2008"
    assert years([photo(None)], NOW) == ""


# Daily rhythm


def test_evenings_on_most_days_are_the_busiest_part() -> None:
    evenings = [photo(when) for when in days_from(date(2024, 1, 1), 8, step=3, hour=19)]
    mornings = [photo(when) for when in days_from(date(2024, 1, 2), 2, step=4, hour=8)]
    claims = {c.id: c for c in rhythm_claims(evenings + mornings, RULE)}
    claim = claims["rhythm.day_part"]
    assert claim.text == "You take most photos in the evening (17:00-22:00): on 8 of your 10 photo days"
    assert sorted(claim.photo_ids) == sorted(p.photo_id for p in evenings)


def test_a_spread_day_or_one_long_party_is_no_rhythm() -> None:
    spread = [photo(when) for h in (8, 13, 19) for when in days_from(date(2024, 1, 1), 6, step=2, hour=h)]
    assert "rhythm.day_part" not in {c.id for c in rhythm_claims(spread, RULE)}
    party = [photo(datetime(2024, 1, 6, 20) + timedelta(minutes=m)) for m in range(200)]
    assert rhythm_claims(party, RULE) == []


def test_weekends_need_a_clear_excess_over_two_in_seven() -> None:
    saturdays = [photo(when) for when in days_from(date(2024, 1, 6), 7, step=7)]  # 6 Jan is a Saturday
    weekdays = [photo(when) for when in days_from(date(2024, 1, 8), 2, step=7)]
    claim = {c.id: c for c in rhythm_claims(saturdays + weekdays, RULE)}["rhythm.weekends"]
    assert claim.text == "You take photos mostly at weekends: 7 of 9 photo days are Saturdays or Sundays"
    every_day = [photo(datetime(2024, 1, 1, 12) + timedelta(days=d)) for d in range(28)]
    assert "rhythm.weekends" not in {c.id for c in rhythm_claims(every_day, RULE)}


# Who you are with most


def test_the_friend_of_many_days_beats_the_cousin_of_one_wedding() -> None:
    owner, friend, cousin, child = 1, 2, 3, 4
    photos = [photo(when, people=[owner, friend]) for when in days_from(date(2023, 1, 1), 6, step=20)]
    wedding = [photo(datetime(2024, 6, 1, 15, m % 60), people=[owner, cousin]) for m in range(100)]
    kid = [photo(when, people=[owner, child]) for when in days_from(date(2024, 2, 1), 4, step=11)]
    everyone = photos + wedding + kid
    claims = company_claims(
        everyone, owner, {friend: "Anna"}, frozenset({child}), RULE, newest(everyone) or NOW
    )
    assert texts(claims) == ["Most often with Anna in 2023", "Often with person 4 (a child) since 2024"]
    assert claims[0].id == "company.person_2" and claims[0].confidence == RULE.confidence(6)
    assert company_claims(photos, None, {}, frozenset(), RULE, NOW) == []


# Where you go out

WINE: tuple[Fact, ...] = (("object", "wine glass"),)


def out_library() -> tuple[list[PhotoFacts], set[int]]:
    lyon_nights = [
        photo(when, facts=WINE, city="Lyon") for when in days_from(date(2025, 1, 3), 4, step=7, hour=21)
    ]
    after_midnight = photo(datetime(2025, 1, 4, 1, 30), facts=WINE, city="Lyon")  # Friday's night out
    at_home = [photo(when, facts=WINE, city="Lyon") for when in days_from(date(2025, 2, 1), 5, hour=20)]
    lunch = [
        photo(when, facts=(("label", "food"),), city="Lyon")
        for when in days_from(date(2025, 3, 1), 5, hour=13)
    ]
    bar = photo(
        datetime(2025, 3, 20, 22), city="Paris", brands=[BrandHit("Heineken", "alcohol", "Heineken", "text")]
    )
    photos = [*lyon_nights, after_midnight, *at_home, *lunch, bar]
    return photos, {p.photo_id for p in at_home}


def test_evenings_out_are_counted_per_city_away_from_home() -> None:
    photos, home_ids = out_library()

    def place_of(p: PhotoFacts) -> str | None:
        return "home" if p.photo_id in home_ids else p.city

    [claim] = going_out_claims(photos, place_of, True, RULE, newest(photos) or NOW)
    assert claim.text == "You go out in Lyon: 4 evenings with drinks, food or a show since 2025"
    assert claim.id == "going_out.lyon" and len(claim.photo_ids) == 5  # the 01:30 photo is one of them
    assert not set(claim.photo_ids) & home_ids
    # without a known home a dinner in and a night out look alike: nothing is said
    assert going_out_claims(photos, place_of, False, RULE, NOW) == []


# End to end: five iPhones through the real scan


def five_iphones() -> list[Shot]:
    shots = []
    for i, model in enumerate(["iPhone 6s", "iPhone 7", "iPhone 8", "iPhone XS", "iPhone 13 Pro"]):
        for day in (3, 10):
            when = datetime(2016 + 2 * i, 4, day, 10 + i)
            shots.append(Shot(f"iphone_{i}_{day}.jpg", when, device=("Apple", model)))
    return shots


@pytest.mark.corpus
def test_five_iphones_in_a_real_library(tmp_path: Path) -> None:
    env = Env(tmp_path / "home", now=LIBRARY_NOW)
    realistic_library.write(five_iphones(), tmp_path / "library")
    env.write_config(realistic_library.PLACES_ONLY_CONFIG)
    env.run("scan", str(tmp_path / "library"))
    profile: dict[str, Any] = env.json("profile")
    claims = {c["id"]: c for c in profile["claims"]}
    apple = claims["device.apple"]
    assert apple["text"] == "Apple user, 5 iPhones since 2016"
    assert (apple["count"], apple["days"], apple["confidence"]) == (10, 10, 0.9)
    explained = env.run("profile", "--explain", "device.apple").stdout
    assert "Apple user, 5 iPhones since 2016" in explained
    assert explained.count("iphone_") == 10
