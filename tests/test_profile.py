"""The shadow profile end to end: a library rebuilt from corpus photos, scanned by the real CLI.

Photos get EXIF time stamps and GPS (a home in Berlin at night and weekends, an office 2 km away
on weekday days, three days in Rome) and rendered brand names and a phone number; the scan runs
the real detectors, and ``profile --json``, ``photos --json`` and ``alerts --json`` are checked.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import LIBRARY_NOW, Env
from tests.library_builder import Shot, write_library

COKE_CATEGORY = "soft drinks"
HOME, WORK, ROME = (52.5200, 13.4050), (52.5300, 13.3800), (41.9028, 12.4964)
# Faces, codes and nudity are not needed here and cost most of the time.
CONFIG = "".join(f"[detectors.{name}]\nenabled = false\n" for name in ("faces", "codes", "nudity"))


def near(base: tuple[float, float], i: int) -> tuple[float, float]:
    return base[0] + 0.0001 * (i % 3), base[1] + 0.0001 * (i % 2)


def shots() -> list[Shot]:
    home = [
        (datetime(2025, 3, 1, 11, 0), []),  # Saturday
        (datetime(2025, 3, 2, 20, 0), ["Heineken"]),  # Sunday
        (datetime(2025, 3, 4, 23, 30), ["Heineken"]),
        (datetime(2025, 3, 5, 22, 45), ["Call +44 20 7946 0958"]),
        (datetime(2025, 3, 8, 10, 0), []),  # Saturday
        (datetime(2025, 3, 11, 23, 10), ["Heineken"]),
    ]
    work = [
        (datetime(2025, 3, 3, 10, 0), ["Starbucks"]),
        (datetime(2025, 3, 4, 11, 30), ["Starbucks"]),
        (datetime(2025, 3, 5, 14, 0), ["Starbucks"]),
        (datetime(2025, 3, 10, 15, 0), []),
        (datetime(2025, 3, 11, 16, 0), []),
    ]
    rome = [datetime(2025, 4, 10, 12, 0), datetime(2025, 4, 11, 15, 0), datetime(2025, 4, 12, 18, 0)]
    library = [Shot(f"home{i}.jpg", when, *near(HOME, i), lines=t) for i, (when, t) in enumerate(home)]
    library += [Shot(f"work{i}.jpg", when, *near(WORK, i), lines=t) for i, (when, t) in enumerate(work)]
    library += [
        Shot(f"rome{i}.jpg", when, *near(ROME, i), lines=["Coca-Cola"] if i == 1 else [])
        for i, when in enumerate(rome)
    ]
    library.append(Shot("night.jpg", datetime(2025, 3, 9, 3, 0), lines=["Coca-Cola"]))
    return library


@pytest.fixture(scope="module")
def scanned(tmp_path_factory: pytest.TempPathFactory) -> tuple[Env, Path]:
    root = tmp_path_factory.mktemp("profile")
    env, library = Env(root / "home", now=LIBRARY_NOW), root / "library"
    write_library(shots(), library)
    env.write_config(CONFIG)
    env.run("scan", str(library))
    return env, library


@pytest.mark.corpus
def test_home_work_and_trip_are_found(scanned: tuple[Env, Path]) -> None:
    env, _ = scanned
    places = env.json("profile")["places"]
    by_label = {p["label"]: p for p in places}
    assert sorted(p["label"] for p in places) == ["home", "trip", "work"]
    assert by_label["home"]["photo_count"] == 6 and by_label["home"]["country_code"] == "DE"
    assert abs(by_label["home"]["lat"] - HOME[0]) < 0.001 and abs(by_label["home"]["lon"] - HOME[1]) < 0.001
    assert by_label["work"]["photo_count"] == 5 and by_label["work"]["country_code"] == "DE"
    trip = by_label["trip"]
    assert (trip["photo_count"], trip["days"], trip["country_code"]) == (3, 3, "IT")
    assert 1100 < trip["distance_km"] < 1250
    assert by_label["home"]["first_visit"].startswith("2025-03-01")


@pytest.mark.corpus
def test_top_brands_habits_and_segments(scanned: tuple[Env, Path]) -> None:
    env, _ = scanned
    profile = env.json("profile")
    brands = [(b["name"], b["photo_count"], b["category"]) for b in profile["brands"]]
    assert brands == [("Heineken", 3, "alcohol"), ("Starbucks", 3, "coffee"), ("Coca-Cola", 2, COKE_CATEGORY)]
    parents = {p["parent"] for p in profile["parents"]}
    assert parents == {"Heineken N.V.", "Starbucks Corporation", "The Coca-Cola Company"}
    hours = [0] * 24
    weekdays = [0] * 7
    for shot in shots():
        hours[shot.when.hour] += 1
        weekdays[shot.when.weekday()] += 1
    assert profile["habits"]["hours"] == hours
    assert profile["habits"]["weekdays"] == weekdays
    assert profile["habits"]["devices"][0]["device"] == "Google Pixel 7"
    names = {s["name"]: s for s in profile["segments"]}
    assert {"drinker", "coffee_lover", "traveller"} <= set(names), sorted(names)
    assert {Path(p).name for p in names["drinker"]["evidence"]} == {"home1.jpg", "home2.jpg", "home5.jpg"}
    assert all(0 < s["confidence"] <= 1 for s in profile["segments"])


def reasons_of(item: dict[str, Any]) -> list[tuple[str, int]]:
    return [(r["code"], r["points"]) for r in item["reasons"]]


@pytest.mark.corpus
def test_exposure_reasons_points_and_one_alert_per_risky_photo(scanned: tuple[Env, Path]) -> None:
    env, library = scanned
    photos = {Path(p["path"]).name: p for p in env.json("photos")}
    assert reasons_of(photos["home3.jpg"]) == [("gps", 15), ("gps_near_home", 25), ("personal_data", 25)]
    assert photos["home3.jpg"]["exposure"] == 65
    assert reasons_of(photos["home1.jpg"]) == [("gps", 15), ("gps_near_home", 25), ("brands", 5)]
    assert reasons_of(photos["work3.jpg"]) == [("gps", 15)]
    assert reasons_of(photos["night.jpg"]) == [("brands", 5)]
    assert all(p["exposure"] is not None for p in photos.values())
    alerts = env.json("alerts")
    assert [(Path(a["path"]).name, a["score"], a["state"]) for a in alerts] == [("home3.jpg", 65, "new")]
    assert "7946" not in str(alerts) and "phone number" in str(alerts)
    # A rescan changes nothing: no second alert for the same photo.
    env.run("scan", str(library))
    assert len(env.json("alerts", "--all")) == 1
    env.run("alerts", "--dismiss", str(alerts[0]["id"]))
    assert env.json("alerts") == [] and env.json("alerts", "--all")[0]["state"] == "dismissed"
    bad = env.run("alerts", "--dismiss", "999", check=False)
    assert bad.returncode == 1 and "do not exist" in bad.stderr
