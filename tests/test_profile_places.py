"""Places, trips and habits of the shadow profile, on synthetic libraries with known answers."""

from __future__ import annotations

import json
import math
import random
from datetime import datetime, timedelta

import pytest
from shadowlens.daemon.profile.facts import PhotoFacts
from shadowlens.daemon.profile.habits import habits
from shadowlens.daemon.profile.places import (
    Place,
    cluster_places,
    distance_m,
    find_trips,
    nearest_place,
)

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
    datetime(2024, 3, 6, 2, 15),  # small hours count as night
    datetime(2024, 3, 7, 23, 0),
    datetime(2024, 3, 9, 14, 0),  # Saturday afternoon
    datetime(2024, 3, 10, 11, 0),  # Sunday
    datetime(2024, 3, 5, 19, 0),  # weekday evening: neither night nor office hours
    None,  # no time, still a photo taken there
]
WORK = shifted(HOME, 0, 5000)
WORK_TIMES = [datetime(2024, 3, d, h) for d, h in [(4, 10), (5, 9), (6, 16), (7, 12), (8, 15)]]
GYM = shifted(HOME, 3000, 0)


def berlin_library() -> tuple[Library, dict[str, list[int]]]:
    lib = Library()
    ids: dict[str, list[int]] = {"home": [], "work": [], "gym": [], "noise": [], "rome": [], "hamburg": []}
    for (north, east), when in zip(HOME_OFFSETS, HOME_TIMES, strict=True):
        ids["home"].append(lib.add(shifted(HOME, north, east), when, "Berlin", "DE"))
    for i, when in enumerate([*WORK_TIMES, datetime(2024, 3, 9, 12)]):  # one Saturday at the office
        ids["work"].append(lib.add(shifted(WORK, 10 * i, -8 * i), when, "Berlin", "DE"))
    for i in range(4):
        ids["gym"].append(lib.add(shifted(GYM, 0, 15 * i), datetime(2024, 3, 4 + i, 19), "Berlin", "DE"))
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
    assert (home.first_visit, home.last_visit) == (datetime(2024, 3, 4, 23), datetime(2024, 3, 10, 11))
    assert (work.first_visit, work.last_visit) == (datetime(2024, 3, 4, 10), datetime(2024, 3, 9, 12))
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


def test_home_needs_two_night_or_weekend_photos() -> None:
    lib = Library()
    for i, when in enumerate([datetime(2024, 3, 4, 23), datetime(2024, 3, 5, 19), datetime(2024, 3, 6, 19)]):
        lib.add(shifted(HOME, 10 * i, 0), when)
    assert [p.label for p in cluster_places(lib.photos)] == ["frequent"]
    lib.add(shifted(HOME, 0, 10), datetime(2024, 3, 10, 12))
    assert [p.label for p in cluster_places(lib.photos)] == ["home"]


@pytest.mark.parametrize(
    ("hour", "minute", "is_night"),
    [(21, 59, False), (22, 0, True), (0, 0, True), (5, 59, True), (6, 0, False)],
)
def test_night_is_from_22_00_to_05_59(hour: int, minute: int, is_night: bool) -> None:
    lib = Library()
    for i, day in enumerate((4, 5, 6)):  # weekdays
        lib.add(shifted(HOME, 10 * i, 0), datetime(2024, 3, day, hour, minute))
    (place,) = cluster_places(lib.photos)
    assert place.night_or_weekend == (3 if is_night else 0)
    assert place.label == ("home" if is_night else "frequent")


def test_work_needs_three_office_hour_photos_that_are_half_of_the_dated() -> None:
    lib = Library()
    office = [datetime(2024, 3, 4, 10), datetime(2024, 3, 5, 11), datetime(2024, 3, 6, 16, 59)]
    evenings = [datetime(2024, 3, d, 18) for d in (4, 5, 6, 7)]
    for i, when in enumerate(office + evenings):
        lib.add(shifted(WORK, 10 * i, 0), when)
    assert [p.label for p in cluster_places(lib.photos)] == ["frequent"]  # 3 of 7
    lib.add(shifted(WORK, 0, 10), datetime(2024, 3, 7, 9))  # 4 of 8
    assert [p.label for p in cluster_places(lib.photos)] == ["work"]
    # 17:00 is after hours
    late = Library()
    for i, when in enumerate([*office[:2], datetime(2024, 3, 6, 17)]):
        late.add(shifted(WORK, 10 * i, 0), when)
    assert [p.label for p in cluster_places(late.photos)] == ["frequent"]


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
    assert (place.label, place.first_visit, place.last_visit) == ("frequent", None, None)


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
        "first_visit",
        "last_visit",
    ]
    assert (as_dict["first_visit"], as_dict["photo_count"]) == ("2024-03-04T23:00:00", 8)
    trip = find_trips(lib.photos, home)[0].as_dict()
    assert (trip["label"], trip["days"], trip["last_visit"]) == ("trip", 3, "2024-05-12T20:00:00")
    assert {"distance_km", "days"} <= set(trip) and "photo_ids" not in trip
    json.dumps([as_dict, trip])


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
    assert sorted(p.photo_count for p in places[1:]) == [100] * 60
    assert sum(p.photo_count for p in places) == 20_000
