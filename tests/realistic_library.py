"""Photo libraries shaped like real lives, for the profile's places: corpus photos copied into a
test folder with their EXIF time and GPS rewritten (``library_builder.write_shot``).

Each builder returns the shots of one situation a marketer's guess must get right:

- ``afternoon_walk``: the corpus's own GPS series, nine photos in 32 minutes on one Wednesday
  in Arezzo in 2008, at their real times and places: a visit, nothing more;
- ``home_and_work``: weeks of a life in Lyon, nights and weekends at home, office hours at work,
  evening runs in a park, one Saturday at a museum;
- ``trips_only``: holidays in six countries from 2005 to 2023 and no photo at home;
- ``old_life``: a home and an office used daily for weeks in 2008, and nothing there since.

Positions wander a few metres around each spot, as a phone's GPS does.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from pathlib import Path

from tests.conftest import manifest_rows
from tests.library_builder import Shot, write_library

METRES_PER_DEGREE = math.pi * 6_371_000 / 180
# Every detector that reads pixels is off: places need only the EXIF and the offline geocoder.
PLACES_ONLY_CONFIG = "".join(
    f"[detectors.{name}]\nenabled = false\n"
    for name in ("faces", "text", "codes", "brands", "pii", "nudity", "objects", "logos", "labels", "scene")
)

LYON_HOME = (45.7640, 4.8357)
LYON_WORK = (45.7606, 4.8590)  # Part-Dieu, 1.8 km east
LYON_PARK = (45.7500, 4.8270)
LYON_MUSEUM = (45.7670, 4.8330)


def jitter(spot: tuple[float, float], i: int, metres: float = 25.0) -> tuple[float, float]:
    """A point within ``metres`` of ``spot``, the same for the same ``i``."""
    north = metres * math.sin(i * 2.399)  # the golden angle spreads the points evenly
    east = metres * math.cos(i * 2.399) * ((i % 5) / 5)
    lat, lon = spot
    return lat + north / METRES_PER_DEGREE, lon + east / (METRES_PER_DEGREE * math.cos(math.radians(lat)))


def shots_at(name: str, spot: tuple[float, float], times: Iterable[datetime]) -> list[Shot]:
    return [Shot(f"{name}{i:03}.jpg", when, *jitter(spot, i)) for i, when in enumerate(times)]


def afternoon_walk() -> list[Shot]:
    """The corpus's GPS series as the camera recorded it (Arezzo, Wednesday 22 October 2008)."""
    rows = [
        r for r in manifest_rows() if r["path"].startswith("exif-samples/gps/") and r["has_gps"] == "true"
    ]
    return [
        Shot(
            f"walk_{Path(r['path']).stem}.jpg",
            datetime.strptime(r["datetime_original"], "%Y:%m:%d %H:%M:%S"),
            float(r["lat"]),
            float(r["lon"]),
            background=r["path"],
        )
        for r in rows
    ]


def weekdays(start: date, weeks: int, *days: int) -> list[date]:
    """The given ISO weekdays (1 = Monday) of ``weeks`` weeks from the Monday of ``start``."""
    monday = start - timedelta(days=start.weekday())
    return [monday + timedelta(weeks=w, days=d - 1) for w in range(weeks) for d in days]


def at(days: Iterable[date], *hours: tuple[int, int]) -> list[datetime]:
    return [datetime.combine(day, time(h, m)) for day in days for h, m in hours]


def home_and_work(start: date = date(2025, 2, 3), weeks: int = 6) -> list[Shot]:
    """Six weeks in Lyon from Monday 3 February 2025 (ISO weeks 6 to 11).

    Home: Tuesday at 22:30 and Thursday at 23:15 every week, two photos at Saturday lunch every
    other week: 12 nights and 3 Saturdays, 18 photos, 15 distinct nights and weekend days.
    Work: Monday 10:15 and Wednesday 14:30 every week, and a Friday noon in weeks 1 and 4:
    14 photos on 14 weekdays. The park: evening runs on 3 Mondays (frequent, never home or work).
    The museum: 6 photos in 40 minutes one Saturday afternoon (a visit).
    """
    home = at(weekdays(start, weeks, 2), (22, 30)) + at(weekdays(start, weeks, 4), (23, 15))
    home += at(weekdays(start, weeks, 6)[::2], (12, 0), (12, 40))
    work = at(weekdays(start, weeks, 1), (10, 15)) + at(weekdays(start, weeks, 3), (14, 30))
    work += at([d for i, d in enumerate(weekdays(start, weeks, 5)) if i in (0, 3)], (12, 0))
    park = at(weekdays(start, weeks, 1)[1::2], (19, 30))
    saturday = weekdays(start, weeks, 6)[3]
    museum = [datetime.combine(saturday, time(15, 0)) + timedelta(minutes=8 * i) for i in range(6)]
    return (
        shots_at("home", LYON_HOME, home)
        + shots_at("work", LYON_WORK, work)
        + shots_at("park", LYON_PARK, park)
        + shots_at("museum", LYON_MUSEUM, museum)
    )


# (name, spot, first day, days, photos a day): holidays, each a run of consecutive days.
HOLIDAYS = [
    ("munich", (48.1374, 11.5755), date(2005, 8, 12), 2, 3),
    ("florence", (43.7696, 11.2558), date(2008, 10, 23), 2, 3),
    # Friday to Monday in one hotel: nights in two ISO weeks, still one stay
    ("paris", (48.8530, 2.3499), date(2012, 5, 4), 4, 4),
    ("madrid", (40.4168, -3.7038), date(2015, 9, 2), 3, 2),
    ("paris_louvre", (48.8606, 2.3376), date(2016, 3, 19), 1, 4),
    ("lisbon", (38.7100, -9.1400), date(2019, 4, 19), 3, 2),
    ("kyoto", (35.0116, 135.7681), date(2023, 11, 1), 5, 2),
]
# the hours of a holiday's photos: late breakfast, afternoon, dinner, back at the hotel
HOLIDAY_HOURS = [(10, 0), (15, 30), (20, 0), (23, 10)]


def trips_only() -> list[Shot]:
    """Holidays in Germany, Italy (the Arezzo walk, then Florence), France twice, Spain,
    Portugal and Japan, 2005 to 2023, and no photo taken at home."""
    shots = afternoon_walk()
    for name, spot, first, days, per_day in HOLIDAYS:
        times = [
            datetime.combine(first + timedelta(days=d), time(*HOLIDAY_HOURS[k]))
            for d in range(days)
            for k in range(per_day)
        ]
        shots += shots_at(name, spot, times)
    return shots


OLD_HOME = (43.4630, 11.8800)  # Arezzo
OLD_WORK = (43.4700, 11.8700)  # 1.1 km away


def old_life(start: date = date(2008, 9, 1), weeks: int = 4) -> list[Shot]:
    """A month of 2008 in Arezzo: home on every weeknight and work every weekday, then
    nothing there since; one day trip to Florence in 2024 shows the library is still in use."""
    days = weekdays(start, weeks, 1, 2, 3, 4, 5)
    shots = shots_at("oldhome", OLD_HOME, at(days, (22, 30))) + shots_at(
        "oldwork", OLD_WORK, at(days, (11, 0))
    )
    return shots + shots_at("florence", (43.7696, 11.2558), at([date(2024, 6, 8)], (11, 0), (16, 0)))


def write(shots: list[Shot], folder: Path) -> list[Path]:
    return write_library(shots, folder)
