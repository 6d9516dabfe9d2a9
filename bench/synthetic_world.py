"""Where and when the synthetic library's photos are taken, with which phone, near which brands.

Photos come in events of ~15: at home (evenings, nights, weekends), at work (weekday office
hours), at ~50 spots around town and on ~14 trips 100+ km away, over two years. Part of the
synthetic index (``synthetic_index.build``) the profile and TUI rows measure.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

DAYS = 730
PHOTOS_PER_EVENT = 15
USER = "/home/alex/Pictures"

HOME = ("Lyon", "Auvergne-Rhône-Alpes", "FR", 45.76405, 4.83566)
WORK = ("Villeurbanne", "Auvergne-Rhône-Alpes", "FR", 45.77132, 4.89017)
TOWNS = [  # where the other spots are: (city, lat, lon), all within ~15 km of home
    ("Lyon", 45.7578, 4.8320),
    ("Lyon", 45.7676, 4.8344),
    ("Lyon", 45.7485, 4.8467),
    ("Villeurbanne", 45.7667, 4.8803),
    ("Caluire-et-Cuire", 45.7953, 4.8464),
    ("Vénissieux", 45.6973, 4.8859),
    ("Bron", 45.7386, 4.9131),
    ("Écully", 45.7744, 4.7775),
    ("Oullins", 45.7146, 4.8078),
    ("Vaulx-en-Velin", 45.7786, 4.9225),
    ("Sainte-Foy-lès-Lyon", 45.7336, 4.8025),
]
TRIPS = [  # (city, admin, country, lat, lon, standard UTC offset in hours)
    ("Paris", "Île-de-France", "FR", 48.8566, 2.3522, 1),
    ("Marseille", "Provence-Alpes-Côte d'Azur", "FR", 43.2965, 5.3698, 1),
    ("Barcelona", "Catalonia", "ES", 41.3874, 2.1686, 1),
    ("Rome", "Lazio", "IT", 41.9028, 12.4964, 1),
    ("London", "England", "GB", 51.5072, -0.1276, 0),
    ("Lisbon", "Lisbon", "PT", 38.7223, -9.1393, 0),
    ("Berlin", "Berlin", "DE", 52.5200, 13.4050, 1),
    ("Amsterdam", "North Holland", "NL", 52.3676, 4.9041, 1),
    ("Nice", "Provence-Alpes-Côte d'Azur", "FR", 43.7102, 7.2620, 1),
    ("Athens", "Attica", "GR", 37.9838, 23.7275, 2),
    ("New York City", "New York", "US", 40.7128, -74.0060, -5),
    ("Annecy", "Auvergne-Rhône-Alpes", "FR", 45.8992, 6.1294, 1),
    ("Geneva", "Geneva", "CH", 46.2044, 6.1432, 1),
    ("Bordeaux", "Nouvelle-Aquitaine", "FR", 44.8378, -0.5792, 1),
]

Where = tuple[str, str, str, float, float]  # city, admin, country, lat, lon


@dataclass
class Event:
    kind: str  # home, work, spot, trip
    start: datetime  # local, naive
    where: Where
    scatter_m: float
    utc_offset: int  # standard time; summer adds one hour in Europe and the US


def dst(moment: datetime) -> int:
    return 1 if 4 <= moment.month <= 10 else 0


def events(rng: np.random.Generator, count: int, first: datetime) -> list[Event]:
    spots = []
    for _ in range(50):
        city, lat, lon = TOWNS[int(rng.integers(len(TOWNS)))]
        d_lat, d_lon = rng.normal(0, 0.012, 2)
        spots.append((city, HOME[1], "FR", lat + d_lat, lon + d_lon))
    spot_weights = np.arange(1, 51, dtype=np.float64) ** -1.0
    spot_weights /= spot_weights.sum()
    slot = DAYS // len(TRIPS)
    trips = [
        (TRIPS[i], i * slot + int(rng.integers(0, slot - 12)), int(rng.integers(3, 11)))
        for i in rng.permutation(len(TRIPS)).tolist()
    ]
    found = []
    kinds = rng.choice(["home", "work", "spot", "trip"], count, p=[0.4, 0.15, 0.3, 0.15])
    for kind in kinds.tolist():
        day = first + timedelta(days=int(rng.integers(DAYS)))
        offset = 1
        where: Where
        if kind == "home":
            where, scatter = HOME, 12.0
            weekend = day.weekday() >= 5
            hour = int(rng.integers(9, 23)) if weekend else int(rng.integers(18, 24))
            if rng.random() < 0.06:
                hour = int(rng.integers(0, 4))  # up late
        elif kind == "work":
            while day.weekday() >= 5:
                day -= timedelta(days=1)
            where, scatter, hour = WORK, 15.0, int(rng.integers(9, 17))
        elif kind == "spot":
            where, scatter = spots[int(rng.choice(50, p=spot_weights))], 25.0
            hour = int(rng.integers(10, 22))
        else:
            (city, admin, country, lat, lon, offset), start, days = trips[int(rng.integers(len(trips)))]
            day = first + timedelta(days=start + int(rng.integers(days)))
            d_lat, d_lon = rng.normal(0, 0.02, 2)
            where, scatter, hour = (
                (city, admin, country, lat + d_lat, lon + d_lon),
                40.0,
                int(rng.integers(8, 22)),
            )
        start_at = day.replace(hour=hour, minute=int(rng.integers(60)), second=int(rng.integers(60)))
        found.append(Event(kind, start_at, where, scatter, offset))
    return found


def jitter(rng: np.random.Generator, lat: float, lon: float, metres: float) -> tuple[float, float]:
    d_north, d_east = rng.normal(0, metres, 2)
    return (
        round(lat + d_north / 111_320.0, 6),
        round(lon + d_east / (111_320.0 * math.cos(math.radians(lat))), 6),
    )


def device(draw: float, day_index: int) -> tuple[str, str, str]:
    """(make, model, software) of a phone photo: the owner's phone changed after a year."""
    if draw < 0.09:
        return "samsung", "SM-S911B", "S911BXXU3BWK5"
    if draw < 0.12:
        return "Canon", "Canon EOS R6", "Firmware Version 1.8.1"
    if day_index < DAYS // 2:
        return "Apple", "iPhone 12", "17.5.1"
    return "Apple", "iPhone 15 Pro", "18.1"


def pick_brands() -> list[tuple[str, str, str]]:
    """~50 brands of the lexicon: the first three of each category, in file order."""
    import tomllib

    import shadowlens.daemon

    lexicon = Path(shadowlens.daemon.__file__).parent / "data" / "brands.toml"
    by_category: dict[str, list[tuple[str, str, str]]] = defaultdict(list)
    for brand in tomllib.loads(lexicon.read_text(encoding="utf-8"))["brand"]:
        by_category[brand["category"]].append((brand["name"], brand["category"], brand["parent"]))
    picked = [
        b for rank in range(3) for group in by_category.values() if rank < len(group) for b in [group[rank]]
    ]
    return picked[:50]
