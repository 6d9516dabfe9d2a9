"""Places, trips and habits of the shadow profile, on synthetic libraries with known answers.

The end-to-end tests at the bottom scan realistic libraries (``tests/realistic_library.py``) with
the real CLI: a one-afternoon walk, a home and work over weeks, holidays without a home, and a
home and office left years ago.
"""

from __future__ import annotations

import json
import math
import random
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from shadowlens.daemon.config import ProfileSettings
from shadowlens.daemon.profile.facts import PhotoFacts
from shadowlens.daemon.profile.habits import habits
from shadowlens.daemon.profile.place_days import PlaceRules, day_evidence
from shadowlens.daemon.profile.places import (
    Place,
    cluster_places,
    distance_m,
    find_trips,
    nearest_place,
)
from shadowlens.daemon.profile.travel import country_name, place_sentences, travel_sentences, visited

from tests import realistic_library
from tests.conftest import LIBRARY_NOW, Env

HOME = (52.5200, 13.4050)
ROME = (41.9028, 12.4964)
METRES_PER_DEGREE = math.pi * 6_371_000 / 180


def shifted(origin: tuple[float, float], north_m: float, east_m: float) -> tuple[float, float]:
    lat, lon = origin
    return lat + north_m / METRES_PER_DEGREE, lon + east_m / (METRES_PER_DEGREE * math.cos(math.radians(lat)))


class Library:
    """Builds PhotoFacts with increasing ids."""

    def __init__(self) -> None:
        self.photos: list[PhotoFacts] = []

    def add(
        self,
        at: tuple[float, float] | None,
        when: datetime | None,
        city: str | None = None,
        country: str | None = None,
        device: str | None = None,
    ) -> int:
        photo_id = len(self.photos) + 1
        lat, lon = at if at is not None else (None, None)
        self.photos.append(PhotoFacts(photo_id, f"/p/{photo_id}.jpg", when, lat, lon, city, country, device))
        return photo_id


HOME_OFFSETS = [(0, 0), (20, 10), (-30, 15), (10, -40), (-20, -20), (35, 5), (5, 30), (-10, -5)]
HOME_TIMES: list[datetime | None] = [
    datetime(2024, 3, 4, 23, 0),  # Monday night
    datetime(2024, 3, 5, 23, 30),
    datetime(2024, 3, 6, 2, 15),  # small hours are the night before: Tuesday's, like 23:30
    datetime(2024, 3, 11, 23, 0),  # Monday night, a week later
    datetime(2024, 3, 16, 14, 0),  # Saturday afternoon
    datetime(2024, 3, 17, 11, 0),  # Sunday
    datetime(2024, 3, 5, 19, 0),  # weekday evening: neither night nor office hours
    None,  # no time, still a photo taken there
]
# 5 nights and weekend days (4, 5, 11, 16, 17 March) in ISO weeks 10 and 11
HOME_DAYS = 5
WORK = shifted(HOME, 0, 5000)
WORK_TIMES = [datetime(2024, 3, d, h) for d, h in [(4, 10), (5, 9), (6, 16), (12, 12), (13, 15)]]
GYM = shifted(HOME, 3000, 0)
GYM_DAYS = (4, 6, 11, 13)


def berlin_library() -> tuple[Library, dict[str, list[int]]]:
    lib = Library()
    ids: dict[str, list[int]] = {"home": [], "work": [], "gym": [], "noise": [], "rome": [], "hamburg": []}
    for (north, east), when in zip(HOME_OFFSETS, HOME_TIMES, strict=True):
        ids["home"].append(lib.add(shifted(HOME, north, east), when, "Berlin", "DE"))
    for i, when in enumerate([*WORK_TIMES, datetime(2024, 3, 9, 12)]):  # one Saturday at the office
        ids["work"].append(lib.add(shifted(WORK, 10 * i, -8 * i), when, "Berlin", "DE"))
    for i, day in enumerate(GYM_DAYS):
        ids["gym"].append(lib.add(shifted(GYM, 0, 15 * i), datetime(2024, 3, day, 19), "Berlin", "DE"))
    # scattered photos, and a pair that is below min_photos
    ids["noise"].append(lib.add(shifted(HOME, -20_000, 0), datetime(2024, 3, 9, 3), "Berlin", "DE"))
    ids["noise"].append(lib.add(shifted(HOME, 0, -30_000), datetime(2024, 3, 10, 23), "Potsdam", "DE"))
    ids["noise"].append(lib.add(shifted(HOME, 8000, 8000), datetime(2024, 3, 9, 23), "Berlin", "DE"))
    ids["noise"].append(lib.add(shifted(HOME, 8100, 8000), datetime(2024, 3, 10, 1), "Berlin", "DE"))
    # Rome, Friday evening to Sunday night; 400 m apart, so the walk is no place of its own
    rome_times = [(10, 18), (11, 9), (11, 13), (11, 22), (12, 10), (12, 20)]
    for i, (day, hour) in enumerate(rome_times):
        ids["rome"].append(
            lib.add(shifted(ROME, 0, -1000 + 400 * i), datetime(2024, 5, day, hour), "Rome", "IT")
        )
    hamburg = (53.5511, 9.9937)
    ids["hamburg"].append(lib.add(hamburg, datetime(2024, 6, 1, 10), "Hamburg", "DE"))
    ids["hamburg"].append(lib.add(shifted(hamburg, 500, 0), datetime(2024, 6, 1, 15), "Hamburg", "DE"))
    return lib, ids


def test_distance_m_matches_known_great_circles() -> None:
    assert distance_m(0, 0, 1, 0) == pytest.approx(111_194.927, abs=0.01)
    assert distance_m(0, 0, 0, 90) == pytest.approx(10_007_543.398, abs=0.01)
    assert distance_m(*HOME, *HOME) == 0.0
    assert distance_m(*HOME, *ROME) == pytest.approx(1_182_546.2, abs=1)


def test_places_are_labelled_counted_and_sorted() -> None:
    lib, ids = berlin_library()
    places = cluster_places(lib.photos)
    assert [(p.label, p.photo_count) for p in places] == [("home", 8), ("work", 6), ("frequent", 4)]
    home, work, gym = places
    assert home.photo_ids == ids["home"] and work.photo_ids == ids["work"] and gym.photo_ids == ids["gym"]
    assert (home.night_or_weekend, home.weekday_daytime) == (6, 0)
    assert (work.night_or_weekend, work.weekday_daytime) == (1, 5)
    assert (gym.night_or_weekend, gym.weekday_daytime) == (0, 0)
    # the days behind each label: nights and weekend days, office weekdays, any days
    assert (home.evidence_days, home.evidence_weeks, home.days) == (HOME_DAYS, 2, 6)
    assert (work.evidence_days, work.evidence_weeks, work.days) == (5, 2, 6)
    assert (gym.evidence_days, gym.evidence_weeks, gym.days) == (4, 2, 4)
    assert (home.first_visit, home.last_visit) == (datetime(2024, 3, 4, 23), datetime(2024, 3, 17, 11))
    assert (work.first_visit, work.last_visit) == (datetime(2024, 3, 4, 10), datetime(2024, 3, 13, 15))
    assert (home.city, home.country_code) == ("Berlin", "DE")


def test_centre_is_the_mean_position_and_radius_the_farthest_member() -> None:
    lib, _ = berlin_library()
    home = cluster_places(lib.photos)[0]
    mean_north = sum(n for n, _ in HOME_OFFSETS) / len(HOME_OFFSETS)
    mean_east = sum(e for _, e in HOME_OFFSETS) / len(HOME_OFFSETS)
    assert distance_m(home.lat, home.lon, *shifted(HOME, mean_north, mean_east)) < 0.05
    farthest = max(math.hypot(n - mean_north, e - mean_east) for n, e in HOME_OFFSETS)
    assert home.radius_m == pytest.approx(farthest, abs=0.05)


def test_centre_across_the_antimeridian() -> None:
    lib = Library()
    for lon in (179.9995, -179.9995, 179.9990, -179.9990):
        lib.add((-17.0, lon), datetime(2024, 1, 6, 12))
    (place,) = cluster_places(lib.photos)
    assert abs(place.lon) == pytest.approx(180.0, abs=1e-6)
    assert place.radius_m < 120


def test_noise_and_small_groups_are_not_places() -> None:
    lib, ids = berlin_library()
    in_places = {pid for place in cluster_places(lib.photos) for pid in place.photo_ids}
    assert in_places.isdisjoint(ids["noise"] + ids["rome"] + ids["hamburg"])
    # the pair becomes a place once two photos are enough
    pair = set(ids["noise"][2:])
    assert any(set(p.photo_ids) == pair for p in cluster_places(lib.photos, min_photos=2))


def labels(lib: Library, **rules: Any) -> list[str]:
    return [p.label for p in cluster_places(lib.photos, rules=PlaceRules(**rules))]


def test_home_needs_nights_or_weekend_days_on_three_days_in_two_weeks() -> None:
    lib = Library()
    # many photos on two nights of one week are two days of evidence, not twelve photos
    for i in range(12):
        lib.add(shifted(HOME, i, 0), datetime(2024, 3, 4 + i % 2, 23, i))
    assert labels(lib) == ["visit"]  # 4 and 5 March: one run of days
    lib.add(shifted(HOME, 0, 10), datetime(2024, 3, 7, 23))  # a third night, same week
    assert labels(lib) == ["frequent"]
    lib.add(shifted(HOME, 0, 10), datetime(2024, 3, 16, 12))  # a Saturday, the week after
    assert labels(lib) == ["home"]
    assert labels(lib, home_min_weeks=3) == ["frequent"]
    assert labels(lib, home_min_days=5) == ["frequent"]


@pytest.mark.parametrize(
    ("hour", "minute", "is_night"),
    [(21, 59, False), (22, 0, True), (0, 0, True), (5, 59, True), (6, 0, False)],
)
def test_night_is_from_22_00_to_05_59(hour: int, minute: int, is_night: bool) -> None:
    lib = Library()
    for i, day in enumerate((4, 6, 12)):  # weekdays in two weeks, not in a row
        lib.add(shifted(HOME, 10 * i, 0), datetime(2024, 3, day, hour, minute))
    (place,) = cluster_places(lib.photos)
    assert place.night_or_weekend == (3 if is_night else 0)
    assert place.label == ("home" if is_night else "frequent")


def test_a_stay_of_consecutive_days_is_one_visit() -> None:
    # Friday to Monday in one hotel: four nights in two ISO weeks, but one stay
    hotel = Library()
    for day in (3, 4, 5, 6):
        for hour in (10, 23):
            hotel.add(shifted(ROME, day, hour), datetime(2024, 5, day, hour))
    (place,) = cluster_places(hotel.photos)
    assert (place.label, place.evidence_days, place.evidence_weeks, place.evidence.visits) == (
        "visit",
        4,
        2,
        1,
    )
    assert labels(hotel, min_visits=1) == ["home"]
    # a month and more of photos every night is a life there, not a stay: one visit per 4 weeks
    lived = Library()
    for day in range(60):
        lived.add(shifted(HOME, day % 7, 0), datetime(2024, 1, 1, 23) + timedelta(days=day))
    (place,) = cluster_places(lived.photos)
    assert (place.label, place.evidence.visits) == ("home", 3)


def test_work_needs_three_office_weekdays_in_two_weeks_and_half_the_days() -> None:
    lib = Library()
    office = [datetime(2024, 3, 4, 10), datetime(2024, 3, 5, 11), datetime(2024, 3, 12, 16, 59)]
    evenings = [datetime(2024, 3, d, 18) for d in (6, 7, 8, 13)]
    for i, when in enumerate(office + evenings):
        lib.add(shifted(WORK, 10 * i, 0), when)
    assert labels(lib) == ["frequent"]  # office hours on 3 of 7 days
    lib.add(shifted(WORK, 0, 10), datetime(2024, 3, 14, 9))  # 4 of 8
    assert labels(lib) == ["work"]
    # 17:00 is after hours
    late = Library()
    for i, when in enumerate([*office[:2], datetime(2024, 3, 12, 17)]):
        late.add(shifted(WORK, 10 * i, 0), when)
    assert labels(late) == ["frequent"]
    # a whole week at one desk, Monday to Friday, then never again: one visit in one week
    week = Library()
    for i in range(5):
        for hour in (9, 11, 14, 16):
            week.add(shifted(WORK, 10 * i, hour), datetime(2024, 3, 4 + i, hour))
    assert labels(week) == ["visit"]
    assert labels(week, work_min_weeks=1, min_visits=1) == ["work"]


def test_old_evidence_counts_less_and_is_said_in_the_past() -> None:
    lib = Library()
    for i, day in enumerate([date(2008, 9, 1) + timedelta(days=d) for d in (0, 2, 7, 9, 14)]):
        lib.add(shifted(HOME, i, 0), datetime.combine(day, datetime.min.time()).replace(hour=23))
        lib.add(shifted(WORK, i, 0), datetime.combine(day, datetime.min.time()).replace(hour=11))
    then = cluster_places(lib.photos, today=date(2008, 10, 1))
    assert [(p.label, p.current) for p in then] == [("home", True), ("work", True)]
    now = cluster_places(lib.photos, today=date(2025, 5, 4))
    assert [(p.label, p.current) for p in now] == [("home", False), ("work", False)]
    assert now[0].weighed_days < 0.01 and now[0].evidence_days == 5
    said = place_sentences(now, [])
    assert said[0].startswith("You lived at one place (2008): 5 photos on 5 nights and weekends in 3 weeks")
    assert said[1].startswith("You worked at one place (2008): 5 photos in office hours on 5 weekdays")
    assert not any("probably" in s for s in said)
    # a year's half-life: the 5 days weigh 2.5 a year later, over the line of half the 3 days
    # a home needs; two years later they weigh 1.25, under it
    assert cluster_places(lib.photos, today=date(2009, 9, 1))[0].current
    assert not cluster_places(lib.photos, today=date(2010, 9, 1))[0].current
    assert cluster_places(lib.photos, today=date(2010, 9, 1), rules=PlaceRules(half_life_days=3650))[
        0
    ].current


def test_a_recent_home_beats_an_older_one_with_more_days() -> None:
    lib = Library()
    old, new = shifted(HOME, 0, 20_000), HOME
    for week in range(20):  # 2010: 20 weeks of Saturdays
        lib.add(old, datetime(2010, 1, 2, 12) + timedelta(weeks=week))
    for week in range(4):  # 2025: 4 weeks of Saturdays
        lib.add(new, datetime(2025, 1, 4, 12) + timedelta(weeks=week))
    home, before = cluster_places(lib.photos, min_photos=3, today=date(2025, 5, 4))
    assert (home.label, home.evidence_days, home.current) == ("home", 4, True)
    assert distance_m(home.lat, home.lon, *new) < 1
    assert (before.label, before.evidence_days) == ("frequent", 20)


def test_day_evidence_counts_nights_by_their_evening() -> None:
    e = day_evidence([datetime(2024, 3, 4, 23), datetime(2024, 3, 5, 1), datetime(2024, 3, 9, 1)])
    assert e.home_days == {date(2024, 3, 4), date(2024, 3, 8)}  # Saturday 01:00 is Friday night
    assert e.days == {date(2024, 3, 4), date(2024, 3, 5), date(2024, 3, 9)}
    assert (e.home_photos, e.work_photos, e.visits) == (3, 0, 2)
    assert day_evidence([]).visits == 0


def test_weeks_cannot_exceed_days_in_the_config() -> None:
    with pytest.raises(ValueError, match="must be at most work_min_days"):
        ProfileSettings(work_min_days=2, work_min_weeks=3)
    with pytest.raises(ValueError, match="greater than or equal to 1"):
        ProfileSettings(place_min_visits=0)
    assert ProfileSettings(home_min_days=1, home_min_weeks=1).home_min_weeks == 1


def test_without_a_home_there_is_work_but_no_trip() -> None:
    lib = Library()
    for i, when in enumerate(WORK_TIMES):
        lib.add(shifted(WORK, 10 * i, 0), when)
    lib.add(ROME, datetime(2024, 5, 10, 12))
    places = cluster_places(lib.photos)
    assert [p.label for p in places] == ["work"]
    home = next((p for p in places if p.label == "home"), None)
    assert home is None
    assert find_trips(lib.photos, home) == []


def test_trips_away_from_home() -> None:
    lib, ids = berlin_library()
    home = cluster_places(lib.photos)[0]
    rome, hamburg = find_trips(lib.photos, home)
    assert rome.photo_ids == ids["rome"] and hamburg.photo_ids == ids["hamburg"]
    assert (rome.label, rome.city, rome.country_code, rome.photo_count) == ("trip", "Rome", "IT", 6)
    assert (rome.first_visit, rome.last_visit, rome.days) == (
        datetime(2024, 5, 10, 18),
        datetime(2024, 5, 12, 20),
        3,
    )
    assert distance_m(rome.lat, rome.lon, *ROME) < 1
    assert rome.distance_km == pytest.approx(distance_m(home.lat, home.lon, rome.lat, rome.lon) / 1000)
    assert rome.distance_km == pytest.approx(1182.5, abs=0.2)
    assert (hamburg.city, hamburg.days, hamburg.photo_count) == ("Hamburg", 1, 2)
    assert hamburg.distance_km == pytest.approx(255.5, abs=1.0)
    # Hamburg is closer than 300 km
    assert [t.city for t in find_trips(lib.photos, home, min_km=300)] == ["Rome"]


def test_a_trip_spans_consecutive_days_with_at_most_max_gap_days_missing() -> None:
    lib, _ = berlin_library()
    home = cluster_places(lib.photos)[0]
    away = Library()
    for day in (1, 3, 7):  # a day missing, then three
        away.add(ROME, datetime(2024, 7, day, 12))
    assert [(t.days, t.photo_count) for t in find_trips(away.photos, home)] == [(3, 2), (1, 1)]
    assert [t.days for t in find_trips(away.photos, home, max_gap_days=0)] == [1, 1, 1]
    assert [t.days for t in find_trips(away.photos, home, max_gap_days=3)] == [7]


def test_only_photos_from_the_years_the_home_is_known_make_trips() -> None:
    lib, ids = berlin_library()
    home = cluster_places(lib.photos)[0]
    # Rome in 2008, sixteen years before the first evidence of this home (March 2024): where
    # "home" was then is unknown, so it is no trip away from it. Six months before still counts.
    long_ago = [
        lib.add(shifted(ROME, 0, 100 * i), datetime(2008, 5, 10 + i, 12), "Rome", "IT") for i in range(3)
    ]
    lately = [
        lib.add(shifted(ROME, 0, 100 * i), datetime(2023, 10, 1 + i, 12), "Rome", "IT") for i in range(2)
    ]
    found = [t.photo_ids for t in find_trips(lib.photos, home)]
    assert lately in found and ids["rome"] in found
    assert not any(set(long_ago) & set(trip) for trip in found)


def test_one_outing_is_no_travel_habit() -> None:
    lib, _ = berlin_library()
    home = cluster_places(lib.photos)[0]
    only_hamburg = [p for p in lib.photos if p.city != "Rome"]
    [outing] = find_trips(only_hamburg, home)
    assert outing.day_trip and not any("You travel" in s for s in place_sentences([home], [outing]))
    both = find_trips(lib.photos, home)
    assert any(s.startswith("You travel: 1 trip and 1 day trip") for s in place_sentences([home], both))


def test_photos_without_time_count_for_places_but_not_for_visits_or_trips() -> None:
    lib, ids = berlin_library()
    undated_rome = lib.add(ROME, None, "Rome", "IT")
    no_gps = lib.add(None, datetime(2024, 5, 11, 12), "Rome", "IT")
    home = cluster_places(lib.photos)[0]
    assert ids["home"][-1] in home.photo_ids  # the undated home photo
    assert home.photo_count == 8 and home.night_or_weekend + home.weekday_daytime == 6
    trip_ids = {pid for trip in find_trips(lib.photos, home) for pid in trip.photo_ids}
    assert undated_rome not in trip_ids and no_gps not in trip_ids
    undated = Library()
    for i in range(3):
        undated.add(shifted(HOME, 10 * i, 0), None)
    (place,) = cluster_places(undated.photos)
    assert (place.label, place.first_visit, place.last_visit, place.days) == ("visit", None, None, 0)


def test_empty_and_unusable_input() -> None:
    assert cluster_places([]) == []
    assert find_trips([], None) == []
    lib, _ = berlin_library()
    home = cluster_places(lib.photos)[0]
    assert find_trips([], home) == []
    broken = Library()
    for at in [(math.nan, 13.4), (95.0, 13.4), (52.5, math.inf), (52.5, 181.0)] * 3:
        broken.add(at, datetime(2024, 1, 1))
    broken.add(None, datetime(2024, 1, 1))
    assert cluster_places(broken.photos) == []
    assert cluster_places(broken.photos + lib.photos)[0].photo_count == 8


def test_nearest_place() -> None:
    lib, _ = berlin_library()
    places = cluster_places(lib.photos)
    home, work, _ = places
    assert nearest_place(places, *shifted(HOME, 100, 0), within_m=150) is home
    assert nearest_place(places, *shifted(WORK, 0, -100), within_m=150) is work
    assert nearest_place(places, *shifted(HOME, 0, 2500), within_m=150) is None
    assert nearest_place(places, *shifted(HOME, 0, 2400), within_m=5000) is home
    assert nearest_place([], *HOME, within_m=1e9) is None


def test_as_dict_is_json_ready() -> None:
    lib, _ = berlin_library()
    home: Place = cluster_places(lib.photos)[0]
    as_dict = home.as_dict()
    assert list(as_dict) == [
        "label",
        "lat",
        "lon",
        "radius_m",
        "city",
        "country_code",
        "photo_count",
        "photo_ids",
        "first_visit",
        "last_visit",
        "days",
        "visits",
        "evidence_days",
        "evidence_weeks",
        "weighed_days",
        "current",
    ]
    assert (as_dict["first_visit"], as_dict["photo_count"]) == ("2024-03-04T23:00:00", 8)
    assert (as_dict["days"], as_dict["visits"], as_dict["evidence_days"], as_dict["current"]) == (
        6,
        3,
        5,
        True,
    )
    rome, hamburg = (t.as_dict() for t in find_trips(lib.photos, home))
    assert (rome["label"], rome["days"], rome["last_visit"]) == ("trip", 3, "2024-05-12T20:00:00")
    assert (rome["photo_days"], rome["day_trip"], hamburg["day_trip"]) == (3, False, True)
    assert {"distance_km", "days"} <= set(rome) and len(rome["photo_ids"]) == rome["photo_count"]
    json.dumps([as_dict, rome, hamburg])


def test_habits_histograms_devices_and_rates() -> None:
    lib = Library()
    lib.add(None, datetime(2024, 3, 4, 1, 30), device="Apple iPhone 13 Pro")  # Monday
    lib.add(None, datetime(2024, 3, 4, 23, 0), device="Apple iPhone 13 Pro")
    lib.add(None, datetime(2024, 3, 9, 4, 59), device="Apple iPhone 13 Pro")  # Saturday
    lib.add(None, datetime(2024, 3, 10, 5, 0), device="Google Pixel 7")  # Sunday; 05:00 is morning
    lib.add(None, datetime(2024, 3, 18, 1, 0), device="Google Pixel 7")  # Monday, two weeks on
    lib.add(None, None, device="Google Pixel 7")
    lib.add(None, None, device="Canon EOS R6")
    lib.add(None, datetime(2024, 3, 12, 12, 0))  # no device
    result = habits(lib.photos)
    expected_hours = [0] * 24
    for hour in (1, 23, 4, 5, 1, 12):
        expected_hours[hour] += 1
    assert result.hours == expected_hours
    assert result.weekdays == [3, 1, 0, 0, 0, 1, 1]
    assert result.devices == [
        {
            "device": "Apple iPhone 13 Pro",
            "photo_count": 3,
            "first": "2024-03-04T01:30:00",
            "last": "2024-03-09T04:59:00",
        },
        {
            "device": "Google Pixel 7",
            "photo_count": 3,
            "first": "2024-03-10T05:00:00",
            "last": "2024-03-18T01:00:00",
        },
        {"device": "Canon EOS R6", "photo_count": 1, "first": None, "last": None},
    ]
    assert (result.first, result.last) == (datetime(2024, 3, 4, 1, 30), datetime(2024, 3, 18, 1, 0))
    assert result.photos_per_week == pytest.approx(6 / (335.5 / 168))  # 335.5 hours between first and last
    assert result.night_share == pytest.approx(3 / 6)
    as_dict = result.as_dict()
    assert (as_dict["first"], as_dict["night_share"]) == ("2024-03-04T01:30:00", 0.5)
    json.dumps(as_dict)


def test_habits_rate_spans_at_least_a_week_and_handles_nothing() -> None:
    lib = Library()
    for hour in (10, 11, 12):
        lib.add(None, datetime(2024, 3, 4, hour))
    assert habits(lib.photos).photos_per_week == 3.0
    empty = habits([])
    assert (empty.hours, empty.weekdays, empty.devices) == ([0] * 24, [0] * 7, [])
    assert (empty.photos_per_week, empty.night_share, empty.first, empty.last) == (0.0, 0.0, None, None)


def test_many_points_cluster_including_a_dense_home() -> None:
    # 20,000 points: dense enough at home that plain DBSCAN would hold 200 million neighbour pairs.
    rng = random.Random(7)
    lib = Library()
    start = datetime(2023, 1, 1)
    for i in range(14_000):
        when = start + timedelta(days=i % 365, hours=22 + i % 7)
        lib.add(shifted(HOME, rng.uniform(-30, 30), rng.uniform(-30, 30)), when)
    for spot in range(60):
        centre = shifted(HOME, 1000 * (spot // 10 + 1), 1000 * (spot % 10 + 1))
        for i in range(100):
            lib.add(shifted(centre, rng.uniform(-20, 20), rng.uniform(-20, 20)), start + timedelta(hours=i))
    places = cluster_places(lib.photos)
    assert len(places) == 61
    assert (places[0].label, places[0].photo_count) == ("home", 14_000)
    assert {p.label for p in places[1:]} == {"visit"}  # 100 photos in 100 hours: one stay each
    assert sorted(p.photo_count for p in places[1:]) == [100] * 60
    assert sum(p.photo_count for p in places) == 20_000


def test_countries_and_cities_need_no_home() -> None:
    lib = Library()
    for day, (at, city, country) in enumerate(
        [(ROME, "Rome", "IT"), (ROME, "Rome", "IT"), (HOME, "Berlin", "DE"), (HOME, "Potsdam", "DE")]
    ):
        lib.add(at, datetime(2019 + day // 2, 6, 1 + day, 12), city, country)
    lib.add(ROME, datetime(2021, 6, 1, 12), "Rome", "IT")  # a second photo on one day
    lib.add(ROME, None, "Rome", "IT")  # undated: no day to count
    lib.add(None, datetime(2021, 6, 9), None, None)  # nowhere
    countries, cities = visited(lib.photos, by_city=False), visited(lib.photos, by_city=True)
    assert [(c.name, c.first_day, c.last_day, c.days, len(c.photo_ids)) for c in countries] == [
        ("Italy", date(2019, 6, 1), date(2021, 6, 1), 3, 3),
        ("Germany", date(2020, 6, 3), date(2020, 6, 4), 2, 2),
    ]
    assert [(c.name, c.days) for c in cities] == [("Rome", 3), ("Berlin", 1), ("Potsdam", 1)]
    assert countries[0].photo_ids[0] == 5  # newest first
    said = travel_sentences(countries, cities, min_countries=2)
    assert said == [
        "You have been to 2 countries since 2019: Italy (2019-2021, 3 days), Germany (2020, 2 days)",
        "Your photos were taken in 3 cities, most days in Rome (2019-2021, 3 days), Berlin (2020, 1 day), "
        "Potsdam (2020, 1 day)",
    ]
    assert travel_sentences(countries[:1], cities[:1], min_countries=2) == []
    # with one day in each city, none is where "most days" were spent
    even = travel_sentences(countries, cities[1:], min_countries=2)[1]
    assert (
        even == "Your photos were taken in 2 cities, among them Berlin (2020, 1 day), Potsdam (2020, 1 day)"
    )
    as_dict = countries[0].as_dict(lambda photo_id: f"/p/{photo_id}.jpg")
    assert (
        as_dict["evidence"] == ["/p/5.jpg", "/p/2.jpg", "/p/1.jpg"] and as_dict["first_day"] == "2019-06-01"
    )
    json.dumps(as_dict)


def test_country_names() -> None:
    assert [country_name(c) for c in ("IT", "jp", "GB", "AQ")] == [
        "Italy",
        "Japan",
        "United Kingdom",
        "Antarctica",
    ]
    assert country_name("ZZ") == "ZZ"


# End to end: realistic libraries through the real scan; ``LIBRARY_NOW`` is 4 May 2025.


SCENARIOS = {
    "walk": realistic_library.afternoon_walk,
    "home_and_work": realistic_library.home_and_work,
    "trips": realistic_library.trips_only,
    "old_life": realistic_library.old_life,
}


def scan_profile(root: Path, shots: list[Any]) -> dict[str, Any]:
    env = Env(root / "home", now=LIBRARY_NOW)
    realistic_library.write(shots, root / "library")
    env.write_config(realistic_library.PLACES_ONLY_CONFIG)
    env.run("scan", str(root / "library"))
    profile: dict[str, Any] = env.json("profile")
    return profile


@pytest.fixture(scope="module")
def profiles(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """The profile of each realistic library, scanned side by side (each scan is a process)."""
    roots = {name: tmp_path_factory.mktemp(name) for name in SCENARIOS}
    with ThreadPoolExecutor(len(SCENARIOS)) as pool:
        futures = {
            name: pool.submit(lambda n=name: scan_profile(roots[n], SCENARIOS[n]())) for name in SCENARIOS
        }
        return {name: future.result() for name, future in futures.items()}


def place_statements(profile: dict[str, Any]) -> list[str]:
    return [s for s in profile["statements"] if "GPS location" not in s]


@pytest.mark.corpus
def test_an_afternoon_walk_is_a_visit_not_a_home_work_or_haunt(profiles: dict[str, dict[str, Any]]) -> None:
    profile = profiles["walk"]
    assert profile["places"], "the walk's photos still form places"
    assert {p["label"] for p in profile["places"]} == {"visit"}
    assert all(p["days"] == 1 and p["first_visit"].startswith("2008-10-22") for p in profile["places"])
    # one country on one day is no traveller: nothing at all is said about places
    assert place_statements(profile) == []
    assert profile["home"] is None
    (italy,) = profile["travel"]["countries"]
    assert (italy["name"], italy["days"], italy["photo_count"]) == ("Italy", 1, 9)


@pytest.mark.corpus
def test_home_and_work_over_weeks_say_their_days(profiles: dict[str, dict[str, Any]]) -> None:
    profile = profiles["home_and_work"]
    by_label = {p["label"]: p for p in profile["places"]}
    assert [p["label"] for p in profile["places"]] == ["home", "work", "frequent", "visit"]
    home, work, park, museum = (by_label[k] for k in ("home", "work", "frequent", "visit"))
    assert (home["photo_count"], home["evidence_days"], home["evidence_weeks"], home["current"]) == (
        18,
        15,
        6,
        True,
    )
    assert (work["photo_count"], work["evidence_days"], work["evidence_weeks"], work["current"]) == (
        14,
        14,
        6,
        True,
    )
    assert (park["photo_count"], park["days"], museum["photo_count"], museum["days"]) == (3, 3, 6, 1)
    assert distance_m(home["lat"], home["lon"], *realistic_library.LYON_HOME) < 30
    assert distance_m(work["lat"], work["lon"], *realistic_library.LYON_WORK) < 30
    assert place_statements(profile) == [
        "You probably live in Lyon: 18 photos on 15 nights and weekends in 6 weeks",
        "You probably work in Lyon: 14 photos in office hours on 14 weekdays in 6 weeks",
    ]
    assert profile["home"] is not None and [p for p in profile["places"] if p["label"] == "trip"] == []


@pytest.mark.corpus
def test_trips_without_a_home_give_countries_and_cities_with_dates(
    profiles: dict[str, dict[str, Any]],
) -> None:
    profile = profiles["trips"]
    assert profile["home"] is None
    # a Friday-to-Monday hotel, a five-day stay, the walk: visits all
    assert {p["label"] for p in profile["places"]} == {"visit"}
    countries = [
        (c["name"], c["first_day"], c["last_day"], c["days"]) for c in profile["travel"]["countries"]
    ]
    assert countries == [
        ("Germany", "2005-08-12", "2005-08-13", 2),
        ("Italy", "2008-10-22", "2008-10-24", 3),
        ("France", "2012-05-04", "2016-03-19", 5),
        ("Spain", "2015-09-02", "2015-09-04", 3),
        ("Portugal", "2019-04-19", "2019-04-21", 3),
        ("Japan", "2023-11-01", "2023-11-05", 5),
    ]
    cities = {c["city"]: (c["country_code"], c["days"]) for c in profile["travel"]["cities"]}
    assert cities == {
        "Munich": ("DE", 2),
        "Arezzo": ("IT", 1),
        "Florence": ("IT", 2),
        "Paris": ("FR", 5),
        "Madrid": ("ES", 3),
        "Lisbon": ("PT", 3),
        "Kyoto": ("JP", 5),
    }
    assert place_statements(profile) == [
        "You have been to 6 countries since 2005: Germany (2005, 2 days), Italy (2008, 3 days), "
        "France (2012-2016, 5 days), Spain (2015, 3 days), Portugal (2019, 3 days), Japan (2023, 5 days)",
        "Your photos were taken in 7 cities, most days in Paris (2012-2016, 5 days), Kyoto (2023, 5 days), "
        "Madrid (2015, 3 days), Lisbon (2019, 3 days), Munich (2005, 2 days) and 2 more",
    ]
    # each country's evidence is its photos, newest first
    japan = profile["travel"]["countries"][-1]
    assert len(japan["evidence"]) == japan["photo_count"] == 10
    assert all(Path(path).name.startswith("kyoto") for path in japan["evidence"])


@pytest.mark.corpus
def test_a_home_and_office_left_in_2008_are_not_where_you_live_and_work(
    profiles: dict[str, dict[str, Any]],
) -> None:
    profile = profiles["old_life"]
    by_label = {p["label"]: p for p in profile["places"]}
    assert (by_label["home"]["current"], by_label["work"]["current"]) == (False, False)
    said = place_statements(profile)
    assert not any(s.startswith(("You probably live", "You probably work")) for s in said)
    assert said[:2] == [
        "You lived in Arezzo (2008): 20 photos on 20 nights and weekends in 4 weeks, none lately",
        "You worked in Arezzo (2008): 20 photos in office hours on 20 weekdays in 4 weeks, none lately",
    ]
    # trips are measured from a home of now: the 2024 day in Florence is no trip from 2008's flat
    assert [p for p in profile["places"] if p["label"] == "trip"] == []
