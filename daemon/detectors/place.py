"""Place detector: offline reverse geocoding of the photo's GPS with GeoNames cities.

The GeoNames table is mapped from the cache folder, one copy for every worker (``geonames.py``),
and queried in bulk for a batch of photos.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import ClassVar

from pydantic import Field
from shadowlens.daemon.api import Detector, DetectorSettings, Finding, GpsFinding, PhotoContext, PlaceFinding
from shadowlens.daemon.detectors.geonames import City, city_table

EARTH_RADIUS_KM = 6371.0088


class PlaceSettings(DetectorSettings):
    max_distance_km: float = Field(default=50.0, gt=0)


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


class PlaceDetector(Detector):
    name = "place"
    version = "1"
    after = ("metadata",)
    Settings: ClassVar[type[DetectorSettings]] = PlaceSettings
    # The place reaches the profile through the photo's own row (city, country), not as facts.
    counts: ClassVar[frozenset[str] | None] = frozenset()

    def detect(self, photo: PhotoContext) -> list[Finding]:
        return self.detect_batch([photo])[0]

    def detect_batch(self, photos: Sequence[PhotoContext]) -> list[list[Finding]]:
        points: list[tuple[int, GpsFinding]] = []
        for index, photo in enumerate(photos):
            gps = next((f for f in photo.findings if isinstance(f, GpsFinding)), None)
            if gps is not None:
                points.append((index, gps))
        results: list[list[Finding]] = [[] for _ in photos]
        if not points:
            return results
        rows = city_table().nearest([(gps.lat, gps.lon) for _, gps in points])
        assert isinstance(self.settings, PlaceSettings)
        for (index, gps), row in zip(points, rows, strict=True):
            results[index] = [self._finding(gps, row, self.settings.max_distance_km)]
        return results

    @staticmethod
    def _finding(gps: GpsFinding, row: City, max_km: float) -> PlaceFinding:
        distance = haversine_km(gps.lat, gps.lon, row.lat, row.lon)
        near = distance <= max_km
        city = row.name if near else None
        admin = (row.admin1 or None) if near else None
        country = row.cc
        label = ", ".join(part for part in (city, admin, country) if part)
        return PlaceFinding(
            label=label,
            city=city,
            admin=admin,
            country_code=country,
            lat=gps.lat,
            lon=gps.lon,
            distance_km=round(distance, 3),
        )
