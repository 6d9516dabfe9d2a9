"""Places a marketer would pin on a map: home, work, the other haunts, and the trips away from home.

GPS points are clustered with haversine DBSCAN; each cluster is labelled from the distinct days
its photos were taken on (``place_days``): one afternoon's photos at a spot are a visit, not a home.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import numpy as np
from numpy.typing import NDArray
from shadowlens.daemon.profile import apart
from shadowlens.daemon.profile.facts import PhotoFacts
from shadowlens.daemon.profile.place_days import DayEvidence, PlaceRules, day_evidence, judge

# Trips are counted this long before the home's first evidence and after its last.
HOME_KNOWN_MARGIN = timedelta(days=183)

EARTH_RADIUS_M = 6_371_000.0
# DBSCAN keeps every neighbour list in memory, so 50,000 photos taken at home would need billions of
# pairs. Points closer than this share of eps are merged into one weighted point first.
_SNAP_FRACTION_OF_EPS = 1 / 30

Radians = NDArray[np.float64]
LABEL_ORDER = ("home", "work", "frequent", "visit")
DEFAULT_RULES = PlaceRules()


@dataclass
class Place:
    label: str  # "home" | "work" | "frequent" | "visit"
    lat: float
    lon: float
    radius_m: float  # centre to the farthest member
    city: str | None
    country_code: str | None
    photo_count: int
    first_visit: datetime | None
    last_visit: datetime | None
    photo_ids: list[int]
    # the evidence behind the label, kept so that the profile can explain it
    night_or_weekend: int
    weekday_daytime: int
    evidence: DayEvidence = field(default_factory=lambda: day_evidence(()), repr=False)
    # the distinct days behind the label (nights and weekends for home, office days for work)
    evidence_days: int = 0
    evidence_weeks: int = 0
    weighed_days: float = 0.0  # evidence_days, each weighed down by its age
    current: bool = True  # False: the label held once, the evidence is old

    @property
    def days(self) -> int:
        return len(self.evidence.days)

    def as_dict(self) -> dict[str, object]:
        return {
            "label": self.label,
            "lat": self.lat,
            "lon": self.lon,
            "radius_m": self.radius_m,
            "city": self.city,
            "country_code": self.country_code,
            "photo_count": self.photo_count,
            "photo_ids": list(self.photo_ids),
            "first_visit": _iso(self.first_visit),
            "last_visit": _iso(self.last_visit),
            "days": self.days,
            "visits": self.evidence.visits,
            "evidence_days": self.evidence_days,
            "evidence_weeks": self.evidence_weeks,
            "weighed_days": round(self.weighed_days, 2),
            "current": self.current,
        }


@dataclass
class Trip:
    lat: float
    lon: float
    city: str | None
    country_code: str | None
    photo_count: int
    first_visit: datetime
    last_visit: datetime
    days: int  # first to last day, both counted
    distance_km: float  # home to the trip's centre
    photo_ids: list[int]
    label: str = field(default="trip")
    photo_days: int = 0  # days with a photo

    @property
    def day_trip(self) -> bool:
        """An outing: there and back on one day."""
        return self.days == 1

    def as_dict(self) -> dict[str, object]:
        return {
            "label": self.label,
            "lat": self.lat,
            "lon": self.lon,
            "city": self.city,
            "country_code": self.country_code,
            "photo_count": self.photo_count,
            "photo_ids": list(self.photo_ids),
            "first_visit": _iso(self.first_visit),
            "last_visit": _iso(self.last_visit),
            "days": self.days,
            "distance_km": self.distance_km,
            "photo_days": self.photo_days,
            "day_trip": self.day_trip,
        }


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle (haversine) distance in metres."""
    return float(
        _distances_m(math.radians(lat1), math.radians(lon1), np.radians([lat2]), np.radians([lon2]))[0]
    )


def cluster_places(
    photos: Sequence[PhotoFacts],
    eps_m: float = 150.0,
    min_photos: int = 3,
    rules: PlaceRules = DEFAULT_RULES,
    today: date | None = None,
) -> list[Place]:
    """Places with at least `min_photos` photos, labelled home/work/frequent/visit by ``rules``,
    the labelled ones first, then the most photographed. ``today`` ages the evidence (None: no
    ageing)."""
    if eps_m <= 0 or min_photos < 1:
        raise ValueError(f"eps_m must be > 0 and min_photos >= 1, got {eps_m} and {min_photos}")
    located = _located(photos)
    if not located:
        return []
    lat, lon = _radians(located)
    # In a child process in the daemon: scikit-learn must not stay in its memory (apart.py).
    labels = apart.run(_dbscan, lat, lon, eps_m, min_photos)
    clustered = np.flatnonzero(labels >= 0)
    if clustered.size == 0:
        return []
    # one sort instead of one scan of all points per cluster: libraries have thousands of clusters
    by_cluster = clustered[np.argsort(labels[clustered], kind="stable")]
    boundaries = np.flatnonzero(np.diff(labels[by_cluster])) + 1
    places = [
        _describe([located[i] for i in members.tolist()], lat[members], lon[members])
        for members in np.split(by_cluster, boundaries)
    ]
    for place, verdict in zip(places, judge([p.evidence for p in places], rules, today), strict=True):
        place.label, place.current = verdict.label, verdict.current
        place.evidence_days, place.evidence_weeks = verdict.evidence_days, verdict.evidence_weeks
        place.weighed_days = verdict.weighed_days
    places.sort(key=lambda place: (LABEL_ORDER.index(place.label), -place.photo_count))
    return places


def find_trips(
    photos: Sequence[PhotoFacts], home: Place | None, min_km: float = 100.0, max_gap_days: int = 1
) -> list[Trip]:
    """Runs of dated photos farther than `min_km` from home, split where `max_gap_days` pass without one.

    Only photos from the years the home is known count: a photo taken far away in 2008 says
    nothing about being "away from home" when the home's evidence starts in 2025."""
    if home is None:
        return []
    first, last = home.first_visit, home.last_visit
    if first is None or last is None:
        return []
    since, until = first - HOME_KNOWN_MARGIN, last + HOME_KNOWN_MARGIN
    dated = [p for p in _located(photos) if p.taken_at is not None and since <= p.taken_at <= until]
    if not dated:
        return []
    lat, lon = _radians(dated)
    from_home = _distances_m(math.radians(home.lat), math.radians(home.lon), lat, lon)
    far = sorted(
        np.flatnonzero(from_home > min_km * 1000.0).tolist(),
        key=lambda i: (dated[i].taken_at, dated[i].photo_id),
    )
    runs: list[list[int]] = []
    for i in far:
        if runs and _days_between(dated[runs[-1][-1]], dated[i]) <= max_gap_days + 1:
            runs[-1].append(i)
        else:
            runs.append([i])
    return [_trip([dated[i] for i in run], lat[run], lon[run], home) for run in runs]


def nearest_place(places: Sequence[Place], lat: float, lon: float, within_m: float) -> Place | None:
    """The place whose centre is closest to the point, if that is no farther than `within_m`."""
    if not places:
        return None
    metres, index = min((distance_m(p.lat, p.lon, lat, lon), i) for i, p in enumerate(places))
    return places[index] if metres <= within_m else None


def _located(photos: Sequence[PhotoFacts]) -> list[PhotoFacts]:
    # EXIF can hold NaN or out-of-range coordinates; DBSCAN would reject the whole batch for one.
    # The range test also drops NaN, since every comparison with NaN is false.
    return [
        p
        for p in photos
        if p.lat is not None and p.lon is not None and -90 <= p.lat <= 90 and -180 <= p.lon <= 180
    ]


def _radians(photos: Sequence[PhotoFacts]) -> tuple[Radians, Radians]:
    lat = np.radians(np.fromiter((p.lat for p in photos), dtype=np.float64, count=len(photos)))
    lon = np.radians(np.fromiter((p.lon for p in photos), dtype=np.float64, count=len(photos)))
    return lat, lon


def _dbscan(lat: Radians, lon: Radians, eps_m: float, min_photos: int) -> NDArray[np.int64]:
    """Cluster label per point (-1 for noise), run on snapped, weighted points to bound memory."""
    cells = np.rint(_unit_vectors(lat, lon) * (EARTH_RADIUS_M / (eps_m * _SNAP_FRACTION_OF_EPS)))
    _, first, inverse, weights = np.unique(
        cells.astype(np.int64), axis=0, return_index=True, return_inverse=True, return_counts=True
    )
    points = np.column_stack([lat[first], lon[first]])
    from sklearn.cluster import DBSCAN  # a second of imports: only when places are built

    model = DBSCAN(
        eps=eps_m / EARTH_RADIUS_M, min_samples=min_photos, metric="haversine", algorithm="ball_tree"
    )
    model.fit(points, sample_weight=weights)
    labels: NDArray[np.int64] = np.asarray(model.labels_, dtype=np.int64)[inverse.reshape(-1)]
    return labels


def _describe(photos: list[PhotoFacts], lat: Radians, lon: Radians) -> Place:
    centre_lat, centre_lon = _centre(lat, lon)
    radius = float(_distances_m(centre_lat, centre_lon, lat, lon).max())
    times = [p.taken_at for p in photos if p.taken_at is not None]
    city, country = _most_common_place_name(photos)
    evidence = day_evidence(times)
    return Place(
        label="visit",
        lat=math.degrees(centre_lat),
        lon=math.degrees(centre_lon),
        radius_m=radius,
        city=city,
        country_code=country,
        photo_count=len(photos),
        first_visit=min(times, default=None),
        last_visit=max(times, default=None),
        photo_ids=sorted(p.photo_id for p in photos),
        night_or_weekend=evidence.home_photos,
        weekday_daytime=evidence.work_photos,
        evidence=evidence,
    )


def _trip(photos: list[PhotoFacts], lat: Radians, lon: Radians, home: Place) -> Trip:
    centre_lat, centre_lon = _centre(lat, lon)
    start = min(p.taken_at for p in photos if p.taken_at is not None)
    end = max(p.taken_at for p in photos if p.taken_at is not None)
    city, country = _most_common_place_name(photos)
    return Trip(
        lat=math.degrees(centre_lat),
        lon=math.degrees(centre_lon),
        city=city,
        country_code=country,
        photo_count=len(photos),
        first_visit=start,
        last_visit=end,
        days=(end.date() - start.date()).days + 1,
        photo_days=len({p.taken_at.date() for p in photos if p.taken_at is not None}),
        distance_km=distance_m(home.lat, home.lon, math.degrees(centre_lat), math.degrees(centre_lon))
        / 1000.0,
        photo_ids=[p.photo_id for p in photos],
    )


def _days_between(earlier: PhotoFacts, later: PhotoFacts) -> int:
    assert earlier.taken_at is not None and later.taken_at is not None
    return (later.taken_at.date() - earlier.taken_at.date()).days


def _most_common_place_name(photos: list[PhotoFacts]) -> tuple[str | None, str | None]:
    cities = Counter(p.city for p in photos if p.city)
    countries = Counter(p.country_code for p in photos if p.country_code)
    city = cities.most_common(1)[0][0] if cities else None
    country = countries.most_common(1)[0][0] if countries else None
    return city, country


def _unit_vectors(lat: Radians, lon: Radians) -> Radians:
    return np.column_stack([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)])


def _centre(lat: Radians, lon: Radians) -> tuple[float, float]:
    """Mean of the unit vectors (right across the antimeridian, unlike a mean of longitudes), in radians."""
    x, y, z = _unit_vectors(lat, lon).mean(axis=0)
    return float(math.atan2(z, math.hypot(x, y))), float(math.atan2(y, x))


def _distances_m(lat: float, lon: float, lats: Radians, lons: Radians) -> Radians:
    half = np.sin((lats - lat) / 2) ** 2 + math.cos(lat) * np.cos(lats) * np.sin((lons - lon) / 2) ** 2
    result: Radians = 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(half, 0.0, 1.0)))
    return result


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None
